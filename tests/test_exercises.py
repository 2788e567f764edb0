"""The answers of the chapters' exercise solutions, recomputed independently.

Each chapter's solution cells write their answers to ``book/results/<chapter>/exercises.json``
(committed from the ``cpu`` execution; tests/test_notebooks.py checks that the ``quick``
re-execution in CI gives the same answers). The expected values here come from the paper's
formulas and Table 1, worked out by hand in this file, not from the library's counters.
"""

import math
from fractions import Fraction

from conftest import chapter_record

#: Table 1: output channels of the three stages, two OS blocks each, at width 1.0.
STAGES = [(256, 2), (384, 2), (512, 2)]
STEM = 64
FC = 512


def answers(chapter: str) -> dict:
    return chapter_record(chapter, "exercises.json")


def chain(layers: list[tuple[int, int]]) -> int:
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


def widths(beta: float) -> tuple[int, list[int]]:
    return int(STEM * beta), [int(c * beta) for c, n in STAGES for _ in range(n)]


def osnet_params(beta: float, T: int = 4) -> int:
    """OSNet's parameters (no classifier) from Table 1, layer by layer."""
    def conv(cin: int, cout: int, k: int = 1) -> int:
        return cin * cout * k * k

    def bn(c: int) -> int:
        return 2 * c

    stem, blocks = widths(beta)
    total = conv(3, stem, 7) + bn(stem)
    cin = stem
    for i, cout in enumerate(blocks):
        m = cout // 4
        hidden = m // 16
        layers = T * (T + 1) // 2  # stream t holds t Lite 3x3 layers
        total += conv(cin, m) + bn(m)
        total += layers * (conv(m, m) + 9 * m + bn(m))
        total += m * hidden + hidden + hidden * m + m  # the shared gate
        total += conv(m, cout) + bn(cout)
        if cin != cout:
            total += conv(cin, cout) + bn(cout)
        if i in (1, 3):  # transitions after conv2 and conv3
            total += conv(cout, cout) + bn(cout)
        cin = cout
    total += conv(cin, cin) + bn(cin)  # conv5
    total += cin * FC + FC + bn(FC)  # fc + BatchNorm1d
    return total


def osnet_mult_adds(height: int, width: int, beta: float = 1.0) -> int:
    """OSNet's Mult-Adds up to the embedding at width beta, from Table 1, layer by layer."""
    def out(size: int, k: int, s: int, p: int) -> int:
        return (size + 2 * p - k) // s + 1

    h, w = out(height, 7, 2, 3), out(width, 7, 2, 3)
    stem, blocks = widths(beta)
    total = h * w * 49 * 3 * stem
    h, w = out(h, 3, 2, 1), out(w, 3, 2, 1)
    cin = stem
    for i, cout in enumerate(blocks):
        m, hidden = cout // 4, cout // 64
        hw = h * w
        total += hw * cin * m + 10 * hw * (m * m + 9 * m) + hw * m * cout
        total += 4 * (m * hidden + hidden * m)  # the gate, once per stream, on pooled maps
        if cin != cout:
            total += hw * cin * cout
        if i in (1, 3):
            total += hw * cout * cout
            h, w = h // 2, w // 2
        cin = cout
    return total + h * w * cin * cin + cin * FC


def test_the_independent_formulas_reproduce_table1():
    assert round(osnet_params(1.0) / 1e6, 1) == 2.2
    assert round(osnet_mult_adds(256, 128) / 1e6, 1) == 978.9


def test_chapter_02_answers():
    a = answers("02_depthwise_separable")
    # 1/c + 1/9 <= 1/8  <=>  c >= 72
    c = next(c for c in range(1, 1000) if Fraction(1, c) + Fraction(1, 9) <= Fraction(1, 8))
    assert a["ex2_1_min_width"] == c == 72
    assert a["ex2_2_extra_mult_adds"] == 64 * 32 * 9 * (128 - 32)
    m = 512 // 4
    assert a["ex2_3_conv4_lite_weights"] == (9 + m) * m


