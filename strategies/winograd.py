"""Winograd minimal filtering F(m x m, r x r) (Lavin & Gray 2016): 3x3 and 5x5 kernels, stride 1 and 2.

Forward, per m x m output tile (alpha = m + r - 1; T tiles, the edge tiles overhang)::

    V = B^T d B     every alpha x alpha input tile d     (alpha^2, C, T)   tiles overlap by r - 1
    U = G g G^T     every kernel g                       (alpha^2, F, C)
    M = U @ V       alpha^2 GEMMs (F, C) @ (C, T)        the channel sum
    out = A^T M A + b, edge tiles cropped                (N, F, H', W')

cut into blocks of tile rows that stay in cache (:mod:`strategies.winograd_engine`, the
block rule in :mod:`strategies.winograd_plan`), every transform pass one GEMM
(:mod:`strategies.winograd_transforms`; the textbook one-tile versions, which the tests
hold them to, in :mod:`strategies.winograd_reference`).  The kernel size comes from w (3 or
5 per axis: F(m,3), F(m,5)), ``m`` picks the output tile (2, 4 or 6; F(6,5) is not
offered), the matrices come from interpolation points chosen for float32 accuracy
(:mod:`strategies.winograd_matrices`).  5x5 kernels use F(m,5) itself, the faster of the two
ways measured (2026-12-01, shared 2-vCPU EPYC, CPU time, the 5x5 layer of
conf/sweep/winograd_variants.yaml): four F(m,3) pieces of the 6x6 zero-padded kernel, on
the same engine, took 2.0x F(4x4,5x5)'s time at m=4 (2.25x the products) and 1.6x at m=2,
though their float32 error was 8x (m=4) and 3.4x (m=2) smaller.

Stride 2 (polyphase, :mod:`strategies.polyphase`): phase (r, t) of the padded input meets
only phase (r, t) of the kernel, so the layer is a sum of s*s stride-1 correlations on the
phase grids, each with a sub-kernel of ceil(HH/s) or fewer taps per axis, each by its own
F(m, taps) pair (F(m, 1) is no transform: a 1x1 sub-kernel is a plain GEMM), summed into
one output tiling.

Backward, the forward's transpose over the same blocks (dx is exactly the gradient of the
forward's own arithmetic), from one transform of dout's m x m tiles h::

    H  = A h A^T     (alpha^2, F, T)  the dual algorithm F(r x r, m x m)'s kernel transform
    dw = G^T [sum over tiles of H * V] G   alpha^2 GEMMs (F, T) @ (T, C), V cached; G^T . G per kernel
    dx = B [U^T H] B^T, overlapping tiles added   alpha^2 GEMMs (C, F) @ (F, T); no kernel rotation
    db = a sum

each computed only when asked (``wrt``); dw and dx share H.

Costs and where it loses: alpha^2/m^2 products per output against r^2 for direct (3x3:
2.25x fewer at m=2, 4x at m=4, 5.1x at m=6 where m divides the output; 5x5 at m=4: 6.25x),
but its transforms move V (alpha^2/m^2 times the input) and M through memory as small
GEMMs, memory-bound, and moving the images innermost (the layout every slice needs) is a
strided copy of the input and of the output: it wins where C and F are large enough for
the products to dominate, and loses on few channels, on 1x1 kernels (declined), at stride
2 (only 1.8x fewer products at m=4, four sets of transforms), and in accuracy as m grows
(float32 error 1.9-3.3x F(2x2,3x3)'s at m=4, 9-32x at m=6; m >= 4 sums each product's
channels in parts to get there).  The cache holds V and U.
"""
from __future__ import annotations

import numpy as np

from .base import ConvStrategy
from .costs import Costs
from .geometry import ConvProblem, is_int
from .phases import step
from .polyphase import phase
from .winograd_costs import winograd_costs
from .winograd_engine import Term, backward, correlate
from .winograd_matrices import POINTS
from .winograd_plan import Plan
from .winograd_transforms import filter_transform

#: output tile sizes offered, and the numerical family (the oracle's error bound) of each
FAMILIES = {2: "winograd", 4: "winograd_f4", 6: "winograd_f6"}
#: kernel sizes per axis and strides offered
KERNEL_SIZES = (3, 5)
STRIDES = (1, 2)


