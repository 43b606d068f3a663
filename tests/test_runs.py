"""A run end to end: cells get the right status, the schema holds, nothing finished is lost, resume pins what ran."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import harness.experiment as experiment
import harness.isolation as isolation
import strategies
from harness import schema
from harness.records import STATUSES, load_results
from harness.summary import summarize
from harness.variants import parse_variant
from fakes import Declines3x3, Failing, Float64Out, ListOut, Mutates, Wrong, tiny_config


@pytest.fixture
def test_strategies(monkeypatch):
    for cls in (Declines3x3, Failing, Wrong, Float64Out, ListOut, Mutates):
        monkeypatch.setitem(strategies.STRATEGIES, cls.name, cls)


def test_variant_specs_parse_options_into_canonical_labels():
    v = parse_variant("parallel[n_jobs=2, base=fft]")
    assert v.options == {"n_jobs": 2, "base": "fft"} and v.label == "parallel[base=fft,n_jobs=2]"
    with pytest.raises(ValueError, match=r"unknown strategy 'fastest' .*known strategies: \["):
        parse_variant("fastest")
    with pytest.raises(ValueError, match="not key=value"):
        parse_variant("im2col[oops]")


def test_run_records_every_status_and_the_schema(tmp_path, test_strategies):
    config = tiny_config(strategies=["naive", "im2col", "declines3x3", "failing", "wrong"])
    experiment.main(config, tmp_path / "run")
    results = load_results(tmp_path / "run")
    assert list(results.columns) == schema.names(schema.RESULTS)
    assert set(results["status"]) <= set(STATUSES)
    status = results.groupby(["shape", "strategy", "pass"])["status"].first()
    assert (status.loc[:, "im2col", :] == "ok").all()
    assert status["a", "declines3x3", "forward"] == "unsupported"
    assert status["b", "declines3x3", "forward"] == "ok"
    assert (status.loc[:, "failing", :] == "error").all()
    assert (status.loc[:, "wrong", "forward"] == "mismatch").all()
    reasons = results.groupby(["shape", "strategy", "pass"])["reason"].first()
    assert "declines 3x3" in reasons["a", "declines3x3", "forward"]
    assert "RuntimeError: deliberate failure" in reasons["a", "failing", "forward"]
    assert "out: max relative error" in reasons["a", "wrong", "forward"]
    ok = results[results["status"] == "ok"]
    assert ok["seconds"].notna().all() and (ok.groupby(["shape", "strategy", "pass"]).size() == 3).all()
    assert (ok["gflops"] > 0).all() and ok["err_out"].notna().any()
    assert ok["predicted_seconds"].notna().all()          # every measured cell has its prediction beside it
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert list(summary.columns) == schema.names(schema.SUMMARY)
    wrong_forward = (summary["strategy"] == "wrong") & (summary["pass"] == "forward")
    assert (summary.loc[wrong_forward, "status"] == "mismatch").all()
    assert not summary.loc[wrong_forward, "winner"].any()  # mismatches never win
    for name in ("config.json", "env.json"):
        assert json.loads((tmp_path / "run" / name).read_text())
    env = json.loads((tmp_path / "run" / "env.json").read_text())
    assert env["gemm_gflops"]["1"] > 0 and env["bandwidth_gb_per_s"]["1"] > 0 and env["strategies_hash"]


def test_the_contract_is_enforced_on_every_result(tmp_path, test_strategies):
    """A float64 result for float32 input or a list is an error naming the strategy, never ranked; a strategy
    writing into its input fails alone, and every other strategy on the shape still passes the oracle."""
    experiment.main(tiny_config(strategies=["mutates", "float64out", "listout", "im2col"], passes=["forward"]),
                    tmp_path / "run")
    summary = pd.read_csv(tmp_path / "run" / "summary.csv").set_index(["shape", "strategy"])
    assert (summary.xs("float64out", level="strategy")["status"] == "error").all()
    assert summary.loc[("a", "float64out"), "reason"].startswith("ContractViolation: float64out returned float64")
    assert summary.loc[("a", "listout"), "reason"].startswith("ContractViolation: listout returned list for out")
    assert "read-only" in summary.loc[("a", "mutates"), "reason"]
    assert (summary.xs("im2col", level="strategy")["status"] == "ok").all()
    assert not summary.loc[summary["status"] == "error", "winner"].any()


def test_refuses_to_overwrite_a_run(tmp_path):
    experiment.main(tiny_config(strategies=["im2col"], passes=["forward"]), tmp_path / "run")
    with pytest.raises(ValueError, match="already holds results; refusing to overwrite"):
        experiment.main(tiny_config(strategies=["im2col"]), tmp_path / "run")


def test_interrupt_keeps_finished_contests_and_resume_finishes(tmp_path, monkeypatch):
    real, calls = isolation.measure_contest, []

    def interrupting(contest, *args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(contest.key)
        return real(contest, *args, **kwargs)

    monkeypatch.setattr(isolation, "measure_contest", interrupting)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        experiment.main(tiny_config(), run)
    first = load_results(run)
    assert len(first.groupby(["shape", "pass"])) == 3          # three whole contests, nothing of the fourth

    monkeypatch.setattr(isolation, "measure_contest", lambda c, *a, **k: (calls.append(c.key), real(c, *a, **k))[1])
    calls.clear()
    with pytest.raises(ValueError, match="other overrides would change what it measures"):
        experiment.main(tiny_config(resume=str(run)), None, overrides=[f"resume={run}", "dtype=float64"])
    experiment.main(tiny_config(resume=str(run)), None, overrides=[f"resume={run}"])
    final = load_results(run)
    assert len(calls) == 4 - 3                      # 2 shapes x 2 passes, 3 done
    assert len(final.groupby(["shape", "pass"])) == 4
    pd.testing.assert_frame_equal(final.iloc[:len(first)], first)  # finished rows untouched


def _rows(strategy, times, status="ok", role="strategy"):
    return [{"shape": "s", "strategy": strategy, "pass": "forward", "threads": 1, "process": 0, "role": role,
             "count": 1, "flops": 1e9, "status": status, "reason": "", "seconds": t, "cold_seconds": t,
             "noisy": False, "contended": False, "few_samples": False, "error_ratio": 0.1,
             "mem_tracemalloc_bytes": 0, "mem_rss_bytes": 0, "memory_note": "", "predicted_seconds": t,
             "bitwise_repeatable": True, "load_1min": 0.0, "other_cores": 0.0} for t in times]


def test_winner_ties_and_speedup_follow_the_one_rule():
    results = pd.DataFrame(_rows("a", [1.0, 1.0, 1.0]) + _rows("b", [1.03, 1.03, 1.03])
                           + _rows("c", [2.0, 2.0, 2.0]) + _rows("d", [0.1, 0.1], status="mismatch")
                           + _rows("peer", [0.5, 0.5, 0.5], role="peer"))
    s = summarize(results, baseline="c").set_index("strategy")
    assert s.loc["a", "winner"] and not s.loc["a", "tied"]
    assert s.loc["b", "tied"]                          # within 5% of the winner
    assert not s.loc["c", "tied"] and not s.loc["d", "winner"]
    assert not s.loc["peer", "winner"] and pd.isna(s.loc["peer", "rank"])   # a peer is a yardstick, never a winner
    assert s.loc["a", "speedup"] == pytest.approx(2.0)
    assert s.loc["a", "speedup_vs_peer"] == pytest.approx(0.5)
    assert s.loc["a", "entrants_measured"] == 4 and not s.loc["a", "uncontested"]   # a, b, c and the peer
    s = summarize(results, baseline="zzz").set_index("strategy")
    assert s["speedup"].isna().all() and (s["speedup_note"] == "baseline zzz not in this contest").all()
