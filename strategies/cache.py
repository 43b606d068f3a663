"""The CPU cache sizes blocked strategies size their blocks by: the one machine fact strategies read.

Like ``os.cpu_count()``, this is a read-only property of the machine, not configuration:
it comes from Linux's ``/sys/devices/system/cpu/cpu0/cache`` (read once, then kept), and
where that is not available from documented defaults of a current x86 core (L1d 32 KiB,
L2 512 KiB, L3 8 MiB).  A block sized from these fits the cache it is meant for on any
machine, instead of a constant tuned on one.
"""
from __future__ import annotations

import functools
from pathlib import Path

#: used where the machine does not say (bytes)
DEFAULT_CACHE_BYTES = {1: 32 * 2 ** 10, 2: 512 * 2 ** 10, 3: 8 * 2 ** 20}
_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")


@functools.lru_cache(maxsize=None)
def cache_bytes(level: int) -> int:
    """Size in bytes of this core's data (or unified) cache of ``level`` (1, 2 or 3)."""
    if level not in DEFAULT_CACHE_BYTES:
        raise ValueError(f"cache level must be 1, 2 or 3; got {level!r}")
    try:
        for index in sorted(_SYSFS.glob("index*")):
            if int((index / "level").read_text()) == level and \
                    (index / "type").read_text().strip() in ("Data", "Unified"):
                return _parse_size((index / "size").read_text().strip())
    except (OSError, ValueError):
        pass
    return DEFAULT_CACHE_BYTES[level]


def _parse_size(text: str) -> int:
    """'512K' -> 524288, '32M' -> 33554432, '1024' -> 1024."""
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)
