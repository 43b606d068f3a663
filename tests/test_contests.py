"""Contests complete and honest: measured in rounds, hopeless and skipped decided by measurement, duplicates not
raced, the load guard acting, resume pinned to what was measured."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace
import time

import pandas as pd
import pytest

import harness.experiment as experiment
import harness.load_guard as load_guard
import strategies
from harness import predict
from harness.inputs import ShapeData
from harness.measure.load import LoadReading
from harness.records import load_results
from harness.sweeps import expand_sweep
from strategies.im2col import Im2col
from fakes import tiny_config


class Slow(Im2col):
    """im2col plus 20 ms a call: ~100x the tiny layers' im2col."""
    name = "slow"

    def _forward(self, x, w, b, problem):
        time.sleep(0.02)
        return super()._forward(x, w, b, problem)


class SlowLinear(Im2col):
    """im2col plus a sleep proportional to the work (N*H): what the predictor extrapolates exactly."""
    name = "slowlinear"

    def _forward(self, x, w, b, problem):
        time.sleep(0.001 * problem.N * problem.H)
        return super()._forward(x, w, b, problem)


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setitem(strategies.STRATEGIES, "slow", Slow)
    monkeypatch.setitem(strategies.STRATEGIES, "slowlinear", SlowLinear)


def summary_of(run):
    return pd.read_csv(run / "summary.csv").set_index(["shape", "strategy", "pass"])


def test_samples_alternate_between_entrants_in_rotated_rounds(tmp_path):
    experiment.main(tiny_config(strategies=["im2col", "fft", "naive"], passes=["forward"],
                                timing={"min_repeats": 4, "max_repeats": 4}), tmp_path / "r")
    rows = load_results(tmp_path / "r")
    cell = rows[(rows["shape"] == "a") & rows["seconds"].notna()]
    assert sorted(cell.groupby("strategy")["round"].apply(list).iloc[0]) == [0, 1, 2, 3]
    # every round holds one sample of every entrant: drift lands on all alike
    assert (cell.groupby("round")["strategy"].nunique() == 3).all()


def test_a_hopeless_entrant_is_not_run_but_drawn_at_its_prediction(tmp_path, slow):
    run = experiment.main(tiny_config(strategies=["im2col", "slow"], passes=["forward"],
                                      timing={"hopeless_factor": 5.0}), tmp_path / "r")
    s = summary_of(run)
    assert (s.xs("slow", level="strategy")["status"] == "hopeless").all()
    for shape in ("a", "b"):       # drawn at its prediction, which the rule put over 5x the fastest (a probe call
        slow_s = s.loc[(shape, "slow", "forward"), "predicted_s"]      # stopped at its limit: a lower bound)
        assert slow_s > 5 * s.loc[(shape, "im2col", "forward"), "median_s"]
    assert "over timing.hopeless_factor 5" in s.loc[("a", "slow", "forward"), "reason"]
    assert s.loc[("a", "im2col", "forward"), "uncontested"]          # the only strategy measured there
    assert s.loc[("a", "im2col", "forward"), "entrants_skipped"] == 1
    rows = load_results(run)
    assert rows.loc[rows["strategy"] == "slow", "seconds"].isna().all()   # never timed


def test_one_call_over_the_budget_is_skipped_and_a_long_call_sampled_less(tmp_path, slow):
    run = experiment.main(tiny_config(strategies=["slowlinear"], passes=["forward"],
                                      timing={"cell_budget_seconds": 0.008, "min_repeats": 3, "max_repeats": 50}),
                          tmp_path / "r")
    s = summary_of(run)
    assert (s["status"] == "skipped").all() and s["reason"].str.contains("> cell budget 0.008 s").all()
    run = experiment.main(tiny_config(strategies=["slowlinear"], passes=["forward"],
                                      timing={"cell_budget_seconds": 0.03, "min_seconds": 10.0, "max_repeats": 50}),
                          tmp_path / "r2")
    s = summary_of(run)
    assert (s["status"] == "ok").all() and (s["repeats"] == 3).all()   # budget spent: min_repeats, not dropped


def test_predictions_sit_beside_measured_times(tmp_path):
    run = experiment.main(tiny_config(strategies=["im2col", "naive"]), tmp_path / "r")
    s = summary_of(run)
    assert s["predicted_s"].notna().all()
    ratio = s["predicted_over_measured"].dropna()
    assert len(ratio) == len(s) and (ratio > 0).all()       # the predictor's error is a column (timing: no bound)


