"""Sizes and transforms of the FFT strategy: frequency-major 2-D real FFTs of polyphase-split arrays.

A stride-``s`` layer is first rewritten as a stride-1 one on more channels by the
polyphase split (:mod:`strategies.polyphase`: input phases (N, C*P, Hq, Wq), kernel
phases (F, C*P, HHq, WWq)); then::

    transform      Lh x Lw        Lh = next_fast_len(Hq), Lw = next_fast_len(Wq, real)

``Lh >= Hq`` makes every circular product used here equal to the linear one: the
forward correlation reads rows ``h + q <= Hq - 1``; dw's correlation the same; dx's
convolution wraps only into rows ``>= Lh - HHq + 1 >= H'``, where the extended dout is 0.

Spectra are *frequency-major*, ``(Lh, Lr, B1, B2)`` with ``Lr = Lw // 2 + 1``, so that the
sum over channels is one batched matrix product over the ``Lh*Lr`` frequencies.  The
2-D transform is done as its two 1-D passes: the real pass along columns runs only on
the rows that hold data (the zero rows are added between the passes), and the complex
pass along rows writes straight into the frequency-major buffer.  For a kernel
(``short``: HHq rows of Lh) that second pass is one DFT GEMM over its few rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .geometry import ConvProblem
from .polyphase import Polyphase


@dataclass(frozen=True)
class FFTPlan:
    """Phase sizes and transform lengths of one problem (see the module docstring)."""

    grid: Polyphase   # the polyphase split (one phase at stride 1)
    Lh: int           # transform length along rows (complex pass)
    Lw: int           # transform length along columns (real pass)

    @classmethod
    def for_problem(cls, problem: ConvProblem) -> FFTPlan:
        grid = Polyphase.for_problem(problem)
        return cls(grid, scipy.fft.next_fast_len(grid.rows), scipy.fft.next_fast_len(grid.cols, real=True))

    @property
    def rows(self) -> int:
        """Hq: rows of one input phase."""
        return self.grid.rows

    @property
    def cols(self) -> int:
        return self.grid.cols

    @property
    def krows(self) -> int:
        """HHq: rows of one kernel phase."""
        return self.grid.krows

    @property
    def kcols(self) -> int:
        return self.grid.kcols

    @property
    def frequencies(self) -> int:
        """Number of frequencies the contraction runs over: Lh * (Lw // 2 + 1)."""
        return self.Lh * (self.Lw // 2 + 1)


def spectrum(a: np.ndarray, plan: FFTPlan, conj: bool = False, short: bool = False) -> np.ndarray:
    """Real (B1, B2, h, w) -> its Lh x Lw 2-D spectrum (or its conjugate), frequency-major (Lh, Lr, B1, B2).

    Zero-extends to Lh x Lw; the conjugate costs no extra pass (it is taken while the
    small column spectrum is copied, then the row pass runs with the + sign).  ``short``
    (a kernel: h << Lh rows): the row pass is the h-term DFT as one GEMM, cheaper than
    an FFT of Lh rows that are mostly zeros.
    """
    B1, B2, h, _ = a.shape
    col_spec = scipy.fft.rfft(a, n=plan.Lw, axis=-1)                       # (B1, B2, h, Lr)
    Lr = col_spec.shape[-1]
    if short:
        rows = np.empty((h, Lr, B1, B2), dtype=col_spec.dtype)
        _copy(col_spec.transpose(2, 3, 0, 1), rows, conj)
        dft = _dft_matrix(plan.Lh, h, +1 if conj else -1, rows.dtype)      # (Lh, h)
        return np.matmul(dft, rows.reshape(h, -1)).reshape(plan.Lh, Lr, B1, B2)
    out = np.zeros((plan.Lh, Lr, B1, B2), dtype=col_spec.dtype)
    _copy(col_spec.transpose(2, 3, 0, 1), out[:h], conj)
    if conj:
        return scipy.fft.ifft(out, axis=0, norm="forward", overwrite_x=True)
    return scipy.fft.fft(out, axis=0, overwrite_x=True)


def inverse(spec: np.ndarray, plan: FFTPlan, rows: int, cols: int, conj: bool = False,
            short: bool = False) -> np.ndarray:
    """Frequency-major (Lh, Lr, B1, B2) -> the top-left rows x cols of its real inverse, (B1, B2, rows, cols).

    With ``conj`` the spectrum is conjugated first (at no extra pass).  Only the kept
    rows go through the second, real pass; ``short`` (a kernel's few rows): the row
    pass computes only those, as one GEMM with the inverse DFT matrix.  ``spec`` may
    be overwritten.
    """
    Lh, Lr, B1, B2 = spec.shape
    if short:
        idft = _dft_matrix(Lh, rows, -1 if conj else +1, spec.dtype).T / Lh    # (rows, Lh)
        kept = np.matmul(idft, spec.reshape(Lh, -1)).reshape(rows, Lr, B1, B2)
    elif conj:   # ifft(conj(S)) == conj(fft(S)) / Lh
        kept = scipy.fft.fft(spec, axis=0, norm="forward", overwrite_x=True)[:rows]
    else:
        kept = scipy.fft.ifft(spec, axis=0, overwrite_x=True)[:rows]
    half = np.empty((B1, B2, rows, Lr), dtype=spec.dtype)
    _copy(kept.transpose(2, 3, 0, 1), half, conj)
    return scipy.fft.irfft(half, n=plan.Lw, axis=-1, overwrite_x=True)[..., :cols]


def _dft_matrix(n: int, h: int, sign: int, dtype) -> np.ndarray:
    """(n, h) matrix exp(sign * 2*pi*i * k*j / n), computed in float64 and rounded once."""
    kj = np.outer(np.arange(n), np.arange(h)) % n
    return np.exp(sign * 2j * np.pi / n * kj).astype(dtype)


def _copy(src: np.ndarray, dst: np.ndarray, conj: bool) -> None:
    """dst[...] = conj(src) if conj else src: one pass, whatever the strides."""
    if conj:
        np.conjugate(src, out=dst)
    else:
        np.copyto(dst, src)
