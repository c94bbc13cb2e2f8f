"""RL fine-tuning of the LM against a reward model: ppo, grpo, dr-grpo, rloo, reinforce++.

One update: sample prompts from the language, ``group`` responses per prompt from
the policy (KV cache, each stopping at its EOS), score them with the reward model,
compute the algorithm's advantages (:mod:`jaxpg.rlhf.objectives`), then run
``update_epochs`` x ``num_minibatches`` steps of the masked clipped surrogate (+ the
critic's clipped value loss for ppo, - an entropy bonus, + beta * k3 when k3 is the
estimator). Everything is one compiled function; :func:`make_chunk` scans ``K`` of
them between log lines. The whole update reads :class:`RLHFConfig` (static).

Per-token reward (Ziegler et al. 2019; Stiennon et al. 2020): ``r_t = -beta kl_t +
[t = last own token] score``, ``V(s_t)`` the critic's scalar at position ``P - 1 + t``.
A response that ends without EOS loses ``missing_eos_penalty`` from its score.

Adaptive KL controller (Ziegler et al. 2019, sec. 2.2):
``e = clip(KL / target - 1, -0.2, 0.2)``, ``beta <- beta * (1 + e * n / horizon)``
with ``KL`` the batch-mean sequence KL and ``n`` the number of sequences.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxpg.rlhf import lm, objectives, reward_model, task
from jaxpg.rlhf.config import RLHFConfig
from jaxpg.rlhf.objectives import kl_penalty, masked_mean


@struct.dataclass
class RLParams:
    policy: dict  # LM parameters of the policy
    value: dict  # LM parameters whose scalar head is the critic V (ppo only)


@struct.dataclass
class RLState:
    params: RLParams
    opt_state: optax.OptState
    beta: jax.Array
    update: jax.Array  # number of updates done


class Rollout(NamedTuple):
    tokens: jax.Array  # [B, P + R]
    mask: jax.Array  # [B, R] 1 on the response's own tokens
    logp: jax.Array  # [B, R] log pi_old(a_t | s_t)
    values: jax.Array  # [B, R] V_old(s_t)
    advantages: jax.Array  # [B, R]
    returns: jax.Array  # [B, R] value targets
    ref_logp: jax.Array  # [B, R] log ref(a_t | s_t), for the k3 loss term


def make_optimizer(cfg: RLHFConfig):
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.rl_lr, eps=1e-5))


def init_state(cfg: RLHFConfig, policy_params, value_params, beta=None) -> RLState:
    params = RLParams(policy_params, value_params)
    beta = cfg.beta if beta is None else beta
    return RLState(params, make_optimizer(cfg).init(params), jnp.asarray(beta, jnp.float32),
                   jnp.asarray(0, jnp.int32))


def surrogate_loss(params: RLParams, mb: Rollout, cfg: RLHFConfig, lm_cfg: lm.LMConfig,
                   ent_coef, beta):
    """Masked clipped surrogate - entropy (+ value loss for ppo, + beta k3 with k3)."""
    p, how = cfg.prompt_len, objectives.AVERAGING[cfg.algo]
    logits, _ = lm.apply(lm_cfg, params.policy, mb.tokens)
    logp, logp_all = lm.response_log_probs(logits, mb.tokens, p)
    log_ratio = logp - mb.logp
    ratio = jnp.exp(log_ratio)
    pg = objectives.aggregate(objectives.clipped_surrogate(ratio, mb.advantages, cfg.clip_eps),
                              mb.mask, how)
    entropy = masked_mean(-jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1), mb.mask)
    loss = pg - ent_coef * entropy
    moved = jnp.abs(ratio - 1.0) * mb.mask
    metrics = {
        "pg_loss": pg,
        "entropy": entropy,
        "clip_fraction": masked_mean(moved > cfg.clip_eps, mb.mask),
        "approx_kl": masked_mean(jnp.expm1(log_ratio) - log_ratio, mb.mask),
        "ratio_max_dev": jnp.max(moved),
    }
    if cfg.kl_estimator == "k3":
        k3 = objectives.aggregate(kl_penalty(logp, mb.ref_logp, "k3"), mb.mask, how)
        loss = loss + beta * k3
        metrics["k3_loss"] = k3
    if cfg.algo == "ppo":
        v = lm.apply(lm_cfg, params.value, mb.tokens)[1][:, p - 1 : -1]
        v_clip = mb.values + jnp.clip(v - mb.values, -cfg.vf_clip, cfg.vf_clip)
        vf = 0.5 * masked_mean(jnp.maximum((v - mb.returns) ** 2, (v_clip - mb.returns) ** 2),
                               mb.mask)
        loss = loss + cfg.vf_coef * vf
        metrics["value_loss"] = vf
    return loss, metrics


class Samples(NamedTuple):
    tokens: jax.Array  # [B, P + R]
    mask: jax.Array  # [B, R]
    logp: jax.Array  # [B, R]
    ref_logp: jax.Array  # [B, R]
    score: jax.Array  # [B] standardized proxy (minus the missing-EOS penalty)


def make_sampler(cfg: RLHFConfig, lm_cfg: lm.LMConfig, lang: task.Language, batch: int,
                 group: int):
    """``sample(policy, ref, rm, key, temperature) -> (Samples, stats)``: ``batch // group``
    prompts, ``group`` responses each (consecutive rows)."""
    p = cfg.prompt_len

    def sample(policy_params, ref_params, rm: reward_model.RewardModel, key, temperature):
        k_prompt, k_gen = jax.random.split(key)
        prompts = jnp.repeat(task.sample_prompts(lang, k_prompt, batch // group, p), group, axis=0)
        tokens, _ = lm.generate(lm_cfg, policy_params, k_gen, prompts, cfg.response_len,
                                temperature, eos=lang.eos)
        resp = tokens[:, p:]
        mask = task.response_mask(resp, lang.eos)
        logp, logp_all = lm.response_log_probs(lm.apply(lm_cfg, policy_params, tokens)[0], tokens, p)
        ref_logp, ref_all = lm.response_log_probs(lm.apply(lm_cfg, ref_params, tokens)[0], tokens, p)
        proxy = reward_model.proxy_reward(rm, tokens)
        missing = 1.0 - task.ended(resp, lang.eos).astype(jnp.float32)
        score = proxy - cfg.missing_eos_penalty * missing
        kl_k1 = kl_penalty(logp, ref_logp, "k1") * mask
        kl_exact = jnp.sum(jnp.exp(logp_all) * (logp_all - ref_all), axis=-1) * mask
        stats = {
            "proxy": proxy.mean(),
            "gold": task.gold_reward(lang, prompts, resp).mean(),
            "kl_seq": kl_k1.sum(-1).mean(),
            "kl_per_token": kl_k1.sum() / jnp.maximum(mask.sum(), 1.0),
            "kl_k3_seq": (kl_penalty(logp, ref_logp, "k3") * mask).sum(-1).mean(),
            "kl_exact_seq": kl_exact.sum(-1).mean(),
            "distinct_2": distinct_bigrams(resp, mask, lm_cfg.vocab_size),
            **task.gold_components(lang, prompts, resp),
        }
        return Samples(tokens, mask, logp, ref_logp, score), stats

    return sample


def distinct_bigrams(resp: jax.Array, mask: jax.Array, vocab: int) -> jax.Array:
    """Distinct-2 (Li et al. 2016): distinct bigrams among the responses' own tokens over
    all their bigrams, from a ``V x V`` histogram (jittable, no ``unique``)."""
    ids = resp[:, :-1] * vocab + resp[:, 1:]
    both = mask[:, :-1] * mask[:, 1:]
    counts = jnp.zeros(vocab * vocab).at[ids.reshape(-1)].add(both.reshape(-1))
    return jnp.sum(counts > 0) / jnp.maximum(both.sum(), 1.0)


def ratio_deviation(params: RLParams, data: Rollout, cfg: RLHFConfig, lm_cfg: lm.LMConfig) -> dict:
    """How far one whole update moved the policy on its own batch: quantiles of
    ``|pi_new(a|s) / pi_old(a|s) - 1|`` over the sampled tokens, and the fraction beyond
    ``clip_eps`` (the clipped objective stops pushing there, but does not forbid it)."""
    logits, _ = lm.apply(lm_cfg, params.policy, data.tokens)
    logp, _ = lm.response_log_probs(logits, data.tokens, cfg.prompt_len)
    dev = jnp.where(data.mask > 0, jnp.abs(jnp.exp(logp - data.logp) - 1.0), jnp.nan)
    q = jnp.nanquantile(dev, jnp.array([0.5, 0.9, 0.99]))
    return {"update_ratio_dev_p50": q[0], "update_ratio_dev_p90": q[1],
            "update_ratio_dev_p99": q[2], "update_ratio_dev_mean": jnp.nanmean(dev),
            "update_ratio_beyond_eps": masked_mean(jnp.nan_to_num(dev) > cfg.clip_eps, data.mask)}


def make_evaluate(cfg: RLHFConfig, lm_cfg: lm.LMConfig, lang: task.Language, batch: int):
    """Jitted ``evaluate(policy, ref, rm, key) -> stats`` on one fresh batch at temperature 1."""
    sample = make_sampler(cfg, lm_cfg, lang, batch, 1)
    return jax.jit(lambda pol, ref, rm, key: sample(pol, ref, rm, key, 1.0)[1])


def entropy_coef(cfg: RLHFConfig, update):
    """Linear schedule from ``ent_coef_start`` to ``ent_coef_end`` over ``rl_updates``."""
    return optax.linear_schedule(cfg.ent_coef_start, cfg.ent_coef_end,
                                 max(cfg.rl_updates - 1, 1))(update)


def make_rollout(cfg: RLHFConfig, lm_cfg: lm.LMConfig, lang: task.Language):
    """``rollout(state, ref, rm, key) -> (Rollout, stats)``: sample, score, advantages."""
    sample = make_sampler(cfg, lm_cfg, lang, cfg.rl_batch_size, cfg.group)
    p = cfg.prompt_len

    def rollout(state: RLState, ref_params, rm, key):
        s, stats = sample(state.params.policy, ref_params, rm, key, cfg.temperature)
        kl = kl_penalty(s.logp, s.ref_logp, cfg.kl_estimator) * s.mask
        # k1 is a reward; k3 is a loss term (objectives' docstring), so it leaves the reward.
        kl_reward = kl if cfg.kl_estimator == "k1" else jnp.zeros_like(kl)
        if cfg.algo == "ppo":
            values = lm.apply(lm_cfg, state.params.value, s.tokens)[1][:, p - 1 : -1] * s.mask
            adv, returns = objectives.ppo_advantages(s.score, kl_reward, s.mask, values,
                                                     state.beta, cfg.gamma, cfg.gae_lambda)
            stats["explained_variance"] = _explained_variance(values, returns, s.mask)
        else:
            values = returns = jnp.zeros_like(s.logp)
            adv = objectives.advantages_for(cfg.algo, s.score, kl_reward, s.mask, values,
                                            state.beta, cfg.gamma, cfg.gae_lambda, cfg.group)
        stats["kl_penalty_seq"] = kl.sum(-1).mean()  # the estimator in use drives the controller
        return Rollout(s.tokens, s.mask, s.logp, values, adv, returns, s.ref_logp), stats

    return rollout


def _explained_variance(pred, target, mask):
    mean = masked_mean(target, mask)
    var_t = masked_mean((target - mean) ** 2, mask)
    err = target - pred
    var_e = masked_mean((err - masked_mean(err, mask)) ** 2, mask)
    return 1.0 - var_e / (var_t + 1e-8)


def make_update(cfg: RLHFConfig, lm_cfg: lm.LMConfig, lang: task.Language):
    """Returns ``update(state, ref_params, rm, key) -> (state, metrics)`` (pure, jittable)."""
    opt = make_optimizer(cfg)
    rollout = make_rollout(cfg, lm_cfg, lang)
    b = cfg.rl_batch_size

    def update(state: RLState, ref_params, rm, key):
        k_roll, k_perm = jax.random.split(key)
        data, stats = rollout(state, ref_params, rm, k_roll)
        ent_coef = entropy_coef(cfg, state.update)

        def mb_step(carry, idx):
            params, opt_state = carry
            mb = jax.tree.map(lambda x: x[idx], data)
            grads, m = jax.grad(surrogate_loss, has_aux=True)(params, mb, cfg, lm_cfg, ent_coef,
                                                              state.beta)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), m

        def epoch(carry, k):
            return jax.lax.scan(mb_step, carry,
                                reward_model.shuffle_and_split(k, b, cfg.num_minibatches))

        (params, opt_state), m = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(k_perm, cfg.update_epochs))
        metrics = {k: v.mean() for k, v in m.items() if k != "ratio_max_dev"}
        metrics.update(ratio_deviation(params, data, cfg, lm_cfg))
        # On the first minibatch the policy equals the sampler's, so ratio == 1 exactly.
        metrics["first_mb_ratio_max_dev"] = m["ratio_max_dev"][0, 0]
        metrics["first_mb_clip_fraction"] = m["clip_fraction"][0, 0]
        metrics["last_mb_ratio_max_dev"] = m["ratio_max_dev"][-1, -1]
        beta = state.beta
        if cfg.kl_control == "adaptive":
            beta = objectives.adaptive_kl_update(beta, stats["kl_penalty_seq"], cfg.kl_target, b,
                                                 cfg.kl_horizon)
        metrics.update(stats, beta=state.beta, ent_coef=ent_coef)
        return RLState(params, opt_state, beta, state.update + 1), metrics

    return update


def make_chunk(cfg: RLHFConfig, lm_cfg: lm.LMConfig, lang: task.Language, n_updates: int):
    """Jitted ``chunk(state, ref_params, rm, key) -> (state, metrics [K])`` of ``K`` updates."""
    update = make_update(cfg, lm_cfg, lang)

    @jax.jit
    def chunk(state, ref_params, rm, key):
        def body(state, k):
            return update(state, ref_params, rm, k)

        return jax.lax.scan(body, state, jax.random.split(key, n_updates))

    return chunk


def best_of_n(lm_cfg, sft_params, rm, lang, key, n_prompts: int, n_max: int,
              prompt_len: int, response_len: int) -> dict:
    """Best-of-n sampling from the SFT policy, picked by the proxy, for n = 1, 2, 4, ..., n_max.

    One draw of ``n_max`` responses per prompt; best-of-n uses its first ``n``. The KL
    of the best-of-n policy to the SFT policy is ``log n - (n - 1) / n`` (Stiennon et
    al. 2020, appendix; exact for distinct samples). Returns arrays over the ns.
    """
    k_prompt, k_gen = jax.random.split(key)
    prompts = jnp.repeat(task.sample_prompts(lang, k_prompt, n_prompts, prompt_len), n_max, axis=0)
    tokens, _ = lm.generate(lm_cfg, sft_params, k_gen, prompts, response_len, eos=lang.eos)
    resp = tokens[:, prompt_len:]
    proxy = reward_model.proxy_reward(rm, tokens).reshape(n_prompts, n_max)
    gold = task.gold_reward(lang, prompts, resp).reshape(n_prompts, n_max)
    length = task.response_length(resp, lang.eos).reshape(n_prompts, n_max)
    ns = [2**i for i in range(n_max.bit_length()) if 2**i <= n_max]
    out = {"n": [], "proxy": [], "gold": [], "kl": [], "response_length": []}
    for n in ns:
        best = jnp.argmax(proxy[:, :n], axis=-1)[:, None]
        out["n"].append(n)
        for name, x in (("proxy", proxy), ("gold", gold), ("response_length", length)):
            out[name].append(jnp.take_along_axis(x, best, axis=-1).mean())
        out["kl"].append(jnp.log(n) - (n - 1) / n)
    return {k: jnp.asarray(v) for k, v in out.items()}