class Winograd(ConvStrategy):
    """Winograd F(m x m, r x r): r = 3 or 5 from the kernel, ``m`` = 2 (default), 4 or 6; stride 1 or 2.

    Algorithm (Lavin & Gray 2016), per m x m output tile, alpha = m + r - 1::

        out = A^T [ (G g G^T) * (B^T d B) ] A + b      d: an alpha x alpha input tile

    as alpha^2 GEMMs (F, C) @ (C, T) over the T tiles between the input transform B^T d B and
    the output transform A^T M A, one block of tile rows at a time so V, M and Y stay in
    cache.  Stride 2: a sum of stride-1 polyphase phases with sub-kernels of <= 2 (3x3) or
    <= 3 (5x5) taps per axis, each by its own F(m, taps) (F(m, 1): a plain GEMM).  Backward
    is the forward's transpose: dout's m x m tiles through A (the dual algorithm F(r, m)'s
    kernel transform), then dw = G^T [sum over tiles of H * V] G with V cached, and
    dx = B [U^T H] B^T with the overlapping tiles added.  Details: ``help(strategies.winograd)``.

    Variants: ``winograd`` F(2x2,3x3) and F(2x2,5x5); ``winograd[m=4]`` F(4x4,3x3) and
    F(4x4,5x5); ``winograd[m=6]`` F(6x6,3x3) (5x5 declined: F(6,5) needs 10 points).

    Costs: (m+r-1)^2/m^2 products per output pixel and channel pair against r^2 for direct:
    3x3 layers 2.25x (m=2), 4x (m=4), 5.1x (m=6) fewer, 5x5 2.8x (m=2) and 6.25x (m=4),
    stride 2 1.4x (m=2) to 1.9x (m=6) fewer (summed over the four phases), edge tiles that
    overhang the output counted whole.  Transforms: two small GEMMs per pass, over V
    (alpha^2/m^2 times the input) and M; a strided copy moving the images innermost on the
    way in (the tiles) and out (the scatter); at m >= 4 the channel sums in parts
    (:data:`strategies.winograd_plan.HALVES_FROM`).  Cache: V and U.

    Where it loses: every transform pass is memory-bound and costs the same whatever F and
    C are, so it needs many channels for the products to dominate: it loses on few
    channels (C = F = 64 at 56x56: measured ~0.6-0.7x torch forward on a shared machine),
    on strided layers (four sets of transforms for 1.8x fewer products at m=4), on small
    images at m=6 (tiles of 6 overhang a 7x7 output by 2.9x) and on 1x1 kernels (declined).
    Accuracy falls as m grows (points chosen for float32, :mod:`strategies.winograd_matrices`):
    float32 max error (N=8 ResNet 3x3 layers, out, dx, dw) 1.9-3.3x F(2x2,3x3)'s at m=4,
    9-32x at m=6.
    """

    name = "winograd"

    def __init__(self, m: int = 2):
        if not is_int(m) or m not in FAMILIES:
            raise ValueError(f"m must be one of {sorted(FAMILIES)} (the output tile of F(m x m, r x r)); got m={m!r}")
        self.m = int(m)
        self.family = FAMILIES[self.m]

    @property
    def options(self) -> dict:
        """``m`` when not the default 2 (so ``winograd[m=2]`` and ``winograd`` are one label)."""
        return {} if self.m == 2 else {"m": self.m}

    def _skip_reason(self, problem: ConvProblem) -> str | None:
        sizes = [r for r in KERNEL_SIZES if (self.m, r) in POINTS]
        if problem.HH not in sizes or problem.WW not in sizes:
            algorithms = ", ".join(f"F({self.m},{r})" for r in sizes)
            return (f"{self.label} needs a kernel of {' or '.join(map(str, sizes))} rows and columns "
                    f"({algorithms}); got {problem.HH}x{problem.WW}")
        if problem.stride not in STRIDES:
            return f"{self.label} needs stride 1 or 2 (stride 2 as a sum of polyphase phases); got stride {problem.stride}"
        return None

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        return winograd_costs(Plan.for_problem(problem, self.m, itemsize), problem, pass_, itemsize)

    def _forward(self, x, w, b, problem: ConvProblem):
        """out = sum over phases of A^T [U * (B^T d B)] A + b, block by block (module docstring)."""
        plan = Plan.for_problem(problem, self.m, x.itemsize)
        s, p = problem.stride, problem.pad
        with step("filter_transform"):
            U = [filter_transform(phase(w, s, spec.r, spec.t), *_gs(rows, cols, x.dtype))
                 for spec, (rows, cols) in zip(plan.specs, plan.forward.algorithms)]
        terms = [Term(phase(x, s, *spec.x_start(s, p)), spec.u0, spec.v0, rows, cols)
                 for spec, (rows, cols) in zip(plan.specs, plan.forward.algorithms)]
        out = np.empty(problem.out_shape, x.dtype)
        kept = correlate(plan.forward, terms, U, out, bias=b, keep_V=True)
        return out, (plan, kept, U)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        """db a sum; dw by the dual algorithm on the cached V; dx by the forward's transpose (module
        docstring), both from one transform of dout's tiles, over the forward's blocks."""
        plan, kept, U = saved
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = dout.sum(axis=(0, 2, 3))
        if not wrt & {"x", "w"}:
            return dx, dw, db
        s, p = problem.stride, problem.pad
        if "x" in wrt:
            dx = np.empty(problem.x_shape, dout.dtype)
        terms = [Term(dout, spec.u0, spec.v0, rows, cols) for spec, (rows, cols) in zip(plan.specs, plan.forward.algorithms)]
        views = None if dx is None else [phase(dx, s, *spec.x_start(s, p)) for spec in plan.specs]
        parts = backward(plan.forward, terms, U, kept if "w" in wrt else None, dout, views)
        if parts is not None:
            dw = np.empty(problem.w_shape, dout.dtype)
            for spec, part in zip(plan.specs, parts):
                phase(dw, s, spec.r, spec.t)[...] = part
        return dx, dw, db


def _gs(rows, cols, dtype):
    """(G_h, G_w) of ``dtype``, None for an identity axis."""
    return (None if rows.identity else rows.arrays(dtype)[1], None if cols.identity else cols.arrays(dtype)[1])
