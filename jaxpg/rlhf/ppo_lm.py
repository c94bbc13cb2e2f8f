"""PPO (and a critic-free GRPO-style variant) for fine-tuning the LM against a reward model.

One update: sample prompts from the language, sample responses from the policy
(KV cache), score them, build per-token rewards, compute advantages, then run
``n_epochs`` x ``n_minibatches`` clipped-surrogate steps. Everything is one
compiled function; :func:`make_chunk` scans ``K`` of them between log lines.

Per-token reward (Ziegler et al. 2019; Stiennon et al. 2020), response step
``t = 0..R-1``:

    r_t = -beta * kl_t + [t = R-1] * proxy(prompt, response),

where ``kl_t`` estimates ``KL(pi(.|s_t) || ref(.|s_t))`` from the sampled token
with ``rho = ref(a_t|s_t) / pi(a_t|s_t)``: ``k1 = -log rho`` (unbiased, can be
negative) or ``k3 = (rho - 1) - log rho`` (unbiased and >= 0; Schulman 2020).

Where the penalty goes depends on the estimator. k1 is a *reward* (above): its
score-function gradient ``E[grad log pi * k1]`` is exactly ``grad KL(pi || ref)``.
k3 as a reward is not: ``E[grad log pi * k3] = grad KL(pi||ref) - grad KL(ref||pi)``,
which pays the policy for moving probability off tokens the reference likes; with
an adaptive beta this runs away (we saw beta grow 35x while the KL kept rising).
So k3 enters the *loss* instead, ``+ beta * mean_t k3_t`` differentiated through
``pi`` (as in GRPO, Shao et al. 2024), whose expected gradient under ``a ~ pi`` is
``grad KL(ref || pi)``; the per-token reward then carries only the score.
Advantages: GAE (gamma = 1, lambda = 0.95 by default) over the response, the last
response token being terminal, then whitened over the batch. ``V(s_t)`` is the
critic's scalar at position ``P - 1 + t``, the state before response token ``t``.

Critic-free "grpo": each prompt gets ``group_size`` responses; the sequence return
``proxy - beta * sum_t k1_t`` (or just ``proxy`` with k3, which sits in the loss)
minus the group mean, divided by the group std, is every token's advantage (Shao et
al. 2024).

Adaptive KL controller (Ziegler et al. 2019, sec. 2.2):
``e = clip(KL / target - 1, -0.2, 0.2)``, ``beta <- beta * (1 + e * n / horizon)``
with ``KL`` the batch-mean sequence KL and ``n`` the number of sequences.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpg import advantages
from jaxpg.rlhf import lm, reward_model, task


class PPOConfig(NamedTuple):
    """Static choices (shapes, loop counts, algorithm switches)."""

    prompt_len: int = 4
    response_len: int = 12
    batch_size: int = 256  # sequences per update
    n_epochs: int = 4
    n_minibatches: int = 4
    n_updates: int = 100  # length of the entropy-coefficient schedule
    algo: Literal["ppo", "grpo"] = "ppo"
    group_size: int = 8  # responses per prompt for "grpo"
    kl_estimator: Literal["k1", "k3"] = "k1"
    adaptive_kl: bool = True
    kl_horizon: float = 2048.0
    max_grad_norm: float = 1.0


class PPOHParams(NamedTuple):
    """Float hyperparameters; traced, so they can be changed or batched without recompiling."""

    lr: float | jax.Array = 3e-5
    clip_eps: float | jax.Array = 0.2
    vf_clip: float | jax.Array = 0.2
    vf_coef: float | jax.Array = 0.5
    ent_coef_start: float | jax.Array = 0.01
    ent_coef_end: float | jax.Array = 0.001
    gamma: float | jax.Array = 1.0
    lam: float | jax.Array = 0.95
    kl_target: float | jax.Array = 1.0  # nats per sequence
    temperature: float | jax.Array = 1.0  # rollout sampling temperature


@struct.dataclass
class PPOState:
    params: dict  # {"policy": lm params, "value": lm params (scalar head is V)}
    opt_state: optax.OptState
    beta: jax.Array
    update: jax.Array  # number of updates done


class Rollout(NamedTuple):
    tokens: jax.Array  # [B, P + R]
    logp: jax.Array  # [B, R] log pi_old(a_t | s_t)
    values: jax.Array  # [B, R] V_old(s_t)
    advantages: jax.Array  # [B, R] whitened
    returns: jax.Array  # [B, R] value targets
    ref_logp: jax.Array  # [B, R] log ref(a_t | s_t), for the k3 loss term


def kl_penalty(logp: jax.Array, ref_logp: jax.Array, estimator: str = "k1") -> jax.Array:
    """Per-token estimate of ``KL(pi || ref)`` from ``a ~ pi``: k1 or k3 (see module doc)."""
    log_rho = ref_logp - logp
    if estimator == "k1":
        return -log_rho
    if estimator == "k3":
        return jnp.expm1(log_rho) - log_rho
    raise ValueError(f"unknown KL estimator {estimator!r}; use 'k1' or 'k3'")


def adaptive_kl_update(beta, kl, target, n_steps, horizon):
    """Ziegler et al.'s proportional controller: ``beta * (1 + clip(kl/target - 1, ±0.2) n/H)``."""
    err = jnp.clip(kl / target - 1.0, -0.2, 0.2)
    return beta * (1.0 + err * n_steps / horizon)


