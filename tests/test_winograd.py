"""Winograd beyond the registry suite: options and skip reasons, edge tiles, 5x5 and stride 2, blocks,
the steps and costs of every variant, and the workspace tracemalloc sees."""
from __future__ import annotations

import re

import numpy as np
import pytest

import strategies.winograd as winograd_module
import strategies.winograd_plan as winograd_plan
from conftest import make_inputs, traced_workspace
from strategies import get_strategy
from strategies.geometry import ConvProblem
from strategies.passes import PASS_WRT, PASSES
from test_strategies import run_and_check

MS = [2, 4, 6]

EDGE_CASES = [
    ((2, 5, 9, 7), (3, 5, 3, 3), 1, 0, "pad 0, odd output 7x5: edge tiles"),
    ((1, 4, 5, 6), (2, 4, 3, 3), 1, 2, "pad 2, output 7x8"),
    ((2, 3, 6, 7), (4, 3, 3, 3), 1, 3, "pad 3 > 2: dx crops dout"),
    ((1, 2, 1, 2), (3, 2, 3, 3), 1, 1, "1x2 input, one edge tile"),
    ((3, 6, 10, 9), (5, 6, 3, 3), 1, 1, "several tiles, odd width"),
    ((2, 3, 11, 9), (4, 3, 5, 5), 1, 2, "5x5, odd sizes"),
    ((2, 3, 9, 9), (2, 3, 3, 5), 1, 1, "3x5 kernel: F(m,3) down, F(m,5) along"),
    ((2, 3, 12, 11), (4, 3, 3, 3), 2, 1, "stride 2 pad 1, odd width"),
    ((2, 3, 9, 10), (4, 3, 3, 3), 2, 0, "stride 2 pad 0, a leftover row"),
    ((1, 2, 8, 8), (3, 2, 3, 3), 2, 2, "stride 2 pad 2"),
    ((2, 3, 13, 12), (2, 3, 5, 5), 2, 2, "5x5 stride 2: phases of 3 and 2 taps"),
]


def computed(m, cases):
    """(m, *case) for the cases winograd[m] computes (the others are declined: test_declines...)."""
    return [pytest.param(m, *c[:4], id=f"m={m}-{c[4] if len(c) > 4 else c[0]}") for c in cases
            if get_strategy("winograd", m=m).skip_reason(c[0], c[1], {"stride": c[2], "pad": c[3]}) is None]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("m,x_shape,w_shape,stride,pad", [p for m in MS for p in computed(m, EDGE_CASES)])
def test_edge_tiles_padding_5x5_and_stride_2(m, x_shape, w_shape, stride, pad, dtype):
    run_and_check(get_strategy("winograd", m=m), x_shape, w_shape, stride, pad, dtype)


@pytest.mark.parametrize("m", MS)
def test_many_channels_float32(m):
    """C = 256: long GEMM reductions in float32 stay within the tolerance."""
    run_and_check(get_strategy("winograd", m=m), (2, 256, 6, 5), (8, 256, 3, 3), 1, 1, np.float32)


