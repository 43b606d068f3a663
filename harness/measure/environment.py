"""What machine and software produced a run, recorded once in ``env.json``."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from strategies.parallel import available_cpus

from .allocator import first_touch_probe, malloc_environment, transparent_hugepages
from .timing import thread_budget

PACKAGES = ("numpy", "scipy", "pandas", "joblib", "threadpoolctl", "matplotlib", "hydra-core")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def gemm_gflops(dtype: str, threads: int, n: int = 1024, repeats: int = 5) -> float:
    """The machine's matmul rate: median GFLOP/s of an n x n x n product at this thread budget.

    The roofline the plots draw for GEMM-based strategies, measured in the run itself.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    times = []
    with thread_budget(threads):
        a @ b  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / float(np.median(times)) / 1e9


def describe_environment(dtype: str, threads: list[int]) -> dict:
    """CPU, software versions, BLAS and its threads, and the GEMM rate per thread budget."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": available_cpus(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "blas": threadpool_info(),
        "git_commit": git_commit(),
        "gemm_gflops": {str(t): gemm_gflops(dtype, t) for t in threads},
        "gemm_size": 1024,
        "transparent_hugepages": transparent_hugepages(),
        "malloc_environment": malloc_environment(),
        "first_touch": first_touch_probe(),
    }
