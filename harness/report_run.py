"""The end of a run: the summary computed once, written, printed, and the figures and report drawn."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from .crossovers import describe
from .plots.text import conditions, console_table
from .errors import command
from .records import load_phases, load_results
from .plan import headline
from .report import draw_run, load_run
from .roofline import with_roofline
from .runfolder import read_json
from .summary import summarize

log = logging.getLogger(__name__)
SUMMARY_FILE = "summary.csv"


def summarize_run(run_dir: Path, baseline) -> pd.DataFrame:
    """The run folder's summary (results, phases with their rooflines, the run's ceilings), written to summary.csv."""
    results = load_results(run_dir)
    env = read_json(run_dir / "env.json", "the machine and software of the run") if (run_dir / "env.json").exists() \
        else {}
    summary = summarize(results, baseline, with_roofline(load_phases(run_dir, results), env))
    temporary = run_dir / (SUMMARY_FILE + ".tmp")
    summary.to_csv(temporary, index=False)
    os.replace(temporary, run_dir / SUMMARY_FILE)
    return summary


def finish(run_dir: Path, settings, wall_seconds: float) -> pd.DataFrame:
    """Write summary.csv, print the console table, the verdict and where everything is; draw the report."""
    summary = summarize_run(run_dir, settings.baseline)
    results = load_results(run_dir)
    timed = (results["seconds"] * results["block_calls"]).sum()
    decided = results.groupby(["shape", "strategy", "pass", "threads", "process"])["decision_seconds"].first().sum()
    print(f"\n{settings.sweep_name}, {settings.cell.dtype}, threads {settings.threads}:")
    print(console_table(summary))
    for _, r in summary[summary["status"].isin(["mismatch", "error"])].iterrows():
        print(f"  {r['status'].upper()}: {r['shape']} {r['strategy']} {r['pass']}: {r['reason']}")
    print(f"\n{conditions(summary)}")
    print(f"wall {wall_seconds:.1f} s (timed samples {timed:.1f} s, decisions {decided:.1f} s); results in {run_dir}")
    try:
        run = load_run(run_dir)
        print(f"figures and report: {draw_run(run, formats=settings.figure_formats)}")
    except KeyboardInterrupt:
        log.warning("interrupted while drawing: every result is in %s; draw the figures with: %s", run_dir,
                    command("-m", "harness.report", str(run_dir)))
        raise
    for line in describe(run.crossovers) if run.crossovers is not None else []:
        print(line)
    print(headline(run))
    return summary
