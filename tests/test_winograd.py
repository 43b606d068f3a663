"""Winograd beyond the registry suite: the transforms' exact identity, edge tiles, m=4, skipping."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import strategies.winograd as winograd_module
from conftest import SHAPE_IDS, SHAPES, make_inputs
from strategies import get_strategy
from strategies.winograd_matrices import F2_3, F4_3, MINIMAL_FILTERINGS
from test_strategies import run_and_check

ALGORITHMS = [F2_3, F4_3, F2_3.dual(), F4_3.dual()]
ALGORITHM_IDS = [f"F({a.m}x{a.m},{a.r}x{a.r})" for a in ALGORITHMS]


def exact(rows) -> np.ndarray:
    return np.array([[Fraction(v) for v in row] for row in rows], dtype=object)


@pytest.mark.parametrize("alg", ALGORITHMS, ids=ALGORITHM_IDS)
def test_transforms_compute_the_tile_correlation_exactly(alg):
    """A^T[(G g G^T) * (B^T d B)]A == correlation of an alpha x alpha tile d with an r x r g.

    Both sides are bilinear in (d, g), so checking every pair of unit tiles proves the
    identity for all d and g; the arithmetic is in fractions, so equality is exact.
    """
    AT, G, BT = exact(alg.AT), exact(alg.G), exact(alg.BT)
    assert AT.shape == (alg.m, alg.alpha) and G.shape == (alg.alpha, alg.r)
    assert BT.shape == (alg.alpha, alg.alpha)
    U_all = {}
    for i, j in itertools.product(range(alg.r), repeat=2):
        g = np.zeros((alg.r, alg.r), dtype=object) + Fraction(0)
        g[i, j] = Fraction(1)
        U_all[i, j] = G.dot(g).dot(G.T)
    for p, q in itertools.product(range(alg.alpha), repeat=2):
        d = np.zeros((alg.alpha, alg.alpha), dtype=object) + Fraction(0)
        d[p, q] = Fraction(1)
        V = BT.dot(d).dot(BT.T)
        for (i, j), U in U_all.items():
            Y = AT.dot(U * V).dot(AT.T)
            # correlation: Y[a, b] = sum_ij d[a+i, b+j] g[i, j] = 1 iff (a, b) = (p-i, q-j)
            expected = np.zeros((alg.m, alg.m), dtype=int)
            if 0 <= p - i < alg.m and 0 <= q - j < alg.m:
                expected[p - i, q - j] = 1
            assert (Y == expected).all(), (p, q, i, j)


@pytest.mark.parametrize("alg", [F2_3, F4_3], ids=ALGORITHM_IDS[:2])
def test_float_matrices_are_the_exact_ones(alg):
    for exact_rows, floats in zip((alg.AT, alg.G, alg.BT), alg.arrays(np.float64)):
        assert np.array_equal(floats, np.array(exact(exact_rows), dtype=np.float64))


def test_rotating_the_kernel_permutes_the_points_of_f2_only():
    """F(2x2,3x3): G rot180(g) G^T = P (G g G^T) P^T, P swapping the points 0 and inf."""
    p = F2_3.flip_permutation()
    assert list(p) == [3, 1, 2, 0]
    G = exact(F2_3.G)
    g = exact(np.random.default_rng(0).integers(-9, 9, (3, 3)))
    assert (G.dot(g[::-1, ::-1]).dot(G.T) == G.dot(g).dot(G.T)[np.ix_(p, p)]).all()
    assert F4_3.flip_permutation() is None       # the points +-2 go to +-1/2: no permutation


# the registry suite covers m=2; conftest's VARIANTS is shared, so m=4 runs the table here
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("x_shape,w_shape,stride,pad,why", SHAPES, ids=SHAPE_IDS)
def test_f4_matches_oracle_on_the_shape_table(x_shape, w_shape, stride, pad, why, dtype):
    strategy = get_strategy("winograd", m=4)
    if strategy.skip_reason(x_shape, w_shape, {"stride": stride, "pad": pad}) is None:
        run_and_check(strategy, x_shape, w_shape, stride, pad, dtype)


EDGE_CASES = [
    ((2, 5, 9, 7), (3, 5, 3, 3), 0, "pad 0, odd output 7x5: edge tiles"),
    ((1, 4, 5, 6), (2, 4, 3, 3), 2, "pad 2, output 7x8"),
    ((2, 3, 6, 7), (4, 3, 3, 3), 3, "pad 3 > 2: dx crops dout"),
    ((1, 2, 1, 2), (3, 2, 3, 3), 1, "1x2 input, one edge tile"),
    ((3, 6, 10, 9), (5, 6, 3, 3), 1, "several tiles, odd width"),
]


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("x_shape,w_shape,pad,why", EDGE_CASES, ids=[c[3] for c in EDGE_CASES])
def test_edge_tiles_and_padding(m, x_shape, w_shape, pad, why, dtype):
    run_and_check(get_strategy("winograd", m=m), x_shape, w_shape, 1, pad, dtype)


@pytest.mark.parametrize("m", [2, 4])
def test_many_channels_float32(m):
    """C = 256: long GEMM reductions in float32 stay within the tolerance."""
    run_and_check(get_strategy("winograd", m=m), (2, 256, 6, 5), (8, 256, 3, 3), 1, 1, np.float32)


@pytest.mark.parametrize("w_shape,stride,word", [((2, 3, 5, 5), 1, "3x3 kernel, got 5x5"),
                                                 ((2, 3, 1, 1), 1, "3x3 kernel, got 1x1"),
                                                 ((2, 3, 3, 2), 1, "3x3 kernel, got 3x2"),
                                                 ((2, 3, 3, 3), 2, "stride 1, got stride 2")])
def test_declines_other_kernels_and_strides(w_shape, stride, word):
    strategy = get_strategy("winograd")
    x_shape = (1, 3, 8, 8)
    reason = strategy.skip_reason(x_shape, w_shape, {"stride": stride, "pad": 1})
    assert reason is not None and word in reason
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    with pytest.raises(ValueError, match=word):
        strategy.forward(x, w, b, {"stride": stride, "pad": 1})


def test_option_m_label_and_error_family():
    assert (get_strategy("winograd").label, get_strategy("winograd").family) == ("winograd", "winograd")
    f4 = get_strategy("winograd", m=4)
    assert (f4.label, f4.family) == ("winograd[m=4]", "winograd_f4")
    assert get_strategy("winograd").family == "winograd"      # per instance, not per class
    assert set(MINIMAL_FILTERINGS) == {2, 4}
    for bad in (3, 6, 2.0, True, "2"):
        with pytest.raises(ValueError, match=r"m must be one of \{2, 4\}.*got m="):
            get_strategy("winograd", m=bad)


@pytest.mark.parametrize("m,transforms", [(2, 1), (4, 2)])
def test_backward_reuses_the_filter_transform_when_it_can(monkeypatch, m, transforms):
    """m=2: dx reuses the forward's U (rotation = point permutation); m=4 transforms again."""
    calls = []
    original = winograd_module.filter_transform
    monkeypatch.setattr(winograd_module, "filter_transform", lambda *a: calls.append(1) or original(*a))
    strategy = get_strategy("winograd", m=m)
    x, w, b = make_inputs((1, 2, 6, 6), (3, 2, 3, 3), np.float64)
    out, cache = strategy.forward(x, w, b, {"stride": 1, "pad": 1})
    strategy.backward(np.ones_like(out), cache)
    assert len(calls) == transforms
