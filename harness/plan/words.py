"""The plan in words: the run's headline line and report.md's plan section."""
from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.auto_evidence import DEFAULT_ERROR_FACTOR

from ..summary import measured
from .recommend import recommendation, regret_lines
from .totals import PART_NAMES, network_rows, parts_of


def _ratio(row, part) -> str:
    value = row.get(f"{part}_speedup")
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}x [{row[f'{part}_lo']:.2f}, {row[f'{part}_hi']:.2f}]"


def _budget(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def headline(run) -> str:
    """One line: the per-layer plan's training-step speedup over the baseline, and per part."""
    totals, baseline = network_rows(run), run.config.get("baseline")
    sweep = (run.config.get("sweep") or {})
    what = f"{sweep.get('name', run.path.name)}, batch {sweep.get('batch', '?')}"
    if baseline is None or totals.empty:
        return f"{what}: no baseline in this run, so no speedup of the per-layer plan"
    phrases = []
    for threads, g in totals.groupby("threads"):
        plan = g[g["row"] == "per-layer plan"]
        if plan.empty:
            continue
        r = plan.iloc[0].to_dict()
        parts = [f"{PART_NAMES[p]} {_ratio(r, p)}" for p in parts_of(run.summary)]
        step = "a training step" if len(parts) > 1 else PART_NAMES[parts_of(run.summary)[0]]
        versus = ""
        if isinstance(r.get("peer"), str):
            versus = (f"; {r['peer']} takes {_ratio(r, 'peer')} the plan's time" +
                      (f" ({int(r['peer_missing'])} of its cells at {baseline}'s time)" if r["peer_missing"] else ""))
        phrases.append(f"{_budget(threads)}, {run.config.get('dtype', 'float32')}: per-layer plan "
                       f"{_ratio(r, 'training')} faster than {baseline} for {step} ({', '.join(parts)}){versus}")
    return f"{what}, " + "; ".join(phrases) if phrases else f"{what}: no per-layer plan (no measured cell)"


def _ms(value) -> str:
    return f"{value * 1e3:.4g}" if value is not None and np.isfinite(value) else "n/a"


def _totals_table(run) -> list[str]:
    from ..plots.text import markdown_table
    totals, parts = network_rows(run), parts_of(run.summary)
    table = pd.DataFrame({"threads": totals["threads"], "row": totals["row"], "strategy": totals["strategy"]})
    for p in parts + ["mixing"]:
        gaps = totals[f"{p}_substituted"].astype(int).astype(str) + "/" + \
            totals[f"{p}_missing"].astype(int).astype(str)
        table[f"{PART_NAMES.get(p, p)} (ms)"] = totals[f"{p}_s"].map(_ms) + \
            np.where(gaps == "0/0", "", " (" + gaps + ")")
    table["training step (ms)"] = totals["training_s"].map(_ms)
    for p in parts + ["training"]:
        table[f"{PART_NAMES.get(p, p)} speedup"] = [_ratio(r, p) for r in totals.to_dict("records")]
    if table["threads"].nunique() == 1:
        table = table.drop(columns="threads")
    return [markdown_table(table)]


def _layer_cell(r: dict) -> str:
    """"winograd 27.7 ms, 1.04x [0.87, 1.08]; tied: im2col, winograd ~": one layer and pass of the plan."""
    speedup = _ratio({"x_speedup": r["speedup"], "x_lo": r["speedup_lo"], "x_hi": r["speedup_hi"]}, "x")
    marks = ("~" if r["noisy"] else "") + ("!" if r["contended"] else "") + ("?" if r["uncontested"] else "")
    return (f"{r['choice']} {_ms(r['choice_s'])} ms, {speedup}"
            + (f" (+{_ms(r['mixing_s'])} ms forward)" if r["mixing_s"] > 0 else "")
            + (f"; tied: {r['winners'].replace('|', ', ')}" if "|" in str(r["winners"]) else "")
            + (f" {marks}" if marks else ""))


def _layer_table(run) -> list[str]:
    from ..plots.text import markdown_table
    rec = recommendation(run)
    if rec.empty:
        return ["*No layer has a measured strategy: no plan.*"]
    rec["text"] = [_layer_cell(r) for r in rec.to_dict("records")]
    index = ["shape", "count"] + (["threads"] if rec["threads"].nunique() > 1 else [])
    wide = rec.pivot_table(index=index, columns="pass", values="text", aggfunc="first", sort=False)
    wide = wide.reindex(columns=[p for p in PART_NAMES if p in wide.columns]).rename(columns=PART_NAMES)
    wide.columns.name = None
    return [markdown_table(wide.reset_index().rename(columns={"shape": "layer"}))]


def report_section(run) -> list[str]:
    """Markdown lines for report.md, right after the Conditions line: the headline, the network totals,
    the plan per layer, auto's regret when it ran, the machine."""
    if run.summary.empty or not measured(run.summary).any():
        return []
    baseline, env = run.config.get("baseline"), run.env
    gemm = ", ".join(f"{float(v):.3g} GFLOP/s at {_budget(int(k))}" for k, v in (env.get("gemm_gflops") or {}).items())
    rule = ("The plan takes each (layer, pass)'s winner (the summary's one rule); ties go to the *simpler* strategy: "
            "a direct algorithm before a fast one, a fast family of smaller error growth before a larger one, a plain "
            "strategy before a variant with options, then the name (a forward tie goes first to the strategy with "
            "the least forward + backward after it). It keeps to auto's default accuracy budget (float32 error within "
            f"{DEFAULT_ERROR_FACTOR:g}x the direct "
            "algorithm's tolerance). A backward by another strategy than the forward's needs that strategy's forward "
            "cache: its forward is counted (`mixing`). Totals: each layer's median times its count; (a/b) = layers "
            f"counted at {baseline}'s time / with no time at all. Speedups over {baseline} with [95% bootstrap "
            "intervals] over the raw samples. ~ noisy, ! contended, ? uncontested: such cells are used, and marked.")
    lines = ["## Plan: which strategy per layer", "", f"**{headline(run)}**", "", rule, "",
             "### Network totals", "", *_totals_table(run), "", "### Per layer (recommendation.csv)", "",
             *_layer_table(run), ""]
    regrets = regret_lines(run)
    if regrets:
        lines += ["### auto", "", *regrets, ""]
    lines += [f"Measured on {env.get('cpu_model', 'an unknown CPU')} ({env.get('host', '?')}), GEMM rate "
              f"{gemm or 'not recorded'}; `python -m harness.plan {run.path} -o plan.json` makes a plan "
              f"`auto[plan=plan.json]` runs.", ""]
    return lines
