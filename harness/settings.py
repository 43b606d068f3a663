"""From a :class:`~harness.config.RunConfig` to the validated settings a run measures with.

The schema (harness/config.py) already refused unknown keys and wrong types; what is
checked here is what a schema cannot say: ranges, the thread budget against the CPUs,
strategies and their options against the registry, the baseline against the entrants,
sweep entries against the strategies' own validation.  Every failure is a ``ValueError``
naming the setting, its value and what was expected, raised before any work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from strategies.passes import PASSES

from .config import DEFAULT_BASELINE, RunConfig, TimingConfig
from .measure.cpus import available_cpus
from .sweeps import Shape, expand_sweep
from .plan.load import load_plan
from .variants import Variant, resolve_variants

FIGURE_FORMATS = ("png", "pdf", "svg")
#: option values a strategy spec gives as text that the harness turns into what the strategy takes: auto's
#: ``plan=results/<run>`` or ``plan=plan.json`` -> the plan mapping (strategies do no I/O)
OPTION_LOADERS = {"plan": load_plan}


@dataclass(frozen=True)
class CellSettings:
    """What every cell of a run shares (picklable: it goes to child processes)."""

    dtype: str
    seed: int
    exact_inputs: bool
    oracle_max_gflop: float
    allocator: str
    timing: TimingConfig


@dataclass(frozen=True)
class RunSettings:
    """Everything a run measures, as plain validated values."""

    sweep_name: str
    shapes: list[Shape]
    variants: list[Variant]
    threads: list[int]
    passes: list[str]
    baseline: str | None
    cell: CellSettings
    pin_cpus: bool
    figure_formats: list[str]
    shard: tuple[int, int]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def check_timing(t: TimingConfig) -> None:
    """Ranges of every timing knob (types are the schema's business)."""
    finite = {k: getattr(t, k) for k in ("min_seconds", "block_seconds", "cell_budget_seconds", "hopeless_factor",
                                         "probe_seconds", "cell_timeout_seconds", "noise_threshold",
                                         "load_threshold", "load_pause_seconds")}
    for key, value in finite.items():
        _check(math.isfinite(value) and value >= 0, f"timing.{key} must be a finite number >= 0; got {value!r}")
    _check(t.min_repeats >= 1, f"timing.min_repeats must be >= 1 (3 or more gives a median worth the name; "
                               f"fewer is flagged few_samples); got {t.min_repeats}")
    _check(t.max_repeats >= t.min_repeats, f"timing.max_repeats must be >= timing.min_repeats "
                                           f"({t.min_repeats}); got {t.max_repeats}")
    for key in ("warmup", "phase_repeats", "load_retries"):
        _check(getattr(t, key) >= 0, f"timing.{key} must be >= 0; got {getattr(t, key)}")
    _check(t.processes >= 1, f"timing.processes must be >= 1; got {t.processes}")
    _check(t.cell_budget_seconds > 0, f"timing.cell_budget_seconds must be > 0; got {t.cell_budget_seconds}")
    _check(t.cell_timeout_seconds > 0, f"timing.cell_timeout_seconds must be > 0; got {t.cell_timeout_seconds}")
    _check(t.hopeless_factor > 1, f"timing.hopeless_factor must be > 1 (how many times the fastest entrant); "
                                  f"got {t.hopeless_factor}")


def settings_from_config(config: RunConfig) -> RunSettings:
    """Validate ``config`` into :class:`RunSettings` (see the module docstring)."""
    check_timing(config.timing)
    cpus = len(available_cpus())
    threads = list(config.threads)
    _check(bool(threads) and all(1 <= t <= cpus for t in threads),
           f"threads must be a non-empty list of budgets from 1 to the {cpus} CPUs this process may use; "
           f"got {threads}")
    passes = [getattr(p, "value", p) for p in config.passes]
    _check(bool(passes) and len(set(passes)) == len(passes) and set(passes) <= set(PASSES),
           f"passes must be a non-empty list of distinct passes from {list(PASSES)}; got {passes}")
    _check(math.isfinite(config.oracle_max_gflop) and config.oracle_max_gflop > 0,
           f"oracle_max_gflop must be a number > 0; got {config.oracle_max_gflop!r}")
    formats = list(config.figure_format)
    _check(bool(formats) and set(formats) <= set(FIGURE_FORMATS),
           f"figure_format must be a non-empty list from {list(FIGURE_FORMATS)}; got {formats}")
    shard = (config.shard.index, config.shard.count)
    _check(config.shard.count >= 1 and 0 <= config.shard.index < config.shard.count,
           f"shard.index must be in 0..shard.count-1 and shard.count >= 1; got index {shard[0]}, count {shard[1]}")
    variants = resolve_variants(config.strategies, threads, OPTION_LOADERS)
    racing = [v.label for v in variants if v.role == "strategy"]
    _check(config.baseline is None or config.baseline in racing,
           f"baseline={config.baseline!r} is not one of the run's strategies {racing}; name one of them or "
           f"null (im2col when it runs)")
    baseline = config.baseline if config.baseline is not None else DEFAULT_BASELINE if DEFAULT_BASELINE in racing \
        else None
    sweep = config.sweep
    return RunSettings(
        sweep_name=sweep.name, shapes=expand_sweep(sweep), variants=variants, threads=threads, passes=passes,
        baseline=baseline,
        cell=CellSettings(dtype=getattr(config.dtype, "value", config.dtype), seed=config.seed,
                          exact_inputs=config.exact_inputs, oracle_max_gflop=config.oracle_max_gflop,
                          allocator=getattr(config.allocator, "value", config.allocator), timing=config.timing),
        pin_cpus=config.pin_cpus, figure_formats=formats, shard=shard)
