"""Where cells run: in this process, or pyperf style in fresh child processes.

``timing.processes = K`` runs the whole list of cells K times, each time in a new
child process (one after another, never concurrently), so a whole-process outlier
(an unlucky heap layout, a neighbour on the VM) shows up as one deviant process
instead of silently shifting every number.  Only the parent writes rows: the child
sends each finished cell's rows through a pipe, and the parent appends them before
the child's next cell is reported, so incremental writes and resume work as in
process.

Children are started with ``spawn`` (a fresh interpreter: no inherited heap, no
inherited thread pools); they inherit the environment, which is how the allocator
setting reaches them (see :mod:`harness.allocator`).  A child that dies mid-cell
leaves that cell as an ``error`` row and a new child takes the remaining cells.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from typing import Iterator

from .cell import CellSettings, ShapeData, run_cell

#: (shape, variant, threads, pass)
Cell = tuple


def run_here(cells: list[Cell], settings: CellSettings) -> Iterator[tuple[Cell, list[dict]]]:
    """Run cells in this process, yielding each cell's rows as soon as it finishes."""
    data = None
    for cell in cells:
        shape, variant, threads, pass_ = cell
        if data is None or data.shape != shape:
            data = ShapeData(shape, settings)  # inputs made once per shape
        yield cell, run_cell(data, variant, threads, pass_)


def _child_main(cells: list[Cell], settings: CellSettings, conn) -> None:
    for _, rows in run_here(cells, settings):
        conn.send(rows)
    conn.close()


def run_in_child(cells: list[Cell], settings: CellSettings) -> Iterator[tuple[Cell, list[dict]]]:
    """Run cells in fresh child processes, yielding each cell's rows in the parent."""
    ctx = multiprocessing.get_context("spawn")
    remaining = list(cells)
    while remaining:
        receiver, sender = ctx.Pipe(duplex=False)
        # not daemonic: a daemonic process may not start processes, and loky workers must
        child = ctx.Process(target=_child_main, args=(remaining, settings, sender), daemon=False)
        child.start()
        sender.close()
        done = 0
        try:
            while done < len(remaining):
                try:
                    rows = receiver.recv()
                except EOFError:  # the child died mid-cell
                    break
                yield remaining[done], rows
                done += 1
        finally:
            if child.is_alive() and done < len(remaining):
                child.terminate()
            child.join()
            receiver.close()
        if done < len(remaining):
            yield remaining[done], [_died_row(remaining[done], settings, child.exitcode)]
            done += 1
        remaining = remaining[done:]


def _died_row(cell: Cell, settings: CellSettings, exitcode) -> dict:
    shape, variant, threads, pass_ = cell
    return {**shape.columns(), "strategy": variant.spec, "strategy_name": variant.name, "pass": pass_,
            "dtype": settings.dtype, "threads": threads, "allocator": settings.allocator,
            "status": "error", "reason": f"child process died during the cell (exit code {exitcode})"}


class MachineLoad:
    """System-wide load and VM steal time between two moments (from /proc/stat).

    ``steal_fraction``: share of CPU time the hypervisor gave to other guests while
    the cell ran; a high value marks an outlier caused by neighbours, not the code.
    """

    def __init__(self):
        self._last = self._read()

    @staticmethod
    def _read() -> list[int] | None:
        try:
            with open("/proc/stat") as fh:
                fields = fh.readline().split()
            return [int(v) for v in fields[1:]]
        except (OSError, ValueError, IndexError):
            return None

    def since_last(self) -> dict:
        """Load average and steal fraction since the previous call (or creation)."""
        now = self._read()
        steal = None
        if now is not None and self._last is not None and len(now) > 7:
            delta = [a - b for a, b in zip(now, self._last)]
            total = sum(delta[:8])  # user nice system idle iowait irq softirq steal
            steal = delta[7] / total if total > 0 else 0.0
        self._last = now
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = None
        return {"load_1min": load, "steal_fraction": steal, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")}
