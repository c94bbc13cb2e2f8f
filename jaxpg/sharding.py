"""Spread work over devices with ``jax.sharding`` (a 1-D ``Mesh`` + ``NamedSharding``).

Two layouts, both data-parallel with no hand-written collectives: XLA's SPMD
partitioner propagates the input sharding through the jitted program.

* **Agents** (sweeps): the leading axis of a batch of agents ``[A, ...]`` (seeds x
  hyperparameter settings) is split over devices. Agents never talk to each other,
  so every device runs its own slice and nothing crosses devices until the host
  gathers the results.
* **Envs** (one big run): in a :class:`~jaxpg.algos.state.TrainState` the
  per-env leaves (``env_state``, ``obs``: leading axis ``num_envs``) are split
  over devices and everything else (parameters, optimizer state, statistics) is
  replicated. Env steps and the forward passes are local; the minibatch shuffle
  and gradient means become cross-device gathers / all-reduces inserted by XLA.

Multi-host: call :func:`initialize_distributed` (a thin wrapper around
``jax.distributed.initialize``) at the start of every process; ``jax.devices()``
then lists the devices of all hosts, the mesh spans them, and :func:`to_host`
gathers a globally sharded result onto every host. One run over several processes
starts from the same state on each (one seed) and :func:`shard_env_axis` makes it a
global array; :func:`primary_first`, :func:`agree_on` and :func:`agree_on_stop` keep
the host-side decisions (the run directory, its name, when to stop) the same on all.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxpg.errors import JaxpgError

AGENTS = "agents"
ENVS = "envs"


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Join a multi-process run (one process per host, or per GPU) before any jax work.

    Arguments, else ``JAXPG_COORDINATOR`` (``host:port`` of process 0),
    ``JAXPG_NUM_PROCESSES`` and ``JAXPG_PROCESS_ID``; ``JAXPG_DISTRIBUTED=1`` alone
    lets jax detect the cluster (SLURM, Open MPI, Cloud TPU). With none of these
    it does nothing (a single-process run), so it is safe to call always.
    Returns whether it initialized.
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get("JAXPG_COORDINATOR")
    if num_processes is None and env.get("JAXPG_NUM_PROCESSES"):
        num_processes = int(env["JAXPG_NUM_PROCESSES"])
    if process_id is None and env.get("JAXPG_PROCESS_ID"):
        process_id = int(env["JAXPG_PROCESS_ID"])
    explicit = coordinator_address is not None or num_processes is not None
    if not explicit and env.get("JAXPG_DISTRIBUTED") != "1":
        return False
    if (num_processes or 1) > 1 and env.get("JAX_PLATFORMS", "").startswith("cpu"):
        # CPU collectives across processes need an explicit implementation.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeout = _timeout_s(env.get("JAXPG_DISTRIBUTED_TIMEOUT"))
    # jax waits initialization_timeout for every peer and then aborts in C++ (exit 134,
    # a DEADLINE_EXCEEDED stack); our timer fires first and ends the process with one line.
    timer = threading.Timer(timeout, _no_peers, args=(coordinator_address, num_processes, timeout))
    timer.daemon = True
    timer.start()
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id,
                                   initialization_timeout=timeout + 30)  # fmt: skip
    except Exception as e:  # noqa: BLE001 - jax raises RuntimeError/ValueError/XlaRuntimeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise JaxpgError(f"could not join the distributed run at {coordinator_address}: {first}") from None
    finally:
        timer.cancel()
    return True


# Seconds to wait for every process of a distributed run (JAXPG_DISTRIBUTED_TIMEOUT).
DEFAULT_DISTRIBUTED_TIMEOUT_S = 60


def _timeout_s(text: str | None) -> int:
    if not text:
        return DEFAULT_DISTRIBUTED_TIMEOUT_S
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 3600:
        raise JaxpgError(f"invalid JAXPG_DISTRIBUTED_TIMEOUT={text!r}: must be 1..3600 seconds")
    return value


def _no_peers(address, num_processes, timeout) -> None:
    try:
        os.write(2, (f"jaxpg: not all {num_processes} processes joined {address} within {timeout} s "
                     "(JAXPG_DISTRIBUTED_TIMEOUT): start every process with the same JAXPG_COORDINATOR "
                     "and JAXPG_NUM_PROCESSES and its own JAXPG_PROCESS_ID\n").encode())  # fmt: skip
    except OSError:  # stderr gone: exit all the same
        pass
    os._exit(1)


def agree_on(text: str, size: int = 512) -> str:
    """Process 0's ``text`` on every process (a run directory name with a timestamp and
    a random suffix would otherwise differ between processes)."""
    if jax.process_count() == 1:
        return text
    from jax.experimental import multihost_utils

    data = np.zeros(size, np.uint8)
    raw = text.encode()[:size]
    data[: len(raw)] = np.frombuffer(raw, np.uint8)
    agreed = np.asarray(multihost_utils.broadcast_one_to_all(data))
    return bytes(agreed.astype(np.uint8)).rstrip(b"\0").decode()


def make_mesh(axis: str, devices: list | None = None) -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device of every host)."""
    devs = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devs.reshape(-1), (axis,))


