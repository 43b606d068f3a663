"""One run's plan as numbers: each layer's choices, the network totals per thread budget, bootstrap intervals."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from strategies.auto import Auto

from ..summary import GROUP
from .build import build_plan

log = logging.getLogger(__name__)
RESAMPLES, SEED = 1000, 0
PART_NAMES = {"forward": "forward", "backward_data": "dx", "backward_filter": "dw", "backward": "backward",
              "training_step": "training step"}


def parts_of(summary: pd.DataFrame) -> list[str]:
    """The passes a training step is summed from: forward, dx and dw when timed apart, else forward and backward."""
    passes = set(summary["pass"])
    backward = ["backward_data", "backward_filter"] if {"backward_data", "backward_filter"} <= passes else \
        ["backward"] if "backward" in passes else []
    return [p for p in ["forward"] if p in passes] + backward


def resampled_medians(results: pd.DataFrame) -> dict:
    """Cell (shape, strategy, pass, threads) -> (median, :data:`RESAMPLES` bootstrap medians) of its samples."""
    timed = results[results["seconds"].notna() & results["status"].isin(["ok"])]
    rng, out = np.random.default_rng(SEED), {}
    for key, s in timed.groupby(GROUP, sort=False)["seconds"]:
        v = s.to_numpy(float)
        out[key] = (float(np.median(v)), np.median(v[rng.integers(0, len(v), (RESAMPLES, len(v)))], axis=1))
    return out


def interval(numerator, denominator) -> tuple[float, float, float]:
    """(point, lo, hi) of a ratio of two (point, resamples) totals."""
    ratio = numerator[1] / denominator[1]
    return numerator[0] / denominator[0], float(np.percentile(ratio, 2.5)), float(np.percentile(ratio, 97.5))


def layer_choices(run) -> list[dict]:
    """Per (shape, threads): auto's choice for each pass alone (backward on the forward choice's cache), and
    the strategies of a training step (one backward call for every gradient)."""
    summary, parts = run.summary, parts_of(run.summary)
    plan = build_plan([run], run.path.name)
    out = []
    for threads in sorted(summary["threads"].unique()):
        auto = Auto(plan=plan, threads=int(threads))
        for shape, g in summary[summary["threads"] == threads].groupby("shape", sort=False):
            r = g.iloc[0]
            x, w = (r["N"], r["C"], r["H"], r["W"]), (r["F"], r["C"], r["HH"], r["WW"])
            cp, dtype = {"stride": int(r["stride"]), "pad": int(r["pad"])}, str(r["dtype"])
            try:
                made_by = auto.choice(x, w, cp, "forward", dtype).labels["out"]
                alone = {p: auto.choice(x, w, cp, p, dtype, made_by=made_by) for p in dict.fromkeys(g["pass"])}
                back = auto.choice(x, w, cp, "backward", dtype, made_by=made_by).labels
            except ValueError as err:   # no strategy measured within the budget
                log.warning("plan: no choice for %s: %s", shape, err)
                continue
            training = {p: made_by if p == "forward" else back["w" if p == "backward_filter" else "x"] for p in parts}
            out.append({"shape": shape, "threads": int(threads), "count": int(r["count"]), "forward": made_by,
                        "alone": alone, "training": training})
    return out


class Totals:
    """Weighted sums of cell medians (point and resampled) for the network rows of one thread budget."""

    def __init__(self, run, threads: int):
        self.run, self.threads = run, int(threads)
        self.medians = resampled_medians(run.results[run.results["threads"] == threads])
        self.shapes = run.summary.drop_duplicates("shape").set_index("shape")["count"].astype(int)
        self.baseline = run.config.get("baseline")

    def cell(self, shape, strategy, part):
        return self.medians.get((shape, strategy, part, self.threads))

    def add(self, picks) -> dict:
        """``picks``: (shape, part, strategy) -> the part's totals; a missing cell counts at the baseline's time."""
        sums = {p: [0.0, np.zeros(RESAMPLES), 0, 0] for p in {p for _, p, _ in picks} | {"mixing"}}
        for shape, part, strategy in picks:
            count, slot = self.shapes[shape], sums[part]
            found = self.cell(shape, strategy, "forward" if part == "mixing" else part)
            if found is None:
                found = self.cell(shape, self.baseline, "forward" if part == "mixing" else part)
                slot[2 if found is not None else 3] += count
            if found is not None:
                slot[0] += count * found[0]
                slot[1] = slot[1] + count * found[1]
        return {p: (s[0], s[1], s[2], s[3]) for p, s in sums.items()}


def network_rows(run) -> pd.DataFrame:
    """Network totals per thread budget: baseline, best single strategy, per-layer plan, peers, auto."""
    summary, parts = run.summary, parts_of(run.summary)
    layers = layer_choices(run)
    rows = []
    for threads in sorted(summary["threads"].unique()):
        totals, shapes = Totals(run, threads), list(dict.fromkeys(summary["shape"]))
        here = summary[summary["threads"] == threads]
        roles = here.drop_duplicates("strategy").set_index("strategy")["role"]
        entries = {}
        for s, role in roles.items():
            entries[s] = (role, totals.add([(shape, p, s) for shape in shapes for p in parts]))
        plan = [layer for layer in layers if layer["threads"] == threads]
        picks = [(layer["shape"], p, s) for layer in plan for p, s in layer["training"].items()]
        picks += [(layer["shape"], "mixing", s) for layer in plan
                  for s in set(layer["training"].values()) - {layer["forward"]}]
        entries["per-layer plan"] = ("plan", totals.add(picks))
        base = entries.get(totals.baseline, (None, None))[1]
        singles = [s for s, (role, _) in entries.items() if role == "strategy"]
        complete = [s for s in singles if not any(v[2] or v[3] for p, v in entries[s][1].items() if p != "mixing")]
        best = min(complete or singles, key=lambda s: _training(entries[s][1])[0], default=None)
        for label, (role, t) in entries.items():
            kind = {"plan": "per-layer plan", "peer": "peer", "dispatcher": "auto"}.get(role, "")
            if label == totals.baseline:
                kind = "baseline" + (" and best single strategy" if label == best else "")
            elif label == best:
                kind = "best single strategy"
            if not kind:
                continue
            row = {"threads": int(threads), "row": kind, "strategy": label}
            for p in parts + ["mixing"]:
                row[f"{p}_s"] = t.get(p, (0.0,))[0]
                row[f"{p}_substituted"], row[f"{p}_missing"] = (t[p][2], t[p][3]) if p in t else (0, 0)
            train = _training(t)
            row["training_s"] = train[0]
            for p, value in [*((p, t.get(p)) for p in parts), ("training", train)]:
                if base is not None and value is not None:
                    ref = base.get(p) if p != "training" else _training(base)
                    row[f"{p}_speedup"], row[f"{p}_lo"], row[f"{p}_hi"] = interval(ref, value)
            peers = [s for s, (r, _) in entries.items() if r == "peer"]
            if role == "plan" and peers:    # how the plan compares with the (first) peer, on the same resamples
                peer = entries[peers[0]][1]
                row["peer"] = peers[0]
                row["peer_speedup"], row["peer_lo"], row["peer_hi"] = interval(_training(peer), train)
                row["peer_missing"] = sum(v[2] + v[3] for p, v in peer.items() if p != "mixing")
            rows.append(row)
    return pd.DataFrame(rows)


def _training(t: dict) -> tuple:
    """A training step: the parts' sum plus the mixing forwards."""
    point = sum(v[0] for v in t.values())
    return point, sum(v[1] for v in t.values())


def cell_marks(cells: pd.DataFrame) -> str:
    """The console's marks for the cells a figure uses: ~ noisy, ! contended, ? uncontested."""
    return ("~" if cells["noisy"].any() else "") + ("!" if cells["contended"].any() else "") + \
        ("?" if cells["uncontested"].any() else "")


def timed_seconds(t: Totals, shape, parts: dict, made_by: str) -> dict | None:
    """The measured seconds (point, resamples) of running ``parts`` (pass -> label) and the mixing forwards."""
    cells = [t.cell(shape, s, p) for p, s in parts.items()]
    mixing = [t.cell(shape, s, "forward") for s in set(parts.values()) - {made_by}]
    if any(c is None for c in cells + mixing):
        return None
    return {"run": (sum(c[0] for c in cells), sum(c[1] for c in cells)),
            "mixing": (sum(c[0] for c in mixing), sum(c[1] for c in mixing))}
