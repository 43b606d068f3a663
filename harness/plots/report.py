"""A run folder's figures and ``report.md``, and the comparison of two runs.

    python -m harness.report results/<run>                  # re-draw one run's figures + report.md
    python -m harness.report results/<a> results/<b>        # speedup of b over a, per cell
    python -m harness.report results/<run> --out somewhere/ # write elsewhere

Figures are pure functions of the folder's data (``results.csv``, ``config.json``,
``env.json``; see :mod:`harness.plots`), so re-drawing needs no re-run and gives the
same files.  The summary is recomputed from ``results.csv`` with
:func:`harness.summary.summarize`, the one place winners and ties are decided.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots, plots_network, plots_style, plots_sweep
from .records import load_results
from .summary import console_table, summarize

#: (file stem, figure function, caption) in report order
FIGURES = [
    ("time", plots.time_figure,
     "Median time per call of each strategy on each layer, whiskers from the 25th to the 75th percentile "
     "of the repeats; hollow markers are noisy cells. Cells without a time say why at the left edge."),
    ("speedup", plots_sweep.speedup_figure,
     "Speedup over the baseline (its median over the cell's median; > 1 is faster). * marks the fastest "
     "strategy of the layer and pass, = a strategy tied with it within noise (the harness's one rule), "
     "~ a noisy cell. Hatched cells have no speedup, and say why."),
    ("efficiency", plots.efficiency_figure,
     "Effective GFLOP/s: the direct algorithm's FLOP count over the median time. The dashed line is this "
     "machine's GEMM rate measured in the same run, the roofline for GEMM-based methods (im2col). FFT and "
     "Winograd do fewer operations than they are credited with, so they can exceed it in effective terms: "
     "that is the point of them."),
    ("accuracy", plots.accuracy_figure,
     "Max relative error (max|a - ref| / max|ref|) against the float64 oracle; forward shows out, backward "
     "the worst of dx, dw and db. The tick is that quantity's tolerance; a red ring is a mismatch."),
    ("scaling", plots_sweep.scaling_figure,
     "Median time against the one axis the sweep varies, log-log; the legend gives each strategy's fitted "
     "slope (the exponent b of time ~ x^b)."),
    ("memory", plots.memory_figure,
     "Peak extra memory of one call: tracemalloc (dot) and the RSS high-water mark (tick). Each sees "
     "things the other misses (see harness/memory.py); a dagger marks a strategy with a known blind spot."),
    ("network", plots_network.network_figure,
     "The whole network's forward + backward time: each layer's median times its count. A layer a "
     "strategy did not run counts at the baseline's time (dotted) and the number is given. Best per layer "
     "runs each layer and pass with its winner; a winner tied with others is drawn striped, as a tie."),
]
DPI = 150


@dataclass
class Run:
    """Everything a run folder holds that the figures need."""

    path: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    config: dict
    env: dict


def load_run(run_dir) -> Run:
    """Read a run folder; a missing config.json or env.json is rebuilt from the table where it can be."""
    path = Path(run_dir)
    results = load_results(path)
    if results.empty:
        raise ValueError(f"{path} has no results.csv rows; is it a convbench run folder?")
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else {
        "sweep": {"name": path.name}, "dtype": str(results["dtype"].iloc[0]), "baseline": "im2col",
        "threads": sorted(int(t) for t in results["threads"].unique())}
    env = json.loads((path / "env.json").read_text()) if (path / "env.json").exists() else {}
    return Run(path, results, summarize(results, config.get("baseline")), config, env)


def markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.astype(object).where(frame.notna(), "").astype(str)
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in cells.to_numpy()]
    return "\n".join(lines)


def describe(run: Run) -> str:
    """One paragraph: what was measured, on what, with which software."""
    env, config = run.env, run.config
    gemm = ", ".join(f"{float(v):.3g} GFLOP/s at {k} thread{'s' if int(k) > 1 else ''}"
                     for k, v in (env.get("gemm_gflops") or {}).items())
    blas = sorted({f"{b.get('internal_api')} {b.get('version')}" for b in env.get("blas") or []})
    versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v)
    timing = (config.get("timing") or {}).get("name", "")
    return (f"{plots_style.run_title(config, env)}; baseline {config.get('baseline')}; timing {timing or 'n/a'}; "
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
    segments = plots_network.network_segments(run.summary, run.config.get("baseline"))
    totals = plots_network.network_totals(segments)
    table = pd.DataFrame({"strategy": totals["strategy"], "threads": totals["threads"]})
    for p in plots_style.facets(run.summary)[0]:
        table[f"{p} (ms)"] = (totals[f"{p}_s"] * 1e3).map("{:.3g}".format)
        table[f"{p}: at baseline / no time"] = totals[f"{p}_substituted"].astype(str) + " / " + \
            totals[f"{p}_missing"].astype(str)
    table["total (ms)"] = (totals["total_s"] * 1e3).map("{:.3g}".format)
    return markdown_table(table)


def write_report(run_dir, out=None) -> Path:
    """Draw every figure that applies into ``out`` (default: the run folder) and write report.md there."""
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.path
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# convbench run `{run.path.name}`", "", describe(run), "", "## Summary", "", "```text",
             console_table(run.summary), "```", ""]
    not_run = _not_run(run.summary)
    if not_run:
        lines += ["Cells without a time:", "", *not_run, ""]
    lines += ["## Figures", ""]
    for stem, figure_function, caption in FIGURES:
        target = out / f"{stem}.png"
        try:
            fig = figure_function(run.summary, run.results, run.config, run.env)
        except plots_style.NotApplicable as why:
            target.unlink(missing_ok=True)  # a stale figure from an earlier draw would contradict the report
            lines += [f"*{why}*", ""]
            continue
        fig.savefig(target, dpi=DPI)
        title = fig.get_suptitle().splitlines()[0]
        lines += [f"### {title}", "", f"![{title}]({stem}.png)", "", caption, ""]
        if stem == "network":
            lines += [_network_table(run), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def compare_cells(a: Run, b: Run) -> pd.DataFrame:
    """One row per cell of either run: both medians and statuses, and b's speedup over a."""
    key = ["shape", "N", "C", "H", "W", "F", "HH", "WW", "stride", "pad", "strategy", "pass", "threads"]
    keep = key + ["status", "median_s", "noisy"]
    sa, sb = a.summary[keep], b.summary[keep]
    note = ""
    if len(set(sa["threads"])) == len(set(sb["threads"])) == 1 and set(sa["threads"]) != set(sb["threads"]):
        note = f"a at {sa['threads'].iloc[0]} thread(s), b at {sb['threads'].iloc[0]}: cells matched across them"
        sa = sa.assign(threads=sb["threads"].iloc[0])
    cells = sa.merge(sb, on=key, how="outer", suffixes=("_a", "_b"), indicator="present")
    rank = {c: {v: i for i, v in enumerate(dict.fromkeys([*sa[c], *sb[c]]))} for c in ("shape", "strategy", "pass")}
    cells = cells.sort_values(["threads", "shape", "strategy", "pass"], key=lambda c: c.map(rank[c.name])
                              if c.name in rank else c, kind="stable").reset_index(drop=True)  # a's order, then b's
    clash = cells.duplicated(["shape", "strategy", "pass", "threads"], keep=False)
    cells.loc[clash, "shape"] += cells.loc[clash, "present"].map({"left_only": " (a)", "right_only": " (b)",
                                                                  "both": ""}).astype(str)
    both_ok = (cells["status_a"] == "ok") & (cells["status_b"] == "ok")
    cells["speedup_b_over_a"] = np.where(both_ok, cells["median_s_a"] / cells["median_s_b"], np.nan)
    noisy = cells["noisy_a"].fillna(False).astype(bool) | cells["noisy_b"].fillna(False).astype(bool)
    cells["text"] = [plots_sweep.ratio_text(v) + ("~" if n else "") if ok else ""
                     for v, n, ok in zip(cells["speedup_b_over_a"], noisy, both_ok)]
    cells["blank"] = [_compare_blank(r) for _, r in cells.iterrows()]
    cells.attrs["note"] = note
    return cells


