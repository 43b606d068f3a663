"""Figures of a run, one mark per cell: time, efficiency, accuracy, memory.

Every figure is a pure function ``(summary, results, config, env) -> Figure`` of a
run's tables (``summary`` from :func:`harness.summary.summarize`, ``results`` the raw
rows) and its ``config.json`` / ``env.json`` dicts; nothing here reads or writes
files.  The shared look (colours, titles, legends) is :mod:`harness.plots.style`;
sweep-level figures are :mod:`harness.plots.sweep` (speedup, scaling) and
:mod:`harness.plots.network`.  Each figure keeps the table it drew as ``fig.data``, so
tests read back what is on the page.

Here shapes run down the y axis in sweep order, so long layer names stay readable,
with one dot per strategy; a cell without a value is drawn as ``x <status>`` at the
panel's left edge, never left out; a noisy cell (IQR/median over the threshold) is
hollow; more than one thread budget adds a row of panels.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from .style import (GROUP, MISMATCH_COLOUR, NOT_MEASURED, facets, finish, key_handle, log_limits, new_figure, order,
                    quartiles, readable_log_ticks, series_handles, strategy_colour, strategy_marker, styled)


def dot_figure(cells: pd.DataFrame, summary: pd.DataFrame, *, xlabel: str, vlines: dict | None = None) -> Figure:
    """Panels (pass x threads) of shapes down the y axis, a dot per strategy and shape.

    ``cells`` has one row per summary cell (same index) with ``x`` (the value), optional
    ``lo``/``hi`` (whisker), ``hollow``, ``ref`` (a tick, e.g. a tolerance), ``ring`` (a red
    ring), ``tag`` (text after the dot) and ``missing`` (text drawn as ``x <missing>``
    at the left edge when the cell has no value).  ``vlines`` maps a thread budget to
    an x value drawn as a dashed line across its panels (the GEMM rate).
    """
    vlines = vlines or {}
    passes, threads = facets(summary)
    shapes, series = order(summary, "shape"), order(summary, "strategy")
    row = max(0.3, 0.12 * len(series))
    fig = new_figure(max(6.5, 3.2 * len(passes) + 1.4), len(threads) * (row * len(shapes) + 0.7) + 1.5)
    axes = fig.subplots(len(threads), len(passes), sharey=True, sharex="col", squeeze=False)
    step = min(0.8 / len(series), 0.35)
    offset = {s: (j - (len(series) - 1) / 2) * step for j, s in enumerate(series)}
    y_of = {s: i for i, s in enumerate(shapes)}
    slot = min(9.0, 0.9 * step * row * 72)  # points: a tick or ring never reaches the next strategy's row
    for r, t in enumerate(threads):
        for c, p in enumerate(passes):
            ax = axes[r][c]
            panel = cells[(summary["pass"] == p) & (summary["threads"] == t)]
            has_value = panel["x"].notna() & (panel["x"] > 0)
            column = cells[summary["pass"] == p]  # panels of one pass share their x range across threads
            log_limits(ax, [*column["x"], *column.get("lo", []), *column.get("hi", []), *column.get("ref", []),
                            *(vlines.values())],
                       left_room=0.27 if (column["x"].isna() | (column["x"] <= 0)).any() else 0.04)
            if t in vlines:
                ax.axvline(vlines[t], color="0.15", linestyle="--", linewidth=1)
            edge = blended_transform_factory(ax.transAxes, ax.transData)
            for idx, cell in panel.iterrows():
                s = summary.at[idx, "strategy"]
                y, colour = y_of[summary.at[idx, "shape"]] + offset[s], strategy_colour(s)
                if not has_value[idx]:
                    ax.text(0.01, y, "x " + str(cell.get("missing") or "no value"), transform=edge, color=colour,
                            fontsize=6.5, va="center", ha="left", fontweight="bold")
                    continue
                if "lo" in cell and np.isfinite(cell["lo"]):
                    ax.plot([cell["lo"], cell["hi"]], [y, y], color=colour, linewidth=1.2, solid_capstyle="butt")
                if "ref" in cell and np.isfinite(cell["ref"]) and cell["ref"] > 0:
                    ax.plot([cell["ref"]], [y], marker="|", markersize=slot, color=colour, markeredgewidth=1.4)
                hollow = bool(cell.get("hollow", False))
                ax.plot([cell["x"]], [y], marker=strategy_marker(s), markersize=5.5, color=colour,
                        markerfacecolor="white" if hollow else colour, markeredgewidth=1.2, linestyle="")
                if cell.get("ring", False):
                    ax.plot([cell["x"]], [y], marker="o", markersize=max(slot, 8), markerfacecolor="none",
                            markeredgecolor=MISMATCH_COLOUR, markeredgewidth=1.3)
                if cell.get("tag"):
                    ax.annotate(cell["tag"], (cell["x"], y), xytext=(5, 0), textcoords="offset points",
                                fontsize=7, va="center", color=colour)
            for i in range(len(shapes) - 1):
                ax.axhline(i + 0.5, color="0.85", linewidth=0.6)
            ax.grid(False, axis="y")
            ax.set_ylim(len(shapes) - 0.5, -0.5)
            ax.set_yticks(range(len(shapes)), shapes)
            readable_log_ticks(ax.xaxis)
            ax.set_title(p + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
            if r == len(threads) - 1:
                ax.set_xlabel(xlabel)
            else:
                ax.tick_params(labelbottom=True)  # each row keeps its tick labels: rows are read apart
    return fig


def _timed_cells(summary: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Per summary row: median and quartile seconds for ok cells, the prediction of hopeless ones, the status text
    of the rest, and the contest's flags as a tag."""
    q = quartiles(results).reindex(pd.MultiIndex.from_frame(summary[GROUP]))
    ok = (summary["status"] == "ok").to_numpy()
    hopeless = (summary["status"] == "hopeless").to_numpy()
    flags = np.where(summary["contended"].fillna(False).astype(bool), "! contended", "")
    flags = np.where(summary["uncontested"].fillna(False).astype(bool) & ok, "? uncontested", flags)
    return pd.DataFrame({"t": np.where(ok, summary["median_s"], np.where(hopeless, summary["predicted_s"], np.nan)),
                         "q25": np.where(ok, q["q25"], np.nan), "q75": np.where(ok, q["q75"], np.nan),
                         "hollow": summary["noisy"].astype(bool) | hopeless,
                         "tag": np.where(hopeless, "hopeless: predicted", flags),
                         "missing": summary["status"].map(NOT_MEASURED)}, index=summary.index)


