"""The leaderboard's statistics against scipy and against Holm's definition."""

import itertools

import numpy as np
import pytest
from scipy import stats

from cmedl_bench.results.statistics import holm_bonferroni, wilcoxon_signed_rank


@pytest.mark.parametrize("n", [1, 4, 9, 20, 50])
def test_exact_wilcoxon_equals_scipy(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(0.5, 0.9, n)
    y = x + rng.normal(0.05, 0.1, n)
    ours = wilcoxon_signed_rank(x, y)
    theirs = stats.wilcoxon(x, y, method="exact")
    assert ours.method == "exact"
    assert ours.statistic == pytest.approx(float(theirs.statistic))
    assert ours.p == pytest.approx(float(theirs.pvalue), rel=1e-12)


def test_normal_approximation_with_ties_equals_scipy():
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(0.4, 0.9, 70), 2)  # rounding makes tied absolute differences
    y = np.round(x + rng.normal(0.02, 0.05, 70), 2)
    ours = wilcoxon_signed_rank(x, y)
    theirs = stats.wilcoxon(x, y, method="approx")
    assert ours.method == "normal"
    assert ours.p == pytest.approx(float(theirs.pvalue), rel=1e-10)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_exact_wilcoxon_with_ties_and_zeros_equals_full_enumeration(seed):
    """Rounded values give tied and zero differences: the p-value is the exact permutation p-value, by brute force
    over every sign pattern of the midranks and by scipy's permutation method enumerated in full."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0.4, 0.9, 12), 2)
    y = np.round(x + rng.normal(0.03, 0.05, 12), 2)
    ours = wilcoxon_signed_rank(x, y)
    d = (x - y)[x != y]
    ranks = stats.rankdata(np.abs(d))
    observed = min(ranks[d > 0].sum(), ranks[d < 0].sum())
    patterns = np.array(list(itertools.product([0, 1], repeat=len(d))))
    r_plus = patterns @ ranks
    brute = np.mean(np.minimum(r_plus, ranks.sum() - r_plus) <= observed + 1e-9)  # P(min(R+, R-) <= observed)
    assert len(np.unique(np.abs(d))) < len(d) and ours.method == "exact"
    assert ours.p == pytest.approx(brute, rel=1e-12)
    theirs = stats.wilcoxon(x, y, method=stats.PermutationMethod(n_resamples=np.inf))
    assert ours.p == pytest.approx(float(theirs.pvalue), rel=1e-12)


def test_zero_differences_are_dropped_like_scipy():
    x = np.array([0.1, 0.5, 0.3, 0.7, 0.2, 0.9, 0.4, 0.05])
    y = x.copy()
    y[:6] += [0.11, -0.23, 0.35, 0.42, 0.51, 0.62]
    ours = wilcoxon_signed_rank(x, y)
    assert ours.n == 6
    assert ours.p == pytest.approx(float(stats.wilcoxon(x, y, zero_method="wilcox", method="exact").pvalue))


def test_identical_methods_have_p_one():
    x = np.linspace(0.5, 0.9, 7)
    result = wilcoxon_signed_rank(x, x)
    assert (result.p, result.n, result.method) == (1.0, 0, "none")


def test_unequal_lengths_are_rejected():
    with pytest.raises(ValueError):
        wilcoxon_signed_rank([0.1, 0.2], [0.1])


def test_holm_bonferroni_worked_example():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> carried max 0.06
    assert holm_bonferroni([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_bonferroni_matches_its_step_down_definition():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 8):
        p = rng.uniform(0, 0.2, m).tolist()
        order = sorted(range(m), key=lambda i: p[i])
        expected = [0.0] * m
        for rank, i in enumerate(order):
            expected[i] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
        assert holm_bonferroni(p) == pytest.approx(expected)
        # the adjustment keeps the order of the raw p-values and never lowers one
        adjusted = holm_bonferroni(p)
        for a, b in itertools.combinations(range(m), 2):
            if p[a] <= p[b]:
                assert adjusted[a] <= adjusted[b]
        assert all(adj >= raw for adj, raw in zip(adjusted, p))


def test_holm_bonferroni_leaves_untested_rows_out_of_the_family():
    assert holm_bonferroni([0.02, None, 0.04]) == pytest.approx([0.04, None, 0.04])
    assert holm_bonferroni([None, None]) == [None, None]


@pytest.mark.parametrize("units", [10, 30])
@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_the_bootstrap_interval_covers_at_its_level(units, shape):
    """1000 simulated benchmarks of paired patient differences (SD 0.06, as measured on the phantom; normal, or
    skewed: shifted exponential): the 95 % interval holds the true mean difference in 95 % +- 2 of them."""
    from cmedl_bench.results.statistics import bootstrap_mean_ci

    rng = np.random.default_rng(units)
    draw = {"normal": lambda: rng.normal(0.02, 0.06, units),
            "skewed": lambda: rng.exponential(0.06, units) - 0.04}[shape]
    covered = 0
    for k in range(1000):
        low, high = bootstrap_mean_ci(draw(), seed=k, resamples=2000)
        covered += low <= 0.02 <= high
    assert 0.93 <= covered / 1000 <= 0.97
