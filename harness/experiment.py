"""A run: plain settings from the config, the sweep loop, resume, and the files it leaves.

``run.py`` (the only Hydra code) turns the composed config into a plain dict and
calls :func:`main`.  Everything a run writes lives in its folder::

    config.json    the plain config (what resume reuses)
    env.json       machine, versions, BLAS, the measured GEMM rate
    results.csv    one row per (cell, repeat), appended cell by cell
    summary.csv    one row per cell, with winners, ties and speedups
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .cell import CellSettings, ShapeData, run_cell
from .environment import describe_environment
from .records import CELL_KEY, RESULTS_FILE, SCHEMA_VERSION, append_cell, finished_cells, load_results
from .summary import console_table, summarize
from .sweeps import Shape, expand_sweep
from .timing import TimingSettings
from .variants import Variant, resolve_variants

log = logging.getLogger(__name__)
PASSES = ("forward", "backward")
DTYPES = ("float32", "float64")
ALLOCATORS = ("default", "pinned")


@dataclass(frozen=True)
class RunSettings:
    """Everything a run measures, as plain values, validated."""

    sweep_name: str
    shapes: list[Shape]
    variants: list[Variant]
    threads: list[int]
    passes: list[str]
    baseline: str | None
    cell: CellSettings


def settings_from_config(config: Mapping[str, Any]) -> RunSettings:
    """Validate a plain config dict (Hydra's, resolved) into :class:`RunSettings`.

    Fails before any work: bad sweep entries, unknown strategies or options, bad
    dtype, threads, passes or timing values all raise ``ValueError`` naming them.
    """
    dtype = config.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}")
    threads = config.get("threads", [1])
    threads = [threads] if isinstance(threads, int) else list(threads)
    if not threads or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in threads):
        raise ValueError(f"threads must be a list of ints >= 1; got {threads!r}")
    passes = list(config.get("passes", PASSES))
    if not passes or any(p not in PASSES for p in passes):
        raise ValueError(f"passes must be a non-empty list from {PASSES}; got {passes!r}")
    allocator = config.get("allocator", "default")
    if allocator not in ALLOCATORS:
        raise ValueError(f"allocator must be one of {ALLOCATORS}; got {allocator!r}")
    timing = config.get("timing") or {}
    known = set(TimingSettings.__dataclass_fields__)
    unknown = sorted(set(timing) - known - {"name"})
    if unknown:
        raise ValueError(f"unknown timing settings {unknown}; known: {sorted(known)}")
    timing = TimingSettings(**{k: v for k, v in timing.items() if k in known})
    sweep = config.get("sweep") or {}
    return RunSettings(
        sweep_name=sweep.get("name", "sweep"), shapes=expand_sweep(sweep),
        variants=resolve_variants(config.get("strategies")), threads=threads, passes=passes,
        baseline=config.get("baseline"),
        cell=CellSettings(dtype=dtype, seed=int(config.get("seed", 0)), timing=timing,
                          oracle_max_gflop=float(config.get("oracle_max_gflop", 0.5)), allocator=allocator))


def main(config: Mapping[str, Any], run_dir, overrides: list[str] = ()) -> Path:
    """Start a run in ``run_dir``, or finish the one named by ``config['resume']``."""
    config = dict(config)
    if config.get("resume"):
        run_dir = Path(config["resume"])
        others = [o for o in overrides if not o.split("=", 1)[0].lstrip("+~") == "resume"]
        if others:
            raise ValueError(f"resume={run_dir} continues that run with its saved config; other "
                             f"overrides would change what it measures: {others}")
        saved = run_dir / "config.json"
        if not saved.exists():
            raise ValueError(f"resume={run_dir}: no config.json there; is it a convbench run folder?")
        config = json.loads(saved.read_text())
        settings = settings_from_config(config)
        log.info("resuming %s", run_dir)
    else:
        run_dir = Path(run_dir)
        if (run_dir / RESULTS_FILE).exists():
            raise ValueError(f"{run_dir} already holds results; refusing to overwrite them "
                             f"(use resume={run_dir} to finish that run)")
        settings = settings_from_config(config)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps({**config, "resume": None}, indent=2))
    run_sweep(settings, run_dir)
    return run_dir


def run_sweep(settings: RunSettings, run_dir: Path) -> None:
    """Measure every cell not yet on disk, appending each before the next starts; then summarise."""
    started = time.perf_counter()
    env_file = run_dir / "env.json"
    if not env_file.exists():
        env = describe_environment(settings.cell.dtype, settings.threads)
        env_file.write_text(json.dumps(env, indent=2, default=str))
    done = finished_cells(load_results(run_dir))
    process = 0
    plan = [(shape, variant, threads, pass_)
            for shape in settings.shapes for threads in settings.threads
            for variant in settings.variants for pass_ in settings.passes]
    todo = [c for c in plan if (c[0].name, c[1].spec, c[3], c[2], process) not in done]
    log.info("%s: %d cells, %d already done", settings.sweep_name, len(plan), len(plan) - len(todo))
    data: ShapeData | None = None
    with logging_redirect_tqdm(), tqdm(total=len(plan), initial=len(plan) - len(todo), unit="cell",
                                       dynamic_ncols=True) as bar:
        for shape, variant, threads, pass_ in todo:
            if data is None or data.shape != shape:
                data = ShapeData(shape, settings.cell)  # inputs made once per shape
            bar.set_description(f"{shape.name} | {variant.spec} | {pass_} | {threads}t")
            rows = run_cell(data, variant, threads, pass_)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            for row in rows:
                row.update(schema_version=SCHEMA_VERSION, run_id=run_dir.name, process=process, timestamp=stamp)
            append_cell(run_dir / RESULTS_FILE, rows)
            bar.update()
    finish(run_dir, settings, time.perf_counter() - started)


def finish(run_dir: Path, settings: RunSettings, wall_seconds: float) -> None:
    """Write summary.csv, print the console table and where everything is."""
    results = load_results(run_dir)
    summary = summarize(results, settings.baseline)
    summary.to_csv(run_dir / "summary.csv", index=False)
    timed = results["seconds"].sum() + results["cold_seconds"].groupby(
        [results[k] for k in CELL_KEY]).first().sum()
    print(f"\n{settings.sweep_name}, {settings.cell.dtype}, threads {settings.threads}:")
    print(console_table(summary))
    problems = summary[summary["status"].isin(["mismatch", "error"])]
    for _, r in problems.iterrows():
        print(f"  {r['status'].upper()}: {r['shape']} {r['strategy']} {r['pass']}: {r['reason']}")
    print(f"\nwall {wall_seconds:.1f} s (timed calls {timed:.1f} s); results in {run_dir}")
