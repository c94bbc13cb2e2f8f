"""RLHF: hand-computed losses and controller steps, KL estimators, KV-cache sampling,
the gold reward's dynamic program, and a tiny end-to-end pipeline run."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg.errors import ConfigError
from jaxpg.rlhf import lm, objectives, reward_model, rl, task
from jaxpg.rlhf.pipeline import RLHFConfig, run_rlhf, validate
from jaxpg.rlhf.reward_model import bradley_terry_loss
from jaxpg.runner.options import RunOptions
from test_no_lapack import recorded_lapack_calls, recorded_programs

# Small enough to compile quickly on a shared 2-core CPU.
TINY = RLHFConfig(
    vocab_size=8, branching=2, n_liked=2, prompt_len=2, response_len=4, context_len=6,
    n_layers=1, d_model=16, n_heads=2, sft_steps=40, sft_batch_size=32, n_pairs=64,
    n_eval_pairs=64, rm_epochs=2, rm_batch_size=32, rl_updates=4, rl_batch_size=32,
    update_epochs=2, num_minibatches=2, log_every=2, best_of_n_max=4, best_of_n_prompts=8,
    eval_batch_size=32,
)


def test_bradley_terry_loss_hand_values():
    r_pos = jnp.array([1.0, 0.0])
    r_neg = jnp.array([0.0, 0.0])
    # -log sigmoid(1) = log(1 + e^-1) = 0.31326169; -log sigmoid(0) = log 2 = 0.69314718.
    loss, m = bradley_terry_loss(r_pos, r_neg)
    np.testing.assert_allclose(loss, (0.31326169 + 0.69314718) / 2, rtol=1e-6)
    np.testing.assert_allclose(m["accuracy"], 0.5)
    # margin 0.5: -log sigmoid(0.5) = 0.47407698, -log sigmoid(-0.5) = 0.97407698.
    loss, _ = bradley_terry_loss(r_pos, r_neg, margin=0.5)
    np.testing.assert_allclose(loss, (0.47407698 + 0.97407698) / 2, rtol=1e-6)
    # centering: mean((r+ + r-)^2) = (1 + 0) / 2 = 0.5, times 0.1.
    loss, m = bradley_terry_loss(r_pos, r_neg, center_coef=0.1)
    np.testing.assert_allclose(m["center"], 0.5)
    np.testing.assert_allclose(loss, (0.31326169 + 0.69314718) / 2 + 0.05, rtol=1e-6)


def test_adaptive_kl_update_hand_values():
    # KL 3 vs target 2: error 0.5 clipped to 0.2; n/H = 256/2048 = 1/8 -> beta * 1.025.
    np.testing.assert_allclose(objectives.adaptive_kl_update(0.1, 3.0, 2.0, 256, 2048.0), 0.1025)
    # KL 1.8 vs 2: error -0.1 (inside the clip) -> beta * (1 - 0.1 / 8) = 0.09875.
    np.testing.assert_allclose(objectives.adaptive_kl_update(0.1, 1.8, 2.0, 256, 2048.0), 0.09875)
    # Far below target: error clipped at -0.2 -> beta * (1 - 0.2 * 0.5) with n/H = 0.5.
    np.testing.assert_allclose(objectives.adaptive_kl_update(0.4, 0.0, 2.0, 1, 2.0), 0.36)


def test_k3_nonnegative_and_both_estimators_unbiased():
    key = jax.random.key(0)
    logits_p, logits_q = jax.random.normal(key, (2, 6)) * 2.0
    p, q = jax.nn.log_softmax(logits_p), jax.nn.log_softmax(logits_q)
    a = jax.random.categorical(jax.random.key(1), logits_p, shape=(200_000,))
    k1 = objectives.kl_penalty(p[a], q[a], "k1")
    k3 = objectives.kl_penalty(p[a], q[a], "k3")
    assert float(k3.min()) >= 0.0
    assert float(k1.min()) < 0.0  # k1 is not pointwise non-negative; k3 is
    true_kl = float(jnp.sum(jnp.exp(p) * (p - q)))
    np.testing.assert_allclose(float(k1.mean()), true_kl, rtol=0.05)
    np.testing.assert_allclose(float(k3.mean()), true_kl, rtol=0.05)
    # k3 >= 0 for arbitrary log-probabilities, not just sampled ones.
    x, y = jax.random.normal(jax.random.key(2), (2, 1000)) * 5.0
    assert float(objectives.kl_penalty(x, y, "k3").min()) >= 0.0


def test_token_rewards_and_gae_reward_to_go():
    score = jnp.array([2.0])
    kl = jnp.array([[0.1, 0.2, 0.3]])
    mask = jnp.ones_like(kl)
    r = objectives.token_rewards(score, kl, 0.5, mask)
    np.testing.assert_allclose(r, [[-0.05, -0.1, -0.15 + 2.0]], rtol=1e-6)
    # gamma = lam = 1 and zero values: the advantage is the reward-to-go.
    adv = objectives.gae_advantages(r, jnp.zeros_like(r), mask, 1.0, 1.0)
    np.testing.assert_allclose(adv, [[1.7, 1.75, 1.85]], rtol=1e-6)


def test_masked_rewards_and_gae_end_at_eos():
    # Response of 2 own tokens (the 2nd is EOS) then padding: the score lands on token 1,
    # the padding gets no reward, no KL and advantage 0.
    score = jnp.array([2.0])
    kl = jnp.array([[0.1, 0.2, 9.0, 9.0]])
    mask = jnp.array([[1.0, 1.0, 0.0, 0.0]])
    r = objectives.token_rewards(score, kl, 0.5, mask)
    np.testing.assert_allclose(r, [[-0.05, -0.1 + 2.0, 0.0, 0.0]], rtol=1e-6)
    values = jnp.array([[0.5, 1.0, 7.0, 7.0]])  # padding values must not leak in
    # gamma = 1, lam = 0.5: delta_1 = 1.9 - 1.0 = 0.9 (terminal); delta_0 = -0.05 + 1.0 - 0.5
    # = 0.45; A_0 = 0.45 + 0.5 * 0.9 = 0.9.
    adv = objectives.gae_advantages(r, values, mask, 1.0, 0.5)
    np.testing.assert_allclose(adv, [[0.9, 0.9, 0.0, 0.0]], rtol=1e-6)
    # REINFORCE++ reward-to-go: [1.85, 1.9, 0, 0] before whitening over own tokens.
    np.testing.assert_allclose(objectives.reward_to_go(r, mask, 1.0), [[1.85, 1.9, 0, 0]],
                               rtol=1e-6)


def test_group_advantages_grpo_and_dr_grpo():
    ret = jnp.array([1.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(objectives.group_advantages(ret, 2), [-1.0, 1.0, 0.0, 0.0],
                               atol=1e-5)
    # Dr. GRPO keeps the group-mean baseline and drops the std: [-1, 1, 0, 0] with
    # returns [1, 3] (std 1) would not tell them apart, so use a group of std 2.
    ret = jnp.array([0.0, 4.0, 1.0, 1.0])
    np.testing.assert_allclose(objectives.group_advantages(ret, 2, scale_by_std=False),
                               [-2.0, 2.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(objectives.group_advantages(ret, 2), [-1.0, 1.0, 0.0, 0.0],
                               atol=1e-5)


def test_rloo_leave_one_out_baseline_hand_values():
    # One prompt, k = 3 returns [1, 2, 6]: baselines are the means of the others,
    # [4, 3.5, 1.5], so advantages [-3, -1.5, 4.5] (= k/(k-1) (R - mean R)).
    adv = objectives.rloo_advantages(jnp.array([1.0, 2.0, 6.0, 0.0, 0.0, 3.0]), 3)
    np.testing.assert_allclose(adv, [-3.0, -1.5, 4.5, -1.5, -1.5, 3.0], atol=1e-6)


def test_reinforce_pp_whitens_over_the_whole_batch():
    # Two responses of lengths 2 and 1; rewards put the score on the last own token.
    r = jnp.array([[0.0, 1.0], [3.0, 0.0]])
    mask = jnp.array([[1.0, 1.0], [1.0, 0.0]])
    # Reward-to-go on own tokens [1, 1, 3]: mean 5/3, var ((4 + 4 + 16) / 9) / 3 = 8/9.
    adv = objectives.reinforce_pp_advantages(r, mask, 1.0)
    sd = math.sqrt(8 / 9)
    want = [[(1 - 5 / 3) / sd, (1 - 5 / 3) / sd], [(3 - 5 / 3) / sd, 0.0]]
    np.testing.assert_allclose(adv, want, rtol=1e-5)


def test_kl_folded_into_sequence_return_for_group_algorithms():
    score = jnp.array([1.0, 2.0])
    kl = jnp.array([[0.5, 0.5, 4.0], [1.0, 0.0, 0.0]])
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    # R = score - beta * sum of own-token KL, beta = 0.5: [1 - 0.5, 2 - 0.5] = [0.5, 1.5];
    # RLOO with k = 2: [0.5 - 1.5, 1.5 - 0.5] = [-1, 1] on own tokens.
    adv = objectives.advantages_for("rloo", score, kl, mask, None, 0.5, 1.0, 1.0, 2)
    np.testing.assert_allclose(adv, [[-1.0, -1.0, 0.0], [1.0, 1.0, 1.0]], atol=1e-6)


def test_token_averaging_modes():
    loss = jnp.array([[1.0, 3.0, 100.0], [2.0, 0.0, 0.0]])
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(objectives.aggregate(loss, mask, "token"), 6.0 / 3)
    np.testing.assert_allclose(objectives.aggregate(loss, mask, "sequence"), (2.0 + 2.0) / 2)
    np.testing.assert_allclose(objectives.aggregate(loss, mask, "constant"), 6.0 / 6)
    ratio = jnp.array([0.5, 1.5, 1.0])
    adv = jnp.array([1.0, 1.0, -1.0])
    # max(-A r, -A clip(r)): [max(-0.5, -0.8), max(-1.5, -1.2), 1] = [-0.5, -1.2, 1].
    np.testing.assert_allclose(objectives.clipped_surrogate(ratio, adv, 0.2), [-0.5, -1.2, 1.0])


def test_kv_cache_sampling_matches_full_recomputation():
    cfg = lm.LMConfig(vocab_size=11, d_model=16, n_layers=2, n_heads=2, max_len=9)
    params = lm.init_params(cfg, jax.random.key(0))
    prompt = jax.random.randint(jax.random.key(1), (3, 3), 0, cfg.vocab_size)
    generate = jax.jit(lm.generate, static_argnums=(0, 4))
    for temperature in (1.0, 0.7):
        tok_c, logit_c = generate(cfg, params, jax.random.key(2), prompt, 6, temperature)
        tok_n, logit_n = lm.generate_naive(cfg, params, jax.random.key(2), prompt, 6, temperature)
        np.testing.assert_array_equal(tok_c, tok_n)
        np.testing.assert_allclose(logit_c, logit_n, atol=1e-5)
        np.testing.assert_array_equal(tok_c[:, :3], prompt)
    # The cached step logits are also those of one full pass over the final tokens.
    full = lm.apply(cfg, params, tok_c)[0][:, :-1]
    np.testing.assert_allclose(logit_c, full, atol=1e-5)


def test_gold_optimum_matches_brute_force():
    lang = task.make_language(jax.random.key(3), vocab_size=4, branching=2, n_liked=1,
                              sentiment_weight=2.0)
    responses = jnp.array(list(itertools.product(range(4), repeat=3)))  # all 64
    prompts = jnp.repeat(jnp.arange(4), responses.shape[0])[:, None]
    gold = task.gold_reward(lang, prompts, jnp.tile(responses, (4, 1))).reshape(4, -1)
    np.testing.assert_allclose(task.gold_optimum(lang, jnp.arange(4), 3), gold.max(-1),
                               rtol=1e-5)


def test_language_is_normalized_and_entropy_rate_matches_samples():
    lang = task.make_language(jax.random.key(4), vocab_size=8, branching=3)
    np.testing.assert_allclose(jnp.exp(lang.log_trans).sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(jnp.exp(lang.log_init).sum(), 1.0, rtol=1e-5)
    x = jax.jit(task.sample, static_argnums=(2, 3))(lang, jax.random.key(5), 2000, 20)
    nll = -float(task.token_log_likelihood(lang, x).mean())
    np.testing.assert_allclose(nll, float(task.entropy_rate(lang)), rtol=0.03)


@pytest.mark.parametrize(
    "field,value",
    [("n_heads", 3), ("context_len", 4), ("num_minibatches", 5), ("temperature", 0.0),
     ("smoothing", 1.5)],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        validate(dataclasses.replace(TINY, **{field: value}))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("rlhf"))
    with recorded_programs(out + "_ir"):  # for the no-LAPACK guard
        summary = run_rlhf(TINY, RunOptions(out_dir=out, progress=False))
    return out, summary


def test_rlhf_programs_have_no_lapack_call(tiny_run):
    """SFT, pairs, reward model, PPO and best-of-n programs: no batched LAPACK kernel
    (they deadlock XLA's CPU pool; see tests/test_no_lapack.py)."""
    out, _ = tiny_run
    assert len(os.listdir(out + "_ir")) > 5  # the recording worked
    assert recorded_lapack_calls(out + "_ir") == {}


def test_pipeline_writes_run_directory(tiny_run):
    out, summary = tiny_run
    for name in ["config.json", "metrics.jsonl", "summary.json", "gold_proxy_vs_sqrt_kl.png"]:
        assert os.path.exists(os.path.join(out, name)), name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["rl_updates"] == TINY.rl_updates
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    ppo = [r for r in rows if "rl/gold" in r]
    assert [r["step"] for r in ppo] == list(range(1, TINY.rl_updates + 1))
    for k in ["proxy", "gold", "kl_seq", "kl_per_token", "beta", "entropy", "clip_fraction",
              "approx_kl", "value_loss", "explained_variance"]:
        assert all(math.isfinite(r[f"rl/{k}"]) for r in ppo), k
    assert any("sft/eval_nll" in r for r in rows)
    assert any("rm/eval_gold_accuracy" in r for r in rows)
    with open(os.path.join(out, "summary.json")) as f:
        on_disk = json.load(f)
    assert on_disk["reward_model"]["gold_accuracy"] == summary["reward_model"]["gold_accuracy"]
    assert [r["n"] for r in summary["best_of_n"]] == [1, 2, 4]
    np.testing.assert_allclose(summary["best_of_n"][2]["kl"], math.log(4) - 3 / 4, rtol=1e-6)


def test_first_ppo_minibatch_has_unit_ratio(tiny_run):
    """Before any gradient step the policy is the sampler: ratio 1, nothing clipped."""
    out, _ = tiny_run
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    ppo = [r for r in rows if "rl/gold" in r]
    for r in ppo:
        assert r["rl/first_mb_ratio_max_dev"] < 1e-5
        assert r["rl/first_mb_clip_fraction"] == 0.0
    # ... while later minibatches do move the policy.
    assert max(r["rl/approx_kl"] for r in ppo) > 0.0


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "grpo", "dr-grpo", "rloo", "reinforce++"])
def test_every_algorithm_improves_gold_on_a_small_task(tmp_path, algo):
    cfg = dataclasses.replace(
        TINY, vocab_size=16, branching=3, n_liked=4, response_len=8, context_len=12, d_model=32,
        sft_steps=300, n_pairs=2048, n_eval_pairs=256, rm_epochs=2, rl_updates=25,
        rl_batch_size=64, num_minibatches=2, update_epochs=4, rl_lr=2e-4, eval_batch_size=512,
        algo=algo, group_size=4, eos_prob=0.1, best_of_n_max=0, plot=False)
    s = run_rlhf(cfg, RunOptions(out_dir=str(tmp_path), progress=False))
    before, after = s["rl"]["before"], s["rl"]["after"]
    assert after["proxy"] > before["proxy"] + 0.2
    assert after["gold"] > before["gold"]
    assert 0.0 < after["kl_exact_seq"] < 20.0


