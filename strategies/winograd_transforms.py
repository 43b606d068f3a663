"""The whole-array tile transforms of Winograd minimal filtering (matrices in
:mod:`strategies.winograd_matrices`).

Tile layout.  Every transform works on whole arrays in one layout, with the image index
innermost so that no slice is shorter than ``tw * N`` contiguous elements::

    tile grid (C, Hp, m, Wq, N)    grid[c, h, q, t, n] = x_padded[n, c, h, m*t + q]
    tiles     (alpha^2, C, T)      T = th*tw*N tiles in (th, tw, N) order, th = ceil(H'/m)

Splitting the columns by phase q = column mod m makes every column slice of the tiles
contiguous; rows are sliced with a stride, which keeps rows contiguous.
"""
from __future__ import annotations

import numpy as np


def linear_combination(coeffs, terms, out=None) -> np.ndarray:
    """sum_j coeffs[j] * terms[j] on whole arrays (one row of a transform matrix).

    Zeros are skipped, +-1 become adds and subtracts, a magnitude shared by every term is
    applied once; without ``out``, a lone unit term is returned as is (a view, no copy).
    """
    pairs = [(float(c), t) for c, t in zip(coeffs, terms) if c != 0]
    scale = abs(pairs[0][0]) if len({abs(c) for c, _ in pairs}) == 1 else 1.0
    pairs = sorted(((c / scale, t) for c, t in pairs), key=lambda p: p[0] != 1.0)
    (c0, t0), rest = pairs[0], pairs[1:]
    if out is None and scale == 1.0 and c0 == 1.0 and not rest:
        return t0
    out = np.empty(t0.shape, t0.dtype) if out is None else out
    if c0 == 1.0 and rest and abs(rest[0][0]) == 1.0:
        (c1, t1), rest = rest[0], rest[1:]
        (np.add if c1 == 1.0 else np.subtract)(t0, t1, out=out)
    else:
        np.multiply(t0, c0, out=out)
    for c, t in rest:
        if c == 1.0:
            np.add(out, t, out=out)
        elif c == -1.0:
            np.subtract(out, t, out=out)
        else:
            out += c * t
    if scale != 1.0:
        out *= scale
    return out


