"""The tiling copies of the FFT strategy, all in x's own (N, C, rows, cols) layout.

    extended_input   x (N, C, H, W) -> its padded polyphase components, zero-extended to the
                     rows and columns the tiles read: (N, Cp, Hx, Wx), Cp = C * phases in the
                     order of :func:`strategies.polyphase.split`
    tile_windows     -> every tile's overlapping input window, a view (N, Cp, th, tw, wr, wc)
    dout_tiles       dout (N, F, H', W') -> (N, F, th, tw, Th, Tw), zero past the last output
    place_tiles      tile outputs (N, F, th, tw, >= Th, >= Tw) -> out (N, F, H', W'), cropped
    overlap_add      full tile results (N, Cp, th, tw, >= wr, >= wc) -> their sum where each
                     tile's window lies: the adjoint of tile_windows
    input_gradient   -> dx (N, C, H, W): the adjoint of extended_input

Every copy here runs along contiguous rows; the one layout change of the algorithm (the
spectra to and from frequency-major order) is in :mod:`strategies.fft_spectra`.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .fft_plan import FFTPlan
from .geometry import ConvProblem, pad_input
from .polyphase import merge, split


def extended_input(x: np.ndarray, problem: ConvProblem, plan: FFTPlan) -> np.ndarray:
    """(N, Cp, Hx, Wx): padded x split into its phases, zero-extended (or cropped) to the tiles' extent."""
    Hx, Wx = plan.extent
    if problem.stride > 1:
        return split(pad_input(x, problem.pad), plan.grid, Hx, Wx)
    p = problem.pad   # stride 1: pad and extend in one copy (Hx >= H + 2p: the tiles cover every window)
    xe = np.zeros((problem.N, problem.C, Hx, Wx), x.dtype)
    xe[:, :, p:p + problem.H, p:p + problem.W] = x
    return xe


def input_gradient(acc: np.ndarray, problem: ConvProblem, plan: FFTPlan) -> np.ndarray:
    """Gradient of :func:`extended_input`'s result (N, Cp, >= Hx, >= Wx) -> dx (N, C, H, W)."""
    p, H, W = problem.pad, problem.H, problem.W
    if problem.stride > 1:   # phase (r, t) back to rows r::s, columns t::s; unread positions 0
        acc = merge(acc, plan.grid, H + 2 * p, W + 2 * p)
    return acc[:, :, p:p + H, p:p + W]                     # a view: the padding cropped


def tile_windows(xe: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """(N, Cp, Hx, Wx) -> (N, Cp, th, tw, wr, wc): tile (a, b)'s window starts at (a*Th, b*Tw); a view."""
    sN, sC, sY, sX = xe.strides
    return as_strided(xe, (*xe.shape[:2], plan.th, plan.tw, *plan.window),
                      (sN, sC, plan.Th * sY, plan.Tw * sX, sY, sX), writeable=False)


def dout_tiles(dout: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """dout (N, F, H', W') -> (N, F, th, tw, Th, Tw), zero where the last tiles overhang the output."""
    N, F, H_, W_ = dout.shape
    if (plan.th * plan.Th, plan.tw * plan.Tw) != (H_, W_):
        ext = np.zeros((N, F, plan.th * plan.Th, plan.tw * plan.Tw), dout.dtype)
        ext[:, :, :H_, :W_] = dout
        dout = ext
    return dout.reshape(N, F, plan.th, plan.Th, plan.tw, plan.Tw).transpose(0, 1, 2, 4, 3, 5)


def place_tiles(y: np.ndarray, problem: ConvProblem, plan: FFTPlan) -> np.ndarray:
    """Tile outputs y (N, F, th, tw, >= Th, >= Tw) -> out (N, F, H', W'): the tiles side by side, cropped."""
    out = np.empty(problem.out_shape, y.dtype)
    N, F, Th, Tw = problem.N, problem.F, plan.Th, plan.Tw
    for a0, a1, r in _regions(problem.out_h, Th):
        for b0, b1, c in _regions(problem.out_w, Tw):
            dst = out[:, :, a0 * Th:a0 * Th + (a1 - a0) * r, b0 * Tw:b0 * Tw + (b1 - b0) * c]
            src = y[:, :, a0:a1, b0:b1, :r, :c].transpose(0, 1, 2, 4, 3, 5)     # (N, F, na, r, nb, c)
            np.copyto(dst.reshape(N, F, a1 - a0, r, b1 - b0, c), src)
    return out


def overlap_add(res: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """Full tile results (N, Cp, th, tw, >= wr, >= wc) -> (N, Cp, rows, cols): each added where its window is.

    A window spans ``bands = ceil(wr / Th)`` tiles per axis: band q of every tile lands on the
    tile q further on, so each (row band, column band) is one strided add for all tiles."""
    (wr, wc), Th, Tw, th, tw = plan.window, plan.Th, plan.Tw, plan.th, plan.tw
    bh, bw = -(-wr // Th), -(-wc // Tw)
    N, Cp = res.shape[:2]
    acc = np.zeros((N, Cp, (th + bh - 1) * Th, (tw + bw - 1) * Tw), res.dtype)
    for qa in range(bh):
        rows = min(Th, wr - qa * Th)
        for qb in range(bw):
            cols = min(Tw, wc - qb * Tw)
            dst = acc[:, :, qa * Th:(qa + th) * Th, qb * Tw:(qb + tw) * Tw].reshape(N, Cp, th, Th, tw, Tw)
            dst = dst[:, :, :, :rows, :, :cols]
            src = res[:, :, :, :, qa * Th:qa * Th + rows, qb * Tw:qb * Tw + cols].transpose(0, 1, 2, 4, 3, 5)
            np.add(dst, src, out=dst)
    return acc


def _regions(size: int, tile: int) -> list[tuple[int, int, int]]:
    """[(first tile, last tile + 1, outputs per tile)]: the full tiles, then the cropped last one."""
    full, rest = divmod(size, tile)
    return ([(0, full, tile)] if full else []) + ([(full, full + 1, rest)] if rest else [])
