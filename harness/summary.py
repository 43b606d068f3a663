"""From raw rows to the summary table, the winners and the console table.

**The one rule for winners and ties** (used by the summary, the console, the plots and the
plan): among the cells of one contest (shape, pass, threads) whose status is ``ok`` and
whose role is ``strategy`` (a peer is a yardstick, a dispatcher is measured for its regret:
neither wins), the winner has the lowest median; a strategy is *tied* with it when its
median exceeds the winner's by no more than the noise, ``max(its IQR, the winner's IQR,
5% of the winner's median)``.  A winner is named only among strategies that were measured;
a contest with one measured strategy is ``uncontested``, and says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema
from .roofline import cell_rooflines

GROUP = ["shape", "strategy", "pass", "threads"]
CONTEST = ["shape", "pass", "threads"]
TIE_FRACTION = 0.05
_STATUS_RANK = {"error": 0, "mismatch": 1, "skipped": 2, "hopeless": 3, "unsupported": 4, "ok": 5}
_FIRST = ["count", "N", "C", "H", "W", "F", "HH", "WW", "stride", "pad", "strategy_name", "role", "family", "dtype",
          "flops", *(f"{k}_{q}" for k in ("err", "tol") for q in ("out", "dx", "dw", "db")), "oracle_batch",
          "multiplies", "transform_flops", "workspace_bytes", "bytes_moved", "memory_note", "host", "cpu_model",
          "allocator", "exact_inputs"]


def _iqr(s: pd.Series) -> float:
    return float(s.quantile(0.75) - s.quantile(0.25)) if s.notna().any() else np.nan


def _any(series: pd.Series) -> bool:
    return bool(series.fillna(False).astype(bool).any())


def _cell(key, cell: pd.DataFrame) -> dict:
    first = cell.iloc[0]
    seconds = cell["seconds"].dropna()
    per_process = cell.groupby("process")["seconds"].median().dropna()
    median = float(seconds.median()) if len(seconds) else np.nan
    status = min(cell["status"], key=_STATUS_RANK.__getitem__)
    predicted = first["predicted_seconds"]
    return {
        **dict(zip(GROUP, key)), **{c: first[c] for c in _FIRST if c in cell},
        "status": status, "reason": "; ".join(sorted(set(cell["reason"].fillna("")) - {""})),
        "noisy": _any(cell["noisy"]), "contended": _any(cell["contended"]), "few_samples": _any(cell["few_samples"]),
        "repeats": len(seconds), "processes": int(cell["process"].nunique()),
        "median_s": median, "iqr_s": _iqr(seconds), "min_s": float(seconds.min()) if len(seconds) else np.nan,
        "median_of_process_medians_s": float(per_process.median()) if len(per_process) else np.nan,
        "cold_s": float(cell["cold_seconds"].median()),
        "gflops": float(first["flops"]) / median / 1e9 if median > 0 else np.nan,
        "predicted_s": predicted, "predicted_over_measured": predicted / median if median > 0 else np.nan,
        "error_ratio": float(cell["error_ratio"].max()),
        "bitwise_repeatable": bool(cell["bitwise_repeatable"].dropna().astype(bool).all())
        if cell["bitwise_repeatable"].notna().any() else None,
        "mem_tracemalloc_bytes": float(cell["mem_tracemalloc_bytes"].max()),
        "mem_rss_bytes": float(cell["mem_rss_bytes"].max()),
        "load_1min": float(cell["load_1min"].max()), "other_cores": float(cell["other_cores"].max()),
    }


def summarize(results: pd.DataFrame, baseline: str | None = "im2col", phases: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per cell (shape, strategy, pass, threads) with every column of :data:`harness.schema.SUMMARY`.

    ``speedup`` is the baseline's median over this cell's, empty with ``speedup_note``
    saying why when the baseline has no ok time there; ``phases`` (with ``roofline_s``
    filled, :func:`harness.roofline.with_roofline`) gives the roofline columns.
    """
    if results.empty:
        return pd.DataFrame(columns=schema.names(schema.SUMMARY))
    summary = pd.DataFrame([_cell(key, cell) for key, cell in results.groupby(GROUP, sort=False, dropna=False)])
    _add_contests(summary)
    _add_speedups(summary, baseline)
    _add_winners(summary)
    roofline = cell_rooflines(phases if phases is not None else pd.DataFrame())
    summary["roofline_s"] = roofline.reindex(pd.MultiIndex.from_frame(summary[GROUP])).to_numpy() \
        if len(roofline) else np.nan
    summary["roofline_efficiency"] = summary["roofline_s"] / summary["median_s"]
    return pd.DataFrame([schema.row(schema.SUMMARY, r) for r in summary.to_dict("records")])


