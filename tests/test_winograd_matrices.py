"""The generated Winograd matrices: the minimal-filtering identity, exactly, for every algorithm offered."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from strategies.winograd_matrices import (INF, POINTS, MinimalFiltering, identity_filtering, minimal_filtering,
                                          primitive_scale, toom_cook)

OFFERED = [minimal_filtering(m, r) for m, r in sorted(POINTS)]
ALGORITHMS = OFFERED + [a.dual() for a in OFFERED] + [identity_filtering(m) for m in (2, 4, 6)]
IDS = [f"F({a.m},{a.r})" + ("dual" if i >= len(OFFERED) and i < 2 * len(OFFERED) else "")
       for i, a in enumerate(ALGORITHMS)]


def exact(rows) -> np.ndarray:
    return np.array([[Fraction(v) for v in row] for row in rows], dtype=object)


def unit(n: int, i: int) -> np.ndarray:
    return np.array([Fraction(int(k == i)) for k in range(n)], dtype=object)


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_every_algorithm_computes_the_correlation_exactly(alg: MinimalFiltering):
    """A^T[(G g) * (B^T d)] == correlation of an alpha-long d with an r-tap g, in fractions.

    Both sides are bilinear in (d, g): every pair of unit inputs proves it for all d and g.
    The 2-D algorithm nests two of these (its identity is the product of the 1-D ones)."""
    AT, G, BT = exact(alg.AT), exact(alg.G), exact(alg.BT)
    assert AT.shape == (alg.m, alg.alpha) and G.shape == (alg.alpha, alg.r) and BT.shape == (alg.alpha, alg.alpha)
    for p, i in itertools.product(range(alg.alpha), range(alg.r)):
        Y = AT.dot(G.dot(unit(alg.r, i)) * BT.dot(unit(alg.alpha, p)))
        # correlation: Y[a] = sum_i d[a + i] g[i] = 1 iff a = p - i
        assert list(Y) == [int(a == p - i) for a in range(alg.m)], (p, i)


@pytest.mark.parametrize("alg", OFFERED, ids=IDS[:len(OFFERED)])
def test_data_transforms_are_small_integers_and_fractions_sit_in_g(alg):
    """B^T rows and A^T columns are primitive integer vectors (exact in float32, the data's precision)."""
    for M in (alg.AT, alg.BT):
        assert all(Fraction(v).denominator == 1 for row in M for v in row)
    for row in alg.BT:
        assert primitive_scale(row) == 1
    for col in zip(*alg.AT):
        assert primitive_scale(col) == 1


@pytest.mark.parametrize("alg", OFFERED, ids=IDS[:len(OFFERED)])
def test_float_matrices_are_the_exact_ones(alg):
    for rows, floats in zip((alg.AT, alg.G, alg.BT), alg.arrays(np.float64)):
        assert np.array_equal(floats, np.array(exact(rows), dtype=np.float64))


def test_f2_3_is_lavin_and_grays_up_to_the_scaling_of_each_point():
    """Points 0, 1, -1, inf give the paper's F(2,3): each column of A^T, row of G and row of B^T
    differs from it by factors whose product is 1 (here +-1)."""
    alg = minimal_filtering(2, 3)
    paper_AT = exact(((1, 1, 1, 0), (0, 1, -1, -1)))
    paper_G = exact(((1, 0, 0), (Fraction(1, 2),) * 3, (Fraction(1, 2), Fraction(-1, 2), Fraction(1, 2)), (0, 0, 1)))
    paper_BT = exact(((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)))
    AT, G, BT = exact(alg.AT), exact(alg.G), exact(alg.BT)
    for j in range(4):
        a = next(AT[i, j] / paper_AT[i, j] for i in range(2) if paper_AT[i, j] != 0)
        g = next(G[j, i] / paper_G[j, i] for i in range(3) if paper_G[j, i] != 0)
        b = next(BT[j, i] / paper_BT[j, i] for i in range(4) if paper_BT[j, i] != 0)
        assert (AT[:, j] == a * paper_AT[:, j]).all() and (G[j] == g * paper_G[j]).all()
        assert (BT[j] == b * paper_BT[j]).all() and a * g * b == 1


def test_the_dual_swaps_the_roles_and_keeps_b():
    alg = minimal_filtering(4, 3)
    dual = alg.dual()
    assert (dual.m, dual.r) == (3, 4) and dual.BT == alg.BT
    assert (exact(dual.AT) == exact(alg.G).T).all() and (exact(dual.G) == exact(alg.AT).T).all()


@pytest.mark.parametrize("points,match", [((0, 1, INF), r"F\(2,3\) needs 4 distinct points"),
                                          ((0, 1, 1, INF), r"F\(2,3\) needs 4 distinct points")])
def test_bad_points_are_named(points, match):
    with pytest.raises(ValueError, match=match):
        toom_cook(2, 3, points)


def test_an_algorithm_not_offered_is_named():
    with pytest.raises(ValueError, match=r"no F\(6,5\): offered are"):
        minimal_filtering(6, 5)


def test_one_tap_axes_need_no_transform():
    alg = minimal_filtering(4, 1)
    assert alg.identity and alg.alpha == 4
    assert (exact(alg.AT) == exact(alg.BT)).all() and (exact(alg.BT) == np.eye(4, dtype=int)).all()


@pytest.mark.parametrize("alg", [minimal_filtering(2, 3), minimal_filtering(4, 3), minimal_filtering(2, 3).dual(),
                                 minimal_filtering(4, 3).dual()], ids=["F(2,3)", "F(4,3)", "F(3,2)", "F(3,4)"])
def test_the_nested_2d_algorithm_computes_the_tile_correlation_exactly(alg):
    """A^T[(G g G^T) * (B^T d B)]A == correlation of an alpha x alpha tile with an r x r kernel, in fractions
    (every pair of unit tiles; the 1-D identity above implies it, this checks the nesting itself)."""
    AT, G, BT = exact(alg.AT), exact(alg.G), exact(alg.BT)
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
            expected = np.zeros((alg.m, alg.m), dtype=int)
            if 0 <= p - i < alg.m and 0 <= q - j < alg.m:
                expected[p - i, q - j] = 1
            assert (AT.dot(U * V).dot(AT.T) == expected).all(), (p, q, i, j)
