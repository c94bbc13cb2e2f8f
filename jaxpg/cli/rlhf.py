"""``jaxpg rlhf``: the RLHF pipeline end to end (loaded only for this subcommand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

import os

from jaxpg.cli.common import check_out, parse_flags, timestamped_dir
from jaxpg.rlhf.pipeline import RLHFConfig, run_rlhf, validate
from jaxpg.runner import compile_cache
from jaxpg.runner.options import RunOptions
from jaxpg.runner.logging import write_json
from jaxpg.runner.rundir import prepare_run_dir


@dataclass
class RLHFArgs:
    """RLHF end to end: language -> SFT -> preferences -> reward model -> PPO -> report."""

    cfg: Annotated[RLHFConfig, tyro.conf.OmitArgPrefixes]
    out: str | None = None
    """Run directory; default runs/rlhf-s<seed>-<time>."""
    overwrite: bool = False
    """Replace a run already in --out."""
    progress: bool = True
    """Print progress lines between compiled chunks."""


def main(argv: list[str]) -> int:
    args = parse_flags(RLHFArgs, argv, "jaxpg rlhf", RLHFArgs(cfg=RLHFConfig()))
    check_out(args.out)
    out = args.out or timestamped_dir(f"rlhf-s{args.cfg.seed}")
    validate(args.cfg)  # before the run directory is made
    prepare_run_dir(out, resume=False, overwrite=args.overwrite, can_resume=False)
    print(f"jaxpg rlhf: writing {out}")
    cache_before = compile_cache.counts()
    options = RunOptions(seed=args.cfg.seed, out_dir=out, overwrite=args.overwrite,
                         progress=args.progress)
    summary = run_rlhf(args.cfg, options)
    summary["compile_cache"] = compile_cache.summary(cache_before)
    write_json(os.path.join(out, "summary.json"), summary)
    print(f"done in {summary['wall_s']['total_s']:.0f} s: {out}/summary.json")
    return 0
