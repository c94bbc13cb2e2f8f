"""Population-based training: the ready step's pieces on hand-made arrays, the
population program against the sweep, resume, LAPACK, bad input."""

import os
import re
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg.config import HParams, TrainConfig, stack_hparams
from jaxpg.errors import ConfigError
from jaxpg.pbt import PBTConfig, exploit, explore, interval_score, parse_explore, run_pbt, select
from jaxpg.pbt.population import make_program, member_keys, ready_key
from jaxpg.pbt.ready import COPIED
from jaxpg.pbt.space import bounds, initial_population
from jaxpg.runner.options import RunOptions
from jaxpg.runner.signals import exit_while_starting
from jaxpg.runner.trainer import make_trainer
from jaxpg.sweep import run_agents

# 6 updates of 32 steps; chunks of one round of 2 updates (2 ready steps): one program.
TINY = TrainConfig(
    algo="a2c", env="CartPole-v1", num_envs=2, num_steps=16, total_timesteps=6 * 32, update_epochs=1,
    num_minibatches=1, hidden_sizes=(8,), eval_every=0, updates_per_chunk=2, normalize_obs=True,
)  # fmt: skip
SPACE = parse_explore(["lr=loguniform:1e-4:1e-2", "ent_coef=uniform:0:0.05"])


# ------------------------------------------------------------------ ready step pieces


def test_interval_score_by_hand():
    # member 0: episodes 10 + 20 (2 of them) -> 15; member 1: none -> keeps 7;
    # member 2: an episode of 5 but a non-finite update -> -inf
    sums = jnp.array([[10.0, 20.0], [0.0, 0.0], [5.0, 0.0]])
    counts = jnp.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    bad = jnp.array([[0, 0], [0, 0], [0, 3]])
    score = interval_score(sums, counts, bad, jnp.array([1.0, 7.0, 9.0]))
    np.testing.assert_array_equal(score, [15.0, 7.0, -np.inf])


def test_select_replaces_the_bottom_by_the_top():
    score = jnp.array([5.0, np.nan, 1.0, 9.0, 3.0, 8.0, 7.0, 2.0])  # bottom 2: 1 (NaN), 2; top 2: 3, 5
    for seed in range(20):
        src = np.asarray(select(jax.random.PRNGKey(seed), score, 2))
        assert set(src[[1, 2]]) <= {3, 5}
        others = [i for i in range(8) if i not in (1, 2)]
        np.testing.assert_array_equal(src[others], others)


def _population(size=4):
    """A vmapped train state of the real structure (shapes from ``eval_shape``, nothing
    compiled) whose members differ in every leaf."""
    trainer = make_trainer(TINY)
    hp = stack_hparams([HParams()] * size).as_arrays()
    shapes = jax.eval_shape(jax.vmap(trainer.init), member_keys(0, size), hp)
    rng = np.random.default_rng(0)
    return jax.tree.map(lambda x: (rng.normal(size=x.shape) * 100).astype(x.dtype), shapes)


def test_exploit_copies_exactly_the_chosen_members_learned_state():
    members = _population()
    src = jnp.array([0, 3, 2, 3])  # member 1 copies member 3
    out = jax.jit(exploit)(members, src)
    for name in COPIED:
        for got, orig in zip(jax.tree.leaves(getattr(out, name)), jax.tree.leaves(getattr(members, name))):
            np.testing.assert_array_equal(got, np.asarray(orig)[[0, 3, 2, 3]])
    for name in ("env_state", "obs", "key", "update", "env_steps", "algo_state"):
        for got, orig in zip(jax.tree.leaves(getattr(out, name)), jax.tree.leaves(getattr(members, name))):
            np.testing.assert_array_equal(got, orig)  # env states, keys, counters stay
    # and the copied member really changed (the test can fail)
    assert not np.array_equal(jax.tree.leaves(out.params)[0][1], jax.tree.leaves(members.params)[0][1])


