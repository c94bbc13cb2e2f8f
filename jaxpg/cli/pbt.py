"""``jaxpg pbt``: population-based training of one algorithm on one env, exploit and
explore inside the compiled program; ``--resume DIR`` continues a run."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np
import tyro

from jaxpg.cli.common import parse_flags, preparse_algo_env, timestamped_dir
from jaxpg.cli.train import preparse_resume
from jaxpg.config import HParams, TrainConfig
from jaxpg.envs import check_env_name
from jaxpg.errors import JaxpgError
from jaxpg.pbt import PBTConfig, parse_explore, run_pbt
from jaxpg.pbt.report import write_outputs
from jaxpg.pbt.space import Sampler
from jaxpg.presets import preset
from jaxpg.runner.loop import device_description
from jaxpg.runner.options import RunOptions
from jaxpg.runner.rundir import load_run_config, read_config_json, save_params
from jaxpg.sharding import initialize_distributed
from jaxpg.validation import validate


@dataclass
class PBTArgs:
    """Population-based training: P members in one compiled program; every --interval
    updates the bottom --fraction copies a top member's learned state and perturbs its
    hyperparameters (--explore)."""

    config: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes]
    hparams: Annotated[HParams, tyro.conf.OmitArgPrefixes]
    population: int = 8
    """Members P (>= 2); member i trains from seed + i."""
    interval: int | None = None
    """Updates between ready steps; None: about 20 ready steps a run."""
    fraction: float = 0.25
    """The bottom fraction copies a member of the top fraction, in (0, 0.5]."""
    resample_prob: float = 0.25
    """Probability that explore redraws a field from its prior instead of x0.8 / x1.25."""
    explore: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Search space, repeatable, the --sample grammar of jaxpg sweep: --explore lr=loguniform:1e-5:1e-2."""
    no_exploit: bool = False
    """Train the sampled population without ready steps (a random search, the control)."""
    seed: int = 0
    """Seed: member keys seed .. seed + P - 1, the initial draws and the ready steps."""
    out: str | None = None
    """Run directory; default runs/pbt-<algo>-<env>-<time>."""
    resume: str | None = None
    """Continue the PBT run in this directory from its latest checkpoint."""
    overwrite: bool = False
    """Replace a run already in --out."""
    checkpoint_every: int | None = None
    """Checkpoint every this many updates (at chunk ends); None: about every tenth of the run."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    no_plot: bool = False
    """Skip pbt.png."""


def main(argv: list[str]) -> int:
    initialize_distributed()
    run_dir = preparse_resume(argv)
    if run_dir is not None:
        return resume(argv, run_dir)
    algo, env = preparse_algo_env(argv)
    check_env_name(env)
    config, hparams = preset(algo, env)
    args = parse_flags(PBTArgs, argv, "jaxpg pbt", PBTArgs(config=config, hparams=hparams))
    space = parse_explore(args.explore)
    pbt = PBTConfig(args.population, args.interval, args.fraction, args.resample_prob,
                    exploit=not args.no_exploit).validate()  # fmt: skip
    out = args.out or timestamped_dir(f"pbt-{args.config.algo}-{args.config.env}")
    options = RunOptions(seed=args.seed, out_dir=out, overwrite=args.overwrite, plot=not args.no_plot,
                         checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints)  # fmt: skip
    validate(args.config, args.hparams, options=options)  # before anything is written
    if not space and pbt.exploit:
        raise JaxpgError("give the search space: --explore FIELD=DIST:LOW:HIGH (e.g. lr=loguniform:1e-5:1e-2)")
    print(f"jaxpg pbt: {args.config.algo} on {args.config.env}, population {pbt.population} on "
          f"{jax.device_count()} device(s), writing {out}")  # fmt: skip
    res = run_pbt(args.config, args.hparams, space, pbt, options)
    return finish(res, out, options.plot)


def resume(argv: list[str], run_dir: str) -> int:
    others = [a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in ("--resume", "--no-plot")]
    if others:
        raise JaxpgError(f"--resume continues {run_dir} with its saved config; drop {', '.join(others)}")
    saved, raw = load_run_config(run_dir), read_config_json(run_dir)
    if raw.get("kind") != "pbt":
        raise JaxpgError(f"{run_dir} is not a jaxpg pbt run (resume a jaxpg train run with jaxpg train --resume)")
    p = raw["pbt"]
    pbt = PBTConfig(p["population"], p["interval"], p["fraction"], p["resample_prob"], tuple(p["perturb"]), p["exploit"])
    space = {k: Sampler(v["dist"], v["low"], v["high"]) for k, v in raw["space"].items()}
    print(f"jaxpg pbt: resuming {run_dir} ({saved.config.algo} on {saved.config.env})")
    options = RunOptions(seed=saved.seed, out_dir=run_dir, resume=True, plot="--no-plot" not in argv,
                         checkpoint_every=saved.options.get("checkpoint_every"),
                         keep_checkpoints=saved.options.get("keep_checkpoints", 3))  # fmt: skip
    res = run_pbt(saved.config, saved.hparams, space, pbt, options)
    return finish(res, run_dir, options.plot)


def finish(res, out: str, plot: bool) -> int:
    s = res.summary
    if s["status"] == "interrupted":
        print(f"jaxpg pbt: {s['stop_reason']} at update {s['updates']}/{s['updates_planned']}; "
              f"checkpoint saved; resume with: jaxpg pbt --resume {out}", file=sys.stderr)  # fmt: skip
        return 128 + int(getattr(signal, s["signal"]))
    res.summary["device"] = device_description()
    pop = write_outputs(res, out, plot)
    best = pop["best_member"]
    member = jax.tree.map(lambda x: np.asarray(x)[best], res.population.members)
    save_params(out, member)  # the best member's policy, for jaxpg eval / render
    print(f"done: best member {best} final return {pop['best_final_return']:.1f}, population median "
          f"{pop['median_final_return']:.1f}, {pop['copies']} copies; {s['wall_time_s']:.1f} s "
          f"(compile {s['compile_time_s']:.1f} s) on {s['device']}; wrote {out}/pbt.json, best.json")  # fmt: skip
    return 0
