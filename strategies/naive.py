"""The cs231n tutorial's loops (``../shared/seed``), kept readable, with its bugs fixed.

Fixed against the seed: it parses (``w.shape``, no stray parenthesis); the dx crop
works for ``pad == 0`` (the seed's ``[pad:-pad]`` is empty then); and the dilated
``dout`` is padded to cover the trailing rows/columns that no window reaches when
``H + 2*pad - HH`` is not a multiple of the stride, so dx has x's shape and those
rows get zero gradient.  Cost is Python-loop bound: use it on small shapes.
"""
from __future__ import annotations

import numpy as np

from .base import ConvStrategy
from .geometry import ConvProblem, pad_input


def correlate_loops(xp: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Valid cross-correlation by loops: xp (N, C, Hp, Wp), w (F, C, HH, WW) -> (N, F, H', W')."""
    N, C, Hp, Wp = xp.shape
    F, _, HH, WW = w.shape
    H_ = 1 + (Hp - HH) // stride
    W_ = 1 + (Wp - WW) // stride
    out = np.zeros((N, F, H_, W_), dtype=xp.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_):
                for j in range(W_):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f])
    return out


class Naive(ConvStrategy):
    """Direct loops over every output element (forward) and every kernel tap (dw)."""

    name = "naive"

    def _forward(self, x, w, b, problem: ConvProblem):
        xp = pad_input(x, problem.pad)
        out = correlate_loops(xp, w, problem.stride)
        out += b[None, :, None, None]
        return out, (x, w)

    def _backward(self, dout, problem: ConvProblem, saved):
        x, w = saved
        s, p = problem.stride, problem.pad
        HH, WW, H_, W_ = problem.HH, problem.WW, problem.out_h, problem.out_w
        xp = pad_input(x, p)
        Hp, Wp = xp.shape[2:]

        db = dout.sum(axis=(0, 2, 3))

        dw = np.zeros_like(w)
        for f in range(problem.F):
            for c in range(problem.C):
                for i in range(HH):
                    for j in range(WW):
                        dw[f, c, i, j] = np.sum(
                            xp[:, c, i:i + H_ * s:s, j:j + W_ * s:s] * dout[:, f])

        # dx: dout dilated by the stride and sized to the Hp - HH + 1 window positions a
        # stride-1 layer would have (trailing positions no strided window reached stay
        # zero), padded by HH-1 / WW-1, then correlated with the kernel rotated by 180
        # degrees, channels swapped.  The result covers the padded input; crop the pad.
        dilated = np.zeros((problem.N, problem.F, Hp - HH + 1, Wp - WW + 1), dtype=dout.dtype)
        dilated[:, :, ::s, ::s] = dout
        dilated = pad_input(dilated, HH - 1, WW - 1)
        w_rot = np.rot90(w, 2, axes=(2, 3)).transpose(1, 0, 2, 3)  # (C, F, HH, WW)
        dxp = correlate_loops(dilated, w_rot, 1)                    # (N, C, Hp, Wp)
        dx = dxp[:, :, p:p + problem.H, p:p + problem.W].copy()
        return dx, dw, db

