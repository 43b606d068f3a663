"""Shared fixtures: the shape table every strategy is checked on, and input makers."""
from __future__ import annotations

import contextlib
import tracemalloc

import numpy as np
import pytest

from strategies import STRATEGIES, get_strategy

# (x_shape, w_shape, stride, pad, why it is in the table)
SHAPES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 0, "pad 0"),
    ((2, 3, 6, 6), (3, 3, 3, 3), 1, 2, "pad 2 > 1"),
    ((1, 3, 7, 7), (2, 3, 3, 3), 1, 1, "3x3 pad 1, odd output size"),
    ((2, 16, 8, 8), (8, 16, 3, 3), 1, 1, "3x3 pad 1, more channels"),
    ((2, 2, 8, 8), (3, 2, 3, 3), 2, 0, "stride 2, one leftover row/column"),
    ((1, 2, 9, 10), (2, 2, 3, 3), 3, 1, "stride 3, two leftover rows, one column"),
    ((2, 3, 7, 9), (2, 3, 2, 4), 1, 1, "rectangular kernel, non-square input"),
    ((2, 2, 9, 8), (3, 2, 3, 2), 2, 1, "rectangular kernel, stride 2"),
    ((2, 4, 5, 5), (3, 4, 1, 1), 1, 0, "1x1 kernel"),
    ((2, 4, 6, 6), (3, 4, 1, 1), 2, 0, "1x1 kernel, stride 2"),
    ((2, 2, 4, 4), (3, 2, 6, 6), 1, 1, "kernel as large as the padded input"),
    ((1, 3, 5, 11), (2, 3, 3, 3), 1, 1, "non-square input"),
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 1, "N = C = F = 1"),
    ((2, 3, 8, 8), (4, 3, 5, 5), 1, 2, "5x5 kernel, pad 2"),
]
SHAPE_IDS = [s[4].replace(" ", "_") for s in SHAPES]

#: every strategy as the registry builds it by default, plus variants with options that
#: strategy files want exercised (a strategy with options adds its variants here)
VARIANTS: list[tuple[str, dict]] = [(name, {}) for name in sorted(STRATEGIES)]
# parallel over each base (threads in the shared suite: cheap; loky is tested in test_parallel.py)
VARIANTS += [("parallel", {"base": base, "n_jobs": 2, "backend": "threading"})
             for base in ("naive", "im2col", "fft", "winograd") if base in STRATEGIES]
VARIANTS += [("winograd", {"m": m}) for m in (4, 6)]
VARIANT_IDS = [name + "".join(f"-{k}={v}" for k, v in opts.items()) for name, opts in VARIANTS]


def make_inputs(x_shape, w_shape, dtype, seed=0):
    """Standard-normal x (N, C, H, W), w (F, C, HH, WW) and b (F,) of one dtype."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


class StepLog:
    """A recorder for :mod:`strategies.phases` that keeps the names of the steps run, in order."""

    def __init__(self):
        self.names: list[str] = []

    def __call__(self, name):
        self.names.append(name)
        return contextlib.nullcontext()


def traced_workspace(strategy, pass_, x_shape, w_shape, cp) -> int:
    """Bytes one call of ``pass_`` allocates beyond its inputs and its outputs, as tracemalloc sees them (every
    numpy array; not a library's C scratch): what a strategy's analytic ``workspace_bytes`` is checked against."""
    from strategies.passes import PASS_WRT
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    out, cache = strategy.forward(x, w, b, cp)
    dout = np.ones_like(out)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = strategy.forward(x, w, b, cp)[:1] if pass_ == "forward" else \
            strategy.backward(dout, cache, wrt=PASS_WRT[pass_])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - sum(a.nbytes for a in result if a is not None)


@pytest.fixture(params=VARIANTS, ids=VARIANT_IDS)
def strategy(request):
    name, options = request.param
    return get_strategy(name, **options)


@pytest.fixture(autouse=True, scope="session")
def private_core_locks(tmp_path_factory):
    """Runs in the tests lock cores in a folder of their own, not the machine's (other suites may run)."""
    import harness.measure.cpus as cpus
    private = tmp_path_factory.getbasetemp() / "core-locks"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpus, "LOCK_DIR", private)
        patch.setenv("CONVBENCH_CORE_LOCK_DIR", str(private))     # and in the runs the tests start
        yield
