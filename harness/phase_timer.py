"""The harness's side of :mod:`strategies.phases`: a recorder that times each named step of real calls."""
from __future__ import annotations

import time

import numpy as np


class StepTimer:
    """Sums each step's seconds within a call (a blocked step runs many times), a list per step over calls."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {}
        self._call: dict[str, float] | None = None

    def timed_call(self, fn):
        """``(fn(), seconds)``, with the steps it ran added to :attr:`seconds`."""
        self._call = {}
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        for name, seconds in self._call.items():
            self.seconds.setdefault(name, []).append(seconds)
        self._call = None
        return result, elapsed

    def __call__(self, name: str):
        return _Step(self, name)


class _Step:
    __slots__ = ("timer", "name", "t0")

    def __init__(self, timer: StepTimer, name: str):
        self.timer, self.name = timer, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        calls = self.timer._call
        if calls is not None:
            calls[self.name] = calls.get(self.name, 0.0) + time.perf_counter() - self.t0
        return False


def same_bits(a, b) -> bool:
    """Two results (tuples of arrays or None) identical bit for bit."""
    return all((x is None and y is None) or (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and
                                              x.dtype == y.dtype and x.shape == y.shape and
                                              x.tobytes() == y.tobytes())
               for x, y in zip(a, b, strict=True))