def tile_grid(x: np.ndarray, offset: int, th: int, tw: int, m: int, r: int) -> np.ndarray:
    """x (N, C, H, W) zero-padded onto the tile grid, in the layout (C, Hp, m, Wq, N).

    ``offset`` rows/columns of zeros precede x (negative: x is cropped); the grid holds
    Hp = m*th + r - 1 rows and m*Wq >= m*tw + r - 1 columns, so edge tiles read zeros.
    pad_input is not used: the grid is larger at the bottom/right and transposed.
    """
    N, C, H, W = x.shape
    Hp, Wq = m * th + r - 1, tw + -(-(r - 1) // m)
    grid = np.zeros((C, Hp, m, Wq, N), dtype=x.dtype)
    h0, h1 = max(offset, 0), min(offset + H, Hp)
    xt = x.transpose(1, 2, 3, 0)[:, h0 - offset:h1 - offset]            # (C, h, W, N) view
    for q in range(m):                                                  # column phase
        t0, t1 = -(-(max(offset, 0) - q) // m), min(-(-(offset + W - q) // m), Wq)
        if t1 > t0:
            src = m * t0 + q - offset
            grid[:, h0:h1, q, t0:t1] = xt[:, :, src:src + m * (t1 - t0 - 1) + 1:m]
    return grid


def input_transform(grid: np.ndarray, BT: np.ndarray, th: int, tw: int) -> np.ndarray:
    """B^T d B of every tile of the grid (C, Hp, m, Wq, N) -> (alpha^2, C, th*tw*N)."""
    C, _, m, _, N = grid.shape
    alpha = BT.shape[0]
    V = np.empty((alpha, alpha, C, th, tw, N), dtype=grid.dtype)
    rows = [grid[:, j:j + m * (th - 1) + 1:m] for j in range(alpha)]    # (C, th, m, Wq, N)
    dk = np.empty(rows[0].shape, dtype=grid.dtype)                       # row k of B^T d
    for k in range(alpha):
        linear_combination(BT[k], rows, out=dk)
        cols = [dk[:, :, j % m, j // m:j // m + tw] for j in range(alpha)]  # (C, th, tw, N)
        for l in range(alpha):
            linear_combination(BT[l], cols, out=V[k, l])
    return V.reshape(alpha * alpha, C, th * tw * N)


def filter_transform(g: np.ndarray, G: np.ndarray) -> np.ndarray:
    """G g G^T of every kernel g (F, C, r, r) -> (alpha^2, F, C), a strided view.

    Computed as F small GEMMs kron(G, G) @ g[f]^T into an (F, alpha^2, C) array (faster
    than one (alpha^2, r^2) @ (r^2, F*C) GEMM); each (F, C) slot keeps a unit stride, so
    the batched GEMM takes the view as is.
    """
    F, C, r, _ = g.shape
    return np.matmul(np.kron(G, G), g.reshape(F, C, r * r).transpose(0, 2, 1)).transpose(1, 0, 2)


def products_and_output_transform(U: np.ndarray, V: np.ndarray, AT: np.ndarray, th: int,
                                  tw: int, out_h: int, out_w: int,
                                  bias: np.ndarray | None = None) -> np.ndarray:
    """A^T [U V] A of every tile: U (alpha^2, F, C), V (alpha^2, C, T) -> (N, F, out_h, out_w).

    The alpha^2 GEMMs run as alpha batched matmuls, one column l of the tile at a time,
    each reduced at once by the row pass R = A^T M: the whole (alpha^2, F, T) product is
    never held, which keeps the peak of fresh memory (slow to touch on our VMs) low.  The
    column pass Y = R A runs on contiguous arrays, then m^2 strided copies interleave Y into
    the output, leaving out the edge tiles' overhang (writing the column pass straight into
    the interleaved output is ~3x slower).  A bias is added once per tile, to the product
    slot whose column of A^T is all ones.
    """
    m, alpha = AT.shape
    F, T = U.shape[1], V.shape[2]
    N = T // (th * tw)
    U4, V4 = U.reshape(alpha, alpha, F, -1), V.reshape(alpha, alpha, -1, T)
    ones = int(np.flatnonzero((AT == 1).all(axis=0))[0]) if bias is not None else -1
    Ml = np.empty((alpha, F, T), dtype=V.dtype)                         # M[:, l]
    R = np.empty((m, alpha, F, T), dtype=V.dtype)                       # R[a, l] = (A^T M)[a, l]
    for l in range(alpha):
        np.matmul(U4[:, l], V4[:, l], out=Ml)
        if l == ones:
            Ml[ones] += bias[:, None]
        for a in range(m):
            linear_combination(AT[a], Ml, out=R[a, l])
    del Ml
    Y = np.empty((m, m, F, th, tw, N), dtype=V.dtype)                   # Y[a, b] = (R A)[a, b]
    R = R.reshape(m, alpha, F, th, tw, N)
    for a in range(m):
        for b in range(m):
            linear_combination(AT[b], R[a], out=Y[a, b])
    del R
    out = np.empty((N, F, out_h, out_w), dtype=V.dtype)
    for a in range(m):                  # out[n, f, m*i + a, m*j + b] = Y[a, b, f, i, j, n]
        for b in range(m):
            Yab = Y[a, b, :, :len(range(a, out_h, m)), :len(range(b, out_w, m))]  # crop edge tiles
            out[:, :, a::m, b::m] = Yab.transpose(3, 0, 1, 2)
    return out


def dout_tile_products(dout: np.ndarray, V: np.ndarray, Gd: np.ndarray, th: int,
                       tw: int) -> np.ndarray:
    """sum over tiles of (Gd h Gd^T) * (B^T d B): the products of the dual F(r x r, m x m).

    dout (N, F, H', W') is cut into zero-padded m x m tiles h (the dual's filters, in the
    (th, tw, N) order of V); V (alpha^2, C, T) holds the forward's transformed input tiles.
    Returns (alpha^2, F, C): alpha^2 GEMMs (F, T) @ (T, C) that sum over tiles and images.
    Gd h Gd^T is formed one column l at a time, so no (alpha^2, F, T) array is held.
    """
    N, F = dout.shape[:2]
    alpha, m = Gd.shape
    C, T = V.shape[1:]
    tiles = np.zeros((m, m, F, th, tw, N), dtype=dout.dtype)
    dt = dout.transpose(1, 2, 3, 0)                                     # (F, H', W', N) view
    for a in range(m):
        for b in range(m):
            part = dt[:, a::m, b::m]
            tiles[a, b, :, :part.shape[1], :part.shape[2]] = part
    tiles, V4 = tiles.reshape(m, m, F, T), V.reshape(alpha, alpha, C, T)
    M = np.empty((alpha, alpha, F, C), dtype=V.dtype)
    for l in range(alpha):
        hl = linear_combination(Gd[l], [tiles[:, b] for b in range(m)])  # (m, F, T): (h Gd^T)[:, l]
        for k in range(alpha):
            np.matmul(linear_combination(Gd[k], list(hl)), V4[k, l].T, out=M[k, l])
    return M.reshape(alpha * alpha, F, C)


def kernel_output_transform(M: np.ndarray, ATd: np.ndarray) -> np.ndarray:
    """ATd m ATd^T of every (f, c) of M (alpha^2, F, C) -> (F, C, r, r), as one small GEMM."""
    r, alpha = ATd.shape
    _, F, C = M.shape
    return (M.reshape(alpha * alpha, F * C).T @ np.kron(ATd, ATd).T).reshape(F, C, r, r)
