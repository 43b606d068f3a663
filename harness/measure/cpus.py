"""The cores this process may use, pinning to a set sized to the thread budget, and a lock per core.

No two convbench jobs share a core.  A job takes an ``flock`` on one file per core it pins
itself to (``<tmp>/convbench-cores/cpu<N>.lock``, holding the pid, host and run folder of
the holder); a core whose lock another job holds is not free.  ``flock`` locks die with
their process, so a killed job frees its cores at once; a lock file left behind is only a
name.  Jobs pinned to disjoint core sets (shards on one machine, or Hydra's joblib
launcher) then never compete for a core, and the load guard (:mod:`harness.measure.load`)
counts only what runs on the job's own cores.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from pathlib import Path

#: where the per-core locks live: shared by every job of the machine (``CONVBENCH_CORE_LOCK_DIR`` moves it)
LOCK_DIR = Path(os.environ.get("CONVBENCH_CORE_LOCK_DIR") or Path(tempfile.gettempdir()) / "convbench-cores")


def available_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity mask where the OS has one), sorted."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


class CoresTaken(RuntimeError):
    """Fewer free cores than the thread budget needs (the message names the holders)."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another convbench job"
    return f"convbench pid {info.get('pid')} on {info.get('host')} ({info.get('run_dir')})"


@contextlib.contextmanager
def pinned_cores(count: int, run_dir: str, lock_dir: Path | None = None):
    """Claim ``count`` free cores of this process's affinity mask, pin to them, yield their numbers.

    Refuses with :class:`CoresTaken` (before any work) when fewer are free.  The pinning and
    the locks are undone on exit.
    """
    lock_dir = Path(lock_dir or LOCK_DIR)
    lock_dir.mkdir(parents=True, exist_ok=True)
    before = available_cpus()
    held, busy = [], {}
    # picking is one step for the whole machine: two jobs starting together cannot each take half
    claim = os.open(lock_dir / "claim.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    fcntl.flock(claim, fcntl.LOCK_EX)
    try:
        for cpu in before:
            if len(held) == count:
                break
            path = lock_dir / f"cpu{cpu}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                busy[cpu] = _holder(path)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "run_dir": str(run_dir)}).encode())
            held.append((cpu, fd))
        if len(held) < count:
            taken = "; ".join(f"cpu {c}: {who}" for c, who in busy.items()) or "none"
            raise CoresTaken(f"the thread budget needs {count} free core(s) of {before}, but only "
                             f"{len(held)} are free (taken: {taken}); run fewer jobs at once or give each "
                             f"its own cores")
        os.close(claim)           # the cores are ours: others may pick from the rest
        claim = None
        cpus = [c for c, _ in held]
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
        yield cpus
    finally:
        if claim is not None:
            os.close(claim)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, before)
        for _, fd in held:
            os.close(fd)   # releases the flock