@pytest.mark.slow
def test_default_config_hits_targets(tmp_path):
    cfg = RLHFConfig()
    summary = run_rlhf(cfg, RunOptions(out_dir=str(tmp_path), progress=False))
    assert summary["reward_model"]["gold_accuracy"] >= 0.75
    rl = summary["rl"]
    assert 0.5 * cfg.kl_target <= rl["kl_last_half_mean"] <= 1.5 * cfg.kl_target
    assert rl["after"]["gold"] > rl["before"]["gold"]
    assert summary["sft"]["excess_kl_per_token"] < 0.05
    assert summary["wall_s"]["total_s"] < 600


@pytest.fixture(scope="module")
def tiny_parts():
    lang = task.make_language(jax.random.key(0), vocab_size=8, branching=2, n_liked=2,
                              eos_prob=0.3)
    cfg = lm.LMConfig(vocab_size=9, d_model=16, n_layers=1, n_heads=2, max_len=6)
    params = lm.init_params(cfg, jax.random.key(1))
    rm = reward_model.RewardModel(params, 0.0, 1.0, reward_model.Reader(cfg, 2, "mean", lang.eos))
    return lang, cfg, params, rm


# One compile per algorithm, each a tiny update: every critic-free update path runs in CI.
@pytest.mark.parametrize("algo", ["rloo", "grpo", "dr-grpo", "reinforce++"])
def test_critic_free_update_moves_only_the_policy(tiny_parts, algo):
    lang, cfg, params, rm = tiny_parts
    rcfg = dataclasses.replace(TINY, algo=algo, group_size=4, rl_batch_size=16, num_minibatches=2,
                               update_epochs=2, rl_lr=1e-3, beta=0.1, eos_prob=0.3)
    state = rl.init_state(rcfg, params, params)
    update = jax.jit(rl.make_update(rcfg, cfg, lang))
    new, m = update(state, params, rm, jax.random.key(2))
    assert float(m["first_mb_ratio_max_dev"]) < 1e-5 and float(m["first_mb_clip_fraction"]) == 0.0
    assert "value_loss" not in m
    same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), new.params.value, params)
    assert all(jax.tree.leaves(same))  # no critic gradient without a critic
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params.policy, params)
    assert any(jax.tree.leaves(moved))
    assert int(new.update) == 1 and float(new.beta) != 0.1  # adaptive controller stepped
    assert 1.0 <= float(m["response_length"]) <= TINY.response_len