def _compare_blank(r) -> str:
    if r["present"] != "both":
        return "only in " + ("a" if r["present"] == "left_only" else "b")
    bad = [f"{run}: {plots_style.NOT_MEASURED.get(r[f'status_{run}'], r[f'status_{run}'])}"
           for run in ("a", "b") if r[f"status_{run}"] != "ok"]
    return "\n".join(bad)


def compare(run_a, run_b, out=None) -> Path:
    """Speedup of run b over run a per common cell: compare.png, compare.csv and compare.md in ``out``."""
    a, b = load_run(run_a), load_run(run_b)
    out = Path(out) if out is not None else b.path.parent / f"compare_{a.path.name}_vs_{b.path.name}"
    out.mkdir(parents=True, exist_ok=True)
    cells = compare_cells(a, b)
    subtitle = f"a = {a.path.name}: {plots_style.run_title(a.config, a.env)}\nb = {b.path.name}: " \
               f"{plots_style.run_title(b.config, b.env)}"
    fig = plots_sweep.compare_figure(cells.rename(columns={"speedup_b_over_a": "value"}), subtitle,
                                     cells.attrs["note"])
    fig.savefig(out / "compare.png", dpi=DPI)
    columns = ["shape", "strategy", "pass", "threads", "status_a", "status_b", "median_s_a", "median_s_b",
               "speedup_b_over_a"]
    cells[columns].to_csv(out / "compare.csv", index=False)
    table = cells[columns[:4]].assign(**{
        "a (ms)": (cells["median_s_a"] * 1e3).map(lambda v: f"{v:.3g}" if pd.notna(v) else ""),
        "b (ms)": (cells["median_s_b"] * 1e3).map(lambda v: f"{v:.3g}" if pd.notna(v) else ""),
        "b over a": np.where(cells["text"] != "", cells["text"], cells["blank"].str.replace("\n", "; "))})
    ok = cells[cells["speedup_b_over_a"].notna()]
    means = ok.groupby(["strategy", "pass"], sort=False)["speedup_b_over_a"].apply(
        lambda v: float(np.exp(np.log(v).mean())))
    lines = ["# Speedup of b over a", "", f"- a: `{a.path}`: {describe(a)}", f"- b: `{b.path}`: {describe(b)}", "",
             *([f"Note: {cells.attrs['note']}.", ""] if cells.attrs["note"] else []),
             "Geometric mean of b's speedup over a on the cells both measured: " +
             ("; ".join(f"{s} {p} {v:.3g}" for (s, p), v in means.items()) or "no cell measured by both") + ".",
             "", "![speedup of b over a](compare.png)", "",
             "> 1: b is faster. ~: noisy in a or b. Hatched: a cell only one run has, or one that did not run.",
             "", markdown_table(table), ""]
    report = out / "compare.md"
    report.write_text("\n".join(lines))
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (results/<run>)")
    parser.add_argument("run_b", nargs="?", help="a second run folder: compare b over the first")
    parser.add_argument("--out", help="where to write (default: the run folder, or a compare_ folder beside b)")
    args = parser.parse_args(argv)
    try:
        path = compare(args.run, args.run_b, args.out) if args.run_b else write_report(args.run, args.out)
    except ValueError as err:
        parser.error(str(err))
    print(path)


if __name__ == "__main__":
    main()
