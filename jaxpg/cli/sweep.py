"""``jaxpg sweep``: seeds x hyperparameter settings in one compiled program per static choice."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import jax
import tyro

from jaxpg.cli.common import parse_flags, preparse_algo_env, timestamped_dir
from jaxpg.config import HParams, TrainConfig
from jaxpg.envs import check_env_name
from jaxpg.errors import ConfigError
from jaxpg.presets import preset
from jaxpg.runner import compile_cache
from jaxpg.runner.loop import device_description
from jaxpg.sharding import initialize_distributed
from jaxpg.sweep import build_settings, parse_grid, parse_sample, parse_static, run_sweep
from jaxpg.sweep.report import print_table, write_outputs


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


def main(argv: list[str]) -> int:
    """Parse flags, build and validate every setting, run, write outputs."""
    initialize_distributed()  # multi-host when JAXPG_COORDINATOR etc. are set; else nothing
    algo, env = preparse_algo_env(argv)
    check_env_name(env)
    config, hparams = preset(algo, env)
    default = SweepArgs(config=config, hparams=hparams)
    args = parse_flags(SweepArgs, argv, "jaxpg sweep", default)
    grid = parse_grid(args.grid)
    samples = parse_sample(args.sample)
    both = set(grid) & set(samples)
    if both:
        raise ConfigError("sample", sorted(both)[0], "a field is either --grid or --sample, not both")
    static = parse_static(args.static)
    if args.max_batch is not None and args.max_batch < 1:
        raise ConfigError("max_batch", args.max_batch, "must be >= 1")
    settings = build_settings(
        args.config.validate(), args.hparams.validate(), grid, samples, args.num_samples, static,
        args.sample_seed,
    )  # fmt: skip
    out = args.out or timestamped_dir(f"sweep-{args.config.algo}-{args.config.env}")
    print(
        f"jaxpg sweep: {args.config.algo} on {args.config.env}, {len(settings)} setting(s) x "
        f"{args.seeds} seed(s) on {jax.device_count()} device(s), writing {out}"
    )
    cache_before = compile_cache.counts()
    result = run_sweep(settings, args.seeds, args.seed, args.max_batch)
    meta = {
        "algo": args.config.algo,
        "env": args.config.env,
        "base_config": args.config.to_dict(),
        "base_hparams": args.hparams.to_dict(),
        "grid": grid,
        "sample": {k: dataclasses.asdict(v) for k, v in samples.items()},
        "num_samples": args.num_samples if samples else 0,
        "static": static,
        "device": device_description(),
        "jax_version": jax.__version__,
        "compile_cache": compile_cache.summary(cache_before),
    }
    write_outputs(result, out, meta, plot=not args.no_plot)
    print_table(result)
    print(f"best (by IQM): {result.best.name}; wrote {out}/results.md")
    return 0
