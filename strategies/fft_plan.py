"""Sizes of the FFT strategy: the polyphase split, the tile grid and the transform lengths, chosen by cost.

A stride-``s`` layer is first rewritten as a stride-1 one on more channels by the polyphase
split (:mod:`strategies.polyphase`: input phases with Hq = H' + HHq - 1 rows, kernel phases of
HHq x WWq taps, Cp = C * phases channels).  The output is then cut into tiles of Th x Tw
pixels and each is computed by overlap-save (as ``scipy.signal.oaconvolve`` cuts a long
signal): tile (a, b) reads the input window of (Th + HHq - 1) x (Tw + WWq - 1) starting at
(a*Th, b*Tw), and its Lh x Lw circular correlation with the kernel equals the linear one on
the first Th x Tw outputs whenever::

    Lh >= Th + HHq - 1,   Lw >= Tw + WWq - 1        (the rest of the tile is never read)

so each tile takes ``Th = Lh - HHq + 1`` outputs of its transform.  One tile covering the
whole output (Lh = next_fast_len(Hq)) is the classic whole-image FFT.  Backward reuses the
plan: dx is overlap-*add* (each tile's full (Th + HHq - 1)-row result added where its input
window was), dw sums the per-tile correlations inside its product.

The choice.  Small tiles mean small transforms and a small kernel spectrum (the F x Cp
kernels are transformed to Lh x Lw each, the cost that sinks a whole-image FFT with a 3x3
kernel on a large image), but more overlap: every tile transforms HHq - 1 rows and WWq - 1
columns twice.  Among the fast lengths from the smallest that holds the kernel twice over to
the whole image, the smallest for each number of tiles (:func:`candidate_lengths`), the plan
takes the pair with the fewest flops over a training step (forward + backward, counted as
:mod:`strategies.fft_costs` counts them: FFTs 2.5 n log2 n real / 5 n log2 n complex, complex
products 8 per multiply-add).  Examples (N=8 unless said; FFT lengths, tiles per axis):

    layer                                     Lh x Lw    tiles    whole image would be
    C=F=64 56x56 3x3 pad 1                    30 x 30    2 x 2    60 x 60
    C=F=128 28x28 3x3 pad 1                   16 x 30    2 x 1    30 x 30
    C=32 F=64 32x32 5x5 pad 2                 20 x 36    2 x 1    36 x 36
    N=4 C=F=16 64x64 11x11 pad 5              32 x 75    3 x 1    75 x 75
    C=3 F=64 224x224 7x7 stride 2 pad 3       60 x 60    2 x 2    120 x 120 (4 phases of 4x4 taps)

(``FFTPlan.for_problem(problem)`` gives the plan of any problem; ``repr`` shows its sizes.)
The plan is cached per problem (sizes only: spectra are computed in every call).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import scipy.fft

from .fft_costs import step_flops   # the plan of least counted work: the model counts what its code executes
from .geometry import ConvProblem
from .polyphase import Polyphase


@dataclass(frozen=True)
class FFTPlan:
    """Polyphase split, tile grid and transform lengths of one problem (see the module docstring)."""

    grid: Polyphase   # the polyphase split (one phase at stride 1)
    Lh: int           # transform length along rows (complex pass)
    Lw: int           # transform length along columns (real pass)
    Th: int           # output rows per tile
    Tw: int           # output columns per tile
    th: int           # tiles along rows: ceil(H' / Th)
    tw: int           # tiles along columns

    @classmethod
    def for_problem(cls, problem: ConvProblem) -> FFTPlan:
        return _choose(problem)

    @classmethod
    def with_lengths(cls, problem: ConvProblem, Lh: int, Lw: int) -> FFTPlan:
        """The plan with transforms of Lh x Lw (Lh >= HHq, Lw >= WWq): tiles as large as they fit."""
        grid = Polyphase.for_problem(problem)
        if Lh < grid.krows or Lw < grid.kcols:
            raise ValueError(f"transform {Lh}x{Lw} cannot hold the {grid.krows}x{grid.kcols} kernel phases")
        Th, Tw = min(Lh - grid.krows + 1, problem.out_h), min(Lw - grid.kcols + 1, problem.out_w)
        return cls(grid, Lh, Lw, Th, Tw, -(-problem.out_h // Th), -(-problem.out_w // Tw))

    @property
    def krows(self) -> int:
        """HHq: rows of one kernel phase."""
        return self.grid.krows

    @property
    def kcols(self) -> int:
        return self.grid.kcols

    @property
    def Lr(self) -> int:
        """Columns of a real spectrum: Lw // 2 + 1."""
        return self.Lw // 2 + 1

    @property
    def frequencies(self) -> int:
        """Number of frequencies the contraction runs over: Lh * Lr."""
        return self.Lh * self.Lr

    @property
    def tiles(self) -> int:
        """Tiles per image: th * tw."""
        return self.th * self.tw

    @property
    def window(self) -> tuple[int, int]:
        """Rows and columns of input one tile reads: (Th + HHq - 1, Tw + WWq - 1)."""
        return self.Th + self.krows - 1, self.Tw + self.kcols - 1

    @property
    def extent(self) -> tuple[int, int]:
        """Rows and columns of phase input the tiles read: (th*Th + HHq - 1, tw*Tw + WWq - 1)."""
        return self.th * self.Th + self.krows - 1, self.tw * self.Tw + self.kcols - 1


def candidate_lengths(out: int, k: int) -> list[int]:
    """Transform lengths worth trying along an axis of ``out`` outputs and a ``k``-tap kernel: for each
    number of tiles t, the smallest fast length that holds ceil(out/t) outputs and the kernel (a longer
    one with as many tiles only costs more), from one tile (the whole axis) down to tiles of k outputs.
    Lengths are ``next_fast_len(n, real=True)``: products of 2, 3 and 5 (pocketfft's radix-7 and
    -11 passes are slower per flop)."""
    lengths, t = set(), 1
    while True:
        per_tile = -(-out // t)
        lengths.add(scipy.fft.next_fast_len(per_tile + k - 1, real=True))
        if per_tile <= k:
            return sorted(lengths)
        t = -(-out // (per_tile - 1))          # the next tile count that shortens the tiles


@functools.lru_cache(maxsize=512)
def _choose(problem: ConvProblem) -> FFTPlan:
    grid = Polyphase.for_problem(problem)
    plans = [FFTPlan.with_lengths(problem, Lh, Lw)
             for Lh in candidate_lengths(problem.out_h, grid.krows)
             for Lw in candidate_lengths(problem.out_w, grid.kcols)]
    return min(plans, key=lambda plan: (step_flops(problem, plan), plan.Lh * plan.Lw))
