"""Misbehaving strategies and signals: one cell's error row, never a lost run.

Hangs stop at the cell time limit, in this process and in children; a strategy that kills
its process becomes one error row on resume; SystemExit is an error row; impossible sizes
are skipped with the numbers; SIGTERM leaves the same hint as Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import harness.experiment as experiment
import harness.isolation as isolation
import strategies
from harness.records import load_results
from harness.runfolder import in_progress
from strategies.im2col import Im2col
from fakes import Exits, Hangs, tiny_config

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


class Segfaults(Im2col):
    """Takes its process down with a segmentation fault on layer b."""
    name = "segfaults"

    def _forward(self, x, w, b, problem):
        if problem.HH == 5:
            import ctypes
            ctypes.string_at(0)
        return super()._forward(x, w, b, problem)


class HangsInC(Im2col):
    """Hangs where no signal reaches Python: SIGALRM blocked, then a sleep (as a C call that never returns)."""
    name = "hangsinc"

    def _forward(self, x, w, b, problem):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)


@pytest.fixture
def faulty(monkeypatch):
    for cls in (Exits, Hangs, Segfaults, HangsInC):
        monkeypatch.setitem(strategies.STRATEGIES, cls.name, cls)


def statuses(run):
    s = pd.read_csv(run / "summary.csv")
    return s.set_index(["shape", "strategy", "pass"])[["status", "reason"]]


@pytest.mark.parametrize("processes", [1, 2])
def test_a_hang_is_stopped_at_the_time_limit_in_process_and_in_children(tmp_path, faulty, processes):
    t0 = time.perf_counter()
    run = experiment.main(tiny_config(strategies=["im2col", "hangs"], passes=["forward"],
                                      timing={"cell_timeout_seconds": 0.5, "processes": processes}), tmp_path / "r")
    s = statuses(run)
    hung = s.xs("hangs", level="strategy")
    assert (hung["status"] == "error").all() and hung["reason"].str.contains("timeout after 0.5 s").all()
    assert (s.xs("im2col", level="strategy")["status"] == "ok").all()
    assert time.perf_counter() - t0 < 60


def test_a_child_stuck_outside_python_is_killed_and_its_contest_goes_on(tmp_path, faulty, monkeypatch):
    monkeypatch.setattr(isolation, "GRACE_SECONDS", 0.5)
    run = experiment.main(tiny_config(strategies=["im2col", "hangsinc"], passes=["forward"],
                                      timing={"cell_timeout_seconds": 1.0, "processes": 2}), tmp_path / "r")
    s = statuses(run)
    assert s.xs("hangsinc", level="strategy")["reason"].str.contains("stopped responding").all()
    assert (s.xs("im2col", level="strategy")["status"] == "ok").all()


def test_system_exit_in_a_strategy_is_an_error_row(tmp_path, faulty):
    run = experiment.main(tiny_config(strategies=["im2col", "exits"], passes=["forward"]), tmp_path / "r")
    s = statuses(run)
    assert (s.xs("exits", level="strategy")["reason"] == "SystemExit: 5").all()
    assert (s.xs("im2col", level="strategy")["status"] == "ok").all()


SEGFAULT_RUN = """
import sys
sys.path[:0] = [{tests!r}, {root!r}]
import strategies, test_faults
from harness import experiment
from fakes import tiny_config
strategies.STRATEGIES["segfaults"] = test_faults.Segfaults
experiment.main(tiny_config(strategies=["im2col", "segfaults"], passes=["forward"]), {run!r})
"""


def test_a_cell_that_killed_the_harness_is_one_error_row_on_resume(tmp_path, faulty):
    run = tmp_path / "r"
    died = subprocess.run([sys.executable, "-c", SEGFAULT_RUN.format(tests=str(TESTS), root=str(ROOT), run=str(run))],
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == -signal.SIGSEGV
    assert in_progress(run) == ("b", "forward", 1, 0)          # the contest it died in is known
    experiment.main(tiny_config(resume=str(run), resume_force=True), None, overrides=[f"resume={run}", "resume_force=true"])
    s = statuses(run)
    assert s.loc[("b", "segfaults", "forward"), "status"] == "error"
    assert "died" in s.loc[("b", "segfaults", "forward"), "reason"]
    assert s.loc[("b", "im2col", "forward"), "status"] == "ok" and s.loc[("a", "segfaults", "forward"), "status"] == "ok"
    assert in_progress(run) is None


def test_impossible_sizes_are_skipped_with_the_numbers_and_the_sweep_goes_on(tmp_path):
    sweep = {"name": "huge", "batch": 1, "layers": [{"name": "padded", "C": 2, "H": 4, "F": 2, "K": 3, "pad": 100000},
                                                    {"name": "strided", "C": 2, "H": 6, "F": 3, "K": 3, "stride": 5000},
                                                    {"name": "fine", "C": 2, "H": 6, "F": 3, "K": 3, "pad": 1}]}
    run = experiment.main(tiny_config(sweep=sweep, strategies=["im2col", "fft"], passes=["forward"]), tmp_path / "r")
    s = statuses(run)
    padded = s.xs("padded", level="shape")
    assert (padded["status"] == "skipped").all() and padded["reason"].str.contains(r"need [\d.e+]+ GiB").all()
    assert (s.xs("strided", level="shape")["status"] == "ok").all()   # fft makes only the phases that hold data
    assert (s.xs("fine", level="shape")["status"] == "ok").all()


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sweep=quick", "strategies=[im2col,naive]",
                             f"results_dir={results}", "timing.hopeless_factor=1e9"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(results.glob("*/results.csv")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    said = out + err                      # Hydra's log handler writes to stdout
    assert "interrupted" in said and "resume=" in said and "run.py" in said
    run = next(results.glob("*/"))
    done = len(load_results(run))
    assert done > 0
    assert os.path.exists(run / "results.csv")
