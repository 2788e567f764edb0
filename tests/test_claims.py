"""The verdict rule on constructed data: a clear difference is reproduced, noise is
inconclusive, the opposite sign is contradicted, and the intervals cover as they claim."""

import numpy as np
import pytest
from scipy import stats

from osnet_lib.experiments import Claim, classify, compare, query_bootstrap_interval, seed_interval
from osnet_lib.experiments.claims import combine, per_query_scores
from osnet_lib.experiments.studies import CLAIMS, claims_of, get_claim
from osnet_lib.metrics import PerQuery


def _values(a, b):
    return {"A": dict(enumerate(a)), "B": dict(enumerate(b))}


def test_clear_noise_and_opposite_differences_over_seeds():
    c = compare("A", "B", _values([60.0, 61.5, 59.0], [50.0, 51.0, 50.5]), "rank1")
    assert c.verdict == "reproduced" and c.method == "t over seeds"
    assert c.mean == pytest.approx(np.mean([10.0, 10.5, 8.5]))
    assert c.low > 0 and c.differences == (10.0, 10.5, 8.5)
    noise = compare("A", "B", _values([50.0, 53.0, 49.0, 52.0], [51.0, 50.0, 52.5, 50.0]), "mAP")
    assert noise.verdict == "inconclusive" and noise.low < 0 < noise.high
    opposite = compare("A", "B", _values([40.0, 41.0, 39.5], [50.0, 52.0, 49.0]), "rank1")
    assert opposite.verdict == "contradicted" and opposite.high < 0


