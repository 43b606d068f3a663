"""recommendation.csv (per layer and pass: the winner set, the plan's choice, its speedup) and auto's regret."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..summary import CONTEST, measured
from .build import DIMS, simplicity
from .totals import PART_NAMES, Totals, cell_marks, timed_seconds, interval, layer_choices

RECOMMENDATION_FILE = "recommendation.csv"


def recommendation(run) -> pd.DataFrame:
    """recommendation.csv: per (layer, pass, threads) the winner set, the plan's choice and its speedup over the
    baseline (mixing forwards included); a ``training_step`` row per layer: forward, dx and dw as planned."""
    summary, baseline = run.summary, run.config.get("baseline")
    totals = {int(t): Totals(run, t) for t in summary["threads"].unique()}
    rows = []
    for layer in layer_choices(run):
        t, shape = totals[layer["threads"]], layer["shape"]
        cells = summary[(summary["shape"] == shape) & (summary["threads"] == layer["threads"])]
        todo = [(p, {q: c.labels[g] for q, g in (("forward", "out"), ("backward_data", "x"), ("backward_filter", "w"))
                     if g in c.labels} if p == "backward" and len(set(c.labels.values())) > 1 else
                 {p: next(iter(c.labels.values()))}, c) for p, c in layer["alone"].items()]
        todo.append(("training_step", layer["training"], None))
        for pass_, parts, choice in todo:
            contest = cells[cells["pass"].isin(parts) if pass_ == "training_step" else cells["pass"] == pass_]
            best = contest[contest["winner"] | contest["tied"]].drop_duplicates("strategy")
            family = best.set_index("strategy")["family"]
            row = {**{d: int(contest.iloc[0][d]) for d in ["count", *DIMS]}, "shape": shape, "pass": pass_,
                   "threads": layer["threads"], "noisy": bool(best["noisy"].any()),
                   "contended": bool(contest["contended"].any()), "uncontested": bool(contest["uncontested"].any()),
                   "winners": "" if choice is None else "|".join(sorted(best["strategy"],
                                                                        key=lambda s: simplicity(s, family[s]))),
                   "choice": ", ".join(f"{PART_NAMES[p]} {s}" for p, s in parts.items()) if len(set(parts.values())) > 1
                   else next(iter(parts.values())),
                   "how": "plan" if choice is None else choice.how, "why": "" if choice is None else choice.why}
            mine = timed_seconds(t, shape, parts, layer["forward"])
            base = timed_seconds(t, shape, {p: baseline for p in parts}, baseline) if baseline else None
            if mine is not None:
                row.update(choice_s=mine["run"][0], mixing_s=mine["mixing"][0])
                total = (mine["run"][0] + mine["mixing"][0], mine["run"][1] + mine["mixing"][1])
                if base is not None:
                    row["baseline_s"] = base["run"][0]
                    row["speedup"], row["speedup_lo"], row["speedup_hi"] = interval(base["run"], total)
            rows.append(row)
    columns = ["shape", "count", *DIMS, "pass", "threads", "winners", "choice", "choice_s", "mixing_s", "baseline_s",
               "speedup", "speedup_lo", "speedup_hi", "noisy", "contended", "uncontested", "how", "why"]
    return pd.DataFrame(rows).reindex(columns=columns)


def write_recommendation(run, out=None) -> Path:
    """recommendation.csv into ``out`` (default: the run folder)."""
    path = Path(out if out is not None else run.path) / RECOMMENDATION_FILE
    recommendation(run).to_csv(path, index=False)
    return path


def regret(run) -> pd.DataFrame:
    """Per contest where a dispatcher (auto) ran: its median over the winner's, with a bootstrap interval."""
    summary = run.summary
    rows = []
    for threads in sorted(summary["threads"].unique()):
        t = Totals(run, threads)
        for (shape, pass_, _), g in summary[summary["threads"] == threads].groupby(CONTEST, sort=False):
            winner = g[g["winner"]]
            for _, auto in g[(g["role"] == "dispatcher") & measured(g)].iterrows():
                mine, best = t.cell(shape, auto["strategy"], pass_), \
                    t.cell(shape, winner.iloc[0]["strategy"], pass_) if len(winner) else None
                if mine is None or best is None:
                    continue
                ratio = mine[1] / best[1]
                rows.append({"shape": shape, "pass": pass_, "threads": int(threads), "strategy": auto["strategy"],
                             "winner": winner.iloc[0]["strategy"], "regret": mine[0] / best[0],
                             "lo": float(np.percentile(ratio, 2.5)), "hi": float(np.percentile(ratio, 97.5)),
                             "log_resamples": np.log(ratio), "marks": cell_marks(g)})
    return pd.DataFrame(rows)


def regret_lines(run) -> list[str]:
    """One line per dispatcher: geometric-mean regret (with its interval) and the worst cell."""
    table, lines = regret(run), []
    if table.empty:
        return lines
    for label, g in table.groupby("strategy", sort=False):
        logs = np.stack(g["log_resamples"].to_list())
        geo = float(np.exp(np.log(g["regret"]).mean()))
        lo, hi = np.percentile(np.exp(logs.mean(axis=0)), [2.5, 97.5])
        worst = g.loc[g["regret"].idxmax()]
        lines.append(f"- **{label}** regret (its median / the winner's, per contest): geometric mean {geo:.3g} "
                     f"[{lo:.3g}, {hi:.3g}] over {len(g)} contests; worst {worst['regret']:.3g} "
                     f"[{worst['lo']:.3g}, {worst['hi']:.3g}] on {worst['shape']} {worst['pass']} "
                     f"(winner {worst['winner']}){' ' + worst['marks'] if worst['marks'] else ''}")
    return lines
