"""The roofline of a cell: how fast its phases could run on this machine, from their costs and the run's ceilings.

For each named step (a row of phases.csv, with the step's analytic costs)::

    roofline_s(phase) = max( (product + gemm_transform + transform flops) / GEMM rate
                             + fft flops / FFT rate at the step's transform length,
                             bytes / memory bandwidth )

and a cell's ``roofline_s`` is the sum over its steps; ``roofline_efficiency`` is
``roofline_s / median_s``: 1 means the code runs at the machine's ceilings, and it is in
(0, 1] by construction up to noise.  A value above ~1.2 means the model is wrong (a count
too high, a ceiling measured too low): fix the model, never clip.  The ceilings are the
ones measured in the same run (env.json, :mod:`harness.measure.ceilings`) at the cell's
thread budget.
"""
from __future__ import annotations

import math

import pandas as pd


def _ceiling(env: dict, key: str, threads) -> float:
    value = (env.get(key) or {}).get(str(int(threads)))
    return float(value) if value else math.nan


def fft_rate(env: dict, threads, length) -> float:
    """GFLOP/s of scipy.fft at ``length`` (the best measured one when that length was not probed)."""
    rates = (env.get("fft_gflops") or {}).get(str(int(threads))) or {}
    if not rates:
        return math.nan
    exact = rates.get(str(int(length))) if length and length == length else None
    return float(exact if exact else max(rates.values()))


def phase_roofline(phase: pd.Series, env: dict, threads) -> float:
    """Roofline seconds of one phase row (see the module docstring); NaN without its costs or ceilings."""
    gemm, bandwidth = _ceiling(env, "gemm_gflops", threads), _ceiling(env, "bandwidth_gb_per_s", threads)
    flops = [phase.get(k) for k in ("product_flops", "gemm_transform_flops", "transform_flops", "fft_flops")]
    if any(pd.isna(v) for v in flops) or pd.isna(phase.get("bytes")):
        return math.nan
    product, gemm_transform, transform, fft = (float(v) for v in flops)
    compute = (product + gemm_transform + transform) / (gemm * 1e9)
    if fft:
        compute += fft / (fft_rate(env, threads, phase.get("fft_length")) * 1e9)
    return max(compute, float(phase["bytes"]) / (bandwidth * 1e9))


def with_roofline(phases: pd.DataFrame, env: dict) -> pd.DataFrame:
    """phases.csv with its ``roofline_s`` column filled from the run's ceilings."""
    if phases.empty:
        return phases.assign(roofline_s=pd.Series(dtype=float))
    return phases.assign(roofline_s=[phase_roofline(p, env, p["threads"]) for _, p in phases.iterrows()])


def cell_rooflines(phases: pd.DataFrame) -> pd.Series:
    """Roofline seconds per cell (shape, strategy, pass, threads): the sum over its phases (first process)."""
    if phases.empty:
        return pd.Series(dtype=float)
    first = phases[phases["process"] == phases.groupby(["shape", "strategy", "pass", "threads"])["process"]
                   .transform("min")]
    per_cell = first.groupby(["shape", "strategy", "pass", "threads"], sort=False)["roofline_s"]
    return per_cell.apply(lambda s: float(s.sum()) if s.notna().all() else math.nan)  # all phases, or none
