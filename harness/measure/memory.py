"""Peak extra memory of one call, seen two ways.

* ``tracemalloc``: every allocation through Python's allocator, which numpy reports
  to; peak during the call minus what the call returns (the cache counts as extra:
  it is held until backward).  Blind to memory allocated in C++ (scipy.fft's
  pocketfft scratch) and in other processes (loky workers).
* **RSS high-water mark**: Linux's ``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``, minus the RSS before the call.  Sees everything the
  process touches, but only fresh pages: memory the allocator recycles from earlier
  calls does not raise it, so it can under-count.  ``None`` where unavailable.

Neither sees worker processes; the harness flags such strategies instead of
showing them as lean.
"""
from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _kib_field(name: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")  # 5: reset the peak RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def nbytes_of(result) -> int:
    """Bytes of the arrays in a call's result (nested tuples/lists of arrays)."""
    if isinstance(result, np.ndarray):
        return result.nbytes
    if isinstance(result, (tuple, list)):
        return sum(nbytes_of(r) for r in result)
    return 0


def peak_extra_memory(fn: Callable[[], object], returned: Callable[[object], int]) -> tuple[int, int | None]:
    """(tracemalloc peak minus ``returned(result)`` bytes, RSS high-water rise or None) of one call."""
    rss_ok = _reset_hwm()
    rss_before = _kib_field("VmRSS") if rss_ok else None
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    hwm = _kib_field("VmHWM") if rss_ok else None
    rss = None if rss_before is None or hwm is None else max(0, hwm - rss_before)
    extra = max(0, peak - returned(result))
    del result
    return extra, rss