def token_rewards(score: jax.Array, kl: jax.Array, beta) -> jax.Array:
    """``r_t = -beta kl_t``, plus the score at the last token: ``[B, R]``."""
    return (-beta * kl).at[:, -1].add(score)


def gae_advantages(rewards, values, gamma, lam):
    """GAE over batch-major ``[B, R]`` response rewards; the episode ends at the last token."""
    r, v = rewards.T, values.T  # time-major [R, B]
    next_v = jnp.concatenate([v[1:], jnp.zeros_like(v[:1])], axis=0)
    terminated = jnp.zeros_like(r).at[-1].set(1.0)
    adv = advantages.gae(r, v, next_v, terminated, jnp.zeros_like(r), gamma, lam)
    return adv.T


def group_advantages(seq_return: jax.Array, group_size: int, eps: float = 1e-6) -> jax.Array:
    """``(R_i - mean_group R) / (std_group R + eps)``; groups are consecutive rows: ``[B]``."""
    g = seq_return.reshape(-1, group_size)
    adv = (g - g.mean(-1, keepdims=True)) / (g.std(-1, keepdims=True) + eps)
    return adv.reshape(-1)


def make_optimizer(max_grad_norm: float):
    def opt(lr):
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(lr, eps=1e-5))

    return optax.inject_hyperparams(opt)(lr=1e-5)


def init_state(cfg: PPOConfig, policy_params, value_params, beta: float) -> PPOState:
    params = {"policy": policy_params, "value": value_params}
    return PPOState(params, make_optimizer(cfg.max_grad_norm).init(params),
                    jnp.asarray(beta, jnp.float32), jnp.asarray(0, jnp.int32))


def k3_loss_term(logp: jax.Array, ref_logp: jax.Array) -> jax.Array:
    """``mean k3(a)`` differentiated through ``logp``; with ``a ~ pi`` its expected
    gradient is ``grad KL(ref || pi)`` (see the module docstring)."""
    return kl_penalty(logp, ref_logp, "k3").mean()


def ppo_loss(params, mb: Rollout, lm_cfg: lm.LMConfig, cfg: PPOConfig, hp: PPOHParams,
             ent_coef, beta):
    """Clipped surrogate + clipped value loss - entropy bonus (+ beta * k3 with the k3
    estimator); returns ``(loss, metrics)``."""
    p = cfg.prompt_len
    logits, _ = lm.apply(lm_cfg, params["policy"], mb.tokens)
    logp, logp_all = lm.response_log_probs(logits, mb.tokens, p)
    log_ratio = logp - mb.logp
    ratio = jnp.exp(log_ratio)
    adv = mb.advantages
    pg = jnp.maximum(-adv * ratio, -adv * jnp.clip(ratio, 1 - hp.clip_eps, 1 + hp.clip_eps)).mean()
    entropy = -jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1).mean()
    loss = pg - ent_coef * entropy
    metrics = {
        "pg_loss": pg,
        "entropy": entropy,
        "clip_frac": jnp.mean(jnp.abs(ratio - 1.0) > hp.clip_eps),
        "approx_kl": jnp.mean(jnp.expm1(log_ratio) - log_ratio),
        "ratio_max_dev": jnp.max(jnp.abs(ratio - 1.0)),
    }
    if cfg.kl_estimator == "k3":
        k3 = k3_loss_term(logp, mb.ref_logp)
        loss = loss + beta * k3
        metrics["k3_loss"] = k3
    if cfg.algo == "ppo":
        v = lm.apply(lm_cfg, params["value"], mb.tokens)[1][:, p - 1 : -1]
        v_clip = mb.values + jnp.clip(v - mb.values, -hp.vf_clip, hp.vf_clip)
        vf = 0.5 * jnp.maximum((v - mb.returns) ** 2, (v_clip - mb.returns) ** 2).mean()
        loss = loss + hp.vf_coef * vf
        metrics["value_loss"] = vf
    return loss, metrics


