"""The parallel wrapper: options, chunking, worker thread settings, loky's shared memory.

Its numerics are also checked by the registry suite (test_strategies.py, threading backend);
loky is checked against the oracle here, on a few shapes, because it starts processes.
"""
from __future__ import annotations

import gc
import glob
import os
import sys
import threading

from pathlib import Path

import numpy as np
import pytest
import scipy.fft
from threadpoolctl import threadpool_info, threadpool_limits

from conftest import SHAPES, SHAPE_IDS, make_inputs
from strategies import STRATEGIES, ConvCache, get_strategy
from strategies.im2col import Im2col
from strategies.parallel import available_cpus, batch_chunks
from strategies.parallel_workers import PREFIX, owner_dir, sweep_dead_owners
from test_strategies import run_and_check

BASES = sorted(n for n, cls in STRATEGIES.items() if n != "parallel" and cls.role == "strategy")
CP = {"stride": 1, "pad": 1}


def own_shared_files():
    return glob.glob(os.path.join(owner_dir(os.getpid()), f"{PREFIX}*"))


@pytest.fixture(scope="module", autouse=True)
def release_loky_workers():
    """Leave no loky worker processes behind this module."""
    yield
    get_strategy("parallel", backend="loky").close()


# --- options ----------------------------------------------------------------------------
@pytest.mark.parametrize("options,message", [
    ({"workers": 2}, r"has no option \['workers'\]; accepted options: \['base', 'n_jobs', 'backend'\]"),
    ({"base": "fastest"}, r"base='fastest' must name another strategy; known strategies: \[.*'im2col'.*\]"),
    ({"base": "parallel"}, r"base='parallel' must name another strategy"),
    ({"n_jobs": 0}, r"n_jobs=0 must be an int >= 1"),
    ({"n_jobs": -1}, r"n_jobs=-1 must be an int >= 1"),
    ({"n_jobs": 1.5}, r"n_jobs=1.5 must be an int >= 1"),
    ({"n_jobs": True}, r"n_jobs=True must be an int >= 1"),
    ({"backend": "dask"}, r"backend='dask' must be one of \['threading', 'loky'\]"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        get_strategy("parallel", **options)


def test_unknown_base_lists_every_strategy_it_can_wrap():
    with pytest.raises(ValueError) as err:
        get_strategy("parallel", base="fastest")
    assert str(BASES) in str(err.value)


def test_label_is_canonical_and_says_what_runs():
    assert get_strategy("parallel").label == "parallel[base=im2col]"   # the base always: it is what runs
    assert get_strategy("parallel", backend="threading").label == "parallel[base=im2col]"  # the default
    assert get_strategy("parallel", n_jobs=2, base="fft").label == get_strategy("parallel", base="fft", n_jobs=2).label
    assert get_strategy("parallel", base="naive", n_jobs=2).label == "parallel[base=naive,n_jobs=2]"
    s = get_strategy("parallel", base="im2col", n_jobs=3, backend="loky")
    assert s.label == "parallel[base=im2col,n_jobs=3,backend=loky]"
    default = get_strategy("parallel")
    assert (default.base.name, default.n_jobs, default.backend) == ("im2col", available_cpus(), "threading")


@pytest.mark.parametrize("base", BASES)
def test_numerical_family_is_the_bases(base):
    assert get_strategy("parallel", base=base).family == get_strategy(base).family


@pytest.mark.parametrize("base", BASES)
def test_skip_reason_is_the_bases_prefixed_with_its_name(base):
    wrapped, plain = get_strategy("parallel", base=base, n_jobs=2), get_strategy(base)
    for x_shape, w_shape, stride, pad, _ in SHAPES:
        cp = {"stride": stride, "pad": pad}
        reason = plain.skip_reason(x_shape, w_shape, cp)
        expected = None if reason is None else f"{base}: {reason}"
        assert wrapped.skip_reason(x_shape, w_shape, cp) == expected


# --- chunking -----------------------------------------------------------------------------
@pytest.mark.parametrize("N,k", [(8, 2), (5, 2), (7, 3), (2, 3), (1, 4), (3, 1)])
def test_batch_chunks_cover_the_batch_evenly(N, k):
    chunks = batch_chunks(N, k)
    assert len(chunks) == min(N, k)
    assert chunks[0][0] == 0 and chunks[-1][1] == N
    assert all(hi == lo for (_, hi), (lo, _) in zip(chunks, chunks[1:]))
    assert max(hi - lo for lo, hi in chunks) - min(hi - lo for lo, hi in chunks) <= 1


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_one_image_runs_the_base_directly(backend):
    s = get_strategy("parallel", n_jobs=2, backend=backend)
    x, w, b = make_inputs((1, 3, 6, 6), (4, 3, 3, 3), np.float32)
    out, cache = s.forward(x, w, b, CP)
    chunks, caches = cache.saved
    assert chunks == [(0, 1)] and isinstance(caches[0], ConvCache) and s._pool is None
    s.backward(np.ones_like(out), cache)


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_results_agree_for_1_2_3_jobs(backend, dtype, rtol):
    x, w, b = make_inputs((5, 4, 7, 7), (3, 4, 3, 3), dtype, seed=7)
    dout = np.random.default_rng(8).standard_normal((5, 3, 7, 7)).astype(dtype)
    results = []
    for n_jobs in (1, 2, 3):
        s = get_strategy("parallel", n_jobs=n_jobs, backend=backend)
        out, cache = s.forward(x, w, b, CP)
        results.append((out, *s.backward(dout, cache)))
        assert len(cache.saved[0]) == n_jobs
    for other in results[1:]:
        for a, ref in zip(other, results[0]):
            np.testing.assert_allclose(a, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


# --- thread settings inside the workers ------------------------------------------------
class SpyIm2col(Im2col):
    """im2col that records the BLAS and FFT thread counts it ran under, in its cache."""

    def _forward(self, x, w, b, problem):
        out, saved = super()._forward(x, w, b, problem)
        blas = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
        where = (os.getpid(), threading.get_ident())
        return out, (saved, (blas, scipy.fft.get_workers(), where))

    def _backward(self, dout, problem, saved, wrt):
        return super()._backward(dout, problem, saved[0], wrt)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_workers_run_one_blas_and_fft_thread_whatever_the_callers_budget(backend):
    s = get_strategy("parallel", n_jobs=2, backend=backend)
    s.base = SpyIm2col()
    x, w, b = make_inputs((4, 3, 8, 8), (4, 3, 3, 3), np.float32)
    with threadpool_limits(2), scipy.fft.set_workers(2):
        out, cache = s.forward(x, w, b, CP)
        parent_blas = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    chunk_caches = cache.saved[1] if backend == "threading" else [c.load() for c in cache.saved[1]]
    for chunk in chunk_caches:
        blas, fft_workers, where = chunk.saved[1]
        assert blas == {1} and fft_workers == 1
        assert where != (os.getpid(), threading.get_ident())  # ran in a worker
    assert parent_blas == {2}  # the caller's limit is back after the call
    dx, dw, db = s.backward(np.ones_like(out), cache)
    assert dx.shape == x.shape


def test_close_joins_the_threads():
    s = get_strategy("parallel", n_jobs=2, backend="threading")
    s.forward(*make_inputs((2, 3, 6, 6), (4, 3, 3, 3), np.float32), CP)
    workers = list(s._pool._threads)
    s.close()
    assert s._pool is None and not any(t.is_alive() for t in workers)


# --- loky: the oracle, and shared memory that does not leak ----------------------------
LOKY_SHAPES = [s for s in SHAPES if s[4] in ("pad 0", "stride 2, one leftover row/column",
                                              "rectangular kernel, non-square input")]


@pytest.mark.parametrize("base", ["naive", "im2col"])
@pytest.mark.parametrize("x_shape,w_shape,stride,pad,why", LOKY_SHAPES,
                         ids=[SHAPE_IDS[SHAPES.index(s)] for s in LOKY_SHAPES])
def test_loky_matches_oracle(base, x_shape, w_shape, stride, pad, why):
    s = get_strategy("parallel", base=base, n_jobs=2, backend="loky")
    for dtype in (np.float64, np.float32):
        run_and_check(s, x_shape, w_shape, stride, pad, dtype)


def test_loky_cache_files_live_as_long_as_the_cache():
    s = get_strategy("parallel", n_jobs=2, backend="loky")
    gc.collect()
    before = set(own_shared_files())
    x, w, b = make_inputs((4, 3, 8, 8), (4, 3, 3, 3), np.float32)
    out, cache = s.forward(x, w, b, CP)
    assert len(set(own_shared_files()) - before) == 2  # one cache file per chunk, inputs gone
    s.backward(np.ones_like(out), cache)
    del cache
    gc.collect()
    assert set(own_shared_files()) == before


class ScribbleIm2col(Im2col):
    """A base that breaks the contract by writing into its input."""

    def _forward(self, x, w, b, problem):
        x[...] = 0
        return super()._forward(x, w, b, problem)


def test_loky_workers_see_x_read_only_and_a_failed_call_leaves_no_files():
    s = get_strategy("parallel", n_jobs=2, backend="loky")
    s.base = ScribbleIm2col()
    gc.collect()
    before = set(own_shared_files())
    x, w, b = make_inputs((4, 3, 8, 8), (4, 3, 3, 3), np.float32)
    x_before = x.copy()
    with pytest.raises(ValueError, match="read-only"):
        s.forward(x, w, b, CP)
    np.testing.assert_array_equal(x, x_before)
    assert set(own_shared_files()) == before


def test_loky_declines_inside_a_daemonic_process(monkeypatch):
    """joblib would silently run the chunks one by one there (e.g. the harness's isolation child)."""
    import strategies.parallel as parallel_module

    class Daemonic:
        daemon = True
    monkeypatch.setattr(parallel_module.multiprocessing, "current_process", lambda: Daemonic())
    assert "daemonic" in get_strategy("parallel", n_jobs=2, backend="loky").skip_reason((2, 3, 6, 6), (4, 3, 3, 3), CP)
    assert get_strategy("parallel", n_jobs=2, backend="threading").skip_reason((2, 3, 6, 6), (4, 3, 3, 3), CP) is None


KILLED_LOKY_RUN = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from strategies import get_strategy
p = get_strategy("parallel", backend="loky", n_jobs=2)
x = np.ones((4, 2, 8, 8)); w = np.ones((3, 2, 3, 3)); b = np.zeros(3)
out, cache = p.forward(x, w, b, {{"stride": 1, "pad": 1}})
print("ready", flush=True)
while True:
    p.forward(x, w, b, {{"stride": 1, "pad": 1}})
"""


def _children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid``."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.add(int(entry))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /dev/shm")
def test_a_killed_loky_run_leaves_no_shared_files_and_no_workers():
    import signal
    import subprocess
    import time
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_LOKY_RUN.format(root=root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    folder = owner_dir(proc.pid)
    assert os.path.isdir(folder)                     # its files live in its own folder
    workers = {w for c in _children(proc.pid) for w in ({c} | _children(c))}
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") and
                                         "zombie" not in open(f"/proc/{w}/status").read() for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if os.path.exists(f"/proc/{w}") and "zombie" not in open(f"/proc/{w}/status").read()]
    assert not alive, f"orphaned loky workers {alive} outlived their parent"
    assert folder in sweep_dead_owners() and not os.path.exists(folder)   # the next user sweeps it
