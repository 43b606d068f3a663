"""The blocked Winograd driver: transform, multiply and inverse-transform one block of tile rows
at a time, so that a block's V, M and Y stay in cache, writing into preallocated outputs.

A layer is a sum of *terms* sharing one output tiling: one term at stride 1, one per
polyphase phase at stride s (:mod:`strategies.polyphase`), each a stride-1 correlation of
a source (a view) with a sub-kernel, by its own pair of 1-D algorithms (F(m, r_h) down
the rows, F(m, r_w) along them; F(m, 1) is the identity, so a 1x1 sub-kernel is a plain
GEMM).  Per block::

    for each term:   V = B_h^T d B_w     (alpha_h*alpha_w, C, Tb)    input_transform
                     M = U @ V           alpha^2 GEMMs (F, C) @ (C, Tb)  products
                     Y += A_h^T M A_w    (m, m, F, Tb)               output_transform
    out[block] = Y + b                   (scatter into the output's tile rows)

and :func:`backward` runs the transpose of every step over the same blocks (dw's alpha^2
GEMMs (F, Tb) @ (Tb, C) accumulate block by block; dx's tiles overlap-add into a column
grid's gradient, folded into dx at the end).  Blocks and buffers come from the call's
:class:`~strategies.winograd_plan.Correlation` (the block rule is there); every buffer is
allocated once per call and reused by every block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .phases import step
from .winograd_matrices import MinimalFiltering
from .winograd_plan import Correlation, product_parts
from .winograd_transforms import column_grid, input_transform, output_transform, scatter_tiles
from .winograd_transposes import (column_grid_adjoint, dout_tiles, dout_transform, input_transform_adjoint,
                                  kernel_output_transform)


@dataclass(frozen=True)
class Term:
    """One stride-1 correlation of a layer's sum: ``src`` (N, C, Hs, Ws) preceded by ``off`` zeros."""

    src: np.ndarray
    off_h: int
    off_w: int
    rows: MinimalFiltering     # F(m, r_h)
    cols: MinimalFiltering     # F(m, r_w)

    @property
    def slots(self) -> int:
        return self.rows.alpha * self.cols.alpha


def correlate(call: Correlation, terms: list[Term], U: list[np.ndarray], out: np.ndarray,
              bias: np.ndarray | None = None, keep_V: bool = False) -> list | None:
    """out (N, F, oh, ow) = sum over terms of the term's correlation, + bias; U[t] (alpha_h, alpha_w,
    F, C) may broadcast along identity axes.  Returns the V blocks of every term if ``keep_V``."""
    tiling = call.tiling
    m, tw, F, C = tiling.m, tiling.tw, call.F, call.C
    dtype = out.dtype
    with step("tiles"):
        grids = [column_grid(t.src, t.off_h, t.off_w, m * tiling.th + t.rows.alpha - m, t.cols.alpha, m, tw)
                 for t in terms]
    mats = [(_matrices(t.rows, dtype), _matrices(t.cols, dtype)) for t in terms]
    sizes = call.buffers(keep_V)
    dbuf, vbuf, mbuf, rbuf, ybuf, tbuf, pbuf = (np.empty(sizes[k], dtype) if sizes[k] else None for k in
                                                ("dbuf", "vbuf", "mbuf", "rbuf", "ybuf", "tbuf", "pbuf"))
    parts_c = product_parts(call, C)
    zbufs = [np.empty(z, dtype) for z in call.row_pass_sizes()]     # one per term: it carries rows over
    kept = [[] for _ in terms] if keep_V else None
    for i0, ib in tiling.blocks:
        n = tiling.tiles(ib)
        Y = _view(ybuf, (m, m, F, n))
        for k, (term, grid, (rows, cols)) in enumerate(zip(terms, grids, mats)):
            ah, aw = term.rows.alpha, term.cols.alpha
            with step("input_transform"):
                V = np.empty((ah * aw, C, n), dtype) if keep_V else _view(vbuf, (ah * aw, C, n))
                input_transform(grid, rows[2], cols[2], m, i0, ib, V, zbufs[k], dbuf, 0 if i0 == 0 else ah - m)
            target = Y if k == 0 else _view(tbuf, (m, m, F, n))
            plain = term.rows.identity and term.cols.identity          # a 1x1 sub-kernel: Y is the product
            parts = 1 if plain else parts_c
            with step("products"):
                shape = (2,) * (parts > 1) + (ah, aw, F, n)
                M = products(U[k], V.reshape(ah, aw, C, n), target if plain else _view(mbuf, shape), parts,
                             pbuf if pbuf is None else _view(pbuf, (ah, aw, F, n)))
            with step("output_transform"):
                if not plain:                  # the two partial channel sums add up in its first pass
                    output_transform(M, rows[0], cols[0], m, target, rbuf, min(parts, 2))
                if k:
                    Y += target
            if keep_V:
                kept[k].append(V)
        with step("output_transform"):
            if bias is not None:               # on the contiguous tiles (adding in the scatter is 2.4x slower)
                Y += bias[:, None]
            scatter_tiles(Y, out, m, i0, ib, tw)
    return kept


