"""Save and restore the whole :class:`~jaxpg.algos.state.TrainState` with orbax.

A run directory keeps its checkpoints under ``<run>/checkpoints/<update>/``; each
holds the train state (params, optimizer states, observation statistics, env
states, RNG key, counters, ``algo_state``) and a small JSON ``meta`` (the config,
hparams and seed that produced it). Orbax writes a step into a temporary
directory and renames it only once complete, so a half-written checkpoint is
never listed, let alone the latest; the manager keeps the last ``keep`` steps.

Restoring needs the *shape* of the state, which we get from
``jax.eval_shape(trainer.init, ...)``: nothing is computed, and a checkpoint of
another env or network is caught by comparing shapes before any array is used.
Every failure a user can cause (missing, corrupt or mismatched checkpoint) is a
one-line :class:`~jaxpg.errors.JaxpgError`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import jax
import numpy as np

from jaxpg.errors import JaxpgError
from jaxpg.runner.logging import injected_write_fault, write_failed
from jaxpg.sharding import primary_first

CHECKPOINT_SUBDIR = "checkpoints"

# Config fields that change the *shape* of the state: a checkpoint is only usable
# by a run that agrees on all of them.
STRUCTURAL_FIELDS = (
    "algo", "env", "backend", "num_envs", "hidden_sizes", "critic_hidden_sizes",
    "activation", "normalize_obs", "policy", "state_dependent_std",
)  # fmt: skip


def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(os.path.abspath(run_dir), CHECKPOINT_SUBDIR)


def _ocp():
    import orbax.checkpoint as ocp

    return ocp


class Checkpointer:
    """Keeps the last ``keep`` checkpoints of one run directory (synchronous writes).

    Writes are synchronous on purpose: the driver saves between compiled chunks,
    and a signal handler must know the checkpoint is on disk before exiting.
    """

    def __init__(self, run_dir: str, keep: int = 3, create: bool = True):
        ocp = _ocp()
        self.directory = checkpoint_dir(run_dir)
        if not create and not os.path.isdir(self.directory):
            raise JaxpgError(
                f"no checkpoints in {run_dir} ({self.directory} missing): "
                "it is not a run directory written with checkpoints; start a new run instead"
            )
        if jax.process_count() > 1:
            # Several processes: each replicated array (the parameters) is written once, by
            # the process holding its replica 0. Orbax's default splits every replicated
            # array over the processes, compiling a slicing program per array (minutes on
            # a loaded CPU for a small model).
            with _quiet_absl():  # "overriding jax.Array": that is the point
                ocp.type_handlers.register_type_handler(
                    jax.Array, ocp.type_handlers.ArrayHandler(use_replica_parallel=False), override=True
                )
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, enable_async_checkpointing=False, create=create
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Completed checkpoints (update counts), oldest first."""
        return sorted(self._manager.all_steps())

    def latest(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, state, meta: dict[str, Any]) -> int:
        """Write ``state`` as step ``state.update`` (no-op if that step exists)."""
        ocp = _ocp()
        step = int(state.update)
        if step in self.steps():
            return step
        try:
            injected_write_fault("checkpoint", step, os.path.join(self.directory, str(step)))
            with _quiet_absl(logging.CRITICAL):  # orbax logs each failed write's traceback
                self._manager.save(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                    ),
                    force=True,
                )
                self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - tensorstore/orbax raise many types
            _drop_closed_loop_errors()
            self._discard_partial(step)
            raise write_failed(os.path.join(self.directory, str(step)), e) from None
        return step

    def _discard_partial(self, step: int) -> None:
        """Remove what a failed save left (its temporary directory): free space back."""
        for name in os.listdir(self.directory):
            if name.startswith(f"{step}.orbax-checkpoint-tmp"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
        try:
            self._manager.reload()
        except Exception:  # noqa: BLE001 - the listing is re-read at the next save anyway
            pass

    def _read(self, step: int, **items):
        """The ``items`` (orbax restore args by name) of ``step``, read by this process
        alone. Not the manager's restore: that ends in a barrier of every process, which
        a process that could not read its part never reaches, so the others would wait
        there; the processes agree on success afterwards (:func:`newest_readable`)."""
        ocp = _ocp()
        from etils import epath  # orbax's path type (orbax depends on etils)

        handler = ocp.CompositeCheckpointHandler()
        try:
            return handler.restore(epath.Path(self.directory) / str(step), args=ocp.args.Composite(**items))
        finally:
            handler.close()

    def read_meta(self, step: int) -> dict:
        ocp = _ocp()
        where = os.path.join(self.directory, str(step))
        try:
            with _quiet_absl():  # orbax warns that the (unrequested) state item was skipped
                out = self._read(step, meta=ocp.args.JsonRestore())
            return dict(out["meta"])
        except Exception as e:  # noqa: BLE001 - any failure here is a bad file
            raise CorruptCheckpoint(where, e) from None

    def restore(self, abstract_state, step: int | None = None):
        """Return ``(state, meta)`` of ``step`` (default latest), checked against ``abstract_state``."""
        ocp = _ocp()
        step = self.latest() if step is None else step
        if step is None:
            raise JaxpgError(
                f"no complete checkpoint in {self.directory}: nothing to resume; "
                "start a new run (--overwrite to reuse the directory)"
            )
        where = os.path.join(self.directory, str(step))
        _check_shapes(self._manager, step, abstract_state, where)
        try:
            out = self._read(step, state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore())
        except JaxpgError:
            raise
        except Exception as e:  # noqa: BLE001 - orbax/tensorstore raise many types
            raise CorruptCheckpoint(where, e) from None
        state = out["state"]
        _check_leaves(state, abstract_state, where)
        return state, dict(out["meta"])

    def set_aside(self, step: int) -> str:
        """Rename an unreadable step out of the way (kept for inspection, never listed
        again), so the run can write that step anew; returns the new path. Several
        processes: process 0 renames, the others wait for it, then all re-read the list."""
        where = os.path.join(self.directory, str(step))
        aside = f"{where}.unreadable"

        def rename():
            if os.path.exists(aside):
                shutil.rmtree(aside)
            os.rename(where, aside)

        primary_first(rename)
        self._manager.reload()
        return aside

    def close(self) -> None:
        self._manager.close()


def _drop_closed_loop_errors() -> None:
    """After a failed save, tensorstore's writes still in flight complete on its own
    threads and call back into orbax's event loop, already closed: each callback's
    ``RuntimeError: Event loop is closed`` is printed through ``sys.excepthook`` (a
    full disk printed 31 of them after the one-line error). Drop exactly those."""
    previous = sys.excepthook
    if getattr(previous, "_jaxpg_drops_closed_loop", False):
        return

    def hook(kind, value, tb):
        if kind is RuntimeError and str(value) == "Event loop is closed":
            return
        previous(kind, value, tb)

    hook._jaxpg_drops_closed_loop = True
    sys.excepthook = hook


@contextmanager
def _quiet_absl(level_during: int = logging.ERROR):
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(level_during)
    try:
        yield
    finally:
        logger.setLevel(level)


def newest_readable(steps: list[int], read: Callable[[int], Any], agree: Callable[[str], str],
                    set_aside: Callable[[int], str], warn: Callable[[str], None]) -> Any:  # fmt: skip
    """What ``read`` returns for the newest of ``steps`` that every process could read.

    ``read(step)`` raises :class:`CorruptCheckpoint` for a step it cannot read;
    ``agree(text)`` is every process's first non-empty text (one collective;
    :func:`jaxpg.sharding.agree_on_stop`; the text itself with one process), so all
    processes fall back together, also when only one of them could not read its part.
    An unreadable step is ``set_aside`` (renamed: the run writes that step anew) and
    named through ``warn``; when none is readable, one line says so.
    """
    for i, step in enumerate(reversed(steps)):
        state, failure = None, ""
        try:
            state = read(step)
        except CorruptCheckpoint as e:
            failure = f"{e.where}\t{e.reason}"
        failure = agree(failure)
        if not failure:
            return state
        where, reason = failure.split("\t", 1)
        if i == len(steps) - 1:
            raise JaxpgError(f"checkpoint {where} is unreadable ({reason}), and no earlier one is readable: "
                             "start a new run (--overwrite to reuse the directory)")  # fmt: skip
        aside = set_aside(step)
        warn(f"jaxpg: {where} is unreadable ({reason}); moved to {aside}; resuming from the checkpoint before it")
    raise JaxpgError("no checkpoint to resume")  # steps was empty: the caller checks first


class CorruptCheckpoint(JaxpgError):
    """A checkpoint step that cannot be read (a resume falls back to the one before it)."""

    def __init__(self, where: str, e: Exception):
        self.where = where
        self.reason = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:160]}"
        super().__init__(
            f"checkpoint {where} is unreadable ({self.reason}); "
            "delete that step directory to resume from an earlier one, or start a new run"
        )


