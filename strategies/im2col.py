"""im2col + GEMM: unfold every receptive field into a column, then one matrix product.

Forward (shapes for one call; K = C*HH*WW reduction length, P = H'*W' pixels)::

    cols = im2col(x_padded)          # (N, K, P)   the one copy, from a strided view
    out  = W @ cols + b              # (F, K) @ (N, K, P) -> (N, F, P), batched GEMM

The batched product leaves ``out`` directly in (N, F, H', W') order, so no transpose
copy follows it.  Backward uses the two transposed products and folds the column
gradient back with col2im (a scatter-add over the HH*WW kernel offsets)::

    dW    = sum_n dout[n] @ cols[n]^T  # (N, F, P) @ (N, P, K) -> (F, K)
    dcols = W^T @ dout                 # (K, F) @ (N, F, P) -> (N, K, P)
    dx    = col2im(dcols)              # (N, C, H, W)

Memory: the cache holds ``cols`` (K*P*N elements, HH*WW/stride^2 times the input).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import ConvStrategy
from .costs import Costs, PhaseCost, array_bytes, gemm_flops
from .geometry import ConvProblem, pad_input
from .phases import step


def window_view(xp: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Read-only strided view of ``xp`` (N, C, Hp, Wp) as (N, C, HH, WW, H', W').

    ``view[n, c, i, j, h, w] == xp[n, c, h*stride + i, w*stride + j]``; no data is copied.
    """
    s = problem.stride
    sN, sC, sH, sW = xp.strides
    shape = (problem.N, problem.C, problem.HH, problem.WW, problem.out_h, problem.out_w)
    return as_strided(xp, shape=shape, strides=(sN, sC, sH, sW, sH * s, sW * s), writeable=False)


def im2col(xp: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Columns of the padded input: (N, C*HH*WW, H'*W'), one contiguous copy."""
    N, K = problem.N, problem.C * problem.HH * problem.WW
    return window_view(xp, problem).reshape(N, K, problem.out_h * problem.out_w)


def col2im(dcols: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add (N, C*HH*WW, H'*W') into dx (N, C, H, W).

    One strided add per kernel offset (HH*WW of them); windows that overlap add up.
    """
    N, C, H, W = problem.x_shape
    HH, WW, H_, W_, s, p = problem.HH, problem.WW, problem.out_h, problem.out_w, problem.stride, problem.pad
    dcols = dcols.reshape(N, C, HH, WW, H_, W_)
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dcols.dtype)
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i:i + s * (H_ - 1) + 1:s, j:j + s * (W_ - 1) + 1:s] += dcols[:, :, i, j]
    return dxp[:, :, p:p + H, p:p + W] if p else dxp


class Im2col(ConvStrategy):
    """Unfold with a strided view, one batched GEMM forward, two backward, col2im scatter-add.

    Costs: 2*N*F*K*P flops per GEMM (K = C*HH*WW, P = H'*W'), the direct algorithm's
    count; the column matrix has HH*WW/stride^2 times the input's elements and is written
    once and read back by the GEMM (and cached for backward).  It wins where the GEMM is
    large and the kernel small (1x1, 3x3 on few pixels, strided layers); it loses to FFT
    on large kernels (its work grows with HH*WW, the FFT's does not) and to Winograd on
    3x3 layers with many channels (2.25x more multiplies than F(2x2,3x3)).
    """

    name = "im2col"

    def _forward(self, x, w, b, problem: ConvProblem):
        with step("pad"):
            xp = pad_input(x, problem.pad)
        with step("unfold"):
            cols = im2col(xp, problem)                           # (N, K, P)
        del xp
        w2 = w.reshape(problem.F, -1)                            # (F, K)
        with step("gemm"):
            out = np.matmul(w2, cols)                            # (N, F, P)
        with step("bias"):
            out += b[:, None]
        return out.reshape(problem.out_shape), (cols, w2)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        cols, w2 = saved
        dout3 = dout.reshape(problem.N, problem.F, -1)            # (N, F, P)
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = dout3.sum(axis=(0, 2))
        if "w" in wrt:
            with step("dw_gemm"):
                dw = np.matmul(dout3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(problem.w_shape)  # (F, K)
        if "x" in wrt:
            with step("dcols_gemm"):
                dcols = np.matmul(w2.T, dout3)                    # (N, K, P)
            with step("col2im"):
                dx = col2im(dcols, problem)
        return dx, dw, db

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        N, C, H, W = problem.x_shape
        F, K, P = problem.F, problem.C * problem.HH * problem.WW, problem.out_h * problem.out_w
        nbytes = lambda *shape: array_bytes(*shape, itemsize=itemsize)  # noqa: E731
        x, w, out, cols = nbytes(N, C, H, W), nbytes(F, K), nbytes(N, F, P), nbytes(N, K, P)
        padded = nbytes(N, C, H + 2 * problem.pad, W + 2 * problem.pad) if problem.pad else 0.0
        if pass_ == "forward":
            return Costs((PhaseCost("pad"),
                          PhaseCost("unfold", x + cols),
                          PhaseCost("gemm", cols + w + out, product=gemm_flops(F, P, K, batch=N)),
                          PhaseCost("bias", 0.0, transform=float(N * F * P))),
                         cols + padded)                           # the cache holds the columns
        phases, workspace = [], 0.0
        if pass_ in ("backward_filter", "backward"):
            phases += [PhaseCost("db", out + nbytes(F), transform=float(N * F * P)),
                       PhaseCost("dw_gemm", out + cols + w, product=gemm_flops(F, K, P, batch=N))]
            workspace = nbytes(N, F, K)                            # per-image products before the batch sum
        if pass_ in ("backward_data", "backward"):
            dxp = nbytes(N, C, H + 2 * problem.pad, W + 2 * problem.pad)
            phases += [PhaseCost("dcols_gemm", w + out + cols, product=gemm_flops(K, P, F, batch=N)),
                       PhaseCost("col2im", cols + x, transform=float(N * K * P))]
            workspace = max(workspace, cols + dxp - x)             # dcols, and dx's padded frame
        return Costs(tuple(phases), workspace)
