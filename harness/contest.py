"""One contest measured: every entrant of one (shape, pass, thread budget), checked, then timed in rounds.

The steps, each of which can end a cell (see :mod:`harness.cell` for the statuses):

1. build each entrant at the thread budget; ``skip_reason`` -> ``unsupported``; an entrant
   running another entrant's code is not raced (:func:`harness.variants.racers`);
2. sizes: inputs or a strategy's analytic workspace beyond the memory available -> ``skipped``;
3. the inputs (inside the contest's error handling: a MemoryError is that contest's rows);
4. a prediction per entrant (:mod:`harness.predict`);
5. in order of prediction, each entrant unless one call would exceed the cell budget
   (``skipped``) or it is predicted ``hopeless_factor`` times slower than the fastest entrant
   already warmed up (``hopeless``): the oracle on the contest's own inputs, the returns
   checked against the contract (:mod:`harness.checks`; ``mismatch`` or ``error``), then its
   cold call and warm-up.  Only cells that are timed are judged: a hopeless cell is never
   run whole (the naive loops' check alone took a minute on a ResNet layer);
6. rounds: each entrant takes one sample per round (a block of calls), in an order rotated
   every round (A B C, B C A, C A B, ...), so whatever drifts over time (allocation
   history, the host) lands on every entrant alike; an entrant leaves the rounds once it
   has ``min_repeats`` samples and ``min_seconds`` of them (or ``max_repeats``, or the cell
   budget's worth);
7. after the rounds, untimed for the contest: peak memory, the named steps timed one by one
   (``phase_repeats`` calls), and whether two calls give the same bits.

Everything a strategy does runs under its cell's time limit (:func:`harness.watchdog.deadline`);
an exception, a ``SystemExit`` or a timeout ends that cell as ``error`` and the contest goes on.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

from strategies.passes import PASS_WRT
from strategies.phases import recording

from .cell import Cell, Contest
from .checks import judge
from .inputs import ShapeData, input_bytes, size_problem
from .measure.memory import nbytes_of, peak_extra_memory
from .measure.timing import Timing, block_size, seconds_of, thread_budget, time_block
from .phase_timer import StepTimer, same_bits
from .predict import predict, ruling, settled
from .settings import CellSettings
from .variants import Variant, racers
from .watchdog import CellTimeout, deadline

log = logging.getLogger(__name__)


@dataclass
class ContestResult:
    contest: Contest
    cells: list[Cell]


def run_contest(contest: Contest, variants: list[Variant], data_for: Callable[[object], ShapeData],
                settings: CellSettings, on_cell: Callable[[Cell], None] = lambda cell: None,
                failed: dict[str, str] | None = None) -> ContestResult:
    """Measure one contest (see the module docstring); ``on_cell`` hears which cell is about to run.

    ``failed`` (label -> reason): cells already known to be ``error`` (they took a child
    process down): recorded, not run again.
    """
    cells = [Cell(contest, v) for v in variants]
    for cell in cells:
        if failed and cell.label in failed:
            cell.end("error", failed[cell.label])
    with thread_budget(contest.threads):
        _build(cells, variants, contest, settings, on_cell)
        data = _inputs(cells, contest, data_for, settings)
        if data is not None:
            _measure(cells, contest, data, settings, on_cell)
    return ContestResult(contest, cells)


def _guarded(cell: Cell, settings: CellSettings, fn):
    """Run ``fn()`` under the cell's time limit; an exception, SystemExit or timeout ends the cell."""
    limit = settings.timing.cell_timeout_seconds
    t0 = time.perf_counter()
    try:
        with deadline(limit - cell.spent):
            return fn()
    except CellTimeout:
        cell.end("error", f"timeout after {limit:g} s (timing.cell_timeout_seconds)")
    except (Exception, SystemExit) as err:  # the contest goes on; the row says what happened
        cell.end("error", f"{type(err).__name__}: {err}")
    finally:
        cell.spent += time.perf_counter() - t0
    log.warning("error in %s %s: %s", cell.contest, cell.label, cell.reason)
    return None


def _build(cells, variants, contest: Contest, settings, on_cell) -> None:
    shape = contest.shape
    for cell in (c for c in cells if c.status == "ok"):
        on_cell(cell)
        cell.strategy = _guarded(cell, settings, lambda: cell.variant.build(contest.threads))
        if cell.strategy is None:
            continue
        reason = _guarded(cell, settings, lambda: cell.strategy.skip_reason(shape.x_shape, shape.w_shape,
                                                                             shape.conv_param))
        if reason:
            cell.end("unsupported", reason)
    not_raced = racers(variants, {c.label: c.strategy for c in cells if c.pending}, shape)
    for cell in list(cells):
        if cell.label in not_raced:
            if not_raced[cell.label]:
                cell.end("unsupported", not_raced[cell.label])
            else:
                cells.remove(cell)   # from the default list: nothing of its own to show here


def _inputs(cells, contest: Contest, data_for, settings) -> ShapeData | None:
    shape, dtype = contest.shape, settings.dtype
    needed = input_bytes(shape, dtype) + input_bytes(shape, "float64")   # and the float64 reference
    too_big = size_problem(needed, "the inputs and their float64 reference")
    for cell in (c for c in cells if c.pending):
        try:
            cell.costs = cell.strategy.costs(shape.x_shape, shape.w_shape, shape.conv_param, contest.pass_, dtype)
        except NotImplementedError:
            cell.costs = None
        except (Exception, SystemExit) as err:
            cell.end("error", f"costs: {type(err).__name__}: {err}")
            continue
        workspace = size_problem(needed + cell.costs.workspace_bytes, "the inputs and one call's workspace") \
            if cell.costs is not None else None
        if too_big or workspace:
            cell.end("skipped", too_big or workspace)
    if not any(c.pending for c in cells):
        return None
    try:
        return data_for(shape)
    except (Exception, SystemExit) as err:   # MemoryError above all: the contest's rows say so
        for cell in (c for c in cells if c.pending):
            cell.end("error", f"building the inputs: {type(err).__name__}: {err}")
        log.warning("error building the inputs of %s: %s", shape.name, err)
        return None


