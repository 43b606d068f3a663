"""FFT, tiled: the layer as products of 2-D real spectra of output tiles, summed over channels per frequency.

Textbook (:mod:`strategies.fft_reference`): ``out[n, f] = sum_c irfft2(rfft2(x_padded[n, c]) *
conj(rfft2(w[f, c])))``, cropped to the window positions, on transforms the size of the padded
image.  Here the output is cut into Th x Tw tiles (:mod:`strategies.fft_plan`, which picks
the tile size per problem by counted flops; one tile is the whole-image FFT) and every tile of
every image becomes a row of one contraction (M = N * tiles rows, Cp channels; K = Lh*Lr
frequencies; sizes in :mod:`strategies.fft_plan`, transforms in :mod:`strategies.fft_spectra`,
tiling copies in :mod:`strategies.fft_tiles`)::

    X   = rfft2(input window of each tile)    # (K, M, Cp)   overlap-save: windows overlap
    W*  = conj(rfft2(w))                      # (K, Cp, F)   the kernel at the tile's size
    Y   = X @ W*                              # (K, M, F)    one batched matmul over frequencies
    out = irfft2(Y + Lh*Lw*b at frequency 0)[:Th, :Tw] of each tile, placed

Backward, with D* = conj(rfft2(dout tile)) (each Th x Tw dout tile zero-extended)::

    dw = irfft2(D*^T @ X)[:HHq, :WWq]      # the sum over tiles and images inside the product
    dx = overlap-add of irfft2(conj(D* @ W*^T)) over each tile's window, cropped by pad
    db = dout summed over N, H', W'

Stride s > 1 (polyphase, :mod:`strategies.polyphase`): x_padded and w are split into
P = min(s, HH) * min(s, WW) phases and the layer becomes a stride-1 one on Cp = C*P channels
over grids s times smaller per axis; every output computed is wanted and backward needs no
dilated dout.  float32 input computes in complex64 throughout.
"""
from __future__ import annotations

import numpy as np

from .base import ConvStrategy
from .fft_costs import fft_costs
from .fft_plan import FFTPlan
from .fft_spectra import (from_frequency_major, inverse, kernel_inverse, kernel_spectrum, product_buffer,
                          spectrum)
from .fft_tiles import dout_tiles, extended_input, input_gradient, overlap_add, place_tiles, tile_windows
from .geometry import ConvProblem
from .phases import step
from .polyphase import merge, split