def test_explore_stays_in_bounds_and_touches_only_replaced_members():
    size = 2000
    space = bounds(SPACE)
    hp = initial_population(HParams(clip_eps=0.3), SPACE, size, seed=1)
    hp = hp.replace(lr=np.where(np.arange(size) % 2, 1e-2, 1e-4).astype(np.float32))  # at the bounds
    hp = jax.tree.map(jnp.asarray, hp)
    src = jnp.asarray(np.random.default_rng(0).integers(0, size, size), jnp.int32)
    new = jax.jit(lambda k, h, s: explore(k, h, s, space, 0.25, (0.8, 1.25)))(jax.random.PRNGKey(3), hp, src)
    replaced = np.asarray(src) != np.arange(size)
    for name, (low, high, _) in space.items():
        v = np.asarray(getattr(new, name))
        assert np.all((v >= np.float32(low)) & (v <= np.float32(high))), name
        np.testing.assert_array_equal(v[~replaced], np.asarray(getattr(hp, name))[~replaced])
    # perturbed (not resampled) values are the donor's times 0.8 or 1.25, clipped
    donor_lr = np.asarray(hp.lr)[np.asarray(src)]
    ratio = np.asarray(new.lr)[replaced] / donor_lr[replaced]
    perturbed = np.isclose(ratio, 0.8, rtol=1e-6) | np.isclose(ratio, 1.25, rtol=1e-6) | np.isclose(ratio, 1.0)
    assert 0.6 < perturbed.mean() < 0.9  # 75% perturbed (some clipped to a bound), 25% redrawn
    np.testing.assert_array_equal(np.asarray(new.clip_eps), np.float32(0.3))


def test_explore_without_resampling_is_an_exact_perturbation():
    hp = jax.tree.map(jnp.asarray, stack_hparams([HParams(lr=1e-3)] * 64))
    src = jnp.roll(jnp.arange(64, dtype=jnp.int32), 1)  # everyone replaced
    new = explore(jax.random.PRNGKey(0), hp, src, {"lr": (1e-5, 1.0, True)}, 0.0, (0.8, 1.25))
    ratio = np.asarray(new.lr) / np.float32(1e-3)
    down, up = np.isclose(ratio, 0.8, rtol=1e-6), np.isclose(ratio, 1.25, rtol=1e-6)
    assert np.all(down | up) and down.any() and up.any()


# ------------------------------------------------------------------ the program


def _run(tmp_path=None, resume=False, **kw):
    options = RunOptions(seed=3, out_dir=tmp_path, resume=resume, handle_signals=tmp_path is not None)
    return run_pbt(TINY, HParams(), SPACE, PBTConfig(population=4, interval=2), options,
                   log=lambda s: None, **kw)  # fmt: skip


@pytest.mark.slow  # two compiles: ~45 s of CPU on a loaded 2-core machine
def test_no_exploit_population_equals_the_sweep():
    """Members with the same hparams and no ready step: exactly `jaxpg sweep --seed 3 --seeds 4`."""
    pbt = PBTConfig(population=4, interval=2, exploit=False)
    res = run_pbt(TINY, HParams(), {}, pbt, RunOptions(seed=3, handle_signals=False), log=lambda s: None)
    hp = stack_hparams([HParams()] * 4)
    sweep = run_agents(TINY, member_keys(3, 4), hp)
    for name in ("episode_return_sum", "episode_count"):
        np.testing.assert_array_equal(res.record.metrics[name], sweep.metrics[name])
    assert res.record.metrics["episode_count"].sum() > 0  # episodes did finish


