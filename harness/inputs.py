"""The inputs of one shape, made once from the seed, read-only, and the float64 references on them.

Every entrant of every contest on a shape computes on the same arrays.  They are handed
out read-only, so a strategy that writes into x, w, b or dout fails loudly, alone
(instead of making every later strategy on the shape fail the oracle).  With
``exact_inputs`` the values are small integers (as oneDNN's benchdnn draws them): every
direct product and sum is then exact in float32, and any error seen is the algorithm's own
rounding in its transforms.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from strategies.passes import PASS_QUANTITIES

from . import oracle
from .sweeps import Shape

#: exact inputs are drawn from -EXACT_RANGE..EXACT_RANGE: sums of 25,088 products of them
#: (dw of a ResNet layer) stay below 2**24, so float32 holds every direct result exactly
EXACT_RANGE = 2


def available_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo (inf where the OS does not say)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def input_bytes(shape: Shape, dtype) -> float:
    """Bytes of x, w, b and dout for ``shape``."""
    size = np.dtype(dtype).itemsize
    return float(size * (np.prod(shape.x_shape) + np.prod(shape.w_shape) + shape.F + np.prod(shape.out_shape)))


def size_problem(needed: float, what: str) -> str | None:
    """A skip reason when ``needed`` bytes exceed the memory available now, else None."""
    free = available_memory_bytes()
    if needed <= free:
        return None
    return f"{what} need {needed / 2 ** 30:.3g} GiB, {free / 2 ** 30:.3g} GiB of memory available"


class ShapeData:
    """Inputs of one shape and the float64 references on its oracle slice (a leading part of the batch)."""

    def __init__(self, shape: Shape, dtype: str, seed: int, exact_inputs: bool, oracle_max_gflop: float):
        self.shape, self.dtype = shape, np.dtype(dtype)
        rng = np.random.default_rng([seed, zlib.crc32(shape.name.encode())])

        def draw(size):
            if exact_inputs:
                return rng.integers(-EXACT_RANGE, EXACT_RANGE + 1, size).astype(self.dtype)
            return rng.standard_normal(size).astype(self.dtype)

        self.x, self.w, self.b, self.dout = (draw(s) for s in (shape.x_shape, shape.w_shape, shape.F,
                                                               shape.out_shape))
        for a in (self.x, self.w, self.b, self.dout):
            a.setflags(write=False)
        per_image = 3 * oracle.flops(shape, ("out",)) / shape.N      # forward + dx + dw
        self.oracle_batch = max(1, min(shape.N, int(oracle_max_gflop * 1e9 // max(per_image, 1))))
        self._reference: oracle.Reference | None = None

    def reference(self) -> oracle.Reference:
        """out, dx, dw, db in float64 on the oracle slice, and how much each cancels (computed once)."""
        if self._reference is None:
            nb = self.oracle_batch
            self._reference = oracle.reference(self.x[:nb], self.w, self.b, self.dout[:nb],
                                               self.shape.stride, self.shape.pad)
        return self._reference

    def tolerances(self, family: str, pass_: str) -> dict[str, float]:
        """The oracle's tolerance of each quantity the pass produces."""
        tols = oracle.tolerances(self.shape, self.dtype, family, self.reference().condition)
        return {q: tols[q] for q in PASS_QUANTITIES[pass_]}