def status_keys(summary: pd.DataFrame, missing: str = "x <status>: not measured, or failed the oracle check",
                noisy: bool = True) -> list:
    """Legend entries for the hollow and ``x`` marks, only when the figure has some."""
    keys = []
    if noisy and summary["noisy"].astype(bool).any():
        keys.append(key_handle("hollow: noisy (IQR/median over the noise threshold)", marker="o",
                               markerfacecolor="white"))
    if (summary["status"] != "ok").any():
        keys.append(key_handle(missing, marker="x"))
    return keys


@styled
def time_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Median time per strategy and shape, whiskers from the 25th to the 75th percentile."""
    t = _timed_cells(summary, results)
    cells = pd.DataFrame({"x": t["t"] * 1e3, "lo": t["q25"] * 1e3, "hi": t["q75"] * 1e3,
                          "hollow": t["hollow"], "tag": t["tag"], "missing": t["missing"]})
    fig = dot_figure(cells, summary, xlabel="median time per call (ms, log)")
    keys = [
        key_handle("whisker: interquartile range", marker="_", markersize=10),
        *status_keys(summary)]
    if (summary["status"] == "hopeless").any():
        keys.append(key_handle("hollow + 'hopeless: predicted': not run, drawn at its predicted time", marker="o",
                               markerfacecolor="white"))
    fig = finish(fig, "Time per layer", config, env, keys, series=series_handles(order(summary, "strategy")))
    fig.data = summary[GROUP].assign(ms=cells["x"], tag=cells["tag"])
    return fig


@styled
def efficiency_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Effective GFLOP/s (direct-algorithm FLOPs / median time) against the run's own GEMM rate."""
    t = _timed_cells(summary, results)
    gflop = summary["flops"].astype(float) / 1e9
    cells = pd.DataFrame({"x": gflop / t["t"], "lo": gflop / t["q75"], "hi": gflop / t["q25"],
                          "hollow": t["hollow"], "missing": t["missing"]})
    gemm = {int(k): float(v) for k, v in (env.get("gemm_gflops") or {}).items()}
    fig = dot_figure(cells, summary, xlabel="effective GFLOP/s (log scale)", vlines=gemm)
    keys = [
        key_handle(f"GEMM rate of this machine, measured in this run ({env.get('gemm_size', 1024)}³ matmul): "
                   + ", ".join(f"{v:.3g} GFLOP/s @ {k}t" for k, v in sorted(gemm.items())),
                   linestyle="--", color="0.15"),
        key_handle("whisker: interquartile range of the time", marker="_", markersize=10),
        *status_keys(summary)]
    note = ("Effective GFLOP/s = the direct algorithm's FLOPs / median time. Every strategy is credited with "
            "the direct algorithm's FLOPs, so FFT and Winograd, which do fewer operations, can beat the GEMM "
            "line in effective terms: that is their point. The line is the roofline for GEMM-based strategies "
            "(im2col).")
    return finish(fig, "Efficiency", config, env, keys, note,
                  series=series_handles(order(summary, "strategy")))


