"""Figures across a sweep: speedup heatmaps (one run, or run b over run a) and scaling curves.

Same contract and house rules as :mod:`harness.plots.cells` (pure functions of the tables,
fixed strategy colours, nothing silently missing).  Winners and ties come from
:func:`harness.summary.summarize` (its ``winner``/``tied`` columns); nothing here
re-decides them.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import NullLocator
from matplotlib.transforms import blended_transform_factory

from .style import (GROUP, NOT_MEASURED, NotApplicable, facets, finish, key_handle, new_figure, order, quartiles,
                          readable_log_ticks, series_handles, strategy_colour, strategy_marker, styled)

HATCHED = {"facecolor": "0.93", "edgecolor": "0.65", "hatch": "////", "linewidth": 0}
#: shape columns a scaling curve can run along, with their axis labels
AXES = {"N": "batch N", "C": "input channels C", "F": "filters F", "H": "input height H", "W": "input width W",
        "HH": "kernel height", "WW": "kernel width", "stride": "stride", "pad": "padding"}
#: columns that may vary along with an axis and still make one scaling curve
LINKED = {"H": {"W"}, "W": {"H"}, "HH": {"WW", "pad"}, "WW": {"HH", "pad"}}


def ratio_text(value: float) -> str:
    return f"{value:.3g}" if value >= 0.1 else f"{value:.2g}"


def heatmap_figure(cells: pd.DataFrame, *, colour_label: str) -> Figure:
    """Panels (threads x pass) of shapes x strategies, coloured by log ratio and annotated.

    ``cells``: one row per (shape, strategy, pass, threads) with ``value`` (a ratio,
    NaN when there is none), ``text`` (the annotation) and ``blank`` (what a hatched
    cell without value says).
    """
    passes, threads = facets(cells)
    shapes, strategies = order(cells, "shape"), order(cells, "strategy")
    finite = np.log10(cells["value"][cells["value"] > 0])
    reach = max(float(finite.abs().max()) if len(finite) else 0.0, np.log10(2))
    norm = TwoSlopeNorm(vcenter=0, vmin=-reach, vmax=reach)
    width = max(6.5, len(passes) * (0.62 * len(strategies) + 0.4) + 2.2)
    fig = new_figure(width, len(threads) * (0.3 * len(shapes) + 1.0) + 1.4)
    axes = fig.subplots(len(threads), len(passes), sharey=True, squeeze=False)
    for r, t in enumerate(threads):
        for c, p in enumerate(passes):
            ax = axes[r][c]
            panel = cells[(cells["pass"] == p) & (cells["threads"] == t)].set_index(["shape", "strategy"])
            grid = np.full((len(shapes), len(strategies)), np.nan)
            for (i, shape), (j, s) in itertools.product(enumerate(shapes), enumerate(strategies)):
                if (shape, s) not in panel.index:  # neither run has this cell (compare mode): say so
                    ax.text(j, i, "-", ha="center", va="center", fontsize=7, color="0.6")
                    continue
                cell = panel.loc[(shape, s)]
                if cell["value"] > 0:
                    grid[i, j] = np.log10(cell["value"])
                    dark = abs(norm(grid[i, j]) - 0.5) > 0.32
                    ax.text(j, i, cell["text"], ha="center", va="center", fontsize=7,
                            color="white" if dark else "black", fontweight="bold" if "*" in cell["text"] else None)
                else:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, **HATCHED))
                    ax.text(j, i, cell["blank"] or "not run", ha="center", va="center", fontsize=6, color="0.25")
            image = ax.imshow(grid, cmap="RdBu", norm=norm, aspect="auto")
            ax.grid(False)
            ax.set_xticks(range(len(strategies)), [s.replace("[", "\n[", 1) for s in strategies], rotation=30,
                          ha="right", rotation_mode="anchor")
            for label, s in zip(ax.get_xticklabels(), strategies):
                label.set_color(strategy_colour(s))
            ax.set_yticks(range(len(shapes)), shapes)
            ax.set_title(p + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
    bar = fig.colorbar(image, ax=axes, shrink=0.8, aspect=30)
    steps = (1,) if reach > 1.5 else (1, 3) if reach > 0.7 else (1, 1.5, 2, 3, 5)
    ticks = [m * 10.0 ** k for k in range(-6, 7) for m in steps]
    ticks = [v for v in ticks if abs(np.log10(v)) <= reach + 1e-9]
    bar.set_ticks(np.log10(ticks), labels=[f"{v:g}" for v in ticks])
    bar.set_label(colour_label)
    return fig


@styled
def speedup_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Baseline median / cell median for every (shape, strategy), one panel per pass."""
    baseline = config.get("baseline")
    if baseline is None or baseline not in set(summary["strategy"]):
        raise NotApplicable(f"no speedup figure: the baseline ({baseline}) is not in this run" if baseline else
                            "no speedup figure: this run has no baseline (baseline=null, and im2col did not run)")
    marks = np.where(summary["winner"], "*", np.where(summary["tied"], "=", "")) + \
        np.where(summary["noisy"].astype(bool), "~", "")
    ok = summary["speedup"].notna()
    blank = np.where(summary["status"] != "ok", summary["status"].map(NOT_MEASURED), "no baseline")
    cells = summary[["shape", "strategy", "pass", "threads"]].assign(
        value=summary["speedup"],
        text=[ratio_text(v) + m if k else "" for v, m, k in zip(summary["speedup"], marks, ok)],
        blank=blank)
    fig = heatmap_figure(cells, colour_label=f"speedup over {baseline} (x, log colour scale)")
    handles = [key_handle("* fastest (bold), = tied with it within noise, ~ noisy"),
               Patch(label="hatched: no speedup (status given, or the baseline was not measured)", **HATCHED)]
    return finish(fig, f"Speedup over {baseline} (> 1: faster than {baseline})", config, env, handles)


