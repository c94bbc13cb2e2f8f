"""Every claim's verdict function returns each of agrees / partly / disagrees on
synthetic results made to produce it (a rule that cannot disagree is not a verdict)."""

import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import claims  # noqa: E402

A, P, D = claims.AGREES, claims.PARTLY, claims.DISAGREES


def three(fn, agrees, partly, disagrees):
    """``fn(*case)`` for each case gives the verdict named by its argument."""
    assert fn(*agrees) == A
    assert fn(*partly) == P
    assert fn(*disagrees) == D


def test_building_blocks():
    three(claims.range_verdict, (4.0, 3.5, 4.5, (3, 5)), (2.9, 2.0, 3.4, (3, 5)), (2.5, 2.0, 2.9, (3, 5)))
    assert claims.range_verdict(6.0, 5.5, 6.5, (3, 5)) == D  # above is a miss too
    assert claims.range_verdict(float("nan"), 0, 1, (0, 1)) == D
    # paired: the default loses on every seed by 130 +- 5 although the two intervals overlap
    best = np.array([387.0, 444.0, 500.0])
    default = best - np.array([125.0, 130.0, 135.0])
    assert not claims.not_worse(default, best)
    assert claims.not_worse(best, best)
    assert claims.not_worse(best - np.array([-50.0, 60.0, 20.0]), best)  # noisy, not resolvably worse
    assert claims.resolvably_better(best, default) and not claims.resolvably_better(default, best)
    with pytest.raises(ValueError):
        claims.paired_difference([1.0, 2.0], [1.0])
    three(claims.count_verdict, (5, 5, 3), (3, 5, 3), (2, 5, 3))
    with pytest.raises(ValueError):
        claims.check("pending")


def test_claim1_baseline():
    import claim1_baseline as c

    ok = {"reduction": (0.7, 0.6, 0.8), "bias_z": (1.0, 0.5, 1.5)}
    other = {"reduction": (0.3, 0.2, 0.4), "bias_z": (1.0, 0.5, 1.5)}
    none = {"reduction": (0.1, -0.2, 0.4), "bias_z": (1.0, 0.5, 1.5)}
    three(c.verdict_for, ([ok, ok],), ([ok, other],), ([ok, none],))
    assert c.verdict_for([dict(ok, bias_z=(9.0, 6.0, 12.0))]) == D  # biased


def test_claim1b_reinforce_baselines():
    import claim1b_reinforce_baselines as c

    three(c.verdict_for, ({"value": (0.7, 0.6, 0.8), "linear": (0.65, 0.5, 0.8)},),
          ({"value": (0.3, 0.2, 0.4), "linear": (0.2, 0.1, 0.3)},),
          ({"value": (0.3, 0.2, 0.4), "linear": (0.0, -0.1, 0.1)},))


def test_claim2_gae():
    import claim2_gae as c

    best = [480.0, 490.0, 500.0]
    three(c.verdict_for, ([(7.0, 5.5, 9.0)] * 2, best, best),
          ([(3.0, 2.0, 4.0)] * 2, best, best),
          ([(3.0, 0.5, 5.5)] * 2, best, best))
    assert c.verdict_for([(7.0, 5.5, 9.0)] * 2, [300.0, 310.0, 320.0], best) == P  # 0.95 loses on every seed


def test_claim3_horizon():
    import claim3_horizon as c

    three(c.verdict_for, ((2.0, 1.8, 2.2), 0.95, 5.0), ((1.0, 0.8, 1.2), 0.95, 1.0), ((0.1, -0.2, 0.4), 0.95, 5.0))


def test_claim4_natural():
    import claim4_natural as c

    three(c.verdict_for, ((0.5, 0.3, 0.7),), ((0.2, -0.1, 0.5),), ((-0.1, -0.4, 0.2),))


def test_claim5_ppo_trpo():
    import claim5_ppo_trpo as c

    three(c.verdict_for, (0.5, (0.85, 0.7, 1.0), True), (0.1, (0.85, 0.7, 1.0), True),
          (0.1, (0.4, 0.3, 0.5), False))
    # the claim's unit decides: a per-update ratio of 0.10 is not "about 50% less"
    assert c.verdict_for(0.10, (0.85, 0.7, 1.0), True) == P


def test_claim6_throughput():
    import claim6_throughput as c

    three(c.verdict_for, (4.2, 3.5, 6.5), (2.9, 2.5, 3.3), (1.9, 1.5, 2.4))
    assert c.verdict_for(6.0, 5.3, 6.8) == D  # wholly above "about 4x" is not about 4x either


def test_claim7_entropy():
    import claim7_entropy as c

    ent = {"final_log_std": (-0.5, -0.7, -0.3), "min_actor_grad_norm": 1e-2}
    three(c.verdict_for, ({"final_log_std": (-4.0, -4.5, -3.5), "min_actor_grad_norm": 1e-7}, ent),
          ({"final_log_std": (-1.5, -1.8, -1.2), "min_actor_grad_norm": 1e-3}, ent),
          ({"final_log_std": (-0.5, -0.8, -0.2), "min_actor_grad_norm": 1e-3}, ent))


def test_claim8_defaults():
    import claim8_defaults as c

    three(c.verdict_for, (5, 5), (3, 5), (0, 5))
    # the reading's example: lr default 312 [231, 393] vs best 444 [387, 500] -- not near best
    best = np.array([400.0, 440.0, 492.0])
    assert not c.near_best(best - 132.0 + np.array([-3.0, 0.0, 3.0]), best)
    assert c.near_best(best, best)


