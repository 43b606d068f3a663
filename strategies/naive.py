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
from .costs import Costs, PhaseCost, array_bytes
from .geometry import ConvProblem, pad_input
from .phases import step


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
    """Direct loops over every output element (forward, dx) and every kernel tap (dw).

    Forward: ``out[n, f, i, j] = sum(xp[n, :, window] * w[f]) + b[f]``, one Python
    iteration per output element.  dx: the same loops over ``dout`` dilated by the stride
    and padded by the kernel size, against the kernel rotated 180 degrees with its
    channels swapped; dw: one strided product-sum per kernel tap.  Costs exactly the
    direct algorithm's 2*N*F*C*HH*WW*H'*W' flops, at Python speed (~0.01 GFLOP/s): it
    loses everywhere except on toy shapes, and is here as the readable reference.
    """

    name = "naive"

    def _forward(self, x, w, b, problem: ConvProblem):
        with step("loops"):
            out = correlate_loops(pad_input(x, problem.pad), w, problem.stride)
            out += b[None, :, None, None]
        return out, (x, w)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        x, w = saved
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = dout.sum(axis=(0, 2, 3))
        if "w" in wrt:
            with step("dw_loops"):
                dw = self._dw(x, w, dout, problem)
        if "x" in wrt:
            with step("dx_loops"):
                dx = self._dx(w, dout, problem)
        return dx, dw, db

    @staticmethod
    def _dw(x, w, dout, problem: ConvProblem):
        s, H_, W_ = problem.stride, problem.out_h, problem.out_w
        xp = pad_input(x, problem.pad)
        dw = np.zeros_like(w)
        for f in range(problem.F):
            for c in range(problem.C):
                for i in range(problem.HH):
                    for j in range(problem.WW):
                        dw[f, c, i, j] = np.sum(xp[:, c, i:i + H_ * s:s, j:j + W_ * s:s] * dout[:, f])
        return dw

    @staticmethod
    def _dx(w, dout, problem: ConvProblem):
        # dout dilated by the stride and sized to the Hp - HH + 1 window positions a
        # stride-1 layer would have (trailing positions no strided window reached stay
        # zero), padded by HH-1 / WW-1, then correlated with the kernel rotated by 180
        # degrees, channels swapped.  The result covers the padded input; crop the pad.
        s, p, HH, WW = problem.stride, problem.pad, problem.HH, problem.WW
        Hp, Wp = problem.H + 2 * p, problem.W + 2 * p
        dilated = np.zeros((problem.N, problem.F, Hp - HH + 1, Wp - WW + 1), dtype=dout.dtype)
        dilated[:, :, ::s, ::s] = dout
        dilated = pad_input(dilated, HH - 1, WW - 1)
        w_rot = np.rot90(w, 2, axes=(2, 3)).transpose(1, 0, 2, 3)  # (C, F, HH, WW)
        dxp = correlate_loops(dilated, w_rot, 1)                    # (N, C, Hp, Wp)
        return dxp[:, :, p:p + problem.H, p:p + problem.W].copy()

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        N, C, H, W = problem.x_shape
        F, _, HH, WW = problem.w_shape
        Hp, Wp, Ho, Wo = H + 2 * problem.pad, W + 2 * problem.pad, problem.out_h, problem.out_w
        x, w, out = (array_bytes(*s, itemsize=itemsize) for s in (problem.x_shape, problem.w_shape,
                                                                   problem.out_shape))
        xp = array_bytes(N, C, Hp, Wp, itemsize=itemsize) if problem.pad else 0.0
        if pass_ == "forward":  # the cache holds views of x and w: no bytes of its own
            return Costs((PhaseCost("loops", x + w + out, product=2.0 * N * F * C * HH * WW * Ho * Wo),), xp)
        phases, workspace = [], 0.0
        if pass_ in ("backward_filter", "backward"):
            phases.append(PhaseCost("db", out + F * itemsize, transform=float(N * F * Ho * Wo)))
            phases.append(PhaseCost("dw_loops", x + out + w, product=2.0 * F * C * HH * WW * N * Ho * Wo))
            workspace = xp + array_bytes(N, Ho, Wo, itemsize=itemsize)   # padded x, one tap's products
        if pass_ in ("backward_data", "backward"):
            # the loops run over every position of the dilated, padded dout, zeros included
            dilated = array_bytes(N, F, Hp + HH - 1, Wp + WW - 1, itemsize=itemsize)
            phases.append(PhaseCost("dx_loops", out + w + x, product=2.0 * N * C * F * HH * WW * Hp * Wp))
            workspace = max(workspace, dilated + array_bytes(N, C, Hp, Wp, itemsize=itemsize))
        return Costs(tuple(phases), workspace)
