"""The textbook FFT layer, written plainly with ``numpy.fft``: the reference the tiled code is proved equal to.

Stride 1, on transforms of the padded image's own size (circular correlation of an Hp x Wp
signal with a kernel no larger is the linear one on the H' x W' valid outputs)::

    X = rfft2(x_padded),  W = rfft2(w, s=(Hp, Wp)),  D = rfft2(dout, s=(Hp, Wp))
    out[n, f] = sum_c irfft2(X[n, c] * conj(W[f, c]))[:H', :W'] + b[f]
    dx[n, c]  = sum_f irfft2(D[n, f] * W[f, c])[pad:pad+H, pad:pad+W]
    dw[f, c]  = sum_n irfft2(conj(D[n, f]) * X[n, c])[:HH, :WW]

and the spectrum of each overlap-save tile of :mod:`strategies.fft_plan`, one
``numpy.fft.rfft2`` per tile window.  Slow (no batching beyond numpy's) and only for tests.
"""
from __future__ import annotations

import numpy as np

from .fft_plan import FFTPlan
from .geometry import ConvProblem, pad_input


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, problem: ConvProblem) -> np.ndarray:
    """out (N, F, H', W') of a stride-1 layer by whole-image FFTs."""
    xp = pad_input(x, problem.pad)
    s = xp.shape[2:]
    X, Wf = np.fft.rfft2(xp), np.fft.rfft2(w, s=s)
    Y = np.einsum("nchw,fchw->nfhw", X, np.conj(Wf))
    return np.fft.irfft2(Y, s=s)[:, :, :problem.out_h, :problem.out_w] + b[:, None, None]


def backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, problem: ConvProblem):
    """(dx, dw, db) of a stride-1 layer by whole-image FFTs."""
    xp, p = pad_input(x, problem.pad), problem.pad
    s = xp.shape[2:]
    X, Wf, D = np.fft.rfft2(xp), np.fft.rfft2(w, s=s), np.fft.rfft2(dout, s=s)
    dxp = np.fft.irfft2(np.einsum("nfhw,fchw->nchw", D, Wf), s=s)
    dw = np.fft.irfft2(np.einsum("nfhw,nchw->fchw", np.conj(D), X), s=s)[:, :, :problem.HH, :problem.WW]
    return dxp[:, :, p:p + problem.H, p:p + problem.W], dw, dout.sum(axis=(0, 2, 3))


def tile_spectra(xe: np.ndarray, plan: FFTPlan) -> np.ndarray:
    """(Lh, Lr, th, tw, N, Cp): ``numpy.fft.rfft2`` of every tile's input window of ``xe`` (N, Cp, Hx, Wx)."""
    wr, wc = plan.window
    out = np.empty((plan.Lh, plan.Lr, plan.th, plan.tw, *xe.shape[:2]), complex)
    for a in range(plan.th):
        for b in range(plan.tw):
            window = xe[:, :, a * plan.Th:a * plan.Th + wr, b * plan.Tw:b * plan.Tw + wc]
            out[:, :, a, b] = np.fft.rfft2(window, s=(plan.Lh, plan.Lw)).transpose(2, 3, 0, 1)
    return out
