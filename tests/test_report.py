"""Figures and report.md: drawn after a run, re-drawn from the folder alone, and runs compared."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import harness.experiment as experiment
import strategies
from harness import plots_network, report
from harness.plots_style import strategy_colour, strategy_marker
import fakes

FAST_TIMING = {**fakes.FAST_TIMING, "cell_budget_seconds": 0.3}
LAYERS = [
    {"name": "a", "C": 2, "H": 6, "F": 3, "K": 3, "pad": 1, "count": 2},
    {"name": "b", "C": 3, "H": 7, "F": 2, "K": 5, "stride": 2, "pad": 1},
    # big enough that the naive loops are predicted over the 0.3 s cell budget: "skipped"
    {"name": "c", "C": 16, "H": 32, "F": 16, "K": 3, "pad": 1},
]
FIGURES = {"time.png", "speedup.png", "efficiency.png", "accuracy.png", "memory.png"}


def config(**overrides):
    return {"sweep": {"name": "tiny", "batch": 2, "layers": LAYERS}, "timing": FAST_TIMING,
            "strategies": ["naive", "im2col", "declines3x3", "wrong"], "dtype": "float32", "seed": 0,
            "threads": [1], "passes": ["forward", "backward"], "baseline": "im2col", "allocator": "default",
            "oracle_max_gflop": 0.5, "resume": None, **overrides}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run with every kind of cell: ok, unsupported, skipped, mismatch; layer a counts twice."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in (fakes.Declines3x3, fakes.Wrong):
            mp.setitem(strategies.STRATEGIES, cls.name, cls)
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
    for name in ("results.csv", "config.json", "env.json"):  # the data only, no figures
        shutil.copy(run / name, copy / name)
    report.main([str(copy)])
    assert files(copy) == files(run)
    before = (run / "report.md").read_text()
    report.main([str(run)])  # in place: the same report again
    assert (run / "report.md").read_text() == before


def test_single_strategy_grid_sweep_draws_scaling_and_says_what_it_cannot_draw(tmp_path):
    grid = {"name": "grid", "batch": 2, "C": [2, 4, 8], "H": [6], "F": [3], "K": [3], "pad": ["same"]}
    out = experiment.main(config(sweep=grid, strategies=["naive"], passes=["forward"]), tmp_path / "run")
    assert files(out) == FIGURES - {"speedup.png"} | {"scaling.png", "report.md"}
    text = (out / "report.md").read_text()
    assert "no network figure" in text and "no speedup figure: the baseline (im2col) is not in this run" in text


def test_compare_two_runs_with_partly_different_cells(run, tmp_path):
    """b: im2col only, twice as slow, on layer a; layer c renamed d (a cell only b has); no layer b."""
    other = tmp_path / "b"
    other.mkdir()
    rows = pd.read_csv(run / "results.csv")
    rows = rows[(rows["strategy"] == "im2col") & rows["shape"].isin(["a", "c"])]
    rows = rows.assign(seconds=rows["seconds"] * 2, shape=rows["shape"].replace({"c": "d"}))
    rows.to_csv(other / "results.csv", index=False)
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