def test_claim9_parts():
    import claim9_rlhf as c

    betas = [0.005, 0.02, 0.05, 0.2, 0.5]
    base = np.array([0.0, 0.1, 0.2])
    gold = [base + o for o in (0.0, 0.5, 0.4, 0.1, 0.0)]  # best 0.02
    assert c.verdict_beta(gold, betas) == A
    gold_p = [base + o for o in (0.0, 0.3, 0.0, 0.0, 0.35)]  # best 0.5, 0.02 close
    gold_p[1] = gold_p[4] + np.array([0.05, -0.1, -0.05])
    assert c.verdict_beta(gold_p, betas) == P
    gold_d = [base + o for o in (0.9, 0.1, 0.1, 0.1, 0.1)]  # best 0.005, in-range lose every seed
    assert c.verdict_beta(gold_d, betas) == D

    dec, s = "linear 0.01 -> 0.001", np.ones(3)
    ent = {dec: 1.0 * s, "none": 0.5 * s, "c": 0.9 * s}
    d2 = {dec: 0.8 * s, "none": 0.6 * s, "c": 0.7 * s}
    gold = {dec: base, "none": base - 0.5, "c": base - 0.1}
    assert c.verdict_entropy(ent, d2, gold, 1.2, dec) == A
    assert c.verdict_entropy(ent, d2, gold, 3.0, dec) == P  # collapsed below half the start
    ent_d = dict(ent, none=2.0 * s)
    gold_d = dict(gold, c=base + 1.0)
    assert c.verdict_entropy(ent_d, d2, gold_d, 1.2, dec) == D

    three(c.verdict_epochs, ({1: base, 4: base + 0.5, 8: base + 0.4, 16: base + 0.1},),
          ({1: base, 4: base + 0.5, 8: base + 0.4, 16: base + 0.45 + np.array([0.1, -0.1, 0.0])},),
          ({1: base, 4: base + 0.1, 8: base + 0.1, 16: base + 0.5},))

    three(c.verdict_batch, ({512: base, 1024: base + 0.2, 2048: base + 0.3},),
          ({512: base, 1024: base + 0.1, 2048: base + np.array([0.3, -0.2, 0.1])},),
          ({512: base, 1024: base + 0.1, 2048: base - 0.1},))
    # the ends resolvably ordered but the middle size resolvably worse than the smallest:
    # "larger batches" does not hold over the range, so not agrees
    assert c.verdict_batch({512: base, 1024: base - 1.7, 2048: base + 0.4}) == P
    assert c.verdict_batch({2048: base + 0.3, 512: base, 1024: base + 0.2}) == A  # order of keys

    q = lambda p90, p99: {e: {"p90": p90 * e, "p99": p99 * e} for e in (0.1, 0.2, 0.3)}
    three(c.verdict_clip, (q(0.9, 1.4),), (q(0.9, 2.0),), (q(1.5, 3.0),))

    three(c.verdict_rm, ([0.74, 0.75, 0.76],), ([0.60, 0.64, 0.68],), ([0.95, 0.96, 0.97],))


def test_claim10_trpo_kl():
    import claim10_trpo_kl as c

    kls = (0.001, 0.01, 0.02, 0.1)
    base = np.array([100.0, 200.0, 300.0])
    three(c.verdict_for, ([base, base + 90, base + 50, base], kls),
          ([base, base + 85 + np.array([10.0, -10.0, 0.0]), base, base + 90], kls),
          ([base + 200, base, base, base], kls))


def test_claim11_mc_variance():
    import claim11_mc_variance as c

    three(c.verdict_for, ({1.0: (4.2, 3.8, 4.6), 0.99: (4.0, 3.5, 4.5)}, 0.3),
          ({1.0: (2.5, 2.2, 2.8), 0.99: (1.0, 0.8, 1.2)}, 0.3),
          ({1.0: (1.0, 0.8, 1.2), 0.99: (0.5, 0.3, 0.7)}, 0.3))


def test_claim12_halfcheetah_wallclock():
    import claim12_halfcheetah_wallclock as c

    at = lambda s: {"2000": {"wall_s": s, "env_steps": 1}}
    assert c.verdict(at(2.5 * 3600), 4 * 3600)[0] == A
    assert c.verdict(at(1800.0), 3600)[0] == P
    assert c.verdict(at(103.0), 123)[0] == D  # 70x under the claim's time scale
    assert c.verdict({"2000": None}, 4 * 3600)[0] == D
    assert c.verdict({"2000": None}, 600)[0] == P


def test_rlhf_scaling():
    import rlhf_scaling as c

    def coef(alpha, beta):
        return {"alpha": {"mean": alpha[0], "lo": alpha[1], "hi": alpha[2]},
                "beta": {"mean": beta[0], "lo": beta[1], "hi": beta[2]}}

    rising = {"d64xL2": {"rises": True}, "d32xL1": {"rises": True}}
    falling = {"d64xL2": {"rises": False}, "d32xL1": {"rises": False}}
    over = {"d64xL2/500": coef((0.5, 0.3, 0.7), (0.05, 0.02, 0.08))}
    none = {"d64xL2/500": coef((0.5, 0.3, 0.7), (-0.019, -0.05, 0.01))}  # no over-optimization seen
    three(c.verdict_for, (over, rising, falling, "d64xL2/500"), (none, rising, falling, "d64xL2/500"),
          (none, falling, rising, "d64xL2/500"))


def test_rlhf_algorithms():
    import rlhf_algorithms as c

    up, mean_only, down = (0.5, 0.2, 0.8), (0.5, -0.4, 1.4), (-0.1, -0.3, 0.1)
    three(c.verdict_for, ({"ppo": up, "grpo": up},), ({"ppo": up, "grpo": mean_only},),
          ({"ppo": up, "grpo": down},))
    # one algorithm raising the gold in the mean is no longer enough for "partly"
    assert c.verdict_for({"a": mean_only, "b": mean_only, "c": up}) == D
