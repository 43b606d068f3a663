"""A run: plain settings from the config, the sweep loop, resume, and the files it leaves.

``run.py`` (the only Hydra code) turns the composed config into a plain dict and
calls :func:`main`.  Everything a run writes lives in its folder::

    config.json    the plain config (what resume reuses)
    env.json       machine, versions, BLAS, the measured GEMM rate
    results.csv    one row per (cell, repeat), appended cell by cell
    summary.csv    one row per cell, with winners, ties and speedups
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .allocator import ALLOCATORS, apply_allocator
from .cell import CellSettings
from .environment import describe_environment
from .stability import compare_summaries, format_report
from .records import CELL_KEY, RESULTS_FILE, SCHEMA_VERSION, append_cell, finished_cells, load_results
from .report import write_report
from .summary import console_table, summarize
from .isolation import MachineLoad, run_here, run_in_child
from .sweeps import Shape, expand_sweep
from .timing import TimingSettings
from .variants import Variant, resolve_variants

log = logging.getLogger(__name__)
PASSES = ("forward", "backward")
DTYPES = ("float32", "float64")


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
        if config.get("stability"):
            return run_stability(config, run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps({**config, "resume": None}, indent=2))
    run_sweep(settings, run_dir)
    return run_dir


def run_stability(config: Mapping[str, Any], run_dir: Path) -> Path:
    """Run the sweep twice (``first/``, ``second/``) and write how far the rankings agree."""
    summaries = [main({**config, "stability": False}, run_dir / part) for part in ("first", "second")]
    report = compare_summaries(*(pd.read_csv(path / "summary.csv") for path in summaries))
    (run_dir / "stability.json").write_text(json.dumps(report, indent=2))
    print(f"\nstability of {config.get('sweep', {}).get('name')} over two runs:\n{format_report(report)}")
    return run_dir


def run_sweep(settings: RunSettings, run_dir: Path) -> pd.DataFrame:
    """Measure every cell not yet on disk, appending each before the next starts; then summarise.

    With ``timing.processes = K > 1`` every cell is measured K times, once in each of
    K fresh child processes run one after another (see :mod:`harness.isolation`).
    """
    started = time.perf_counter()
    apply_allocator(settings.cell.allocator)
    env_file = run_dir / "env.json"
    if not env_file.exists():
        env = describe_environment(settings.cell.dtype, settings.threads)
        env_file.write_text(json.dumps({**env, "allocator": settings.cell.allocator}, indent=2, default=str))
    done = finished_cells(load_results(run_dir))
    processes = settings.cell.timing.processes
    cells = [(shape, variant, threads, pass_)
             for shape in settings.shapes for threads in settings.threads
             for variant in settings.variants for pass_ in settings.passes]
    todo = {p: [c for c in cells if (c[0].name, c[1].spec, c[3], c[2], p) not in done] for p in range(processes)}
    total, left = len(cells) * processes, sum(map(len, todo.values()))
    log.info("%s: %d cells x %d process(es), %d already done", settings.sweep_name, len(cells), processes, total - left)
    load = MachineLoad()
    with logging_redirect_tqdm(), tqdm(total=total, initial=total - left, unit="cell",
                                       dynamic_ncols=True) as bar, _resume_hint(run_dir):
        for process, pending in todo.items():
            execute = run_here if processes == 1 else run_in_child
            for i, (cell, rows) in enumerate(execute(pending, settings.cell)):
                conditions = load.since_last()
                for row in rows:
                    row.update(schema_version=SCHEMA_VERSION, run_id=run_dir.name, process=process, **conditions)
                append_cell(run_dir / RESULTS_FILE, rows)
                bar.update()
                if i + 1 < len(pending):
                    bar.set_description(_describe(pending[i + 1], process, processes))
    return finish(run_dir, settings, time.perf_counter() - started)


def _describe(cell, process: int, processes: int) -> str:
    shape, variant, threads, pass_ = cell
    where = f" | process {process + 1}/{processes}" if processes > 1 else ""
    return f"{shape.name} | {variant.spec} | {pass_} | {threads}t{where}"


@contextlib.contextmanager
def _resume_hint(run_dir: Path):
    try:
        yield
    except KeyboardInterrupt:
        log.warning("interrupted: every finished cell is in %s; finish the run with: "
                    "python run.py resume=%s", run_dir / RESULTS_FILE, run_dir)
        raise


def finish(run_dir: Path, settings: RunSettings, wall_seconds: float) -> pd.DataFrame:
    """Write summary.csv, print the console table and where everything is."""
    results = load_results(run_dir)
    summary = summarize(results, settings.baseline)
    summary.to_csv(run_dir / "summary.csv", index=False)
    timed = (results["seconds"] * results["block_calls"]).sum() + results["cold_seconds"].groupby(
        [results[k] for k in CELL_KEY]).first().sum()
    print(f"\n{settings.sweep_name}, {settings.cell.dtype}, threads {settings.threads}:")
    print(console_table(summary))
    problems = summary[summary["status"].isin(["mismatch", "error"])]
    for _, r in problems.iterrows():
        print(f"  {r['status'].upper()}: {r['shape']} {r['strategy']} {r['pass']}: {r['reason']}")
    print(f"\nwall {wall_seconds:.1f} s (timed calls {timed:.1f} s); results in {run_dir}")
    print(f"figures and report: {write_report(run_dir)}")
    return summary