@styled
def compare_figure(cells: pd.DataFrame, subtitle: str, note: str = "") -> Figure:
    """Run b's speedup over run a per cell (``value`` = a's median / b's), hatched where either lacks a time."""
    fig = heatmap_figure(cells, colour_label="speedup of b over a (x, log colour scale)")
    handles = [key_handle("~ noisy in a or b"),
               Patch(label="hatched: only one run has the cell, or it has no time there", **HATCHED)]
    return finish(fig, "Speedup of run b over run a (> 1: b faster)", {}, {}, handles, note, subtitle=subtitle)


def scaling_axis(summary: pd.DataFrame) -> str:
    """The one shape column the sweep varies; W may vary with H, and WW and pad with the kernel ("same")."""
    shapes = summary.drop_duplicates("shape")
    varying = [a for a in AXES if shapes[a].nunique() > 1]
    for axis in varying:
        if set(varying) - {axis} <= LINKED.get(axis, set()) and \
                (shapes.groupby(axis)[varying].nunique() <= 1).all().all():
            return axis
    raise NotApplicable("no scaling figure: the sweep does not vary exactly one axis "
                        f"(varies {', '.join(varying) or 'none'}); "
                        "e.g. python run.py sweep=grid 'sweep.C=[16,32,64]'")


def _scaling_series(ax, edge, cells: pd.DataFrame, axis: str, strategy: str, j: int) -> float | None:
    """One strategy's cells along the axis in one panel: medians with IQR whiskers (hollow where noisy), an x at
    the bottom for each cell without a time (its status said once); returns the fitted log-log slope."""
    ok = cells[(cells["status"] == "ok") & (cells["median_s"] > 0)]
    colour, marker = strategy_colour(strategy), strategy_marker(strategy)
    whiskers = np.clip([ok["median_s"] - ok["q25"], ok["q75"] - ok["median_s"]], 0, None) * 1e3
    ax.errorbar(ok[axis], ok["median_s"] * 1e3, yerr=whiskers, color=colour, capsize=2, linewidth=1.2)
    for _, point in ok.iterrows():  # markers one by one: hollow where noisy, as in every figure
        ax.plot([point[axis]], [point["median_s"] * 1e3], marker=marker, markersize=5, color=colour,
                markerfacecolor="white" if point["noisy"] else colour, linestyle="")
    labelled = set()
    for _, cell in cells[~cells.index.isin(ok.index)].iterrows():
        ax.plot([cell[axis]], [0.04 + 0.06 * j], marker="x", color=colour, transform=edge, markersize=6)
        if cell["status"] not in labelled:  # each status once per strategy: the x marks say where
            labelled.add(cell["status"])
            ax.annotate(NOT_MEASURED.get(cell["status"], cell["status"]), (cell[axis], 0.04 + 0.06 * j),
                        xycoords=edge, xytext=(4, 0), textcoords="offset points", fontsize=6.5,
                        color=colour, va="center")
    if ok[axis].nunique() < 2:
        return None
    return float(np.polyfit(np.log(ok[axis].astype(float)), np.log(ok["median_s"]), 1)[0])