def test_chapter_03_answers():
    a = answers("03_omni_scale_block")
    T = math.ceil((13 - 1) / 2)
    assert a["ex3_1_T"] == T == 6 and a["ex3_1_measured"] == 2 * T + 1
    assert a["ex3_2_param_gain"] == osnet_params(1.0, T=4) - osnet_params(1.0, T=1)
    T2 = 2
    expected = chain([(7, 2), (3, 2)] + [(3, 1)] * (2 * T2) + [(2, 2)] + [(3, 1)] * (2 * T2))
    assert a["ex3_3_theory"] == a["ex3_3_measured"] == expected == 111


def test_chapter_04_answers():
    a = answers("04_aggregation_gate")
    m = 512 // 4
    hidden = m // 16
    gate = m * hidden + hidden + hidden * m + m
    assert a["ex4_1_unified"] == gate and a["ex4_1_separate"] == 4 * gate
    assert a["ex4_2_fig6_length"] == 4 * m
    _, blocks = widths(1.0)
    assert a["ex4_3_hidden_widths"] == [c // 4 // 16 for c in blocks]


def test_chapter_05_answers():
    a = answers("05_architecture")
    assert a["ex5_1_params_x0_5"] == osnet_params(0.5)
    assert a["ex5_2_mult_adds_320x160"] == osnet_mult_adds(320, 160)
    table1_ain = ["OS+IN_in", "OS+IN_in", "OS", "OS+IN_in", "OS+IN_in", "OS"]
    names = [f"conv{s}.{i}" for s in (2, 3, 4) for i in (0, 1)]
    assert a["ex5_3_in_inside"] == [n for n, kind in zip(names, table1_ain) if kind == "OS+IN_in"]


def test_chapter_09_answers():
    a = answers("09_gate_clusters")
    # Fig. 6's descriptor: T streams x the inner width of conv4.1 (a quarter of 512 x width)
    assert a["ex9_1_osnet_x0_25"] == 4 * (int(512 * 0.25) // 4) == 128
    assert a["ex9_1_osnet_x1_0"] == 4 * (512 // 4) == 512
    # a a a a b b c c: one cluster -> 4/8; {a a b b}, {a a c c} -> a wins both ties -> 4/8;
    # one image per cluster -> 8/8
    assert (a["ex9_2_one_cluster"], a["ex9_2_two_clusters"], a["ex9_2_eight_clusters"]) == (
        0.5, 0.5, 1.0)
    # the even-parity words of length 3: C(4, 2) pairs, all at Hamming distance 2
    assert a["ex9_3_pairs"] == math.comb(4, 2) and a["ex9_3_cues_per_pair"] == [2]


def test_chapter_10_answers():
    a = answers("10_activation_maps")
    stride = 2 * 2 * 2 * 2  # first convolution, max pooling, two transitions (Table 1)
    for h, w in ((256, 128), (128, 64)):
        assert a[f"ex10_1_cells_{h}x{w}"] == [h // stride, w // stride]
        assert a[f"ex10_1_pixels_per_cell_{h}x{w}"] == stride * stride
    assert a["ex10_2_uniform"] == 4 / 16 and a["ex10_2_inside"] == 1.0
    assert a["ex10_3_views"] == {"stripe_period": ["front", "back", "side"], "logo": ["front"],
                                 "back_mark": ["back"]}
    assert a["ex10_3_side"] == ["stripe_period"]


def test_chapter_07_answers():
    from scipy import stats

    a = answers("07_ablations")
    # concatenation: the last 1x1 layer takes 4m channels instead of m; the unified gate goes
    extra = 0
    _, blocks = widths(1.0)
    for cout in blocks:
        m = cout // 4
        hidden = m // 16
        extra += 3 * m * cout - (m * hidden + hidden + hidden * m + m)
    assert a["ex7_1_concat_extra"] == extra == 704_668
    # three paired differences: Student-t with 2 degrees of freedom
    d = [3.1, 0.4, 2.2]
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    assert mean - stats.t.ppf(0.975, 2) * sd / math.sqrt(3) < 0
    assert a["ex7_2_verdict"] == "inconclusive"
    n = next(n for n in range(3, 50) if stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < mean)
    assert a["ex7_2_seeds_needed"] == n == 5
    # learned-and-fixed gates: T x m weights in place of the gate's 2mh + h + m
    saves = sum((c // 4) * (c // 64) * 2 + c // 64 + c // 4 - 4 * (c // 4) for c in blocks)
    assert a["ex7_3_static_saves"] == saves == 5_732
