"""``find``: every strategy on one layer, now, ranked per pass (what cuDNN's Find returns).

    python -m harness.find N=8 C=64 H=56 F=64 K=3 stride=1 pad=1 [W=..] [HH=.. WW=..] \
        [passes=forward,backward_data,backward_filter] [threads=1] [dtype=float32] \
        [strategies=im2col,fft,parallel[base=fft,n_jobs=2]]

or ``find(x_shape, w_shape, conv_param, passes=...)`` from Python, a DataFrame.  Each pass is
one contest of the harness (:func:`harness.load_guard.measure_contest`: the oracle check, the
cell-time prediction that keeps the naive loops to a prediction on big layers (``hopeless``),
rounds, the load guard), summarised by the one winner/tie rule (:func:`harness.summary.summarize`).
Timing is :data:`FIND_TIMING`: the quick defaults with shorter cells, no per-step timing and
no re-measurement (a contended contest is flagged ``!``, not measured again), so a ResNet
layer takes seconds; cores are not locked against other runs (a run folder's lock is for
sweeps).  The oracle checks every entrant before the predictor rules one hopeless, so the
naive loops still run once on one image of the batch (~1-2 s per pass on a ResNet layer).
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import asdict

import pandas as pd

from strategies.geometry import ConvProblem
from strategies.passes import PASSES

from .cell import Contest
from .config import TimingConfig
from .isolation import Inputs
from .load_guard import measure_contest
from .measure.cpus import available_cpus
from .measure.environment import cpu_model
from .measure.load import CoreLoad
from .config import DEFAULT_BASELINE
from .settings import OPTION_LOADERS, CellSettings
from .summary import summarize
from .sweeps import Shape
from .variants import resolve_variants

FIND_TIMING = TimingConfig(name="find", min_seconds=0.05, phase_repeats=0, load_retries=0)
DEFAULT_PASSES = ("forward", "backward_data", "backward_filter")
COLUMNS = ["pass", "rank", "strategy", "role", "median_ms", "speedup", "workspace_mb", "peak_mb", "status", "reason",
           "max_error", "error_ratio", "deterministic", "winner", "tied", "noisy", "contended"]


def find(x_shape, w_shape, conv_param, passes=DEFAULT_PASSES, dtype="float32", threads: int = 1,
         strategies=None, timing: TimingConfig = FIND_TIMING, seed: int = 0) -> pd.DataFrame:
    """Every registered strategy (or ``strategies``) timed on one layer, per pass, fastest first (:data:`COLUMNS`)."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, conv_param)   # the strategies' own validation
    shape = Shape(**asdict(problem), name="layer")
    bad = [p for p in passes if p not in PASSES]
    if bad or not passes:
        raise ValueError(f"passes must be some of {list(PASSES)}; got {list(passes)}")
    variants = resolve_variants(strategies, [threads], OPTION_LOADERS)
    settings = CellSettings(dtype=dtype, seed=seed, exact_inputs=False, oracle_max_gflop=0.5, allocator="default",
                            timing=timing)
    common = {"run_id": "find", "cpu_model": cpu_model(), "host": "", "cpus": ""}
    inputs, load, rows = Inputs(settings), CoreLoad(available_cpus()), []
    for pass_ in passes:
        rows += measure_contest(Contest(shape, pass_, threads), variants, inputs, settings, common, load).rows
    results = pd.DataFrame(rows)
    baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in {v.label for v in variants} else None
    summary = summarize(results, baseline)
    table = summary.assign(median_ms=summary["median_s"] * 1e3, workspace_mb=summary["workspace_bytes"] / 2 ** 20,
                           peak_mb=summary[["mem_tracemalloc_bytes", "mem_rss_bytes"]].max(axis=1) / 2 ** 20,
                           max_error=summary[[f"err_{q}" for q in ("out", "dx", "dw", "db")]].max(axis=1),
                           deterministic=summary["bitwise_repeatable"])
    order = {p: i for i, p in enumerate(PASSES)}
    table = table.sort_values(["pass", "median_s"], key=lambda c: c.map(order) if c.name == "pass" else c,
                              na_position="last")
    return table[COLUMNS].reset_index(drop=True)


def format_table(table: pd.DataFrame) -> str:
    """The ranked table per pass, as the console shows it."""
    shown = table.assign(rank=table["rank"].map(lambda r: "" if pd.isna(r) else f"{int(r)}"),
                         mark=table["winner"].map({True: "*"}).fillna("") +
                         table["tied"].map({True: "="}).fillna("") + table["noisy"].map({True: "~"}).fillna("") +
                         table["contended"].map({True: "!"}).fillna(""))
    shown["reason"] = shown["reason"].str.slice(0, 60)
    parts = []
    for pass_, g in shown.groupby("pass", sort=False):
        g = g[["rank", "mark", "strategy", "median_ms", "speedup", "workspace_mb", "peak_mb", "status", "max_error",
               "deterministic", "reason"]]
        parts.append(f"{pass_}:\n" + g.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return "\n\n".join(parts) + "\n* fastest, = tied with it (within noise), ~ noisy, ! contended; peers never rank"


def _arguments(argv: list[str]) -> dict:
    values = {}
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"argument {item!r} is not key=value (e.g. N=8 C=64 H=56 F=64 K=3 stride=1 pad=1)")
        values[key] = value
    return values


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    started = time.perf_counter()
    try:
        a = _arguments(argv)
        known = {"N", "C", "H", "W", "F", "K", "HH", "WW", "stride", "pad", "passes", "threads", "dtype", "strategies"}
        unknown = sorted(set(a) - known)
        if unknown:
            raise ValueError(f"unknown arguments {unknown}; expected some of {sorted(known)}")
        n = {k: int(v) for k, v in a.items() if k in known - {"passes", "dtype", "strategies"}}
        for k in ("N", "C", "H", "F"):
            if k not in n:
                raise ValueError(f"missing {k}=... (e.g. N=8 C=64 H=56 F=64 K=3 stride=1 pad=1)")
        HH, WW = n.get("HH", n.get("K")), n.get("WW", n.get("HH", n.get("K")))
        if HH is None:
            raise ValueError("missing the kernel size: K=... (or HH=... WW=...)")
        table = find((n["N"], n["C"], n["H"], n.get("W", n["H"])), (n["F"], n["C"], HH, WW),
                     {"stride": n.get("stride", 1), "pad": n.get("pad", 0)},
                     passes=a["passes"].split(",") if "passes" in a else DEFAULT_PASSES,
                     dtype=a.get("dtype", "float32"), threads=n.get("threads", 1),
                     strategies=re.findall(r"[^,\[\]]+(?:\[[^\]]*\])?", a["strategies"]) if "strategies" in a else None)
    except ValueError as err:
        sys.exit(f"convbench: error: {err}")
    print(format_table(table))
    print(f"\n{cpu_model()}, {a.get('dtype', 'float32')}, {n.get('threads', 1)} thread(s); "
          f"wall {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
