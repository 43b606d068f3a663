"""FFT-specific checks: awkward transform sizes, large kernels, strided leftovers, float32, the helpers.

The registry suite (test_strategies.py) already runs fft against the oracle on the
shared shape table, the hypothesis property and finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from conftest import make_inputs
from test_strategies import run_and_check

from harness import oracle
from strategies import get_strategy
from strategies.fft_plan import FFTPlan
from strategies.fft_spectra import from_frequency_major, inverse, kernel_inverse, kernel_spectrum, spectrum
from strategies.polyphase import Polyphase
from strategies.geometry import ConvProblem

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])


@pytest.fixture
def fft():
    return get_strategy("fft")


@DTYPES
@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [
    ((1, 2, 97, 97), (3, 2, 3, 3), 1, 1),      # prime input: padded 99 -> transform 100
    ((2, 2, 97, 89), (2, 2, 4, 5), 1, 0),      # prime, unpadded, even kernel: 97 x 89 grid
    ((1, 3, 53, 61), (2, 3, 3, 3), 2, 0),      # primes at stride 2: 27 x 31 phase grids
])
def test_prime_sizes(fft, x_shape, w_shape, stride, pad, dtype):
    run_and_check(fft, x_shape, w_shape, stride, pad, dtype)


@DTYPES
@pytest.mark.parametrize("x_shape,w_shape,pad", [
    ((2, 3, 40, 36), (4, 3, 11, 11), 5),
    ((2, 2, 31, 29), (3, 2, 15, 15), 7),
    ((1, 2, 20, 20), (2, 2, 15, 11), 0),       # rectangular, nearly as large as the input
])
def test_large_kernels(fft, x_shape, w_shape, pad, dtype):
    run_and_check(fft, x_shape, w_shape, 1, pad, dtype)


@DTYPES
@pytest.mark.parametrize("x_shape,w_shape,stride,pad", [
    ((2, 3, 18, 17), (4, 3, 7, 7), 2, 3),      # 1 leftover row, 0 columns
    ((2, 2, 20, 21), (3, 2, 5, 4), 3, 2),      # 2 leftover rows, 2 columns
    ((1, 2, 16, 14), (2, 2, 11, 11), 3, 5),    # large kernel at stride 3
    ((2, 3, 13, 11), (2, 3, 1, 1), 3, 0),      # 1x1 at stride 3: phases the kernel never meets
])
def test_strided_with_leftover_rows(fft, x_shape, w_shape, stride, pad, dtype):
    problem = ConvProblem.from_shapes(x_shape, w_shape, {"stride": stride, "pad": pad})
    leftover = [(n + 2 * pad - k) % stride for n, k in ((x_shape[2], w_shape[2]), (x_shape[3], w_shape[3]))]
    assert any(leftover) or w_shape[2] == 1, (problem, leftover)
    run_and_check(fft, x_shape, w_shape, stride, pad, dtype)


def test_float32_computes_in_single_precision_and_stays_accurate(fft):
    """complex64 throughout; at a real layer size the error is far inside even the direct bound."""
    x_shape, w_shape, stride, pad = (2, 16, 40, 40), (8, 16, 9, 9), 1, 4
    x, w, b = make_inputs(x_shape, w_shape, np.float32)
    out, cache = fft.forward(x, w, b, {"stride": stride, "pad": pad})
    assert out.dtype == np.float32
    assert {a.dtype for a in cache.saved[1:]} == {np.dtype(np.complex64)}
    errors = run_and_check(fft, x_shape, w_shape, stride, pad, np.float32)
    shape = dict(zip("NCHW", x_shape), F=w_shape[0], HH=w_shape[2], WW=w_shape[3], stride=stride, pad=pad)
    direct = oracle.tolerances(shape, np.float32, "direct")
    assert all(errors[q] <= direct[q] for q in errors), (errors, direct)
    assert max(errors.values()) < 2e-6, errors


def test_declines_nothing(fft):
    assert fft.skip_reason((1, 1, 1, 1), (1, 1, 1, 1), {"stride": 5, "pad": 0}) is None
    assert fft.skip_reason((1, 1, 2, 3), (1, 1, 4, 5), {"stride": 1, "pad": 1}) is None


# --- the helpers -------------------------------------------------------------------------

def test_plan_shrinks_with_the_stride():
    """Polyphase: a stride-s layer transforms grids s times smaller per axis, never the full one."""
    for stride in (1, 2, 3):
        problem = ConvProblem.from_shapes((1, 1, 62, 62), (1, 1, 7, 7), {"stride": stride, "pad": 3})
        plan = FFTPlan.for_problem(problem)
        assert plan.grid.rows == -(-68 // stride) and plan.krows == -(-7 // stride)
        assert plan.Lh == scipy.fft.next_fast_len(plan.Lh) >= plan.window[0]
        assert plan.Lw == scipy.fft.next_fast_len(plan.Lw, real=True) >= plan.window[1]
        assert plan.Lh <= scipy.fft.next_fast_len(plan.grid.rows)


@pytest.mark.parametrize("conj", [False, True])
def test_spectrum_and_inverse_match_numpy_rfft2(conj):
    """The batched two-pass transform is numpy.fft.rfft2 per tile, in frequency-major order."""
    plan = FFTPlan(Polyphase(stride=1, phases_h=1, phases_w=1, rows=9, cols=10, krows=3, kcols=3),
                   Lh=11, Lw=12, Th=4, Tw=5, th=2, tw=2)
    a = np.random.default_rng(1).standard_normal((2, 3, 2, 2, 4, 5))          # (N, B, th, tw, h, w)
    expected = np.fft.rfft2(a, s=(plan.Lh, plan.Lw))                          # (N, B, th, tw, Lh, Lr)
    expected = (np.conj(expected) if conj else expected).transpose(4, 5, 2, 3, 0, 1)
    spec = spectrum(a, plan, conj=conj)
    np.testing.assert_allclose(spec, expected, atol=1e-12)
    back = inverse(from_frequency_major(spec), plan, 4, conj=conj)           # undoes the conj too
    np.testing.assert_allclose(back[..., :5], a, atol=1e-12)
    np.testing.assert_allclose(back[..., 5:], 0, atol=1e-12)                 # the zero extension


def test_kernel_transforms_match_numpy_rfft2():
    """The kernel's DFT-GEMM row pass is conj(numpy.fft.rfft2) of the zero-extended kernel, and back."""
    plan = FFTPlan(Polyphase(stride=1, phases_h=1, phases_w=1, rows=9, cols=10, krows=3, kcols=2),
                   Lh=11, Lw=12, Th=7, Tw=9, th=1, tw=1)
    wt = np.random.default_rng(2).standard_normal((3, 2, 4, 5))              # (HHq, WWq, Cp, F)
    spec = kernel_spectrum(wt, plan)
    expected = np.conj(np.fft.rfft2(wt, s=(plan.Lh, plan.Lw), axes=(0, 1)))
    np.testing.assert_allclose(spec, expected, atol=1e-12)
    np.testing.assert_allclose(kernel_inverse(np.conj(spec), plan), wt, atol=1e-12)
