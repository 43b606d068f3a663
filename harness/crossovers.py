"""Crossovers: where along a swept axis one strategy starts to beat another (crossovers.csv).

For a sweep that varies one axis (``sweep=grid`` with one list-valued axis, or a layers
sweep along one column, :func:`harness.plots.sweep.scaling_axis`), for each pass and thread
budget and each pair of entrants (ours and the peer; auto is a dispatcher, not an
algorithm) measured at two neighbouring axis values whose order flips between them, the
axis value where their time ratio crosses 1, interpolated log-linearly::

    log x* = log x0 + (log x1 - log x0) * log r0 / (log r0 - log r1),    r = t_a / t_b

and whether the flip is beyond the noise: at both points the two medians differ by more
than the tie rule's noise (:data:`harness.summary.TIE_FRACTION`: ``max(either IQR, 5% of
the faster median)``).  A pair that flips back and forth crosses more than once: each
crossing is a row.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd

from .plots.sweep import scaling_axis
from .summary import TIE_FRACTION, measured

CROSSOVERS_FILE = "crossovers.csv"
COLUMNS = ["pass", "threads", "axis", "faster_below", "faster_above", "x_below", "x_above", "crossover",
           "ratio_below", "ratio_above", "beyond_noise", "beyond_noise_below", "beyond_noise_above"]


def _distinct(a: pd.Series, b: pd.Series) -> bool:
    """The tie rule between two cells: their medians differ by more than the noise."""
    noise = max(a["iqr_s"], b["iqr_s"], TIE_FRACTION * min(a["median_s"], b["median_s"]))
    return abs(a["median_s"] - b["median_s"]) > noise


def crossovers(summary: pd.DataFrame) -> pd.DataFrame:
    """The crossings of every pair of entrants along the sweep's axis (:data:`COLUMNS`); raises
    :class:`harness.plots.style.NotApplicable` when the sweep does not vary exactly one axis."""
    axis = scaling_axis(summary)
    cells = summary[measured(summary) & (summary["role"] != "dispatcher")]
    rows = []
    for (pass_, threads), g in cells.groupby(["pass", "threads"], sort=False):
        by = {s: c.set_index(axis).sort_index() for s, c in g.groupby("strategy", sort=False)}
        for a, b in itertools.combinations(by, 2):
            common = sorted(set(by[a].index) & set(by[b].index))
            for x0, x1 in zip(common, common[1:]):
                a0, b0, a1, b1 = by[a].loc[x0], by[b].loc[x0], by[a].loc[x1], by[b].loc[x1]
                r0, r1 = a0["median_s"] / b0["median_s"], a1["median_s"] / b1["median_s"]
                if (r0 - 1) * (r1 - 1) >= 0:
                    continue
                fraction = math.log(r0) / (math.log(r0) - math.log(r1))
                cross = math.exp(math.log(x0) + (math.log(x1) - math.log(x0)) * fraction)
                below, above = _distinct(a0, b0), _distinct(a1, b1)
                rows.append({"pass": pass_, "threads": int(threads), "axis": axis,
                             "faster_below": a if r0 < 1 else b, "faster_above": a if r1 < 1 else b,
                             "x_below": x0, "x_above": x1, "crossover": cross,
                             "ratio_below": max(r0, 1 / r0), "ratio_above": max(r1, 1 / r1),
                             "beyond_noise": below and above, "beyond_noise_below": below,
                             "beyond_noise_above": above})
    return pd.DataFrame(rows, columns=COLUMNS)


def write_crossovers(table: pd.DataFrame | None, out) -> Path | None:
    """crossovers.csv into the folder ``out``; None (and no file: a stale one is removed) when the sweep varies
    no one axis (``table`` None)."""
    path = Path(out) / CROSSOVERS_FILE
    if table is None:
        path.unlink(missing_ok=True)
        return None
    table.to_csv(path, index=False)
    return path


def crossover_section(table: pd.DataFrame | None) -> list[str]:
    """report.md's crossovers section (none when the sweep varies no one axis)."""
    if table is None:
        return []
    lines = describe(table)
    return ["## Crossovers (crossovers.csv)", "", *(f"- {line}" for line in lines or
                                                   ["no pair of strategies changes order along the axis"]), ""]


def describe(table: pd.DataFrame) -> list[str]:
    """One line per crossing, for the console and the report."""
    return [f"{r['pass']}{'' if r['threads'] == 1 else ' @' + str(r['threads']) + 't'}: {r['faster_above']} "
            f"overtakes {r['faster_below']} at {r['axis']} ~ {r['crossover']:.3g} (between {r['x_below']:g} and "
            f"{r['x_above']:g}; {r['ratio_below']:.2f}x and {r['ratio_above']:.2f}x apart: "
            f"{'beyond noise' if r['beyond_noise'] else 'within noise at one end'})" for _, r in table.iterrows()]
