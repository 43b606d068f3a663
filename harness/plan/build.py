"""A plan from measured runs: one cell per contest with its entrants' times and errors, the mapping
:class:`strategies.auto.Auto` takes; loading one from a plan file or a run folder."""
from __future__ import annotations

import logging
import math

import pandas as pd

from strategies.passes import PASS_QUANTITIES

from .. import oracle
from ..summary import CONTEST, measured

log = logging.getLogger(__name__)
FORMAT, VERSION = "convbench-plan", 1
DIMS = ["N", "C", "H", "W", "F", "HH", "WW", "stride", "pad"]


def simplicity(label: str, family: str) -> tuple:
    """Sort key: the simpler strategy first (see the module docstring)."""
    return (family != "direct", oracle.ERROR_GROWTH.get(family, math.inf), "[" in label, label)


def _options(label: str, threads: int) -> tuple[str, dict]:
    from ..variants import parse_variant
    try:
        variant = parse_variant(label)
    except ValueError:      # not in this process's registry (a test's or a plugin's): recorded, never run by auto
        return None, {}
    options = dict(variant.options)
    if variant.budget_option and variant.budget_option not in options:
        options[variant.budget_option] = int(threads)
    return variant.name, options


def _error(row, pass_: str) -> tuple[float, float]:
    """(max relative error, the same over the direct algorithm's tolerance) over the pass's quantities."""
    growth = oracle.ERROR_GROWTH.get(row["family"], 1.0)
    errors = [(float(row[f"err_{q}"]), float(row[f"tol_{q}"]) / growth) for q in PASS_QUANTITIES[pass_]]
    return max(e for e, _ in errors), max(e / t if t > 0 else math.inf for e, t in errors)


def plan_cells(summary: pd.DataFrame) -> list[dict]:
    """One plan cell per contest with a measured strategy (peers and dispatchers are never in a plan)."""
    cells, built = [], {}
    ours = summary[measured(summary) & (summary["role"] == "strategy")]
    for (shape, pass_, threads), group in ours.groupby(CONTEST, sort=False):
        first = group.iloc[0]
        entrants = {}
        for _, r in group.iterrows():
            spec = built.setdefault((r["strategy"], threads), _options(r["strategy"], threads))
            error, ratio = _error(r, pass_)
            entrants[r["strategy"]] = {"name": spec[0], "options": spec[1], "family": r["family"],
                                       "median_s": float(r["median_s"]), "iqr_s": float(r["iqr_s"]),
                                       "error": error, "error_ratio": ratio}
        best = group[group["winner"] | group["tied"]]
        winners = sorted(best["strategy"], key=lambda s: simplicity(s, entrants[s]["family"]))
        cells.append({"shape": shape, "count": int(first["count"]), "problem": {d: int(first[d]) for d in DIMS},
                      "pass": pass_, "threads": int(threads), "dtype": str(first["dtype"]), "winners": winners,
                      "contended": bool(group["contended"].any()), "uncontested": bool(first["uncontested"]),
                      "noisy": bool(best["noisy"].any())})
        cells[-1]["entrants"] = entrants
    return cells


def build_plan(runs, name: str) -> dict:
    """The plan mapping :class:`strategies.auto.Auto` takes, from loaded runs (a later run's cell replaces an
    earlier one's for the same problem, pass, budget and dtype); runs from two CPU models are refused."""
    machines = {run.env.get("cpu_model") or "unknown CPU" for run in runs}
    if len(machines) > 1:
        raise ValueError(f"the runs were measured on different CPUs ({sorted(machines)}); a plan is for one machine")
    cells = {}
    for run in runs:
        for cell in plan_cells(run.summary):
            key = (tuple(cell["problem"].values()), cell["pass"], cell["threads"], cell["dtype"])
            if key in cells:
                log.info("plan: %s %s from %s replaces the earlier run's", cell["shape"], cell["pass"], run.path.name)
            cells[key] = {**cell, "run": run.path.name}
    families = sorted({e["family"] for c in cells.values() for e in c["entrants"].values()} | {"direct"},
                      key=lambda f: simplicity("", f))
    labels = {s: e["family"] for c in cells.values() for s, e in c["entrants"].items()}
    env = runs[-1].env
    return {"format": FORMAT, "version": VERSION, "name": name, "runs": [r.path.name for r in runs],
            "machine": {"cpu_model": env.get("cpu_model"), "host": env.get("host"),
                        "gemm_gflops": env.get("gemm_gflops") or {},
                        "bandwidth_gb_per_s": env.get("bandwidth_gb_per_s") or {}},
            "families": families, "simplicity": sorted(labels, key=lambda s: simplicity(s, labels[s])),
            "tie_fraction": 0.05, "cells": list(cells.values())}