def _crossover_lines(ax, edge, crossovers: pd.DataFrame) -> None:
    """A dotted vertical per crossover, where ``faster_above`` starts to beat ``faster_below`` (faint: within noise
    at one end)."""
    for _, x in crossovers.iterrows():
        ax.axvline(x["crossover"], color="0.25" if x["beyond_noise"] else "0.7", linestyle=":", linewidth=1)
        ax.annotate(f"{x['faster_above']} < {x['faster_below']}", (x["crossover"], 0.98), xycoords=edge,
                    rotation=90, ha="right", va="top", fontsize=6, color=strategy_colour(x["faster_above"]))


@styled
def scaling_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict,
                   crossovers: pd.DataFrame | None = None) -> Figure:
    """Median time against the swept axis, log-log, a fitted power law per strategy; ``crossovers``
    (:func:`harness.crossovers.crossovers`) drawn as vertical lines, faint where within noise at one end.
    The crossovers drawn are kept as ``fig.crossovers``."""
    axis = scaling_axis(summary)
    crossovers = crossovers if crossovers is not None else pd.DataFrame(
        columns=["pass", "threads", "faster_below", "faster_above", "crossover", "beyond_noise"])
    ours = set(summary.loc[summary["role"] == "strategy", "strategy"])   # the peer's crossovers stay in the table
    crossovers = crossovers[crossovers["faster_below"].isin(ours) & crossovers["faster_above"].isin(ours)]
    passes, threads = facets(summary)
    series = order(summary, "strategy")
    q = quartiles(results).reindex(pd.MultiIndex.from_frame(summary[GROUP]))
    summary = summary.assign(q25=q["q25"].to_numpy(), q75=q["q75"].to_numpy())
    fig = new_figure(max(6.5, 3.3 * len(passes) + 0.6), 3.0 * len(threads) + 1.6)
    axes = fig.subplots(len(threads), len(passes), squeeze=False)
    slopes: dict[str, list[str]] = {s: [] for s in series}
    drawn = [crossovers.iloc[:0]]
    for r, t in enumerate(threads):
        for c, p in enumerate(passes):
            ax = axes[r][c]
            edge = blended_transform_factory(ax.transData, ax.transAxes)
            for j, s in enumerate(series):
                cells = summary[(summary["strategy"] == s) & (summary["pass"] == p) & (summary["threads"] == t)]
                slope = _scaling_series(ax, edge, cells.sort_values(axis), axis, s, j)
                if slope is not None:
                    slopes[s].append(p + (f" @{t}t" if len(threads) > 1 else "") + f" {slope:.2f}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            values = sorted(summary[axis].unique())
            ax.set_xticks(values, [str(v) for v in values])
            ax.xaxis.set_minor_locator(NullLocator())
            span = max(values[-1] / values[0], 2.0)  # margins: 5% left, 18% right for a status label
            ax.set_xlim(values[0] / span ** 0.05, values[-1] * span ** 0.18)
            lo, hi = ax.get_ylim()
            if (summary["status"] != "ok").any():  # room for the x marks below the data
                ax.set_ylim(lo / (hi / lo) ** (0.08 * len(series) + 0.05), hi)
            readable_log_ticks(ax.yaxis)
            here = crossovers[(crossovers["pass"] == p) & (crossovers["threads"] == t)]
            _crossover_lines(ax, edge, here)
            drawn.append(here)
            ax.set_title(p + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
            ax.set_xlabel(f"{AXES[axis]} (log scale)")
            ax.set_ylabel("median time per call (ms, log)")
    handles = series_handles(series, line=True)
    for h in handles:
        fitted = slopes[h.get_label()]
        h.set_label(f"{h.get_label()}: slope " + (", ".join(fitted) if fitted else "n/a (fewer than 2 points)"))
    missing = [key_handle("x at the bottom: not measured (status given)", marker="x")] \
        if (summary["status"] != "ok").any() else []
    if len(crossovers):
        missing.append(key_handle("dotted: crossover of two of ours, 'a < b' = a faster beyond it (faint: within "
                                  "noise at one end); crossovers.csv has the peer's too", linestyle=":"))
    note = ("Slope = exponent b of a least-squares fit time ~ a * x^b on the ok cells (1: linear in the axis). "
            "Bars: interquartile range; hollow: noisy.")
    # with their slopes the labels are too long to sit beside the panels: all in the legend below
    fig.crossovers = pd.concat(drawn, ignore_index=True)
    return finish(fig, f"Scaling with {AXES[axis]}", config, env, handles + missing, note)
