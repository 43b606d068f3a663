"""Winograd minimal filtering matrices, generated exactly from interpolation points (Toom-Cook).

F(m, r) computes m outputs of a correlation with an r-tap kernel g from alpha = m + r - 1
inputs d with alpha multiplications (Lavin & Gray 2016; Winograd 1980)::

    Y = A^T [ (G g) * (B^T d) ]       A^T (m, alpha), G (alpha, r), B^T (alpha, alpha)

and the 2-D algorithm F(m x m, r x r) nests it: ``Y = A^T [(G g G^T) * (B^T d B)] A``.

Construction (Toom-Cook, as wincnn).  With the points p_0..p_{alpha-1} (one may be
infinity) let E_k be the alpha x k Vandermonde matrix, row j = (1, p_j, ..., p_j^{k-1}),
the row of infinity (0, ..., 0, 1) (the leading coefficient).  Evaluating a(x) g(x) at
the points and interpolating is the linear convolution ``c = E_alpha^{-1} [(E_m a) * (E_r g)]``;
its transpose is the correlation above with::

    A^T = E_m^T,   G = E_r,   B^T = E_alpha^{-T}

Each point j may scale column j of A^T, row j of G and row j of B^T by factors whose
product is 1.  Here B^T's rows and A^T's columns are made primitive integer vectors, so
every fraction sits in G: the data transforms (B^T, A^T) use small integers, exact in
floating point, and G is applied once per call, to the weights
(:func:`strategies.winograd_transforms.filter_transform`).  All arithmetic is in
``fractions.Fraction``; the tests check ``A^T[(G g) * (B^T d)] = correlation`` exactly for
every pair of unit inputs of every generated algorithm.

Points, chosen by measurement.  Under float32 the error of the products (sums over C of
U * V, rounded at every step) dominates (measured: float64 products cut F(4x4,3x3)'s error
2.8x; float64 transforms, filter transform included, changed it < 15%), and it reaches
output a amplified by (:func:`amplification`)::

    E_a = sum_k A^T[a,k]^2 |B^T row k|^2 |G row k|^2        (max over a; invariant to the scaling)

whose 2-D value is E_a E_b.  Searching every set of real points from {0, +-1, +-2, +-1/2,
+-3, +-1/3, +-3/2, +-2/3, +-4, +-1/4, inf} (and the symmetric sets {0, +-p, +-q, inf}, p, q
= i/j with i <= 12, j <= 8) ranks them; the best were then measured against the float64
oracle (float32, max relative error, N=2 versions of the four ResNet 3x3 layers, C = 64..512,
each product one float32 sum; the halved sums of :mod:`strategies.winograd_plan` then cut
F(4x4)'s error further):

    F(4,3) points                    max_a E_a   out error vs F(2x2,3x3)'s
    0, +-1, +-2, inf (Lavin & Gray)     94.3      13-20x
    0, +-1, +-1/2, inf                  94.3      13-20x   (the mirror image: same error)
    0, +-1, 1/2, -2, inf                31.3      5.5-7.7x
    0, +-3/2, +-2/3, inf                21.4      3.9-5.2x  <- kept
    +-1, +-3, +-1/3                     21.4      3.6-5.0x  (dense B^T, no 0 or inf)

F(2,3): {0, +-1, inf} (E = 5.0) beats every other set tried (e.g. {0, -1, 1/2, inf}: E = 12.3,
2.6x its error).  F(6,3): the best set found, {0, +-1, +-2, +-1/2, inf} (E = 138.8), is ~28x
F(2x2,3x3)'s error.  F(m,5) and F(m,2) (stride-2 phases) were ranked the same way
(:data:`POINTS`).  The comparison is re-measured in tests/test_winograd_points.py.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, lcm

import numpy as np

#: the point at infinity (its row of E_k is the leading coefficient)
INF = "inf"

_H, _T = Fraction(1, 2), Fraction(2, 3)
#: interpolation points of each F(m, r) offered, chosen for float32 accuracy (module docstring)
POINTS: dict[tuple[int, int], tuple] = {
    (2, 2): (0, -1, INF),                                   # stride-2 phases of 3x3 kernels
    (4, 2): (0, Fraction(3, 4), Fraction(-3, 4), Fraction(5, 3), INF),
    (6, 2): (0, _T, -_T, 1, -1, Fraction(5, 2), INF),
    (2, 3): (0, 1, -1, INF),                                # Lavin & Gray's
    (4, 3): (0, _T, -_T, 1 / _T, -1 / _T, INF),
    (6, 3): (0, 1, -1, 2, -2, _H, -_H, INF),
    (2, 5): (0, _T, -_T, 1 / _T, -1 / _T, INF),
    (4, 5): (0, 1, -1, 2, -2, _H, -_H, INF),
}


@dataclass(frozen=True)
class MinimalFiltering:
    """The matrices of one 1-D algorithm F(m, r) as exact fractions (tuples of rows)."""

    m: int
    r: int
    points: tuple
    AT: tuple
    G: tuple
    BT: tuple

    @property
    def alpha(self) -> int:
        """Inputs per tile (and multiplications per output tile): m + r - 1."""
        return self.m + self.r - 1

    @property
    def identity(self) -> bool:
        """F(m, 1): a 1-tap kernel needs no transform (A^T, G, B^T are identities)."""
        return self.r == 1

    def __str__(self) -> str:
        return f"F({self.m},{self.r})"

    def dual(self) -> MinimalFiltering:
        """F(r, m) on the same points: A^T <- G^T, G <- A, B^T unchanged.

        Both come from one Toom-Cook product with the factors' roles swapped (the tests check
        the identity exactly).  Same B^T means the same input-tile transform, so the weight
        gradient (dout tiles as the kernels) reuses the forward pass's transformed tiles V.
        """
        return MinimalFiltering(self.r, self.m, self.points, tuple(zip(*self.G)), tuple(zip(*self.AT)), self.BT)

    def arrays(self, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A^T, G, B^T) as float arrays of ``dtype``."""
        return tuple(np.array([[float(v) for v in row] for row in M], dtype=dtype) for M in (self.AT, self.G, self.BT))


