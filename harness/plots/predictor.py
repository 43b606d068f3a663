"""How good was the predictor? Each measured cell's predicted call time against its measured median.

The prediction decided which cells were ``skipped`` or ``hopeless`` (harness/predict.py);
this figure shows its error on the cells that were measured anyway, so a decision it made
can be judged: points inside the band are within 2x.  Keeps its table as ``fig.data``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import (GROUP, NotApplicable, facets, finish, key_handle, new_figure, order, series_handles,
                    strategy_colour, strategy_marker, styled)


@styled
def predictor_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Predicted seconds per call against the measured median, log-log, per pass."""
    cells = summary[(summary["status"] == "ok") & summary["median_s"].notna() & (summary["predicted_s"] > 0)]
    if cells.empty:
        raise NotApplicable("no predictor figure: no measured cell has a prediction")
    passes, _ = facets(summary)
    fig = new_figure(max(6.5, 3.2 * len(passes) + 1.5), 4.0)
    axes = fig.subplots(1, len(passes), squeeze=False, sharex=True, sharey=True)[0]
    values = np.concatenate([cells["median_s"], cells["predicted_s"]]) * 1e3
    lo, hi = values.min() / 2, values.max() * 2
    for ax, p in zip(axes, passes):
        line = np.geomspace(lo, hi, 10)
        ax.plot(line, line, color="0.2", linewidth=1)
        ax.fill_between(line, line / 2, line * 2, color="0.9", linewidth=0)
        for _, c in cells[cells["pass"] == p].iterrows():
            ax.plot([c["median_s"] * 1e3], [c["predicted_s"] * 1e3], marker=strategy_marker(c["strategy"]),
                    color=strategy_colour(c["strategy"]), markersize=5, linestyle="")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_title(p.replace("_", " "))
        ax.set_xlabel("measured median per call (ms)")
        ax.set_ylabel("predicted before the cell ran (ms)")
    ratio = cells["predicted_s"] / cells["median_s"]
    within = float(((ratio >= 0.5) & (ratio <= 2)).mean())
    keys = [key_handle("line: exact; band: within 2x", marker="s", markersize=8, color="0.85")]
    note = (f"{within:.0%} of {len(cells)} measured cells were predicted within 2x (median predicted/measured "
            f"{ratio.median():.2f}); a prediction probed to the whole layer is a measurement, so it sits on the line.")
    fig = finish(fig, "Predictor", config, env, keys, note, series=series_handles(order(summary, "strategy")))
    fig.data = cells[GROUP].assign(predicted_s=cells["predicted_s"], median_s=cells["median_s"], ratio=ratio)
    return fig