def pass_errors(results: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per summary row: the pass's quantity with the worst error/tolerance ratio, its error and its own tolerance."""
    rows = []
    for _, s in summary.iterrows():
        pairs = {q: (s.get(f"err_{q}"), s.get(f"tol_{q}")) for q in ("out", "dx", "dw", "db")}
        pairs = {q: (float(e), float(t)) for q, (e, t) in pairs.items() if pd.notna(e) and pd.notna(t) and t > 0}
        if not pairs:
            rows.append(("", np.nan, np.nan))
            continue
        worst = max(pairs, key=lambda q: pairs[q][0] / pairs[q][1])
        rows.append((worst, *pairs[worst]))
    return pd.DataFrame(rows, columns=["quantity", "error", "tolerance"], index=summary.index)


@styled
def accuracy_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Max relative error against the float64 oracle, with each cell's tolerance as a tick."""
    err = pass_errors(results, summary)
    exact = err["error"] == 0
    cells = pd.DataFrame({"x": err["error"].where(~exact), "ref": err["tolerance"],
                          "ring": summary["status"] == "mismatch",
                          "missing": np.where(exact, "0 (exact)", summary["status"].map(
                              {**NOT_MEASURED, "ok": "not checked"}))}, index=summary.index)
    fig = dot_figure(cells, summary, xlabel="max relative error (log)")
    keys = [key_handle("|: the cell's tolerance (harness.oracle.tolerance)", marker="|", markersize=9)]
    if cells["ring"].any():
        keys.append(key_handle("red ring: mismatch (error over tolerance)", marker="o", markerfacecolor="none",
                               markeredgecolor=MISMATCH_COLOUR, markersize=9))
    if cells["x"].isna().any():
        keys.append(key_handle("x <status>: not checked (unsupported, skipped or error)", marker="x"))
    note = ("Error = max|a - ref| / max|ref| per quantity; each cell shows the quantity of its pass closest to its "
            "tolerance (the worst error/tolerance ratio), with that quantity's own tolerance as the tick.")
    fig = finish(fig, "Accuracy", config, env, keys, note, series=series_handles(order(summary, "strategy")))
    fig.data = summary[GROUP].join(err)
    return fig


def _mib(value) -> float:
    return float(value) / 2 ** 20 if pd.notna(value) else math.nan


@styled
def memory_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Peak extra memory per call: tracemalloc as the dot, the RSS high-water mark as a tick."""
    measured = summary["mem_tracemalloc_bytes"].notna() | summary["mem_rss_bytes"].notna()
    notes = order(summary[summary["memory_note"].fillna("") != ""], "memory_note")
    daggers = {n: "†" * (i + 1) for i, n in enumerate(notes)}
    cells = pd.DataFrame({"x": summary["mem_tracemalloc_bytes"].map(_mib),
                          "ref": summary["mem_rss_bytes"].map(_mib),
                          "tag": summary["memory_note"].fillna("").map(lambda n: daggers.get(n, "")),
                          "missing": np.where(measured, "0 B", summary["status"].map(
                              {**NOT_MEASURED, "ok": "not measured"}))}, index=summary.index)
    fig = dot_figure(cells, summary, xlabel="peak extra memory (MiB, log)")
    keys = [
        key_handle("dot: tracemalloc (Python/numpy allocations)", marker="o"),
        key_handle("|: RSS high-water mark (not shown when 0)", marker="|", markersize=9),
        *status_keys(summary, missing="x <status>: not measured", noisy=False)]
    note = "Extra = peak during the call minus what the call returns (a forward cache counts as extra). " + \
        " ".join(f"{d} {n}." for n, d in daggers.items())
    return finish(fig, "Memory", config, env, keys, note,
                  series=series_handles(order(summary, "strategy")))