def _timed_call(strategy, data: ShapeData, pass_: str):
    """The zero-argument call the cell times (backward: on the cache of one untimed forward)."""
    x, w, b, cp = data.x, data.w, data.b, data.shape.conv_param
    if not PASS_WRT[pass_]:
        return lambda: strategy.forward(x, w, b, cp)
    _, cache = strategy.forward(x, w, b, cp)
    wrt, dout = PASS_WRT[pass_], data.dout
    return lambda: strategy.backward(dout, cache, wrt=wrt)


def _measure(cells, contest: Contest, data: ShapeData, settings: CellSettings, on_cell) -> None:
    timing, pass_ = settings.timing, contest.pass_
    limit = timing.cell_budget_seconds / 10
    for cell in (c for c in cells if c.pending):
        on_cell(cell)
        cell.prediction = _guarded(cell, settings, lambda: predict(cell.strategy, data, pass_,
                                                                    timing.probe_seconds, limit))
        cell.decision_seconds = cell.prediction.spent if cell.prediction else 0.0
    _warm_up(cells, data, settings, on_cell)
    _rounds([c for c in cells if c.pending and c.timing is not None], settings, on_cell)
    for cell in (c for c in cells if c.pending and c.timing is not None):
        on_cell(cell)
        _guarded(cell, settings, lambda: _after_rounds(cell, settings))


def _warm_up(cells, data: ShapeData, settings: CellSettings, on_cell) -> None:
    """Cold call and warm-up of each entrant, fastest predicted first; skipped and hopeless decided here."""
    timing = settings.timing
    order = sorted((c for c in cells if c.pending and c.prediction is not None),
                   key=lambda c: c.prediction.seconds if math.isfinite(c.prediction.seconds) else 0.0)
    fastest, fastest_label = math.inf, ""
    for cell in order:
        threshold = min(timing.cell_budget_seconds, timing.hopeless_factor * fastest)
        if not settled(cell.prediction, threshold, timing.cell_budget_seconds / 10):
            on_cell(cell)       # decisive: check it on larger probes before deciding
            again = _guarded(cell, settings, lambda: predict(cell.strategy, data, cell.contest.pass_,
                                                              timing.probe_seconds, timing.cell_budget_seconds / 10,
                                                              threshold))
            if again is None:
                continue
            cell.prediction = again
            cell.decision_seconds += again.spent
        ruled = ruling(cell.prediction.seconds, fastest, fastest_label, timing)
        if ruled is not None:
            cell.end(*ruled)
            continue
        on_cell(cell)
        cell.verdict = _guarded(cell, settings, lambda: judge(cell.strategy, data, cell.contest.pass_))
        if cell.verdict is not None and cell.verdict.failures:
            cell.end("mismatch", "; ".join(cell.verdict.failures))
            log.error("MISMATCH %s %s: %s", cell.contest, cell.label, cell.reason)
        if not cell.pending:
            continue

        def start():
            cell.call = _timed_call(cell.strategy, data, cell.contest.pass_)
            cold = last = seconds_of(cell.call)
            for _ in range(timing.warmup):
                last = seconds_of(cell.call)
            cell.timing = Timing(cold, block_size(last, timing.block_seconds))
            return last

        warm = _guarded(cell, settings, start)
        if warm is not None and warm < fastest and cell.status == "ok":
            fastest, fastest_label = warm, cell.label


def _enough(timing: Timing, settings: CellSettings) -> bool:
    t = settings.timing
    n = len(timing.seconds)
    return n >= t.max_repeats or (n >= t.min_repeats and (timing.spent >= t.min_seconds or
                                                         timing.spent >= t.cell_budget_seconds))


def _rounds(active: list[Cell], settings: CellSettings, on_cell) -> None:
    """Samples in rounds, the order rotated each round, until every entrant has enough."""
    r = 0
    while active:
        k = r % len(active)
        for cell in active[k:] + active[:k]:
            on_cell(cell)
            sample = _guarded(cell, settings, lambda: time_block(cell.call, cell.timing.block_calls))
            if sample is not None:
                cell.timing.seconds.append(sample)
                cell.timing.rounds.append(r)
        active = [c for c in active if c.pending and not _enough(c.timing, settings)]
        r += 1


def _after_rounds(cell: Cell, settings: CellSettings) -> None:
    """Peak memory, the named steps timed one by one, and bitwise repeatability: untimed for the contest."""
    forward = not PASS_WRT[cell.contest.pass_]
    cell.memory = peak_extra_memory(cell.call, (lambda r: nbytes_of(r[0])) if forward else nbytes_of)
    repeats, timer, results = settings.timing.phase_repeats, StepTimer(), []
    for _ in range(max(2, repeats)):
        with recording(timer):
            result, seconds = timer.timed_call(cell.call)
        cell.phase_calls.append(seconds)
        if len(results) < 2:
            results.append(result[:1] if forward else result)
    if repeats:
        cell.phase_seconds = timer.seconds
    else:
        cell.phase_calls.clear()
    cell.bitwise = same_bits(*results)
