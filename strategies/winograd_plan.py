"""What a Winograd call will run, from the problem alone: its terms, tilings, blocks and buffers.

Shared by the strategy (which runs it) and its analytic costs (which count it), so that the
steps counted are the steps run.  A call of the engine (:mod:`strategies.winograd_engine`) is
a :class:`Correlation`: the terms of one output tiling (one per polyphase phase) and how
the tiling is cut into blocks.

Block size (:func:`block_rows`), from the cache: as many tile rows as fit their working set
(every term's V, M, row pass and gathered rows; Y and the sum over terms) in half the
last-level cache (``strategies.cache.cache_bytes(3)``; the other half for U, the grid rows
being read and the other core), at least one, the blocks of about equal size; and one
block for the whole output when U alone fills that half (U is then streamed from memory by
every block: ResNet's 7x7 layer at C = F = 512).  Few large blocks keep the per-block costs
(re-reading U, a few dozen numpy calls) small; a block of several tile rows gathers its
rows once (one pass over its V), which measured cheaper than running more blocks (F(2x2)
at 56x56, forward: 4 blocks 45 ms, 7 blocks 47 ms, 28 of one tile row 56 ms, CPU time, shared machine).
"""
from __future__ import annotations

from dataclasses import dataclass

from .cache import cache_bytes
from .geometry import ConvProblem
from .polyphase import Polyphase
from .winograd_matrices import MinimalFiltering, minimal_filtering