def test_the_seed_interval_is_students_t():
    d = [1.0, 2.5, 0.5, 3.0]
    mean, low, high = seed_interval(d)
    half = stats.t.ppf(0.975, 3) * np.std(d, ddof=1) / 2
    assert (low, high) == pytest.approx((mean - half, mean + half))
    assert seed_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="3 or more"):
        seed_interval([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        seed_interval([1.0, float("nan"), 2.0])


@pytest.mark.parametrize("n", [3, 5])
def test_seed_intervals_cover_the_true_difference_95_percent_of_the_time(n):
    rng = np.random.default_rng(n)
    trials = 2000
    hits = 0
    for _ in range(trials):
        d = rng.normal(1.5, 2.0, n)
        _, low, high = seed_interval(d)
        hits += low <= 1.5 <= high
    assert 0.93 <= hits / trials <= 0.97


def test_a_bootstrap_over_three_seeds_would_undercover():
    """Why the rule uses Student's t with few seeds: scipy's percentile bootstrap over three
    seeds covers the true mean far less often than 95%."""
    rng = np.random.default_rng(0)
    hits = 0
    trials = 300
    for i in range(trials):
        d = rng.normal(1.0, 2.0, 3)
        ci = stats.bootstrap((d,), np.mean, method="percentile", n_resamples=999,
                             random_state=i).confidence_interval
        hits += ci.low <= 1.0 <= ci.high
    assert hits / trials < 0.85


def test_query_bootstrap_covers_the_true_difference():
    """Queries drawn from a population with a known rank-1 gap of 5 points (paired)."""
    rng = np.random.default_rng(1)
    hits, trials = 0, 300
    for t in range(trials):
        base = rng.random(800) < 0.5
        flip = rng.random(800)
        a = (base | (flip < 0.1)).astype(float)  # A fixes 10% of B's misses: +5 points expected
        b = base.astype(float)
        mean, low, high = query_bootstrap_interval([(100 * a, 100 * b)], n_resamples=500, seed=t)
        hits += low <= 5.0 <= high
    assert 0.92 <= hits / trials <= 0.98


def test_query_bootstrap_verdicts_with_one_or_two_seeds():
    rng = np.random.default_rng(2)

    def pq(hit_rate, n=600, seed=0):
        r = np.random.default_rng(seed)
        first = np.where(r.random(n) < hit_rate, 0, 3)
        return PerQuery(np.arange(n), first, r.random(n))

    better = {0: pq(0.7, seed=1), 1: pq(0.7, seed=2)}
    worse = {0: pq(0.4, seed=3), 1: pq(0.4, seed=4)}
    values = {"A": {s: 100 * better[s].rank(1).mean() for s in better},
              "B": {s: 100 * worse[s].rank(1).mean() for s in worse}}
    lookup = {"A": better, "B": worse}
    c = compare("A", "B", values, "rank1", lambda arm, s: lookup[arm][s])
    assert c.verdict == "reproduced" and c.method == "paired bootstrap over queries"
    c = compare("B", "A", {k: v for k, v in values.items()}, "rank1",
                lambda arm, s: lookup[arm][s])
    assert c.verdict == "contradicted"
    same = {0: pq(0.5, seed=5)}
    c = compare("A", "B", {"A": {0: 50.0}, "B": {0: 50.0}}, "rank1", lambda arm, s: same[s])
    assert c.verdict == "inconclusive" and c.low <= 0 <= c.high
    with pytest.raises(ValueError, match="per-query outcomes are needed"):
        compare("A", "B", {"A": {0: 1.0}, "B": {0: 0.0}}, "rank1")
    other = PerQuery(np.arange(1, 601), np.zeros(600, int), np.ones(600))
    with pytest.raises(ValueError, match="different queries"):
        compare("A", "B", {"A": {0: 1.0}, "B": {0: 0.0}}, "rank1",
                lambda arm, s: other if arm == "A" else same[s])
    del rng


def test_classification_and_orderings():
    assert classify(0.1, 2.0) == "reproduced"
    assert classify(-2.0, -0.1) == "contradicted"
    assert classify(-1.0, 1.0) == "inconclusive"
    assert classify(0.0, 1.0) == "inconclusive"
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine(["reproduced", "contradicted"]) == "contradicted"
    with pytest.raises(ValueError, match="not ordered"):
        classify(1.0, 0.0)


def test_per_query_scores_are_percentage_points():
    pq = PerQuery(np.arange(4), np.array([0, 1, 0, 5]), np.array([1.0, 0.5, 0.25, 0.0]))
    assert per_query_scores(pq, "rank1").tolist() == [100.0, 0.0, 100.0, 0.0]
    assert per_query_scores(pq, "mAP").tolist() == [100.0, 50.0, 25.0, 0.0]


def test_claims_name_arms_of_their_study_and_the_papers_numbers():
    claim = get_claim("table5-omni-vs-single")
    assert claim.order == ("model1", "model9") and claim.paper == (57.1, 43.3)
    paper_claims = [c for c in claims_of("table5") if c.relative_to is None]
    assert len(paper_claims) == 7 and set(CLAIMS) >= {"ain-ranking-duke"}
    assert all(c.paper is not None for c in paper_claims)
    with pytest.raises(ValueError, match="two or more distinct arms"):
        Claim("x", "table5", ("model1",))
    with pytest.raises(ValueError, match="metric 'rank5'"):
        Claim("x", "table5", ("model1", "model9"), metric="rank5")
    with pytest.raises(ValueError, match="3 paper numbers for 2 arms"):
        Claim("x", "table5", ("model1", "model9"), paper=(1, 2, 3))
    with pytest.raises(ValueError, match="unknown claim"):
        get_claim("table9-x")


def test_a_relative_claim_judges_the_difference_of_differences():
    """A gap of 10 points here and 2 there: larger here (reproduced); the same gap in both
    studies: inconclusive; a larger gap there: contradicted."""
    here = _values([60.0, 61.0, 59.5], [50.0, 51.5, 49.0])  # A - B = 10, 9.5, 10.5
    there = _values([52.0, 50.0, 51.0], [50.0, 48.5, 48.5])  # A - B = 2, 1.5, 2.5
    c = compare("A", "B", here, "rank1", baseline=there)
    assert c.verdict == "reproduced" and c.differences == pytest.approx((8.0, 8.0, 8.0))
    same = compare("A", "B", here, "rank1",
                   baseline=_values([61.0, 60.0, 58.0], [50.0, 51.0, 48.5]))
    assert same.verdict == "inconclusive"
    assert compare("A", "B", there, "rank1", baseline=here).verdict == "contradicted"
    with pytest.raises(ValueError, match="in both studies"):
        compare("A", "B", here, "rank1", baseline={"A": {7: 1.0}, "B": {7: 0.0}})


def test_a_relative_claim_with_one_seed_bootstraps_each_test_set_on_its_own():
    def pq(hit_rate, n, seed):
        r = np.random.default_rng(seed)
        return PerQuery(np.arange(n), np.where(r.random(n) < hit_rate, 0, 3), r.random(n))

    here = {"A": pq(0.8, 900, 1), "B": pq(0.4, 900, 2)}  # +40 points
    there = {"A": pq(0.55, 700, 3), "B": pq(0.5, 700, 4)}  # different queries, +5 points

    def vals(t):
        return {arm: {0: 100 * p.rank(1).mean()} for arm, p in t.items()}

    c = compare("A", "B", vals(here), "rank1", lambda a, s: here[a], baseline=vals(there),
                baseline_per_query=lambda a, s: there[a])
    assert c.verdict == "reproduced" and c.method == "paired bootstrap over queries"
    assert c.mean == pytest.approx(vals(here)["A"][0] - vals(here)["B"][0]
                                   - vals(there)["A"][0] + vals(there)["B"][0])
    flipped = compare("A", "B", vals(there), "rank1", lambda a, s: there[a],
                      baseline=vals(here), baseline_per_query=lambda a, s: here[a])
    assert flipped.verdict == "contradicted"


def test_a_relative_claim_names_another_study_and_no_paper_numbers():
    with pytest.raises(ValueError, match="another study"):
        Claim("x", "table5", ("model1", "model9"), relative_to="table5")
    with pytest.raises(ValueError, match="no paper numbers"):
        Claim("x", "table5", ("model1", "model9"), paper=(1.0, 0.0), relative_to="table5-control")
    claim = get_claim("omni-world-needs-omni-scale")
    assert claim.relative_to == "table5-control" and claim.paper is None


def test_item_scores_bootstrap_any_mean_over_items():
    """A measurement that is a mean over items (here the share of a map's mass on a part, per
    image) is judged with the same rule: the items resampled alike for both arms."""
    rng = np.random.default_rng(3)
    a = {s: 100 * rng.beta(6, 4, 500) for s in (0, 1)}  # about 60% of the mass
    b = {s: a[s] - rng.uniform(5, 15, 500) for s in (0, 1)}  # 10 points less on average
    values = {"A": {s: a[s].mean() for s in a}, "B": {s: b[s].mean() for s in b}}
    items = {"A": a, "B": b}
    c = compare("A", "B", values, "mass on part", scores=lambda arm, s: items[arm][s])
    assert c.verdict == "reproduced" and c.method == "paired bootstrap over items"
    assert c.mean == pytest.approx(np.mean([(a[s] - b[s]).mean() for s in (0, 1)]))
    flipped = compare("B", "A", values, "mass on part", scores=lambda arm, s: items[arm][s])
    assert flipped.verdict == "contradicted"
    with pytest.raises(ValueError, match="item scores judge two arms of one study"):
        compare("A", "B", values, "x", scores=lambda arm, s: items[arm][s], baseline=values)
