"""Where contests run: in this process, or pyperf style in fresh child processes.

In this process (the default): the allocator regime a plain numpy program has, and the
speed the run-time goals are set for.  ``in_progress.json`` names the contest being
measured, so a contest that takes the harness down is known on resume (see
:mod:`harness.runfolder`).

In children (``timing.processes = K > 1``: every contest K times, once in each of K fresh
processes started one after another, never concurrently; or a contest that killed the
harness last time): a child measures its contests and sends each one's rows through a
pipe; only the parent writes.  The child reports the cell it is about to run, so when it
dies (a segfault) or falls silent past the cell time limit (stuck in C: the parent kills
it), that cell is blamed with an ``error`` row and the rest of its contest goes on in a
fresh child.  Children are started with ``spawn`` (no inherited heap or thread pools),
inherit the environment (how the allocator setting reaches them) and die with their parent.
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .cell import Contest
from .inputs import ShapeData
from .load_guard import Outcome, measure_contest
from .measure.load import CoreLoad
from .settings import CellSettings
from .variants import Variant
from .watchdog import die_with_parent

log = logging.getLogger(__name__)
#: seconds a child may stay silent beyond the cell time limit before the parent kills it
GRACE_SECONDS = 10.0
#: seconds a fresh child may take to start (import numpy, scipy, torch) before it says it is ready
STARTUP_SECONDS = 300.0


@dataclass
class Job:
    """A contest to measure, its entrants, and cells already known to have failed."""

    contest: Contest
    variants: list[Variant]
    failed: dict[str, str] = field(default_factory=dict)


class Inputs:
    """ShapeData for the shape at hand, kept while consecutive contests use it."""

    def __init__(self, settings: CellSettings):
        self.settings, self.data = settings, None

    def __call__(self, shape) -> ShapeData:
        if self.data is None or self.data.shape != shape:
            self.data = None   # free the previous shape's arrays first
            s = self.settings
            self.data = ShapeData(shape, s.dtype, s.seed, s.exact_inputs, s.oracle_max_gflop)
        return self.data


def run_here(jobs: list[Job], settings: CellSettings, common: dict, cpus,
             on_cell: Callable = lambda job, label: None) -> Iterator[tuple[Job, Outcome]]:
    """Measure each job in this process, yielding its outcome as soon as it is done."""
    inputs, load = Inputs(settings), CoreLoad(cpus)
    for job in jobs:
        yield job, measure_contest(job.contest, job.variants, inputs, settings, common, load,
                                   lambda cell: on_cell(job, cell.label), job.failed)


def _child_main(jobs: list[Job], settings: CellSettings, common: dict, cpus, conn) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent handles Ctrl-C and stops the child
    conn.send(("ready", None))                      # imports done: from here the time limit applies
    for job, outcome in run_here(jobs, settings, common, cpus, lambda j, label: conn.send(("cell", label))):
        conn.send(("done", outcome))
    conn.close()


def run_in_child(jobs: list[Job], settings: CellSettings, common: dict, cpus,
                 on_cell: Callable = lambda job, label: None) -> Iterator[tuple[Job, Outcome]]:
    """Measure the jobs in fresh child processes (see the module docstring), yielding each outcome."""
    ctx = multiprocessing.get_context("spawn")
    silence = settings.timing.cell_timeout_seconds + GRACE_SECONDS
    remaining = list(jobs)
    while remaining:
        receiver, sender = ctx.Pipe(duplex=False)
        # not daemonic: a daemonic process may not start processes, and loky workers must
        child = ctx.Process(target=_child_main, args=(remaining, settings, common, cpus, sender), daemon=False)
        child.start()
        sender.close()
        done, cell, why, ready = 0, None, None, False
        try:
            while done < len(remaining):
                if not receiver.poll(silence if ready else STARTUP_SECONDS):
                    why = f"timeout after {settings.timing.cell_timeout_seconds:g} s: the child stopped responding " \
                          f"(stuck outside Python?) and was killed"
                    break
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    break
                if kind == "ready":
                    ready = True
                elif kind == "cell":
                    cell = value
                    on_cell(remaining[done], value)
                else:
                    yield remaining[done], value
                    done, cell = done + 1, None
        finally:
            if child.is_alive():
                child.kill()
            child.join()
            receiver.close()
        if done == len(remaining):
            return
        why = why or f"the child process measuring it died (exit code {child.exitcode})"
        job = remaining[done]
        unfailed = [v.label for v in job.variants if v.label not in job.failed]
        blamed = [cell] if cell is not None and cell in unfailed else unfailed
        log.error("%s: %s during %s", job.contest, why, ", ".join(blamed) or "its start")
        retry = Job(job.contest, job.variants, {**job.failed, **{label: why for label in blamed}})
        if not unfailed or not ready:       # nothing left to blame, or the child never started: no more children
            yield retry, measure_contest(retry.contest, retry.variants, Inputs(settings), settings, common,
                                         CoreLoad(cpus), failed=retry.failed)
            remaining = remaining[done + 1:]
            continue
        remaining = [retry] + remaining[done + 1:]
