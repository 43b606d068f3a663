"""The cell runner: one (shape, strategy, thread budget, pass) measured into rows.

A plain function of plain values (:func:`run_cell`), so it can run in a child
process; it writes nothing.  The steps, in order, each of which can end the cell:

1. ``skip_reason`` -> status ``unsupported``.
2. Predicted time over the cell budget -> ``skipped`` (prediction: one warm call on a
   reduced problem, N=1 and a few output rows, scaled by the FLOP ratio; a FLOP
   model alone is wrong by 18-57x for Python-bound loops).
3. Oracle check on the cell's own inputs (a leading slice of the batch above a size
   threshold, recorded as ``oracle_batch``) -> ``mismatch`` when over tolerance.
4. Timing (cold call apart, warm-up, repeats), 5. peak extra memory.
Any exception -> ``error`` with its text; ``KeyboardInterrupt`` propagates.
"""
from __future__ import annotations

import logging
import math
import time
import traceback
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from . import oracle
from .memory import nbytes_of, peak_extra_memory
from .sweeps import Shape
from .timing import Timing, TimingSettings, predicted_cell_seconds, thread_budget, time_call
from .variants import Variant

log = logging.getLogger(__name__)
PASS_QUANTITIES = {"forward": ("out",), "backward": ("dx", "dw", "db")}


@dataclass(frozen=True)
class CellSettings:
    """What every cell of a run shares."""

    dtype: str = "float32"
    seed: int = 0
    timing: TimingSettings = field(default_factory=TimingSettings)
    oracle_max_gflop: float = 0.5   # float64 reference work per shape before slicing the batch
    allocator: str = "default"


