"""Measurement trust: allocator policy in children, noise flags, process isolation, stability."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import harness.experiment as experiment
import strategies
from harness.records import load_results
from strategies.im2col import Im2col
from fakes import tiny_config

ROOT = Path(__file__).resolve().parent.parent

CHILD_CHECK = """
import multiprocessing, json, sys
sys.path.insert(0, {root!r})
from harness.allocator import apply_allocator, mmapped_bytes

def probe(queue):
    import os, numpy as np
    before = mmapped_bytes()
    big = np.ones(2 ** 24)          # 128 MiB: far above glibc's default mmap threshold
    queue.put({{"env": os.environ.get("MALLOC_MMAP_MAX_"), "mmapped_rise": mmapped_bytes() - before}})

if __name__ == "__main__":
    apply_allocator({mode!r})
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=probe, args=(queue,))
    child.start(); result = queue.get(); child.join()
    print(json.dumps(result))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator policy")
@pytest.mark.parametrize("mode,pinned", [("default", False), ("pinned", True)])
def test_allocator_setting_reaches_child_processes(tmp_path, mode, pinned):
    script = tmp_path / "check.py"
    script.write_text(CHILD_CHECK.format(root=str(ROOT), mode=mode))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    if pinned:   # inside the child: the env var is there and a big array did not get its own mmap
        assert seen == {"env": "0", "mmapped_rise": 0}
    else:
        assert seen["env"] is None and seen["mmapped_rise"] >= 2 ** 27


class Sleepy(Im2col):
    """Test-only: im2col plus a random sleep of 0-20 ms, so its timings are noisy."""
    name = "sleepy"
    rng = np.random.default_rng(0)

    def _forward(self, x, w, b, problem):
        time.sleep(self.rng.uniform(0, 0.02))
        return super()._forward(x, w, b, problem)


class Steady(Im2col):
    """Test-only: im2col plus a fixed sleep; deterministic ranking against Sleepier."""
    name = "steady"
    nap = 0.002

    def _forward(self, x, w, b, problem):
        time.sleep(self.nap)
        return super()._forward(x, w, b, problem)


class Sleepier(Steady):
    name = "sleepier"
    nap = 0.02


@pytest.fixture
def fakes(monkeypatch):
    for cls in (Sleepy, Steady, Sleepier):
        monkeypatch.setitem(strategies.STRATEGIES, cls.name, cls)


def test_noisy_flag_marks_a_randomly_sleeping_strategy(tmp_path, fakes):
    timing = {**tiny_config()["timing"], "min_repeats": 12, "max_repeats": 12}
    experiment.main(tiny_config(strategies=["im2col", "sleepy"], passes=["forward"], timing=timing), tmp_path / "r")
    noisy = load_results(tmp_path / "r").groupby("strategy")["noisy"].agg(lambda s: s.astype(bool).all())
    assert noisy["sleepy"]


def test_process_isolation_gives_one_row_group_per_process(tmp_path):
    timing = {**tiny_config()["timing"], "processes": 2}
    experiment.main(tiny_config(strategies=["im2col"], timing=timing), tmp_path / "r")
    results = load_results(tmp_path / "r")
    groups = results.groupby(["shape", "strategy", "pass", "process"]).size()
    assert sorted(results["process"].unique()) == [0, 1]
    assert len(groups) == 2 * 1 * 2 * 2 and (groups == 3).all()   # shapes x strategies x passes x processes
    assert (results["status"] == "ok").all()
    assert results["steal_fraction"].between(0, 1).all() and results["load_1min"].notna().all()


def test_stability_agreement_is_one_for_a_deterministic_pair(tmp_path, fakes):
    experiment.main(tiny_config(strategies=["steady", "sleepier"], passes=["forward"], stability=True), tmp_path / "r")
    report = json.loads((tmp_path / "r" / "stability.json").read_text())
    assert report["contests"] == 2
    assert report["winner_agreement"] == 1.0 and report["winner_set_overlap"] == 1.0
    assert (tmp_path / "r" / "first" / "results.csv").exists() and (tmp_path / "r" / "second" / "results.csv").exists()


def test_short_calls_are_timed_in_blocks():
    from harness.timing import TimingSettings, time_call
    calls = []
    settings = TimingSettings(warmup=1, min_repeats=4, min_seconds=0.0, max_repeats=4, block_seconds=0.02)
    timing = time_call(lambda: (calls.append(1), time.sleep(0.002)), settings)
    assert 3 <= timing.block_calls <= 10                # ~0.02 s / (>= 2 ms a call)
    assert len(timing.seconds) == 4 and len(calls) == 1 + 1 + 4 * timing.block_calls
    assert all(0.002 <= s < 0.02 for s in timing.seconds)  # per call, not per block
    long = time_call(lambda: time.sleep(0.03), settings)
    assert long.block_calls == 1
