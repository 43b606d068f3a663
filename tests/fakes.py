"""Test-only pieces shared by the harness tests: a tiny fast config and fake strategies.

The fake strategies are registered per test with ``monkeypatch.setitem(STRATEGIES, ...)``;
they exist only in this process (not in isolation children).
"""
from __future__ import annotations

from strategies import ConvStrategy
from strategies.im2col import Im2col

FAST_TIMING = {"warmup": 0, "min_repeats": 3, "min_seconds": 0.0, "max_repeats": 3,
               "cell_budget_seconds": 5.0, "noise_threshold": 0.1, "processes": 1}
TINY_SWEEP = {"name": "tiny", "batch": 2, "layers": [
    {"name": "a", "C": 2, "H": 6, "F": 3, "K": 3, "pad": 1},
    {"name": "b", "C": 3, "H": 7, "F": 2, "K": 5, "stride": 2, "pad": 1},
]}


def tiny_config(**overrides):
    return {"sweep": TINY_SWEEP, "timing": FAST_TIMING, "strategies": ["naive", "im2col"],
            "dtype": "float32", "seed": 0, "threads": [1], "passes": ["forward", "backward"],
            "baseline": "im2col", "allocator": "default", "oracle_max_gflop": 0.5, "resume": None,
            **overrides}


class Declines3x3(Im2col):
    """im2col that declines 3x3 kernels ('unsupported' on 3x3 layers)."""
    name = "declines3x3"

    def _skip_reason(self, problem):
        return "test strategy declines 3x3 kernels" if problem.HH == 3 else None


class Failing(ConvStrategy):
    """Raises inside forward ('error')."""
    name = "failing"

    def _forward(self, x, w, b, problem):
        raise RuntimeError("deliberate failure")


class Wrong(Im2col):
    """Fast and wrong: adds 1 to the output ('mismatch' on forward cells)."""
    name = "wrong"

    def _forward(self, x, w, b, problem):
        out, saved = super()._forward(x, w, b, problem)
        return out + 1, saved
