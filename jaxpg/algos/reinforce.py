"""REINFORCE (Williams 1992): Monte Carlo policy gradient with optional baselines.

Collection scheme (unbiased, no bootstrapping). Every update resets all
``num_envs`` envs and steps them until *each* has finished its first episode or
``H = num_steps`` steps have passed (a ``lax.while_loop`` that stops early when
all are done). Steps after an env's first episode end are masked out. So each
env contributes exactly one complete episode, and the estimate

    g = (1/B) sum_b sum_{t < T_b} grad log pi(a_t|s_t) (G_t - b(s_t, t)),
    G_t = sum_{k=t}^{T_b - 1} gamma^(k-t) r_k      (returns-to-go)

is unbiased for the gradient of the expected return of an episode capped at
``H`` steps (gamma = 1; with gamma < 1 it is the usual discounted reward-to-go
estimator, Sutton & Barto sec. 13.3 without the gamma^t factor). Set
``num_steps`` to the env's time limit (presets do: 500 for CartPole-v1) so the
cap is the env's own. ``env_steps`` counts only the unmasked steps.
``total_timesteps // (num_envs * num_steps)`` fixes the number of updates.

Baselines (``config.baseline``), none of which bias the estimate:

* ``none``: ``b = 0``.
* ``value``: a learned critic ``V(s_t)``, fitted to ``G_t`` by Adam after the
  policy step (``update_epochs`` x ``num_minibatches``, ``critic_lr``).
* ``linear``: ``b = phi(s_t, t)^T w`` with ``phi = [s, s^2, t', t'^2, t'^3, 1]``,
  ``t' = t / H``, ``s`` clipped to [-10, 10] (Duan et al. 2016, rllab's
  LinearFeatureBaseline); ``w`` is the ridge least-squares fit of ``G_t`` on the
  *previous* batch (kept in ``algo_state``, a :class:`LinearBaseline`), so it is
  independent of the actions it baselines -- fitting on the same batch would bias
  the estimate slightly.

A recurrent policy (``--recurrent gru|lstm``) acts with its carry from zeros at each
env's reset (every segment here starts an episode, so the stored start state is the
zero state); the update replays each env's episode from it (``[H, B]``, truncated
back-propagation over ``H``), as do the value baseline and its fit (minibatches of
whole episodes). The linear baseline's features come from the observations alone.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxpg import advantages as adv_lib
from jaxpg import optim
from jaxpg.algos.critic import ValueFit, fit_value, fit_value_sequences, global_norm
from jaxpg.algos.state import Context, TrainState, init_state
from jaxpg.algos.update import PGMetrics, begin_update, common_diagnostics, finish_update
from jaxpg.batch import step_advantages
from jaxpg.config import HParams
from jaxpg.linalg import solve_spd
from jaxpg.metrics import EpisodeSums
from jaxpg.networks import ActorCritic
from jaxpg.normalization import RunningStats
from jaxpg.rollout import finite_flags, first_episodes


@struct.dataclass
class Episodes:
    """One episode per env, time-major ``[H, B, ...]``; ``valid`` masks what follows its end."""

    obs: jax.Array  # policy input (normalized where normalization is on)
    raw_obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    valid: jax.Array  # float32, 1 up to and including the step that ends the episode
    time: jax.Array  # [H, B] step index within the episode

    @property
    def lengths(self) -> jax.Array:
        return self.valid.sum(0)

    @property
    def first(self) -> jax.Array:
        """``[H, B]``: True at step 0, where every env's episode (and policy carry) starts."""
        return self.time == 0


@struct.dataclass
class LinearBaseline:
    """REINFORCE's state beyond networks and optimizers: the linear baseline's weights
    ``w`` (fitted on the previous batch; unused by the other baselines)."""

    w: jax.Array  # [2 * obs_size + 4]


def num_features(obs_size: int) -> int:
    return 2 * obs_size + 4


def linear_features(raw_obs: jax.Array, time: jax.Array, horizon: int) -> jax.Array:
    """``phi(s, t) = [s, s^2, t', t'^2, t'^3, 1]`` with ``t' = t / horizon``; ``[..., 2 d + 4]``."""
    o = jnp.clip(raw_obs, -10.0, 10.0)
    t = (time.astype(jnp.float32) / horizon)[..., None]
    return jnp.concatenate([o, o**2, t, t**2, t**3, jnp.ones_like(t)], axis=-1)


def ridge_fit(x: jax.Array, y: jax.Array, mask: jax.Array, reg: float | jax.Array) -> jax.Array:
    """Masked ridge regression ``w = (X^T M X + reg * s I)^-1 X^T M y`` (by CG: no LAPACK).

    ``x [N, F]``, ``y [N]``, ``mask [N]``; ``s`` is the mean diagonal of ``X^T M X``
    (so ``reg`` is scale free) plus a tiny floor. Non-finite solutions become 0.
    """
    xm = x * mask[:, None]
    gram = xm.T @ x
    scale = jnp.trace(gram) / gram.shape[0] + 1e-8
    w = solve_spd(gram + (reg * scale + 1e-8) * jnp.eye(gram.shape[0]), xm.T @ y)
    return jnp.where(jnp.all(jnp.isfinite(w)), w, jnp.zeros_like(w))


