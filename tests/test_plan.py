"""The per-layer plan: winner sets and choices, ties to the simpler, what mixing costs, bootstrap intervals,
the network totals, recommendation.csv, the headline, the plan file and auto[plan=...] in a sweep."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from harness import oracle, schema
from harness import plan as plan_module
from harness.plots.report import Run
from harness.settings import OPTION_LOADERS
from harness.summary import summarize
from harness.variants import parse_variant

LAYER = {"N": 2, "C": 4, "H": 8, "W": 8, "F": 3, "HH": 3, "WW": 3, "stride": 1, "pad": 1}
FAMILIES = {"im2col": "direct", "naive": "direct", "fft": "fft", "winograd": "winograd", "torch": "direct",
            "auto": "direct"}


def rows(shape, strategy, pass_, seconds, *, count=1, status="ok", dims=None, role=None, err=1e-7, threads=1,
         contended=False):
    """results.csv rows of one cell: one per sample (one without a time when ``seconds`` is empty)."""
    dims = {**LAYER, **(dims or {})}
    base = {"schema_version": schema.SCHEMA_VERSION, "run_id": "fake", "shape": shape, "count": count, **dims,
            "strategy": strategy, "strategy_name": strategy.split("[")[0], "family": FAMILIES[strategy],
            "role": role or ("peer" if strategy == "torch" else "strategy"), "pass": pass_, "dtype": "float32",
            "threads": threads, "process": 0, "status": status, "reason": "" if status == "ok" else "declined",
            "noisy": False, "contended": contended, "uncontested": False, "few_samples": False, "block_calls": 1,
            "cold_seconds": 0.0, "flops": 1e6, "predicted_seconds": math.nan, "decision_seconds": 0.0,
            "error_ratio": 0.01, "bitwise_repeatable": True, "mem_tracemalloc_bytes": 0.0, "mem_rss_bytes": 0.0,
            "load_1min": 0.0, "other_cores": 0.0, "host": "h", "cpu_model": "Test CPU", "allocator": "default",
            "exact_inputs": False, "cell_seconds": 0.0}
    for q in ("out", "dx", "dw", "db"):
        base[f"err_{q}"], base[f"tol_{q}"] = err, 1e-5 * oracle.ERROR_GROWTH[FAMILIES[strategy]]
    if status != "ok" or not seconds:
        return [schema.row(schema.RESULTS, base)]
    return [schema.row(schema.RESULTS, {**base, "repeat": i, "round": i, "seconds": s}) for i, s in enumerate(seconds)]


def fake_run(tmp_path, cell_rows, sweep="fake", baseline="im2col") -> Run:
    results = schema.coerce(pd.DataFrame([r for cell in cell_rows for r in cell]), schema.RESULTS)
    summary = summarize(results, baseline)
    config = {"sweep": {"name": sweep, "batch": 2}, "baseline": baseline, "dtype": "float32", "threads": [1]}
    env = {"cpu_model": "Test CPU", "host": "h", "gemm_gflops": {"1": 50.0}, "bandwidth_gb_per_s": {"1": 10.0}}
    return Run(tmp_path, results, summary, config, env)


def samples(median, n=9, spread=0.01, seed=0):
    return list(median * (1 + spread * np.random.default_rng(seed).standard_normal(n)))


def two_layer_run(tmp_path):
    """a: fft wins forward and backward (no mixing); b: winograd wins dx only, im2col everything else."""
    cells = []
    for p, t in {"forward": (2e-3, 1e-3, None), "backward_data": (4e-3, 2e-3, None),
                 "backward_filter": (4e-3, 1.5e-3, None)}.items():
        cells += [rows("a", "im2col", p, samples(t[0]), count=2), rows("a", "fft", p, samples(t[1], seed=1), count=2),
                  rows("a", "winograd", p, [], count=2, status="unsupported")]
    for p, t in {"forward": (1e-3, 3e-3, 1.5e-3), "backward_data": (2e-3, 5e-3, 1.2e-3),
                 "backward_filter": (2e-3, 5e-3, 3e-3)}.items():
        cells += [rows("b", "im2col", p, samples(t[0], seed=2), dims={"C": 16}),
                  rows("b", "fft", p, samples(t[1], seed=3), dims={"C": 16}),
                  rows("b", "winograd", p, samples(t[2], seed=4), dims={"C": 16})]
    return fake_run(tmp_path, cells, sweep="two")


def test_simpler_means_the_more_accurate_family_then_no_options_then_the_name():
    ranked = sorted([("fft", "fft"), ("parallel[base=im2col]", "direct"), ("winograd", "winograd"),
                     ("naive", "direct"), ("im2col", "direct")], key=lambda s: plan_module.simplicity(*s))
    assert [s for s, _ in ranked] == ["im2col", "naive", "parallel[base=im2col]", "winograd", "fft"]


def test_plan_cells_hold_the_winner_sets_simplest_first_errors_and_no_peer(tmp_path):
    cells = [rows("a", "im2col", "forward", samples(1.0e-3)), rows("a", "fft", "forward", samples(1.01e-3, seed=1)),
             rows("a", "torch", "forward", samples(0.5e-3, seed=2))]
    cell, = plan_module.plan_cells(fake_run(tmp_path, cells).summary)
    assert cell["winners"] == ["im2col", "fft"] and set(cell["entrants"]) == {"im2col", "fft"}
    assert cell["entrants"]["fft"]["error_ratio"] == pytest.approx(1e-7 / 1e-5)   # over the direct tolerance
    assert cell["problem"] == LAYER and cell["pass"] == "forward"


def test_the_training_step_counts_the_forward_a_mixed_backward_needs(tmp_path):
    run = two_layer_run(tmp_path)
    layers = {layer["shape"]: layer for layer in plan_module.layer_choices(run)}
    assert layers["a"]["training"] == {"forward": "fft", "backward_data": "fft", "backward_filter": "fft"}
    # b: winograd's dx (1.2 ms) + its forward (1.5 ms) > im2col's dx (2 ms) on im2col's cache: no mixing
    assert layers["b"]["training"] == {"forward": "im2col", "backward_data": "im2col", "backward_filter": "im2col"}
    totals = plan_module.network_rows(run).set_index("row")
    planned = totals.loc["per-layer plan"]
    assert planned["forward_s"] == pytest.approx(2 * 1e-3 + 1e-3, rel=0.02)   # a counted twice
    assert planned["mixing_s"] == 0
    assert planned["training_s"] == pytest.approx(planned[["forward_s", "backward_data_s", "backward_filter_s"]].sum())
    base = totals.loc["baseline"]
    assert planned["training_speedup"] == pytest.approx(base["training_s"] / planned["training_s"])
    assert planned["training_lo"] < planned["training_speedup"] < planned["training_hi"]


def test_mixing_is_counted_when_it_pays(tmp_path):
    cells = []
    for p, t in {"forward": (2e-3, 1e-3), "backward_data": (1e-3, 8e-3), "backward_filter": (3e-3, 1e-3)}.items():
        cells += [rows("a", "im2col", p, samples(t[0])), rows("a", "fft", p, samples(t[1], seed=1))]
    run = fake_run(tmp_path, cells)
    layer, = plan_module.layer_choices(run)
    assert layer["training"] == {"forward": "fft", "backward_data": "im2col", "backward_filter": "fft"}
    planned = plan_module.network_rows(run).set_index("row").loc["per-layer plan"]
    assert planned["mixing_s"] == pytest.approx(2e-3, rel=0.02)              # im2col's forward, for its cache
    assert planned["training_s"] == pytest.approx(1e-3 + 1e-3 + 1e-3 + 2e-3, rel=0.02)
    rec = plan_module.recommendation(run).set_index("pass")
    assert rec.loc["backward_data", "choice"] == "im2col" and rec.loc["backward_data", "mixing_s"] > 0
    step = rec.loc["training_step"]
    assert step["choice"] == "forward fft, dx im2col, dw fft"
    assert step["choice_s"] + step["mixing_s"] == pytest.approx(planned["training_s"])


def test_bootstrap_interval_covers_the_point_and_narrows_with_more_samples(tmp_path):
    def width(n):
        cells = [rows("a", "im2col", "forward", samples(2e-3, n=n, spread=0.05)),
                 rows("a", "fft", "forward", samples(1e-3, n=n, spread=0.05, seed=1))]
        r = plan_module.network_rows(fake_run(tmp_path, cells)).set_index("row").loc["per-layer plan"]
        assert r["forward_lo"] <= r["forward_speedup"] <= r["forward_hi"]
        return r["forward_hi"] - r["forward_lo"]
    assert width(60) < width(6)


def test_best_single_strategy_is_one_that_runs_every_layer(tmp_path):
    totals = plan_module.network_rows(two_layer_run(tmp_path)).set_index("row")
    assert totals.loc["best single strategy", "strategy"] == "fft"          # winograd declines layer a
    assert totals.loc["best single strategy", "forward_substituted"] == 0


def test_recommendation_marks_contended_and_uncontested_cells(tmp_path):
    cells = [rows("a", "im2col", "forward", samples(1e-3), contended=True),
             rows("a", "fft", "forward", [], status="unsupported"),
             rows("b", "im2col", "forward", samples(1e-3), dims={"C": 8}),
             rows("b", "fft", "forward", samples(2e-3, seed=3), dims={"C": 8})]
    rec = plan_module.recommendation(fake_run(tmp_path, cells))
    assert set(rec["pass"]) == {"forward", "training_step"}
    rec = rec[rec["pass"] == "forward"].set_index("shape")
    assert bool(rec.loc["a", "contended"]) and bool(rec.loc["a", "uncontested"])
    assert not rec.loc["b", "contended"] and not rec.loc["b", "uncontested"]
    table = "\n".join(plan_module.report_section(fake_run(tmp_path, cells)))
    assert "im2col" in table and "!?" in table


def test_the_headline_says_how_the_plan_compares_with_the_peer(tmp_path):
    """The plan (fft, 1 + 2 ms per step) against torch (1.5 + 1.5 ms): torch takes 1.0x; at 0.75 + 0.75 ms, 0.5x."""
    for torch_s, expected in ((1.5e-3, 1.0), (0.75e-3, 0.5)):
        cells = []
        for p, (im2col, fft) in {"forward": (2e-3, 1e-3), "backward": (4e-3, 2e-3)}.items():
            cells += [rows("a", "im2col", p, samples(im2col)), rows("a", "fft", p, samples(fft, seed=1)),
                      rows("a", "torch", p, samples(torch_s, seed=2))]
        run = fake_run(tmp_path, cells)
        planned = plan_module.network_rows(run).set_index("row").loc["per-layer plan"]
        assert planned["peer"] == "torch" and planned["peer_speedup"] == pytest.approx(expected, rel=0.03)
        assert planned["peer_lo"] <= planned["peer_speedup"] <= planned["peer_hi"] and planned["peer_missing"] == 0
        assert f"; torch takes {planned['peer_speedup']:.2f}x [" in plan_module.headline(run)


def test_headline_and_report_section_say_the_speedup_and_the_rule(tmp_path):
    run = two_layer_run(tmp_path)
    line = plan_module.headline(run)
    assert line.startswith("two, batch 2, 1 thread, float32: per-layer plan ")
    assert "faster than im2col for a training step (forward " in line and ", dx " in line and ", dw " in line
    section = "\n".join(plan_module.report_section(run))
    assert "simpler" in section and "mixing" in section and "Test CPU" in section and "GEMM rate 50" in section
    path = plan_module.write_recommendation(run, tmp_path)
    assert set(pd.read_csv(path)["pass"]) == {"forward", "backward_data", "backward_filter", "training_step"}


def test_auto_regret_is_its_median_over_the_winners(tmp_path):
    cells = [rows("a", "im2col", "forward", samples(1e-3)), rows("a", "fft", "forward", samples(2e-3, seed=1)),
             rows("a", "auto", "forward", samples(1.5e-3, seed=2), role="dispatcher")]
    run = fake_run(tmp_path, cells)
    table = plan_module.regret(run)
    assert table.iloc[0]["regret"] == pytest.approx(1.5, rel=0.02) and table.iloc[0]["winner"] == "im2col"
    assert table.iloc[0]["lo"] < 1.5 < table.iloc[0]["hi"]
    line, = plan_module.regret_lines(run)
    assert "geometric mean 1.5" in line and "worst 1.5" in line
    assert "auto" not in set(plan_module.network_rows(run).query("row == 'best single strategy'")["strategy"])


def test_a_plan_file_round_trips_and_auto_spec_loads_it(tmp_path):
    run = two_layer_run(tmp_path)
    plan = plan_module.build_plan([run], "two-layers")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        variant = parse_variant(f"auto[plan={path},max_error=1e-3]", loaders=OPTION_LOADERS)
        parse_variant(f"auto[plan={path}]", loaders=OPTION_LOADERS)
    assert sum("measured on Test CPU" in str(w.message) for w in caught) == 1      # once per plan and machine
    assert variant.label == "auto[plan=two-layers,max_error=0.001]" and variant.role == "dispatcher"
    auto = variant.build(1)
    assert auto.choice((2, 4, 8, 8), (3, 4, 3, 3), {"stride": 1, "pad": 1}, "forward").labels == {"out": "fft"}
    with pytest.raises(ValueError, match="not a number"):
        parse_variant(f"auto[plan={path},max_error=lots]", loaders=OPTION_LOADERS)
    with pytest.raises(ValueError, match="neither a run folder nor a plan file"):
        parse_variant("auto[plan=/nowhere/at/all]", loaders=OPTION_LOADERS)
    with pytest.raises(ValueError, match="plan must be a plan mapping"):    # auto itself reads no file
        parse_variant(f"auto[plan={path}]")


def test_runs_from_two_cpus_make_no_plan(tmp_path):
    a, b = two_layer_run(tmp_path), two_layer_run(tmp_path)
    b.env = {**b.env, "cpu_model": "Other CPU"}
    with pytest.raises(ValueError, match="different CPUs"):
        plan_module.build_plan([a, b], "mixed")


def test_auto_in_a_sweep_is_measured_for_its_regret_and_never_wins(tmp_path):
    import fakes
    from harness import experiment
    from harness.report import load_run
    passes = ["forward", "backward_data", "backward_filter"]
    first = experiment.main(fakes.tiny_config(strategies=["im2col", "fft", "winograd"], passes=passes),
                            tmp_path / "first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the plan is from this machine: no warning expected, none needed
        second = experiment.main(fakes.tiny_config(strategies=["im2col", "fft", f"auto[plan={first}]"],
                                                   passes=passes), tmp_path / "second")
    run = load_run(second)
    mine = run.summary[run.summary["role"] == "dispatcher"]
    assert set(mine["strategy"]) == {f"auto[plan={first.name}]"} and (mine["status"] == "ok").all()
    assert not mine["winner"].any() and not mine["tied"].any()
    table = plan_module.regret(run)
    assert len(table) == len(mine) and (table["regret"] > 0).all()
    assert any("regret" in line for line in plan_module.report_section(run))
