"""The backward pass's transforms: each the exact transpose of a forward step (the tests check
<A x, y> == <x, A^T y>), so dx is the gradient of the forward's own arithmetic.

    forward step (:mod:`strategies.winograd_transforms`)   its transpose, here
    column_grid          x -> overlapping tile columns      column_grid_adjoint   overlap-add into dx
    input_transform      V = B_h^T d B_w                    input_transform_adjoint  B_h dV B_w^T
    output_transform     Y = A_h^T M A_w                    dout_transform        H = A_h h A_w^T
    scatter_tiles        tiles -> out                       dout_tiles            dout -> m x m tiles

dout_transform is also the dual algorithm F(r, m)'s kernel transform (its G is A), which is
why dw and dx share it; kernel_output_transform is the dual's output transform (its A^T is
G^T).  Layouts as in :mod:`strategies.winograd_transforms`.
"""
from __future__ import annotations

import numpy as np

from .winograd_transforms import apply


def dout_tiles(dout: np.ndarray, m: int, i0: int, ib: int, tw: int, out: np.ndarray) -> np.ndarray:
    """The block's m x m tiles of dout (N, F, oh, ow), zero beyond its edge: out (m, m, F, ib, tw, N)."""
    N, F, oh, ow = dout.shape
    out = out.reshape(m, m, F, ib, tw, N)
    dt = dout.transpose(1, 2, 3, 0)                                       # (F, oh, ow, N) view
    for a in range(m):
        r = range(m * i0 + a, min(oh, m * (i0 + ib)), m)
        for b in range(m):
            c = range(b, ow, m)
            dst = out[a, b]
            dst[:, len(r):] = 0
            dst[:, :len(r), len(c):] = 0
            if len(r) and len(c):
                dst[:, :len(r), :len(c)] = dt[:, r.start:r.stop:m, b::m][:, :, :len(c)]
    return out


def dout_transform(tiles: np.ndarray, A_h: np.ndarray | None, A_w: np.ndarray | None, m: int,
                   out: np.ndarray, zbuf: np.ndarray) -> np.ndarray:
    """A_h h A_w^T of every m x m dout tile h (the dual algorithm's filter transform, A = (A^T)^T):
    tiles (m, m, F, Tb) -> out (alpha_h*alpha_w, F, Tb)."""
    alpha_h = m if A_h is None else A_h.shape[0]
    alpha_w = m if A_w is None else A_w.shape[0]
    t = tiles.reshape(m, m, -1)
    if A_w is None:
        Z = t
    else:
        Z = apply(A_w, t, zbuf[:m * alpha_w * t.shape[2]].reshape(m, alpha_w, -1))
    H = out.reshape(alpha_h, -1)
    if A_h is None:
        np.copyto(H, Z.reshape(m, -1))
    else:
        apply(A_h, Z.reshape(m, -1), H)
    return out


def input_transform_adjoint(dV: np.ndarray, B_h: np.ndarray | None, B_w: np.ndarray | None, m: int,
                            i0: int, ib: int, dgrid: np.ndarray, zbuf: np.ndarray, dbuf: np.ndarray | None,
                            pbuf: np.ndarray, parts: int = 1) -> None:
    """The transpose of :func:`input_transform`: dgrid[the block's rows] gets B_h dV B_w^T, the rows it
    shares with the previous block (blocks run in order) added, the others written.

    dV (alpha_h*alpha_w, C, Tb) -> dgrid (R, alpha_w, C, tw, N) (B = (B^T)^T; None: identity);
    zbuf, dbuf, pbuf: flat scratch of the row pass's, the gathered rows' and the shared rows' sizes.
    """
    R, alpha_w, C, tw, N = dgrid.shape
    alpha_h = m if B_h is None else B_h.shape[0]
    nr = m * ib + alpha_h - m
    shared = 0 if i0 == 0 else alpha_h - m
    dV = dV.reshape(parts * alpha_h, -1)
    size = alpha_h * dV.shape[1]
    dD = zbuf[:size].reshape(alpha_h, -1) if ib == 1 else dbuf[:size].reshape(alpha_h, -1)
    if B_h is None and parts == 1:
        np.copyto(dD, dV)
    else:                                   # the column pass's transpose (and the parts' sum)
        apply(np.tile(np.eye(alpha_h, dtype=dV.dtype) if B_h is None else B_h, (1, parts)), dV, dD)
    if ib == 1:                             # the block's alpha_h rows are the tile row's rows
        dZ = dD
    else:                                   # the gather's transpose: rows shared within the block add up
        dD = dD.reshape(alpha_h, alpha_w, C, ib, tw * N)
        dZ = zbuf[:nr * alpha_w * C * tw * N].reshape(nr, alpha_w, C, tw * N)
        dZ[...] = 0
        for a in range(alpha_h):
            dZ[a:a + m * (ib - 1) + 1:m] += dD[a].transpose(2, 0, 1, 3)
    dZ = dZ.reshape(nr, alpha_w, -1)
    rows = dgrid[m * i0:m * i0 + nr].reshape(nr, alpha_w, -1)
    if B_w is None:
        np.copyto(rows[shared:], dZ[shared:])
        if shared:
            rows[:shared] += dZ[:shared]
    else:                                   # the row pass's transpose: fresh rows straight into dgrid
        apply(B_w, dZ[shared:], rows[shared:])
        if shared:
            rows[:shared] += apply(B_w, dZ[:shared], pbuf[:shared * dZ[0].size].reshape(dZ[:shared].shape))


def column_grid_adjoint(dgrid: np.ndarray, dst: np.ndarray, off_h: int, off_w: int, m: int) -> None:
    """The transpose of :func:`column_grid` (``off`` >= 0): dst (N, C, Hs, Ws) = the sum of the grid
    positions holding each pixel (tile columns overlap by alpha_w - m); pixels held by none get 0."""
    R, alpha_w, C, tw, N = dgrid.shape
    Hs, Ws = dst.shape[2:]
    Wq = tw + -(-(alpha_w - m) // m)
    Q = np.empty((R, m, C, Wq, N), dgrid.dtype)                        # the m column phases, folded
    Q[:, :, :, :tw] = dgrid[:, :m]
    Q[:, :, :, tw:] = 0
    for b in range(m, alpha_w):                                        # column m*j + b = m*(j + b//m) + b % m
        Q[:, b % m, :, b // m:b // m + tw] += dgrid[:, b]
    held = max(0, min(Hs, R - off_h))                                  # rows of dst some grid row holds
    dst[:, :, held:] = 0
    rows = dst[:, :, :held]
    for q in range(m):
        w_q = (q - off_w) % m                                          # dst columns of phase q: w_q, w_q + m, ...
        t0 = (w_q + off_w) // m
        cols = rows[:, :, :, w_q::m]
        n = max(0, min(cols.shape[3], Wq - t0))
        if n and held:
            cols[:, :, :, :n] = Q[off_h:off_h + held, q, :, t0:t0 + n].transpose(3, 1, 0, 2)
        cols[:, :, :, n:] = 0


def kernel_output_transform(M: np.ndarray, G_h: np.ndarray, G_w: np.ndarray) -> np.ndarray:
    """G_h^T m G_w of every (f, c) of M (alpha_h*alpha_w, F, C) -> (F, C, r_h, r_w): one GEMM
    M^T (F*C, alpha^2) @ kron(G_h, G_w) (alpha^2, r^2), M^T a view."""
    _, F, C = M.shape
    return np.matmul(M.reshape(-1, F * C).T, np.kron(G_h, G_w)).reshape(F, C, G_h.shape[1], G_w.shape[1])