def collect_episodes(ctx: Context, params, obs_stats: RunningStats, key: jax.Array) -> Episodes:
    """Reset every env, step until each has ended its first episode (or ``H`` steps);
    a recurrent policy carries its actor's state from zeros."""
    cfg = ctx.config
    normalize = obs_stats.normalize if cfg.normalize_obs else (lambda o: o)

    def act(k, raw):
        seen = normalize(raw)
        dist = ctx.nets.policy(params, seen)
        action = dist.sample(k)
        return action, (seen, raw, action, dist.log_prob(action))

    def act_recurrent(k, raw, carry, first):
        seen = normalize(raw)
        carry, dist = ctx.nets.policy_step(params.actor, carry, seen, first)
        action = dist.sample(k)
        return action, (seen, raw, action, dist.log_prob(action)), carry

    carry = initial_carry(ctx, cfg.num_envs)
    _, _, steps = first_episodes(ctx.env, act_recurrent if ctx.nets.recurrent else act, key,
                                 cfg.num_envs, cfg.num_steps, record=True,
                                 carry=None if carry is None else carry.actor)  # fmt: skip
    seen, raw, action, log_prob = steps.aux
    time = jnp.broadcast_to(jnp.arange(cfg.num_steps)[:, None], steps.valid.shape)
    return Episodes(seen, raw, action, log_prob, steps.reward, steps.valid, time)


def initial_carry(ctx: Context, num_envs: int):
    """Zero recurrent state of actor and critic for ``num_envs`` episodes (None if feed-forward)."""
    return ctx.nets.initial_carry((num_envs,)) if ctx.nets.recurrent else None


def episode_policy(ctx: Context, actor, ep: Episodes):
    """``pi(.|s_t)`` on every step ``[H, B]``: a recurrent policy replayed over each
    episode from the zero state, as it acted."""
    if not ctx.nets.recurrent:
        return ctx.nets.policy_actor(actor, ep.obs)
    carry = initial_carry(ctx, ep.valid.shape[1]).actor
    return ctx.nets.policy_seq(actor, carry, ep.obs, ep.first)[1]


def episode_values(ctx: Context, critic, ep: Episodes) -> jax.Array:
    """``V(s_t)`` on every step ``[H, B]`` (replayed, as :func:`episode_policy`)."""
    if not ctx.nets.recurrent:
        return ctx.nets.value_critic(critic, ep.obs)
    carry = initial_carry(ctx, ep.valid.shape[1]).critic
    return ctx.nets.value_seq(critic, carry, ep.obs, ep.first)[1]


def returns_to_go(ep: Episodes, hparams: HParams) -> jax.Array:
    """``G_t = sum_{k >= t} gamma^(k-t) c r_k valid_k`` with ``c = reward_scale``;
    ``[H, B]`` (0 where masked). The one place rewards are scaled, so training, the
    baselines and :func:`policy_gradient` all estimate the same thing."""
    rewards = ep.reward * hparams.reward_scale * ep.valid
    return adv_lib.reward_to_go(rewards, jnp.zeros_like(rewards), hparams.gamma) * ep.valid


def baseline_values(ctx: Context, params, algo_state, ep: Episodes) -> jax.Array:
    """``b(s_t, t)`` of the configured baseline, ``[H, B]``."""
    kind = ctx.config.baseline
    if kind == "value":
        return episode_values(ctx, params.critic, ep)
    if kind == "linear":
        feats = linear_features(ep.raw_obs, ep.time, ctx.config.num_steps)
        return feats @ algo_state.w
    return jnp.zeros_like(ep.reward)


def advantages(ctx: Context, ep: Episodes, returns: jax.Array, baseline: jax.Array) -> jax.Array:
    """``(G_t - b_t)`` on the valid steps (0 elsewhere), whitened over them when configured."""
    adv = (returns - baseline) * ep.valid
    return step_advantages(adv, ctx.config.normalize_advantages, ep.valid)


def surrogate(ctx: Context, actor, ep: Episodes, adv: jax.Array, ent_coef=0.0):
    """``(1/B) sum_{t,b} valid * log pi(a|s) * A + ent_coef * masked-mean entropy`` (maximise).

    Its gradient is the REINFORCE estimate ``g`` (sum over each episode's steps,
    mean over episodes). Returns ``(objective, entropy)``.
    """
    dist = episode_policy(ctx, actor, ep)
    n_valid = jnp.maximum(ep.valid.sum(), 1.0)
    entropy = jnp.sum(dist.entropy() * ep.valid) / n_valid
    pg = jnp.sum(dist.log_prob(ep.action) * jax.lax.stop_gradient(adv) * ep.valid)
    return pg / ep.valid.shape[1] + ent_coef * entropy, entropy


