"""Overhead of the recurrent (GRU) and CNN policy paths per env step, against the MLP path.

PPO on ``Breakout-MinAtar`` (MinAtar's network: 128 relu units; a 128-unit GRU; 16 3x3
filters), each path at the same envs and rollout length, compiled once, then timed over
``--chunks`` chunks of ``--chunk-updates`` updates (the first chunk excluded): steady
env steps/s and each path's time per env step over the MLP's, all in one process (the
same machine load for all; on a shared CPU the load is recorded beside the figures).
The measurement is ``experiments/suite_parts.py``'s ``policy_paths`` (the GPU suite's
part at 2048 / 1024 envs).

    python experiments/bench_policy_paths.py --num-envs 64

``--flax-conv`` runs the CNN with flax's ``nn.Conv`` in place of jaxpg's ``PatchConv``
(the same function and parameters: patches times the kernel), to measure what that
formulation saves. Writes ``experiments/results/bench_policy_paths_<platform>.json``
(``bench_policy_paths_flaxconv_<platform>.json`` with ``--flax-conv``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402

from experiments.suite_parts import policy_paths  # noqa: E402
from experiments.suite_scale import PolicyPathsScale  # noqa: E402
from jaxpg.nn import encoders  # noqa: E402
from jaxpg.runner.loop import device_description  # noqa: E402


class FlaxConv(encoders.PatchConv):
    """``PatchConv``'s fields, computed by flax's ``nn.Conv`` (XLA's convolution)."""

    @nn.compact
    def __call__(self, x):
        k, s = self.kernel, self.stride
        conv = nn.Conv(self.features, (k, k), (s, s), padding="VALID", kernel_init=self.kernel_init)
        return conv(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="Breakout-MinAtar")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--chunk-updates", type=int, default=2)
    p.add_argument("--chunks", type=int, default=3)
    p.add_argument("--paths", nargs="+", default=["mlp", "gru", "cnn"])
    p.add_argument("--flax-conv", action="store_true",
                   help="the CNN with flax's nn.Conv (for comparison)")  # fmt: skip
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    a = p.parse_args()
    if a.flax_conv:
        encoders.PatchConv = FlaxConv  # the CNN looks its convolution up when it is built
    s = PolicyPathsScale(env=a.env, cases=tuple((path, a.num_envs) for path in a.paths), num_steps=a.num_steps,
                         epochs=4, minibatches=8, hidden=128, chunk_updates=a.chunk_updates, chunks=a.chunks)  # fmt: skip
    load_before = os.getloadavg()
    out = policy_paths(s, float("inf"), print)
    out.update(device=device_description(), load_before=load_before, load_after=os.getloadavg(),
               conv="flax nn.Conv" if a.flax_conv else "jaxpg PatchConv")  # fmt: skip
    os.makedirs(a.results, exist_ok=True)
    name = "bench_policy_paths_flaxconv" if a.flax_conv else "bench_policy_paths"
    path = os.path.join(a.results, f"{name}_{jax.devices()[0].platform}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
