"""The textbook im2col and col2im, unblocked: the reference the blocked layouts are proved equal to.

    cols[n, (c, i, j), (h, w)] = x_padded[n, c, h*stride + i, w*stride + j]     (N, K, H'*W')
    dx = col2im(dcols): the adjoint, a scatter-add of every column back onto its window

These are what :class:`strategies.im2col.Im2col` computes block by block; they materialise
the whole column matrix (HH*WW/stride^2 times the input), which the strategy never does.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .geometry import ConvProblem


def window_view(xp: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Read-only strided view of ``xp`` (N, C, Hp, Wp) as (N, C, HH, WW, H', W').

    ``view[n, c, i, j, h, w] == xp[n, c, h*stride + i, w*stride + j]``; no data is copied.
    """
    s = problem.stride
    sN, sC, sH, sW = xp.strides
    shape = (xp.shape[0], problem.C, problem.HH, problem.WW, problem.out_h, problem.out_w)
    return as_strided(xp, shape=shape, strides=(sN, sC, sH, sW, sH * s, sW * s), writeable=False)


def im2col(xp: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Columns of the padded input: (N, C*HH*WW, H'*W'), one contiguous copy."""
    N, K = xp.shape[0], problem.C * problem.HH * problem.WW
    return window_view(xp, problem).reshape(N, K, problem.out_h * problem.out_w)


def col2im(dcols: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add (N, C*HH*WW, H'*W') into dx (N, C, H, W).

    One strided add per kernel offset (HH*WW of them); windows that overlap add up.
    """
    N, (_, C, H, W) = dcols.shape[0], problem.x_shape
    HH, WW, H_, W_, s, p = problem.HH, problem.WW, problem.out_h, problem.out_w, problem.stride, problem.pad
    dcols = dcols.reshape(N, C, HH, WW, H_, W_)
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dcols.dtype)
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i:i + s * (H_ - 1) + 1:s, j:j + s * (W_ - 1) + 1:s] += dcols[:, :, i, j]
    return dxp[:, :, p:p + H, p:p + W] if p else dxp
