"""The contract's newer promises, for every registered strategy: wrt, named steps, costs, caches, read-only inputs."""
from __future__ import annotations


import numpy as np
import pytest

from conftest import VARIANTS, VARIANT_IDS, StepLog, make_inputs, traced_workspace
from strategies import get_strategy
from strategies.passes import GRADIENTS, PASS_WRT, PASSES, check_wrt
from strategies.phases import recording

# small problems every strategy computes: 3x3 stride 1 (winograd's domain), a strided one
PROBLEMS = [((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 1, "pad": 1}),
            ((3, 2, 9, 9), (3, 2, 3, 3), {"stride": 1, "pad": 0})]
BACKWARD_PASSES = [p for p in PASSES if PASS_WRT[p]]


def supported(strategy, x_shape, w_shape, cp) -> bool:
    return strategy.skip_reason(x_shape, w_shape, cp) is None


@pytest.fixture(params=VARIANTS, ids=VARIANT_IDS)
def strategy(request):
    name, options = request.param
    return get_strategy(name, **options)


@pytest.mark.parametrize("x_shape,w_shape,cp", PROBLEMS)
def test_backward_computes_only_what_wrt_asks_and_the_same_values(strategy, x_shape, w_shape, cp):
    assert supported(strategy, x_shape, w_shape, cp)
    x, w, b = make_inputs(x_shape, w_shape, np.float64)
    out, cache = strategy.forward(x, w, b, cp)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    full = strategy.backward(dout, cache)
    assert all(g is not None for g in full)
    for pass_ in BACKWARD_PASSES:
        part = strategy.backward(dout, cache, wrt=PASS_WRT[pass_])
        for name, g, ref in zip(GRADIENTS, part, full):
            if name in PASS_WRT[pass_]:
                np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
            else:
                assert g is None, (pass_, name)


@pytest.mark.parametrize("pass_", PASSES)
def test_the_steps_that_run_are_the_phases_the_costs_count(strategy, pass_):
    """A timed dx does no dw work: the steps run for a pass are exactly the phases its costs name."""
    x_shape, w_shape, cp = PROBLEMS[0]
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    out, cache = strategy.forward(x, w, b, cp)
    log = StepLog()
    with recording(log):
        if pass_ == "forward":
            strategy.forward(x, w, b, cp)
        else:
            strategy.backward(np.ones_like(out), cache, wrt=PASS_WRT[pass_])
    costs = strategy.costs(x_shape, w_shape, cp, pass_)
    assert log.names, "no named step ran"
    # a blocked strategy runs a step once per block: the distinct steps, in order, are the phases
    assert list(dict.fromkeys(log.names)) == [p.name for p in costs.phases]
    assert costs.flops > 0 and costs.bytes_moved > 0 and costs.workspace_bytes >= 0


def test_costs_refuse_a_bad_pass_dtype_or_a_declined_problem():
    im2col = get_strategy("im2col")
    with pytest.raises(ValueError, match=r"pass must be one of"):
        im2col.costs((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 1, "pad": 0}, "sideways")
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64"):
        im2col.costs((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 1, "pad": 0}, "forward", "float16")
    with pytest.raises(ValueError, match=r"cannot compute .*needs a kernel of 3 or 5 rows and columns"):
        get_strategy("winograd").costs((1, 1, 8, 8), (1, 1, 7, 7), {"stride": 1, "pad": 0}, "forward")


@pytest.mark.parametrize("name", ["naive", "im2col"])
@pytest.mark.parametrize("pass_", PASSES)
def test_direct_strategies_multiply_the_direct_count(name, pass_):
    """naive and im2col execute the direct algorithm's 2*N*F*C*HH*WW*H'*W' flops per product."""
    x_shape, w_shape, cp = (2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2, "pad": 1}
    direct = 2 * 2 * 4 * 3 * 3 * 3 * 5 * 5
    products = {"forward": 1, "backward_data": 1, "backward_filter": 1, "backward": 2}[pass_]
    costs = get_strategy(name).costs(x_shape, w_shape, cp, pass_)
    if name == "naive" and pass_ in ("backward_data", "backward"):   # dx loops over the dilated dout
        direct_dx = 2 * 2 * 3 * 4 * 3 * 3 * 11 * 11
        assert costs.multiplies == direct_dx + (direct if pass_ == "backward" else 0)
    else:
        assert costs.multiplies == products * direct


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("x_shape,w_shape,cp", [
    ((4, 16, 24, 24), (16, 16, 3, 3), {"stride": 1, "pad": 1}),    # flat layout, whole-image blocks
    ((2, 64, 40, 40), (64, 64, 3, 3), {"stride": 1, "pad": 1}),    # flat, row blocks
    ((2, 3, 30, 30), (8, 3, 7, 7), {"stride": 2, "pad": 3}),       # windows, polyphase, reordered kernel
    ((8, 64, 7, 7), (64, 64, 3, 3), {"stride": 1, "pad": 0}),      # windows, several images per block
    ((4, 64, 28, 28), (32, 64, 1, 1), {"stride": 2, "pad": 0})])   # 1x1: one gather, no blocks
def test_im2col_workspace_matches_what_tracemalloc_sees(pass_, x_shape, w_shape, cp):
    """Within 25% of the traced peak beyond inputs and outputs (tracemalloc sees all of im2col)."""
    im2col = get_strategy("im2col")
    analytic = im2col.costs(x_shape, w_shape, cp, pass_).workspace_bytes
    assert analytic == pytest.approx(traced_workspace(im2col, pass_, x_shape, w_shape, cp), rel=0.25)


def test_backward_with_another_strategys_cache_names_both():
    x, w, b = make_inputs((1, 2, 5, 5), (2, 2, 3, 3), np.float32)
    out, cache = get_strategy("im2col").forward(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"cache was made by im2col's forward; fft cannot use it"):
        get_strategy("fft").backward(np.ones_like(out), cache)


@pytest.mark.parametrize("wrt", [(), ("y",), "xy", 3, ("x", "q")])
def test_a_bad_wrt_is_named(wrt):
    with pytest.raises(ValueError, match=r"wrt must be"):
        check_wrt(wrt)


def test_strategies_only_read_their_inputs(strategy):
    """The harness hands read-only arrays: every strategy computes on them without writing."""
    for x_shape, w_shape, cp in PROBLEMS:
        x, w, b = make_inputs(x_shape, w_shape, np.float32)
        for a in (x, w, b):
            a.setflags(write=False)
        out, cache = strategy.forward(x, w, b, cp)
        dout = np.ones_like(out)
        dout.setflags(write=False)
        assert all(g is not None for g in strategy.backward(dout, cache))


def test_masked_arrays_are_refused_not_unmasked():
    x, w, b = make_inputs((1, 1, 4, 4), (1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"x is a numpy.ma.MaskedArray; masks are not supported"):
        get_strategy("im2col").forward(np.ma.masked_less(x, 0), w, b, {"stride": 1, "pad": 0})
