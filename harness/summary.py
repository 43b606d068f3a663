"""From raw rows to the summary table, the winners and the console table.

**The one rule for winners and ties** (used by the summary, the console and the
plots): among cells with status ``ok`` for one (shape, pass, threads), the winner
has the lowest median; a strategy is *tied* with it when its median exceeds the
winner's by no more than the noise, ``max(its IQR, the winner's IQR, 5% of the
winner's median)``.  Mismatched cells never win.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

GROUP = ["shape", "strategy", "pass", "threads"]
CONTEST = ["shape", "pass", "threads"]
TIE_FRACTION = 0.05
_STATUS_RANK = {"error": 0, "mismatch": 1, "skipped": 2, "unsupported": 3, "ok": 4}


def _iqr(s: pd.Series) -> float:
    return float(s.quantile(0.75) - s.quantile(0.25)) if s.notna().any() else np.nan


def summarize(results: pd.DataFrame, baseline: str | None = "im2col") -> pd.DataFrame:
    """One row per (shape, strategy, pass, threads): median, IQR, min, GFLOP/s, speedup, rank, status.

    ``speedup`` is the baseline's median over this cell's median; it is empty, with
    ``speedup_note`` saying why, when the baseline is not in the run or did not
    produce an ok time for that shape.
    """
    if results.empty:
        return pd.DataFrame()
    rows = []
    for key, cell in results.groupby(GROUP, sort=False, dropna=False):
        first = cell.iloc[0]
        status = min(cell["status"], key=_STATUS_RANK.__getitem__)
        seconds = cell["seconds"].dropna()
        per_process = cell.groupby("process")["seconds"].median().dropna() if "process" in cell else seconds
        median = float(seconds.median()) if len(seconds) else np.nan
        rows.append({
            **dict(zip(GROUP, key)),
            **{c: first[c] for c in ("count", "N", "C", "H", "W", "F", "HH", "WW", "stride", "pad",
                                       "dtype", "algorithm", "flops") if c in cell},
            "status": status, "reason": "; ".join(sorted(set(cell["reason"].fillna("")) - {""})),
            "repeats": len(seconds), "processes": int(cell["process"].nunique()) if "process" in cell else 1,
            "median_s": median, "iqr_s": _iqr(seconds), "min_s": float(seconds.min()) if len(seconds) else np.nan,
            "median_of_process_medians_s": float(per_process.median()) if len(per_process) else np.nan,
            "cold_s": float(cell["cold_seconds"].median()),
            "gflops": float(first["flops"]) / median / 1e9 if median > 0 else np.nan,
            "noisy": bool(cell["noisy"].fillna(False).astype(bool).any()),
            "error_ratio": float(cell["error_ratio"].max()),
            "mem_tracemalloc_bytes": float(cell["mem_tracemalloc_bytes"].max()),
            "mem_rss_bytes": float(cell["mem_rss_bytes"].max()),
            "memory_note": first.get("memory_note", ""),
        })
    summary = pd.DataFrame(rows)
    _add_speedup(summary, baseline)
    _add_winners(summary)
    return summary


def _add_speedup(summary: pd.DataFrame, baseline: str | None) -> None:
    summary["speedup"] = np.nan
    summary["speedup_note"] = ""
    for _, idx in summary.groupby(CONTEST, sort=False).groups.items():
        group = summary.loc[idx]
        base = group[group["strategy"] == baseline]
        if baseline is None:
            note = "no baseline set"
        elif base.empty:
            note = f"baseline {baseline} not in this run"
        elif base.iloc[0]["status"] != "ok":
            note = f"baseline {baseline} {base.iloc[0]['status']}: {base.iloc[0]['reason']}".strip(": ")
        else:
            summary.loc[idx, "speedup"] = base.iloc[0]["median_s"] / group["median_s"]
            continue
        summary.loc[idx, "speedup_note"] = note


def _add_winners(summary: pd.DataFrame) -> None:
    summary["rank"] = np.nan
    summary["winner"] = False
    summary["tied"] = False
    ok = summary[(summary["status"] == "ok") & summary["median_s"].notna()]
    for _, group in ok.groupby(CONTEST, sort=False):
        group = group.sort_values("median_s")
        best = group.iloc[0]
        summary.loc[group.index, "rank"] = np.arange(1, len(group) + 1)
        summary.loc[best.name, "winner"] = True
        noise = np.maximum(np.maximum(group["iqr_s"], best["iqr_s"]), TIE_FRACTION * best["median_s"])
        tied = (group["median_s"] - best["median_s"] <= noise) & (group.index != best.name)
        summary.loc[group.index[tied.to_numpy()], "tied"] = True


def winner_sets(summary: pd.DataFrame) -> dict[tuple, frozenset]:
    """(shape, pass, threads) -> the winner plus everything tied with it."""
    best = summary[summary["winner"] | summary["tied"]]
    return {key: frozenset(g["strategy"]) for key, g in best.groupby(CONTEST, sort=False)}


_MARKS = {"unsupported": "unsup", "skipped": "skip", "mismatch": "MISMATCH", "error": "ERROR"}


def console_table(summary: pd.DataFrame) -> str:
    """Shapes (x pass, x threads) as rows, strategies as columns, median ms; * fastest, = tied, ~ noisy."""
    if summary.empty:
        return "(no cells)"
    many_threads = summary["threads"].nunique() > 1

    def cell_text(r) -> str:
        if r["status"] != "ok" or np.isnan(r["median_s"]):
            return _MARKS.get(r["status"], r["status"])
        mark = "*" if r["winner"] else "=" if r["tied"] else " "
        return f"{r['median_s'] * 1e3:.3g}{mark}{'~' if r['noisy'] else ''}"

    table = summary.assign(cell=summary.apply(cell_text, axis=1))
    index = ["shape", "pass"] + (["threads"] if many_threads else [])
    wide = table.pivot_table(index=index, columns="strategy", values="cell", aggfunc="first", sort=False)
    wide = wide.reindex(columns=list(dict.fromkeys(summary["strategy"])))
    wide.columns.name = None
    legend = "median ms per call; * fastest, = tied with it (within noise), ~ noisy (IQR/median over threshold)"
    return wide.fillna("").to_string() + "\n" + legend
