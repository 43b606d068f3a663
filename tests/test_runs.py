"""The harness end to end: configs compose, cells get the right status, nothing finished is lost."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import harness.experiment as experiment
import harness.isolation as isolation
import strategies
from harness.records import COLUMNS, STATUSES, load_results
from harness.summary import summarize
from harness.variants import parse_variant
from fakes import FAST_TIMING, TINY_SWEEP, Declines3x3, Failing, Wrong, tiny_config

CONF = Path(__file__).resolve().parent.parent / "conf"


@pytest.fixture
def test_strategies(monkeypatch):
    for cls in (Declines3x3, Failing, Wrong):
        monkeypatch.setitem(strategies.STRATEGIES, cls.name, cls)


# --- configs -------------------------------------------------------------------------
@pytest.mark.parametrize("sweep", sorted(p.stem for p in (CONF / "sweep").glob("*.yaml")))
@pytest.mark.parametrize("timing", sorted(p.stem for p in (CONF / "timing").glob("*.yaml")))
def test_every_sweep_and_timing_composes_and_validates(sweep, timing):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"sweep={sweep}", f"timing={timing}"])
    settings = experiment.settings_from_config(OmegaConf.to_container(cfg, resolve=True))
    assert settings.shapes and settings.sweep_name == sweep
    assert {v.name for v in settings.variants} == set(strategies.STRATEGIES)  # null = the registry


def test_grid_override_gives_one_shape_per_value():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["sweep=grid", "sweep.C=[16,32,64,128]"])
    settings = experiment.settings_from_config(OmegaConf.to_container(cfg, resolve=True))
    assert [s.C for s in settings.shapes] == [16, 32, 64, 128]
    assert [s.name for s in settings.shapes] == ["C=16", "C=32", "C=64", "C=128"]
    assert all(s.pad == 1 and s.N == 8 for s in settings.shapes)  # pad same = K // 2, batch 8


def test_network_sweeps_count_their_layers():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        counts = {name: sum(s.count for s in experiment.settings_from_config(OmegaConf.to_container(
            compose(config_name="config", overrides=[f"sweep={name}"]), resolve=True)).shapes)
            for name in ("resnet18", "resnet50", "vgg16")}
    assert counts == {"resnet18": 20, "resnet50": 53, "vgg16": 13}


def test_variant_specs_parse_options():
    v = parse_variant("parallel[base=fft, n_jobs=2]") if "parallel" in strategies.STRATEGIES else None
    if v is not None:
        assert v.options == {"base": "fft", "n_jobs": 2} and v.spec == "parallel[base=fft,n_jobs=2]"
    with pytest.raises(ValueError, match=r"unknown strategy 'fastest' .*known strategies: \["):
        parse_variant("fastest")
    with pytest.raises(ValueError, match="not key=value"):
        parse_variant("im2col[oops]")


# --- runs ----------------------------------------------------------------------------
def test_run_records_every_status_and_the_schema(tmp_path, test_strategies):
    config = tiny_config(strategies=["naive", "im2col", "declines3x3", "failing", "wrong"])
    experiment.main(config, tmp_path / "run")
    results = load_results(tmp_path / "run")
    assert list(results.columns) == COLUMNS
    assert set(results["status"]) <= set(STATUSES)
    status = results.groupby(["shape", "strategy", "pass"])["status"].first()
    assert (status.loc[:, ["naive", "im2col"], :] == "ok").all()
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
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    wrong_forward = (summary["strategy"] == "wrong") & (summary["pass"] == "forward")
    assert (summary.loc[wrong_forward, "status"] == "mismatch").all()
    assert not summary.loc[wrong_forward, "winner"].any()  # mismatches never win
    for name in ("config.json", "env.json"):
        assert json.loads((tmp_path / "run" / name).read_text())
    assert json.loads((tmp_path / "run" / "env.json").read_text())["gemm_gflops"]["1"] > 0


def test_refuses_to_overwrite_a_run(tmp_path):
    experiment.main(tiny_config(strategies=["im2col"], passes=["forward"]), tmp_path / "run")
    with pytest.raises(ValueError, match="already holds results; refusing to overwrite"):
        experiment.main(tiny_config(strategies=["im2col"]), tmp_path / "run")


def test_interrupt_keeps_finished_cells_and_resume_finishes(tmp_path, monkeypatch):
    real_run_cell, calls = isolation.run_cell, []

    def interrupting(data, variant, threads, pass_):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append((data.shape.name, variant.spec, pass_))
        return real_run_cell(data, variant, threads, pass_)

    monkeypatch.setattr(isolation, "run_cell", interrupting)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        experiment.main(tiny_config(), run)
    first = load_results(run)
    assert len(first.groupby(["shape", "strategy", "pass"])) == 3

    monkeypatch.setattr(isolation, "run_cell", lambda *a: (calls.append(a[0].shape.name), real_run_cell(*a))[1])
    calls.clear()
    with pytest.raises(ValueError, match="other overrides would change what it measures"):
        experiment.main({"resume": str(run)}, None, overrides=[f"resume={run}", "dtype=float64"])
    experiment.main({"resume": str(run)}, None, overrides=[f"resume={run}"])
    final = load_results(run)
    assert len(calls) == 8 - 3                      # 2 shapes x 2 strategies x 2 passes, 3 done
    assert len(final.groupby(["shape", "strategy", "pass"])) == 8
    pd.testing.assert_frame_equal(final.iloc[:len(first)], first)  # finished rows untouched


@pytest.mark.parametrize("change,message", [
    ({"strategies": ["im2col", "fastest"]}, r"unknown strategy 'fastest'.*known strategies"),
    ({"sweep": {**TINY_SWEEP, "layers": [{"name": "big", "C": 2, "H": 4, "F": 2, "K": 9}]}},
     r"sweep entry 'big' .* not a valid layer: kernel 9x9 .* larger than the padded input 4x4"),
    ({"sweep": {**TINY_SWEEP, "layers": [{"name": "empty", "C": 0, "H": 4, "F": 2, "K": 3}]}},
     r"sweep entry 'empty' .* zero dimension"),
    ({"dtype": "float16"}, r"dtype must be one of"),
    ({"threads": [0]}, r"threads must be a list of ints >= 1"),
    ({"timing": {**FAST_TIMING, "repeats": 3}}, r"unknown timing settings \['repeats'\]"),
])
def test_bad_settings_fail_before_any_work(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        experiment.main(tiny_config(**change), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --- the winner rule -----------------------------------------------------------------
def _rows(strategy, times, status="ok"):
    return [{"shape": "s", "strategy": strategy, "pass": "forward", "threads": 1, "process": 0,
             "count": 1, "flops": 1e9, "status": status, "reason": "", "seconds": t, "cold_seconds": t,
             "noisy": False, "error_ratio": 0.1, "mem_tracemalloc_bytes": 0, "mem_rss_bytes": 0,
             "memory_note": ""} for t in times]


def test_winner_ties_and_speedup_follow_the_one_rule():
    results = pd.DataFrame(_rows("a", [1.0, 1.0, 1.0]) + _rows("b", [1.03, 1.03, 1.03])
                           + _rows("c", [2.0, 2.0, 2.0]) + _rows("d", [0.1, 0.1], status="mismatch"))
    s = summarize(results, baseline="c").set_index("strategy")
    assert s.loc["a", "winner"] and not s.loc["a", "tied"]
    assert s.loc["b", "tied"]                          # within 5% of the winner
    assert not s.loc["c", "tied"] and not s.loc["d", "winner"]
    assert s.loc["a", "speedup"] == pytest.approx(2.0)
    s = summarize(results, baseline="zzz").set_index("strategy")
    assert s["speedup"].isna().all() and (s["speedup_note"] == "baseline zzz not in this run").all()