def _make_sampler(lm_cfg: lm.LMConfig, cfg: PPOConfig, lang: task.Language, rm_pool_from, group):
    """``sample(policy, ref, rm, key, temperature) -> (tokens, logp, ref_logp, score, stats)``."""
    p, b = cfg.prompt_len, cfg.batch_size

    def sample(policy_params, ref_params, rm: reward_model.RewardModel, key, temperature):
        k_prompt, k_gen = jax.random.split(key)
        prompts = task.sample(lang, k_prompt, b // group, p)
        prompts = jnp.repeat(prompts, group, axis=0)  # groups are consecutive rows
        tokens, _ = lm.generate(lm_cfg, policy_params, k_gen, prompts, cfg.response_len,
                                temperature)
        logits = lm.apply(lm_cfg, policy_params, tokens)[0]
        logp, logp_all = lm.response_log_probs(logits, tokens, p)
        ref_logits = lm.apply(lm_cfg, ref_params, tokens)[0]
        ref_logp, ref_all = lm.response_log_probs(ref_logits, tokens, p)
        raw = reward_model.raw_reward(lm_cfg, rm.params, tokens, rm_pool_from)
        score = (raw - rm.offset) / rm.scale
        resp = tokens[:, p:]
        kl_k1 = kl_penalty(logp, ref_logp, "k1")
        kl_exact = jnp.sum(jnp.exp(logp_all) * (logp_all - ref_all), axis=-1)
        stats = {
            "proxy": score.mean(),
            "gold": task.gold_reward(lang, tokens[:, :p], resp).mean(),
            "kl_seq": kl_k1.sum(-1).mean(),
            "kl_per_token": kl_k1.mean(),
            "kl_k3_seq": kl_penalty(logp, ref_logp, "k3").sum(-1).mean(),
            "kl_exact_seq": kl_exact.sum(-1).mean(),
            **task.gold_components(lang, tokens[:, :p], resp),
        }
        return tokens, logp, ref_logp, score, stats

    return sample


def make_evaluate(lm_cfg: lm.LMConfig, cfg: PPOConfig, lang: task.Language, rm_pool_from=None):
    """Jitted ``evaluate(policy, ref, rm, key) -> stats`` on one fresh batch at temperature 1."""
    sample = _make_sampler(lm_cfg, cfg, lang, rm_pool_from, 1)
    return jax.jit(lambda pol, ref, rm, key: sample(pol, ref, rm, key, 1.0)[-1])


def make_update(lm_cfg: lm.LMConfig, cfg: PPOConfig, lang: task.Language, rm_pool_from=None):
    """Returns ``update(state, ref_params, rm, key, hp) -> (state, metrics)`` (pure, jittable)."""
    p, b = cfg.prompt_len, cfg.batch_size
    n_mb = cfg.n_minibatches
    opt = make_optimizer(cfg.max_grad_norm)
    group = cfg.group_size if cfg.algo == "grpo" else 1
    sample = _make_sampler(lm_cfg, cfg, lang, rm_pool_from, group)

    def ent_sched(hp, i):
        return optax.linear_schedule(hp.ent_coef_start, hp.ent_coef_end,
                                     max(cfg.n_updates - 1, 1))(i)

    def rollout(state: PPOState, ref_params, rm, key, hp: PPOHParams):
        tokens, logp, ref_logp, score, stats = sample(
            state.params["policy"], ref_params, rm, key, hp.temperature)
        kl = kl_penalty(logp, ref_logp, cfg.kl_estimator)
        # k1 is a reward; k3 is a loss term (module docstring), so it leaves the reward.
        kl_reward = kl if cfg.kl_estimator == "k1" else jnp.zeros_like(kl)
        if cfg.algo == "ppo":
            values = lm.apply(lm_cfg, state.params["value"], tokens)[1][:, p - 1 : -1]
            rewards = token_rewards(score, kl_reward, state.beta)
            adv = gae_advantages(rewards, values, hp.gamma, hp.lam)
            returns = adv + values
            stats["explained_variance"] = advantages.explained_variance(values, returns)
        else:
            values = jnp.zeros_like(logp)
            seq_ret = score - state.beta * kl_reward.sum(-1)
            adv = jnp.broadcast_to(group_advantages(seq_ret, group)[:, None], logp.shape)
            returns = jnp.broadcast_to(seq_ret[:, None], logp.shape)
        # The estimator in use drives the controller.
        stats["kl_penalty_seq"] = kl.sum(-1).mean()
        adv = advantages.normalize(adv)
        return Rollout(tokens, logp, values, adv, returns, ref_logp), stats

    def update(state: PPOState, ref_params, rm, key, hp: PPOHParams):
        k_roll, k_perm = jax.random.split(key)
        data, stats = rollout(state, ref_params, rm, k_roll, hp)
        ent_coef = ent_sched(hp, state.update)
        lr = jnp.asarray(hp.lr, jnp.float32)
        opt_state = state.opt_state._replace(hyperparams={**state.opt_state.hyperparams, "lr": lr})

        def mb_step(carry, idx):
            params, opt_state = carry
            mb = jax.tree.map(lambda x: x[idx], data)
            grads, m = jax.grad(ppo_loss, has_aux=True)(params, mb, lm_cfg, cfg, hp, ent_coef,
                                                        state.beta)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), m

        def epoch(carry, k):
            perm = jax.random.permutation(k, b).reshape(n_mb, b // n_mb)
            return jax.lax.scan(mb_step, carry, perm)

        (params, opt_state), m = jax.lax.scan(
            epoch, (state.params, opt_state), jax.random.split(k_perm, cfg.n_epochs))
        metrics = {k: v.mean() for k, v in m.items() if k != "ratio_max_dev"}
        # On the first minibatch the policy equals the sampler's, so ratio == 1 exactly.
        metrics["first_mb_ratio_max_dev"] = m["ratio_max_dev"][0, 0]
        metrics["first_mb_clip_frac"] = m["clip_frac"][0, 0]
        beta = state.beta
        if cfg.adaptive_kl:
            beta = adaptive_kl_update(beta, stats["kl_penalty_seq"], hp.kl_target, b,
                                      cfg.kl_horizon)
        metrics.update(stats, beta=state.beta, ent_coef=ent_coef)
        new_state = PPOState(params, opt_state, beta, state.update + 1)
        return new_state, metrics

    return update


def make_chunk(lm_cfg, cfg: PPOConfig, lang, n_updates: int, rm_pool_from=None):
    """Jitted ``chunk(state, ref_params, rm, key, hp) -> (state, metrics [K])`` of ``K`` updates."""
    update = make_update(lm_cfg, cfg, lang, rm_pool_from)

    @jax.jit
    def chunk(state, ref_params, rm, key, hp):
        def body(state, k):
            return update(state, ref_params, rm, k, hp)

        return jax.lax.scan(body, state, jax.random.split(key, n_updates))

    return chunk


def best_of_n(lm_cfg, sft_params, rm, lang, key, n_prompts: int, n_max: int,
              prompt_len: int, response_len: int, rm_pool_from=None) -> dict:
    """Best-of-n sampling from the SFT policy, picked by the proxy, for n = 1, 2, 4, ..., n_max.

    One draw of ``n_max`` responses per prompt; best-of-n uses its first ``n``. The KL
    of the best-of-n policy to the SFT policy is ``log n - (n - 1) / n`` (Stiennon et
    al. 2020, appendix; exact for distinct samples). Returns arrays over the ns.
    """
    k_prompt, k_gen = jax.random.split(key)
    prompts = jnp.repeat(task.sample(lang, k_prompt, n_prompts, prompt_len), n_max, axis=0)
    tokens, _ = lm.generate(lm_cfg, sft_params, k_gen, prompts, response_len)
    raw = reward_model.raw_reward(lm_cfg, rm.params, tokens, rm_pool_from)
    proxy = ((raw - rm.offset) / rm.scale).reshape(n_prompts, n_max)
    gold = task.gold_reward(lang, prompts, tokens[:, prompt_len:]).reshape(n_prompts, n_max)
    ns = [2**i for i in range(n_max.bit_length()) if 2**i <= n_max]
    out = {"n": [], "proxy": [], "gold": [], "kl": []}
    for n in ns:
        best = jnp.argmax(proxy[:, :n], axis=-1)[:, None]
        out["n"].append(n)
        out["proxy"].append(jnp.take_along_axis(proxy, best, axis=-1).mean())
        out["gold"].append(jnp.take_along_axis(gold, best, axis=-1).mean())
        out["kl"].append(jnp.log(n) - (n - 1) / n)
    return {k: jnp.asarray(v) for k, v in out.items()}
