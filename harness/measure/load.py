"""Other work on this process's cores: what the load guard reads before and during a contest.

From ``/proc/stat`` (per-CPU busy time, the hypervisor's steal included) minus the CPU time
of this process and its descendants (loky workers, isolation children) from
``/proc/<pid>/stat``: ``other_cores`` is how many cores' worth of someone else's work ran on
the CPUs this process may use while the contest ran.  Work pinned to other cores is not
counted (a shard on a disjoint core set is not competition).  Linux only; elsewhere every
reading is ``None`` and nothing is flagged.  Resolution is the kernel's clock tick (10 ms).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class LoadReading:
    """Between two moments: other work on our cores (in cores), the steal share, the 1-minute load."""

    other_cores: float | None
    steal_fraction: float | None
    load_1min: float | None
    seconds: float


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy seconds, steal seconds) summed over ``cpus`` since boot."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = steal = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        user, nice, system, idle, iowait, irq, softirq, st = (int(v) for v in fields[:8])
        busy += user + nice + system + irq + softirq + st
        steal += st
    return busy / _TICK, steal / _TICK


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of process ``root`` and every live descendant."""
    parents, times = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    total, stack = 0.0, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


class CoreLoad:
    """Readings of other work on ``cpus`` (default: the CPUs this process may use) between calls."""

    def __init__(self, cpus=None):
        self.cpus = set(cpus if cpus is not None else os.sched_getaffinity(0))
        self._last = self._now()

    def _now(self):
        cpu = _cpu_times(self.cpus)
        mine = _tree_cpu_seconds(os.getpid()) if cpu is not None else None
        return time.perf_counter(), cpu, mine

    def reading(self) -> LoadReading:
        """Other work on our cores since the previous reading (or creation)."""
        now = self._now()
        (t0, cpu0, mine0), (t1, cpu1, mine1) = self._last, now
        self._last = now
        wall = t1 - t0
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = None
        if cpu0 is None or cpu1 is None or wall <= 0:
            return LoadReading(None, None, load, wall)
        busy, steal = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        other = max(0.0, busy - (mine1 - mine0)) / wall
        return LoadReading(other, min(1.0, steal / (wall * len(self.cpus))), load, wall)


def competing(reading: LoadReading, threshold: float) -> bool:
    """Did other work run on our cores, beyond ``threshold`` cores' worth?

    Work on a core the contest itself does not use counts too: on the 2-vCPU VMs this was
    measured on, a pure CPU spinner on the *other* vCPU slowed a 1-thread im2col call by
    0-25% (the vCPUs share a physical core's resources), so "the cores this process may use"
    is the whole set.  A job pinned to its own cores (``pin_cpus=true``) reads only those.
    ``threshold`` covers the kernel's own housekeeping and the clock tick's resolution.
    """
    return reading.other_cores is not None and reading.other_cores > threshold
