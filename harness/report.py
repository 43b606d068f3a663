"""The command for run folders: re-draw one, compare two (merging many: ``python -m harness.merge``).

    python -m harness.report results/<run>                  # re-draw the figures and report.md
    python -m harness.report results/<a> results/<b>        # b's speedup over a, and whether the rankings agree

Re-drawing reads the folder only: summary.csv when it is as new as results.csv, else the
summary is computed from results.csv with :func:`harness.summary.summarize`, the one place
winners and ties are decided.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import explain, plan
from .crossovers import crossover_section, crossovers, write_crossovers
from .compare import compare_summaries, format_report
from .plots.compare import write_compare
from .plots.report import Run, write_report
from .plots.style import NotApplicable
from .tables import load_tables


def load_run(run_dir) -> Run:
    """A run folder's tables (:func:`harness.tables.load_tables`) and what the report says beyond them."""
    return with_answers(load_tables(run_dir))


def with_answers(run: Run) -> Run:
    """``run`` with what the report says beyond its tables: the plan (at the top), why each strategy takes its
    time, and the crossovers when the sweep varies one axis."""
    try:
        run.crossovers = crossovers(run.summary)
    except NotApplicable:
        run.crossovers = None
    run.sections = [plan.report_section(run)]
    run.details = [explain.section(run.summary, run.phases, run.env, run.config["baseline"]),
                   crossover_section(run.crossovers)]
    return run


def draw_run(run: Run, out=None, formats=("png",)) -> Path:
    """A loaded run's tables (recommendation.csv, crossovers.csv), figures and report.md into ``out``
    (default the run folder)."""
    out = Path(out) if out is not None else run.path
    out.mkdir(parents=True, exist_ok=True)
    plan.write_recommendation(run, out)
    write_crossovers(run.crossovers, out)
    return write_report(run, out, formats)


def draw(run_dir, out=None, formats=("png",)) -> Path:
    """Re-draw one run folder's tables, figures and report.md (into ``out``, default the folder)."""
    return draw_run(load_run(run_dir), out, formats)


def compare(run_a, run_b, out=None) -> Path:
    """b's speedup over a per cell and the agreement of their rankings, into ``out`` (default beside b)."""
    a, b = load_run(run_a), load_run(run_b)
    out = Path(out) if out is not None else b.path.parent / f"compare_{a.path.name}_vs_{b.path.name}"
    agreement = format_report(compare_summaries(a.summary, b.summary))
    print(agreement)
    return write_compare(a, b, out, agreement)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (results/<run>)")
    parser.add_argument("run_b", nargs="?", help="a second run folder: compare b over the first")
    parser.add_argument("--out", help="where to write (default: the run folder, or a compare_ folder beside b)")
    parser.add_argument("--format", action="append", choices=("png", "pdf", "svg"),
                        help="figure format (repeat for several; default png)")
    args = parser.parse_args(argv)
    try:
        path = compare(args.run, args.run_b, args.out) if args.run_b else \
            draw(args.run, args.out, args.format or ("png",))
    except ValueError as err:
        parser.exit(2, f"convbench: error: {err}\n")
    print(path)


if __name__ == "__main__":
    main()
