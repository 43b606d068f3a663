"""The run folder's tables: a contest is on disk whole or not at all, and every load checks the file.

Writes.  A contest's rows are one append (:func:`append_unit`): every byte is written (a
short write is continued, not ignored), with Ctrl-C and SIGTERM held off until it is done,
then fsync'd.  Each row carries ``contest_rows``, how many rows its contest wrote, so a
contest cut short on disk (a full disk, a killed machine) is recognisable.

Loads (:func:`read_table`).  The header must be the schema's (:mod:`harness.schema`); each
line must have its fields; each contest must be whole and appear once.  A partial contest
at the *end* of the file (a torn or short last write) is left out, logged with what was
cut, and with ``repair=True`` (resume) cut from the file, so the run goes on; damage
anywhere else is refused with its line number, because guessing there could lose or
duplicate cells.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import signal
from pathlib import Path

import pandas as pd

from . import schema

log = logging.getLogger(__name__)
RESULTS_FILE, PHASES_FILE = "results.csv", "phases.csv"
#: what identifies a contest (the unit written) and a cell within it
CONTEST_KEY = ["shape", "pass", "threads", "process"]
CELL_KEY = ["shape", "strategy", "pass", "threads", "process"]


def to_csv(rows: list[dict], columns: list[schema.Column], header: bool) -> bytes:
    frame = pd.DataFrame(rows, columns=schema.names(columns))
    return frame.to_csv(header=header, index=False, lineterminator="\n").encode()


def append_unit(path: Path, rows: list[dict], columns: list[schema.Column]) -> None:
    """Append one contest's rows to ``path`` (with the header when the file is new), whole, durably."""
    if not rows:
        return
    statuses = {r.get("status") for r in rows} - {None}
    if "status" in schema.names(columns) and statuses - set(STATUSES):
        raise ValueError(f"unknown status {sorted(statuses - set(STATUSES))}; expected one of {STATUSES}")
    new = not path.exists() or path.stat().st_size == 0
    data = memoryview(to_csv(rows, columns, header=new))
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:                      # a short write is continued; an error (disk full) raises
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


STATUSES = ("ok", "unsupported", "skipped", "hopeless", "mismatch", "error")


def read_table(path: Path, columns: list[schema.Column], repair: bool = False) -> pd.DataFrame:
    """The table at ``path`` checked against ``columns`` (empty when absent); see the module docstring."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=schema.names(columns))
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    torn = lines[-1] != b""              # the last write did not end its line
    lines = lines[:-1] if not torn else lines
    header = next(csv.reader([lines[0].decode(errors="replace")]))
    schema.check_columns(header, columns, path)
    width, offsets, good = len(header), [], []
    position = len(lines[0]) + 1
    for number, line in enumerate(lines[1:], start=2):
        fields = next(csv.reader([line.decode(errors="replace")]), [])
        last = number == len(lines)
        if len(fields) != width or (last and torn):
            if last:
                torn = True
                break
            raise ValueError(f"{path}: line {number} has {len(fields)} fields where the schema has {width}: "
                             f"the file is damaged there (not at its end); repair or remove it by hand")
        offsets.append(position)
        good.append(line)
        position += len(line) + 1
    text = b"\n".join([lines[0], *good]).decode() + "\n"
    frame = pd.read_csv(io.StringIO(text), dtype=schema.pandas_dtypes(columns), keep_default_na=True)
    keep = _whole_contests(frame, path, torn)
    if keep < len(frame) or torn:
        cut_at = offsets[keep] if keep < len(offsets) else position
        log.warning("%s: the last contest on disk is partial (%d whole row(s) of it%s): cut back to the last "
                    "complete contest%s", path, len(frame) - keep, ", and a torn line" if torn else "",
                    "" if repair else " (in memory; resume cuts it from the file)")
        frame = frame.iloc[:keep]
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut_at)
                os.fsync(f.fileno())
    return schema.coerce(frame, columns).reset_index(drop=True)


def _whole_contests(frame: pd.DataFrame, path, torn: bool) -> int:
    """How many leading rows form whole contests; a partial one is allowed only at the end."""
    if frame.empty:
        return 0
    keys = frame[CONTEST_KEY].astype(str).agg("|".join, axis=1).to_numpy()
    sizes = frame["contest_rows"].to_numpy()
    seen, start = {}, 0
    while start < len(frame):
        end = start
        while end < len(frame) and keys[end] == keys[start]:
            end += 1
        if keys[start] in seen:
            raise ValueError(f"{path}: contest {keys[start]} appears twice (lines {seen[keys[start]] + 2} and "
                             f"{start + 2}); a run folder holds each contest once")
        expected = sizes[start]
        if not (end - start == expected and (sizes[start:end] == expected).all()):
            if end == len(frame):
                return start                      # a partial contest at the end: cut
            raise ValueError(f"{path}: the contest at line {start + 2} has {end - start} of its {expected} rows: "
                             f"the file is damaged there (not at its end)")
        seen[keys[start]] = start
        start = end
    return start


def load_results(run_dir, repair: bool = False) -> pd.DataFrame:
    """results.csv of a run folder, checked (see :func:`read_table`)."""
    return read_table(Path(run_dir) / RESULTS_FILE, schema.RESULTS, repair)


def load_phases(run_dir, results: pd.DataFrame | None = None, repair: bool = False) -> pd.DataFrame:
    """phases.csv of a run folder; units whose contest is not in ``results`` (written just before a crash) left out."""
    phases = read_table(Path(run_dir) / PHASES_FILE, schema.PHASES, repair=False)
    if results is None or phases.empty:
        return phases
    done = finished_contests(results)
    orphan = ~phases[CONTEST_KEY].apply(tuple, axis=1).isin(done)
    if orphan.any():
        log.warning("%s: %d phase row(s) of contests not in results.csv left out", run_dir, int(orphan.sum()))
        if repair:
            first = int(orphan.to_numpy().argmax())
            if orphan.iloc[first:].all():    # orphans are only ever at the end: cut them
                path = Path(run_dir) / PHASES_FILE
                temporary = path.with_suffix(".csv.tmp")
                temporary.write_bytes(to_csv(phases.iloc[:first].to_dict("records"), schema.PHASES, header=True))
                os.replace(temporary, path)
    return phases[~orphan].reset_index(drop=True)


def finished_contests(frame: pd.DataFrame) -> set[tuple]:
    """Keys (CONTEST_KEY) of the contests already on disk."""
    if frame.empty:
        return set()
    return set(frame[CONTEST_KEY].drop_duplicates().itertuples(index=False, name=None))