def backward(call: Correlation, terms: list[Term], U: list[np.ndarray], kept: list | None, dout: np.ndarray,
             dx_views: list[np.ndarray] | None) -> list[np.ndarray] | None:
    """The forward's transpose, block by block: dout's m x m tiles h, then per term
    ``H = A_h h A_w^T`` (the dual algorithm's filter transform, shared by both gradients) and

        dw:  M = sum over tiles of H * V        alpha^2 GEMMs (F, Tb) @ (Tb, C), V cached
             dw = G_h^T M G_w                   per kernel, after the last block
        dx:  dV = U^T H                         alpha^2 GEMMs (C, F) @ (F, Tb)
             grid += B_h dV B_w^T               the input transform's transpose (tiles overlap-add)
             dx = the column grid's transpose   after the last block, into ``dx_views[t]``

    ``kept`` None: no dw; ``dx_views`` None: no dx.  Returns dw of every term (F, C, r_h, r_w) or None.
    """
    tiling = call.tiling
    m, tw, F, C, dtype = tiling.m, tiling.tw, call.F, call.C, dout.dtype
    sizes = call.backward_buffers(kept is not None, dx_views is not None)
    buf = {k: np.empty(v, dtype) if v else None for k, v in sizes.items()}
    parts_f = product_parts(call, F)
    mats = [(_matrices(t.rows, dtype), _matrices(t.cols, dtype)) for t in terms]
    sums = [np.empty((t.slots, F, C), dtype) for t in terms] if kept is not None else None
    dgrids = None
    if dx_views is not None:
        dgrids = [np.empty((m * tiling.th + t.rows.alpha - m, t.cols.alpha, C, tw, tiling.N), dtype) for t in terms]
    for b, (i0, ib) in enumerate(tiling.blocks):
        n = tiling.tiles(ib)
        with step("dout_tiles"):
            tiles = dout_tiles(dout, m, i0, ib, tw, _view(buf["tiles"], (m, m, F, n)))
        for k, (term, (rows, cols)) in enumerate(zip(terms, mats)):
            ah, aw = term.rows.alpha, term.cols.alpha
            with step("dout_transform"):
                A_h = None if rows[0] is None else rows[0].T
                A_w = None if cols[0] is None else cols[0].T
                H = dout_transform(tiles, A_h, A_w, m, _view(buf["hbuf"], (ah * aw, F, n)), buf["hzbuf"])
            if sums is not None:
                with step("dw_products"):                  # block 0 writes the sums, the others add
                    P = np.matmul(H, kept[k][b].transpose(0, 2, 1),
                                  out=sums[k] if b == 0 else _view(buf["pbuf"], (ah * aw, F, C)))
                    if b:
                        sums[k] += P
            if dgrids is not None:
                with step("dx_products"):
                    dV = products(U[k].transpose(0, 1, 3, 2), H.reshape(ah, aw, F, n),
                                  _view(buf["dvbuf"], (2,) * (parts_f > 1) + (ah, aw, C, n)), parts_f,
                                  None if buf["dvpart"] is None else _view(buf["dvpart"], (ah, aw, C, n)))
                with step("dx_transform"):               # the two partial sums add up in its first pass
                    B_h = None if rows[2] is None else rows[2].T
                    B_w = None if cols[2] is None else cols[2].T
                    input_transform_adjoint(dV, B_h, B_w, m, i0, ib, dgrids[k], buf["azbuf"], buf["adbuf"],
                                            buf["apbuf"], min(parts_f, 2))
    dws = None
    if sums is not None:
        with step("dw_output_transform"):
            dws = [kernel_output_transform(S, term.rows.arrays(dtype)[1], term.cols.arrays(dtype)[1])
                   for S, term in zip(sums, terms)]
    if dgrids is not None:
        with step("dx_tiles"):
            for term, dgrid, view in zip(terms, dgrids, dx_views):
                column_grid_adjoint(dgrid, view, term.off_h, term.off_w, m)
    return dws


def products(U: np.ndarray, V: np.ndarray, out: np.ndarray, parts: int = 1,
             scratch: np.ndarray | None = None) -> np.ndarray:
    """The alpha^2 GEMMs (.., F, K) @ (.., K, Tb) into ``out`` (.., F, Tb); with ``parts`` > 1, ``out``
    has a leading axis of 2 and gets the sums over the parts of K in two partial sums (parts beyond
    two added into them through ``scratch``), which the next transform pass adds up
    (:data:`strategies.winograd_plan.HALVES_FROM`: float32 accuracy)."""
    if parts == 1:
        return np.matmul(U, V, out=out)
    K = U.shape[-1]
    edges = [K * i // parts for i in range(parts + 1)]
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        if i < 2:
            np.matmul(U[..., lo:hi], V[..., lo:hi, :], out=out[i])
        else:
            out[i % 2] += np.matmul(U[..., lo:hi], V[..., lo:hi, :], out=scratch)
    return out


def _view(buf: np.ndarray, shape: tuple) -> np.ndarray:
    """The first prod(shape) elements of a flat buffer, as a contiguous array of ``shape``."""
    return buf[:int(np.prod(shape))].reshape(shape)


def _matrices(alg: MinimalFiltering, dtype):
    """(A^T, G, B^T) of ``dtype``, or (None, None, None) for an identity axis (no transform)."""
    return (None, None, None) if alg.identity else alg.arrays(dtype)
