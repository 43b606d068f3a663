"""Why a cell takes its time: the roofline of every cell and its phases, and each call's phase shares.

``roofline.png``: x is arithmetic intensity (the flops a cell executes over the bytes it
must move, log), y the executed GFLOP/s it achieved (log); the slanted line is this run's
memory bandwidth, the flat ones its GEMM and FFT rates.  A cell on a line runs at that
ceiling; far below, something the model does not count (copies, overheads) takes its
time.  Phases are small markers joined to their cell.  ``phases.png``: each call split
into its named steps, as shares of the steps' total, with the call's median at the end.
Both keep their table as ``fig.data``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import (GROUP, NotApplicable, facets, finish, key_handle, new_figure, order, series_handles,
                    strategy_colour, strategy_marker, styled)

PHASE_FLOPS = ["product_flops", "gemm_transform_flops", "fft_flops", "transform_flops"]


def cell_points(summary: pd.DataFrame) -> pd.DataFrame:
    """Per measured cell with costs: arithmetic intensity and achieved GFLOP/s of the flops it executes."""
    ok = summary[(summary["status"] == "ok") & summary["median_s"].notna() & (summary["bytes_moved"] > 0)]
    executed = ok["multiplies"] + ok["transform_flops"]
    return ok[GROUP].assign(intensity=executed / ok["bytes_moved"], gflops=executed / ok["median_s"] / 1e9,
                            efficiency=ok["roofline_efficiency"])


def phase_points(phases: pd.DataFrame) -> pd.DataFrame:
    """Per timed phase with costs: its intensity and achieved GFLOP/s (first process)."""
    p = phases[(phases["process"] == 0) & phases["median_s"].notna() & (phases["median_s"] > 0)]
    flops = p[PHASE_FLOPS].sum(axis=1)
    p = p.assign(flops=flops)[(flops > 0) & (p["bytes"] > 0)]
    return p[GROUP + ["phase"]].assign(intensity=p["flops"] / p["bytes"], gflops=p["flops"] / p["median_s"] / 1e9)


@styled
def roofline_figure(summary: pd.DataFrame, phases: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Executed GFLOP/s against arithmetic intensity, per pass, with the run's measured ceilings."""
    cells, parts = cell_points(summary), phase_points(phases)
    if cells.empty:
        raise NotApplicable("no roofline figure: no measured cell describes its costs")
    passes, threads = facets(summary)
    fig = new_figure(max(6.5, 3.4 * len(passes) + 1.5), 3.3 * len(threads) + 1.6)
    axes = fig.subplots(len(threads), len(passes), squeeze=False, sharex=True, sharey=True)
    lo = min(cells["intensity"].min(), parts["intensity"].min() if len(parts) else np.inf) / 2
    hi = max(cells["intensity"].max(), parts["intensity"].max() if len(parts) else 0) * 2
    for r, t in enumerate(threads):
        gemm = float((env.get("gemm_gflops") or {}).get(str(t), np.nan))
        bandwidth = float((env.get("bandwidth_gb_per_s") or {}).get(str(t), np.nan))
        ffts = list(((env.get("fft_gflops") or {}).get(str(t)) or {}).values())
        for c, p in enumerate(passes):
            ax = axes[r][c]
            x = np.geomspace(lo, hi, 50)
            ax.plot(x, np.minimum(bandwidth * x, gemm), color="0.15", linewidth=1.2)
            if ffts:
                ax.axhline(max(ffts), color="0.45", linestyle=":", linewidth=1)
            here = cells[(cells["pass"] == p) & (cells["threads"] == t)]
            for _, cell in here.iterrows():
                colour, marker = strategy_colour(cell["strategy"]), strategy_marker(cell["strategy"])
                own = parts[(parts["shape"] == cell["shape"]) & (parts["strategy"] == cell["strategy"]) &
                            (parts["pass"] == p) & (parts["threads"] == t)]
                for _, phase in own.iterrows():
                    ax.plot([cell["intensity"], phase["intensity"]], [cell["gflops"], phase["gflops"]],
                            color=colour, linewidth=0.5, alpha=0.5)
                    ax.plot([phase["intensity"]], [phase["gflops"]], marker=".", markersize=3, color=colour)
                ax.plot([cell["intensity"]], [cell["gflops"]], marker=marker, markersize=5.5, color=colour,
                        linestyle="")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(p.replace("_", " ") + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
            ax.set_xlabel("arithmetic intensity (executed flops / byte, log)")
            ax.set_ylabel("executed GFLOP/s (log)")
    keys = [key_handle(f"ceilings measured in this run: bandwidth {bandwidth:.3g} GB/s (slope), GEMM {gemm:.3g} "
                       f"GFLOP/s (flat)", linestyle="-", color="0.15"),
            key_handle("FFT rate (best transform length measured)", linestyle=":", color="0.45"),
            key_handle("small dots: the cell's phases, joined to it", marker=".", markersize=5)]
    note = ("Executed flops are the strategy's own (strategies.costs), not the direct algorithm's: a fast algorithm "
            "sits where its real work puts it. Distance below the roofline is time the model does not explain.")
    fig = finish(fig, "Roofline", config, env, keys, note, series=series_handles(order(summary, "strategy")))
    fig.data = cells
    return fig


def phase_shares(phases: pd.DataFrame) -> pd.DataFrame:
    """Per cell and phase: its share of the call (phase median / sum of the cell's phase medians)."""
    p = phases[(phases["process"] == 0) & phases["median_s"].notna()]
    total = p.groupby(GROUP)["median_s"].transform("sum")
    return p[GROUP + ["phase", "order", "median_s", "call_median_s"]].assign(share=p["median_s"] / total)


@styled
def phases_figure(summary: pd.DataFrame, phases: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Stacked bars of each call's phase shares, per pass, the call's median time at the end."""
    shares = phase_shares(phases)
    measured = summary[(summary["status"] == "ok") & summary["median_s"].notna()].set_index(GROUP)["median_s"]
    shares = shares[shares.set_index(GROUP).index.isin(measured.index)]
    if shares.empty or shares.groupby(GROUP).size().max() < 2:
        raise NotApplicable("no phases figure: no measured call has more than one timed step (a single step, or "
                            "timing.phase_repeats=0)")
    passes, threads = facets(summary)
    rows = shares.drop_duplicates(["shape", "strategy"])[["shape", "strategy"]]
    fig = new_figure(max(6.5, 3.4 * len(passes) + 1.0), 0.22 * len(rows) * len(threads) + 1.8)
    axes = fig.subplots(len(threads), len(passes), squeeze=False, sharey=True)
    labels = [f"{s} | {g}" for s, g in zip(rows["shape"], rows["strategy"])]
    for r, t in enumerate(threads):
        for c, p in enumerate(passes):
            ax = axes[r][c]
            for y, (shape, strategy) in enumerate(zip(rows["shape"], rows["strategy"])):
                cell = shares[(shares["shape"] == shape) & (shares["strategy"] == strategy) & (shares["pass"] == p) &
                              (shares["threads"] == t)].sort_values("order")
                left = 0.0
                for i, (_, phase) in enumerate(cell.iterrows()):
                    ax.barh(y, phase["share"], left=left, height=0.7, color=strategy_colour(strategy),
                            alpha=0.35 + 0.65 * (i % 2), edgecolor="white", linewidth=0.6)
                    if phase["share"] * 70 > len(phase["phase"]) + 1:   # the name fits the segment
                        ax.text(left + phase["share"] / 2, y, phase["phase"], ha="center", va="center", fontsize=5.5)
                    left += phase["share"]
                key = (shape, strategy, p, t)
                if len(cell) and key in measured.index:
                    ax.text(1.01, y, f"{measured[key] * 1e3:.3g} ms", va="center", fontsize=6)
            ax.set_xlim(0, 1.18)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_yticks(range(len(rows)), labels)
            ax.grid(False, axis="y")
            ax.set_xlabel("share of the call's time")
            ax.set_title(p.replace("_", " ") + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
    note = ("Each bar is one call split into the named steps of the strategy's code (strategies.phases), timed one by "
            "one after the contest; the number is the call's median in the contest.")
    keys = [key_handle("segments: the steps in the order they run, shaded alternately; named where the name fits",
                       marker="s", markersize=7)]
    fig = finish(fig, "Phases", config, env, keys, note)
    fig.data = shares
    return fig
