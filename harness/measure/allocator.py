"""Control and record what the C allocator does with large blocks (glibc only).

Why: on the 2-vCPU VMs this was written on, touching memory freshly returned by the host
was 20-50x slower than writing recycled pages (env.json's ``first_touch`` measures it in
every run), and glibc returns large freed blocks (mmap'd, above its threshold) to the
host at once, so every call of a strategy with large temporaries (im2col's columns, FFT
spectra) pays for fresh pages again.  That can change which strategy wins.

``allocator=default`` leaves glibc alone.  ``allocator=pinned`` keeps freed memory on
the heap: ``mallopt(M_MMAP_MAX, 0)`` (no mmap'd blocks) and ``mallopt(M_TRIM_THRESHOLD,
huge)`` (never trim), applied in this process at start and passed to every child
process (process isolation, loky workers) through the equivalent environment
variables, which glibc reads at start-up.  On a non-glibc C library ``pinned`` is an
error rather than a silent no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import time
from pathlib import Path

import numpy as np

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
HUGE = 2 ** 62
PINNED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(HUGE)}
ALLOCATORS = ("default", "pinned")


def _libc():
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def apply_allocator(mode: str) -> None:
    """Set the allocator policy for this process and the children it starts."""
    if mode not in ALLOCATORS:
        raise ValueError(f"allocator must be one of {ALLOCATORS}; got {mode!r}")
    if mode == "default":
        return
    libc = _libc()
    if libc is None:
        raise ValueError(f"allocator=pinned needs glibc (mallopt); this is {platform.libc_ver()[0] or 'unknown'}")
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(2 ** 31 - 1))):
        raise RuntimeError("mallopt refused the pinned settings")
    os.environ.update(PINNED_ENV)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def mmapped_bytes() -> int | None:
    """Bytes glibc currently holds in mmap'd blocks (``mallinfo2().hblkhd``), None if unknown."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _Mallinfo2
    return int(libc.mallinfo2().hblkhd)


def malloc_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k.startswith("GLIBC_TUNABLES")}


def transparent_hugepages() -> str | None:
    try:
        return Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    except OSError:
        return None


def first_touch_probe(megabytes: int = 256) -> dict[str, float]:
    """GB/s writing freshly allocated pages versus the same pages written again.

    A large gap means fresh-page cost (host page faults) dominates big temporaries,
    and ``allocator=pinned`` will matter on this machine.
    """
    n = megabytes * 2 ** 20
    buf = np.empty(n, dtype=np.uint8)
    t0 = time.perf_counter()
    buf.fill(1)
    fresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    buf.fill(2)
    recycled = time.perf_counter() - t0
    del buf
    return {"megabytes": megabytes, "fresh_gb_per_s": n / fresh / 1e9, "recycled_gb_per_s": n / recycled / 1e9}
