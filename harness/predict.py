"""How long will one call take?  Measured on a growing probe, extrapolated only as far as it must be.

The probe starts at one image and one output row of the layer and doubles the work (rows
first, then images) until one call takes ``timing.probe_seconds`` or the probe is the whole
layer (then the "prediction" is a measurement).  Only a call still short of that at the
whole layer's size is extrapolated, linearly in the direct algorithm's flops from the
largest probe: fixed costs (a plan, a kernel transform, a thread hand-off) are then a small
part of the probe's time, which is what sank the earlier two-point fits (off by 50-500x
on FFT and parallel cells).  The probing is bounded: a probe that alone runs past
``limit`` seconds stops it, and its extrapolation is the prediction.  The first call on the
first probe pays first touches and plans and is not timed, unless it alone took ``limit``
and the strategy has run this pass in this process before (then its imports and JIT are
paid, and the call is the probe's time: a second one would only double the cost; the naive
loops on a ResNet layer take seconds on the smallest probe).

The prediction decides only the cells it must (``skipped``: one call over the cell budget;
``hopeless``: far slower than the contest's fastest entrant); every measured cell records
it beside its measured time, so the predictor's error is a column and a figure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from strategies.passes import PASS_QUANTITIES, PASS_WRT

from . import oracle
from .inputs import ShapeData
from .sweeps import Shape

#: (strategy label, pass) already called in this process: its first call paid the imports and the JIT
_touched: set = set()


@dataclass(frozen=True)
class Prediction:
    seconds: float        # predicted seconds of one call of the whole layer
    measured: bool        # the last probe was the whole layer
    spent: float          # seconds the probing took
    last_call: float = 0.0  # seconds of the last probe's call: a long one is a prediction to stand by


def _reduced(shape: Shape, images: int, out_rows: int) -> Shape:
    """``shape`` cut to ``images`` images and the input rows of ``out_rows`` output rows."""
    rows = min(shape.out_h, out_rows)
    H = min(shape.H, max(1, (rows - 1) * shape.stride + shape.HH - 2 * shape.pad, shape.HH - 2 * shape.pad))
    return replace(shape, N=min(shape.N, images), H=H)


def probe_sizes(shape: Shape):
    """Probe problems of doubling work, ending with the whole layer."""
    images, rows = 1, 1
    while True:
        probe = _reduced(shape, images, rows)
        yield probe
        if probe.N == shape.N and probe.H == shape.H:
            return
        if rows < shape.out_h:
            rows *= 2
        else:
            images *= 2


def one_call(strategy, data: ShapeData, probe: Shape, pass_: str) -> float:
    """Seconds of one call of ``pass_`` on the leading part of the inputs that ``probe`` describes."""
    x = np.ascontiguousarray(data.x[:probe.N, :, :probe.H])
    dout = np.ascontiguousarray(data.dout[:probe.N, :, :probe.out_h])
    cp = probe.conv_param
    t0 = time.perf_counter()
    out, cache = strategy.forward(x, data.w, data.b, cp)
    if PASS_WRT[pass_]:
        t0 = time.perf_counter()
        strategy.backward(dout, cache, wrt=PASS_WRT[pass_])
    return time.perf_counter() - t0


def extrapolate(points: list[tuple[float, float]], full: float) -> float:
    """Seconds at ``full`` flops from the probes' (flops, seconds): a line through the last two, else proportional."""
    if len(points) >= 2:
        (f1, t1), (f2, t2) = points[-2:]
        slope = max(0.0, (t2 - t1) / (f2 - f1)) if f2 > f1 else 0.0
        return t2 + slope * max(0.0, full - f2)
    f, t = points[-1]
    return t * full / f


def predict(strategy, data: ShapeData, pass_: str, target: float, limit: float,
            threshold: float = float("inf")) -> Prediction:
    """Predicted seconds of one call of the whole layer (see the module docstring).

    Probing stops at the first probe of ``target`` seconds whose prediction is under
    ``threshold`` (the value a decision turns on): a prediction that would skip a cell is
    checked on larger probes, with a fixed cost fitted through the last two, as long as the
    probing stays within ``limit`` seconds.
    """
    started = time.perf_counter()
    quantities = PASS_QUANTITIES[pass_]
    full = oracle.flops(data.shape, quantities) or 1
    points = []
    for probe in probe_sizes(data.shape):
        if strategy.skip_reason(probe.x_shape, probe.w_shape, probe.conv_param) is not None:
            continue  # the strategy declines the reduced problem: try a larger one
        seconds = one_call(strategy, data, probe, pass_)
        if not points and (seconds < limit or (strategy.label, pass_) not in _touched):
            _touched.add((strategy.label, pass_))        # first touch, plans: not part of the estimate
            seconds = one_call(strategy, data, probe, pass_)
        if probe.N == data.shape.N and probe.H == data.shape.H:
            return Prediction(seconds, True, time.perf_counter() - started, seconds)
        points.append((oracle.flops(probe, quantities) or 1, seconds))
        estimate = extrapolate(points, full)
        if time.perf_counter() - started >= limit or (seconds >= target and estimate <= threshold):
            break
    if not points:
        return Prediction(float("nan"), False, time.perf_counter() - started)
    return Prediction(extrapolate(points, full), False, time.perf_counter() - started, points[-1][1])


def settled(p: Prediction, threshold: float, limit: float) -> bool:
    """Whether ``p`` can decide a cell against ``threshold`` without probing further: it was the whole layer, it is
    under the threshold, or one probe call alone took longer than the threshold and ``limit`` (a tenth of the cell
    budget: the layer is at least as much work; a shorter call may be a first touch, torch builds a kernel per new
    shape).  (Probing for up to the threshold's seconds instead let a two-point line under-predict the naive loops'
    backward, whose cost follows the padded rows: judged and warmed, it hit the 60 s cell limit.)"""
    return p.measured or not p.seconds > threshold or (p.last_call > threshold and p.last_call >= limit)


def ruling(predicted: float, fastest: float, fastest_label: str, timing) -> tuple[str, str] | None:
    """(status, reason) for a cell not worth measuring, or None: ``hopeless`` when predicted ``hopeless_factor``
    times slower than the fastest entrant measured so far, ``skipped`` when one call exceeds the cell budget."""
    if predicted > timing.hopeless_factor * fastest:   # a rival was measured: say how far behind
        return "hopeless", (f"predicted {predicted:.3g} s per call, {predicted / fastest:.0f}x {fastest_label}'s "
                            f"{fastest:.3g} s here (over timing.hopeless_factor {timing.hopeless_factor:g})")
    if predicted > timing.cell_budget_seconds:
        return "skipped", (f"one call predicted {predicted:.3g} s > cell budget {timing.cell_budget_seconds:g} s "
                           f"(timing.cell_budget_seconds)")
    return None
