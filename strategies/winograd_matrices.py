"""Lavin & Gray's minimal filtering matrices, stored exactly as the paper prints them.

F(m x m, r x r) computes an m x m block of a correlation with an r x r kernel g from one
alpha x alpha input tile d, alpha = m + r - 1, with alpha^2 multiplications::

    Y = A^T [ (G g G^T) * (B^T d B) ] A     # * element-wise; A^T (m, alpha), G (alpha, r),
                                            # B^T (alpha, alpha)      (Lavin & Gray 2016)
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

_HALF, _SIXTH = Fraction(1, 2), Fraction(1, 6)


@dataclass(frozen=True)
class MinimalFiltering:
    """The matrices of F(m x m, r x r) as exact fractions (tuples of rows)."""

    m: int
    r: int
    AT: tuple
    G: tuple
    BT: tuple

    @property
    def alpha(self) -> int:
        return self.m + self.r - 1

    def dual(self) -> MinimalFiltering:
        """F(r x r, m x m) on the same points: A^T <- G^T, G <- A, B^T unchanged.

        Both come from one Toom-Cook product of a degree m-1 and a degree r-1 polynomial,
        with the factors' roles swapped (the tests check the identity exactly).  Same B^T
        means the same input-tile transform, so the weight gradient (F(3x3, 2x2) for
        F(2x2, 3x3)) reuses the forward pass's transformed tiles.
        """
        return MinimalFiltering(self.r, self.m, tuple(zip(*self.G)), tuple(zip(*self.AT)), self.BT)

    def flip_permutation(self) -> np.ndarray | None:
        """p with G[:, ::-1] == G[p] (rotating g permutes the points), or None if none exists."""
        rows = [tuple(row) for row in self.G]
        flipped = [row[::-1] for row in rows]
        if sorted(flipped) != sorted(rows) or len(set(rows)) != len(rows):
            return None
        return np.array([rows.index(row) for row in flipped])

    def arrays(self, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A^T, G, B^T) as float arrays of ``dtype``."""
        return tuple(np.array([[float(v) for v in row] for row in M], dtype=dtype)
                     for M in (self.AT, self.G, self.BT))


#: F(2x2, 3x3) on the points 0, 1, -1, inf (Lavin & Gray 2016)
F2_3 = MinimalFiltering(
    2, 3,
    AT=((1, 1, 1, 0),
        (0, 1, -1, -1)),
    G=((1, 0, 0),
       (_HALF, _HALF, _HALF),
       (_HALF, -_HALF, _HALF),
       (0, 0, 1)),
    BT=((1, 0, -1, 0),
        (0, 1, 1, 0),
        (0, -1, 1, 0),
        (0, 1, 0, -1)))

#: F(4x4, 3x3) on the points 0, 1, -1, 2, -2, inf (Lavin & Gray 2016)
F4_3 = MinimalFiltering(
    4, 3,
    AT=((1, 1, 1, 1, 1, 0),
        (0, 1, -1, 2, -2, 0),
        (0, 1, 1, 4, 4, 0),
        (0, 1, -1, 8, -8, 1)),
    G=((Fraction(1, 4), 0, 0),
       (-_SIXTH, -_SIXTH, -_SIXTH),
       (-_SIXTH, _SIXTH, -_SIXTH),
       (Fraction(1, 24), Fraction(1, 12), _SIXTH),
       (Fraction(1, 24), -Fraction(1, 12), _SIXTH),
       (0, 0, 1)),
    BT=((4, 0, -5, 0, 1, 0),
        (0, -4, -4, 1, 1, 0),
        (0, 4, -4, -1, 1, 0),
        (0, -2, -1, 2, 1, 0),
        (0, 2, -1, -2, 1, 0),
        (0, 4, 0, -5, 0, 1)))

MINIMAL_FILTERINGS = {2: F2_3, 4: F4_3}