@dataclass(frozen=True)
class Tiling:
    """An output (oh, ow) cut into m x m tiles, T = th*tw*N of them, in blocks of ``ib`` tile rows."""

    m: int
    N: int
    oh: int
    ow: int
    ib: int

    @property
    def th(self) -> int:
        return -(-self.oh // self.m)

    @property
    def tw(self) -> int:
        return -(-self.ow // self.m)

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """(first tile row, tile rows) of every block."""
        return [(i, min(self.ib, self.th - i)) for i in range(0, self.th, self.ib)]

    def tiles(self, ib: int | None = None) -> int:
        """Tiles of a block of ``ib`` tile rows (default: a full block)."""
        return (self.ib if ib is None else ib) * self.tw * self.N


@dataclass(frozen=True)
class PhaseSpec:
    """Polyphase phase (r, t) of the input and the kernel (:mod:`strategies.polyphase`), its taps,
    and where the phase's padded grid starts in x: ``u0`` zero rows (``v0`` columns) precede
    x's row ``s*u0 + r - pad``."""

    r: int
    t: int
    kh: int
    kw: int
    u0: int
    v0: int

    def x_start(self, stride: int, pad: int) -> tuple[int, int]:
        """First row and column of x (or dx) in this phase."""
        return stride * self.u0 + self.r - pad, stride * self.v0 + self.t - pad


@dataclass(frozen=True)
class Correlation:
    """One engine call: ``algorithms`` (F(m, r_h), F(m, r_w)) per term, C input and F output channels;
    ``halves``: each product GEMM sums its channels in two halves, added after (see :data:`HALVES_FROM`)."""

    algorithms: tuple[tuple[MinimalFiltering, MinimalFiltering], ...]
    tiling: Tiling
    C: int
    F: int
    halves: bool = False

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(rows.alpha, cols.alpha) for rows, cols in self.algorithms]

    def buffers(self, keep_V: bool) -> dict[str, int]:
        """Elements of every array the engine allocates for this call (the code allocates these)."""
        m, tw, N, C, F = self.tiling.m, self.tiling.tw, self.tiling.N, self.C, self.F
        Tb, ib, th = self.tiling.tiles(), self.tiling.ib, self.tiling.th
        big = max(ah * aw for ah, aw in self.shapes)
        sizes = {
            "grids": sum((m * th + ah - m) * aw * C * tw * N for ah, aw in self.shapes),
            "zbuf": sum(self.row_pass_sizes()),
            "dbuf": big * C * Tb if ib > 1 else 0,
            "vbuf": 0 if keep_V else big * C * Tb,
            "mbuf": min(2, product_parts(self, C)) * big * F * Tb,
            "pbuf": big * F * Tb if product_parts(self, C) > 2 else 0,
            "rbuf": m * max(aw for _, aw in self.shapes) * F * Tb,
            "ybuf": m * m * F * Tb,
            "tbuf": m * m * F * Tb if len(self.shapes) > 1 else 0,
        }
        if keep_V:
            sizes["kept"] = sum(ah * aw for ah, aw in self.shapes) * C * th * tw * N
        return sizes

    def row_pass_sizes(self) -> list[int]:
        """Elements of each term's row-pass buffer (the block's rows; none on an identity axis)."""
        m, tw, N, C, ib = self.tiling.m, self.tiling.tw, self.tiling.N, self.C, self.tiling.ib
        return [0 if cols.identity else (m * ib + rows.alpha - m) * cols.alpha * C * tw * N
                for rows, cols in self.algorithms]

    def backward_buffers(self, dw: bool, dx: bool) -> dict[str, int]:
        """Elements of the scratch the backward pass allocates (its own sizes, for its costs)."""
        m, tw, N, F, C = self.tiling.m, self.tiling.tw, self.tiling.N, self.F, self.C
        Tb, ib = self.tiling.tiles(), self.tiling.ib
        big = max(ah * aw for ah, aw in self.shapes)
        nr_aw = max((m * ib + ah - m) * aw for ah, aw in self.shapes)
        sizes = {"tiles": m * m * F * Tb, "hbuf": big * F * Tb,
                 "hzbuf": m * max(aw for _, aw in self.shapes) * F * Tb,
                 "pbuf": big * F * C if dw and len(self.tiling.blocks) > 1 else 0,
                 "dvbuf": min(2, product_parts(self, F)) * big * C * Tb if dx else 0,
                 "dvpart": big * C * Tb if dx and product_parts(self, F) > 2 else 0,
                 "azbuf": max(nr_aw * C * tw * N, big * C * Tb) if dx else 0,
                 "adbuf": big * C * Tb if dx and ib > 1 else 0,
                 "apbuf": max((ah - m) * aw for ah, aw in self.shapes) * C * tw * N if dx else 0}
        return sizes

    def backward_arrays(self, dw: bool, dx: bool) -> dict[str, int]:
        """Elements of the arrays the backward pass keeps to the end: dw's sums, dx's column-grid gradients."""
        m, tw, N, F, C, th = self.tiling.m, self.tiling.tw, self.tiling.N, self.F, self.C, self.tiling.th
        return {"sums": sum(ah * aw for ah, aw in self.shapes) * F * C if dw else 0,
                "dgrids": sum((m * th + ah - m) * aw * C * tw * N for ah, aw in self.shapes) if dx else 0}

    def fold(self) -> int:
        """Elements of the largest folded column grid (the column grid's transpose, one term at a time)."""
        m, tw, N, C, th = self.tiling.m, self.tiling.tw, self.tiling.N, self.C, self.tiling.th
        return max((m * th + ah - m) * m * C * (tw + -(-(aw - m) // m)) * N for ah, aw in self.shapes)


def working_set(shapes: list[tuple[int, int]], m: int, C: int, F: int) -> int:
    """Elements one tile needs in a block: per term (alpha_h, alpha_w) V and the gathered rows
    (C per slot) and M (F per slot), the row pass (m*alpha_w*(C + F)), plus Y and the sum over
    terms (m^2 F each)."""
    per_term = sum(ah * aw * (2 * C + F) + m * aw * (C + F) for ah, aw in shapes)
    return per_term + 2 * m * m * F


def block_rows(shapes: list[tuple[int, int]], m: int, th: int, tw: int, N: int, C: int, F: int,
               itemsize: int) -> int:
    """Tile rows per block (the rule: module docstring)."""
    budget = cache_bytes(3) // 2
    if sum(ah * aw for ah, aw in shapes) * F * C * itemsize >= budget:
        return th
    cap = max(1, min(th, budget // (working_set(shapes, m, C, F) * tw * N * itemsize)))
    return -(-th // -(-th // cap))


def phase_specs(problem: ConvProblem) -> list[PhaseSpec]:
    """The polyphase phases holding kernel taps (one at stride 1), with their taps and offsets."""
    grid = Polyphase.for_problem(problem)
    s, p = problem.stride, problem.pad
    return [PhaseSpec(r, t, len(range(r, problem.HH, s)), len(range(t, problem.WW, s)),
                      max(0, -(-(p - r) // s)), max(0, -(-(p - t) // s)))
            for r in range(grid.phases_h) for t in range(grid.phases_w)]


#: From this tile size on, every product GEMM summing at least HALVES_MIN channels (C forward, F
#: for dx) sums them in parts of at most PART_CHANNELS, at least two: float32 sums of a part's
#: length, added after (two of them inside the next transform pass, any more into those two).
#: Measured (float32, N=8): F(4x4,3x3)'s max output error at C=F=64, 56x56: 2.15e-6 -> 1.11e-6
#: (two parts of 32; rms 20-26% lower, tests/test_winograd_points.py); at C=F=512, 7x7: 2.63e-6
#: with two parts of 256 (no better than one: BLAS itself blocks K there), 1.45e-6 with four of
#: 128.  F(2x2,3x3) is accurate enough as one sum, and a pass over M costs it more (its M is 4x
#: its output); below HALVES_MIN channels the parts' GEMMs get too thin to run at BLAS's rate.
HALVES_FROM, HALVES_MIN, PART_CHANNELS = 4, 64, 128


def correlation(m: int, algorithms, N: int, C: int, F: int, oh: int, ow: int, itemsize: int) -> Correlation:
    """The engine call for ``algorithms`` on an (oh, ow) output, blocked by :func:`block_rows`."""
    shapes = [(rows.alpha, cols.alpha) for rows, cols in algorithms]
    th, tw = -(-oh // m), -(-ow // m)
    return Correlation(tuple(algorithms), Tiling(m, N, oh, ow, block_rows(shapes, m, th, tw, N, C, F, itemsize)),
                       C, F, m >= HALVES_FROM)


def product_parts(call: Correlation, K: int) -> int:
    """How many parts the call's product GEMMs over K channels sum apart (1: one sum)."""
    return max(2, -(-K // PART_CHANNELS)) if call.halves and K >= HALVES_MIN else 1


@dataclass(frozen=True)
class Plan:
    """Everything one problem runs: its phases and the forward's correlation (backward runs its
    transpose over the same blocks)."""

    m: int
    specs: tuple[PhaseSpec, ...]
    forward: Correlation

    @classmethod
    def for_problem(cls, problem: ConvProblem, m: int, itemsize: int) -> Plan:
        specs = tuple(phase_specs(problem))
        algorithms = [(minimal_filtering(m, s.kh), minimal_filtering(m, s.kw)) for s in specs]
        forward = correlation(m, algorithms, problem.N, problem.C, problem.F, problem.out_h, problem.out_w, itemsize)
        return cls(m, specs, forward)
