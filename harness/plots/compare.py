"""Two runs side by side: run b's speedup over run a per cell, and how far their rankings agree."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import sweep
from .report import Run, describe
from .style import NOT_MEASURED, run_title
from .text import markdown_table

DPI = 150


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
    cells["text"] = [sweep.ratio_text(v) + ("~" if n else "") if ok else ""
                     for v, n, ok in zip(cells["speedup_b_over_a"], noisy, both_ok)]
    cells["blank"] = [_compare_blank(r) for _, r in cells.iterrows()]
    cells.attrs["note"] = note
    return cells


def _compare_blank(r) -> str:
    if r["present"] != "both":
        return "only in " + ("a" if r["present"] == "left_only" else "b")
    bad = [f"{run}: {NOT_MEASURED.get(r[f'status_{run}'], r[f'status_{run}'])}"
           for run in ("a", "b") if r[f"status_{run}"] != "ok"]
    return "\n".join(bad)


def write_compare(a: Run, b: Run, out: Path, stability: str = "") -> Path:
    """Speedup of run b over run a per common cell: compare.png, compare.csv and compare.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    cells = compare_cells(a, b)
    subtitle = f"a = {a.path.name}: {run_title(a.config, a.env)}\nb = {b.path.name}: {run_title(b.config, b.env)}"
    fig = sweep.compare_figure(cells.rename(columns={"speedup_b_over_a": "value"}), subtitle, cells.attrs["note"])
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
             "", *(["## Do the rankings agree?", "", "```text", stability, "```", ""] if stability else []),
             "![speedup of b over a](compare.png)", "",
             "> 1: b is faster. ~: noisy in a or b. Hatched: a cell only one run has, or one that did not run.",
             "", markdown_table(table), ""]
    report = out / "compare.md"
    report.write_text("\n".join(lines))
    return report
