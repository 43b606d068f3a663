"""What runs in a worker of :mod:`strategies.parallel`: one chunk of the batch.

``forward_chunk`` / ``backward_chunk`` run the base strategy on rows [lo, hi) and write
them into the shared result.  For the loky backend, arrays travel through files in
/dev/shm (one copy each, inside the timed call): :func:`share` copies arrays into one
file, :func:`attach` maps it in a worker, and :class:`SharedCache` keeps a chunk's cache
in a file of its own so that only its name comes back to the parent.

Nothing is left behind: every file of a process lives in its own folder,
``/dev/shm/convbench-parallel-<pid>/``, removed when the process exits and swept by the
next process that uses loky when its owner is dead (``kill -9`` runs no exit handler); a
loky worker exits within a second of its parent's death instead of idling on for minutes.
"""
from __future__ import annotations

import atexit
import contextlib
import glob
import mmap
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
import weakref

import numpy as np

SHARED_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
PREFIX = "convbench-parallel-"


def owner_dir(pid: int) -> str:
    """The folder holding every shared file of process ``pid``."""
    return os.path.join(SHARED_DIR, f"{PREFIX}{pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_owners() -> list[str]:
    """Remove the folders of processes that died without cleaning up (kill -9); returns what was removed."""
    removed = []
    for path in glob.glob(os.path.join(SHARED_DIR, PREFIX + "*")):
        pid = path.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


_ours: dict[str, bool] = {}


def _own_dir() -> str:
    """This process's folder, made on first use (after sweeping the dead's), removed at exit."""
    path = owner_dir(os.getpid())
    if path not in _ours:
        sweep_dead_owners()
        os.makedirs(path, exist_ok=True)
        atexit.register(shutil.rmtree, path, True)
        _ours[path] = True
    return path


_watching: list[bool] = []


def exit_with_parent() -> None:
    """In a loky worker: exit as soon as the parent is gone (checked every second by a daemon thread)."""
    if _watching:
        return
    _watching.append(True)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="convbench-exit-with-parent", daemon=True).start()


def forward_chunk(base, x, w, b, conv_param, out, lo, hi):
    out[lo:hi], cache = base.forward(x[lo:hi], w, b, conv_param)
    return cache


def backward_chunk(base, dout, cache, dx, lo, hi, wrt):
    dx_chunk, dw, db = base.backward(dout[lo:hi], cache, wrt=wrt)
    if dx is not None:
        dx[lo:hi] = dx_chunk
    return dw, db


# --- loky: arrays in shared-memory files -----------------------------------------------
def share(arrays, tag: str, layout=None) -> tuple[str, tuple]:
    """Copy ``arrays`` into one new file, or (``layout`` [(shape, dtype), ...]) reserve zeroed
    room for outputs -> (path, ((offset, shape, dtype), ...)), offsets 64-byte aligned."""
    specs, end = [], 0
    for shape, dtype in layout or [(a.shape, a.dtype) for a in arrays]:
        specs.append((end, tuple(shape), np.dtype(dtype).str))
        end += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
    folder = owner_dir(int(tag.split("-", 1)[0]))        # the parent's folder, also from a worker
    fd, path = tempfile.mkstemp(prefix=f"{PREFIX}{tag}-", dir=folder)
    with os.fdopen(fd, "r+b") as f:
        f.truncate(max(end, 1))
        for a, (offset, _, _) in zip(arrays, specs):
            f.seek(offset)
            f.write(np.ascontiguousarray(a).data)
    return path, tuple(specs)


def attach(ref, writable: bool) -> list[np.ndarray]:
    """Map a :func:`share` file: read-only arrays, or writable ones whose writes are shared."""
    path, specs = ref
    with open(path, "r+b" if writable else "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    return [np.ndarray(shape, dtype, buffer=mm, offset=offset) for offset, shape, dtype in specs]


def unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def shared_files():
    """A tag for one call's files; they are unlinked at its end (mappings stay valid), except
    the cache files, which live as long as the caches, unless the call fails."""
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    folder = _own_dir()
    ok = False
    try:
        yield tag
        ok = True
    finally:
        for path in glob.glob(os.path.join(folder, f"{PREFIX}{tag}-*")):
            if not (ok and "-cache-" in path):
                unlink(path)


class SharedCache:
    """One chunk's cache, left in a shared file by its worker; the parent holds only its name."""

    def __init__(self, meta: bytes, ref):
        self.meta, self.ref = meta, ref
        weakref.finalize(self, unlink, ref[0])  # parent side only (unpickling skips __init__)

    @staticmethod
    def dump(cache, tag: str):
        """In the worker: pickle ``cache`` with its arrays out of band into one new file."""
        buffers = []
        meta = pickle.dumps(cache, protocol=5, buffer_callback=buffers.append)
        return meta, share([np.frombuffer(b.raw(), np.uint8) for b in buffers], f"{tag}-cache")

    def load(self):
        """In the worker: the cache, its arrays read-only views of the file (no copy)."""
        return pickle.loads(self.meta, buffers=attach(self.ref, writable=False))


def loky_forward(base, in_ref, out_ref, conv_param, lo, hi, tag):
    exit_with_parent()
    x, w, b = attach(in_ref, writable=False)
    return SharedCache.dump(forward_chunk(base, x, w, b, conv_param, attach(out_ref, True)[0], lo, hi), tag)


def loky_backward(base, dout_ref, dx_ref, cache: SharedCache, lo, hi, wrt):
    exit_with_parent()
    dx = attach(dx_ref, True)[0] if dx_ref is not None else None
    return backward_chunk(base, attach(dout_ref, False)[0], cache.load(), dx, lo, hi, wrt)