@pytest.mark.slow  # a compile and three runs with orbax checkpoints: ~35 s of CPU (loaded)
def test_resume_equals_uninterrupted(tmp_path):
    full = _run()
    assert np.any(full.record.src != np.arange(4))  # the ready step did copy
    out = str(tmp_path / "pbt")

    def interrupt(row):
        # As under the ``jaxpg`` command: once a chunk's work exists, the start-up guard
        # (a signal ends the process at once) has handed signals to the driver.
        assert not guard._active
        if row["update"] == 4:
            os.kill(os.getpid(), signal.SIGINT)  # stop at this chunk's end, with a checkpoint

    with exit_while_starting("jaxpg pbt") as guard:
        first = _run(out, on_chunk=interrupt)
    assert (first.summary["status"], first.summary["updates"]) == ("interrupted", 4)
    second = _run(out, resume=True)
    assert second.summary["resumed_from_update"] == 4
    for a, b in zip(jax.tree.leaves(second.population), jax.tree.leaves(full.population)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(second.record.src, full.record.src)
    np.testing.assert_array_equal(second.record.hparams["lr"], full.record.hparams["lr"])
    for name in full.record.metrics:
        np.testing.assert_array_equal(second.record.metrics[name], full.record.metrics[name])


LAPACK = re.compile(r'(?:custom_call\s*@|call_target_name\s*=\s*")(lapack_\w+)')


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce", "npg", "trpo"])
def test_population_program_has_no_lapack_call(algo):
    config = TINY.replace(algo=algo, env="Pendulum-v1")
    program = make_program(config, PBTConfig(population=4, interval=2), bounds(SPACE))
    hp = jax.tree.map(jnp.asarray, initial_population(HParams(), SPACE, 4, 0))
    pop = jax.eval_shape(lambda: program.init(member_keys(0, 4), hp, ready_key(0)))
    text = jax.jit(program.run_rounds, static_argnums=(1, 2)).lower(pop, 2, 2).as_text()
    assert "gather" in text  # the exploit is in there
    assert not LAPACK.findall(text)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "pbt,needle",
    [(PBTConfig(population=1), "population"), (PBTConfig(interval=0), "interval"),
     (PBTConfig(fraction=0.0), "fraction"), (PBTConfig(fraction=0.6), "fraction"),
     (PBTConfig(resample_prob=2.0), "resample_prob")],
)  # fmt: skip
def test_pbt_config_errors(pbt, needle):
    with pytest.raises(ConfigError, match=needle):
        pbt.validate()


@pytest.mark.parametrize(
    "item,needle",
    [("nope=uniform:0:1", "unknown field"), ("lr=loguniform:1e-2:1e-4", "LOW < HIGH"),
     ("lr=normal:0:1", "DIST"), ("lr", "FIELD=")],
)  # fmt: skip
def test_explore_flag_errors(item, needle):
    with pytest.raises(ConfigError, match=f"explore.*{needle}"):
        parse_explore([item])


@pytest.mark.parametrize(
    "args,needle",
    [(["--population", "1"], "population"), (["--interval", "0"], "interval"),
     (["--fraction", "0.7"], "fraction"), (["--fraction", "0"], "fraction"),
     (["--explore", "bogus=uniform:0:1"], "unknown field"),
     (["--explore", "lr=loguniform:1e-2:1e-5"], "LOW < HIGH"),
     (["--explore", "gamma=uniform:0.9:1.5"], "out of range"), ([], "--explore")],
)  # fmt: skip
def test_pbt_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, args, needle):
    from jaxpg.cli import main

    argv = ["pbt", "--out", str(tmp_path / "r"), *args]
    if not any(a == "--explore" for a in args) and needle != "--explore":
        argv += ["--explore", "lr=loguniform:1e-4:1e-2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not os.path.exists(tmp_path / "r")  # nothing written


def test_schedule_lookup_and_errors():
    from jaxpg.hparam_schedule import schedule_from_list

    s = schedule_from_list(HParams(), [{"update": 0, "lr": 1e-3}, {"update": 4, "lr": 2e-3, "ent_coef": 0.0}])
    lrs = [float(s.at(u).lr) for u in (0, 3, 4, 9)]
    np.testing.assert_allclose(lrs, [1e-3, 1e-3, 2e-3, 2e-3], rtol=1e-6)
    assert float(s.at(0).ent_coef) == pytest.approx(HParams().ent_coef) and float(s.at(5).ent_coef) == 0.0
    for bad in ([], [{"update": 2, "lr": 1e-3}], [{"update": 0}, {"update": 0}], [{"update": 0, "nope": 1}],
                [{"update": 0, "lr": -1.0}]):  # fmt: skip
        with pytest.raises(ConfigError):
            schedule_from_list(HParams(), bad)


def test_pbt_vs_sweep_verdict_rule():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pbt_vs_sweep", os.path.join(os.path.dirname(__file__), "..", "experiments", "pbt_vs_sweep.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.verdict([10.0, 12.0, 11.0])["verdict"] == "PBT better"
    assert mod.verdict([-10.0, -12.0, -11.0])["verdict"] == "random search better"
    assert mod.verdict([10.0, -12.0, 1.0])["verdict"] == "no difference detected"
    assert mod.verdict([5.0, float("nan")])["verdict"] == "too few repeats"
