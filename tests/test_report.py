"""Figures and report.md: drawn after a run, re-drawn from the folder alone, and runs compared."""
from __future__ import annotations

import contextlib
import shutil

import numpy as np
import pandas as pd
import pytest

import harness.experiment as experiment
import strategies
from harness import report
from harness.plots import network as plots_network
from harness.plots.style import strategy_colour, strategy_marker
import fakes

FAST_TIMING = {**fakes.FAST_TIMING, "cell_budget_seconds": 0.3}
LAYERS = [
    {"name": "a", "C": 2, "H": 6, "F": 3, "K": 3, "pad": 1, "count": 2},
    {"name": "b", "C": 3, "H": 7, "F": 2, "K": 5, "stride": 2, "pad": 1},
    # big enough that the naive loops are predicted over the 0.3 s cell budget: "skipped"
    {"name": "c", "C": 16, "H": 32, "F": 16, "K": 3, "pad": 1},
]
FIGURES = {"time.png", "speedup.png", "efficiency.png", "accuracy.png", "memory.png", "roofline.png",
           "predictor.png", "phases.png", "profile.png", "front.png"}


def config(**overrides):
    return fakes.tiny_config(**{"sweep": {"name": "tiny", "batch": 2, "layers": LAYERS}, "timing": FAST_TIMING,
                                "strategies": ["naive", "im2col", "declines3x3", "wrong"], **overrides})


@contextlib.contextmanager
def fakes_registered():
    """The run's fake strategies in the registry (a redraw plans among the strategies its process knows)."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in (fakes.Declines3x3, fakes.Wrong):
            mp.setitem(strategies.STRATEGIES, cls.name, cls)
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run with every kind of cell: ok, unsupported, skipped, mismatch; layer a counts twice."""
    with fakes_registered():
        return experiment.main(config(), tmp_path_factory.mktemp("report") / "run")


def files(folder) -> set[str]:
    return {p.name for p in folder.iterdir() if p.suffix in (".png", ".md")}


def test_a_run_leaves_figures_and_a_report_with_every_status(run):
    summary = pd.read_csv(run / "summary.csv")
    assert {"ok", "unsupported", "skipped", "mismatch"} <= set(summary["status"])
    assert files(run) == FIGURES | {"network.png", "report.md"}  # layer counts: a network; no axis swept alone
    text = (run / "report.md").read_text()
    for name in sorted(FIGURES | {"network.png"}):
        assert f"]({name})" in text
    assert "no scaling figure" in text
    assert "test strategy declines 3x3 kernels" in text and "skipped" in text


