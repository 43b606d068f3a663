"""Do two runs of the same sweep rank the strategies the same way?

``python run.py stability=true`` measures the sweep twice (``first/`` and ``second/``
inside the run folder) and writes ``stability.json`` beside them;
``python -m harness.report RUN_A RUN_B`` prints the same figures for any two runs (for
example ``allocator=default`` against ``allocator=pinned``) beside its comparison figure.

Reported:

* ``fastest_in_other_winner_set``: share of (shape, pass, threads) contests in which each
  run's fastest strategy is in the other run's winner set (the winner and everything tied
  with it, by the harness's one rule): the agreement that matters when two strategies are
  within noise of each other;
* ``winner_agreement``: share whose single fastest strategy is the same in both runs;
* ``winner_set_overlap``: share whose winner sets intersect;
* ``median_iqr_over_median``: the typical within-cell spread (ok cells, both runs);
* ``changed_cells``: cells whose median moved by more than ``threshold`` (10%).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .summary import CONTEST, GROUP, winner_sets


def compare_summaries(a: pd.DataFrame, b: pd.DataFrame, threshold: float = 0.10) -> dict:
    """Agreement of two summaries (see the module docstring)."""
    sets_a, sets_b = winner_sets(a), winner_sets(b)
    contests = sorted(set(sets_a) & set(sets_b))
    best_a = {k: g.loc[g["winner"], "strategy"].iloc[0] for k, g in a[a["winner"]].groupby(CONTEST)}
    best_b = {k: g.loc[g["winner"], "strategy"].iloc[0] for k, g in b[b["winner"]].groupby(CONTEST)}
    ok = pd.concat([a, b])
    ok = ok[(ok["status"] == "ok") & (ok["median_s"] > 0)]
    both = a.merge(b, on=GROUP, suffixes=("_a", "_b")).copy()
    both = both[(both["status_a"] == "ok") & (both["status_b"] == "ok")]
    both = both.assign(ratio=both["median_s_b"] / both["median_s_a"])
    changed = both[(both["ratio"] - 1).abs() > threshold]
    return {
        "contests": len(contests),
        "fastest_in_other_winner_set": float(np.mean([best_a[k] in sets_b[k] and best_b[k] in sets_a[k]
                                                      for k in contests])) if contests else None,
        "winner_agreement": float(np.mean([best_a[k] == best_b[k] for k in contests])) if contests else None,
        "winner_set_overlap": float(np.mean([bool(sets_a[k] & sets_b[k]) for k in contests])) if contests else None,
        "winner_changes": [{"contest": list(map(str, k)), "a": best_a[k], "b": best_b[k],
                            "sets_overlap": bool(sets_a[k] & sets_b[k])} for k in contests if best_a[k] != best_b[k]],
        "median_iqr_over_median": float((ok["iqr_s"] / ok["median_s"]).median()) if len(ok) else None,
        "cells_compared": len(both),
        "threshold": threshold,
        "changed_cells": [{"shape": r["shape"], "strategy": r["strategy"], "pass": r["pass"],
                           "threads": int(r["threads"]), "ratio_b_over_a": round(float(r["ratio"]), 3)}
                          for r in changed[GROUP + ["ratio"]].to_dict("records")],
    }


def format_report(report: dict) -> str:
    lines = [f"contests compared: {report['contests']}",
             f"fastest in the other's winner set: {_pct(report['fastest_in_other_winner_set'])}",
             f"fastest strategy agrees: {_pct(report['winner_agreement'])}",
             f"winner sets overlap:     {_pct(report['winner_set_overlap'])}",
             f"median IQR/median:       {_pct(report['median_iqr_over_median'])}",
             f"cells moved > {report['threshold']:.0%}: {len(report['changed_cells'])} of {report['cells_compared']}"]
    lines += [f"  {c['shape']} {c['strategy']} {c['pass']} {c['threads']}t: x{c['ratio_b_over_a']}"
              for c in report["changed_cells"]]
    lines += [f"  winner changed: {' '.join(w['contest'])}: {w['a']} -> {w['b']}"
              f"{' (within noise)' if w['sets_overlap'] else ''}" for w in report["winner_changes"]]
    return "\n".join(lines)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
