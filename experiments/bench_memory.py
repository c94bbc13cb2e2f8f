"""Memory stays flat as a run gets longer.

Runs the chunked driver (with logging and checkpoints to a temporary run
directory) for ``U`` updates and then for ``factor * U`` updates with the same
chunk size, sampling after every chunk: host RSS (``/proc/self/statm``, or psutil
where available) and device memory (``device.memory_stats()`` where the backend
reports it; CPU does not). Flat means the RSS at the end of the long run is within
a small margin of the short run's, i.e. nothing per update accumulates on the host
or device (metrics are one small dict per update, the state is donated).

    python experiments/bench_memory.py                    # CartPole, small, CPU
    python experiments/bench_memory.py --updates 200 --num-envs 2048   # on a GPU

Writes ``experiments/results/bench_memory_<platform>.json`` with the hardware.
RSS can also *drop* mid-run (the allocator returns freed pages), so compare the
maxima after warm-up, not just the last samples. Measured
on CPU, each orbax save adds ~75 KiB of RSS that is not returned; the default
cadence (a tenth of the run) keeps the number of saves, hence that, constant in
the run's length.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxpg.config import HParams, TrainConfig  # noqa: E402
from jaxpg import RunOptions, run  # noqa: E402
from jaxpg.runner.loop import device_description  # noqa: E402


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import psutil  # not a jaxpg dependency; only off Linux

        return psutil.Process().memory_info().rss / 2**20


def device_mb() -> float | None:
    stats = jax.devices()[0].memory_stats()
    if not stats or "bytes_in_use" not in stats:
        return None
    return stats["bytes_in_use"] / 2**20


def measure(config: TrainConfig, checkpoint_every: int) -> dict:
    samples = []

    def on_row(row):
        samples.append({"update": row["update"], "rss_mb": rss_mb(), "device_mb": device_mb()})

    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = run(config, HParams(), RunOptions(seed=0, out_dir=os.path.join(out, "run"), progress=False, checkpoint_every=checkpoint_every), on_row=on_row)  # fmt: skip
    warm = samples[min(2, len(samples) - 1)]  # after compiles and the first checkpoint
    after = samples[min(2, len(samples) - 1):]
    rss_after = np.array([s["rss_mb"] for s in after])
    return {
        "updates": config.num_updates,
        "chunks": len(samples),
        "status": result.summary["status"],
        "wall_s": time.perf_counter() - t0,
        "rss_before_mb": before,
        "rss_warm_mb": warm["rss_mb"],
        "rss_end_mb": samples[-1]["rss_mb"],
        "rss_growth_after_warmup_mb": samples[-1]["rss_mb"] - warm["rss_mb"],
        "rss_max_after_warmup_mb": float(rss_after.max()),
        "device_warm_mb": warm["device_mb"],
        "device_end_mb": samples[-1]["device_mb"],
        "samples": samples,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=32)
    p.add_argument("--updates", type=int, default=40, help="updates of the short run")
    p.add_argument("--factor", type=int, default=10, help="the long run is this many times longer")
    p.add_argument("--chunk", type=int, default=4, help="updates per compiled chunk (both runs)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal
    args = p.parse_args()

    base = TrainConfig(
        env=args.env, num_envs=args.num_envs, num_steps=args.num_steps, num_minibatches=4,
        update_epochs=2, updates_per_chunk=args.chunk,
    )  # fmt: skip
    if args.one is not None:  # child process: one run, JSON on the last stdout line
        cfg = base.replace(total_timesteps=args.one * base.batch_size)
        print(json.dumps(measure(cfg, checkpoint_every=max(args.chunk, args.one // 10))))
        return
    runs = {}
    for name, n in (("short", args.updates), ("long", args.updates * args.factor)):
        # A fresh process per run, so one run's garbage is not freed inside the other's.
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--one", str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        runs[name] = r = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{name:5s}: {r['updates']:5d} updates, {r['chunks']:4d} chunks, {r['wall_s']:.1f} s; "
            f"RSS warm {r['rss_warm_mb']:.1f} MiB -> end {r['rss_end_mb']:.1f} MiB "
            f"(max after warm-up {r['rss_max_after_warmup_mb']:.1f}); device "
            f"{r['device_end_mb'] if r['device_end_mb'] is not None else 'n/a (not reported)'}"
        )
    growth_short = runs["short"]["rss_growth_after_warmup_mb"]
    growth_long = runs["long"]["rss_growth_after_warmup_mb"]
    report = {
        "benchmark": "bench_memory",
        "env": args.env,
        "num_envs": args.num_envs,
        "num_steps": args.num_steps,
        "chunk": args.chunk,
        "factor": args.factor,
        "runs": runs,
        "rss_end_long_minus_short_mb": runs["long"]["rss_end_mb"] - runs["short"]["rss_end_mb"],
        "rss_max_long_minus_short_mb": (
            runs["long"]["rss_max_after_warmup_mb"] - runs["short"]["rss_max_after_warmup_mb"]
        ),
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "device": device_description(),
        "jax_version": jax.__version__,
        "note": "2-core shared CPU when run by the authors; RSS in MiB",
    }
    print(
        f"long - short RSS: at the end {report['rss_end_long_minus_short_mb']:+.1f} MiB, "
        f"max after warm-up {report['rss_max_long_minus_short_mb']:+.1f} MiB; "
        f"growth after warm-up: short {growth_short:+.1f}, long {growth_long:+.1f} MiB"
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"bench_memory_{jax.devices()[0].platform}.json")
    from common import write_record

    write_record(path, report)


if __name__ == "__main__":
    main()
