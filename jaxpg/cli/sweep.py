"""``jaxpg sweep``: seeds x hyperparameter settings in one compiled program per static choice."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import jax
import tyro

from jaxpg.cli.common import check_out, parse_flags, preparse_algo_env, timestamped_dir
from jaxpg.config import HParams, TrainConfig, check_seed
from jaxpg.envs import check_env_name
from jaxpg.errors import ConfigError
from jaxpg.presets import preset
from jaxpg.runner import compile_cache
from jaxpg.runner.loop import device_description
from jaxpg.runner.signals import startup_hint
from jaxpg.sharding import agree_on, initialize_distributed
from jaxpg.sweep import outdir as sweep_dir
from jaxpg.sweep import build_settings, parse_grid, parse_sample, parse_static, run_sweep
from jaxpg.sweep.report import print_table, write_outputs
from jaxpg.validation import validate


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
    return sweep_dir.load_argv(given), given


def main(argv: list[str]) -> int:
    """Parse flags, build and validate every setting, run, write outputs."""
    initialize_distributed()  # multi-host when JAXPG_COORDINATOR etc. are set; else nothing
    argv, resume = saved_argv(argv)
    algo, env = preparse_algo_env(argv)
    check_env_name(env)
    config, hparams = preset(algo, env)
    default = SweepArgs(config=config, hparams=hparams)
    args = parse_flags(SweepArgs, argv, "jaxpg sweep", default)
    check_out(args.out)
    if args.seeds < 1:
        raise ConfigError("seeds", args.seeds, "must be >= 1")
    check_seed(args.seed, args.seeds)
    grid = parse_grid(args.grid)
    samples = parse_sample(args.sample)
    both = set(grid) & set(samples)
    if both:
        raise ConfigError("sample", sorted(both)[0], "a field is either --grid or --sample, not both")
    static = parse_static(args.static)
    if args.max_batch is not None and args.max_batch < 1:
        raise ConfigError("max_batch", args.max_batch, "must be >= 1")
    config, hparams = validate(args.config, args.hparams)
    settings = build_settings(
        config, hparams, grid, samples, args.num_samples, static,
        args.sample_seed,
    )  # fmt: skip
    out = agree_on(resume or args.out or timestamped_dir(f"sweep-{args.config.algo}-{args.config.env}"))
    primary = jax.process_index() == 0  # only process 0 writes files (the others: stderr only)
    lock = sweep_dir.prepare(out, argv, resume=resume is not None, overwrite=args.overwrite) if primary else None
    done = sweep_dir.finished_groups(out) if resume else {}  # --resume needs a shared disk
    n_groups = len({s.config for s in settings})
    print(
        f"jaxpg sweep: {args.config.algo} on {args.config.env}, {len(settings)} setting(s) x "
        f"{args.seeds} seed(s) on {jax.device_count()} device(s), writing {out}"
        + (f" ({len(done)} of {n_groups} group(s) already done)" if resume else "")
    )

    def keep(index: int, record: dict) -> None:
        if primary:
            sweep_dir.write_group(out, index, record)
        done[index] = record
        startup_hint(f"{len(done)} of {n_groups} group(s) kept in {out}; continue with: jaxpg sweep --resume {out}", "")

    startup_hint(f"{len(done)} of {n_groups} group(s) kept in {out}; continue with: jaxpg sweep --resume {out}", "")
    cache_before = compile_cache.counts()
    result = run_sweep(settings, args.seeds, args.seed, args.max_batch, done=dict(done), on_group=keep)
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
    if not primary:
        return 0
    write_outputs(result, out, meta, plot=not args.no_plot)
    lock.release()
    print_table(result)
    print(f"best (by IQM): {result.best.name}; wrote {out}/results.md")
    return 0
