"""Tiled FFT: every tile size gives the textbook whole-image FFT layer; the plan's choice; costs against closed forms."""
from __future__ import annotations


import numpy as np
import pytest
import scipy.fft
from conftest import make_inputs, traced_workspace

import strategies.fft_plan as fft_plan
from strategies import fft_reference, get_strategy
from strategies.costs import fft_flops
from strategies.fft_costs import fft_costs, step_flops
from strategies.fft_plan import FFTPlan, candidate_lengths
from strategies.fft_spectra import spectrum
from strategies.fft_tiles import extended_input, tile_windows
from strategies.geometry import ConvProblem
from strategies.passes import PASSES

# (x_shape, w_shape, pad, forced transform sizes): one tile, tiles with a cropped last one, a
# window longer than two tiles (3 bands), rectangular kernel and non-square image
TILED = [((2, 3, 9, 11), (4, 3, 3, 3), 1, (11, 13)),
         ((2, 3, 9, 11), (4, 3, 3, 3), 1, (5, 6)),
         ((1, 2, 10, 10), (3, 2, 5, 5), 2, (6, 6)),
         ((2, 2, 7, 12), (2, 2, 2, 4), 1, (5, 8))]


@pytest.fixture
def forced_plan(monkeypatch):
    """Make every FFTPlan.for_problem return the plan with the given transform sizes."""
    def force(Lh, Lw):
        monkeypatch.setattr(fft_plan, "_choose", lambda problem: FFTPlan.with_lengths(problem, Lh, Lw))
    return force


@pytest.mark.parametrize("x_shape,w_shape,pad,lengths", TILED)
def test_every_tiling_is_the_textbook_whole_image_fft(forced_plan, x_shape, w_shape, pad, lengths):
    """Overlap-save forward, overlap-add dx, per-tile dw: equal to numpy.fft on the whole padded image."""
    forced_plan(*lengths)
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": 1, "pad": pad})
    plan = FFTPlan.for_problem(problem)
    assert (plan.Lh, plan.Lw) == lengths
    x, w, b = make_inputs(x_shape, w_shape, np.float64)
    fft = get_strategy("fft")
    out, cache = fft.forward(x, w, b, problem.conv_param)
    np.testing.assert_allclose(out, fft_reference.forward(x, w, b, problem), atol=1e-10)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    for got, ref in zip(fft.backward(dout, cache), fft_reference.backward(x, w, dout, problem)):
        np.testing.assert_allclose(got, ref, atol=1e-10)


def test_tile_spectra_are_numpy_rfft2_of_each_window(forced_plan):
    forced_plan(6, 8)
    problem = ConvProblem.from_shapes((2, 3, 10, 13), (2, 3, 3, 3), {"stride": 1, "pad": 1})
    plan = FFTPlan.for_problem(problem)
    assert plan.th > 1 and plan.tw > 1
    x = np.random.default_rng(0).standard_normal(problem.x_shape)
    xe = extended_input(x, problem, plan)
    np.testing.assert_allclose(spectrum(tile_windows(xe, plan), plan), fft_reference.tile_spectra(xe, plan),
                               atol=1e-12)


# --- the plan ----------------------------------------------------------------------------

def test_candidate_lengths_are_the_smallest_fast_length_for_each_tile_count():
    out, k = 56, 3
    lengths = candidate_lengths(out, k)
    assert lengths[-1] == scipy.fft.next_fast_len(out + k - 1, real=True)          # one tile
    assert lengths[0] == scipy.fft.next_fast_len(2 * k - 1, real=True)             # tiles of k outputs
    assert all(n == scipy.fft.next_fast_len(n, real=True) for n in lengths)
    assert lengths == sorted(set(lengths))
    for t in range(1, out // k + 1):   # every tile count has its smallest length among the candidates
        smallest = scipy.fft.next_fast_len(-(-out // t) + k - 1, real=True)
        assert smallest in lengths or -(-out // t) < k


@pytest.mark.parametrize("x_shape,w_shape,pad", [((8, 64, 56, 56), (64, 64, 3, 3), 1),
                                                 ((8, 32, 32, 32), (64, 32, 5, 5), 2),
                                                 ((2, 4, 12, 12), (3, 4, 5, 5), 0)])
def test_plan_takes_the_candidate_with_fewest_counted_flops(x_shape, w_shape, pad):
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": 1, "pad": pad})
    plan = FFTPlan.for_problem(problem)
    best = min(step_flops(problem, FFTPlan.with_lengths(problem, Lh, Lw))
               for Lh in candidate_lengths(problem.out_h, plan.krows)
               for Lw in candidate_lengths(problem.out_w, plan.kcols))
    assert step_flops(problem, plan) == best
    assert plan.Th * plan.th >= problem.out_h and plan.Tw * plan.tw >= problem.out_w
    assert plan.Lh >= plan.window[0] and plan.Lw >= plan.window[1]


@pytest.mark.parametrize("x_shape,w_shape,stride,pad,lengths,tiles", [
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, (30, 30), (2, 2)),
    ((8, 128, 28, 28), (128, 128, 3, 3), 1, 1, (16, 30), (2, 1)),
    ((8, 32, 32, 32), (64, 32, 5, 5), 1, 2, (20, 36), (2, 1)),
    ((4, 16, 64, 64), (16, 16, 11, 11), 1, 5, (32, 75), (3, 1)),
    ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3, (60, 60), (2, 2))])
def test_the_plan_docstring_table_is_what_the_plan_chooses(x_shape, w_shape, stride, pad, lengths, tiles):
    """The examples in strategies.fft_plan's docstring (a pure function of the shapes: no machine in it)."""
    plan = FFTPlan.for_problem(ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad}))
    assert ((plan.Lh, plan.Lw), (plan.th, plan.tw)) == (lengths, tiles)
    assert f"{lengths[0]} x {lengths[1]}    {tiles[0]} x {tiles[1]}" in fft_plan.__doc__