def amplification(alg: MinimalFiltering) -> float:
    """max_a sum_k A^T[a,k]^2 |B^T row k|^2 |G row k|^2: how much F(m, r) amplifies the products'
    rounding into an output (module docstring; invariant to the per-point scaling)."""
    AT, G, BT = alg.arrays(np.float64)
    return float(((AT ** 2) * ((BT ** 2).sum(1) * (G ** 2).sum(1))[None]).sum(1).max())


def vandermonde(points, k: int) -> list[list[Fraction]]:
    """E_k: row j = (1, p_j, ..., p_j^{k-1}); the row of infinity is (0, ..., 0, 1)."""
    return [[Fraction(int(i == k - 1)) for i in range(k)] if p == INF else [Fraction(p) ** i for i in range(k)]
            for p in points]


def inverse(M: list[list[Fraction]]) -> list[list[Fraction]]:
    """The exact inverse of a square Fraction matrix (Gauss-Jordan); ValueError if singular."""
    n = len(M)
    A = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(M)]
    for c in range(n):
        pivot = next((r for r in range(c, n) if A[r][c] != 0), None)
        if pivot is None:
            raise ValueError("the points must be distinct: their Vandermonde matrix is singular")
        A[c], A[pivot] = A[pivot], A[c]
        A[c] = [v / A[c][c] for v in A[c]]
        for r in range(n):
            if r != c and A[r][c] != 0:
                A[r] = [a - A[r][c] * b for a, b in zip(A[r], A[c])]
    return [row[n:] for row in A]


def primitive_scale(vector) -> Fraction:
    """s with s * vector a primitive integer vector whose first nonzero entry is positive."""
    nonzero = [Fraction(v) for v in vector if v != 0]
    den = lcm(*(v.denominator for v in nonzero))
    num = gcd(*((v * den).numerator for v in nonzero))
    return Fraction(den, num) if nonzero[0] > 0 else -Fraction(den, num)


def toom_cook(m: int, r: int, points) -> MinimalFiltering:
    """F(m, r) on ``points`` (alpha = m + r - 1 distinct values, at most one :data:`INF`)."""
    alpha = m + r - 1
    points = tuple(p if p == INF else Fraction(p) for p in points)
    if len(points) != alpha or len(set(points)) != alpha:
        raise ValueError(f"F({m},{r}) needs {alpha} distinct points; got {points}")
    Einv = inverse(vandermonde(points, alpha))
    BT = [[Einv[l][j] for l in range(alpha)] for j in range(alpha)]          # E_alpha^{-T}
    AT = [list(col) for col in zip(*vandermonde(points, m))]                 # E_m^T
    G = vandermonde(points, r)
    for j in range(alpha):
        b, a = primitive_scale(BT[j]), primitive_scale([row[j] for row in AT])
        BT[j] = [v * b for v in BT[j]]
        for row in AT:
            row[j] *= a
        G[j] = [v / (a * b) for v in G[j]]
    return MinimalFiltering(m, r, points, *(tuple(map(tuple, M)) for M in (AT, G, BT)))


def identity_filtering(m: int) -> MinimalFiltering:
    """F(m, 1): the 1-tap kernel's 'transform' is the identity (a plain product per pixel)."""
    eye = tuple(tuple(Fraction(int(i == j)) for j in range(m)) for i in range(m))
    return MinimalFiltering(m, 1, (), eye, tuple((Fraction(1),) for _ in range(m)), eye)


@functools.lru_cache(maxsize=None)
def minimal_filtering(m: int, r: int) -> MinimalFiltering:
    """The algorithm F(m, r) offered for an r-tap kernel axis (r = 1: the identity)."""
    if r == 1:
        return identity_filtering(m)
    if (m, r) not in POINTS:
        raise ValueError(f"no F({m},{r}): offered are {sorted(POINTS)} and F(m,1)")
    return toom_cook(m, r, POINTS[(m, r)])

