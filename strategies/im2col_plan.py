"""The block plan of im2col: which unfolding layout a problem takes, and how many pixels a block holds.

Layouts (chosen from the shapes alone; see :mod:`strategies.im2col_layouts`)::

    pointwise   1x1 kernel, pad 0     no unfolding at all: the columns are x itself (a
                                      reshape), or one gather x[:, :, ::s, ::s] at stride s
    flat        stride 1, HH == WW == 2*pad + 1 ("same" padding: H' == H, W' == W)
                                      each row of a column block is ONE contiguous run of
                                      the flattened, vertically padded input; the few
                                      elements that wrapped round a row end are zeroed
    windows     everything else       a strided window view of the padded input, phase by
                                      phase for stride s > 1 (polyphase: every copied row is
                                      contiguous), rows of W' elements

Block size.  A block that is unfolded and multiplied (forward, dW) covers ``pixels`` output
pixels, its column block being K x pixels (K = C*HH*WW)::

    pixels = max(cache_bytes(2) // (K * itemsize),   the block fits the core's own L2: the
                                                     unfold writes it, the GEMM reads it back
                                                     before it leaves the cache
                 F,                                  each block re-reads the F x K weights: at
                                                     least F pixels keeps that traffic at most
                                                     half the column traffic blocking saves
                 MIN_GEMM_PIXELS (256),              BLAS copies (packs) the F x K weights on
                                                     every call, ~10-20 multiply-adds' worth per
                                                     element: below ~256 pixels that copy is
                                                     more than ~5% of the block's GEMM
                 cache_bytes(1) // (C * itemsize))   each numpy call of the unfold and of col2im
                                                     moves at least an L1's worth, so its fixed
                                                     cost (~us) stays small

A block is then whole images (``images = pixels // P`` of them, at least 1, P = H'*W') when
an image fits, else ``rows = pixels // W'`` output rows of one image (at least 1).  E.g.
(float32, L1 32 KiB, L2 512 KiB): C=F=64 56x56 3x3 -> 4 rows (224 pixels, 504 KiB);
C=F=128 28x28 -> 9 rows (the 256 floor); C=F=256 14x14 -> 1 image (256 pixels); C=F=512 7x7
-> the whole batch of 8 (392 < 512 pixels); the stem C=3 224x224 7x7 stride 2 -> 24 rows (the
L1 floor: 2688 pixels, 1.5 MiB, held by L3).

Blocks col2im folds (dx) are larger: its HH*WW adds per block are each a numpy call over a
strided (C x pixels) slab, whose fixed cost is several times a copy's, so a fold block covers
``max(pixels, min(P, cache_bytes(3) // (2 * K * itemsize)))``: a whole image when its column
gradient fits half the last-level cache (then each tap's slab, and its target, is one
contiguous run), else as many rows as do.

The bias.  When blocks are rows of one image (the GEMM writes straight into the output), the
column block has one more row, all ones, and the kernel matrix one more column, b: the GEMM
adds the bias (one multiply-add per output, ~1/K more work) instead of a pass over the output.
Blocks of whole images add it while moving the GEMM's (F, images, P) result into (images, F, P).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .cache import cache_bytes
from .geometry import ConvProblem
from .polyphase import Polyphase

LAYOUTS = ("pointwise", "flat", "windows")
#: below this many pixels a block's GEMM spends >5% of its time packing the weights (module docstring)
MIN_GEMM_PIXELS = 256


@dataclass(frozen=True)
class Block:
    """Images [n0, n1) and output rows [h0, h1) of each: one column block."""

    n0: int
    n1: int
    h0: int
    h1: int

    @property
    def images(self) -> int:
        return self.n1 - self.n0


@dataclass(frozen=True)
class Tiling:
    """How the batch is cut into blocks: ``images`` per block (1 when an image is cut into row
    blocks of ``rows`` output rows; ``rows`` = H' when a block holds whole images)."""

    images: int
    rows: int


@dataclass(frozen=True)
class Im2colPlan:
    """Layout and blocks of one problem (see the module docstring): one tiling for the blocks
    that are unfolded and multiplied (forward, dW), one for the blocks col2im folds (dx)."""

    problem: ConvProblem
    layout: str
    unfold: Tiling
    fold: Tiling

    @classmethod
    def for_problem(cls, problem: ConvProblem, itemsize: int) -> Im2colPlan:
        return _plan(problem, itemsize)

    @property
    def bias_row(self) -> bool:
        """Whether the forward's GEMM adds the bias (a row of ones in the column block): row blocks only."""
        return self.layout != "pointwise" and self.unfold.images == 1

    @property
    def K(self) -> int:
        """Reduction length C*HH*WW: rows of a column block."""
        return self.problem.C * self.problem.HH * self.problem.WW

    @property
    def P(self) -> int:
        """Output pixels of one image, H'*W'."""
        return self.problem.out_h * self.problem.out_w

    @property
    def grid(self) -> Polyphase:
        return Polyphase.for_problem(self.problem)

    def pixels(self, tiling: Tiling) -> int:
        """Columns of the largest block of ``tiling``: images * rows * W'."""
        return tiling.images * tiling.rows * self.problem.out_w

    def groups(self, tiling: Tiling) -> list[tuple[int, int]]:
        """Consecutive image ranges [n0, n1) handled together (one padded buffer holds them)."""
        N = self.problem.N
        return [(n0, min(N, n0 + tiling.images)) for n0 in range(0, N, tiling.images)]

    def blocks(self, tiling: Tiling, n0: int, n1: int) -> list[Block]:
        """The blocks of one group, in the order they run."""
        H_ = self.problem.out_h
        return [Block(n0, n1, h0, min(H_, h0 + tiling.rows)) for h0 in range(0, H_, tiling.rows)]

    def count(self, tiling: Tiling) -> int:
        """Number of blocks in one call."""
        return len(self.groups(tiling)) * -(-self.problem.out_h // tiling.rows)


def unfold_pixels(problem: ConvProblem, itemsize: int) -> int:
    """The pixels a block that is unfolded and multiplied should cover (rule: module docstring)."""
    K = problem.C * problem.HH * problem.WW
    return max(cache_bytes(2) // (K * itemsize), problem.F, MIN_GEMM_PIXELS,
               cache_bytes(1) // (problem.C * itemsize))


def fold_pixels(problem: ConvProblem, itemsize: int) -> int:
    """The pixels a block col2im folds should cover (rule: module docstring)."""
    K, P = problem.C * problem.HH * problem.WW, problem.out_h * problem.out_w
    return max(unfold_pixels(problem, itemsize), min(P, cache_bytes(3) // (2 * K * itemsize)))


def layout_of(problem: ConvProblem) -> str:
    """``pointwise``, ``flat`` or ``windows`` (see the module docstring)."""
    if problem.HH == problem.WW == 1 and problem.pad == 0:
        return "pointwise"
    if problem.stride == 1 and 2 * problem.pad + 1 == problem.HH == problem.WW:
        return "flat"
    return "windows"


def _tiling(problem: ConvProblem, pixels: int) -> Tiling:
    P = problem.out_h * problem.out_w
    if pixels >= P:
        return Tiling(min(problem.N, pixels // P), problem.out_h)
    return Tiling(1, min(problem.out_h, max(1, pixels // problem.out_w)))


@functools.lru_cache(maxsize=256)
def _plan(problem: ConvProblem, itemsize: int) -> Im2colPlan:
    layout = layout_of(problem)
    if layout == "pointwise":   # no blocks: one batched GEMM over the whole batch
        whole = Tiling(problem.N, problem.out_h)
        return Im2colPlan(problem, layout, whole, whole)
    return Im2colPlan(problem, layout, _tiling(problem, unfold_pixels(problem, itemsize)),
                      _tiling(problem, fold_pixels(problem, itemsize)))
