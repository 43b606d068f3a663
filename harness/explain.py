"""Why each strategy takes its time, in words generated from the run's numbers (no hand-written figures).

For each shape and pass, one sentence per measured strategy: how its executed multiplies
compare with the baseline's, which of its steps dominates its time and what bounds that
step (the memory bandwidth or the compute ceiling it reaches, from the step's roofline),
its roofline efficiency, and its speedup over the baseline.  Also how well the steps timed
one by one add up to the whole call (:func:`phase_agreement`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .roofline import fft_rate

GROUP = ["shape", "strategy", "pass", "threads"]


def phase_agreement(phases: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the sum of its phase medians over the median of the calls they were timed in."""
    p = phases[(phases["process"] == 0) & phases["median_s"].notna()]
    if p.empty:
        return pd.DataFrame(columns=[*GROUP, "phase_sum_over_call"])
    per_cell = p.groupby(GROUP, sort=False).agg(total=("median_s", "sum"), call=("call_median_s", "first"))
    return per_cell.assign(phase_sum_over_call=per_cell["total"] / per_cell["call"]).reset_index()


def _bound(phase: pd.Series, env: dict) -> str:
    """What bounds one timed step: its memory traffic or its arithmetic, with the rate it reached."""
    t = phase["threads"]
    seconds = phase["median_s"]
    gemm = float((env.get("gemm_gflops") or {}).get(str(int(t)), np.nan))
    bandwidth = float((env.get("bandwidth_gb_per_s") or {}).get(str(int(t)), np.nan))
    flops = float(phase["product_flops"] + phase["gemm_transform_flops"] + phase["transform_flops"])
    compute = flops / (gemm * 1e9) + (phase["fft_flops"] / (fft_rate(env, t, phase["fft_length"]) * 1e9)
                                      if phase["fft_flops"] else 0.0)
    memory = phase["bytes"] / (bandwidth * 1e9)
    if not np.isfinite(compute) or not np.isfinite(memory) or seconds <= 0:
        return "its costs unknown"
    if memory >= compute:
        return f"bound by memory traffic ({phase['bytes'] / seconds / 1e9:.3g} GB/s of {bandwidth:.3g})"
    done = (flops + phase["fft_flops"]) / seconds / 1e9
    return f"bound by arithmetic ({done:.3g} GFLOP/s; GEMM ceiling {gemm:.3g})"


def _positive(value) -> bool:
    """A count that is known (a strategy that does not describe its costs has none) and above zero."""
    return pd.notna(value) and value > 0


def sentences(summary: pd.DataFrame, phases: pd.DataFrame, env: dict, baseline: str | None) -> list[str]:
    """Markdown lines: per shape and pass, one sentence per measured strategy (see the module docstring)."""
    ok = summary[(summary["status"] == "ok") & summary["median_s"].notna()]
    timed = phases[(phases["process"] == 0) & phases["median_s"].notna()]
    lines = []
    for (shape, pass_, threads), group in ok.groupby(["shape", "pass", "threads"], sort=False):
        base = group[group["strategy"] == baseline]
        parts = []
        for _, cell in group.sort_values("median_s").iterrows():
            words = [f"**{cell['strategy']}**"]
            if len(base) and cell["strategy"] != baseline and _positive(base.iloc[0]["multiplies"]) and \
                    _positive(cell["multiplies"]):
                ratio = base.iloc[0]["multiplies"] / cell["multiplies"]
                if abs(ratio - 1) > 0.02:
                    words.append(f"{ratio:.2f}x fewer multiplies than {baseline}" if ratio > 1
                                 else f"{1 / ratio:.2f}x more multiplies than {baseline}")
            own = timed[(timed["shape"] == shape) & (timed["strategy"] == cell["strategy"]) &
                        (timed["pass"] == pass_) & (timed["threads"] == threads)]
            if len(own):
                top = own.loc[own["median_s"].idxmax()]
                share = top["median_s"] / own["median_s"].sum()
                words.append(f"{share:.0%} of its time is {top['phase']}, {_bound(top, env)}")
            if pd.notna(cell["roofline_efficiency"]):
                words.append(f"roofline efficiency {cell['roofline_efficiency']:.0%}")
            speedup = cell["speedup"]
            if pd.notna(speedup) and cell["strategy"] != baseline:
                words.append(f"{speedup:.2f}x faster than {baseline}" if speedup >= 1
                             else f"{1 / speedup:.2f}x slower than {baseline}")
            parts.append(words[0] + ": " + "; ".join(words[1:]) if len(words) > 1 else words[0])
        lines.append(f"- *{shape}, {pass_.replace('_', ' ')}{f', {threads} threads' if threads > 1 else ''}*: "
                     + ". ".join(parts) + ".")
    return lines


def section(summary: pd.DataFrame, phases: pd.DataFrame, env: dict, baseline: str | None) -> list[str]:
    """The report's "Why" section: the sentences and how well the phases add up."""
    lines = sentences(summary, phases, env, baseline)
    if not lines:
        return []
    agree = phase_agreement(phases)["phase_sum_over_call"].dropna()
    note = (f"The steps timed one by one add up to {agree.median():.0%} of the whole call's time (median over "
            f"{len(agree)} cells; from {agree.min():.0%} to {agree.max():.0%})." if len(agree) else "")
    return ["## Why", "", "Generated from this run's numbers: executed multiplies (strategies.costs), the dominant "
            "step's share and what bounds it (its roofline against the ceilings measured in this run), the cell's "
            "roofline efficiency and its speedup. " + note, "", *lines, ""]
