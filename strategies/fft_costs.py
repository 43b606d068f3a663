"""Analytic costs of the tiled FFT strategy, per pass and named step (definitions: :mod:`strategies.costs`).

With Cp = C * phases channels, M = N * tiles (every tile of every image is a row of the
contraction), K = Lh * Lr frequencies and a tile's input window wr x wc::

    input_spectrum   real FFTs of Lw on wr rows, complex FFTs of Lh on Lr columns, per (tile, n, c)
    kernel_spectrum  real FFTs of Lw on HHq rows per (c, f); the Lh-point DFT of those HHq rows
                     as one complex GEMM (Lh x HHq) @ (HHq x Lr*Cp*F)  (kind gemm_transform)
    products         K complex GEMMs (M x Cp) @ (Cp x F): 8*K*M*Cp*F
    bias             Lh*Lw*b added at frequency 0 of every tile (2*M*F real adds)
    inverse          complex FFTs of Lh, real inverse FFTs of Lw on the Th kept rows
    dout_spectrum    as input_spectrum on the Th x Tw dout tiles
    dw_products      K complex GEMMs (F x M) @ (M x Cp): the sum over tiles and images inside them
    dw_inverse       the HHq kept rows by an inverse-DFT GEMM, then real inverse FFTs of Lw
    dx_products      K complex GEMMs (M x F) @ (F x Cp)
    dx_inverse       complex FFTs of Lh, real inverse FFTs of Lw on wr rows, then overlap-add
                     (M*Cp*wr*wc adds)

Bytes: x, w and dout read, the spectra X, W*, Y, D*, dW and dX each written once and read
once, out, dx, dw written once.  The tiled copy of the input (``pad``), the kernel's phase
split and the output's placement are implementation copies, not counted.  Workspace: every
array a call allocates, at its peak (the forward cache holds X and W*); scipy.fft's own
scratch (C++, a few transform lengths per thread) is not counted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .costs import Costs, PhaseCost, fft_flops, gemm_flops

if TYPE_CHECKING:
    from .geometry import ConvProblem
# ``plan`` below is a :class:`strategies.fft_plan.FFTPlan` (not imported: the plan is chosen by these counts,
# so fft_plan imports this module)


def padded_row(B: int) -> int:
    """The padded row length of :func:`strategies.fft_spectra.product_buffer` (allocated there, counted here):
    B + 8, or B + 16 if that is a power of two."""
    row = B + 8
    return row + 8 if row & (row - 1) == 0 else row


def _sizes(problem: ConvProblem, plan):
    Cp, M = problem.C * plan.grid.count, problem.N * plan.tiles
    return Cp, M, plan.frequencies, plan.window


def step_flops(problem: ConvProblem, plan) -> float:
    """All flops of a forward and a backward call with ``plan``: what the plan's choice minimises."""
    return fft_costs(problem, plan, "forward", 4).flops + fft_costs(problem, plan, "backward", 4).flops


