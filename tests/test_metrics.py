"""Tests of osnet_lib.metrics and osnet_lib.rerank against plain per-query oracles."""

import json
import logging
import math

import numpy as np
import pytest
import torch

import osnet_lib.metrics as metrics_module
from osnet_lib.metrics import (
    ReIDResult,
    average_over_splits,
    compute_distance,
    evaluate,
)
from osnet_lib.rerank import average_query_expansion, k_reciprocal_rerank

# ---------------------------------------------------------------------------------------------
# Oracles: straightforward loops written from the protocol's definition
# ---------------------------------------------------------------------------------------------


def oracle(dist, q_pids, g_pids, q_camids, g_camids, max_rank, junk_pid=-1):
    """Per query: stable sort of the gallery, drop same pid+camera and junk, read CMC/AP/INP."""
    cmcs, aps, inps = [], [], []
    for i in range(dist.shape[0]):
        order = np.argsort(dist[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        if junk_pid is not None:
            keep &= g_pids[order] != junk_pid
        matches = g_pids[order][keep] == q_pids[i]
        if not matches.any():
            continue
        hit_ranks = np.flatnonzero(matches)  # 0-based ranks of the correct matches
        cmcs.append([float(hit_ranks[0] <= k) for k in range(max_rank)])
        aps.append(np.mean([(m + 1) / (r + 1) for m, r in enumerate(hit_ranks)]))
        inps.append(len(hit_ranks) / (hit_ranks[-1] + 1))
    if not aps:
        return None
    return np.mean(cmcs, axis=0), float(np.mean(aps)), float(np.mean(inps)), len(aps)


def random_problem(rng, float_dtype=np.float32):
    """Small problem with ties, junk (-1), distractors (0), queries without valid matches."""
    n_q, n_g = int(rng.integers(1, 25)), int(rng.integers(1, 70))
    n_ids, n_cams = int(rng.integers(1, 10)), int(rng.integers(1, 4))
    q_pids = rng.integers(0, n_ids + 1, n_q)  # may be absent from the gallery
    g_pids = rng.integers(-1, n_ids, n_g)  # -1 junk, 0 distractor
    q_cams, g_cams = rng.integers(0, n_cams, n_q), rng.integers(0, n_cams, n_g)
    kind = rng.integers(0, 4)
    if kind == 0:  # heavy ties
        dist = rng.integers(0, 4, (n_q, n_g)).astype(float_dtype)
    elif kind == 1:  # quantised, with negative values and -0.0
        dist = (np.round(rng.standard_normal((n_q, n_g)) * 2) / 2).astype(float_dtype)
        dist[dist == 0] = -0.0
    elif kind == 2:
        dist = rng.integers(0, 6, (n_q, n_g))  # integer matrix
    else:
        dist = rng.random((n_q, n_g)).astype(float_dtype)
    return dist, q_pids, g_pids, q_cams, g_cams


def check_against_oracle(rng, n_problems, float_dtype=np.float32):
    checked = 0
    for _ in range(n_problems):
        problem = random_problem(rng, float_dtype)
        max_rank = int(rng.integers(1, 80))  # sometimes beyond the gallery size
        want = oracle(*problem, max_rank)
        chunk = int(rng.integers(1, 8))
        if want is None:
            with pytest.raises(ValueError, match="no query has a valid match|junk identity"):
                evaluate(*problem, max_rank, chunk_size=chunk)
            continue
        got = evaluate(*problem, max_rank, chunk_size=chunk)
        cmc, m_ap, m_inp, n_valid = want
        assert got.num_valid_queries == n_valid
        assert got.num_queries == problem[0].shape[0]
        np.testing.assert_allclose(got.cmc, cmc, rtol=0, atol=1e-12)
        assert got.mAP == pytest.approx(m_ap, abs=1e-12)
        assert got.mINP == pytest.approx(m_inp, abs=1e-12)
        checked += 1
    assert checked > n_problems // 2  # most problems have valid queries


# ---------------------------------------------------------------------------------------------
# evaluate: standard protocol
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["auto", "sort_near", "search_all"])
def test_evaluate_matches_oracle_on_random_problems(monkeypatch, path):
    # Both internal ranking methods must give the oracle's numbers exactly.
    fraction = {"auto": metrics_module._SPARSE_FRACTION, "sort_near": 2.0, "search_all": -1.0}
    monkeypatch.setattr(metrics_module, "_SPARSE_FRACTION", fraction[path])
    check_against_oracle(np.random.default_rng(0), 250)


def test_evaluate_matches_oracle_float64_and_torch_inputs():
    rng = np.random.default_rng(1)
    check_against_oracle(rng, 80, float_dtype=np.float64)
    dist, qp, gp, qc, gc = random_problem(np.random.default_rng(7))
    qp[0], gp[0], gc[0], qc[0] = 5, 5, 1, 0  # at least one valid query
    a = evaluate(torch.as_tensor(dist), torch.as_tensor(qp), gp, qc, torch.as_tensor(gc), 5)
    b = evaluate(dist, qp, gp, qc, gc, 5)
    np.testing.assert_array_equal(a.cmc, b.cmc)
    assert (a.mAP, a.mINP, a.num_valid_queries) == (b.mAP, b.mINP, b.num_valid_queries)


def test_hand_worked_example(caplog):
    # Gallery:    g0    g1    g2    g3    g4    g5    g6
    g_pids = np.array([2, 1, 1, 0, -1, 3, 1])
    g_cams = np.array([1, 0, 1, 1, 1, 2, 2])
    q_pids = np.array([1, 4, 2, 3])
    q_cams = np.array([0, 0, 1, 0])
    dist = np.array(
        [
            [0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6],
            [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
            [0.9, 0.1, 0.2, 0.2, 0.0, 0.2, 0.5],
        ]
    )
    # q0 (pid 1, cam 0): g1 is pid 1 in cam 0 -> removed; g4 is junk -> ignored. Valid order
    #   g0(-) g2(+) g3(-, distractor, tied with g2 but later index) g5(-) g6(+):
    #   matches at ranks 2 and 5 -> AP = (1/2 + 2/5) / 2 = 0.45, INP = 2/5 = 0.4.
    # q1 (pid 4): no pid 4 in the gallery -> skipped.
    # q2 (pid 2, cam 1): its only gallery image g0 is in cam 1 -> removed -> skipped.
    # q3 (pid 3, cam 0): g4 junk ignored; g1 0.1, then g2, g3, g5 tied at 0.2 in index order,
    #   so the match g5 is at rank 4 -> AP = 1/4, INP = 1/4.
    # Over 2 valid queries: CMC = [0, 1/2, 1/2, 1, 1], mAP = 0.35, mINP = 0.325.
    with caplog.at_level(logging.INFO, logger="osnet_lib.metrics"):
        res = evaluate(dist, q_pids, g_pids, q_cams, g_cams, max_rank=5)
    assert "2 of 4 queries have no valid gallery match" in caplog.text
    np.testing.assert_allclose(res.cmc, [0.0, 0.5, 0.5, 1.0, 1.0], atol=1e-15)
    assert res.mAP == pytest.approx(0.35, abs=1e-15)
    assert res.mINP == pytest.approx(0.325, abs=1e-15)
    assert res.rank1 == 0.0
    assert (res.num_valid_queries, res.num_queries, res.num_skipped_queries) == (2, 4, 2)
    # Not ignoring junk turns g4 (0.0 from q3) into a negative in front of everything:
    # q0 match ranks 2 and 6 (AP 0.4167, INP 1/3), q3 match rank 5 (AP = INP = 0.2).
    res = evaluate(dist, q_pids, g_pids, q_cams, g_cams, max_rank=5, junk_pid=None)
    assert res.mAP == pytest.approx((0.5 + 2 / 6) / 2 / 2 + 0.2 / 2, abs=1e-15)
    assert res.mINP == pytest.approx((1 / 3 + 0.2) / 2, abs=1e-15)
    np.testing.assert_allclose(res.cmc, [0.0, 0.5, 0.5, 0.5, 1.0], atol=1e-15)


def test_other_input_types_and_empty_query_set():
    dist = np.array([[0.5, 0.25, 1.0], [0.0, 2.0, 0.75]])
    want = evaluate(dist, **{k: np.array(v) for k, v in GOOD.items()}, max_rank=3)
    for variant in (dist.astype(np.float16), torch.tensor(dist, requires_grad=True),
                    np.asfortranarray(dist)):
        got = evaluate(variant, **GOOD, max_rank=3)
        np.testing.assert_array_equal(got.cmc, want.cmc)
        assert (got.mAP, got.mINP) == (want.mAP, want.mINP)
    qf = torch.randn(2, 4, requires_grad=True)
    assert evaluate((qf, torch.randn(3, 4)), **GOOD).num_queries == 2
    with pytest.raises(ValueError, match="need at least one query"):
        evaluate(np.zeros((0, 3)), [], [1, 2, 3], [], [1, 1, 1])


def test_ties_follow_gallery_index_order():
    # All distances equal: the ranking is the gallery order. One query, matches at g1 and g3.
    # Valid order g0(-) g1(+) g2(-) g3(+): AP = (1/2 + 2/4) / 2 = 0.5, INP = 2/4.
    res = evaluate(np.zeros((1, 4)), [7], [1, 7, 2, 7], [0], [1, 1, 1, 1], max_rank=2)
    assert res.mAP == pytest.approx(0.5)
    assert res.mINP == pytest.approx(0.5)
    np.testing.assert_allclose(res.cmc, [0.0, 1.0])


def test_features_and_distance_matrix_agree():
    rng = np.random.default_rng(3)
    qf, gf = rng.standard_normal((40, 16)), rng.standard_normal((300, 16))
    qp, gp = rng.integers(0, 30, 40), rng.integers(-1, 30, 300)
    qc, gc = rng.integers(0, 3, 40), rng.integers(0, 3, 300)
    for metric in ("cosine", "euclidean"):
        want = oracle(compute_distance(qf, gf, metric), qp, gp, qc, gc, 20)
        for chunk in (None, 1, 7):
            got = evaluate((qf, gf), qp, gp, qc, gc, 20, metric=metric, chunk_size=chunk)
            np.testing.assert_allclose(got.cmc, want[0], atol=1e-12)
            assert got.mAP == pytest.approx(want[1], abs=1e-12)
            assert got.mINP == pytest.approx(want[2], abs=1e-12)
    # float32 tensors and float32 arrays take the same route
    q32, g32 = qf.astype(np.float32), gf.astype(np.float32)
    from_tensors = evaluate((torch.from_numpy(q32), torch.from_numpy(g32)), qp, gp, qc, gc, 20)
    from_arrays = evaluate((q32, g32), qp, gp, qc, gc, 20)
    np.testing.assert_array_equal(from_tensors.cmc, from_arrays.cmc)
    assert (from_tensors.mAP, from_tensors.mINP) == (from_arrays.mAP, from_arrays.mINP)


def test_features_are_ranked_in_blocks_never_as_a_full_matrix(monkeypatch):
    blocks = []
    real = metrics_module._pairwise

    def spy(q, g, metric):
        blocks.append(tuple(q.shape[:1]) + tuple(g.shape[:1]))
        return real(q, g, metric)

    monkeypatch.setattr(metrics_module, "_pairwise", spy)
    monkeypatch.setattr(metrics_module, "_CHUNK_ELEMENTS", 5000)
    monkeypatch.setattr(metrics_module, "_MIN_CHUNK_ROWS", 2)
    rng = np.random.default_rng(8)
    qf, gf = rng.standard_normal((300, 8)), rng.standard_normal((1000, 8))
    qp, gp = rng.integers(0, 50, 300), rng.integers(0, 50, 1000)
    qc, gc = np.zeros(300, dtype=int), np.ones(1000, dtype=int)
    res = evaluate((qf, gf), qp, gp, qc, gc, 10)
    assert max(rows * cols for rows, cols in blocks) <= 5000
    assert sum(rows for rows, _ in blocks) == 300
    want = oracle(compute_distance(qf, gf), qp, gp, qc, gc, 10)
    assert res.mAP == pytest.approx(want[1], abs=1e-12)


def test_perfect_and_reversed_rankings():
    # Gallery: each identity in cameras 1 and 2; queries in camera 0.
    g_pids = np.repeat(np.arange(1, 6), 2)
    g_cams = np.tile([1, 2], 5)
    q_pids = np.arange(1, 6)
    q_cams = np.zeros(5, dtype=int)
    perfect = (g_pids[None, :] != q_pids[:, None]).astype(float)
    res = evaluate(perfect, q_pids, g_pids, q_cams, g_cams, max_rank=3)
    assert (res.mAP, res.mINP, res.rank1) == (1.0, 1.0, 1.0)
    worst = 1.0 - perfect  # matches last: ranks 9 and 10 of 10
    res = evaluate(worst, q_pids, g_pids, q_cams, g_cams, max_rank=10)
    assert res.mAP == pytest.approx((1 / 9 + 2 / 10) / 2)
    assert res.mINP == pytest.approx(2 / 10)
    np.testing.assert_allclose(res.cmc, [0] * 8 + [1, 1])


# ---------------------------------------------------------------------------------------------
# CUHK03 single-gallery-shot protocol
# ---------------------------------------------------------------------------------------------


def single_shot_expected_cmc(dist, q_pids, g_pids, q_camids, g_camids, max_rank):
    """Exact expectation of the single-shot CMC: for a drawn match p, each other identity's
    drawn sample precedes p independently, so the rank is a sum of independent Bernoullis."""
    cmcs = []
    for i in range(dist.shape[0]):
        usable = ~((g_pids == q_pids[i]) & (g_camids == q_camids[i])) & (g_pids != -1)
        matches = np.flatnonzero(usable & (g_pids == q_pids[i]))
        if matches.size == 0:
            continue
        cmc = np.zeros(max_rank)
        for p in matches:
            def ahead(j: int, i: int = i, p: int = p) -> bool:
                return dist[i, j] < dist[i, p] or (dist[i, j] == dist[i, p] and j < p)

            probs = []
            for pid in set(g_pids[usable].tolist()) - {q_pids[i]}:
                members = np.flatnonzero(usable & (g_pids == pid))
                probs.append(np.mean([ahead(j) for j in members]))
            rank_pmf = np.array([1.0])  # distribution of the number of identities ahead
            for pr in probs:
                rank_pmf = np.convolve(rank_pmf, [1 - pr, pr])
            cdf = np.cumsum(rank_pmf)
            cmc += np.array([cdf[min(k, len(cdf) - 1)] for k in range(max_rank)]) / len(matches)
        cmcs.append(cmc)
    return np.mean(cmcs, axis=0)


def test_cuhk03_hand_worked_expectation():
    # Query pid 1 (cam 0). Gallery: pid 1 at 0.1 and 0.5 (cam 1), pid 2 at 0.3 and 0.7.
    # Draws (match, other): (0.1, *) hit, (0.5, 0.3) miss, (0.5, 0.7) hit -> P(rank-1) = 3/4.
    dist = np.array([[0.1, 0.5, 0.3, 0.7]])
    args = ([1], [1, 1, 2, 2], [0], [1, 1, 1, 1])
    res = evaluate(dist, *args, max_rank=2, protocol="cuhk03", num_repeats=4000, seed=5)
    assert res.rank1 == pytest.approx(0.75, abs=0.03)
    assert res.cmc[1] == 1.0
    # mAP and mINP use the whole gallery, as in the standard protocol: matches at 1 and 3.
    assert res.mAP == pytest.approx((1 + 2 / 3) / 2)
    assert res.mINP == pytest.approx(2 / 3)
    assert res.protocol == "cuhk03"


def test_cuhk03_matches_exact_expectation_on_random_problem():
    rng = np.random.default_rng(11)
    dist = rng.integers(0, 5, (12, 40)).astype(np.float32)  # with ties
    qp, gp = rng.integers(1, 6, 12), rng.integers(-1, 6, 40)
    qc, gc = rng.integers(0, 2, 12), rng.integers(0, 2, 40)
    res = evaluate(dist, qp, gp, qc, gc, 6, protocol="cuhk03", num_repeats=3000, seed=1)
    want = single_shot_expected_cmc(dist, qp, gp, qc, gc, 6)
    np.testing.assert_allclose(res.cmc, want, atol=0.03)
    standard = evaluate(dist, qp, gp, qc, gc, 6)
    assert res.mAP == standard.mAP and res.mINP == standard.mINP
    assert res.num_valid_queries == standard.num_valid_queries


def test_cuhk03_seeding():
    rng = np.random.default_rng(2)
    dist = rng.random((30, 120))
    qp, gp = rng.integers(0, 20, 30), rng.integers(0, 20, 120)
    qc, gc = rng.integers(0, 2, 30), rng.integers(0, 2, 120)

    def run(seed, chunk=None):
        return evaluate(dist, qp, gp, qc, gc, 10, protocol="cuhk03", seed=seed, chunk_size=chunk)

    a = run(0)
    np.testing.assert_array_equal(a.cmc, run(0).cmc)  # same seed, same draws
    np.testing.assert_allclose(a.cmc, run(0, chunk=3).cmc, atol=1e-12)  # any chunking
    assert any(not np.array_equal(a.cmc, run(s).cmc) for s in (1, 2, 3))  # seeds matter
    assert np.all(np.diff(a.cmc) >= 0) and a.cmc[-1] <= 1.0


# ---------------------------------------------------------------------------------------------
# Results and split averaging
# ---------------------------------------------------------------------------------------------


def make_result(cmc, m_ap, m_inp):
    return ReIDResult(cmc=np.asarray(cmc, dtype=float), mAP=m_ap, mINP=m_inp,
                      num_valid_queries=10, num_queries=12)


def test_result_dict_json_and_str():
    res = make_result(np.linspace(0.5, 1.0, 12), 0.4, 0.2)
    d = json.loads(res.to_json())
    assert d["rank1"] == 0.5 and d["rank10"] == res.cmc[9] and d["mAP"] == 0.4
    assert len(d["cmc"]) == 12 and "rank20" not in d
    back = ReIDResult.from_dict(d)
    np.testing.assert_array_equal(back.cmc, res.cmc)
    assert (back.mAP, back.mINP, back.num_valid_queries) == (0.4, 0.2, 10)
    text = str(res)
    assert text.startswith("R1 50.0 R5 ") and "mAP 40.0" in text and "10/12" in text
    assert str(make_result([0.25, 0.5], 0.3, 0.1)).startswith("R1 25.0 mAP 30.0")
    with pytest.raises(ValueError, match="rank k=13"):
        res.rank(13)
    with pytest.raises(ValueError, match="lacks the keys"):
        ReIDResult.from_dict({"mAP": 0.1})


def test_average_over_splits():
    results = [
        make_result(np.linspace(0.2, 1, 10), 0.3, 0.1),
        make_result(np.linspace(0.4, 1, 10), 0.5, 0.2),
        make_result(np.linspace(0.3, 1, 10), 0.7, 0.6),
    ]
    avg = average_over_splits(results)
    assert avg.num_splits == 3
    assert avg.mean["mAP"] == pytest.approx(0.5)
    assert avg.std["mAP"] == pytest.approx(0.2)  # sample std of 0.3, 0.5, 0.7
    assert avg.mean["rank1"] == pytest.approx(0.3)
    assert avg.std["mINP"] == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    np.testing.assert_allclose(avg.cmc_mean, np.mean([r.cmc for r in results], axis=0))
    assert "rank20" not in avg.mean and "rank10" in avg.mean
    assert "mAP 50.0±20.0" in str(avg)
    json.loads(avg.to_json())
    one = average_over_splits(results[:1])
    assert math.isnan(one.std["mAP"]) and one.as_dict()["std"]["mAP"] is None
    json.loads(one.to_json())


def test_average_over_splits_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        average_over_splits([])
    with pytest.raises(TypeError, match=r"results\[1\]"):
        average_over_splits([make_result([1.0], 1, 1), {"mAP": 1}])
    with pytest.raises(ValueError, match="different lengths"):
        average_over_splits([make_result([1.0], 1, 1), make_result([1.0, 1.0], 1, 1)])


# ---------------------------------------------------------------------------------------------
# compute_distance
# ---------------------------------------------------------------------------------------------


def test_compute_distance_values_and_types():
    rng = np.random.default_rng(4)
    qf, gf = rng.standard_normal((5, 7)), rng.standard_normal((9, 7))
    cos = (qf @ gf.T) / np.linalg.norm(qf, axis=1)[:, None] / np.linalg.norm(gf, axis=1)[None]
    np.testing.assert_allclose(compute_distance(qf, gf), 1 - cos, atol=1e-12)
    np.testing.assert_allclose(compute_distance(3 * qf, gf), 1 - cos, atol=1e-12)
    euc = np.linalg.norm(qf[:, None] - gf[None], axis=2)
    np.testing.assert_allclose(compute_distance(qf, gf, "euclidean"), euc, atol=1e-9)
    out = compute_distance(torch.tensor(qf, dtype=torch.float32), torch.tensor(gf))
    assert isinstance(out, torch.Tensor) and out.shape == (5, 9)
    out32 = compute_distance(qf.astype(np.float32), gf.astype(np.float32))
    assert isinstance(out32, np.ndarray) and out32.dtype == np.float32
    zero = compute_distance(np.zeros((1, 7)), gf)
    np.testing.assert_allclose(zero, 1.0)  # a zero vector is equally far from everything


# ---------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------


GOOD = dict(q_pids=[1, 2], g_pids=[1, 2, 3], q_camids=[0, 0], g_camids=[1, 1, 1])


def call(dist=None, **over):
    kwargs = {**GOOD, **over}
    dist = np.zeros((2, 3)) if dist is None else dist
    return evaluate(dist, kwargs.pop("q_pids"), kwargs.pop("g_pids"), kwargs.pop("q_camids"),
                    kwargs.pop("g_camids"), **kwargs)


@pytest.mark.parametrize(
    "over, error, message",
    [
        (dict(q_pids=[1, 2, 3]), ValueError, "q_pids has 3 entries but 2"),
        (dict(g_pids=[1, 2]), ValueError, "g_pids has 2 entries but 3"),
        (dict(q_camids=[0]), ValueError, "q_camids has 1 entries"),
        (dict(g_camids=[[1, 1, 1]]), ValueError, "g_camids must be 1-D"),
        (dict(q_pids=[1.0, 2.0]), TypeError, "q_pids must hold integers"),
        (dict(max_rank=0), ValueError, "max_rank must be an integer >= 1"),
        (dict(max_rank=2.5), ValueError, "max_rank"),
        (dict(metric="manhattan"), ValueError, r"unknown metric 'manhattan'.*cosine"),
        (dict(protocol="market"), ValueError, r"unknown protocol 'market'.*cuhk03"),
        (dict(protocol="cuhk03", num_repeats=0), ValueError, "num_repeats"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
        (dict(protocol="cuhk03", seed=1.5), ValueError, "seed must be an integer"),
        (dict(q_pids=[], q_camids=[]), ValueError, "q_pids has 0 entries but 2"),
        (dict(g_pids=[-1, -1, -1]), ValueError, "junk identity -1"),
        (dict(q_pids=[8, 9]), ValueError, "no query has a valid match"),
        (dict(q_camids=[1, 1]), ValueError, "no query has a valid match"),
    ],
)
def test_evaluate_bad_labels_and_options(over, error, message):
    with pytest.raises(error, match=message):
        call(**over)


@pytest.mark.parametrize(
    "dist, error, message",
    [
        (np.zeros(6), ValueError, "distmat must be 2-D"),
        (np.zeros((2, 3, 1)), ValueError, "distmat must be 2-D"),
        (np.zeros((3, 3)), ValueError, "q_pids has 2 entries but 3"),
        (np.zeros((2, 4)), ValueError, "g_pids has 3 entries but 4"),
        (np.array([[0.0, np.nan, 1.0], [0, 0, 0]]), ValueError, "NaN or infinite"),
        ([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], TypeError, "numpy array or a torch tensor"),
        (np.zeros((2, 3), dtype=bool), TypeError, "real numbers"),
        ((np.zeros((2, 4)), np.zeros((3, 5))), ValueError, "same feature dimension, got 4 and 5"),
        ((np.zeros(4), np.zeros((3, 4))), ValueError, "qf must be 2-D"),
        ((np.zeros((2, 4)), np.full((3, 4), np.inf)), ValueError, "gf contains NaN"),
        ((np.zeros((2, 4)),), ValueError, r"pair \(qf, gf\), got 1"),
        ((np.zeros((2, 4)), np.zeros((4, 4))), ValueError, "g_pids has 3 entries but 4"),
    ],
)
def test_evaluate_bad_distances_or_features(dist, error, message):
    with pytest.raises(error, match=message):
        call(dist)


def test_compute_distance_bad_inputs():
    with pytest.raises(ValueError, match=r"unknown metric 'cos'.*'cosine', 'euclidean'"):
        compute_distance(np.zeros((2, 3)), np.zeros((2, 3)), metric="cos")
    with pytest.raises(ValueError, match="same feature dimension, got 3 and 4"):
        compute_distance(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="gf must be 2-D"):
        compute_distance(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="qf must be a numpy array"):
        compute_distance([[1.0, 2.0]], np.zeros((2, 2)))


# ---------------------------------------------------------------------------------------------
# k-reciprocal re-ranking and query expansion
# ---------------------------------------------------------------------------------------------


def rerank_oracle(qf, gf, k1, k2, lam, metric):
    """Dense loops over Zhong et al. (CVPR 2017), Eq. 4-12, on the full distance matrix."""
    x = np.concatenate([qf, gf]).astype(np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - x @ x.T
    else:
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
    n, n_q = len(x), len(qf)
    order = np.argsort(d, axis=1, kind="stable")

    def reciprocal(p, k):
        return {g for g in order[p, : k + 1] if p in order[g, : k + 1]}

    half = int(np.around(k1 / 2))
    v = np.zeros((n, n))
    for p in range(n):
        r = reciprocal(p, k1)
        star = set(r)
        for c in r:
            rc = reciprocal(c, half)
            if len(r & rc) >= 2 / 3 * len(rc):
                star |= rc
        idx = sorted(star)
        v[p, idx] = np.exp(-d[p, idx]) / np.exp(-d[p, idx]).sum()
    v = np.stack([v[order[p, :k2]].mean(0) for p in range(n)])
    jac = np.array([[1 - np.minimum(v[i], v[n_q + j]).sum() / np.maximum(v[i], v[n_q + j]).sum()
                     for j in range(n - n_q)] for i in range(n_q)])
    return (1 - lam) * jac + lam * d[:n_q, n_q:]


@pytest.mark.parametrize(
    "k1, k2, lam, metric", [(20, 6, 0.3, "cosine"), (7, 1, 0.5, "euclidean"), (4, 3, 0.0, "cosine")]
)
def test_rerank_matches_dense_oracle(k1, k2, lam, metric):
    rng = np.random.default_rng(k1)
    qf, gf = rng.standard_normal((15, 6)), rng.standard_normal((45, 6))
    got = k_reciprocal_rerank(qf, gf, k1, k2, lam, metric=metric)
    assert got.shape == (15, 45) and got.dtype == np.float32
    np.testing.assert_allclose(got, rerank_oracle(qf, gf, k1, k2, lam, metric), atol=1e-6)


def test_rerank_properties():
    rng = np.random.default_rng(5)
    qf, gf = rng.standard_normal((10, 8)), rng.standard_normal((30, 8))
    # lambda = 1 keeps only the original distance
    np.testing.assert_allclose(k_reciprocal_rerank(qf, gf, lambda_value=1.0),
                               compute_distance(qf, gf), atol=1e-6)
    # swapping the roles of queries and gallery transposes the result
    swapped = k_reciprocal_rerank(gf, qf, 8, 3)
    np.testing.assert_allclose(swapped, k_reciprocal_rerank(qf, gf, 8, 3).T, atol=1e-6)
    # the Jaccard part alone is a distance in [0, 1]
    jac = k_reciprocal_rerank(qf, gf, 8, 3, lambda_value=0.0)
    assert jac.min() >= 0.0 and jac.max() <= 1.0 and jac.min() < 1.0


def chain_problem(seed, n_ids=40, per_id=12, dim=32):
    """Identities as random-walk chains: the query is a chain's first point, its matches lie
    along the chain, often farther than points of other chains (clear manifold structure)."""
    rng = np.random.default_rng(seed)
    starts = rng.standard_normal((n_ids, 1, dim)) * 0.3
    x = (starts + np.cumsum(rng.standard_normal((n_ids, per_id, dim)) * 0.3, axis=1))
    x = x.reshape(-1, dim).astype(np.float32)
    pids = np.repeat(np.arange(n_ids), per_id)
    is_query = np.arange(len(x)) % per_id == 0
    return (x[is_query], x[~is_query], pids[is_query], pids[~is_query],
            np.zeros(n_ids, dtype=int), np.ones(len(x) - n_ids, dtype=int))


@pytest.mark.parametrize("seed", [0, 1])
def test_rerank_improves_map_on_manifold_problem(seed):
    qf, gf, qp, gp, qc, gc = chain_problem(seed)
    base = evaluate((qf, gf), qp, gp, qc, gc, 10)
    reranked = evaluate(k_reciprocal_rerank(qf, gf), qp, gp, qc, gc, 10)
    assert base.mAP < 0.9
    assert reranked.mAP > base.mAP + 0.05


def test_rerank_bad_parameters():
    qf, gf = np.zeros((2, 3)) + 1, np.ones((5, 3))
    with pytest.raises(ValueError, match="k1 must be an integer >= 1"):
        k_reciprocal_rerank(qf, gf, k1=0)
    with pytest.raises(ValueError, match="k1=7 must be smaller than the number of samples 7"):
        k_reciprocal_rerank(qf, gf, k1=7)
    with pytest.raises(ValueError, match=r"k2=5 must be at most k1 \+ 1 = 4"):
        k_reciprocal_rerank(qf, gf, k1=3, k2=5)
    with pytest.raises(ValueError, match="lambda_value must be in"):
        k_reciprocal_rerank(qf, gf, k1=3, k2=2, lambda_value=1.5)
    with pytest.raises(ValueError, match="lambda_value must be a number"):
        k_reciprocal_rerank(qf, gf, k1=3, k2=2, lambda_value=None)
    with pytest.raises(ValueError, match="unknown metric"):
        k_reciprocal_rerank(qf, gf, k1=3, k2=2, metric="l1")


def test_query_expansion_hand_example():
    # q = (1, 0); gallery a = (0.6, 0.8) [cos 0.6], b = (0, 1) [cos 0], c = (-1, 0) [cos -1].
    qf = np.array([[2.0, 0.0]])
    gf = np.array([[0.6, 0.8], [0.0, 3.0], [-1.0, 0.0]])
    # top_k = 1, plain average: q + a = (1.6, 0.8) -> normalised (0.894, 0.447)
    want = np.array([[1.6, 0.8]]) / np.hypot(1.6, 0.8)
    np.testing.assert_allclose(average_query_expansion(qf, gf, 1), want)
    # top_k = 2, alpha = 2: q + 0.36 a + 0 * b = (1.216, 0.288)
    want = np.array([[1.216, 0.288]]) / np.hypot(1.216, 0.288)
    np.testing.assert_allclose(average_query_expansion(qf, gf, 2, alpha=2.0), want, atol=1e-7)
    # top_k = 0: the normalised query itself; outputs are unit vectors and keep their type
    np.testing.assert_allclose(average_query_expansion(qf, gf, 0), [[1.0, 0.0]])
    out = average_query_expansion(torch.tensor(qf), torch.tensor(gf), 3)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.norm(dim=1).numpy(), 1.0)


def test_query_expansion_improves_map_for_noisy_queries():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((50, 64))
    gp = np.repeat(np.arange(50), 6)
    gf = centres[gp] + 0.5 * rng.standard_normal((300, 64))
    qp = np.arange(50)
    qf = centres[qp] + 1.6 * rng.standard_normal((50, 64))
    qc, gc = np.zeros(50, dtype=int), np.ones(300, dtype=int)
    base = evaluate((qf, gf), qp, gp, qc, gc, 10)
    for alpha in (0.0, 3.0):
        expanded = evaluate((average_query_expansion(qf, gf, 3, alpha), gf), qp, gp, qc, gc, 10)
        assert expanded.mAP > base.mAP + 0.01


def test_query_expansion_bad_parameters():
    qf, gf = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="top_k=5 exceeds the gallery size 4"):
        average_query_expansion(qf, gf, 5)
    with pytest.raises(ValueError, match="top_k must be an integer >= 0"):
        average_query_expansion(qf, gf, -1)
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        average_query_expansion(qf, gf, 2, alpha=-1.0)
    with pytest.raises(ValueError, match="alpha must be a number, got 'big'"):
        average_query_expansion(qf, gf, 2, alpha="big")
    with pytest.raises(ValueError, match="same feature dimension"):
        average_query_expansion(qf, np.ones((4, 2)), 2)


def test_top_matches_follow_the_protocol_and_agree_with_rank1():
    from osnet_lib.metrics import top_matches

    rng = np.random.default_rng(7)
    qf, gf = rng.normal(size=(40, 8)), rng.normal(size=(90, 8))
    q_pids, g_pids = rng.integers(1, 10, 40), rng.integers(-1, 10, 90)
    q_cams, g_cams = rng.integers(0, 3, 40), rng.integers(0, 3, 90)
    top = top_matches(qf, gf, q_pids, g_pids, q_cams, g_cams, k=3, metric="euclidean")
    assert top.shape == (40, 3)
    first = top[:, 0]
    assert not np.any((g_pids[first] == q_pids) & (g_cams[first] == q_cams))  # filtered
    assert not np.any(g_pids[top[top >= 0]] == -1)  # junk ignored
    result = evaluate((qf, gf), q_pids, g_pids, q_cams, g_cams, metric="euclidean")
    valid = np.array([np.any((g_pids == p) & (g_cams != c)) for p, c in zip(q_pids, q_cams)])
    assert result.rank1 == pytest.approx(np.mean(g_pids[first[valid]] == q_pids[valid]))
    with pytest.raises(ValueError, match="k must be"):
        top_matches(qf, gf, q_pids, g_pids, q_cams, g_cams, k=0)


def test_per_query_outcomes_add_up_to_the_metrics():
    from osnet_lib.metrics import PerQuery

    rng = np.random.default_rng(3)
    qf, gf = torch.randn(120, 8), torch.randn(400, 8)
    qp, gp = rng.integers(0, 30, 120), rng.integers(-1, 30, 400)
    qc, gc = rng.integers(0, 3, 120), rng.integers(0, 3, 400)
    res = evaluate((qf, gf), qp, gp, qc, gc, max_rank=20, chunk_size=17)
    pq = res.per_query
    assert len(pq.index) == res.num_valid_queries
    for k in (1, 5, 20):
        assert pq.rank(k).mean() == pytest.approx(res.rank(k))
    assert pq.ap.mean() == pytest.approx(res.mAP)
    again = PerQuery.from_dict(pq.as_dict(decimals=12))
    assert again.first_match.tolist() == pq.first_match.tolist()
    assert "per_query" not in res.as_dict()
    with pytest.raises(ValueError, match="differ in length"):
        PerQuery.from_dict({"index": [0, 1], "first_match": [0], "ap": [1.0, 0.5]})
