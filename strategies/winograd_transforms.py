"""The fast tile transforms of Winograd minimal filtering, one block of tile rows at a time.

The plain textbook version of each transform, on one tile, is in
:mod:`strategies.winograd_reference`; the tests prove these equal to it.  Matrices are in
:mod:`strategies.winograd_matrices`; the backward's transposes of these steps in
:mod:`strategies.winograd_transposes`.

Layouts (tile order T = (i, j, n): tile row, tile column, image innermost, so every slice
below is at least tw*N contiguous elements; a block is ib tile rows, Tb = ib*tw*N)::

    column grid   (R, alpha_w, C, tw, N)  grid[h, b, c, j, n] = x_padded[n, c, h, m*j + b]
    V, M          (alpha_h*alpha_w, C or F, Tb)
    Y             (m, m, F, Tb)           Y[a, b, f, (i, j, n)] = out[n, f, m*i + a, m*j + b]

Every transform pass is one BLAS call on an outer axis: ``B^T d B`` is the row pass
``B_w^T`` over the grid's b axis (no copy: the grid holds each tile column's alpha
columns) and then ``B_h^T`` over the alpha rows of each tile row (a view when the block is
one tile row, else one gather of the rows).  Small-integer matrices (B^T, A^T) are
applied to the data in the working precision; G (all the fractions) to the weights in
float64, rounded once.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def apply(T: np.ndarray, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[..., k, :] = sum_j T[k, j] X[..., j, :]: one pass of a transform over an axis of X, as one
    (stacked) GEMM.  (Additions for F(2,r)'s 0/+-1 matrices measured no faster than these 2-8 row
    GEMMs at the block sizes here: 88 vs 72 us and 81 vs 38 us for F(2x2)'s two output passes.)"""
    return np.matmul(T, X, out=out)


def pass_flops(T: np.ndarray, columns: int) -> tuple[float, float]:
    """(GEMM flops, elementwise flops) of ``apply(T, X)`` over ``columns`` columns: 2*k*n*columns, 0."""
    return 2.0 * T.shape[0] * T.shape[1] * columns, 0.0