def test_redrawing_from_the_saved_folder_gives_the_same_files(run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("results.csv", "phases.csv", "config.json", "env.json"):  # the data only, no figures
        shutil.copy(run / name, copy / name)
    with fakes_registered():
        report.main([str(copy)])
        assert files(copy) == files(run)
        before = (run / "report.md").read_text()
        report.main([str(run)])  # in place: the same report again
    assert (run / "report.md").read_text() == before
    assert (copy / "recommendation.csv").read_text() == (run / "recommendation.csv").read_text()


def test_single_strategy_grid_sweep_draws_scaling_and_says_what_it_cannot_draw(tmp_path):
    grid = {"name": "grid", "batch": 2, "C": [2, 4, 8], "H": [6], "F": [3], "K": [3], "pad": ["same"]}
    out = experiment.main(config(sweep=grid, strategies=["naive"], passes=["forward"]), tmp_path / "run")
    # naive alone: one step (no phases), no rival (no speedup, no front); a profile of one strategy still says how
    # often it ran
    assert files(out) == FIGURES - {"speedup.png", "phases.png", "front.png"} | {"scaling.png", "report.md"}
    text = (out / "report.md").read_text()
    assert "no network figure" in text and "no speedup figure: this run has no baseline (baseline=null, and im2col did not run)" in text


def test_compare_two_runs_with_partly_different_cells(run, tmp_path):
    """b: im2col only, twice as slow, on layer a; layer c renamed d (a cell only b has); no layer b."""
    other = tmp_path / "b"
    other.mkdir()
    rows = pd.read_csv(run / "results.csv")
    rows = rows[(rows["strategy"] == "im2col") & rows["shape"].isin(["a", "c"])]
    rows = rows.assign(seconds=rows["seconds"] * 2, shape=rows["shape"].replace({"c": "d"}))
    rows["contest_rows"] = rows.groupby(["shape", "pass", "threads", "process"])["shape"].transform("size")
    rows.to_csv(other / "results.csv", index=False)    # a valid file: each contest whole
    for name in ("config.json", "env.json"):
        shutil.copy(run / name, other / name)
    report.main([str(run), str(other), "--out", str(tmp_path / "cmp")])
    assert files(tmp_path / "cmp") == {"compare.png", "compare.md"}
    cells = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    both = cells[(cells["shape"] == "a") & (cells["strategy"] == "im2col")]
    np.testing.assert_allclose(both["speedup_b_over_a"], [0.5, 0.5])
    only_a, only_b = cells[cells["shape"].isin(["b", "c"])], cells[cells["shape"] == "d"]
    assert len(only_a) == 16 and only_a["status_b"].isna().all() and only_a["speedup_b_over_a"].isna().all()
    assert len(only_b) == 2 and only_b["status_a"].isna().all() and only_b["speedup_b_over_a"].isna().all()
    assert "only in a" in (tmp_path / "cmp" / "compare.md").read_text()


def test_network_total_counts_declined_layers_at_the_baseline_time(run):
    loaded = report.load_run(run)
    summary = loaded.summary
    totals = plots_network.network_totals(plots_network.network_segments(summary, "im2col")).set_index("strategy")
    assert totals.loc["declines3x3", "layers"] == 4  # a x2, b, c
    assert totals.loc["declines3x3", "forward_substituted"] == 3  # a (x2) and c declined
    median = summary.set_index(["strategy", "shape", "pass"])["median_s"]
    expected = 2 * median["im2col", "a", "forward"] + median["declines3x3", "b", "forward"] + \
        median["im2col", "c", "forward"]
    assert totals.loc["declines3x3", "forward_s"] == pytest.approx(expected)
    assert totals.loc["wrong", "forward_substituted"] == 4  # mismatched cells never count as its own
    best = totals.loc[plots_network.BEST]
    assert best["forward_missing"] == 0 and best["total_s"] <= totals["total_s"].min() * (1 + 1e-9)


def test_colours_are_fixed_per_strategy_and_variants_keep_theirs():
    assert strategy_colour("im2col") != strategy_colour("fft")
    assert strategy_colour("parallel[base=fft,n_jobs=2]") == strategy_colour("parallel")
    assert strategy_marker("parallel[base=fft,n_jobs=2]") != strategy_marker("parallel")
    assert strategy_colour("someday") == strategy_colour("someday[x=1]")  # unknown names: stable too


def test_the_accuracy_figure_draws_each_error_against_its_own_tolerance(run):
    """Regression: it once drew backward's largest raw error (often dw) against the tolerance of the quantity with
    the worst ratio (often dx), a tick 5-10x too tight. Read back what it drew."""
    from harness.plots.cells import accuracy_figure
    loaded = report.load_run(run)
    drawn = accuracy_figure(loaded.summary, loaded.results, loaded.config, loaded.env).data
    checked = drawn[drawn["quantity"] != ""]
    assert len(checked) > 0
    for _, cell in checked.iterrows():
        s = loaded.summary[(loaded.summary["shape"] == cell["shape"]) & (loaded.summary["strategy"] == cell["strategy"])
                           & (loaded.summary["pass"] == cell["pass"])].iloc[0]
        q = cell["quantity"]
        assert cell["error"] == s[f"err_{q}"] and cell["tolerance"] == s[f"tol_{q}"]
        ratios = {k: s[f"err_{k}"] / s[f"tol_{k}"] for k in ("out", "dx", "dw", "db") if pd.notna(s[f"err_{k}"])}
        assert ratios[q] == max(ratios.values())           # the quantity closest to its tolerance


def test_the_time_figure_draws_hopeless_cells_at_their_prediction(tmp_path):
    out = experiment.main(config(strategies=["im2col", "naive"], passes=["forward"],
                                 timing={**FAST_TIMING, "hopeless_factor": 2.0, "cell_budget_seconds": 5.0}),
                          tmp_path / "run")
    loaded = report.load_run(out)
    from harness.plots.cells import time_figure
    drawn = time_figure(loaded.summary, loaded.results, loaded.config, loaded.env).data
    hopeless = loaded.summary["status"] == "hopeless"
    assert hopeless.any()
    assert (drawn.loc[hopeless, "tag"] == "hopeless: predicted").all()
    assert np.allclose(drawn.loc[hopeless, "ms"], loaded.summary.loc[hopeless, "predicted_s"] * 1e3)


def test_the_speed_accuracy_front_keeps_only_the_non_dominated():
    from harness.plots.front import front
    points = pd.DataFrame({"shape": ["l"] * 4, "strategy": ["a", "b", "c", "d"],
                           "median_s": [1.0, 2.0, 0.5, 3.0], "error": [1e-6, 1e-7, 1e-5, 1e-6]})
    assert front(points).tolist() == [True, True, True, False]   # d is slower than a and no more accurate
