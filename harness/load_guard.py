"""The load guard: a contest measured while other work ran on the run's cores is measured again.

Around each contest the guard reads the other work on the cores this process may use
(:mod:`harness.measure.load`).  Over ``timing.load_threshold`` cores' worth, it waits
``timing.load_pause_seconds`` and measures the contest again, up to ``timing.load_retries``
times; if the machine stays busy, the contest's rows are flagged ``contended`` (and the
console, report and figures say so).  Then the contest's rows are built, with the columns
every row of the run shares.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from . import schema
from .cell import Contest
from .contest import run_contest
from .measure.load import CoreLoad, competing
from .settings import CellSettings
from .variants import Variant

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """A contest's rows for results.csv and phases.csv, and the conditions it was measured in."""

    rows: list[dict]
    phase_rows: list[dict]
    contended: bool
    other_cores: float | None


def measure_contest(contest: Contest, variants: list[Variant], data_for, settings: CellSettings, common: dict,
                    load: CoreLoad, on_cell: Callable = lambda cell: None, failed: dict | None = None) -> Outcome:
    """Run the contest (again while the machine is busy), then its rows; ``common``: the run's shared columns."""
    timing = settings.timing
    for attempt in range(timing.load_retries + 1):
        load.reading()
        result = run_contest(contest, variants, data_for, settings, on_cell, failed)
        reading = load.reading()
        contended = competing(reading, timing.load_threshold)
        if not contended:
            break
        log.warning("%s: other work on this run's cores (%.2f cores) during the contest%s", contest,
                    reading.other_cores, f"; measuring it again in {timing.load_pause_seconds:g} s"
                    if attempt < timing.load_retries else "; flagged contended")
        if attempt < timing.load_retries:
            time.sleep(timing.load_pause_seconds)
    measured = [c for c in result.cells if c.timing is not None and c.timing.seconds and
                c.status in ("ok", "mismatch")]
    shared = {**common, "load_1min": reading.load_1min, "steal_fraction": reading.steal_fraction,
              "other_cores": reading.other_cores, "contended": contended,
              "uncontested": len(measured) == 1, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "gemm_gflops": common.get("gemm_gflops", {}).get(str(contest.threads)),
              "bandwidth_gb_per_s": common.get("bandwidth_gb_per_s", {}).get(str(contest.threads)),
              "dtype": settings.dtype, "allocator": settings.allocator, "exact_inputs": settings.exact_inputs,
              "schema_version": schema.SCHEMA_VERSION}
    rows = [r for cell in result.cells for r in cell.rows(shared, timing.noise_threshold)]
    for r in rows:
        r["contest_rows"] = len(rows)
    phases = [r for cell in result.cells for r in cell.phase_rows(shared)]
    for r in phases:
        r["contest_rows"] = len(phases)
    return Outcome(rows, phases, contended, reading.other_cores)
