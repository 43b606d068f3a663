"""Blocked im2col: every layout and block size gives the textbook whole-matrix im2col; the block rule; costs."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import make_inputs

import strategies.im2col_plan as im2col_plan
from strategies import get_strategy
from strategies.cache import cache_bytes
from strategies.geometry import ConvProblem, pad_input
from strategies.im2col_layouts import folder, unfolder
from strategies.im2col_taps import block_weights, fold_weights, unpermute
from strategies.im2col_plan import MIN_GEMM_PIXELS, Im2colPlan, Tiling, layout_of, unfold_pixels
from strategies.im2col_reference import col2im, im2col
from strategies.passes import PASSES

# (x_shape, w_shape, stride, pad): each layout, strided phases, leftover rows, rectangular kernels
PROBLEMS = [((3, 4, 9, 8), (5, 4, 3, 3), 1, 1),      # flat
            ((2, 3, 10, 10), (2, 3, 5, 5), 1, 2),    # flat, 5x5
            ((3, 2, 9, 10), (4, 2, 3, 3), 2, 1),     # windows, 2x2 phases, a leftover row
            ((2, 3, 11, 9), (3, 3, 4, 2), 3, 1),     # windows, stride 3, rectangular kernel
            ((3, 2, 8, 7), (2, 2, 3, 3), 1, 0),      # windows, stride 1 (valid)
            ((2, 3, 6, 5), (4, 3, 1, 3), 1, 1)]      # windows: same width, not same height
# tilings: one row per block, a few rows (a cropped last block), whole images two at a time
TILINGS = [lambda pr: Tiling(1, 1), lambda pr: Tiling(1, 3), lambda pr: Tiling(2, pr.out_h)]


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", PROBLEMS)
@pytest.mark.parametrize("tiling", TILINGS, ids=["rows1", "rows3", "images2"])
def test_blocks_unfold_and_fold_like_the_textbook(x_shape, w_shape, stride, pad, tiling):
    """Every block's columns are the whole column matrix's, in the layout's row order; folding every
    block's column gradient gives col2im of the whole one."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    plan = Im2colPlan(problem, layout_of(problem), tiling(problem), tiling(problem))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    cols = im2col(pad_input(x, pad), problem)                                  # (N, K, P), (c, i, j) rows
    dcols = rng.standard_normal(cols.shape)
    w = np.arange(problem.F * plan.K, dtype=float).reshape(problem.w_shape)   # labels each tap
    order = block_weights(problem, w)[0].astype(int)                          # block row k holds tap order[k]
    fold_order = fold_weights(plan, w)[:, 0].astype(int)
    unfold, fold = unfolder(plan, plan.unfold, x.dtype), folder(plan, plan.fold, x.dtype)
    W_ = problem.out_w
    block = np.empty((plan.K, plan.pixels(plan.unfold)))
    for n0, n1 in plan.groups(plan.unfold):
        unfold.fill(x, n0, n1)
        for blk in plan.blocks(plan.unfold, n0, n1):
            c = block[:, :blk.images * (blk.h1 - blk.h0) * W_]
            unfold.unfold(blk, c)
            expected = cols[blk.n0:blk.n1, :, blk.h0 * W_:blk.h1 * W_][:, order].transpose(1, 0, 2)
            np.testing.assert_array_equal(c.reshape(expected.shape), expected)
    groups = plan.groups(plan.fold)
    for n0, n1 in groups:
        for blk in plan.blocks(plan.fold, n0, n1):
            part = dcols[blk.n0:blk.n1, :, blk.h0 * W_:blk.h1 * W_][:, fold_order].transpose(1, 0, 2)
            fold.fold(blk, np.ascontiguousarray(part).reshape(plan.K, -1))
        fold.finish(n0, n1, last=(n0, n1) == groups[-1])
    np.testing.assert_allclose(fold.dx, col2im(dcols, problem), atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", PROBLEMS)
def test_kernel_reordering_round_trips(x_shape, w_shape, stride, pad):
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    w = np.random.default_rng(1).standard_normal(w_shape)
    np.testing.assert_array_equal(unpermute(problem, block_weights(problem, w)), w)


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", PROBLEMS + [((3, 4, 5, 6), (2, 4, 1, 1), 2, 0)])
@pytest.mark.parametrize("tiling", TILINGS, ids=["rows1", "rows3", "images2"])
def test_strategy_with_any_blocks_is_the_textbook_layer(monkeypatch, x_shape, w_shape, stride, pad, tiling):
    """out = W @ im2col(x) + b, dW = sum_n dout @ cols^T, dx = col2im(W^T @ dout), whatever the blocks."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    t, chosen = tiling(problem), im2col_plan._plan
    monkeypatch.setattr(im2col_plan, "_plan", lambda pr, itemsize: Im2colPlan(pr, layout_of(pr), t, t)
                        if layout_of(pr) != "pointwise" else chosen(pr, itemsize))
    x, w, b = make_inputs(x_shape, w_shape, np.float64)
    cols, w2 = im2col(pad_input(x, pad), problem), w.reshape(problem.F, -1)
    im2col_strategy = get_strategy("im2col")
    out, cache = im2col_strategy.forward(x, w, b, problem.conv_param)
    np.testing.assert_allclose(out.reshape(cols.shape[0], problem.F, -1), w2 @ cols + b[:, None], atol=1e-12)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    d3 = dout.reshape(problem.N, problem.F, -1)
    dx, dw, db = im2col_strategy.backward(dout, cache)
    np.testing.assert_allclose(dw.reshape(w2.shape), np.einsum("nfp,nkp->fk", d3, cols), atol=1e-11)
    np.testing.assert_allclose(dx, col2im(w2.T @ d3, problem), atol=1e-12)
    np.testing.assert_allclose(db, d3.sum(axis=(0, 2)), atol=1e-12)


# --- the plan ----------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape,w_shape,stride,pad,layout", [
    ((8, 256, 56, 56), (64, 256, 1, 1), 1, 0, "pointwise"), ((8, 256, 56, 56), (64, 256, 1, 1), 2, 0, "pointwise"),
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, "flat"), ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3, "windows"),
    ((2, 3, 9, 9), (4, 3, 3, 3), 1, 0, "windows"), ((2, 3, 9, 9), (4, 3, 1, 1), 1, 1, "windows")])
def test_layout_follows_the_shapes(x_shape, w_shape, stride, pad, layout):
    assert layout_of(ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})) == layout


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1), ((8, 128, 28, 28), (128, 128, 3, 3), 1, 1),
    ((8, 256, 14, 14), (256, 256, 3, 3), 1, 1), ((8, 512, 7, 7), (512, 512, 3, 3), 1, 1),
    ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3)])
def test_block_rule_from_the_problem_and_the_cache_sizes(x_shape, w_shape, stride, pad):
    """pixels = max(L2 / (K*itemsize), F, 256, L1 / (C*itemsize)); whole images when one fits, else rows."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    K, P = problem.C * problem.HH * problem.WW, problem.out_h * problem.out_w
    pixels = max(cache_bytes(2) // (K * 4), problem.F, MIN_GEMM_PIXELS, cache_bytes(1) // (problem.C * 4))
    assert unfold_pixels(problem, 4) == pixels
    t = Im2colPlan.for_problem(problem, 4).unfold
    if pixels >= P:
        assert (t.images, t.rows) == (min(problem.N, pixels // P), problem.out_h)
    else:
        assert (t.images, t.rows) == (1, max(1, pixels // problem.out_w))
    plan = Im2colPlan.for_problem(problem, 4)
    covered = [(b.n0, b.n1, b.h0, b.h1) for g in plan.groups(t) for b in plan.blocks(t, *g)]
    assert sum((n1 - n0) * (h1 - h0) for n0, n1, h0, h1 in covered) == problem.N * problem.out_h


@pytest.mark.parametrize("x_shape,w_shape,stride,pad,tiling", [
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, (1, 4)), ((8, 128, 28, 28), (128, 128, 3, 3), 1, 1, (1, 9)),
    ((8, 256, 14, 14), (256, 256, 3, 3), 1, 1, (1, 14)), ((8, 512, 7, 7), (512, 512, 3, 3), 1, 1, (8, 7)),
    ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3, (1, 24))])
def test_the_plan_docstring_examples(monkeypatch, x_shape, w_shape, stride, pad, tiling):
    """strategies.im2col_plan's examples, on the caches they name (L1 32 KiB, L2 512 KiB)."""
    monkeypatch.setattr(im2col_plan, "cache_bytes", {1: 32 * 2 ** 10, 2: 512 * 2 ** 10, 3: 32 * 2 ** 20}.get)
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    t = im2col_plan._tiling(problem, unfold_pixels(problem, 4))
    assert (t.images, t.rows) == tiling


def test_blocking_keeps_the_workspace_near_the_cache_size_not_the_column_matrix():
    """The 56x56 layer's column matrix is 58 MB; blocked, the forward's workspace is a block and a padded image."""
    x_shape, w_shape, cp = (8, 64, 56, 56), (64, 64, 3, 3), {"stride": 1, "pad": 1}
    columns = 8 * 64 * 9 * 56 * 56 * 4
    workspace = get_strategy("im2col").costs(x_shape, w_shape, cp, "forward").workspace_bytes
    assert workspace < columns / 20 and workspace < 2 * cache_bytes(2) + 8 * 64 * 58 * 56 * 4


# --- 1x1: no copy ------------------------------------------------------------------------

def test_pointwise_stride_1_copies_nothing():
    x, w, b = make_inputs((2, 8, 5, 6), (4, 8, 1, 1), np.float32)
    out, cache = get_strategy("im2col").forward(x, w, b, {"stride": 1, "pad": 0})
    assert cache.saved[0] is x                                     # the columns are x itself
    costs = get_strategy("im2col").costs(x.shape, w.shape, {"stride": 1, "pad": 0}, "forward")
    assert [p.name for p in costs.phases] == ["gemm", "bias"] and costs.workspace_bytes == 0


def test_pointwise_strided_gathers_once():
    x, w, b = make_inputs((2, 8, 7, 6), (4, 8, 1, 1), np.float32)
    out, cache = get_strategy("im2col").forward(x, w, b, {"stride": 2, "pad": 0})
    np.testing.assert_array_equal(cache.saved[0], x[:, :, ::2, ::2])
    costs = get_strategy("im2col").costs(x.shape, w.shape, {"stride": 2, "pad": 0}, "forward")
    assert [p.name for p in costs.phases] == ["gather", "gemm", "bias"]
    assert costs.workspace_bytes == x[:, :, ::2, ::2].nbytes


# --- costs -------------------------------------------------------------------------------

@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [((8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
                                                        ((8, 256, 56, 56), (64, 256, 1, 1), 1, 0),
                                                        ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3)])
def test_costs_closed_forms(pass_, x_shape, w_shape, stride, pad):
    """2*N*F*K*P per product; col2im one add per column element; dW's accumulation over blocks."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    N, F, K, P = problem.N, problem.F, problem.C * problem.HH * problem.WW, problem.out_h * problem.out_w
    costs = get_strategy("im2col").costs(x_shape, w_shape, problem.conv_param, pass_)
    products = {"forward": 1, "backward_data": 1, "backward_filter": 1, "backward": 2}[pass_]
    assert costs.multiplies == products * 2 * N * F * K * P
    names = [p.name for p in costs.phases]
    plan = Im2colPlan.for_problem(problem, 4)
    if "col2im" in names and plan.layout != "pointwise":
        assert costs.phase("col2im").transform == N * K * P
    if "dw_gemm" in names:
        blocks = N if plan.layout == "pointwise" else plan.count(plan.unfold)
        assert costs.phase("dw_gemm").transform == (blocks - 1) * F * K
