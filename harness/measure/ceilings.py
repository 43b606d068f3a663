"""The machine's ceilings, measured in every run: what the roofline of each cell is drawn against.

* ``gemm_gflops``: a square float matmul (BLAS), the ceiling of every product phase.
* ``bandwidth_gb_per_s``: ``out = a + b`` over arrays far beyond the last-level cache, on
  pages already touched (recycled), bytes read and written counted: the memory ceiling.
  (``first_touch`` in :mod:`harness.measure.allocator` measures fresh pages apart: on the VMs
  this was written on they cost 20-50x more, which is what ``allocator=pinned`` avoids.)
* ``fft_gflops``: scipy.fft on batches of 1-D complex transforms of each length the run's
  plans use (``5 n log2 n`` flops per transform, the count :mod:`strategies.costs` uses).

Each at every thread budget of the run (the bandwidth probe splits its arrays over that
many threads; numpy's loops release the GIL).  Probes are short: a few tenths of a second
in all.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft

from .timing import thread_budget


def _best_of(fn, repeats: int) -> float:
    """The least seconds of ``repeats`` calls after one warm-up: a ceiling is what the machine can do (the
    median of five moved the GEMM rate 49-83 GFLOP/s between runs minutes apart on a quiet machine)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


def gemm_gflops(dtype: str, threads: int, n: int = 1024, repeats: int = 10) -> float:
    """GFLOP/s of an n x n x n product (2 n^3 flops) at this thread budget."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    with thread_budget(threads):
        return 2 * n ** 3 / _best_of(lambda: a @ b, repeats) / 1e9


def bandwidth_gb_per_s(threads: int, megabytes: int = 64, repeats: int = 5) -> float:
    """GB/s of ``out = a + b`` on recycled pages, 3 arrays of ``megabytes`` each, split over ``threads``."""
    n = megabytes * 2 ** 20 // 8
    a, b, out = np.ones(n), np.ones(n), np.empty(n)
    out.fill(0)  # touch every page once: recycled from here on
    edges = np.linspace(0, n, threads + 1).astype(int)
    parts = list(zip(edges[:-1], edges[1:]))
    with ThreadPoolExecutor(threads) as pool:
        def once():
            list(pool.map(lambda p: np.add(a[p[0]:p[1]], b[p[0]:p[1]], out=out[p[0]:p[1]]), parts))
        return 3 * n * 8 / _best_of(once, repeats) / 1e9


def fft_gflops(length: int, dtype: str, threads: int, elements: int = 2 ** 20, repeats: int = 5) -> float:
    """GFLOP/s of scipy.fft on a batch of complex transforms of ``length`` (about ``elements`` in all)."""
    complex_dtype = np.result_type(dtype, np.complex64)
    batch = max(1, elements // length)
    a = (np.random.default_rng(0).standard_normal((batch, length)) + 0j).astype(complex_dtype)
    with thread_budget(threads):
        seconds = _best_of(lambda: scipy.fft.fft(a, axis=-1), repeats)
    return batch * 5 * length * math.log2(max(length, 2)) / seconds / 1e9


def measure_ceilings(dtype: str, threads: list[int], fft_lengths=()) -> dict:
    """Every ceiling at every thread budget, keyed by str(threads) (and FFT length) for env.json."""
    return {
        "gemm_gflops": {str(t): gemm_gflops(dtype, t) for t in threads},
        "gemm_size": 1024,
        "bandwidth_gb_per_s": {str(t): bandwidth_gb_per_s(t) for t in threads},
        "fft_gflops": {str(t): {str(n): fft_gflops(n, dtype, t) for n in sorted(set(fft_lengths))}
                       for t in threads},
    }