def _check_shapes(manager, step: int, abstract_state, where: str) -> None:
    """Compare the saved tree's leaf shapes with ``abstract_state`` before reading arrays."""
    try:
        with _quiet_absl():  # orbax warns about items it has no handler for yet
            meta = manager.item_metadata(step)
        saved = meta["state"] if meta is not None else None
    except Exception:  # noqa: BLE001 - unreadable metadata: the restore will report it
        return
    if saved is None:
        return
    try:
        saved_leaves = jax.tree.leaves(saved)
    except Exception:  # noqa: BLE001
        return
    if not saved_leaves:  # metadata without a handler for it: the restore checks the leaves
        return
    # Orbax's metadata tree is a dict (keys sorted), the state a dataclass (fields in
    # order): the leaves come in different orders, so compare the shapes as multisets.
    shapes = sorted(tuple(getattr(x, "shape", ())) for x in saved_leaves)
    want = sorted(tuple(w.shape) for w in jax.tree.leaves(abstract_state))
    if shapes != want:
        raise JaxpgError(
            f"checkpoint {where} does not match this run's env/network (state shapes differ); "
            "resume with the config it was written with (its run's config.json) or start a new run"
        )


def _dtype(x) -> np.dtype:
    # A leaf sharded over several processes cannot be copied to one host: ask it.
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def _check_leaves(state, abstract_state, where: str) -> None:
    got, want = jax.tree.leaves(state), jax.tree.leaves(abstract_state)
    bad = len(got) != len(want) or any(
        np.shape(g) != tuple(w.shape) or _dtype(g) != w.dtype for g, w in zip(got, want)
    )
    if bad:
        raise JaxpgError(
            f"checkpoint {where} does not match this run's env/network (state shapes differ); "
            "resume with the config it was written with (its run's config.json) or start a new run"
        )


def check_compatible(saved_config: dict, config: dict, where: str) -> None:
    """Raise if a checkpoint's config differs from ``config`` in a structural field."""
    for name in STRUCTURAL_FIELDS:
        a, b = saved_config.get(name), config.get(name)
        if isinstance(a, list):
            a = tuple(a)
        if isinstance(b, list):
            b = tuple(b)
        if a != b:
            raise JaxpgError(
                f"checkpoint {where} was written for {name}={a!r} but this run has {name}={b!r}; "
                "resume with the config it was written with (its run's config.json) or start a new run"
            )
