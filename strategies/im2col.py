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
from .geometry import ConvProblem, pad_input


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
    """Unfold with a strided view, one batched GEMM forward, two backward, col2im scatter-add."""

    name = "im2col"

    def _forward(self, x, w, b, problem: ConvProblem):
        cols = im2col(pad_input(x, problem.pad), problem)       # (N, K, P)
        w2 = w.reshape(problem.F, -1)                            # (F, K)
        out = np.matmul(w2, cols)                                # (N, F, P)
        out += b[:, None]
        return out.reshape(problem.out_shape), (cols, w2)

    def _backward(self, dout, problem: ConvProblem, saved):
        cols, w2 = saved
        dout3 = dout.reshape(problem.N, problem.F, -1)            # (N, F, P)
        db = dout3.sum(axis=(0, 2))
        dw = np.matmul(dout3, cols.transpose(0, 2, 1)).sum(axis=0)  # (F, K)
        dcols = np.matmul(w2.T, dout3)                            # (N, K, P)
        dx = col2im(dcols, problem)
        return dx, dw.reshape(problem.w_shape), db
