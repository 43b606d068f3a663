"""Batch-parallel wrapper: split N into chunks and run a base strategy on the chunks at once.

With k = min(n_jobs, N) contiguous chunks [lo, hi) of the batch (sizes differ by at most 1)::

    forward:   out[lo:hi], cache_i = base.forward(x[lo:hi], w, b)     each worker writes its rows
    backward:  dx[lo:hi], dw_i, db_i = base.backward(dout[lo:hi], cache_i)
               dw = sum_i dw_i,  db = sum_i db_i                       (the batch sum, regrouped)

Threads.  Splitting the work over workers is this strategy's algorithm, so it is the one
strategy that touches thread settings: each worker runs its base with 1 BLAS and 1 FFT
thread, so n_jobs workers use n_jobs cores (not n_jobs x cores) whatever the caller's limit.
``n_jobs`` defaults to the CPUs this process may use; the harness passes its thread budget.

Backends (the default and why: see DEFAULT_BACKEND):

* ``threading``: a pool of n_jobs threads owned by this object, kept across calls (a plain
  pool, not joblib's threading backend, whose result polling costs ~10 ms a call).  BLAS and
  numpy's copies release the GIL, so the chunks really run at once.  BLAS is held at 1 thread
  around each call with threadpoolctl, which is process-wide: do not share one object between
  threads.  ``scipy.fft.set_workers`` is thread-local; new threads default to 1 FFT worker.
  Caches stay in the parent, one per chunk; x slices are views; the one copy is each
  worker's out / dx rows into the result.
* ``loky``: joblib's reusable process pool (warm across calls) under
  ``parallel_config(inner_max_num_threads=1)``, the setting that reaches the workers (a
  parent ``threadpool_limits`` does not).  Arrays move through files in /dev/shm, each copy
  inside the timed call: x, w, b are copied into one file the workers map read-only (a base
  must not write into x); out / dx are files each worker writes its rows into (``r+``); each
  chunk's cache is pickled by its worker with the arrays out of band into a file of its own,
  and the parent keeps only the small pickle and the file's name (the file is deleted with
  the cache).  Through joblib itself travel only those names, w-sized dw and db.  Declined
  inside a daemonic process, where joblib would silently run the chunks one after another.

One chunk (N = 1 or n_jobs = 1): the base runs directly in the calling thread under the
caller's thread settings (the harness's budget), with no worker hop.  Splitting F instead
would redo im2col's unfolding in every chunk and needs a second reduction scheme.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor, wait

import joblib
import numpy as np
from joblib.externals.loky import get_reusable_executor
from threadpoolctl import ThreadpoolController

from .base import ConvStrategy
from .costs import Costs, PhaseCost
from .geometry import ConvProblem, is_int
from .phases import step
from .parallel_workers import (SharedCache, attach, backward_chunk, forward_chunk, loky_backward,
                               loky_forward, share, shared_files)

OPTIONS = ("base", "n_jobs", "backend")
BACKENDS = ("threading", "loky")
#: Chosen by measurement (2 cores, float32, parallel(base=im2col, n_jobs=2), N=8 3x3 layers):
#: threads 1.9-2.2x faster than im2col on 1 BLAS thread, loky 0.8-1.3x.  BLAS calls and numpy's
#: copies release the GIL, so threads run the chunks at once and share x, out and the caches
#: for free, where loky copies them through /dev/shm.  Overhead floor (N=2 C=3 32x32): threads
#: +0.3 ms a call, loky +11 ms.  joblib.Parallel itself polls for results with a 10 ms sleep
#: (2 empty tasks: 10.3 ms; every call rounded up to ~10 ms steps, enough alone to sink the
#: speed-up on these layers), so threads run on a plain pool whose futures wake the caller at
#: once (2 empty tasks: 0.04 ms); loky goes through joblib.Parallel and pays the poll.
DEFAULT_BACKEND = "threading"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def batch_chunks(N: int, k: int) -> list[tuple[int, int]]:
    """min(k, N) contiguous [lo, hi) ranges covering 0..N, sizes differing by at most 1."""
    edges = np.linspace(0, N, min(k, N) + 1).round().astype(int).tolist()
    return list(zip(edges[:-1], edges[1:]))


class Parallel(ConvStrategy):
    """A base strategy run on chunks of the batch by n_jobs threads or loky processes.

    Forward: ``out[lo:hi] = base.forward(x[lo:hi])`` per chunk, at once; backward: each
    chunk's gradients, dw and db summed over the chunks.  Costs: the base's, plus the sum
    of n_jobs partial dw; per call ~0.3 ms of thread hand-off (loky: ~11 ms and a copy of
    every array through /dev/shm).  It can only win at a thread budget above 1, where the
    alternative is the base's own BLAS/FFT threads: batch chunks scale better on small
    layers (no synchronisation inside one GEMM), worse on large ones.
    """

    name = "parallel"
    budget_option = "n_jobs"

    def __init__(self, base: str | None = None, n_jobs: int | None = None, backend: str | None = None,
                 **unknown):
        # None = not set: such options keep their defaults (see ``options`` for the label)
        from . import STRATEGIES, get_strategy  # lazy: the registry imports this module
        if unknown:
            raise ValueError(f"strategy 'parallel' has no option {sorted(unknown)}; accepted options: {list(OPTIONS)}")
        self.given = {k: v for k, v in zip(OPTIONS, (base, n_jobs, backend)) if v is not None}
        bases = sorted(n for n, cls in STRATEGIES.items() if n != self.name and cls.role == "strategy")
        base, backend = "im2col" if base is None else base, DEFAULT_BACKEND if backend is None else backend
        if base not in bases:
            raise ValueError(f"parallel option base={base!r} must name another strategy; known strategies: {bases}")
        if n_jobs is not None and (not is_int(n_jobs) or n_jobs < 1):
            raise ValueError(f"parallel option n_jobs={n_jobs!r} must be an int >= 1 "
                             f"(or None: the {available_cpus()} CPUs this process may use)")
        if backend not in BACKENDS:
            raise ValueError(f"parallel option backend={backend!r} must be one of {list(BACKENDS)}")
        self.base = get_strategy(base)
        self.family = self.base.family  # the oracle's error bound is the base's
        self.n_jobs = available_cpus() if n_jobs is None else int(n_jobs)
        self.backend = backend
        self._pool: ThreadPoolExecutor | None = None
        self._blas: ThreadpoolController | None = None

    @property
    def options(self) -> dict:
        """base always (it is what runs), n_jobs when given, backend when not the default."""
        options = {"base": self.base.label}
        if "n_jobs" in self.given:
            options["n_jobs"] = self.n_jobs
        if self.backend != DEFAULT_BACKEND:
            options["backend"] = self.backend
        return options

    @property
    def memory_blind_spot(self) -> str:
        if self.backend == "loky":
            return "work in loky worker processes is not measured"
        return self.base.memory_blind_spot

    def equivalent_to(self, x_shape, w_shape, conv_param) -> str | None:
        """The base's label when the problem makes a single chunk (N = 1 or n_jobs = 1)."""
        problem = ConvProblem.from_shapes(x_shape, w_shape, conv_param)
        return self.base.label if len(batch_chunks(problem.N, self.n_jobs)) == 1 else None

    def close(self) -> None:
        """Release the workers: this object's threads; for loky, joblib's process-wide pool
        (shared with any other joblib user; the next loky call restarts it, ~0.3 s)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.backend == "loky":
            get_reusable_executor(reuse=True).shutdown(wait=True)

    def _skip_reason(self, problem: ConvProblem) -> str | None:
        reason = self.base.skip_reason(problem.x_shape, problem.w_shape, problem.conv_param)
        if reason is not None:
            return f"{self.base.name}: {reason}"
        if self.backend == "loky" and multiprocessing.current_process().daemon and problem.N > 1:
            # joblib would silently run the chunks one after another in this process
            return "loky cannot start worker processes inside a daemonic process; use backend=threading"
        return None

    def _forward(self, x, w, b, problem: ConvProblem):
        chunks, cp = batch_chunks(problem.N, self.n_jobs), problem.conv_param
        if len(chunks) == 1:
            out, cache = self.base.forward(x, w, b, cp)
            return out, (chunks, [cache])
        if self.backend == "threading":
            out = np.empty(problem.out_shape, x.dtype)
            with step("chunks"):
                caches = self._threads(forward_chunk, [(self.base, x, w, b, cp, out, lo, hi) for lo, hi in chunks])
            return out, (chunks, caches)
        with step("chunks"), shared_files() as tag:
            in_ref, out_ref = share([x, w, b], tag), share([], tag, [(problem.out_shape, x.dtype)])
            refs = self._processes(joblib.delayed(loky_forward)(self.base, in_ref, out_ref, cp, lo, hi, tag)
                                   for lo, hi in chunks)
            return attach(out_ref, writable=True)[0], (chunks, [SharedCache(*ref) for ref in refs])

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        chunks, caches = saved
        if len(chunks) == 1:
            return self.base.backward(dout, caches[0], wrt=wrt)
        dx = np.empty(problem.x_shape, dout.dtype) if "x" in wrt and self.backend == "threading" else None
        with step("chunks"):
            if self.backend == "threading":
                grads = self._threads(backward_chunk, [(self.base, dout, c, dx, lo, hi, wrt)
                                                        for (lo, hi), c in zip(chunks, caches)])
            else:
                with shared_files() as tag:
                    dout_ref = share([dout], tag)
                    dx_ref = share([], tag, [(problem.x_shape, dout.dtype)]) if "x" in wrt else None
                    grads = self._processes(joblib.delayed(loky_backward)(self.base, dout_ref, dx_ref, c, lo, hi, wrt)
                                            for (lo, hi), c in zip(chunks, caches))
                    dx = attach(dx_ref, writable=True)[0] if dx_ref else None
        with step("reduce"):  # the batch sum of dw and db, regrouped by chunk
            (dw, db), rest = grads[0], grads[1:]
            for dw_i, db_i in rest:
                dw = None if dw is None else dw + dw_i
                db = None if db is None else db + db_i
        return dx, dw, db

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        """The base's costs on the whole batch, as one ``chunks`` step, plus the chunks' dw/db sum."""
        base = self.base.costs(problem.x_shape, problem.w_shape, problem.conv_param, pass_, np.dtype(f"f{itemsize}"))
        k = len(batch_chunks(problem.N, self.n_jobs))
        if k == 1:
            return base
        costs = base.merged("chunks")
        if pass_ == "forward":
            return costs
        # k partial dw and db are read and summed into one
        grads = 0 if pass_ == "backward_data" else problem.F * (problem.C * problem.HH * problem.WW + 1)
        return Costs(costs.phases + (PhaseCost("reduce", (k + 1) * grads * itemsize, transform=float((k - 1) * grads)),),
                     costs.workspace_bytes)

    def _threads(self, fn, calls: list[tuple]) -> list:
        if self._pool is None:  # first call: start the threads, find the BLAS libraries loaded
            self._pool = ThreadPoolExecutor(self.n_jobs, thread_name_prefix="convbench-parallel")
            self._blas = ThreadpoolController()
        with self._blas.limit(limits=1):
            futures = [self._pool.submit(fn, *args) for args in calls]
            wait(futures)  # all of them, even if one fails, before the BLAS limit is lifted
        return [f.result() for f in futures]

    def _processes(self, tasks) -> list:
        # max_nbytes=None: no automatic memmapping (it md5-hashes each large argument on each
        # call, ~40 ms for a 29 MB cache); our arrays already travel through shared files
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
            return joblib.Parallel(n_jobs=self.n_jobs, max_nbytes=None)(tasks)
