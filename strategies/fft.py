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

Stride s > 1 (polyphase, :mod:`strategies.polyphase`): x_padded and w are each split into
P = min(s, HH) * min(s, WW) phases; phase r of x only meets phase r of w, so the layer
becomes a stride-1 one on C*P phase-channels over grids s times smaller per axis.  Every
output computed is wanted, and backward needs no dilated dout.

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
from .fft_plan import FFTPlan, inverse, spectrum
from .geometry import ConvProblem, pad_input
from .phases import step
from .polyphase import merge, split


class FFT(ConvStrategy):
    """Real 2-D FFTs, the channel sum as a batched matmul per frequency, polyphase for stride > 1.

    See the module docstring for the algorithm, its costs and where it loses (1x1 and
    strided 3x3 layers: its contraction runs over every frequency of the padded image,
    whatever the kernel).
    """

    name = "fft"
    family = "fft"

    @property
    def memory_blind_spot(self) -> str:
        return "scipy.fft scratch is allocated in C++, unseen by tracemalloc: see mem_rss_bytes"

    def _forward(self, x, w, b, problem: ConvProblem):
        plan = FFTPlan.for_problem(problem)
        with step("pad"):
            x_phases = split(pad_input(x, problem.pad), plan.grid, plan.rows, plan.cols)
        with step("input_spectrum"):
            x_spec = _frequency_major(spectrum(x_phases, plan))                     # X:  (K, N, C*P)
        del x_phases
        with step("kernel_spectrum"):
            w_phases = split(w, plan.grid, plan.krows, plan.kcols).transpose(1, 0, 2, 3)
            w_spec = _frequency_major(spectrum(w_phases, plan, conj=True, short=True))  # W*: (K, C*P, F)
        with step("products"):
            out_spec = np.matmul(x_spec, w_spec)                                    # (K, N, F)
        with step("inverse"):
            out = _invert_and_crop(out_spec, plan, problem.N, problem.F, problem.out_h, problem.out_w)
        with step("bias"):
            out = out + b[:, None, None]
        return out, (plan, x_spec, w_spec)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        plan, x_spec, w_spec = saved
        N, C, H, W = problem.x_shape
        F, _, HH, WW = problem.w_shape
        p, Cp = problem.pad, C * plan.grid.count
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = dout.sum(axis=(0, 2, 3))
        if not wrt & {"x", "w"}:
            return dx, dw, db
        with step("dout_spectrum"):
            d_spec = spectrum(dout, plan, conj=True).reshape(plan.frequencies, N, F)   # D*: (K, N, F)
        if "w" in wrt:
            # the kernel-sized product is a temporary: freed before dx's is made
            with step("dw_products"):
                dw_spec = np.matmul(d_spec.transpose(0, 2, 1), x_spec)               # (K, F, C*P)
            with step("dw_inverse"):
                dw = _invert_and_crop(dw_spec, plan, F, Cp, plan.krows, plan.kcols, short=True)
                dw = merge(dw, plan.grid, HH, WW)
            del dw_spec
        if "x" in wrt:
            with step("dx_products"):
                dx_spec = np.matmul(w_spec, d_spec.transpose(0, 2, 1)).transpose(0, 2, 1)  # conj(dX): (K, N, C*P)
            with step("dx_inverse"):
                dxp = _invert_and_crop(dx_spec, plan, N, Cp, plan.rows, plan.cols, conj=True)
                dx = merge(dxp, plan.grid, H + 2 * p, W + 2 * p)[:, :, p:p + H, p:p + W]
        return dx, dw, db


def _frequency_major(spec: np.ndarray) -> np.ndarray:
    """(Lh, Lr, B1, B2) -> (K, B1, B2), K = Lh*Lr frequencies (a view)."""
    return spec.reshape(spec.shape[0] * spec.shape[1], *spec.shape[2:])


def _invert_and_crop(spec, plan: FFTPlan, B1: int, B2: int, rows: int, cols: int, conj: bool = False,
                     short: bool = False):
    """(K, B1, B2) spectrum -> the top-left rows x cols of its inverse transform, (B1, B2, rows, cols)."""
    return inverse(spec.reshape(plan.Lh, -1, B1, B2), plan, rows, cols, conj=conj, short=short)