def test_the_probe_grows_until_a_call_takes_the_target_and_extrapolates_only_then():
    shape = expand_sweep({"name": "s", "batch": 8, "layers": [{"name": "l", "C": 8, "H": 32, "F": 8, "K": 3,
                                                               "pad": 1}]})[0]
    data = ShapeData(shape, "float32", 0, False, 0.5)
    im2col = strategies.get_strategy("im2col")
    whole = predict.predict(im2col, data, "forward", target=10.0, limit=10.0)
    assert whole.measured                                  # never reached 10 s: the whole layer was probed
    short = predict.predict(strategies.get_strategy("naive"), data, "forward", target=1e-9, limit=10.0)
    assert not short.measured and short.seconds > 0       # stopped at the first probe and extrapolated
    sizes = list(predict.probe_sizes(shape))
    assert (sizes[0].N, sizes[0].out_h) == (1, 1) and (sizes[-1].N, sizes[-1].H) == (8, 32)


class Glacial(Im2col):
    """Correct, but 0.4 s a call whatever the size (the naive loops on a deep layer: seconds on any probe)."""
    name = "glacial"

    def _forward(self, x, w, b, problem):
        time.sleep(0.4)
        return super()._forward(x, w, b, problem)

    def _backward(self, dout, problem, saved, wrt):
        time.sleep(0.4)
        return super()._backward(dout, problem, saved, wrt)


def test_a_probe_call_of_the_limit_is_not_repeated_and_its_prediction_stands():
    shape = expand_sweep({"name": "s", "batch": 2, "layers": [{"name": "l", "C": 2, "H": 8, "F": 2, "K": 3,
                                                               "pad": 1}]})[0]
    data = ShapeData(shape, "float32", 0, False, 0.5)
    first = predict.predict(Glacial(), data, "forward", target=0.02, limit=0.2)
    assert 0.8 <= first.spent < 1.1          # the strategy's first call in the process: a first touch, then the call
    p = predict.predict(Glacial(), data, "forward", target=0.02, limit=0.2)
    assert 0.4 <= p.spent < 0.7              # one call, not a first touch and then the call
    assert not p.measured and p.last_call >= 0.4 and p.seconds >= 0.4


def test_a_prediction_settles_a_cell_only_on_a_bound_or_a_whole_layer():
    P = predict.Prediction
    assert predict.settled(P(1.0, True, 1.0, 1.0), threshold=0.1, limit=0.2)          # the whole layer, measured
    assert predict.settled(P(0.05, False, 0.1, 0.01), threshold=0.1, limit=0.2)       # under the threshold
    assert predict.settled(P(9.0, False, 0.5, 0.5), threshold=0.1, limit=0.2)         # one call beyond both
    assert not predict.settled(P(9.0, False, 0.1, 0.05), threshold=0.01, limit=0.2)   # short: maybe a first touch
    assert not predict.settled(P(9.0, False, 0.1, 0.05), threshold=0.1, limit=0.2)    # extrapolated: probe more
    timing = SimpleNamespace(hopeless_factor=20.0, cell_budget_seconds=2.0)
    assert predict.ruling(0.5, 0.01, "im2col", timing)[0] == "hopeless"
    assert predict.ruling(3.0, math.inf, "", timing)[0] == "skipped"
    assert predict.ruling(0.1, 0.01, "im2col", timing) is None


def test_a_glacial_entrant_is_hopeless_in_under_a_second_and_never_judged(tmp_path, monkeypatch):
    monkeypatch.setitem(strategies.STRATEGIES, "glacial", Glacial)
    judged = []
    import harness.contest as contest
    real = contest.judge
    monkeypatch.setattr(contest, "judge", lambda strategy, data, pass_: judged.append(strategy.label) or
                        real(strategy, data, pass_))
    one = {"name": "one", "batch": 2, "layers": [{"name": "l", "C": 2, "H": 8, "F": 2, "K": 3, "pad": 1}]}
    t0 = time.perf_counter()
    run = experiment.main(tiny_config(sweep=one, strategies=["im2col", "glacial"], passes=["forward", "backward"],
                                      timing={"hopeless_factor": 20.0, "cell_budget_seconds": 2.0}), tmp_path / "r")
    s = summary_of(run)
    assert (s.xs("glacial", level="strategy")["status"] == "hopeless").all()
    assert set(judged) == {"im2col"}                         # only the timed cells are run whole and judged
    cells = load_results(run).groupby(["strategy", "pass"])["decision_seconds"].first()
    assert cells.loc["glacial"].max() < 2.2     # at most a first touch and one probe call (backward: with its forward)
    assert time.perf_counter() - t0 < 30