def init(ctx: Context, key: jax.Array, hparams: HParams) -> TrainState:
    """Initial state; ``opt_state`` is an :class:`ActorCritic` of two Adam states (the
    actor steps once per update, the critic several times, so each runs on its own)."""
    w = jnp.zeros((num_features(ctx.env.obs_size),), jnp.float32)
    opts = optim.actor_critic(hparams)
    return init_state(ctx, key, lambda p: optim.init(opts, p), algo_state=LinearBaseline(w))


def policy_gradient(ctx: Context, state: TrainState, hparams: HParams, key: jax.Array):
    """The REINFORCE estimate on one fresh batch (actor pytree), no entropy term.

    For the linear baseline, ``w`` is first fitted on an independent batch (as in
    training, where it comes from the previous batch); used by
    :func:`jaxpg.diagnostics.gradient_variance`.
    """
    k_fit, k_batch = jax.random.split(key)
    algo_state = state.algo_state
    if ctx.config.baseline == "linear":
        fit = collect_episodes(ctx, state.params, state.obs_stats, k_fit)
        algo_state = LinearBaseline(_fit_linear(ctx, fit, hparams))
    ep = collect_episodes(ctx, state.params, state.obs_stats, k_batch)
    adv = advantages(ctx, ep, returns_to_go(ep, hparams),
                     baseline_values(ctx, state.params, algo_state, ep))  # fmt: skip
    return jax.grad(lambda a: surrogate(ctx, a, ep, adv)[0])(state.params.actor)


def _fit_linear(ctx: Context, ep: Episodes, hparams: HParams) -> jax.Array:
    feats = linear_features(ep.raw_obs, ep.time, ctx.config.num_steps)
    feats = feats.reshape(-1, feats.shape[-1])
    target = returns_to_go(ep, hparams).reshape(-1)
    return ridge_fit(feats, target, ep.valid.reshape(-1), hparams.linear_baseline_reg)


def update(ctx: Context, state: TrainState, hparams: HParams):
    """One REINFORCE iteration: B complete episodes, one policy step, baseline refit."""
    cfg = ctx.config
    start = begin_update(ctx, state, hparams, num_keys=1)
    params_old, opt, ent_coef = start.params_old, start.opt, start.ent_coef
    ep = collect_episodes(ctx, params_old, state.obs_stats, start.collect_key)
    returns = returns_to_go(ep, hparams)
    baseline = baseline_values(ctx, params_old, state.algo_state, ep)
    adv = advantages(ctx, ep, returns, baseline)

    (obj, _), g = jax.value_and_grad(
        lambda a: surrogate(ctx, a, ep, adv, ent_coef), has_aux=True
    )(params_old.actor)
    actor, st_actor = optim.step(opt.actor, state.opt_state.actor, params_old.actor, jax.tree.map(jnp.negative, g))

    flat = lambda tree: jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)  # pytree obs
    valid = flat(ep.valid)
    critic, st_critic, algo_state = params_old.critic, state.opt_state.critic, state.algo_state
    fit = ValueFit(None, jnp.zeros(()))
    if cfg.baseline == "value" and ctx.nets.recurrent:
        critic, st_critic, fit = fit_value_sequences(ctx, critic, opt.critic, st_critic, ep.obs, ep.first,
                                                     initial_carry(ctx, cfg.num_envs).critic, returns,
                                                     start.keys[0], ep.valid)  # fmt: skip
    elif cfg.baseline == "value":
        critic, st_critic, fit = fit_value(
            ctx, critic, opt.critic, st_critic, flat(ep.obs), flat(returns), start.keys[0], valid
        )
    elif cfg.baseline == "linear":
        algo_state = LinearBaseline(_fit_linear(ctx, ep, hparams))
    params = ActorCritic(actor, critic)
    own = PGMetrics(policy_loss=-obj, value_loss=fit.value_loss, actor_grad_norm=global_norm(g),
                    critic_grad_norm=fit.critic_grad_norm, ent_coef=ent_coef, lr=hparams.lr * start.lr_factor)  # fmt: skip

    # Diagnostics over the valid steps; one episode per env.
    old = new = None  # a recurrent policy's, replayed over the episodes
    if ctx.nets.recurrent:
        old, new = (flat(episode_policy(ctx, a, ep)) for a in (params_old.actor, actor))
    diagnostics = common_diagnostics(ctx, params_old, params, flat(ep.obs), flat(baseline),
                                     flat(returns), valid, old=old, new=new)  # fmt: skip
    episodes = EpisodeSums(
        episode_return_sum=jnp.sum(ep.reward * ep.valid),
        episode_length_sum=jnp.sum(ep.lengths),
        episode_count=jnp.asarray(cfg.num_envs, jnp.float32),
    )
    obs_stats = state.obs_stats.update(ep.raw_obs, ep.valid) if cfg.normalize_obs else state.obs_stats
    steps = start.state.env_steps + ep.lengths.sum().astype(jnp.int32)
    start = start._replace(state=start.state.replace(obs_stats=obs_stats, env_steps=steps))
    shared = (diagnostics, episodes, finite_flags(ep.raw_obs, ep.reward))
    return finish_update(ctx, start, params, ActorCritic(st_actor, st_critic), own, algo_state, shared)
