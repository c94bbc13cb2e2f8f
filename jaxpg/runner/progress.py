"""Live progress on the terminal (rich), updated on the host between compiled chunks."""

from __future__ import annotations

import math


class Progress:
    def __init__(self, total_steps: int, enabled: bool = True, title: str = "training"):
        self.enabled = enabled
        self._progress = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress as RichProgress
        from rich.progress import TextColumn, TimeElapsedColumn

        self._progress = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]} steps/s  return {task.fields[ret]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=total_steps, sps="-", ret="-")

    def update(self, row: dict) -> None:
        if self._progress is None:
            return
        ret = row.get("episode_return", float("nan"))
        self._progress.update(
            self._task,
            completed=row["env_steps"],
            sps=f"{row['sps']:,.0f}",
            ret="-" if not math.isfinite(ret) else f"{ret:.1f}",
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
