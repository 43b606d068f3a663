"""Measurement: how long, how much memory, on what machine, under what load.

    timing        the thread budget every call runs in, samples (blocks of calls), Timing
    memory        peak extra memory of one call (tracemalloc and the RSS high-water mark)
    allocator     glibc's allocator policy (default / pinned) and the first-touch probe
    ceilings      the machine's ceilings measured in each run: GEMM and FFT rates, bandwidth
    environment   env.json: CPU, software versions, code version, ceilings
    load          other work on the cores this process may use (the load guard's reading)
    cpus          which cores this process may use, pinning, and a lock per core

Modules here measure; they know nothing of contests, strategies or run folders: they may
import numpy, scipy and each other, never the harness core above them.
"""
