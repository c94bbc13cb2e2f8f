"""``jaxpg sweep``: seeds x hyperparameter settings in one compiled program per static choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jax
import tyro

from jaxpg.cli.common import check_out, parse_flags, preparse_algo_env, timestamped_dir
from jaxpg.config import HParams, TrainConfig
from jaxpg.envs import check_env_name
from jaxpg.errors import ConfigError
from jaxpg.presets import preset
from jaxpg.runner.options import RunOptions
from jaxpg.sharding import agree_on, initialize_distributed
from jaxpg.sweep import SweepSpec, check_job, parse_grid, parse_sample, parse_static, run_sweep
from jaxpg.sweep.outdir import load_argv
from jaxpg.sweep.report import print_table


@dataclass
class SweepArgs:
    """Train seeds x hyperparameter settings in one compiled program per static choice."""

    config: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes]
    hparams: Annotated[HParams, tyro.conf.OmitArgPrefixes]
    seeds: int = 8
    """Seeds per setting (the same seeds for every setting)."""
    seed: int = 0
    """First seed; seeds are seed .. seed + seeds - 1."""
    grid: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Grid over an HParams field, repeatable: --grid lr=1e-4,3e-4 --grid clip_eps=0.1,0.2."""
    sample: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Random values of an HParams field, repeatable: --sample lr=loguniform:1e-5:1e-2 (or uniform)."""
    num_samples: int = 8
    """How many random draws when --sample is given (crossed with --grid)."""
    sample_seed: int = 0
    """Seed of the --sample draws."""
    static: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """A TrainConfig field swept by separate compiles, repeatable: --static num_envs=4,16."""
    max_batch: int | None = None
    """Most agents per compiled chunk; None: from device memory."""
    out: str | None = None
    """Output directory; default runs/sweep-<algo>-<env>-<time>."""
    no_plot: bool = False
    """Skip curves.png."""
    overwrite: bool = False
    """Replace a sweep already in --out."""
    resume: str | None = None
    """Continue the interrupted sweep in this directory (its saved flags; finished groups are kept)."""


def saved_argv(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv``, or for ``--resume DIR`` the flags the sweep in DIR was started with."""
    if "--resume" not in argv and not any(a.startswith("--resume=") for a in argv):
        return argv, None
    args = [a for a in argv if a != "--resume" and not a.startswith("--resume=")]
    given = next((a.split("=", 1)[1] for a in argv if a.startswith("--resume=")), None)
    if given is None:
        i = argv.index("--resume")
        given = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else None
        if given is not None:
            args.remove(given)
    if not given:
        raise ConfigError("resume", None, "give the sweep directory: jaxpg sweep --resume DIR")
    if args:
        raise ConfigError("resume", given, f"--resume continues with the saved flags; drop {' '.join(args)}")
    return load_argv(given), given


def main(argv: list[str]) -> int:
    """Parse flags into a :class:`SweepSpec` and one :class:`RunOptions`, check them, run,
    print the table."""
    initialize_distributed()  # multi-host when JAXPG_COORDINATOR etc. are set; else nothing
    argv, resume = saved_argv(argv)
    algo, env = preparse_algo_env(argv)
    check_env_name(env)
    config, hparams = preset(algo, env)
    args = parse_flags(SweepArgs, argv, "jaxpg sweep", SweepArgs(config=config, hparams=hparams))
    check_out(args.out)
    spec = SweepSpec(
        args.config, args.hparams, parse_grid(args.grid), parse_sample(args.sample), args.num_samples,
        args.sample_seed, parse_static(args.static), args.seeds, args.max_batch, tuple(argv),
    )  # fmt: skip
    options = RunOptions(seed=args.seed, out_dir=resume or args.out, resume=resume is not None,
                         overwrite=args.overwrite, plot=not args.no_plot)  # fmt: skip
    spec = check_job(spec, options)  # before the processes agree on a directory, before anything is written
    out = agree_on(options.out_dir or timestamped_dir(f"sweep-{args.config.algo}-{args.config.env}"))
    result = run_sweep(spec, options.replace(out_dir=out))
    if jax.process_index() != 0:  # only process 0 writes files and reports
        return 0
    print_table(result)
    print(f"best (by IQM): {result.best.name}; wrote {out}/results.md")
    return 0
