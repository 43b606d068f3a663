"""A run folder's small files: its writer's lock, config.json and env.json, and the contest in progress.

* **One writer.** A fresh run and a resume take an ``flock`` on ``.lock`` (holding the pid,
  host and start time); a second writer refuses at once, naming the holder.  The lock dies
  with its process, so the lock of a killed run is free: it is taken over with a log line
  naming the dead holder.
* **Whole files.** config.json and env.json are written to a temporary file and renamed,
  so a crash leaves the old file or the new one, never half of one; a file that cannot be
  read is an error naming it and what is wrong.
* **The contest in progress.** ``in_progress.json`` names the contest being measured in
  this process; it is removed once its rows are on disk.  Found on resume, it marks a
  contest that took the harness down (a segfault, a hang in C, a MemoryError outside any
  cell): that contest is measured again in a child process, so it ends as error rows and
  the sweep goes on.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)
LOCK, MARKER = ".lock", "in_progress.json"


class RunFolderBusy(RuntimeError):
    """Another process is writing this run folder."""


class RunLock:
    """The flock of one writer on a run folder (see the module docstring)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.read(fd, 4096))
            os.close(fd)
            raise RunFolderBusy(f"{self.path.parent} is being written by {holder}; wait for it to finish "
                                f"or stop it") from None
        previous = os.read(fd, 4096)
        if previous.strip():
            log.info("taking over the lock of %s, which is no longer running", _describe(previous))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def _describe(raw: bytes) -> str:
    try:
        info = json.loads(raw or b"{}")
        return f"pid {info['pid']} on {info['host']} (since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def write_json(path: Path, data) -> None:
    """``path`` replaced whole by ``data`` as JSON (temporary file, fsync, rename)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def read_json(path: Path, what: str) -> dict:
    """``path`` as a JSON object, or a ValueError naming the file and what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: {what}") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read ({type(err).__name__}: {err}); it holds {what}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not an object; it should hold {what}")
    return data


def mark_in_progress(run_dir: Path, key: tuple | None) -> None:
    """Record the contest being measured in this process (None: none, the marker is removed)."""
    path = Path(run_dir) / MARKER
    if key is None:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(MARKER + ".tmp")
    temporary.write_text(json.dumps({"contest": [str(k) for k in key]}))
    os.replace(temporary, path)


def in_progress(run_dir: Path) -> tuple | None:
    """The contest that was being measured when this folder's last writer stopped, if any."""
    path = Path(run_dir) / MARKER
    if not path.exists():
        return None
    try:
        shape, pass_, threads, process = json.loads(path.read_text())["contest"]
        return (shape, pass_, int(threads), int(process))
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("%s is unreadable; ignored", path)
        return None
