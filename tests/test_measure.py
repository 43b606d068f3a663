"""Measurement trust: allocator policy in children, noise flags, process isolation, stability."""
from __future__ import annotations

import json
import os
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
from harness.measure.allocator import apply_allocator, mmapped_bytes

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
    timing = {"min_repeats": 12, "max_repeats": 12}
    experiment.main(tiny_config(strategies=["im2col", "sleepy"], passes=["forward"], timing=timing), tmp_path / "r")
    noisy = load_results(tmp_path / "r").groupby("strategy")["noisy"].agg(lambda s: s.astype(bool).all())
    assert noisy["sleepy"]


def test_process_isolation_gives_one_row_group_per_process(tmp_path):
    timing = {"processes": 2}
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
    assert report["fastest_in_other_winner_set"] == 1.0
    assert (tmp_path / "r" / "first" / "results.csv").exists() and (tmp_path / "r" / "second" / "results.csv").exists()


def test_short_calls_are_timed_in_blocks():
    from harness.measure.timing import block_size, time_block
    calls = []
    k = block_size(0.002, 0.02)
    assert k == 10 and block_size(0.03, 0.02) == 1 and block_size(1e-7, 1.0) == 1000   # capped
    per_call = time_block(lambda: (calls.append(1), time.sleep(0.002)), k)
    assert len(calls) == k and 0.002 <= per_call < 0.02           # per call, not per block


TORCH_CHILD_CHECK = """
import json, sys
sys.path.insert(0, {root!r})
from harness.measure.allocator import apply_allocator, mmapped_bytes
apply_allocator({mode!r})
import torch
before = mmapped_bytes()
big = torch.empty(2 ** 25)          # 128 MiB through torch's own CPU allocator
big.fill_(1.0)
print(json.dumps({{"mmapped_rise": mmapped_bytes() - before}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator policy")
@pytest.mark.parametrize("mode,pinned", [("default", False), ("pinned", True)])
def test_allocator_setting_reaches_torchs_allocations(tmp_path, mode, pinned):
    pytest.importorskip("torch")
    script = tmp_path / "check.py"
    script.write_text(TORCH_CHILD_CHECK.format(root=str(ROOT), mode=mode))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True,
                         env=env)
    rise = json.loads(out.stdout.strip().splitlines()[-1])["mmapped_rise"]
    assert (rise == 0) if pinned else rise >= 2 ** 27


def test_the_harness_owns_the_peers_threads():
    """torch's intra-op pool follows the cell's thread budget inside the budget context and is restored after."""
    torch = pytest.importorskip("torch")
    from harness.measure.timing import thread_budget
    from strategies import get_strategy
    before = torch.get_num_threads()
    seen = {}
    peer = get_strategy("torch")
    x, w, b = (np.ones(s, np.float32) for s in ((2, 3, 8, 8), (4, 3, 3, 3), (4,)))
    for budget in (1, 2):
        with thread_budget(budget):
            peer.forward(x, w, b, {"stride": 1, "pad": 1})
            seen[budget] = torch.get_num_threads()
        assert torch.get_num_threads() == before
    assert seen == {1: 1, 2: 2}
