"""What machine and software produced a run, and the code that ran: recorded once in ``env.json``.

The code version (git commit and a hash of every file under ``strategies/``) and the
package versions are also what ``resume`` checks before it adds cells to a run: a resumed
run must measure the same code with the same libraries, or say so and refuse.
"""
from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from threadpoolctl import threadpool_info

from .allocator import first_touch_probe, malloc_environment, transparent_hugepages
from .ceilings import measure_ceilings
from .cpus import available_cpus

PACKAGES = ("numpy", "scipy", "pandas", "joblib", "threadpoolctl", "matplotlib", "hydra-core", "omegaconf",
            "torch")
ROOT = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """HEAD's hash, with ``-dirty`` when tracked files differ from it; None outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def strategies_hash() -> str:
    """sha256 over the path and bytes of every .py file under strategies/: the code that is measured."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "strategies").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_versions() -> dict[str, str | None]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return versions


def code_version() -> dict:
    """What resume pins: the commit, the strategies' hash and the package versions."""
    return {"git_commit": git_commit(), "strategies_hash": strategies_hash(), "versions": package_versions()}


def describe_environment(dtype: str, threads: list[int], fft_lengths=()) -> dict:
    """CPU, software, BLAS and its threads, the code version, and the machine's ceilings per thread budget."""
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(available_cpus()),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        **code_version(),
        "blas": threadpool_info(),
        **measure_ceilings(dtype, threads, fft_lengths),
        "transparent_hugepages": transparent_hugepages(),
        "malloc_environment": malloc_environment(),
        "first_touch": first_touch_probe(),
    }