def measured(summary: pd.DataFrame) -> pd.Series:
    """Cells with a time that may compete: ok, with a median."""
    return (summary["status"] == "ok") & summary["median_s"].notna()


def _add_contests(summary: pd.DataFrame) -> None:
    for column in ("entrants_measured", "entrants_declined", "entrants_skipped"):
        summary[column] = 0
    summary["uncontested"] = False
    for _, idx in summary.groupby(CONTEST, sort=False).groups.items():
        group = summary.loc[idx]
        ours = group["role"] == "strategy"
        summary.loc[idx, "entrants_measured"] = int(measured(group).sum())
        summary.loc[idx, "entrants_declined"] = int((group["status"] == "unsupported").sum())
        summary.loc[idx, "entrants_skipped"] = int(group["status"].isin(["skipped", "hopeless"]).sum())
        summary.loc[idx, "uncontested"] = bool((measured(group) & ours).sum() == 1)


def _add_speedups(summary: pd.DataFrame, baseline: str | None) -> None:
    summary["speedup"], summary["speedup_note"], summary["speedup_vs_peer"] = np.nan, "", np.nan
    for _, idx in summary.groupby(CONTEST, sort=False).groups.items():
        group = summary.loc[idx]
        peers = group[(group["role"] == "peer") & measured(group)]
        if len(peers):
            summary.loc[idx, "speedup_vs_peer"] = peers.iloc[0]["median_s"] / group["median_s"]
        base = group[group["strategy"] == baseline]
        if baseline is None:
            note = "no baseline in this run"
        elif base.empty:
            note = f"baseline {baseline} not in this contest"
        elif base.iloc[0]["status"] != "ok":
            note = f"baseline {baseline} {base.iloc[0]['status']}: {base.iloc[0]['reason']}".strip(": ")
        else:
            summary.loc[idx, "speedup"] = base.iloc[0]["median_s"] / group["median_s"]
            continue
        summary.loc[idx, "speedup_note"] = note


def _add_winners(summary: pd.DataFrame) -> None:
    summary["rank"], summary["winner"], summary["tied"] = np.nan, False, False
    racing = summary[measured(summary) & (summary["role"] == "strategy")]
    for _, group in racing.groupby(CONTEST, sort=False):
        group = group.sort_values("median_s")
        best = group.iloc[0]
        summary.loc[group.index, "rank"] = np.arange(1, len(group) + 1)
        summary.loc[best.name, "winner"] = True
        noise = np.maximum(np.maximum(group["iqr_s"], best["iqr_s"]), TIE_FRACTION * best["median_s"])
        tied = (group["median_s"] - best["median_s"] <= noise) & (group.index != best.name)
        summary.loc[group.index[tied.to_numpy()], "tied"] = True


def winner_sets(summary: pd.DataFrame) -> dict[tuple, frozenset]:
    """(shape, pass, threads) -> the winner plus everything tied with it."""
    best = summary[summary["winner"].astype(bool) | summary["tied"].astype(bool)]
    return {key: frozenset(g["strategy"]) for key, g in best.groupby(CONTEST, sort=False)}
