"""The polyphase split: a strided correlation as a sum of stride-1 ones (the one copy, for fft and winograd).

With rows ``y = s*a + r`` and taps ``i = s*q + r`` (``0 <= r < s``)::

    out[h] = sum_i xp[s*h + i] w[i] = sum_r sum_q xp_r[h + q] w_r[q],
    xp_r[a] = xp[s*a + r],   w_r[q] = w[s*q + r]

so phase ``r`` of the padded input meets only phase ``r`` of the kernel, and the phases
add up like channels.  A phase ``r >= HH`` holds no kernel tap, so only ``min(s, HH)``
row phases (times ``min(s, WW)`` column phases) are ever made: a stride far beyond the
kernel costs nothing extra.  Per axis (rows here; columns alike)::

    phases   P  = min(s, HH)
    taps     Kq = ceil(HH / s)       rows of every kernel phase (zero-extended)
    rows     Hq = H' + Kq - 1        rows of every input phase that some output reads

Every output of the stride-1 sub-problems is a wanted output, and the backward pass needs
no dilated ``dout``: each phase of dx is ``dout`` against one phase of the kernel, and
:func:`merge` interleaves them, which is what the dilation's zeros did.  Input rows that
no phase reaches (beyond the last window) get zero gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import ConvProblem


@dataclass(frozen=True)
class Polyphase:
    """Phase counts and sizes of one problem (see the module docstring)."""

    stride: int
    phases_h: int   # P along rows
    phases_w: int
    rows: int       # Hq: rows of one input phase
    cols: int       # Wq
    krows: int      # Kq: rows of one kernel phase
    kcols: int

    @classmethod
    def for_problem(cls, problem: ConvProblem) -> Polyphase:
        s = problem.stride
        krows, kcols = -(-problem.HH // s), -(-problem.WW // s)
        return cls(s, min(s, problem.HH), min(s, problem.WW), problem.out_h + krows - 1,
                   problem.out_w + kcols - 1, krows, kcols)

    @property
    def count(self) -> int:
        """Number of phases (sub-problems): P_h * P_w."""
        return self.phases_h * self.phases_w

    @property
    def trivial(self) -> bool:
        """Stride 1: one phase, the problem itself."""
        return self.count == 1 and self.stride == 1


def phase(a: np.ndarray, s: int, r: int, t: int) -> np.ndarray:
    """Phase (r, t) of ``a`` (B, C, h, w): ``a[:, :, r::s, t::s]``, a view."""
    return a[:, :, r::s, t::s]


def split(a: np.ndarray, grid: Polyphase, rows: int, cols: int) -> np.ndarray:
    """(B, C, h, w) -> (B, C*P, rows, cols): channel ``c*P + r*P_w + t`` holds phase (r, t) of channel c,
    cropped or zero-extended to rows x cols.  Returns ``a`` itself for a trivial split of the right size."""
    B, C, h, w = a.shape
    if grid.trivial and (h, w) == (rows, cols):
        return a
    out = np.zeros((B, C, grid.phases_h, grid.phases_w, rows, cols), dtype=a.dtype)
    for r in range(grid.phases_h):
        for t in range(grid.phases_w):
            p = phase(a, grid.stride, r, t)[:, :, :rows, :cols]
            out[:, :, r, t, :p.shape[2], :p.shape[3]] = p
    return out.reshape(B, C * grid.count, rows, cols)


def merge(a: np.ndarray, grid: Polyphase, height: int, width: int) -> np.ndarray:
    """The adjoint of :func:`split`: (B, C*P, rows, cols) -> (B, C, height, width), phase (r, t) placed
    at rows r::s and columns t::s as far as it fits; positions no phase holds are 0."""
    B, CP, rows, cols = a.shape
    if grid.trivial and (rows, cols) == (height, width):
        return a
    a = a.reshape(B, CP // grid.count, grid.phases_h, grid.phases_w, rows, cols)
    out = np.zeros((B, CP // grid.count, height, width), dtype=a.dtype)
    for r in range(grid.phases_h):
        for t in range(grid.phases_w):
            dst = phase(out, grid.stride, r, t)
            n, m = min(dst.shape[2], rows), min(dst.shape[3], cols)
            dst[:, :, :n, :m] = a[:, :, r, t, :n, :m]
    return out
