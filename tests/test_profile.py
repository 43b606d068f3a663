"""Performance profiles: the fraction of contests within tau of the best, declined cells never within."""
from __future__ import annotations

import numpy as np
import pytest

from harness.plots.profile import TAU_MAX, profile, profile_figure, ratios
from harness.plots.style import NotApplicable
from test_plan import fake_run, rows, samples


def suite(tmp_path):
    """Three contests: im2col best on a and b; fft best on c, 2x on a, declined on b."""
    cells = [rows("a", "im2col", "forward", samples(1e-3)), rows("a", "fft", "forward", samples(2e-3, seed=1)),
             rows("b", "im2col", "forward", samples(1e-3, seed=2), dims={"C": 8}),
             rows("b", "fft", "forward", [], status="unsupported", dims={"C": 8}),
             rows("c", "im2col", "forward", samples(3e-3, seed=3), dims={"C": 16}),
             rows("c", "fft", "forward", samples(1e-3, seed=4), dims={"C": 16})]
    return fake_run(tmp_path, cells)


def test_ratios_and_profiles(tmp_path):
    table = ratios(suite(tmp_path).summary).set_index(["shape", "strategy"])["ratio"]
    assert table[("a", "im2col")] == 1 and table[("a", "fft")] == pytest.approx(2, rel=0.05)
    assert table[("b", "fft")] == np.inf
    rho = profile(ratios(suite(tmp_path).summary), np.array([1.0, 2.5, TAU_MAX]))
    np.testing.assert_allclose(rho["im2col"], [2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(rho["fft"], [1 / 3, 2 / 3, 2 / 3])    # never within on b, however large tau


def test_the_figure_keeps_its_table_and_writes_png_and_pdf(tmp_path):
    run = suite(tmp_path)
    fig = profile_figure(run.summary, run.results, run.config, run.env)
    assert set(fig.data["strategy"]) == {"im2col", "fft"} and len(fig.data) == 6
    assert "Performance profiles" in fig.get_suptitle()
    for fmt in ("png", "pdf"):
        fig.savefig(tmp_path / f"profile.{fmt}")
        assert (tmp_path / f"profile.{fmt}").stat().st_size > 1000


def test_one_contest_is_no_profile(tmp_path):
    run = fake_run(tmp_path, [rows("a", "im2col", "forward", samples(1e-3))])
    with pytest.raises(NotApplicable, match="at least two contests"):
        profile_figure(run.summary, run.results, run.config, run.env)
