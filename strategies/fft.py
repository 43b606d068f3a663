"""FFT: the layer as products of 2-D real spectra, summed over channels frequency by frequency.

Forward (stride 1; sizes and transforms in :mod:`strategies.fft_plan`; K = Lh*Lr frequencies)::

    X   = rfft2(x_padded)             # (K, N, C)  spectrum of the padded input
    W*  = conj(rfft2(w))              # (K, C, F)  correlation = product with the conjugate
    Y   = X @ W*                      # (K, N, F)  one batched matmul over the K frequencies
    out = irfft2(Y)[:H', :W'] + b     # crop to the window positions

Backward, with D* = conj(rfft2(dout)), dout zero-extended to Lh x Lw (which covers the
trailing rows and columns no window reaches)::

    dw = irfft2(D*^T @ X)[:HH, :WW]               # x_padded correlated with dout
    dx = irfft2(conj(W* @ D*^T))[pad:pad+H, ...]  # dout correlated with the flipped w, crop the pad
    db = dout summed over N, H', W'

Stride s > 1 (polyphase): x_padded and w are each split into s*s phases; phase r of x only
meets phase r of w, so the layer becomes a stride-1 one on C*s*s phase-channels over
grids s times smaller per axis.  Every output computed is wanted, and backward needs
no dilated dout: each phase of dx is dout against one phase of w, and merging the
phases interleaves them, which is what the dilation's zeros between rows did.

Where the FFT cannot compete: its contraction costs ~N*C*F*Hp*Wp complex products
whatever the kernel, im2col's N*C*F*HH*WW*H'*W'; striding divides only the latter by
s*s.  Measured (float32, 1 thread, N=4, 64x64, C=F=32): fft wins from 5x5 forward (3x3
about even backward) and is 4-7x faster forward at 11x11-15x15; but 3x3 stride 2 is ~6x
slower forward than im2col, 7x7 stride 2 ~1.5x slower forward (a little faster
backward), and 1x1 layers are 10-40x slower: use im2col there.

The two kernel-sized transforms (W*, and dw's inverse, which needs only HH of the Lh
rows) do their row pass as one DFT GEMM over those few rows: backward up to 2x faster
(3x3, 5x5 at C=F=32) than full FFTs over mostly-zero rows.  Cache: X and W*, so
backward skips both forward transforms (measured 1.4-1.7x faster backward); they hold
K*(N*C + C*F) complex numbers (7 MB on N=4 C=F=16 64x64 11x11, where im2col caches
127 MB; but W* grows with the grid, not the kernel: 22 MB vs im2col's 19 MB at C=F=32
3x3).  float32 input computes in complex64 throughout.
"""
from __future__ import annotations

import numpy as np

from .base import ConvStrategy
from .fft_plan import FFTPlan, inverse, merge_phases, spectrum, split_phases
from .geometry import ConvProblem, pad_input


class FFT(ConvStrategy):
    """Real 2-D FFTs, channel sum as a batched matmul per frequency, polyphase for stride > 1."""

    name = "fft"
    algorithm = "fft"

    def _forward(self, x, w, b, problem: ConvProblem):
        plan = FFTPlan.for_problem(problem)
        x_spec, w_spec = _forward_spectra(x, w, problem, plan)
        out_spec = np.matmul(x_spec, w_spec)                            # contract: (K, N, F)
        out = _invert_and_crop(out_spec, plan, problem.N, problem.F, problem.out_h, problem.out_w)
        return out + b[:, None, None], (plan, x_spec, w_spec)

    def _backward(self, dout, problem: ConvProblem, saved):
        plan, x_spec, w_spec = saved
        N, C, H, W = problem.x_shape
        F, _, HH, WW = problem.w_shape
        s, p, Cs = plan.stride, problem.pad, C * plan.stride ** 2
        d_spec = spectrum(dout, plan, conj=True).reshape(plan.frequencies, N, F)     # D*: (K, N, F)
        # the kernel-sized product is a temporary: freed before dx's is made
        dw = _invert_and_crop(np.matmul(d_spec.transpose(0, 2, 1), x_spec),          # (K, F, Cs)
                              plan, F, Cs, plan.krows, plan.kcols, short=True)
        dx = _invert_and_crop(np.matmul(w_spec, d_spec.transpose(0, 2, 1)).transpose(0, 2, 1),  # conj(dX)
                              plan, N, Cs, plan.rows, plan.cols, conj=True)
        dx, dw = merge_phases(dx, s), merge_phases(dw, s)
        db = dout.sum(axis=(0, 2, 3))
        return dx[:, :, p:p + H, p:p + W], dw[:, :, :HH, :WW], db


def _forward_spectra(x, w, problem: ConvProblem, plan: FFTPlan):
    """X (K, N, C*s*s) of the padded input's phases and W* (K, C*s*s, F), the conjugate of the kernel's."""
    s = plan.stride
    x_phases = split_phases(pad_input(x, problem.pad), s, plan.rows, plan.cols)
    w_phases = split_phases(w, s, plan.krows, plan.kcols)
    x_spec = spectrum(x_phases, plan)                                              # (Lh, Lr, N, C*s*s)
    w_spec = spectrum(w_phases.transpose(1, 0, 2, 3), plan, conj=True, short=True)  # (Lh, Lr, C*s*s, F)
    K = plan.frequencies
    return x_spec.reshape(K, *x_spec.shape[2:]), w_spec.reshape(K, *w_spec.shape[2:])


def _invert_and_crop(spec, plan: FFTPlan, B1: int, B2: int, rows: int, cols: int, **how):
    """(K, B1, B2) spectrum -> the top-left rows x cols of its inverse transform, (B1, B2, rows, cols)."""
    return inverse(spec.reshape(plan.Lh, -1, B1, B2), plan, rows, cols, **how)