def test_k3_gradients_reward_form_vs_loss_form():
    """Exact expectations over a ~ pi for one categorical (see objectives' docstring)."""
    theta = jax.random.normal(jax.random.key(6), (5,))
    ref = jax.nn.log_softmax(jax.random.normal(jax.random.key(7), (5,)))
    actions = jnp.arange(5)
    pi = jax.lax.stop_gradient(jax.nn.softmax(theta))

    def kl(p_log, q_log):
        return jnp.sum(jnp.exp(p_log) * (p_log - q_log))

    grad_fwd = jax.grad(lambda t: kl(ref, jax.nn.log_softmax(t)))(theta)  # KL(ref || pi)
    grad_rev = jax.grad(lambda t: kl(jax.nn.log_softmax(t), ref))(theta)  # KL(pi || ref)
    # Loss form: E_pi[grad k3] = grad KL(ref || pi).
    loss_form = jax.grad(lambda t: jnp.sum(
        pi * objectives.kl_penalty(jax.nn.log_softmax(t)[actions], ref, "k3")))(theta)
    np.testing.assert_allclose(loss_form, grad_fwd, atol=1e-6)

    # Reward form: E_pi[grad log pi * k] for k1 is grad KL(pi || ref); for k3 it is not.
    def score_fn(est):
        k = jax.lax.stop_gradient(objectives.kl_penalty(jnp.log(pi), ref, est))
        return jax.grad(lambda t: jnp.sum(pi * jax.nn.log_softmax(t)[actions] * k))(theta)

    np.testing.assert_allclose(score_fn("k1"), grad_rev, atol=1e-6)
    np.testing.assert_allclose(score_fn("k3"), grad_rev - grad_fwd, atol=1e-6)
    assert float(jnp.abs(score_fn("k3") - grad_rev).max()) > 1e-2