def pad_to_multiple(n: int, k: int) -> int:
    """Smallest multiple of ``k`` that is ``>= n``."""
    return -(-n // k) * k


def shard_leading(tree: Any, mesh: Mesh) -> Any:
    """Place every leaf with its leading axis split over ``mesh``'s single axis.

    The leading axis must divide by the mesh size (pad with :func:`pad_to_multiple`).
    """
    (axis,) = mesh.axis_names
    sharding = NamedSharding(mesh, PartitionSpec(axis))
    return jax.device_put(tree, sharding)


def local_to_each_device(fn, mesh: Mesh):
    """``fn`` (batched over a leading axis, as ``jax.vmap(f)`` is) run by every device on
    its own slice of that axis, with no cross-device communication inside (``jax.shard_map``).

    Left to XLA's partitioner, a ``vmap``-ed ``while_loop`` over a sharded axis keeps
    going while *any* element's condition holds: the condition becomes an all-reduce over
    the devices on every iteration (a network round trip per evaluation step with several
    processes). Here each device loops over its own elements only; the results stay
    sharded on ``mesh`` and are gathered once (:func:`to_host`).
    """
    (axis,) = mesh.axis_names
    # check_vma off: the program builds per-agent carries from constants (zeros) that jax's
    # varying-across-devices typing would otherwise ask us to mark by hand in every scan.
    spec = PartitionSpec(axis)
    return jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def env_axis_sharding(state: Any, num_envs: int, mesh: Mesh) -> Any:
    """A pytree of shardings for a train state: env-batched leaves split, others replicated.

    A leaf counts as env-batched when its leading dimension is ``num_envs`` and it
    lives under ``env_state``, ``obs`` (a pytree) or ``policy`` (a recurrent policy's
    per-env carry), so a parameter that happens to have ``num_envs`` rows is still
    replicated.
    """
    (axis,) = mesh.axis_names
    split = NamedSharding(mesh, PartitionSpec(axis))
    whole = NamedSharding(mesh, PartitionSpec())

    def per_env(x) -> NamedSharding:
        return split if np.ndim(x) >= 1 and np.shape(x)[0] == num_envs else whole

    shardings = jax.tree.map(lambda _: whole, state)
    extra = {"policy": jax.tree.map(per_env, state.policy)} if getattr(state, "policy", None) else {}
    return shardings.replace(
        env_state=jax.tree.map(per_env, state.env_state), obs=jax.tree.map(per_env, state.obs), **extra
    )


def shard_env_axis(state: Any, num_envs: int, mesh: Mesh | None = None) -> Any:
    """Split a train state's envs over all devices (a no-op on one device).

    When ``num_envs`` does not divide by the device count the state is left where
    it is: sharding would need padded envs, which would change the run. With several
    processes the state (the same on every process: one seed, one program) becomes a
    global array, each process placing the slices of its own devices; there the envs
    must divide (see :func:`check_envs_divide`).
    """
    mesh = mesh or make_mesh(ENVS)
    if mesh.size == 1 or num_envs % mesh.size:
        return state
    shardings = env_axis_sharding(state, num_envs, mesh)
    if jax.process_count() == 1:
        return jax.device_put(state, shardings)
    host = jax.device_get(state)  # this process's copy, on its own devices until now
    return jax.tree.map(lambda x, s: jax.make_array_from_callback(np.shape(x), s, lambda i: np.asarray(x)[i]),
                        host, shardings)  # fmt: skip


def check_envs_divide(num_envs: int) -> None:
    """One run over several processes splits its envs evenly over every device."""
    n, p = jax.device_count(), jax.process_count()
    if p > 1 and num_envs % n:
        raise JaxpgError(f"num_envs={num_envs} does not split over the {n} devices of {p} processes: "
                         f"use a multiple of {n}")  # fmt: skip


def is_primary() -> bool:
    """Process 0 (the only one of a multi-process run that writes files)."""
    return jax.process_index() == 0


def primary_first(fn, *args):
    """``fn(*args)`` on process 0 only (creating a run directory, say); the others
    return ``None`` once it is done. An error on process 0 is raised there as it is
    and on every other process as one line, so no process waits for a peer that
    has stopped."""
    if jax.process_count() == 1:
        return fn(*args)
    result, error, failure = None, "", None
    if is_primary():
        try:
            result = fn(*args)
        except Exception as e:  # noqa: BLE001 - re-raised below, after the others know
            failure, error = e, (str(e).strip().splitlines() or [type(e).__name__])[0] or type(e).__name__
    error = agree_on(error)
    if failure is not None:
        raise failure
    if error:
        raise JaxpgError(f"process 0 stopped: {error}")
    return result


def agree_on_stop(signum: int = 0, error: str = "", size: int = 508) -> tuple[int, str]:
    """Every process's reason to stop, agreed in one small collective: the largest signal
    number (0: none) and the first non-empty ``error`` text in process order ("" if
    none). So a signal that reached one process, or a write that failed on process 0,
    stops every process at the same point, with the same line, and none waits in a
    collective for a peer that has stopped."""
    if jax.process_count() == 1:
        return signum, error
    from jax.experimental import multihost_utils

    buf = np.zeros(4 + size, np.uint8)
    buf[:4] = np.frombuffer(np.int32(signum).tobytes(), np.uint8)
    raw = error.encode()[:size]
    buf[4 : 4 + len(raw)] = np.frombuffer(raw, np.uint8)
    rows = np.asarray(multihost_utils.process_allgather(buf)).astype(np.uint8).reshape(jax.process_count(), -1)
    return combine_stops([(int(np.frombuffer(r[:4].tobytes(), np.int32)[0]),
                           bytes(r[4:]).rstrip(b"\0").decode(errors="replace")) for r in rows])  # fmt: skip


def combine_stops(reports: list[tuple[int, str]]) -> tuple[int, str]:
    """``(largest signal, first non-empty error)`` of every process's ``(signum, error)``."""
    return max(s for s, _ in reports), next((e for _, e in reports if e), "")


def to_host(tree: Any) -> Any:
    """NumPy copy of ``tree`` on this host, gathering shards that live on other hosts."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


# Cross-device operations in XLA's HLO text (their async "-start" halves count once).
_COLLECTIVE = re.compile(r"=\s*\S.*?\s(all-reduce|all-gather|all-to-all|reduce-scatter|collective-permute"
                         r"|collective-broadcast)(?:-start)?\(")  # fmt: skip
_CALLED = re.compile(r"(?:condition|body|calls|to_apply|true_computation|false_computation)=(%[\w.\-]+)")
_BRANCHES = re.compile(r"branch_computations=\{([^}]*)\}")
_LOOP = re.compile(r"\swhile\(.*?condition=(%[\w.\-]+), body=(%[\w.\-]+)")


def loop_collectives(hlo_text: str) -> tuple[int, int]:
    """``(all, in_loops)``: the collectives of a compiled program (``compiled.as_text()``)
    and those of them inside a ``while`` loop (its condition or body, or a computation
    they call), which cost a cross-device round trip on every iteration."""
    calls: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    loops: set[str] = set()
    name = None
    for line in hlo_text.splitlines():
        head = re.match(r"(?:ENTRY\s+)?(%[\w.\-]+)\s.*\{\s*$", line)
        if head and not line.startswith(" "):
            name = head.group(1)
            calls[name], count[name] = set(), 0
            continue
        if name is None:
            continue
        count[name] += bool(_COLLECTIVE.search(line))
        calls[name].update(_CALLED.findall(line))
        for group in _BRANCHES.findall(line):
            calls[name].update(x.strip() for x in group.split(","))
        loop = _LOOP.search(line)
        if loop:
            loops.update(loop.groups())
    seen, todo = set(), list(loops)
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo.extend(calls.get(c, ()))
    return sum(count.values()), sum(count.get(c, 0) for c in seen)
