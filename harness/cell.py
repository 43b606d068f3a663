"""One cell: an entrant (a strategy variant) in one contest, what was decided about it, and its rows.

A cell's status is one of ``ok``, ``unsupported`` (the strategy declines the shape, or is
not raced because it runs another entrant's code), ``skipped`` (one call would exceed the
cell budget, or the memory there is), ``hopeless`` (predicted far slower than the contest's
fastest entrant: drawn at its predicted time), ``mismatch`` (over the oracle's tolerance:
timed, never a winner) or ``error`` (an exception, a contract violation, a timeout).  Rows
are built here, in one place, against :mod:`harness.schema`: one per sample of a timed
cell, one for a cell that was not timed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from strategies.passes import PASS_QUANTITIES

from . import oracle, schema
from .checks import Verdict
from .measure.timing import Timing
from .predict import Prediction
from .sweeps import Shape
from .variants import Variant


@dataclass(frozen=True)
class Contest:
    """One contest: the entrants of one shape, pass and thread budget, measured together."""

    shape: Shape
    pass_: str
    threads: int
    process: int = 0

    @property
    def key(self) -> tuple:
        return (self.shape.name, self.pass_, self.threads, self.process)

    def __str__(self) -> str:
        return f"{self.shape.name} | {self.pass_} | {self.threads}t"


@dataclass
class Cell:
    """What is known about one entrant of a contest, filled in as the contest runs."""

    contest: Contest
    variant: Variant
    strategy: Any = None
    status: str = "ok"
    reason: str = ""
    verdict: Verdict | None = None
    prediction: Prediction | None = None
    timing: Timing | None = None
    call: Callable[[], object] | None = None        # the timed call
    memory: tuple = (math.nan, math.nan)            # tracemalloc, RSS
    costs: Any = None
    phase_seconds: dict = field(default_factory=dict)   # step name -> seconds per recorded call
    phase_calls: list = field(default_factory=list)     # whole-call seconds of those calls
    bitwise: bool | None = None
    spent: float = 0.0                                  # seconds inside the strategy's code
    decision_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def label(self) -> str:
        return self.variant.label

    @property
    def pending(self) -> bool:
        """Still to be measured (nothing has ended it yet; a mismatch is still timed)."""
        return self.status in ("ok", "mismatch") and self.strategy is not None

    def end(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason

    def values(self) -> dict:
        """The columns every row of this cell shares."""
        shape, contest = self.contest.shape, self.contest
        values = {**shape.columns(), "strategy": self.label, "strategy_name": self.variant.name,
                  "role": self.variant.role, "family": getattr(self.strategy, "family", None),
                  "pass": contest.pass_, "threads": contest.threads, "process": contest.process,
                  "status": self.status, "reason": self.reason,
                  "flops": float(oracle.flops(shape, PASS_QUANTITIES[contest.pass_])),
                  "decision_seconds": self.decision_seconds,
                  "cell_seconds": time.perf_counter() - self.started,
                  "mem_tracemalloc_bytes": self.memory[0], "mem_rss_bytes": self.memory[1],
                  "memory_note": getattr(self.strategy, "memory_blind_spot", ""),
                  "bitwise_repeatable": self.bitwise}
        if self.prediction is not None:
            values["predicted_seconds"] = self.prediction.seconds
        if self.verdict is not None:
            values.update({f"err_{q}": e for q, e in self.verdict.errors.items()})
            values.update({f"tol_{q}": t for q, t in self.verdict.tolerances.items()})
            values["error_ratio"] = self.verdict.worst_ratio
        if self.costs is not None:
            values.update(multiplies=self.costs.multiplies, transform_flops=self.costs.transform_flops,
                          workspace_bytes=self.costs.workspace_bytes, bytes_moved=self.costs.bytes_moved)
        return values

    def rows(self, common: dict, noise_threshold: float) -> list[dict]:
        """One row per sample (or one row for a cell without a time), every column of the schema."""
        values = {**common, **self.values()}
        timing = self.timing
        if self.status not in ("ok", "mismatch") or timing is None or not timing.seconds:
            return [schema.row(schema.RESULTS, values)]
        values.update(cold_seconds=timing.cold_seconds, block_calls=timing.block_calls,
                      noisy=bool(timing.iqr > noise_threshold * timing.median),
                      few_samples=len(timing.seconds) < 3)
        return [schema.row(schema.RESULTS, {**values, "repeat": i, "round": r, "seconds": t,
                                            "gflops": values["flops"] / t / 1e9})
                for i, (t, r) in enumerate(zip(timing.seconds, timing.rounds))]

    def phase_rows(self, common: dict) -> list[dict]:
        """One row per named step: the analytic costs of the phase and, when timed, its median and IQR."""
        if self.costs is None and not self.phase_seconds:
            return []
        c = self.contest
        key = {"shape": c.shape.name, "strategy": self.label, "pass": c.pass_, "threads": c.threads,
               "process": c.process, "contest_rows": common.get("contest_rows")}
        phases = list(self.costs.phases) if self.costs is not None else []
        names = [p.name for p in phases] + [n for n in self.phase_seconds if n not in {p.name for p in phases}]
        calls = np.asarray(self.phase_calls) if self.phase_calls else None
        rows = []
        for order, name in enumerate(names):
            cost = next((p for p in phases if p.name == name), None)
            times = np.asarray(self.phase_seconds.get(name, []))
            q1, q3 = np.percentile(times, [25, 75]) if len(times) else (math.nan, math.nan)
            rows.append(schema.row(schema.PHASES, {
                **key, "phase": name, "order": order,
                "median_s": float(np.median(times)) if len(times) else math.nan, "iqr_s": float(q3 - q1),
                "call_median_s": float(np.median(calls)) if calls is not None else math.nan,
                **({"product_flops": cost.product, "gemm_transform_flops": cost.gemm_transform,
                    "fft_flops": cost.fft, "transform_flops": cost.transform, "bytes": cost.bytes,
                    "fft_length": cost.fft_length} if cost is not None else {})}))
        return rows