class FFT(ConvStrategy):
    """Tiled real 2-D FFTs (overlap-save), the channel sum as one batched matmul per frequency; polyphase for stride.

    Algorithm: the module docstring (``help(strategies.fft)``); the tile choice and its table
    of examples: :mod:`strategies.fft_plan`.

    Costs (:mod:`strategies.fft_costs`): per tile and channel an Lh x Lw real FFT of the input
    window, per output channel an inverse one; per frequency a complex (M x Cp) @ (Cp x F)
    product, 8*K*M*Cp*F flops, about 4*(Lh*Lr)/(Th*Tw) / (HH*WW) of im2col's multiplies (~0.3x
    on 3x3 kernels, ~0.1x on 5x5, ~0.03x at 11x11).  The forward cache holds X and W*
    (complex, K*M*Cp and K*Cp*F), so backward skips both transforms.  Tiles keep the
    transforms, W* and the per-frequency products small where the kernel is small; one tile
    (the whole-image FFT) is kept where it is cheaper (:mod:`strategies.fft_plan`).

    Where it loses: 1x1 kernels (nothing to save: the spectra only add transforms and complex
    arithmetic on top of im2col's one GEMM), small strided kernels (polyphase leaves 1-2 taps
    per phase), and layers with few channels and many outputs (the stem: its 64 inverse
    transforms per image cost more than the products save).  It wins from ~5x5 kernels up,
    by more the larger the kernel, since its multiplies do not grow with HH*WW.
    """

    name = "fft"
    family = "fft"

    @property
    def memory_blind_spot(self) -> str:
        return "scipy.fft scratch is allocated in C++, unseen by tracemalloc: see mem_rss_bytes"

    def _forward(self, x, w, b, problem: ConvProblem):
        """Steps ``pad``, ``input_spectrum``, ``kernel_spectrum``, ``products``, ``bias``, ``inverse``.

        The bias is added to every tile's DC coefficient (Lh*Lw*b: the inverse spreads it over
        the tile), so no pass over the output is spent on it."""
        plan = FFTPlan.for_problem(problem)
        N, F, Cp = problem.N, problem.F, problem.C * plan.grid.count
        K, M = plan.frequencies, N * plan.tiles
        with step("pad"):
            windows = tile_windows(extended_input(x, problem, plan), plan)      # (N, Cp, th, tw, wr, wc)
        with step("input_spectrum"):
            x_spec = spectrum(windows, plan).reshape(K, M, Cp)                # X
        del windows
        with step("kernel_spectrum"):
            wt = split(w, plan.grid, plan.krows, plan.kcols).transpose(2, 3, 1, 0)   # (HHq, WWq, Cp, F)
            w_spec = kernel_spectrum(np.ascontiguousarray(wt), plan).reshape(K, Cp, F)   # W*
        with step("products"):
            out_spec = np.matmul(x_spec, w_spec, out=product_buffer(K, M, F, x_spec.dtype))   # Y: (K, M, F)
        with step("bias"):   # frequency (0, 0) of every tile
            out_spec[0] += (plan.Lh * plan.Lw) * b
        with step("inverse"):
            tiles = from_frequency_major(out_spec.reshape(plan.Lh, plan.Lr, plan.th, plan.tw, N, F))
            del out_spec
            y = inverse(tiles, plan, plan.Th)                                   # (N, F, th, tw, Th, Lw)
            del tiles
            out = place_tiles(y, problem, plan)
        return out, (plan, x_spec, w_spec)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        """Steps ``db``, ``dout_spectrum``, then ``dw_products``, ``dw_inverse`` and/or ``dx_products``,
        ``dx_inverse``: only what ``wrt`` asks for."""
        plan, x_spec, w_spec = saved
        N, F, Cp = problem.N, problem.F, problem.C * plan.grid.count
        K, M = plan.frequencies, N * plan.tiles
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                ones = np.ones(problem.out_h * problem.out_w, dout.dtype)
                db = np.matmul(dout.reshape(N, F, -1), ones).sum(axis=0)   # a BLAS matvec: 3x a sum()
        if not wrt & {"x", "w"}:
            return dx, dw, db
        with step("dout_spectrum"):
            d_spec = spectrum(dout_tiles(dout, plan), plan, conj=True).reshape(K, M, F)   # D*
        if "w" in wrt:
            with step("dw_products"):
                dw_spec = np.matmul(d_spec.transpose(0, 2, 1), x_spec)          # (K, F, Cp)
            with step("dw_inverse"):
                taps = kernel_inverse(dw_spec.reshape(plan.Lh, plan.Lr, F, Cp), plan)   # (HHq, WWq, F, Cp)
                dw = merge(taps.transpose(2, 3, 0, 1), plan.grid, problem.HH, problem.WW)
            del dw_spec
        if "x" in wrt:
            with step("dx_products"):   # conj(dX): (K, M, Cp)
                dx_spec = np.matmul(d_spec, w_spec.transpose(0, 2, 1), out=product_buffer(K, M, Cp, d_spec.dtype))
            del d_spec
            with step("dx_inverse"):
                tiles = from_frequency_major(dx_spec.reshape(plan.Lh, plan.Lr, plan.th, plan.tw, N, Cp))
                del dx_spec
                tiles = inverse(tiles, plan, plan.window[0], conj=True)         # (N, Cp, th, tw, wr, Lw)
                acc = overlap_add(tiles, plan)
                del tiles
                dx = input_gradient(acc, problem, plan)
        return dx, dw, db

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int):
        return fft_costs(problem, FFTPlan.for_problem(problem), pass_, itemsize)
