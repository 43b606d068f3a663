"""The sweep loop: every contest not yet on disk measured and appended before the next starts; then the summary.

Contests are measured shape by shape (the inputs are made once per shape), for each thread
budget and pass.  Each contest's rows are appended whole (:mod:`harness.records`) before
the next contest starts, so a crash, Ctrl-C or SIGTERM keeps every finished contest and
``resume`` measures the rest.  At the end the summary is computed once, written, printed,
and the figures and report drawn from the folder.
"""
from __future__ import annotations

import contextlib
import logging
import socket
import time
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from . import schema
from .cell import Contest
from .isolation import Job, run_here, run_in_child
from .measure.allocator import apply_allocator
from .measure.cpus import available_cpus, pinned_cores
from .measure.environment import cpu_model, describe_environment
from .errors import command
from .records import PHASES_FILE, RESULTS_FILE, append_unit, finished_contests, load_phases, load_results
from .report_run import finish
from .runfolder import in_progress, mark_in_progress, read_json, write_json
from .settings import RunSettings
from .shards import shard_jobs
from .watchdog import terminate_like_interrupt

log = logging.getLogger(__name__)


def _jobs(settings: RunSettings) -> list[list[Job]]:
    """Per process (timing.processes), the run's contests in order, this shard's only."""
    contests = [Contest(shape, pass_, threads) for shape in settings.shapes for threads in settings.threads
                for pass_ in settings.passes]
    contests = shard_jobs(contests, settings)
    return [[Job(Contest(c.shape, c.pass_, c.threads, p), settings.variants) for c in contests]
            for p in range(settings.cell.timing.processes)]


def _fft_lengths(settings: RunSettings) -> list[int]:
    """The 1-D transform lengths the run's plans use (from each entrant's analytic costs), for env.json."""
    lengths = set()
    for variant in settings.variants:
        for threads in settings.threads:
            try:
                strategy = variant.build(threads)
            except ValueError:
                continue
            for shape in settings.shapes:
                for pass_ in settings.passes:
                    with contextlib.suppress(ValueError, NotImplementedError):
                        costs = strategy.costs(shape.x_shape, shape.w_shape, shape.conv_param, pass_,
                                               settings.cell.dtype)
                        lengths |= {p.fft_length for p in costs.phases if p.fft_length}
    return sorted(lengths)


def _environment(settings: RunSettings, run_dir: Path) -> dict:
    path = run_dir / "env.json"
    if path.exists():
        return read_json(path, "the machine and software of the run")
    env = {**describe_environment(settings.cell.dtype, settings.threads, _fft_lengths(settings)),
           "allocator": settings.cell.allocator}
    write_json(path, env)
    return env


@contextlib.contextmanager
def _cores(settings: RunSettings, run_dir: Path):
    """The cores this run uses, each locked: max(threads) pinned ones, or every core it may use."""
    count = max(settings.threads) if settings.pin_cpus else len(available_cpus())
    with pinned_cores(count, run_dir) as cpus:
        yield cpus


@contextlib.contextmanager
def _hint_on_interrupt(run_dir: Path, what: str):
    try:
        yield
    except KeyboardInterrupt:
        done = len(finished_contests(load_results(run_dir)))
        log.warning("interrupted %s: %d finished contest(s) are in %s; finish with: %s", what, done,
                    run_dir / RESULTS_FILE, command("run.py", f"resume={run_dir}"))
        raise


def run_sweep(settings: RunSettings, run_dir: Path, resuming: bool = False, job: str = "") -> None:
    """Measure every contest of the run not yet on disk (see the module docstring), then finish."""
    started = time.perf_counter()
    apply_allocator(settings.cell.allocator)
    results = load_results(run_dir, repair=True)
    load_phases(run_dir, results, repair=True)
    done = finished_contests(results)
    poison = in_progress(run_dir)
    with terminate_like_interrupt(), _cores(settings, run_dir) as cpus, _hint_on_interrupt(run_dir, "the sweep"):
        env = _environment(settings, run_dir)
        common = {"run_id": run_dir.name, "host": socket.gethostname(), "cpu_model": env.get("cpu_model") or cpu_model(),
                  "cpus": ",".join(map(str, cpus)), "job": job, "gemm_gflops": env.get("gemm_gflops", {}),
                  "bandwidth_gb_per_s": env.get("bandwidth_gb_per_s", {})}
        per_process = [[j for j in jobs if j.contest.key not in done] for jobs in _jobs(settings)]
        total = sum(len(jobs) for jobs in _jobs(settings))
        left = sum(map(len, per_process))
        log.info("%s: %d contests, %d already done", settings.sweep_name, total, total - left)
        with logging_redirect_tqdm(), tqdm(total=total, initial=total - left, unit="contest",
                                           dynamic_ncols=True) as bar:
            def progress(job, label):
                bar.set_description(f"{job.contest} | {label}", refresh=False)

            for process, jobs in enumerate(per_process):
                suspect = [j for j in jobs if poison is not None and j.contest.key == poison]
                if suspect:
                    log.warning("%s took the harness down last time: measuring it in a child process", suspect[0].contest)
                    _run(run_in_child, suspect, settings, common, cpus, run_dir, progress, bar)
                    jobs = [j for j in jobs if j not in suspect]
                runner = run_here if settings.cell.timing.processes == 1 else run_in_child
                _run(runner, jobs, settings, common, cpus, run_dir, progress, bar)
    finish(run_dir, settings, time.perf_counter() - started)


def _run(runner, jobs, settings, common, cpus, run_dir: Path, progress, bar) -> None:
    here = runner is run_here
    for job, outcome in runner(jobs, settings.cell, common, cpus,
                               _marking(run_dir, progress) if here else progress):
        append_unit(run_dir / PHASES_FILE, outcome.phase_rows, schema.PHASES)
        append_unit(run_dir / RESULTS_FILE, outcome.rows, schema.RESULTS)   # the contest is on disk
        mark_in_progress(run_dir, None)
        bar.update()


def _marking(run_dir: Path, progress):
    """on_cell for in-process runs: mark the contest in progress (once per contest), report progress."""
    last = {"key": None}

    def on_cell(job, label):
        if job.contest.key != last["key"]:
            mark_in_progress(run_dir, job.contest.key)
            last["key"] = job.contest.key
        progress(job, label)
    return on_cell
