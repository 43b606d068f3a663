"""Analytic costs of one call, counted from the problem alone: what a strategy does, not how long it takes.

``strategy.costs(x_shape, w_shape, conv_param, pass_, dtype)`` returns :class:`Costs`: one
:class:`PhaseCost` per named step of the strategy's code (the names its code passes to
:func:`strategies.phases.step`, so every timed phase has its count), and the workspace.
The definitions, the same for every strategy:

``flops`` (per phase)
    Real floating-point operations as the code executes them, padding and overhang
    included (a Winograd edge tile that overhangs the output is computed whole, so it is
    counted whole).  A real GEMM (m x k) @ (k x n) is ``2 m n k``; a complex one is
    ``8 m n k`` (a complex multiply-add is 8 real operations); a real FFT of length n is
    ``2.5 n log2 n`` and a complex one ``5 n log2 n`` (the usual radix-2 counts, whatever
    the library really does); an element-wise add, subtract or multiply is 1 per element,
    a copy is 0.
The kinds of flops (per phase; a phase may hold several)
    What the arithmetic is, which says where it is totalled and which machine ceiling
    bounds it: ``product`` (the heavy products: GEMMs, the frequency-domain products; the
    GEMM rate), ``gemm_transform`` (a transform done as a matrix product, as a kernel's
    short DFT or Winograd's G g G^T; the GEMM rate), ``fft`` (FFTs; the FFT rate),
    ``transform`` (element-wise work and copies; the GEMM rate bounds its arithmetic,
    memory bandwidth is what bounds it in practice).
``bytes`` (per phase)
    The algorithm's compulsory memory traffic: each phase reads its operands once (the
    layer's inputs, read by every phase that uses them) and writes its results once; each
    intermediate of the textbook algorithm (im2col's columns, Winograd's V and M, the
    FFT's spectra) is written once by the phase that makes it and read once by the phase
    that uses it, unless the strategy's blocking keeps it in cache (then it is not counted).  Implementation copies (padding, layout changes, reshapes
    that copy) are never counted: they lower the roofline efficiency, as they should.
``workspace_bytes``
    Peak bytes one call allocates beyond its inputs and its output arrays: for forward,
    the cache it returns is counted (it lives until backward); a workspace a strategy keeps
    across calls is counted too.

Totals: ``multiplies`` = the flops of the ``product`` phases, ``transform_flops`` = the flops
of the others, ``bytes_moved`` = the bytes of all.  Costs are pure functions of shapes: no
arrays are made.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("product", "gemm_transform", "fft", "transform")


@dataclass(frozen=True)
class PhaseCost:
    """The counts of one named step: its bytes and its flops of each kind (see the module docstring)."""

    name: str
    bytes: float = 0.0
    product: float = 0.0
    gemm_transform: float = 0.0
    fft: float = 0.0
    transform: float = 0.0
    fft_length: int = 0      # length of the phase's 1-D FFTs (which FFT rate bounds it; 0: none)

    @property
    def flops(self) -> float:
        return float(self.product + self.gemm_transform + self.fft + self.transform)

    def __add__(self, other: PhaseCost) -> PhaseCost:
        """Two phases counted as one (named after the first)."""
        return PhaseCost(self.name, self.bytes + other.bytes,
                         *(getattr(self, k) + getattr(other, k) for k in KINDS),
                         fft_length=max(self.fft_length, other.fft_length))


@dataclass(frozen=True)
class Costs:
    """All phases of one call, in the order the code runs them, and its workspace."""

    phases: tuple[PhaseCost, ...]
    workspace_bytes: float

    @property
    def multiplies(self) -> float:
        return float(sum(p.product for p in self.phases))

    @property
    def transform_flops(self) -> float:
        return float(sum(p.flops - p.product for p in self.phases))

    @property
    def bytes_moved(self) -> float:
        return float(sum(p.bytes for p in self.phases))

    @property
    def flops(self) -> float:
        return float(sum(p.flops for p in self.phases))

    def phase(self, name: str) -> PhaseCost:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"no phase {name!r}; phases: {[p.name for p in self.phases]}")

    def merged(self, name: str) -> Costs:
        """Every phase counted as one step called ``name`` (same totals and workspace)."""
        total = PhaseCost(name)
        for p in self.phases:
            total = total + p
        return Costs((total,), self.workspace_bytes)

    def __add__(self, other: Costs) -> Costs:
        """Two calls one after the other: phases concatenated, the larger workspace."""
        return Costs(self.phases + other.phases, max(self.workspace_bytes, other.workspace_bytes))


def gemm_flops(m: int, n: int, k: int, batch: int = 1, complex_: bool = False) -> float:
    """Real flops of ``batch`` (m x k) @ (k x n) products: 2mnk each, 8mnk when complex."""
    return float((8 if complex_ else 2) * batch * m * n * k)


def fft_flops(n: int, count: int = 1, real: bool = True) -> float:
    """Real flops of ``count`` 1-D FFTs of length n: 2.5 n log2 n (real input), 5 n log2 n (complex)."""
    if n <= 1:
        return 0.0
    return float(count * (2.5 if real else 5.0) * n * math.log2(n))


def array_bytes(*shape: int, itemsize: int) -> float:
    """Bytes of an array of ``shape`` with elements of ``itemsize`` bytes."""
    return float(math.prod(shape) * itemsize)