def fft_costs(problem: ConvProblem, plan, pass_: str, itemsize: int) -> Costs:
    N, F = problem.N, problem.F
    Cp, M, K, (wr, wc) = _sizes(problem, plan)
    Lh, Lw, Lr, kh = plan.Lh, plan.Lw, plan.Lr, plan.krows
    e = float(itemsize)
    length = max(Lh, Lw)
    x, w = N * problem.C * problem.H * problem.W * e, F * problem.C * problem.HH * problem.WW * e
    out = N * F * problem.out_h * problem.out_w * e
    X, Wc, Y, D, DW, DX = (2 * e * n for n in (K * M * Cp, K * Cp * F, K * M * F, K * M * F, K * F * Cp, K * M * Cp))
    real_rows = lambda rows, lines: fft_flops(Lw, rows * lines, real=True)   # noqa: E731
    complex_cols = lambda lines: fft_flops(Lh, Lr * lines, real=False)       # noqa: E731
    if pass_ == "forward":
        phases = (
            PhaseCost("pad"),
            PhaseCost("input_spectrum", x + X, fft=real_rows(wr, M * Cp) + complex_cols(M * Cp), fft_length=length),
            PhaseCost("kernel_spectrum", w + Wc, fft=real_rows(kh, Cp * F),
                      gemm_transform=gemm_flops(Lh, Lr * Cp * F, kh, complex_=True), fft_length=Lw),
            PhaseCost("products", X + Wc + Y, product=gemm_flops(M, F, Cp, batch=K, complex_=True)),
            PhaseCost("bias", 0.0, transform=float(2 * M * F)),               # one complex add per tile
            PhaseCost("inverse", Y + out, fft=complex_cols(M * F) + real_rows(plan.Th, M * F), fft_length=length),
        )
        return Costs(phases, _forward_peak(problem, plan, e) - out)
    phases, peaks = [], []
    if pass_ in ("backward_filter", "backward"):
        phases.append(PhaseCost("db", out + F * e, transform=2.0 * N * F * problem.out_h * problem.out_w))
    phases.append(PhaseCost("dout_spectrum", out + D, fft=real_rows(plan.Th, M * F) + complex_cols(M * F),
                            fft_length=length))
    exact = (plan.th * plan.Th, plan.tw * plan.Tw) == (problem.out_h, problem.out_w)
    extended = 0.0 if exact else plan.th * plan.Th * plan.tw * plan.Tw * N * F * e
    peaks.append(extended + spectrum_peak(plan, M * F, plan.Th, plan.Tw, e))
    held = 0.0                                                                 # dw's inverse, still held by dw
    if pass_ in ("backward_filter", "backward"):
        taps = kh * Lw * F * Cp * e
        phases += [PhaseCost("dw_products", D + X + DW, product=gemm_flops(F, Cp, M, batch=K, complex_=True)),
                   PhaseCost("dw_inverse", DW + w, gemm_transform=gemm_flops(kh, Lr * F * Cp, Lh, complex_=True),
                             fft=real_rows(kh, F * Cp), fft_length=Lw)]
        peaks.append(D + DW + 2 * kh * Lh * 2 * e + kh * Lr * F * Cp * 2 * e + taps
                     + (2 * w if problem.stride > 1 else 0.0))
        held = w + F * e if problem.stride > 1 else taps + F * e
    if pass_ in ("backward_data", "backward"):
        bands_h, bands_w = -(-wr // plan.Th), -(-wc // plan.Tw)
        acc = (plan.th + bands_h - 1) * plan.Th * (plan.tw + bands_w - 1) * plan.Tw * N * Cp * e
        merged = N * problem.C * (problem.H + 2 * problem.pad) * (problem.W + 2 * problem.pad) * e \
            if problem.stride > 1 else 0.0
        tiles = N * Cp * plan.tiles * wr * Lw * e
        phases += [PhaseCost("dx_products", D + Wc + DX, product=gemm_flops(M, Cp, F, batch=K, complex_=True)),
                   PhaseCost("dx_inverse", DX + x, fft=complex_cols(M * Cp) + real_rows(wr, M * Cp),
                             transform=float(M * Cp * wr * wc), fft_length=length)]
        buffers = 3 * np.getbufsize() * e                                      # numpy's buffers for a strided add
        DXp = K * M * padded_row(Cp) * 2 * e                                   # the product buffer is padded
        peaks.append(held + max(D + DXp, DXp + DX, DX + tiles, tiles + acc + buffers, acc + merged))
    returned = (x if pass_ in ("backward_data", "backward") else 0.0) + \
        (w + F * e if pass_ in ("backward_filter", "backward") else 0.0)
    return Costs(tuple(phases), max(peaks) - returned)


def spectrum_peak(plan, lines: int, rows: int, cols: int, e: float) -> float:
    """Most bytes live inside :func:`strategies.fft_spectra.spectrum` of ``lines`` tiles of rows x cols
    data: scipy.fft zero-extends a copy when a transform is longer than its data."""
    z, Lh, Lw, Lr = 2 * e, plan.Lh, plan.Lw, plan.Lr
    extended = lines * rows * Lw * e if cols < Lw else 0.0
    columns = lines * rows * Lr * z
    spec = lines * Lh * Lr * z if rows < Lh else 0.0              # else transformed in place
    final = lines * Lh * Lr * z                                   # frequency-major
    return max(extended + columns, columns + spec, (spec or columns) + final)


def _forward_peak(problem: ConvProblem, plan, e: float) -> float:
    """The most bytes live at once in a forward call beyond x, w and b, out included (X and W* stay: the cache)."""
    N, F, C, z = problem.N, problem.F, problem.C, 2 * e
    Cp, (Hx, Wx), (wr, wc), kh, K = C * plan.grid.count, plan.extent, plan.window, plan.krows, plan.frequencies
    M, Lw, Lr = N * plan.tiles, plan.Lw, plan.Lr
    X, Wc, Y = K * M * Cp * z, K * Cp * F * z, K * M * padded_row(F) * z   # the product buffer is padded
    strided = problem.stride > 1
    extended = N * Cp * Hx * Wx * e
    padded = N * C * (problem.H + 2 * problem.pad) * (problem.W + 2 * problem.pad) * e if strided else 0.0
    wt = (2 if strided else 1) * F * Cp * kh * plan.kcols * e       # the phase split, its transposed copy
    columns = kh * Lr * Cp * F * z
    kernel = wt + max(kh * Lw * Cp * F * e + columns, columns + plan.Lh * kh * z + Wc)
    real = M * F * plan.Th * Lw * e
    out = N * F * problem.out_h * problem.out_w * e
    tiles = K * M * F * z                                             # the product, in tile order
    return max(extended + padded, extended + spectrum_peak(plan, M * Cp, wr, wc, e), X + kernel,
               X + Wc + Y + tiles, X + Wc + tiles + real, X + Wc + real + out)