class ShapeData:
    """Inputs of one shape (made once from the seed) and the float64 references, cached."""

    def __init__(self, shape: Shape, settings: CellSettings):
        self.shape, self.settings = shape, settings
        rng = np.random.default_rng([settings.seed, zlib.crc32(shape.name.encode())])
        dtype = np.dtype(settings.dtype)
        Ho, Wo = oracle.out_size(shape.columns())
        self.x = rng.standard_normal(shape.x_shape).astype(dtype)
        self.w = rng.standard_normal(shape.w_shape).astype(dtype)
        self.b = rng.standard_normal(shape.F).astype(dtype)
        self.dout = rng.standard_normal((shape.N, shape.F, Ho, Wo)).astype(dtype)
        per_image = 3 * oracle.flops(shape.columns(), "forward") / shape.N  # forward + backward
        self.oracle_batch = max(1, min(shape.N, int(settings.oracle_max_gflop * 1e9 // per_image)))
        self._reference = None
        self._checks: dict = {}

    def reference(self) -> oracle.Reference:
        if self._reference is None:
            nb = self.oracle_batch
            self._reference = oracle.reference(self.x[:nb], self.w, self.b, self.dout[:nb],
                                               self.shape.stride, self.shape.pad)
        return self._reference

    def check(self, strategy, key) -> dict[str, float]:
        """Max relative error of out, dx, dw, db of ``strategy`` on the oracle slice (cached by key)."""
        if key not in self._checks:
            nb, cp = self.oracle_batch, self.shape.conv_param
            out, cache = strategy.forward(self.x[:nb], self.w, self.b, cp)
            dx, dw, db = strategy.backward(self.dout[:nb], cache)
            self._checks[key] = oracle.compare({"out": out, "dx": dx, "dw": dw, "db": db}, self.reference().values)
        return self._checks[key]


def run_cell(data: ShapeData, variant: Variant, threads: int, pass_: str) -> list[dict]:
    """Measure one cell; returns its rows (one per timed repeat, or one for a cell not timed)."""
    shape, settings = data.shape, data.settings
    started = time.perf_counter()
    base = {**shape.columns(), "strategy": variant.spec, "strategy_name": variant.name,
            "pass": pass_, "dtype": settings.dtype, "threads": threads,
            "flops": oracle.flops(shape.columns(), pass_), "allocator": settings.allocator,
            "oracle_batch": math.nan, "status": "ok", "reason": ""}
    try:
        strategy = variant.build(threads)
        base["algorithm"] = strategy.family
        reason = strategy.skip_reason(shape.x_shape, shape.w_shape, shape.conv_param)
        if reason is not None:
            return [_finish(base, started, status="unsupported", reason=reason)]
        with thread_budget(threads):
            predicted = _predict(strategy, data, pass_)
        base["predicted_seconds"] = predicted
        if predicted > settings.timing.cell_budget_seconds:
            return [_finish(base, started, status="skipped", reason=(
                f"predicted {predicted:.3g} s for the cell > budget "
                f"{settings.timing.cell_budget_seconds:g} s (timing.cell_budget_seconds)"))]
        with thread_budget(threads):
            errors = data.check(strategy, (variant.spec, threads))
        quantities = PASS_QUANTITIES[pass_]
        errors = {q: errors[q] for q in quantities}
        condition = data.reference().condition
        tols = oracle.tolerances(shape.columns(), settings.dtype, strategy.family, condition)
        worst = max(quantities, key=lambda q: errors[q] / tols[q])
        base.update({f"err_{q}": e for q, e in errors.items()})
        base.update(error_ratio=errors[worst] / tols[worst], tolerance=tols[worst], oracle_batch=data.oracle_batch)
        failed = oracle.failures(errors, shape.columns(), settings.dtype, strategy.family, condition)
        if failed:
            base.update(status="mismatch", reason="; ".join(failed))
            log.error("MISMATCH %s %s %s: %s", shape.name, variant.spec, pass_, base["reason"])
        call, returned = _timed_call(strategy, data, pass_)
        with thread_budget(threads):
            timing = time_call(call, settings.timing)
            base["mem_tracemalloc_bytes"], base["mem_rss_bytes"] = peak_extra_memory(call, returned)
        base["memory_note"] = strategy.memory_blind_spot
    except Exception as err:  # the sweep goes on; the row says what happened
        log.warning("error in %s %s %s: %s", shape.name, variant.spec, pass_, err)
        log.debug("%s", traceback.format_exc())
        return [_finish(base, started, status="error", reason=f"{type(err).__name__}: {err}")]
    return _timing_rows(base, timing, settings.timing, started)


def _timed_call(strategy, data: ShapeData, pass_: str):
    """The zero-argument call to time and how many bytes of its result are returned (not extra)."""
    cp = data.shape.conv_param
    if pass_ == "forward":
        return (lambda: strategy.forward(data.x, data.w, data.b, cp)), (lambda r: nbytes_of(r[0]))
    _, cache = strategy.forward(data.x, data.w, data.b, cp)  # untimed; backward is timed alone
    return (lambda: strategy.backward(data.dout, cache)), nbytes_of


def _predict(strategy, data: ShapeData, pass_: str) -> float:
    """Seconds the cell would take, from warm calls on reduced problems.

    Stage 1 times a sliver -- N = 1 and the input rows of at most two output rows, same
    C, F, kernel, stride and padding -- and scales by FLOPs: cheap for every strategy
    and right for the Python-bound loops, whose cost is per output.  Fast strategies
    have fixed costs (the kernel's transform, an FFT plan) that scaling a sliver
    multiplies, so when stage 1 says "over budget", stage 2 times a second, larger
    reduced problem (more rows, or more images when there are no more rows) and fits
    ``time = fixed + per_flop * flops`` through the two.  The cell is skipped only if
    the better prediction still says so.
    """
    shape, timing = data.shape, data.settings.timing
    full = oracle.flops(shape.columns(), pass_)
    small = _reduced(shape, images=1, out_rows=2)
    t_small, f_small = _warm_call(strategy, data, small, pass_), oracle.flops(small.columns(), pass_)
    predicted = predicted_cell_seconds(t_small * full / f_small, timing)
    larger = (_reduced(shape, images=1, out_rows=8) if shape.out_h > 2
              else _reduced(shape, images=4, out_rows=2))
    f_larger = oracle.flops(larger.columns(), pass_)
    if (predicted <= timing.cell_budget_seconds or f_larger <= f_small
            or 2 * t_small * f_larger / f_small > timing.cell_budget_seconds / 4):
        return predicted
    t_larger = _warm_call(strategy, data, larger, pass_)
    per_flop = max(t_larger - t_small, 0.0) / (f_larger - f_small)
    fixed = max(t_small - per_flop * f_small, 0.0)
    return min(predicted, predicted_cell_seconds(max(t_larger, fixed + per_flop * full), timing))


def _reduced(shape: Shape, images: int, out_rows: int) -> Shape:
    """``shape`` cut to at most ``images`` images and the input rows of ``out_rows`` output rows."""
    rows = min(shape.out_h, out_rows)
    H = min(shape.H, max(1, (rows - 1) * shape.stride + shape.HH - 2 * shape.pad))
    return replace(shape, N=min(shape.N, images), H=H)


def _warm_call(strategy, data: ShapeData, reduced: Shape, pass_: str) -> float:
    """Seconds of one warm call of ``pass_`` on the leading part of the inputs that ``reduced`` describes."""
    x = np.ascontiguousarray(data.x[:reduced.N, :, :reduced.H])
    dout = np.ascontiguousarray(data.dout[:reduced.N, :, :reduced.out_h])
    cp = reduced.conv_param

    def once() -> float:
        t0 = time.perf_counter()
        out, cache = strategy.forward(x, data.w, data.b, cp)
        if pass_ == "backward":
            t0 = time.perf_counter()
            strategy.backward(dout, cache)
        return time.perf_counter() - t0

    first = once()
    return first if first > 1.0 else once()


def _finish(base: dict, started: float, **updates) -> dict:
    return {**base, **updates, "cell_seconds": time.perf_counter() - started}


def _timing_rows(base: dict, timing: Timing, settings: TimingSettings, started: float) -> list[dict]:
    median = timing.median
    noisy = bool(timing.iqr > settings.noise_threshold * median)
    common = _finish(base, started, cold_seconds=timing.cold_seconds, noisy=noisy, block_calls=timing.block_calls)
    return [{**common, "repeat": i, "seconds": t, "gflops": base["flops"] / t / 1e9}
            for i, t in enumerate(timing.seconds)]
