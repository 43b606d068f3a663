"""The one schema: every column of results.csv, summary.csv and phases.csv, with its type, unit and meaning.

Rows are built against it (:func:`row`), files are checked against it on load
(:func:`check_columns`), and README's column tables are generated from it
(``python -m harness.schema``; a test fails when README drifts from it).
Bump :data:`SCHEMA_VERSION` when a column changes meaning.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterable, Mapping

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str      # "str", "int", "float" or "bool" (int and bool columns may be empty)
    unit: str
    meaning: str


SHAPE = [
    Column("shape", "str", "", "layer name from the sweep"),
    Column("count", "int", "", "how often the layer occurs in the network"),
    Column("N", "int", "", "batch size"),
    Column("C", "int", "", "input channels"),
    Column("H", "int", "", "input height"),
    Column("W", "int", "", "input width"),
    Column("F", "int", "", "filters (output channels)"),
    Column("HH", "int", "", "kernel height"),
    Column("WW", "int", "", "kernel width"),
    Column("stride", "int", "", "stride"),
    Column("pad", "int", "", "zero padding on each side"),
]
ENTRANT = [
    Column("strategy", "str", "", "canonical label of the entrant, e.g. parallel[base=fft,n_jobs=2]"),
    Column("strategy_name", "str", "", "its registry name"),
    Column("role", "str", "", "strategy (ours), peer (another library, never a winner) or dispatcher (auto)"),
    Column("family", "str", "", "numerical family the oracle's error bound is chosen by"),
    Column("pass", "str", "", "forward, backward_data (dx), backward_filter (dw, db) or backward (all)"),
    Column("dtype", "str", "", "float32 or float64"),
    Column("threads", "int", "", "thread budget of the cell"),
]
STATUS = [
    Column("status", "str", "", "ok, unsupported, skipped, hopeless, mismatch or error"),
    Column("reason", "str", "", "why a cell has no time or failed (empty when ok)"),
    Column("noisy", "bool", "", "IQR/median above timing.noise_threshold"),
    Column("contended", "bool", "", "other work ran on the run's cores during the contest, after retries"),
    Column("uncontested", "bool", "", "the only entrant of its contest with a time"),
    Column("few_samples", "bool", "", "fewer than 3 samples (timing.min_repeats lowered)"),
]
ORACLE = [
    *(Column(f"err_{q}", "float", "", f"max relative error of {q} vs the float64 oracle")
      for q in ("out", "dx", "dw", "db")),
    *(Column(f"tol_{q}", "float", "", f"tolerance of {q} (harness.oracle.tolerance)") for q in ("out", "dx", "dw", "db")),
    Column("error_ratio", "float", "", "worst error / its own tolerance over the pass's quantities (> 1: mismatch)"),
    Column("oracle_batch", "int", "images", "leading images of the batch the oracle checked"),
    Column("bitwise_repeatable", "bool", "", "two calls on the same inputs gave identical bits"),
]
COSTS = [
    Column("multiplies", "float", "flop", "flops of the heavy products as executed (strategies.costs)"),
    Column("transform_flops", "float", "flop", "flops outside the heavy products (strategies.costs)"),
    Column("workspace_bytes", "float", "B", "analytic peak bytes allocated beyond inputs and outputs"),
    Column("bytes_moved", "float", "B", "analytic compulsory memory traffic"),
]
MEMORY = [
    Column("mem_tracemalloc_bytes", "float", "B", "peak extra memory of one call seen by tracemalloc"),
    Column("mem_rss_bytes", "float", "B", "rise of the RSS high-water mark during one call"),
    Column("memory_note", "str", "", "what the memory tracer cannot see of this strategy"),
]
WHERE = [
    Column("host", "str", "", "machine the row was measured on"),
    Column("cpu_model", "str", "", "its CPU"),
    Column("cpus", "str", "", "the cores the run could use (pinned ones with pin_cpus=true)"),
    Column("gemm_gflops", "float", "GFLOP/s", "the run's measured GEMM rate at this thread budget"),
    Column("bandwidth_gb_per_s", "float", "GB/s", "the run's measured memory bandwidth at this thread budget"),
    Column("job", "str", "", "scheduler job id (SLURM) or Hydra job number, empty for a single run"),
    Column("allocator", "str", "", "glibc allocator policy: default or pinned"),
    Column("exact_inputs", "bool", "", "inputs were small integers (every direct product exact)"),
]

RESULTS = [
    Column("schema_version", "int", "", "version of this schema"),
    Column("run_id", "str", "", "the run folder's name"),
    *SHAPE, *ENTRANT, Column("process", "int", "", "which fresh process measured it (timing.processes)"),
    *STATUS,
    Column("repeat", "int", "", "sample number within the cell (empty for a cell not timed)"),
    Column("round", "int", "", "contest round the sample was taken in (entrants alternate by round)"),
    Column("seconds", "float", "s", "per-call time of one sample (the mean of block_calls calls)"),
    Column("block_calls", "int", "", "back-to-back calls one sample averages"),
    Column("cold_seconds", "float", "s", "the first call of the cell, timed apart"),
    Column("flops", "float", "flop", "the direct algorithm's flops for the pass (every strategy is credited these)"),
    Column("gflops", "float", "GFLOP/s", "flops / seconds"),
    Column("predicted_seconds", "float", "s", "per-call time predicted before the cell ran (probe on a reduced problem)"),
    Column("decision_seconds", "float", "s", "time spent deciding whether and how to measure the cell"),
    *ORACLE, *COSTS, *MEMORY,
    Column("cell_seconds", "float", "s", "wall time the cell took, decisions and checks included"),
    Column("load_1min", "float", "", "1-minute load average after the contest"),
    Column("steal_fraction", "float", "", "share of CPU time the hypervisor gave to others during the contest"),
    Column("other_cores", "float", "cores", "other work on the run's cores during the contest"),
    Column("timestamp", "str", "", "when the contest was written (local time)"),
    *WHERE,
    Column("contest_rows", "int", "", "rows written with this contest (a shorter contest on disk is torn)"),
]

SUMMARY = [
    *SHAPE, *ENTRANT, *STATUS[:2],
    *STATUS[2:],
    Column("repeats", "int", "", "samples over all processes"),
    Column("processes", "int", "", "fresh processes that measured the cell"),
    Column("median_s", "float", "s", "median per-call time"),
    Column("iqr_s", "float", "s", "interquartile range of the samples"),
    Column("min_s", "float", "s", "fastest sample"),
    Column("median_of_process_medians_s", "float", "s", "median of each process's median"),
    Column("cold_s", "float", "s", "first call"),
    Column("flops", "float", "flop", "the direct algorithm's flops for the pass"),
    Column("gflops", "float", "GFLOP/s", "effective rate: direct flops / median"),
    Column("speedup", "float", "x", "the baseline's median / this median"),
    Column("speedup_note", "str", "", "why there is no speedup"),
    Column("speedup_vs_peer", "float", "x", "the peer's median / this median (empty without a peer)"),
    Column("rank", "float", "", "1 = fastest among the contest's ok strategies"),
    Column("winner", "bool", "", "fastest ok strategy of the contest (peers and dispatchers never win)"),
    Column("tied", "bool", "", "within noise of the winner (the one rule in harness.summary)"),
    Column("entrants_measured", "int", "", "entrants of the contest with a time"),
    Column("entrants_declined", "int", "", "entrants that declined the shape (unsupported)"),
    Column("entrants_skipped", "int", "", "entrants skipped or hopeless"),
    Column("predicted_s", "float", "s", "predicted per-call time"),
    Column("predicted_over_measured", "float", "", "the predictor's error (1 = exact)"),
    *ORACLE[:-1], Column("bitwise_repeatable", "bool", "", "two calls gave identical bits"),
    *COSTS,
    Column("roofline_s", "float", "s", "sum over phases of max(flops / ceiling, bytes / bandwidth)"),
    Column("roofline_efficiency", "float", "", "roofline_s / median_s (1 = at the machine's ceilings)"),
    *MEMORY,
    Column("load_1min", "float", "", "1-minute load average"),
    Column("other_cores", "float", "cores", "most other work seen on the run's cores"),
    *(c for c in WHERE if c.name in ("host", "cpu_model", "allocator", "exact_inputs")),
]

PHASES = [
    *(c for c in RESULTS if c.name in ("shape", "strategy", "pass", "threads", "process")),
    Column("phase", "str", "", "name of the step in the strategy's code (strategies.phases)"),
    Column("order", "int", "", "position of the step in the call"),
    Column("median_s", "float", "s", "median time of the step over timing.phase_repeats calls"),
    Column("iqr_s", "float", "s", "its interquartile range"),
    Column("call_median_s", "float", "s", "median time of the whole calls the steps were timed in"),
    Column("product_flops", "float", "flop", "heavy-product flops of the step (strategies.costs)"),
    Column("gemm_transform_flops", "float", "flop", "flops of transforms done as matrix products"),
    Column("fft_flops", "float", "flop", "flops of FFTs"),
    Column("transform_flops", "float", "flop", "flops of element-wise work"),
    Column("bytes", "float", "B", "the step's compulsory memory traffic"),
    Column("fft_length", "int", "", "length of the step's 1-D transforms (0: none or unknown)"),
    Column("contest_rows", "int", "", "rows written with this contest"),
]

TABLES = {"results.csv": RESULTS, "summary.csv": SUMMARY, "phases.csv": PHASES}


def names(columns: list[Column]) -> list[str]:
    return [c.name for c in columns]


def pandas_dtypes(columns: list[Column]) -> dict[str, str]:
    """read_csv dtypes: strings stay strings (object); the rest pandas infers."""
    return {c.name: "object" for c in columns if c.dtype == "str"}


def coerce(frame, columns: list[Column]):
    """A table read from CSV with its bool columns as booleans (empty -> False) and str columns as strings."""
    for c in columns:
        if c.name not in frame:
            continue
        if c.dtype == "bool":
            frame[c.name] = frame[c.name].map(lambda v: v is True or str(v) == "True")
        elif c.dtype == "str":
            frame[c.name] = frame[c.name].fillna("").astype(str)
    return frame


def row(columns: list[Column], values: Mapping[str, object]) -> dict:
    """One row with every column of the table, in order (missing ones empty); unknown keys are an error."""
    unknown = sorted(set(values) - set(names(columns)))
    if unknown:
        raise ValueError(f"values for columns outside the schema: {unknown}")
    out = {c.name: values.get(c.name) for c in columns}
    for key, value in out.items():   # one physical line per row: a reason with a newline is folded
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            out[key] = " ".join(value.split())
    return out


def check_columns(found: Iterable[str], columns: list[Column], path) -> None:
    """A clear error when a file's header is not the schema's (missing, unexpected or reordered columns)."""
    found, expected = list(found), names(columns)
    if found == expected:
        return
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    detail = "; ".join(filter(None, [f"missing {missing}" if missing else "",
                                     f"unexpected {extra}" if extra else "",
                                     "" if missing or extra else "columns in another order"]))
    raise ValueError(f"{path} does not have the columns of convbench schema_version {SCHEMA_VERSION}: {detail}")


def markdown(columns: list[Column]) -> str:
    """The README table of a file's columns."""
    lines = ["| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.unit} | {c.meaning} |" for c in columns]
    return "\n".join(lines)


def readme_section() -> str:
    """What README's "Columns" section holds, between its markers."""
    parts = []
    for name, columns in TABLES.items():
        parts += [f"#### `{name}`", "", markdown(columns), ""]
    return "\n".join(parts).rstrip() + "\n"


BEGIN, END = "<!-- schema:begin -->", "<!-- schema:end -->"


def with_readme_section(text: str) -> str:
    """README text with the part between the schema markers replaced by :func:`readme_section`."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{readme_section()}{END}{tail}"


if __name__ == "__main__":
    # python -m harness.schema              print README's column tables
    # python -m harness.schema README.md    rewrite them in place
    if len(sys.argv) > 1:
        path = sys.argv[1]
        with open(path) as f:
            text = with_readme_section(f.read())
        with open(path, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(readme_section())
