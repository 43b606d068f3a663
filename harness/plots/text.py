"""The text forms of a run: the console table of median times, the verdict on the run's conditions, markdown tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

_MARKS = {"unsupported": "unsup", "skipped": "skip", "hopeless": "hopeless", "mismatch": "MISMATCH", "error": "ERROR"}
LEGEND = ("median ms per call; * fastest, = tied with it (within noise), ~ noisy (IQR/median over threshold), "
          "! contended (other work on the cores), ? uncontested (the only strategy measured); (peer) in brackets")


def console_table(summary: pd.DataFrame) -> str:
    """Shapes (x pass, x threads) as rows, entrants as columns, median ms, with the marks of :data:`LEGEND`."""
    if summary.empty:
        return "(no cells)"
    many_threads = summary["threads"].nunique() > 1

    def cell_text(r) -> str:
        if r["status"] != "ok" or not np.isfinite(r["median_s"]):
            return _MARKS.get(r["status"], r["status"])
        text = f"{r['median_s'] * 1e3:.3g}"
        if r["role"] == "peer":
            return f"({text})"
        marks = ("*" if r["winner"] else "=" if r["tied"] else "") + ("~" if r["noisy"] else "") + \
            ("!" if r["contended"] else "") + ("?" if r["uncontested"] else "")
        return text + marks

    table = summary.assign(cell=summary.apply(cell_text, axis=1))
    index = ["shape", "pass"] + (["threads"] if many_threads else [])
    wide = table.pivot_table(index=index, columns="strategy", values="cell", aggfunc="first", sort=False)
    wide = wide.reindex(columns=list(dict.fromkeys(summary["strategy"])))
    wide.columns.name = None
    return wide.fillna("").to_string() + "\n" + LEGEND


def conditions(summary: pd.DataFrame) -> str:
    """One line on how trustworthy the run's timings are: quiet, noisy cells, or contended contests."""
    timed = summary[summary["median_s"].notna()]
    contests = summary.groupby(["shape", "pass", "threads"])
    contended = contests["contended"].apply(lambda s: bool(s.fillna(False).astype(bool).any()))
    noisy = int(timed["noisy"].fillna(False).astype(bool).sum())
    if contended.any():
        most = summary["other_cores"].max()
        return (f"contended: {int(contended.sum())} of {len(contended)} contests were measured while other work "
                f"ran on this run's cores (up to {most:.2f} cores' worth), after retries; their times are not "
                f"trustworthy: re-run them on a quiet machine")
    if noisy:
        return (f"noisy cells: {noisy} of {len(timed)} timed cells varied by more than the noise threshold "
                f"(IQR/median); the rest, and every contest, were measured on quiet cores")
    return f"quiet: {len(timed)} timed cells in {len(contended)} contests, none noisy, none contended"


def markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.astype(object).where(frame.notna(), "").astype(str)
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in cells.to_numpy()]
    return "\n".join(lines)
