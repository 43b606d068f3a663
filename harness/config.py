"""The config schema: every setting, its type and its default, in one place.

These dataclasses are Hydra structured configs: ``run.py`` registers :class:`RunConfig` in
Hydra's ConfigStore as the schema of ``conf/config.yaml`` (whose defaults list starts with
it), so OmegaConf refuses unknown keys and wrong types, in the YAML and on the command
line, before any work.  The YAML files only choose and override; the defaults are here.
The harness receives a :class:`RunConfig` and keeps only the checks a schema cannot
express (:func:`harness.settings.settings_from_config`).  Nothing here imports Hydra.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional

from omegaconf import OmegaConf

#: what speedups are relative to when ``baseline`` is null and it runs
DEFAULT_BASELINE = "im2col"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class Allocator(str, Enum):
    default = "default"
    pinned = "pinned"


class Pass(str, Enum):
    forward = "forward"
    backward_data = "backward_data"
    backward_filter = "backward_filter"
    backward = "backward"


@dataclass
class TimingConfig:
    """Every timing knob (``conf/timing/quick.yaml`` takes these defaults, ``careful.yaml`` overrides)."""

    name: str = "quick"
    warmup: int = 1                      # untimed calls after the (separately recorded) cold call
    min_repeats: int = 3                 # samples at least (1 or 2 allowed: the cell is flagged few_samples) ...
    min_seconds: float = 0.1             # ... and at least this much sampled time per cell
    max_repeats: int = 100               # at most this many samples
    block_seconds: float = 0.01          # a sample averages back-to-back calls for about this long
    cell_budget_seconds: float = 2.0     # a cell stops sampling past min_repeats after this; skipped if one call exceeds it
    hopeless_factor: float = 20.0        # predicted call over this x the contest's fastest measured one: hopeless
    probe_seconds: float = 0.02          # the predictor grows its probe until one call takes this long
    cell_timeout_seconds: float = 60.0   # a cell running longer than this is stopped: error "timeout after N s"
    noise_threshold: float = 0.10        # IQR / median above this flags the cell noisy
    processes: int = 1                   # fresh child processes per contest (1: measure in this process)
    phase_repeats: int = 3               # calls whose steps are timed one by one after the contest (0: none)
    load_threshold: float = 0.25         # other work on the run's cores (in cores) that marks a contest contended
    load_retries: int = 2                # re-measurements of a contended contest, after a pause each
    load_pause_seconds: float = 1.0      # how long to wait for the machine to quieten before a retry


@dataclass
class LayerConfig:
    """One layer of a ``layers`` sweep (see :mod:`harness.sweeps`)."""

    name: Optional[str] = None
    N: Optional[int] = None              # default: the sweep's batch
    C: Optional[int] = None              # required: input channels
    H: Optional[int] = None              # required: input height
    W: Optional[int] = None              # default: H
    F: Optional[int] = None              # required: filters
    K: Optional[int] = None              # square kernel, or HH and WW
    HH: Optional[int] = None
    WW: Optional[int] = None
    stride: int = 1
    pad: Any = 0                         # an int or "same" (K // 2, odd kernels)
    count: int = 1                       # occurrences in the network


@dataclass
class SweepConfig:
    """A sweep: a ``layers`` list, or grid axes (each an int or a list) expanded as a product."""

    name: str = "sweep"
    batch: int = 1
    layers: Optional[List[LayerConfig]] = None
    N: Any = None
    C: Any = None
    H: Any = None
    W: Any = None
    F: Any = None
    K: Any = None
    stride: Any = None
    pad: Any = None


@dataclass
class ShardConfig:
    """This job's share of a sweep (see the README's "Running on a cluster")."""

    index: int = 0
    count: int = 1


@dataclass
class RunConfig:
    """Everything ``python run.py`` takes; ``key=value`` on the command line overrides any of it."""

    sweep: SweepConfig = field(default_factory=SweepConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    strategies: Optional[List[str]] = None   # names or variants (parallel[base=fft,n_jobs=2]); null: every strategy
    dtype: DType = DType.float32
    seed: int = 0                            # inputs are drawn per shape from it
    exact_inputs: bool = False               # small-integer inputs: every direct product exact in float32
    threads: List[int] = field(default_factory=lambda: [1])   # thread budget(s) every entrant gets
    passes: List[Pass] = field(default_factory=lambda: [Pass.forward, Pass.backward])
    baseline: Optional[str] = None           # speedups are relative to it; null: im2col when it runs
    allocator: Allocator = Allocator.default
    pin_cpus: bool = False                   # pin to max(threads) free cores (jobs sharing a machine)
    oracle_max_gflop: float = 0.5            # float64 reference work per shape before the batch is sliced
    figure_format: List[str] = field(default_factory=lambda: ["png"])   # png, pdf, svg
    resume: Optional[str] = None             # results/<run>: finish that run, same folder, same config
    resume_force: bool = False               # resume although the code or the packages changed
    stability: bool = False                  # run the sweep twice and report how far the rankings agree
    results_dir: str = "results"


def to_plain(config: RunConfig) -> dict:
    """The config as JSON-ready values (enums as their names), for config.json."""
    return OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)


def from_plain(values: dict) -> RunConfig:
    """A :class:`RunConfig` from plain values (config.json, tests), checked against the schema."""
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), values))


def replace(config: RunConfig, **changes) -> RunConfig:
    return dataclasses.replace(config, **changes)
