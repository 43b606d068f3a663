"""The results table: its schema, and incremental writes that never lose a finished cell.

One row per (cell, repeat) -- tidy data.  A cell that was not timed (unsupported,
skipped, error) has one row with empty ``repeat`` and ``seconds``.  Each finished
cell is appended to ``results.csv`` (and fsync'd) before the next cell starts, so a
crash or Ctrl-C keeps every finished cell, and ``resume`` skips them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

#: bump when a column changes meaning, so runs from different commits can be compared safely
SCHEMA_VERSION = 1
STATUSES = ("ok", "unsupported", "skipped", "mismatch", "error")
SHAPE_COLUMNS = ["shape", "count", "N", "C", "H", "W", "F", "HH", "WW", "stride", "pad"]
#: what identifies a cell; resume skips cells whose key is already on disk
CELL_KEY = ["shape", "strategy", "pass", "threads", "process"]
COLUMNS = [
    "schema_version", "run_id", *SHAPE_COLUMNS,
    "strategy", "strategy_name", "algorithm", "pass", "dtype", "threads", "allocator", "process",
    "status", "reason", "repeat", "seconds", "block_calls", "cold_seconds", "gflops", "flops", "noisy",
    "err_out", "err_dx", "err_dw", "err_db", "error_ratio", "tolerance", "oracle_batch",
    "mem_tracemalloc_bytes", "mem_rss_bytes", "memory_note",
    "predicted_seconds", "cell_seconds", "load_1min", "steal_fraction", "timestamp",
]
RESULTS_FILE = "results.csv"


def append_cell(path: Path, rows: list[dict]) -> None:
    """Append one cell's rows to the CSV at ``path`` (header on first write), durably."""
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    unknown = set().union(*rows) - set(COLUMNS)
    if unknown:
        raise ValueError(f"rows have columns outside the schema: {sorted(unknown)}")
    bad = set(frame["status"]) - set(STATUSES)
    if bad:
        raise ValueError(f"unknown status {sorted(bad)}; expected one of {STATUSES}")
    text = frame.to_csv(header=not path.exists(), index=False).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # one write() call: Python delivers Ctrl-C between bytecodes, never inside it,
        # so a cell is on disk whole or not at all
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_results(run_dir) -> pd.DataFrame:
    """The results table of a run folder (empty frame with the schema if nothing is there)."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    text = {c: "object" for c in ("shape", "strategy", "strategy_name", "algorithm", "pass", "dtype",
                                  "allocator", "status", "reason", "memory_note", "run_id", "timestamp")}
    frame = pd.read_csv(path, dtype=text, low_memory=False)
    versions = set(frame["schema_version"].dropna().astype(int))
    if versions - {SCHEMA_VERSION}:
        raise ValueError(f"{path} has schema_version {sorted(versions)}; this convbench reads "
                         f"{SCHEMA_VERSION}")
    frame["reason"] = frame["reason"].fillna("")
    frame["memory_note"] = frame["memory_note"].fillna("")
    return frame


def finished_cells(frame: pd.DataFrame) -> set[tuple]:
    """Keys (CELL_KEY) of the cells already on disk."""
    if frame.empty:
        return set()
    return set(frame[CELL_KEY].drop_duplicates().itertuples(index=False, name=None))
