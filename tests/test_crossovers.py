"""crossovers.csv: where two strategies' time ratio crosses 1 along a swept axis, and whether beyond noise."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.crossovers import crossovers, describe, write_crossovers
from harness.plots.style import NotApplicable
from harness.plots.sweep import scaling_figure
from test_plan import fake_run, rows, samples


def kernel_run(tmp_path, fft_times):
    """im2col grows with the kernel, fft does not: K=3 (pad 1), K=5 (pad 2), K=7 (pad 3)."""
    cells = []
    for i, (K, t_im2col) in enumerate([(3, 1e-3), (5, 2e-3), (7, 4e-3)]):
        dims = {"HH": K, "WW": K, "pad": K // 2}
        cells += [rows(f"K={K}", "im2col", "forward", samples(t_im2col, seed=i), dims=dims),
                  rows(f"K={K}", "fft", "forward", samples(fft_times[i], seed=10 + i), dims=dims)]
    return fake_run(tmp_path, cells)


def test_a_flip_is_found_between_the_two_points_log_linearly(tmp_path):
    table = crossovers(kernel_run(tmp_path, [2e-3, 1e-3, 1e-3]).summary)
    row, = table.to_dict("records")
    assert (row["axis"], row["x_below"], row["x_above"]) == ("HH", 3, 5)
    assert (row["faster_below"], row["faster_above"]) == ("im2col", "fft")
    run = kernel_run(tmp_path, [2e-3, 1e-3, 1e-3])
    medians = run.summary.set_index(["shape", "strategy"])["median_s"]
    r0 = medians[("K=3", "im2col")] / medians[("K=3", "fft")]
    r1 = medians[("K=5", "im2col")] / medians[("K=5", "fft")]
    expected = math.exp(math.log(3) + (math.log(5) - math.log(3)) * math.log(r0) / (math.log(r0) - math.log(r1)))
    assert row["crossover"] == pytest.approx(expected) and 3 < row["crossover"] < 5
    assert row["crossover"] == pytest.approx(math.sqrt(15), rel=0.03)    # ratios 1/2 and 2: the geometric middle
    assert row["beyond_noise"]
    assert "fft overtakes im2col at HH ~ 3.8" in describe(table)[0]


def test_a_flip_within_the_tie_rule_at_one_end_is_marked(tmp_path):
    row, = crossovers(kernel_run(tmp_path, [1.5e-3, 2.02e-3, 3e-3]).summary).to_dict("records")
    assert row["x_below"] == 5 and not row["beyond_noise_below"] and row["beyond_noise_above"]
    assert not row["beyond_noise"]


def test_no_flip_no_row_and_a_sweep_without_one_axis_has_no_file(tmp_path):
    assert crossovers(kernel_run(tmp_path, [5e-3, 5e-3, 5e-3]).summary).empty
    flat = fake_run(tmp_path, [rows("a", "im2col", "forward", samples(1e-3)),
                               rows("b", "im2col", "forward", samples(1e-3), dims={"C": 8, "F": 8})])
    with pytest.raises(NotApplicable):
        crossovers(flat.summary)
    run = kernel_run(tmp_path, [2e-3, 1e-3, 1e-3])
    assert len(pd.read_csv(write_crossovers(crossovers(run.summary), tmp_path))) == 1
    assert write_crossovers(None, tmp_path) is None and not (tmp_path / "crossovers.csv").exists()


def test_a_run_folder_drawn_gets_crossovers_csv_the_report_section_and_the_lines_on_scaling(tmp_path):
    from harness.report import draw_run, with_answers
    run = with_answers(kernel_run(tmp_path, [2e-3, 1e-3, 1e-3]))
    report = draw_run(run).read_text()
    table = pd.read_csv(tmp_path / "crossovers.csv")
    assert len(table) == 1 and table.iloc[0]["faster_above"] == "fft"
    assert "## Crossovers" in report and "fft overtakes im2col at HH ~ 3.8" in report
    assert len(scaling_figure(run.summary, run.results, run.config, run.env, crossovers=run.crossovers).crossovers) == 1


def test_the_scaling_figure_draws_the_crossovers_it_is_given(tmp_path):
    run = kernel_run(tmp_path, [2e-3, 1e-3, 1e-3])
    table = crossovers(run.summary)
    fig = scaling_figure(run.summary, run.results, run.config, run.env, crossovers=table)
    drawn = fig.crossovers
    assert len(drawn) == 1 and drawn.iloc[0]["crossover"] == pytest.approx(table.iloc[0]["crossover"])
    assert scaling_figure(run.summary, run.results, run.config, run.env).crossovers.empty