def column_grid(src: np.ndarray, off_h: int, off_w: int, rows: int, alpha_w: int, m: int,
                tw: int) -> np.ndarray:
    """src (N, C, Hs, Ws) with ``off`` zero rows/columns before it (negative: cropped) as the
    column grid (rows, alpha_w, C, tw, N): grid[h, b, c, j, n] = src_padded[n, c, h, m*j + b].

    Columns b < m are copied from src (strided, the images moved innermost); a column b >= m is
    column b % m shifted by b // m tiles (a contiguous copy) but for its last b // m tiles.
    """
    N, C, Hs, Ws = src.shape
    grid = np.empty((rows, alpha_w, C, tw, N), dtype=src.dtype)
    h0, h1 = max(off_h, 0), min(rows, Hs + off_h)
    grid[:h0] = 0
    grid[max(h1, h0):] = 0
    if h1 <= h0:
        return grid
    xt = src.transpose(2, 1, 3, 0)[h0 - off_h:h1 - off_h]              # (h, C, Ws, N) view
    body = grid[h0:h1]
    for b in range(alpha_w):
        first = 0 if b < m else tw - b // m                             # tiles copied from src
        if first > 0:
            body[:, b, :, :first] = body[:, b % m, :, b // m:]
        _copy_columns(xt, body[:, b], b, first, m, off_w)
    return grid


def _copy_columns(xt: np.ndarray, dst: np.ndarray, b: int, first: int, m: int, off_w: int) -> None:
    """dst[h, c, j, n] = xt[h, c, m*j + b - off_w, n] for tiles j >= first (0 outside xt)."""
    Ws, tw = xt.shape[2], dst.shape[2]
    j0 = max(first, -(-(off_w - b) // m))                               # first tile inside src
    j1 = min(tw, -(-(Ws + off_w - b) // m))
    dst[:, :, first:max(j0, first)] = 0
    dst[:, :, max(j1, j0, first):] = 0
    if j1 > j0:
        w0 = m * j0 + b - off_w
        dst[:, :, j0:j1] = xt[:, :, w0:w0 + m * (j1 - j0 - 1) + 1:m]


def input_transform(grid: np.ndarray, BT_h: np.ndarray | None, BT_w: np.ndarray | None, m: int,
                    i0: int, ib: int, out: np.ndarray, zbuf: np.ndarray, dbuf: np.ndarray | None,
                    carried: int = 0) -> np.ndarray:
    """V = B_h^T d B_w of the tiles in tile rows [i0, i0+ib): grid -> out (alpha_h*alpha_w, C, Tb).

    ``None`` marks an identity axis (F(m,1)).  zbuf holds the row pass of the block's rows; its
    first ``carried`` rows already hold them (the previous block's last rows, which this block
    shares), and on return its first alpha_h - m rows hold this block's last ones for the next.
    dbuf holds the gathered rows when ib > 1 (flat buffers reused across blocks).
    """
    R, alpha_w, C, tw, N = grid.shape
    alpha_h = m if BT_h is None else BT_h.shape[0]
    nr, shared = m * ib + alpha_h - m, alpha_h - m
    rows = grid[m * i0:m * i0 + nr]
    if BT_w is None:
        Z = rows
    else:                                   # row pass on the rows not carried over
        Z = zbuf[:rows.size].reshape(rows.shape)
        apply(BT_w, rows[carried:].reshape(nr - carried, alpha_w, -1), Z[carried:].reshape(nr - carried, alpha_w, -1))
    if ib == 1:
        D = Z[:alpha_h]                                                  # (alpha_h, alpha_w, C, tw, N) view
    else:                                   # gather: D[a, l, c, i] = Z[m*i + a, l, c]
        D = dbuf[:alpha_h * alpha_w * C * ib * tw * N].reshape(alpha_h, alpha_w, C, ib, tw * N)
        for a in range(alpha_h):
            np.copyto(D[a], Z[a:a + m * (ib - 1) + 1:m].reshape(ib, alpha_w, C, tw * N).transpose(1, 2, 0, 3))
    V = out.reshape(alpha_h, -1)
    if BT_h is None:
        np.copyto(V, D.reshape(alpha_h, -1))
    else:                                   # column pass
        apply(BT_h, D.reshape(alpha_h, -1), V)
    if BT_w is not None and shared:         # keep the shared rows' row pass for the next block
        np.copyto(Z[:shared], Z[nr - shared:])
    return out


def output_transform(M: np.ndarray, AT_h: np.ndarray | None, AT_w: np.ndarray | None, m: int,
                     out: np.ndarray, rbuf: np.ndarray, parts: int = 1) -> np.ndarray:
    """Y = A_h^T M A_w of every tile: M (parts*alpha_h*alpha_w, F, Tb) -> out (m, m, F, Tb), the
    ``parts`` partial sums of M added by the first pass ([A_h^T ... A_h^T] @ [M_1; ...])."""
    alpha_h = m if AT_h is None else AT_h.shape[1]
    alpha_w = m if AT_w is None else AT_w.shape[1]
    M = M.reshape(parts * alpha_h, -1)
    if AT_h is None and parts == 1:
        R = M
    else:
        AT = np.eye(m, dtype=M.dtype) if AT_h is None else AT_h
        R = apply(np.tile(AT, (1, parts)), M, rbuf[:m * M.shape[1]].reshape(m, -1))
    R = R.reshape(m, alpha_w, -1)
    if AT_w is None:
        np.copyto(out.reshape(m, m, -1), R)
    else:
        apply(AT_w, R, out.reshape(m, m, -1))
    return out


def scatter_tiles(Y: np.ndarray, out: np.ndarray, m: int, i0: int, ib: int, tw: int) -> None:
    """out[n, f, m*i + a, m*j + b] = Y[a, b, f, i - i0, j, n] for the block's tile rows, edge tiles
    cropped.  ``out`` (N, F, oh, ow) may be any strided view (a phase of a padded array)."""
    N, F, oh, ow = out.shape
    Y = Y.reshape(m, m, F, ib, tw, N)
    rows = min(m * ib, oh - m * i0)                      # output rows this block holds
    sN, sF, sH, sW = out.strides
    full_r, full_c = rows // m, ow // m
    block = out[:, :, m * i0:m * i0 + rows]
    if full_r and full_c:                                # whole tiles: one copy through a 6-D view
        dst = as_strided(block, (N, F, full_r, m, full_c, m), (sN, sF, m * sH, sH, m * sW, sW))
        np.copyto(dst, Y[:, :, :, :full_r, :full_c].transpose(5, 2, 3, 0, 4, 1))
    for a in range(m):                                   # the cropped edge tiles
        for b in range(m):
            r_end = len(range(a, rows, m))
            c_end = len(range(b, ow, m))
            if r_end > full_r:
                np.copyto(block[:, :, a + m * full_r::m, b::m][:, :, :r_end - full_r],
                          Y[a, b, :, full_r:r_end, :c_end].transpose(3, 0, 1, 2))
            if c_end > full_c and full_r:
                np.copyto(block[:, :, a:m * full_r:m, b + m * full_c::m][:, :, :, :c_end - full_c],
                          Y[a, b, :, :full_r, full_c:c_end].transpose(3, 0, 1, 2))


def filter_transform(g: np.ndarray, G_h: np.ndarray | None, G_w: np.ndarray | None) -> np.ndarray:
    """U = G_h g G_w^T of every kernel g (F, C, r_h, r_w) -> (alpha_h, alpha_w, F, C).

    One GEMM kron(G_h, G_w) (alpha^2, r^2) @ g^T (r^2, F*C), landing in the products' layout
    (g^T is a view); in g's precision (float64 here changed no measured error: the products'
    rounding dominates).  An identity axis (None: a 1-tap kernel axis) is not computed: U has
    size 1 there and broadcasts in the products.
    """
    F, C, r_h, r_w = g.shape
    one = np.ones((1, 1), g.dtype)
    K = np.kron(one if G_h is None else G_h, one if G_w is None else G_w)
    U = np.matmul(K, np.ascontiguousarray(g).reshape(F * C, r_h * r_w).T)
    return U.reshape(K.shape[0] // (1 if G_w is None else G_w.shape[0]), 1 if G_w is None else G_w.shape[0], F, C)
