"""The driver's progress watchdog: a late chunk gets one line, a normal one none."""

import time

from jaxpg.config import HParams, TrainConfig
from jaxpg import RunOptions, run
from jaxpg.runner.watchdog import ChunkWatchdog


def test_late_chunk_is_reported_with_its_name_and_time():
    lines = []
    dog = ChunkWatchdog(factor=5.0, min_seconds=0.3, first_chunk_seconds=5.0, emit=lines.append)
    for i in range(3):
        with dog.watch(f"chunk {i}"):
            time.sleep(0.01)
    assert lines == []  # on-time chunks are silent
    assert dog.deadline() == 0.3  # max(min_seconds, 5 x ~0.01 s)
    with dog.watch("chunk of updates 31-40 (of 100)"):
        time.sleep(1.2)  # late at 0.3 s, again at 0.9 s (doubling), next at 2.1 s
    assert len(lines) == 2
    assert "chunk of updates 31-40 (of 100)" in lines[0]
    assert "has been running for 0 s" in lines[0] and "x the median" in lines[0]
    assert len(lines[0].splitlines()) == 1


def test_first_chunk_has_its_own_deadline():
    lines = []
    dog = ChunkWatchdog(first_chunk_seconds=0.2, emit=lines.append)
    with dog.watch("chunk 1"):
        time.sleep(0.4)  # late at 0.2 s; next at 0.6 s
    assert len(lines) == 1 and "the first" in lines[0]


def test_driver_times_every_chunk_through_the_watchdog():
    lines = []
    dog = ChunkWatchdog(emit=lines.append)
    config = TrainConfig(env="CartPole-v1", num_envs=4, num_steps=16, total_timesteps=4 * 16 * 6,
                         updates_per_chunk=2)  # fmt: skip
    run(config, HParams(), RunOptions(progress=False, watchdog=dog))
    assert len(dog.durations) == 3 and lines == []
