"""Honest timing: a fixed thread budget, warm-up, repeats, raw times kept.

Why these choices (after torch.utils.benchmark and pyperf):

* **One thread by default.** A single core shows algorithmic efficiency; more
  threads mix in the BLAS/FFT library's parallel scaling.  The budget is applied in
  one context (:func:`thread_budget`) around every timed call: ``threadpoolctl`` for
  BLAS/OpenMP and ``scipy.fft.set_workers`` for scipy.fft, which threadpoolctl does
  not reach.  Strategies never set threads themselves.
* **The first call is timed apart** ("cold": plan creation, pool start-up, first
  touch of fresh pages) and never mixed into the repeats.
* **Repeats until both a minimum count and a minimum time are met**, so fast cells
  get many samples and slow ones at least a few; the garbage collector is off inside
  the timed region so a collection triggered by someone else's garbage is not
  charged to the call.
* **Blocks for short calls**: a sample is the mean of ``k`` back-to-back calls, ``k``
  chosen so a block lasts ``block_seconds`` (1 for calls longer than that).  A single
  millisecond call is at the mercy of every timer tick and page fault; the mean of a
  block is not, so the IQR measures the method's spread instead of the machine's jitter
  (torch.utils.benchmark does the same).  ``seconds`` in the results is then the
  per-call time of one block and ``block_calls`` says how many calls it averaged.
* **Medians and IQR, not means**: timing noise on a shared VM is one-sided and
  heavy-tailed; the median ignores the outliers the mean chases.
"""
from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class TimingSettings:
    """Every timing knob (the values live in ``conf/timing/*.yaml``)."""

    warmup: int = 1                  # untimed calls after the cold one
    min_repeats: int = 5             # timed calls at least ...
    min_seconds: float = 0.2         # ... and at least this much timed time
    max_repeats: int = 200           # cap for very fast calls
    block_seconds: float = 0.0       # time a sample as a block of calls lasting about this long
    cell_budget_seconds: float = 10.0  # skip a cell predicted to take longer than this
    noise_threshold: float = 0.10    # IQR / median above this marks a cell noisy
    processes: int = 1               # fresh child processes per cell group (measurement trust)

    def __post_init__(self):
        if self.min_repeats < 1 or self.max_repeats < self.min_repeats:
            raise ValueError(f"timing needs 1 <= min_repeats <= max_repeats; got "
                             f"min_repeats={self.min_repeats}, max_repeats={self.max_repeats}")
        if self.warmup < 0 or self.min_seconds < 0 or self.cell_budget_seconds <= 0:
            raise ValueError("timing.warmup and timing.min_seconds must be >= 0 and "
                             "timing.cell_budget_seconds > 0")
        if self.processes < 1:
            raise ValueError(f"timing.processes must be >= 1; got {self.processes}")


@contextlib.contextmanager
def thread_budget(threads: int):
    """Limit BLAS/OpenMP (threadpoolctl) and scipy.fft (set_workers) to ``threads``."""
    with threadpool_limits(limits=threads), scipy.fft.set_workers(threads):
        yield


@contextlib.contextmanager
def gc_disabled():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Timing:
    cold_seconds: float
    seconds: list[float]             # per-call time of each sample (a block of block_calls calls), in order
    block_calls: int = 1

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def iqr(self) -> float:
        q1, q3 = np.percentile(self.seconds, [25, 75])
        return float(q3 - q1)


def time_call(fn: Callable[[], object], settings: TimingSettings) -> Timing:
    """Time ``fn()``: one cold call, ``warmup`` untimed calls, then samples (blocks of calls).

    Call inside :func:`thread_budget`.  Results of ``fn`` are dropped right away so
    that each call starts from the same memory state.
    """
    with gc_disabled():
        t0 = time.perf_counter()
        fn()
        cold = last = time.perf_counter() - t0
        for _ in range(settings.warmup):
            t0 = time.perf_counter()
            fn()
            last = time.perf_counter() - t0
        block = max(1, min(1000, round(settings.block_seconds / max(last, 1e-9))))
        seconds: list[float] = []
        total = 0.0
        while len(seconds) < settings.max_repeats and (
                len(seconds) < settings.min_repeats or total < settings.min_seconds):
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            dt = time.perf_counter() - t0
            seconds.append(dt / block)
            total += dt
    return Timing(cold, seconds, block)


def predicted_cell_seconds(one_call: float, settings: TimingSettings) -> float:
    """Time a cell will take given one warm call's time.

    Counts the cold call, the warm-up, the repeats and two untimed calls (the oracle
    check and the memory measurement).
    """
    block = max(1.0, settings.block_seconds / max(one_call, 1e-9))
    samples = max(settings.min_repeats, min(settings.max_repeats, settings.min_seconds / (block * max(one_call, 1e-9))))
    return one_call * (3 + settings.warmup + samples * block)
