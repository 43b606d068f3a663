"""report.md and the figures of one run, from its loaded tables (see :class:`Run`).

Figures are pure functions of a run folder's data (``results.csv``, ``phases.csv``,
``summary.csv``, ``config.json``, ``env.json``): re-drawing needs no re-run and gives the
same files.  Loading a folder is :mod:`harness.report`'s job (``python -m harness.report RUN``);
this module only draws and writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import schema
from . import cells, front, network, predictor, profile, roofline, sweep
from .style import NotApplicable, facets, run_title
from .text import conditions, console_table, markdown_table

#: (file stem, figure function, caption) in report order
FIGURES = [
    ("time", lambda run: cells.time_figure(run.summary, run.results, run.config, run.env),
     "Median time per call of each strategy on each layer, whiskers from the 25th to the 75th percentile "
     "of the repeats; hollow markers are noisy cells. Cells without a time say why at the left edge."),
    ("speedup", lambda run: sweep.speedup_figure(run.summary, run.results, run.config, run.env),
     "Speedup over the baseline (its median over the cell's median; > 1 is faster). * marks the fastest "
     "strategy of the layer and pass, = a strategy tied with it within noise (the harness's one rule), "
     "~ a noisy cell. Hatched cells have no speedup, and say why."),
    ("efficiency", lambda run: cells.efficiency_figure(run.summary, run.results, run.config, run.env),
     "Effective GFLOP/s: the direct algorithm's FLOP count over the median time. The dashed line is this "
     "machine's GEMM rate measured in the same run, the roofline for GEMM-based methods (im2col). FFT and "
     "Winograd do fewer operations than they are credited with, so they can exceed it in effective terms: "
     "that is the point of them."),
    ("accuracy", lambda run: cells.accuracy_figure(run.summary, run.results, run.config, run.env),
     "Max relative error (max|a - ref| / max|ref|) against the float64 oracle: for each cell the quantity of its "
     "pass closest to its tolerance, and that quantity's own tolerance as the tick; a red ring is a mismatch."),
    ("front", lambda run: front.front_figure(run.summary, run.results, run.config, run.env),
     "Per layer, each strategy's forward time against its float32 error (out vs the oracle): the joined markers are "
     "the front, where nothing else is both faster and more accurate; hollow ones are dominated."),
    ("profile", lambda run: profile.profile_figure(run.summary, run.results, run.config, run.env),
     "Performance profiles (Dolan & More): for each strategy, the share of the pass's contests in which its median "
     "is within a factor tau of the fastest entrant's; a declined or failed cell is never within. The higher "
     "curve wins over the whole suite; its height at tau = 1 is how often it is the fastest."),
    ("scaling", lambda run: sweep.scaling_figure(run.summary, run.results, run.config, run.env,
                                                 crossovers=run.crossovers),
     "Median time against the one axis the sweep varies, log-log; the legend gives each strategy's fitted "
     "slope (the exponent b of time ~ x^b). Dotted verticals are crossovers (crossovers.csv): where two of our "
     "strategies change order, interpolated log-linearly; faint where the flip is within noise at one end."),
    ("memory", lambda run: cells.memory_figure(run.summary, run.results, run.config, run.env),
     "Peak extra memory of one call: tracemalloc (dot) and the RSS high-water mark (tick). Each sees "
     "things the other misses (see harness/measure/memory.py); a dagger marks a strategy with a known blind spot."),
    ("roofline", lambda run: roofline.roofline_figure(run.summary, run.phases, run.config, run.env),
     "Each cell's executed GFLOP/s (its own flops, strategies.costs, over its median) against its arithmetic "
     "intensity, under this run's measured ceilings: memory bandwidth (slope), GEMM and FFT rates (flat). Small dots "
     "are its phases. A cell far below the roof spends its time on work the model does not count."),
    ("phases", lambda run: roofline.phases_figure(run.summary, run.phases, run.config, run.env),
     "Each call split into the named steps of its code, timed one by one after the contest: which step dominates."),
    ("predictor", lambda run: predictor.predictor_figure(run.summary, run.results, run.config, run.env),
     "Each measured cell's predicted call time (the probe harness/predict.py ran before deciding whether and how to "
     "measure it) against its measured median: the predictor's error, on the cells where it can be judged."),
    ("network", lambda run: network.network_figure(run.summary, run.results, run.config, run.env),
     "The whole network's time in the passes the run measured: each layer's median times its count. A layer a "
     "strategy did not run counts at the baseline's time (dotted) and the number is given. Best per layer "
     "runs each layer and pass with its winner among the strategies measured there; a winner tied with others "
     "is drawn striped, as a tie."),
]
DPI = 150


@dataclass
class Run:
    """Everything a run folder holds that the report and figures need (loaded by :mod:`harness.report`)."""

    path: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    config: dict
    env: dict
    phases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=schema.names(schema.PHASES)))
    #: report sections the core computed (lists of markdown lines): at the top, after the conditions
    #: (the plan), and after the summary table (why each strategy takes its time)
    sections: list = field(default_factory=list)
    details: list = field(default_factory=list)
    #: harness.crossovers' table when the sweep varies one axis, else None
    crossovers: pd.DataFrame | None = None


def describe(run: Run) -> str:
    """One paragraph: what was measured, on what, with which software."""
    env, config = run.env, run.config
    gemm = ", ".join(f"{float(v):.3g} GFLOP/s at {k} thread{'s' if int(k) > 1 else ''}"
                     for k, v in (env.get("gemm_gflops") or {}).items())
    blas = sorted({f"{b.get('internal_api')} {b.get('version')}" for b in env.get("blas") or []})
    versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v)
    timing = (config.get("timing") or {}).get("name", "")
    return (f"{run_title(config, env)}; baseline {config.get('baseline')}; timing {timing or 'n/a'}; "
            f"commit {env.get('git_commit') or 'unknown'}.  \nGEMM rate ({env.get('gemm_size', 1024)}³ matmul, "
            f"measured in this run): {gemm or 'not recorded'}.  \n{env.get('cpus_available', '?')} CPUs "
            f"available; BLAS: {', '.join(blas) or 'unknown'}; {versions or 'versions not recorded'}.")


def _not_run(summary: pd.DataFrame) -> list[str]:
    """Why cells have no time: one line per strategy, status and kind of reason (numbers aside)."""
    lines = []
    missing = summary[summary["status"] != "ok"]
    kind = missing["reason"].str.replace(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", regex=True)
    for (s, status, _), g in missing.groupby(["strategy", "status", kind], sort=False):
        shapes = ", ".join(dict.fromkeys(g["shape"]))
        reasons = list(dict.fromkeys(g["reason"]))
        why = (reasons[0] or "no reason recorded") + (f" (and {len(reasons) - 1} more like it)" if len(reasons) > 1
                                                       else "")
        lines.append(f"- **{s}** {status}, {len(g)} cell{'s' if len(g) > 1 else ''} ({shapes}): {why}")
    return lines


def _network_table(run: Run) -> str:
    segments = network.network_segments(run.summary, run.config.get("baseline"))
    totals = network.network_totals(segments)
    table = pd.DataFrame({"strategy": totals["strategy"], "threads": totals["threads"]})
    for p in facets(run.summary)[0]:
        table[f"{p} (ms)"] = (totals[f"{p}_s"] * 1e3).map("{:.3g}".format)
        table[f"{p}: at baseline / no time"] = totals[f"{p}_substituted"].astype(str) + " / " + \
            totals[f"{p}_missing"].astype(str)
    table["total (ms)"] = (totals["total_s"] * 1e3).map("{:.3g}".format)
    return markdown_table(table)


def write_report(run: Run, out=None, formats=("png",)) -> Path:
    """Draw every figure that applies into ``out`` (default: the run folder) and write report.md there."""
    out = Path(out) if out is not None else run.path
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# convbench run `{run.path.name}`", "", f"**Conditions: {conditions(run.summary)}**", "",
             describe(run), ""]
    for section in run.sections:
        lines += section
    lines += ["## Summary", "", "```text", console_table(run.summary), "```", ""]
    for section in run.details:
        lines += section
    not_run = _not_run(run.summary)
    if not_run:
        lines += ["Cells without a time:", "", *not_run, ""]
    lines += ["## Figures", ""]
    for stem, figure_function, caption in FIGURES:
        try:
            fig = figure_function(run)
        except NotApplicable as why:
            for fmt in ("png", "pdf", "svg"):   # a stale figure from an earlier draw would contradict the report
                (out / f"{stem}.{fmt}").unlink(missing_ok=True)
            lines += [f"*{why}*", ""]
            continue
        for fmt in formats:
            fig.savefig(out / f"{stem}.{fmt}", dpi=DPI)
        title = fig.get_suptitle().splitlines()[0]
        shown = f"{stem}.png" if "png" in formats else f"{stem}.{formats[0]}"
        lines += [f"### {title}", "", f"![{title}]({shown})", "", caption, ""]
        if stem == "network":
            lines += [_network_table(run), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
