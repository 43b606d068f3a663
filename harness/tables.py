"""A run folder's tables loaded into a :class:`harness.plots.report.Run`: results, summary, config, env, phases.

Below everything that reads run folders (the report, the plan, merging): loading is one thing, done once here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import schema
from .config import DEFAULT_BASELINE
from .plots.report import Run
from .records import load_phases, load_results
from .roofline import with_roofline
from .runfolder import read_json
from .summary import summarize


def baseline_of(config: dict, results: pd.DataFrame) -> str | None:
    """The run's baseline: the config's, or im2col when it ran (the default rule of harness.settings)."""
    if config.get("baseline"):
        return config["baseline"]
    return DEFAULT_BASELINE if DEFAULT_BASELINE in set(results["strategy"]) else None


def load_tables(run_dir) -> Run:
    """A run folder's tables; a missing config.json or env.json is rebuilt from the table where it can be."""
    path = Path(run_dir)
    results = load_results(path)
    if results.empty:
        raise ValueError(f"{path} has no results.csv rows; is it a convbench run folder?")
    config = read_json(path / "config.json", "the run's config") if (path / "config.json").exists() else {
        "sweep": {"name": path.name}, "dtype": str(results["dtype"].iloc[0]),
        "threads": sorted(int(t) for t in results["threads"].unique())}
    config["baseline"] = baseline_of(config, results)
    env = read_json(path / "env.json", "the run's machine and software") if (path / "env.json").exists() else {}
    phases = with_roofline(load_phases(path, results), env)
    saved = path / "summary.csv"
    if saved.exists() and saved.stat().st_mtime >= (path / "results.csv").stat().st_mtime:
        summary = schema.coerce(pd.read_csv(saved, dtype=schema.pandas_dtypes(schema.SUMMARY)), schema.SUMMARY)
    else:
        summary = summarize(results, config["baseline"], phases)
    return Run(path, results, summary, config, env, phases)