def test_eos_language_masks_and_gold_optimum_brute_force():
    lang = task.make_language(jax.random.key(3), vocab_size=3, branching=2, n_liked=1,
                              sentiment_weight=2.0, eos_prob=0.25)
    assert lang.eos == 3 and lang.vocab_size == 4
    np.testing.assert_allclose(jnp.exp(lang.log_trans).sum(-1), 1.0, rtol=1e-5)
    resp = jnp.array([[0, 3, 3], [1, 2, 0], [3, 3, 3]])
    np.testing.assert_array_equal(task.response_mask(resp, 3), [[1, 1, 0], [1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(task.ended(resp, 3), [True, False, True])
    # Gold of [0, EOS] after prompt token 2: mean of (w liked(0) + log P(0|2)) and log P(EOS|0).
    g = task.gold_reward(lang, jnp.array([[2]]), resp[:1])
    want = (2.0 * lang.liked[0] + lang.log_trans[2, 0] + lang.log_trans[0, 3]) / 2
    np.testing.assert_allclose(g, [want], rtol=1e-6)
    # The optimum over every valid response (padding after the first EOS) of length <= 3,
    # for the three possible last prompt tokens at once.
    cands = jnp.array([r for r in itertools.product(range(4), repeat=3)
                       if all(r[i + 1] == 3 for i in range(2) if r[i] == 3)])
    n = cands.shape[0]
    prompts = jnp.repeat(jnp.arange(3), n)[:, None]
    gold = task.gold_reward(lang, prompts, jnp.tile(cands, (3, 1))).reshape(3, n)
    np.testing.assert_allclose(task.gold_optimum(lang, jnp.arange(3), 3), gold.max(-1), rtol=1e-5)


def test_generation_stops_at_eos_and_prompts_never_hold_it():
    lang = task.make_language(jax.random.key(4), vocab_size=6, branching=2, eos_prob=0.4)
    prompts = task.sample_prompts(lang, jax.random.key(0), 256, 5)
    assert not bool(jnp.any(prompts == lang.eos))
    cfg = lm.LMConfig(vocab_size=7, d_model=16, n_layers=1, n_heads=2, max_len=8)
    params = lm.init_params(cfg, jax.random.key(1))
    # Eager (no compile): 5 cached steps of a one-layer model are cheap.
    tokens, _ = lm.generate(cfg, params, jax.random.key(2), prompts[:64, :2], 6, 1.0, lang.eos)
    resp = tokens[:, 2:]
    mask = task.response_mask(resp, lang.eos)
    assert bool(jnp.all((mask == 1) | (resp == lang.eos)))  # after the first EOS: EOS only
    assert 0 < float(task.ended(resp, lang.eos).mean()) < 1  # random init: some stop


def test_rlhf_command_refuses_to_overwrite(tmp_path, capsys):
    """One RLHF command line: ``jaxpg rlhf`` (the pipeline module has no second one)."""
    from jaxpg import cli

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "summary.json").write_text("{}")  # a finished run (a bare config is a dead start)
    assert cli.main(["rlhf", "--out", str(tmp_path), "--sft-steps", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err