@pytest.mark.parametrize("m", [4, 6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_channel_sums_in_three_parts(m, dtype):
    """C = 300, F = 260: forward and dx products sum their channels in 3 parts (winograd_plan.PART_CHANNELS)."""
    call = winograd_plan.Plan.for_problem(ConvProblem.from_shapes((1, 300, 5, 6), (260, 300, 3, 3),
                                                                 {"stride": 1, "pad": 1}), m, 8).forward
    assert (winograd_plan.product_parts(call, 300), winograd_plan.product_parts(call, 260)) == (3, 3)
    run_and_check(get_strategy("winograd", m=m), (1, 300, 5, 6), (260, 300, 3, 3), 1, 1, dtype)


@pytest.mark.parametrize("m", MS)
@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [((2, 8, 20, 18), (24, 8, 3, 3), 1, 1),
                                                        ((2, 8, 27, 20), (24, 8, 3, 3), 2, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_many_blocks_of_several_tile_rows_give_the_same_layer(monkeypatch, m, x_shape, w_shape, stride, pad, dtype):
    """F >= tw*N and a cache that holds two tile rows: blocks of 2+ tile rows (the gathered rows,
    their transpose) and a shorter last block."""
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    shapes = winograd_plan.Plan.for_problem(problem, m, 8).forward.shapes
    tw = -(-problem.out_w // m)
    two_rows = 2 * winograd_plan.working_set(shapes, m, problem.C, problem.F) * tw * problem.N * np.dtype(dtype).itemsize
    monkeypatch.setattr(winograd_plan, "cache_bytes", lambda level: 2 * two_rows)     # half of it is the budget
    tiling = winograd_plan.Plan.for_problem(problem, m, np.dtype(dtype).itemsize).forward.tiling
    assert len(tiling.blocks) > 1 and tiling.ib > 1
    run_and_check(get_strategy("winograd", m=m), x_shape, w_shape, stride, pad, dtype)


@pytest.mark.parametrize("m,w_shape,stride,words", [
    (2, (2, 3, 1, 1), 1, "winograd needs a kernel of 3 or 5 rows and columns (F(2,3), F(2,5)); got 1x1"),
    (4, (2, 3, 7, 7), 1, "winograd[m=4] needs a kernel of 3 or 5 rows and columns (F(4,3), F(4,5)); got 7x7"),
    (2, (2, 3, 3, 2), 1, "winograd needs a kernel of 3 or 5 rows and columns (F(2,3), F(2,5)); got 3x2"),
    (6, (2, 3, 5, 5), 1, "winograd[m=6] needs a kernel of 3 rows and columns (F(6,3)); got 5x5"),
    (2, (2, 3, 3, 3), 3, "winograd needs stride 1 or 2 (stride 2 as a sum of polyphase phases); got stride 3"),
])
def test_declines_what_it_has_no_algorithm_for_and_says_what_it_needs(m, w_shape, stride, words):
    strategy = get_strategy("winograd", m=m)
    x_shape = (1, 3, 9, 9)
    assert strategy.skip_reason(x_shape, w_shape, {"stride": stride, "pad": 1}) == words
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    with pytest.raises(ValueError, match=r"cannot compute .*" + re.escape(words)):
        strategy.forward(x, w, b, {"stride": stride, "pad": 1})


def test_option_m_label_and_error_family():
    assert (get_strategy("winograd").label, get_strategy("winograd").family) == ("winograd", "winograd")
    assert get_strategy("winograd", m=2).label == "winograd"                  # one variant, one label
    for m, family in ((4, "winograd_f4"), (6, "winograd_f6")):
        strategy = get_strategy("winograd", m=m)
        assert (strategy.label, strategy.family, strategy.options) == (f"winograd[m={m}]", family, {"m": m})
    assert get_strategy("winograd").family == "winograd"      # per instance, not per class
    for bad in (3, 8, 2.0, True, "2"):
        with pytest.raises(ValueError, match=r"m must be one of \[2, 4, 6\].*got m="):
            get_strategy("winograd", m=bad)


@pytest.mark.parametrize("m", MS)
@pytest.mark.parametrize("stride", [1, 2])
def test_backward_transposes_the_forward_and_transforms_the_kernel_once(monkeypatch, m, stride):
    """The filter transform runs in forward only (once per phase); dx uses U^T, dw the cached V."""
    calls = []
    original = winograd_module.filter_transform
    monkeypatch.setattr(winograd_module, "filter_transform", lambda *a: calls.append(1) or original(*a))
    strategy = get_strategy("winograd", m=m)
    x, w, b = make_inputs((1, 2, 8, 8), (3, 2, 3, 3), np.float64)
    out, cache_ = strategy.forward(x, w, b, {"stride": stride, "pad": 1})
    assert len(calls) == stride * stride
    strategy.backward(np.ones_like(out), cache_)
    assert len(calls) == stride * stride


LAYERS = [((4, 16, 24, 24), (16, 16, 3, 3), 1, 1),
          ((2, 24, 10, 10), (40, 24, 3, 3), 1, 1),
          ((2, 8, 17, 16), (16, 8, 3, 3), 2, 1),        # four phases
          ((2, 8, 16, 16), (8, 8, 5, 5), 1, 2)]
LAYER_CASES = [p for m in MS for p in computed(m, LAYERS)]


@pytest.fixture(params=[None, 2 ** 18], ids=["llc", "llc256k"])
def llc(request, monkeypatch):
    """The machine's last-level cache, and a 256 KiB one (then these layers run in many blocks)."""
    if request.param:
        monkeypatch.setattr(winograd_plan, "cache_bytes", lambda level: request.param)
    return request.param


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("m,x_shape,w_shape,stride,pad", LAYER_CASES)
def test_blocked_steps_run_in_the_order_the_costs_list_them(llc, m, pass_, x_shape, w_shape, stride, pad):
    """A step runs once per block (and per phase); its first runs follow the costs' phase order."""
    strategy, cp = get_strategy("winograd", m=m), {"stride": stride, "pad": pad}
    analytic = strategy.costs(x_shape, w_shape, cp, pass_).workspace_bytes
    assert analytic == pytest.approx(traced_workspace(strategy, pass_, x_shape, w_shape, cp), rel=0.25)


def test_help_explains_the_algorithm_costs_and_where_it_loses():
    text = winograd_module.__doc__ + (type(get_strategy("winograd")).__doc__ or "")
    for words in ("B^T d B", "G g G^T", "A^T M A", "polyphase", "dual", "transpose", "loses", "fewer"):
        assert words in text, words
    assert type(get_strategy("winograd"))._forward.__doc__ and type(get_strategy("winograd"))._backward.__doc__


class GemmCounter:
    """numpy for the Winograd modules, with every np.matmul's flops (2 m n k per product) added up."""

    def __init__(self):
        self.flops = 0.0

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        result = np.matmul(a, b, out=out)
        batch = result.size // (result.shape[-2] * result.shape[-1])
        self.flops += 2.0 * batch * result.shape[-2] * result.shape[-1] * a.shape[-1]
        return result


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("m,x_shape,w_shape,stride,pad", LAYER_CASES)
def test_every_gemm_the_code_runs_is_counted(llc, monkeypatch, m, pass_, x_shape, w_shape, stride, pad):
    """The GEMMs executed (products and matrix transforms) sum to the costs' product + gemm_transform flops."""
    import strategies.winograd_engine as engine
    import strategies.winograd_transforms as transforms
    import strategies.winograd_transposes as transposes
    strategy, cp = get_strategy("winograd", m=m), {"stride": stride, "pad": pad}
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    out, cache_ = strategy.forward(x, w, b, cp)
    counter = GemmCounter()
    for module in (engine, transforms, transposes):
        monkeypatch.setattr(module, "np", counter)
    strategy.forward(x, w, b, cp) if pass_ == "forward" else strategy.backward(np.ones_like(out), cache_,
                                                                                 wrt=PASS_WRT[pass_])
    costs = strategy.costs(x_shape, w_shape, cp, pass_)
    assert counter.flops == costs.multiplies + sum(p.gemm_transform for p in costs.phases)