def test_a_duplicate_racer_is_not_raced(tmp_path):
    """parallel at one thread runs im2col's code: left out of the default list, refused beside im2col when named."""
    run = experiment.main(tiny_config(strategies=None, passes=["forward"]), tmp_path / "default")
    assert "parallel[base=im2col]" not in set(summary_of(run).index.get_level_values("strategy"))
    run = experiment.main(tiny_config(strategies=["im2col", "parallel"], passes=["forward"]), tmp_path / "named")
    s = summary_of(run).xs("parallel[base=im2col]", level="strategy")
    assert (s["status"] == "unsupported").all() and s["reason"].str.contains("runs the same code as im2col").all()
    run = experiment.main(tiny_config(strategies=["parallel"], passes=["forward"]), tmp_path / "alone")
    assert (summary_of(run)["status"] == "ok").all()          # with no im2col beside it, it is raced


def test_the_load_guard_re_measures_and_marks_contended_contests(tmp_path, monkeypatch):
    readings = iter([LoadReading(1.5, 0.0, 2.0, 1.0)] * 100)
    monkeypatch.setattr(load_guard.CoreLoad, "reading", lambda self: next(readings))
    calls = []
    real = load_guard.run_contest
    monkeypatch.setattr(load_guard, "run_contest", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    run = experiment.main(tiny_config(strategies=["im2col"], passes=["forward"],
                                      timing={"load_retries": 2, "load_pause_seconds": 0.0}), tmp_path / "r")
    assert len(calls) == 2 * 3                               # 2 contests, each measured 3 times
    rows = load_results(run)
    assert rows["contended"].all() and (rows["other_cores"] == 1.5).all()
    assert "contended: 2 of 2 contests" in (run / "report.md").read_text()


def test_a_quiet_machine_is_measured_once(tmp_path, monkeypatch):
    monkeypatch.setattr(load_guard.CoreLoad, "reading", lambda self: LoadReading(0.0, 0.0, 0.1, 1.0))
    run = experiment.main(tiny_config(strategies=["im2col"], passes=["forward"], timing={"load_retries": 2}),
                          tmp_path / "r")
    assert not load_results(run)["contended"].any()
    verdict = next(line for line in (run / "report.md").read_text().splitlines() if line.startswith("**Conditions:"))
    assert verdict.startswith(("**Conditions: quiet", "**Conditions: noisy cells")) and "contended:" not in verdict


def test_resume_refuses_a_changed_strategy_list_and_a_changed_code_hash(tmp_path, monkeypatch):
    run = tmp_path / "r"
    experiment.main(tiny_config(strategies=None, passes=["forward"]), run)
    saved = json.loads((run / "config.json").read_text())
    assert saved["pinned"]["entrants"] and saved["strategies"] is None
    (run / "summary.csv").unlink()
    monkeypatch.setitem(strategies.STRATEGIES, "slow", Slow)           # a strategy added since
    with pytest.raises(ValueError, match=r"entrants: .* then, .*slow.* now"):
        experiment.main(tiny_config(resume=str(run)), None, overrides=[f"resume={run}"])
    monkeypatch.delitem(strategies.STRATEGIES, "slow")
    pinned = saved["pinned"]
    monkeypatch.setattr(experiment, "code_version", lambda: {"git_commit": pinned["git_commit"],
                                                             "strategies_hash": "0" * 16,
                                                             "versions": pinned["versions"]})
    with pytest.raises(ValueError, match=r"strategies_hash: .* then, 0000000000000000 now.*resume_force=true"):
        experiment.main(tiny_config(resume=str(run)), None, overrides=[f"resume={run}"])
    experiment.main(tiny_config(resume=str(run), resume_force=True), None,
                    overrides=[f"resume={run}", "resume_force=true"])
    assert (run / "summary.csv").exists()                  # forced: finished, summary re-made


def test_a_stability_run_is_resumable(tmp_path):
    run = tmp_path / "r"
    experiment.main(tiny_config(strategies=["im2col", "naive"], passes=["forward"], stability=True), run)
    (run / "stability.json").unlink()
    experiment.main(tiny_config(resume=str(run), resume_force=True), None, overrides=[f"resume={run}", "resume_force=true"])
    report = json.loads((run / "stability.json").read_text())
    assert report["contests"] == 2 and json.loads((run / "config.json").read_text())["stability"]
