"""Speed against accuracy: per layer, each strategy's forward time against its float32 error, the front joined.

The figure a reader needs to decide whether a faster, less accurate algorithm (Winograd's
larger tiles) is worth its error on their layers: one marker per strategy (variants
included), the non-dominated ones (no other is both faster and more accurate) joined by a
line.  Keeps the points and the front as ``fig.data``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import NotApplicable, finish, key_handle, new_figure, order, readable_log_ticks, series_handles, \
    strategy_colour, strategy_marker, styled


def front(points: pd.DataFrame) -> pd.Series:
    """Per row: is it on the Pareto front of (median_s, error) within its layer (none faster and more accurate)?"""
    on = pd.Series(False, index=points.index)
    for _, layer in points.groupby("shape", sort=False):
        for i, p in layer.iterrows():
            better = (layer["median_s"] <= p["median_s"]) & (layer["error"] <= p["error"]) & \
                ((layer["median_s"] < p["median_s"]) | (layer["error"] < p["error"]))
            on[i] = not better.any()
    return on


@styled
def front_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Forward median time against max relative error of out, one panel per layer (first thread budget)."""
    cells = summary[(summary["pass"] == "forward") & (summary["status"] == "ok") & summary["median_s"].notna()
                    & (summary["err_out"] > 0) & (summary["threads"] == summary["threads"].min())]
    counts = cells.groupby("shape")["strategy"].nunique()
    layers = [s for s in order(cells, "shape") if counts.get(s, 0) >= 2]
    if not layers:
        raise NotApplicable("no speed-accuracy figure: no layer has a forward time and an error for two strategies")
    points = cells[cells["shape"].isin(layers)].assign(error=lambda c: c["err_out"])
    ours = points["role"] == "strategy"     # the front is a choice among ours; a peer is drawn as a reference
    points = points.assign(on_front=front(points[ours]).reindex(points.index, fill_value=False))
    cols = min(4, len(layers))
    rows = -(-len(layers) // cols)
    fig = new_figure(2.6 * cols + 1.8, 2.3 * rows + 1.4)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, layer in zip(axes, layers):
        here = points[points["shape"] == layer]
        best = here[here["on_front"]].sort_values("median_s")
        ax.plot(best["median_s"] * 1e3, best["error"], color="0.4", linewidth=1, zorder=1)
        for _, p in here.iterrows():
            ax.plot([p["median_s"] * 1e3], [p["error"]], marker=strategy_marker(p["strategy"]), linestyle="",
                    color=strategy_colour(p["strategy"]), markersize=6 if p["on_front"] else 4,
                    markerfacecolor=strategy_colour(p["strategy"]) if p["on_front"] else "white", zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(0.15)
        readable_log_ticks(ax.xaxis)
        readable_log_ticks(ax.yaxis)
        ax.set_title(layer)
        ax.set_xlabel("forward median (ms)")
        ax.set_ylabel("max relative error of out")
    for ax in axes[len(layers):]:
        ax.set_visible(False)
    keys = [key_handle("filled and joined: the front among our strategies (nothing else is both faster and more "
                       "accurate)", marker="o"),
            key_handle("hollow: dominated, or the peer (a reference, not a choice)", marker="o", markerfacecolor="white")]
    fig = finish(fig, "Speed against accuracy (forward)", config, env, keys,
                 series=series_handles(order(points, "strategy")))
    fig.data = points[["shape", "strategy", "median_s", "error", "on_front"]]
    return fig
