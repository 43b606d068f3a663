"""The textbook Winograd transforms, one tile at a time, as the paper writes them.

Lavin & Gray (2016), F(m x m, r x r) on one alpha x alpha input tile d and one r x r
kernel g (alpha = m + r - 1; rectangular algorithms nest two 1-D ones, F(m, r_h) down the
rows and F(m, r_w) along them)::

    V = B_h^T d B_w            U = G_h g G_w^T            Y = A_h^T (U * V) A_w

These are the references the fast block transforms of
:mod:`strategies.winograd_transforms` are tested against (tests/test_winograd_transforms.py);
nothing in the strategy calls them.
"""
from __future__ import annotations

import numpy as np


def tile_input_transform(d: np.ndarray, BT_h: np.ndarray, BT_w: np.ndarray) -> np.ndarray:
    """V[k, l] = sum_ij B_h^T[k, i] d[i, j] B_w^T[l, j] of one tile d (alpha_h, alpha_w)."""
    return np.einsum("ki,ij,lj->kl", BT_h, d, BT_w)


def tile_filter_transform(g: np.ndarray, G_h: np.ndarray, G_w: np.ndarray) -> np.ndarray:
    """U[k, l] = sum_ij G_h[k, i] g[i, j] G_w[l, j] of one kernel g (r_h, r_w)."""
    return np.einsum("ki,ij,lj->kl", G_h, g, G_w)


def tile_output_transform(M: np.ndarray, AT_h: np.ndarray, AT_w: np.ndarray) -> np.ndarray:
    """Y[a, b] = sum_kl A_h^T[a, k] M[k, l] A_w^T[b, l] of one tile's products M (alpha_h, alpha_w)."""
    return np.einsum("ak,kl,bl->ab", AT_h, M, AT_w)


def tile_dout_transform(h: np.ndarray, AT_h: np.ndarray, AT_w: np.ndarray) -> np.ndarray:
    """The dual algorithm's filter transform of one m x m dout tile h: A_h h A_w^T (A = (A^T)^T)."""
    return np.einsum("ka,ab,lb->kl", AT_h.T, h, AT_w.T)


def tile_kernel_output_transform(M: np.ndarray, G_h: np.ndarray, G_w: np.ndarray) -> np.ndarray:
    """The dual algorithm's output transform: dw tile G_h^T M G_w (r_h, r_w) of summed products M."""
    return np.einsum("ki,kl,lj->ij", G_h, M, G_w)


def tiles_of(x_padded: np.ndarray, m: int, alpha_h: int, alpha_w: int, th: int, tw: int) -> np.ndarray:
    """Every overlapping alpha_h x alpha_w tile at steps of m: (N, C, th, tw, alpha_h, alpha_w), a copy."""
    return np.stack([np.stack([x_padded[:, :, m * i:m * i + alpha_h, m * j:m * j + alpha_w]
                               for j in range(tw)], axis=2) for i in range(th)], axis=2)


def correlate(x_padded: np.ndarray, g: np.ndarray, m: int, matrices_h, matrices_w, oh: int, ow: int) -> np.ndarray:
    """The whole layer by the textbook algorithm, tile by tile, einsum for every transform:
    x_padded (N, C, >= m*th + r_h - 1, ...) valid-correlated with g (F, C, r_h, r_w) -> (N, F, oh, ow).

    ``matrices_h`` = (A^T, G, B^T) of F(m, r_h), likewise ``matrices_w``."""
    (AT_h, G_h, BT_h), (AT_w, G_w, BT_w) = matrices_h, matrices_w
    th, tw = -(-oh // m), -(-ow // m)
    N, F = x_padded.shape[0], g.shape[0]
    d = tiles_of(x_padded, m, BT_h.shape[0], BT_w.shape[0], th, tw)            # (N, C, th, tw, ah, aw)
    V = np.einsum("ki,ncxyij,lj->ncxykl", BT_h, d, BT_w)
    U = np.einsum("ki,fcij,lj->fckl", G_h, g, G_w)
    M = np.einsum("fckl,ncxykl->nfxykl", U, V)                                  # the sum over channels
    Y = np.einsum("ak,nfxykl,bl->nfxayb", AT_h, M, AT_w).reshape(N, F, th * m, tw * m)
    return Y[:, :, :oh, :ow]
