"""Test-only pieces shared by the harness tests: a tiny fast config and fake strategies.

The fake strategies are registered per test with ``monkeypatch.setitem(STRATEGIES, ...)``;
they exist only in this process (not in isolation children, which import the registry
afresh: faults meant for children live in ``tests/fault_strategies.py`` and are registered
there through the environment).
"""
from __future__ import annotations

import numpy as np

from harness import config
from strategies import ConvStrategy
from strategies.im2col import Im2col

FAST_TIMING = {"warmup": 0, "min_repeats": 3, "min_seconds": 0.0, "max_repeats": 3, "cell_budget_seconds": 5.0,
               "noise_threshold": 0.1, "processes": 1, "phase_repeats": 1, "load_retries": 0,
               "probe_seconds": 0.002, "cell_timeout_seconds": 60.0, "hopeless_factor": 1e6}
TINY_SWEEP = {"name": "tiny", "batch": 2, "layers": [
    {"name": "a", "C": 2, "H": 6, "F": 3, "K": 3, "pad": 1},
    {"name": "b", "C": 3, "H": 7, "F": 2, "K": 5, "stride": 2, "pad": 1},
]}


def tiny_values(**overrides) -> dict:
    values = {"sweep": TINY_SWEEP, "timing": FAST_TIMING, "strategies": ["naive", "im2col"], "dtype": "float32",
              "seed": 0, "threads": [1], "passes": ["forward", "backward"], "allocator": "default",
              "oracle_max_gflop": 0.5, "resume": None}
    for key, value in overrides.items():
        values[key] = {**values[key], **value} if key == "timing" else value
    return values


def tiny_config(**overrides) -> config.RunConfig:
    """A RunConfig for a tiny, fast run (timing overrides merge into FAST_TIMING)."""
    return config.from_plain(tiny_values(**overrides))


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


class Float64Out(Im2col):
    """Returns float64 whatever the input (a contract violation: 'error', never ranked)."""
    name = "float64out"

    def _forward(self, x, w, b, problem):
        out, saved = super()._forward(x, w, b, problem)
        return out.astype(np.float64), saved


class ListOut(Im2col):
    """Returns a list instead of an array."""
    name = "listout"

    def _forward(self, x, w, b, problem):
        out, saved = super()._forward(x, w, b, problem)
        return out.tolist(), saved


class Mutates(Im2col):
    """Writes into its input x (the harness hands read-only inputs: it fails alone)."""
    name = "mutates"

    def _forward(self, x, w, b, problem):
        x[...] = 0
        return super()._forward(x, w, b, problem)


class Exits(Im2col):
    """Calls sys.exit inside forward ('error', the sweep goes on)."""
    name = "exits"

    def _forward(self, x, w, b, problem):
        raise SystemExit(5)


class Hangs(Im2col):
    """Sleeps forever in forward (stopped by the cell time limit)."""
    name = "hangs"

    def _forward(self, x, w, b, problem):
        import time
        while True:
            time.sleep(0.05)