def test_a_small_kernel_on_a_large_image_is_tiled_and_the_whole_image_loses():
    problem = ConvProblem.from_shapes((8, 64, 56, 56), (64, 64, 3, 3), {"stride": 1, "pad": 1})
    plan = FFTPlan.for_problem(problem)
    whole = FFTPlan.with_lengths(problem, scipy.fft.next_fast_len(58), scipy.fft.next_fast_len(58, real=True))
    assert plan.tiles > 1 and whole.tiles == 1
    assert step_flops(problem, plan) < 0.95 * step_flops(problem, whole)


def test_a_kernel_as_large_as_the_image_keeps_the_whole_image():
    problem = ConvProblem.from_shapes((2, 4, 12, 12), (3, 4, 11, 11), {"stride": 1, "pad": 0})
    assert FFTPlan.for_problem(problem).tiles == 1


# --- costs -------------------------------------------------------------------------------

@pytest.mark.parametrize("pass_", PASSES)
def test_multiplies_are_the_complex_products_closed_form(pass_):
    """8 real flops per complex multiply-add: 8*K*M*Cp*F per product, K = Lh*(Lw//2+1), M = N*tiles."""
    problem = ConvProblem.from_shapes((2, 3, 20, 20), (4, 3, 5, 5), {"stride": 2, "pad": 2})
    plan = FFTPlan.for_problem(problem)
    K, M, Cp = plan.Lh * (plan.Lw // 2 + 1), 2 * plan.th * plan.tw, 3 * 4   # stride 2, 5x5: 2x2 phases
    products = {"forward": 1, "backward_data": 1, "backward_filter": 1, "backward": 2}[pass_]
    costs = get_strategy("fft").costs(problem.x_shape, problem.w_shape, problem.conv_param, pass_)
    assert costs.multiplies == products * 8 * K * M * Cp * 4


def test_forward_transform_flops_closed_form():
    problem = ConvProblem.from_shapes((2, 3, 12, 12), (4, 3, 3, 3), {"stride": 1, "pad": 1})
    plan = FFTPlan.for_problem(problem)
    Lh, Lw, Lr, (wr, _) = plan.Lh, plan.Lw, plan.Lw // 2 + 1, plan.window
    M, C, F = 2 * plan.tiles, 3, 4
    costs = fft_costs(problem, plan, "forward", 4)
    assert costs.phase("input_spectrum").fft == fft_flops(Lw, wr * M * C) + fft_flops(Lh, Lr * M * C, real=False)
    assert costs.phase("inverse").fft == fft_flops(Lh, Lr * M * F, real=False) + fft_flops(Lw, plan.Th * M * F)
    assert costs.phase("kernel_spectrum").gemm_transform == 8.0 * Lh * Lr * C * F * 3


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("x_shape,w_shape,cp", [((4, 16, 24, 24), (16, 16, 3, 3), {"stride": 1, "pad": 1}),
                                                ((2, 3, 30, 30), (8, 3, 7, 7), {"stride": 2, "pad": 3})])
def test_workspace_matches_what_tracemalloc_sees(pass_, x_shape, w_shape, cp):
    """Within 25% of the traced peak beyond inputs and outputs.  tracemalloc sees every numpy array,
    scipy.fft's outputs included; not scipy.fft's C++ scratch (a few transform lengths per call)."""
    fft = get_strategy("fft")
    analytic = fft.costs(x_shape, w_shape, cp, pass_).workspace_bytes
    assert analytic == pytest.approx(traced_workspace(fft, pass_, x_shape, w_shape, cp), rel=0.25)
