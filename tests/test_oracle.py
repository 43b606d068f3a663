"""The judge is checked against outside references: scipy and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate2d

from harness import oracle
from conftest import make_inputs


@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 2), (2, 1), (3, 0)])
def test_forward_matches_scipy_correlate2d_per_channel(stride, pad):
    x, w, b = make_inputs((2, 3, 9, 8), (2, 3, 3, 4), np.float64)
    out = oracle.reference_forward(x, w, b, stride, pad)
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    for n in range(2):
        for f in range(2):
            expected = sum(correlate2d(xp[n, c], w[f, c], mode="valid") for c in range(3))
            expected = expected[::stride, ::stride] + b[f]
            np.testing.assert_allclose(out[n, f], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [
    ((2, 2, 5, 5), (3, 2, 3, 3), 1, 1),
    ((1, 2, 7, 6), (2, 2, 3, 2), 2, 1),   # leftover row at stride 2
    ((1, 1, 8, 8), (2, 1, 2, 2), 3, 0),   # leftover rows and columns at stride 3
])
def test_backward_matches_central_finite_differences(x_shape, w_shape, stride, pad):
    x, w, b = make_inputs(x_shape, w_shape, np.float64, seed=1)
    out = oracle.reference_forward(x, w, b, stride, pad)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx, dw, db = oracle.reference_backward(x, w, dout, stride, pad)

    def loss(**args):
        return float(np.sum(oracle.reference_forward(args["x"], args["w"], args["b"], stride, pad) * dout))

    h = 1e-6
    args = {"x": x, "w": w, "b": b}
    for name, grad in (("x", dx), ("w", dw), ("b", db)):
        numeric = np.zeros_like(args[name])
        for idx in np.ndindex(numeric.shape):
            plus, minus = args[name].copy(), args[name].copy()
            plus[idx] += h
            minus[idx] -= h
            numeric[idx] = (loss(**{**args, name: plus}) - loss(**{**args, name: minus})) / (2 * h)
        # the loss is linear in each argument, so central differences are exact up to
        # rounding: ~ eps * |loss| / h ~ 1e-16 * 10 / 1e-6 = 1e-9 absolute
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7, err_msg=f"d{name}")


def test_flops_and_out_size():
    shape = dict(N=8, C=64, H=56, W=56, F=64, HH=3, WW=3, stride=1, pad=1)
    assert oracle.out_size(shape) == (56, 56)
    assert oracle.flops(shape, ("out",)) == 2 * 8 * 64 * 64 * 9 * 56 * 56
    assert oracle.flops(shape, ("dx", "dw", "db")) == 2 * oracle.flops(shape, ("out",))
    assert oracle.out_size(dict(shape, H=9, W=10, stride=3, pad=1)) == (3, 4)
    with pytest.raises(ValueError, match=r"quantities must be some of \('out', 'dx', 'dw', 'db'\); got \['sideways'\]"):
        oracle.flops(shape, ("out", "sideways"))


def test_tolerance_scales_with_precision_and_length():
    t32 = oracle.tolerance(np.float32, 1152)
    assert 1e-5 < t32 < 1e-4
    assert oracle.tolerance(np.float64, 25088) < 1e-10
    assert oracle.tolerance(np.float32, 10_000) > t32
    with pytest.raises(ValueError, match="float32 or float64"):
        oracle.tolerance(np.float16, 10)
    with pytest.raises(ValueError, match="unknown algorithm family"):
        oracle.tolerance(np.float32, 10, "magic")
    assert oracle.tolerance(np.float32, 100, condition=10) == pytest.approx(10 * oracle.tolerance(np.float32, 100))


def test_condition_measures_cancellation():
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s) for s in ((4, 16, 12, 12), (8, 16, 3, 3), (8,)))
    dout = rng.standard_normal((4, 8, 12, 12))
    ref = oracle.reference(x, w, b, dout, 1, 1)
    # random data: S_max ~ 0.64 n, max|ref| ~ 3.5 sqrt(n), n = 144 -> about 2 to 4
    assert 1.0 <= ref.condition["out"] < 10
    # one output whose terms cancel: 1*1 + 1*1 - 2*1 + b -> S = 4 + |b|, value = b
    x1, w1 = np.ones((1, 3, 1, 1)), np.array([1.0, 1.0, -2.0]).reshape(1, 3, 1, 1)
    ref = oracle.reference(x1, w1, np.array([0.01]), np.ones((1, 1, 1, 1)), 1, 0)
    assert ref.condition["out"] == pytest.approx(4.01 / 0.01)
    np.testing.assert_allclose(ref.values["out"], [[[[0.01]]]], rtol=1e-12)


def test_max_relative_error_flags_nan_and_mismatch():
    ref = np.array([1.0, -2.0])
    assert oracle.max_relative_error(ref, ref) == 0.0
    assert oracle.max_relative_error(np.array([1.0, -1.0]), ref) == pytest.approx(0.5)
    assert oracle.max_relative_error(np.array([np.nan, 0.0]), ref) == np.inf
    with pytest.raises(ValueError, match="shape"):
        oracle.max_relative_error(np.zeros(3), ref)


def test_non_finite_inputs_follow_the_documented_rule():
    """NaN propagates by IEEE arithmetic: a result must be non-finite exactly where the reference is."""
    ref = np.array([1.0, np.nan, 2.0])
    assert oracle.max_relative_error(np.array([1.0, np.nan, 2.0]), ref) == 0.0
    assert oracle.max_relative_error(np.array([1.0, 5.0, 2.0]), ref) == np.inf       # a NaN lost
    assert oracle.max_relative_error(np.array([np.nan, np.nan, 2.0]), ref) == np.inf  # a NaN spread
    x = np.ones((1, 1, 5, 5))
    x[0, 0, 0, 0] = np.nan
    out = oracle.reference_forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), 1, 0)
    assert np.isnan(out[0, 0, 0, 0]) and np.isfinite(out[0, 0, 1:, :]).all()     # only the windows that read it
