"""Winograd minimal filtering F(m x m, 3 x 3) (Lavin & Gray 2016), stride 1, 3x3 kernels only.

Forward (shapes; alpha = m + 2, T = th*tw*N tiles, th = ceil(H'/m), tw = ceil(W'/m))::

    V = B^T d B     for every alpha x alpha input tile d  # (alpha^2, C, T)  tiles overlap by 2
    U = G g G^T     for every kernel g                     # (alpha^2, F, C)
    M = U @ V                                              # alpha^2 batched GEMMs (F, C) @ (C, T)
    out = A^T M A   per tile, edge tiles cropped           # (N, F, H', W')

Backward::

    dx: the same F(m x m, 3 x 3) on dout zero-padded by 2 (cropped by pad) with the kernel
        rotated 180 degrees and its channels swapped: GEMMs (C, F) @ (F, T').  For m = 2
        the rotation only swaps the points 0 and inf, so the forward's U is reused
        (transposed, with B^T's rows and A^T's columns permuted): no second filter transform.
    dw: F(3 x 3, m x m), the dual algorithm on the same points (A^T <- G^T, G <- A, same
        B^T): m x m tiles of dout are the filters and the forward's V the data tiles
        (reused, not recomputed); the sum over tiles and images is inside alpha^2 GEMMs
        (F, T) @ (T, C), and G^T M G gives the 3x3 result.
    db: a sum.

Memory: the cache holds V (alpha^2/m^2 times the input: 4x for m = 2) and U.  The layouts
and transforms are in :mod:`strategies.winograd_transforms`, the matrices in
:mod:`strategies.winograd_matrices`.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from .base import ConvStrategy
from .geometry import ConvProblem
from .phases import step
from .winograd_matrices import MINIMAL_FILTERINGS
from .winograd_transforms import (dout_tile_products, filter_transform, input_transform,
                                  kernel_output_transform, products_and_output_transform, tile_grid)


class Winograd(ConvStrategy):
    """F(2x2, 3x3) by default; ``m=4`` selects F(4x4, 3x3) (more error, fewer products)."""

    name = "winograd"
    family = "winograd"

    def __init__(self, m: int = 2):
        if isinstance(m, bool) or not isinstance(m, Integral) or m not in MINIMAL_FILTERINGS:
            raise ValueError(f"m must be one of {set(MINIMAL_FILTERINGS)} (the output tile size "
                             f"of F(m x m, 3 x 3)); got m={m!r}")
        self.m = int(m)
        self.family = "winograd" if m == 2 else f"winograd_f{m}"
        self.minimal = MINIMAL_FILTERINGS[m]

    @property
    def options(self) -> dict:
        return {} if self.m == 2 else {"m": self.m}

    def _skip_reason(self, problem: ConvProblem) -> str | None:
        algorithm = f"Winograd F({self.m}x{self.m},3x3)"
        if (problem.HH, problem.WW) != (3, 3):
            return f"{algorithm} needs a 3x3 kernel, got {problem.HH}x{problem.WW}"
        if problem.stride != 1:
            return f"{algorithm} needs stride 1, got stride {problem.stride}"
        return None

    def _tiles(self, out_h: int, out_w: int) -> tuple[int, int]:
        """(th, tw): m x m output tiles per column and row; edge tiles overhang odd sizes."""
        return -(-out_h // self.m), -(-out_w // self.m)

    def _forward(self, x, w, b, problem: ConvProblem):
        AT, G, BT = self.minimal.arrays(x.dtype)
        th, tw = self._tiles(problem.out_h, problem.out_w)
        with step("tiles"):
            grid = tile_grid(x, problem.pad, th, tw, self.m, 3)
        with step("input_transform"):
            V = input_transform(grid, BT, th, tw)                       # (alpha^2, C, T)
        del grid
        with step("filter_transform"):
            U = filter_transform(w, G)                                  # (alpha^2, F, C)
        with step("products_and_output_transform"):
            out = products_and_output_transform(U, V, AT, th, tw, problem.out_h, problem.out_w, b)
        # w is needed again only when rotating the kernel does not just permute G's points
        return out, (V, U, w if self.minimal.flip_permutation() is None else None)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        V, U, w = saved
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = dout.sum(axis=(0, 2, 3))
        if "w" in wrt:
            dw = self._dw(dout, problem, V)
        if "x" in wrt:
            dx = self._dx(dout, problem, U, w)
        return dx, dw, db

    def _dx(self, dout, problem: ConvProblem, U, w):
        """Full correlation of dout with the rotated, channel-swapped kernel, cropped by pad."""
        AT, G, BT = self.minimal.arrays(dout.dtype)
        p = self.minimal.flip_permutation()
        with step("dx_filter_transform"):
            if p is not None:       # G rot(g) G^T = P (G g G^T) P^T: permute the points instead
                inv = np.argsort(p)
                BT, AT, Ur = BT[inv], AT[:, inv], U.transpose(0, 2, 1)  # Ur (alpha^2, C, F) view
            else:
                Ur = filter_transform(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1], G)
        th, tw = self._tiles(problem.H, problem.W)
        # dout padded by 2 then cropped by pad is dout offset by 2 - pad (negative: cropped)
        with step("dx_tiles"):
            grid = tile_grid(dout, 2 - problem.pad, th, tw, self.m, 3)
        with step("dx_input_transform"):
            Vd = input_transform(grid, BT, th, tw)
        del grid
        with step("dx_products_and_output_transform"):
            return products_and_output_transform(Ur, Vd, AT, th, tw, problem.H, problem.W)

    def _dw(self, dout, problem: ConvProblem, V):
        """F(3x3, m x m): dout tiles as filters on the forward's transformed input tiles V."""
        ATd, Gd, _ = self.minimal.dual().arrays(dout.dtype)             # ATd = G^T, Gd = A
        th, tw = self._tiles(problem.out_h, problem.out_w)
        with step("dw_products"):
            M = dout_tile_products(dout, V, Gd, th, tw)
        with step("dw_output_transform"):
            return kernel_output_transform(M, ATd)
