"""The judge: an independent float64 reference for a convolutional layer.

Shares no code with :mod:`strategies` (a competitor is never the judge): the
reference is written with ``sliding_window_view`` + ``einsum`` and checked in the
tests against ``scipy.signal.correlate2d`` and central finite differences.

Also here, once for every test, report and figure: the error metric
(:func:`max_relative_error`), the acceptance threshold (:func:`tolerance`) and the
operation count (:func:`flops`).

A *shape* is a mapping with keys N, C, H, W, F, HH, WW, stride, pad (the harness's
row dicts) or any object with those attributes.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

QUANTITIES = ("out", "dx", "dw", "db")
PASSES = ("forward", "backward")

#: unit roundoff u (half the machine epsilon) of each supported dtype
UNIT_ROUNDOFF = {np.dtype(np.float32): 2.0 ** -24, np.dtype(np.float64): 2.0 ** -53}

#: How much more rounding error an algorithm family makes than direct summation, as
#: a factor on the direct bound (see :func:`tolerance`).  Fast algorithms trade
#: exactness for fewer multiplications: FFT error is normwise (it is spread over
#: every output, and grows with log2 of the transform size); Winograd's transforms
#: amplify the error by the norms of B^T, G and A^T (Lavin & Gray 2016, table 2).
ERROR_GROWTH = {"direct": 1.0}


def _dims(shape) -> tuple[int, ...]:
    keys = ("N", "C", "H", "W", "F", "HH", "WW", "stride", "pad")
    if isinstance(shape, Mapping):
        return tuple(int(shape[k]) for k in keys)
    return tuple(int(getattr(shape, k)) for k in keys)


def out_size(shape) -> tuple[int, int]:
    """(H', W') of the layer, from the definition of a strided valid window."""
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    return len(range(0, H + 2 * p - HH + 1, s)), len(range(0, W + 2 * p - WW + 1, s))


def flops(shape, pass_: str) -> int:
    """Floating-point operations of the direct algorithm, the one count every figure uses.

    forward: 2*N*F*C*HH*WW*H'*W' (a multiply and an add per tap); backward (dx and dw):
    twice that.  Fast algorithms are credited with these same FLOPs, so their
    "effective" GFLOP/s may exceed the machine's GEMM rate.
    """
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    Ho, Wo = out_size(shape)
    fwd = 2 * N * F * C * HH * WW * Ho * Wo
    if pass_ == "forward":
        return fwd
    if pass_ == "backward":
        return 2 * fwd
    raise ValueError(f"pass must be one of {PASSES}; got {pass_!r}")


def reduction_lengths(shape) -> dict[str, int]:
    """How many products each output element of each quantity sums.

    out: C*HH*WW; dx: F*ceil(HH/s)*ceil(WW/s) (the taps of F filters that land on one
    input pixel); dw and db: N*H'*W' (a sum over the batch and every output pixel).
    """
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    Ho, Wo = out_size(shape)
    return {"out": C * HH * WW, "dx": F * math.ceil(HH / s) * math.ceil(WW / s),
            "dw": N * Ho * Wo, "db": N * Ho * Wo}


def tolerance(dtype, reduction_length: int, algorithm: str = "direct") -> float:
    """Largest acceptable :func:`max_relative_error` for a sum of ``reduction_length`` products.

    Derivation.  Inputs are exact in the working precision (the reference is fed the
    same float32/float64 values, widened), so all error is rounding in the sums.  For
    a dot product of length n, Higham & Mary's probabilistic bound (SIAM J. Sci.
    Comput. 2019) gives |error| <= lam * sqrt(n) * u * sum|a_i b_i| with probability
    at least 1 - 2 exp(-lam^2 / 2).  With the zero-mean unit-variance data the tests
    and the harness generate, sum|a_i b_i| ~ 0.64 n and max|ref| over many outputs
    is at least sqrt(n) (one standard deviation; in practice 3-4 sqrt(n)), so
    error / max|ref| <= lam * 0.64 * n * u.  We take lam * 0.64 = 1, i.e. ~ n * u;
    the 3-4x by which max|ref| exceeds sqrt(n) is the margin for the unlucky
    element.  We add 4 roundings for the product, the
    bias add and the final store, and scale by the algorithm's growth factor::

        tolerance = ERROR_GROWTH[algorithm] * (n + 4) * u

    float32, n = 1152 (C=128, 3x3): 6.9e-5; float64, n = 25088: 2.8e-12.  A wrong
    index or a dropped term gives errors of order 1, far above either.
    """
    dtype = np.dtype(dtype)
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    if algorithm not in ERROR_GROWTH:
        raise ValueError(f"unknown algorithm family {algorithm!r}; known: {sorted(ERROR_GROWTH)}")
    return ERROR_GROWTH[algorithm] * (int(reduction_length) + 4) * UNIT_ROUNDOFF[dtype]


def tolerances(shape, dtype, algorithm: str = "direct") -> dict[str, float]:
    """:func:`tolerance` for each of out, dx, dw, db of one layer."""
    return {q: tolerance(dtype, n, algorithm) for q, n in reduction_lengths(shape).items()}


def _windows(xp: np.ndarray, HH: int, WW: int, s: int) -> np.ndarray:
    """(N, C, Hp, Wp) -> (N, C, H', W', HH, WW) strided windows (a view)."""
    return sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::s, ::s]


def reference_forward(x, w, b, stride: int, pad: int) -> np.ndarray:
    """out (N, F, H', W') in float64: out[n,f,h,v] = b[f] + sum_{c,i,j} xp[n,c,h*s+i,v*s+j] w[f,c,i,j]."""
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = _windows(xp, w.shape[2], w.shape[3], stride)
    return np.einsum("nchvij,fcij->nfhv", win, w, optimize=True) + b[None, :, None, None]


def reference_backward(x, w, dout, stride: int, pad: int):
    """(dx, dw, db) in float64 for upstream gradient dout (N, F, H', W')."""
    x, w, dout = (np.asarray(a, dtype=np.float64) for a in (x, w, dout))
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = _windows(xp, HH, WW, stride)
    dw = np.einsum("nchvij,nfhv->fcij", win, dout, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    # each window position (h, v) sends dout * w back to the input pixels it read
    dwin = np.einsum("nfhv,fcij->ijnchv", dout, w, optimize=True)
    dxp = np.zeros_like(xp)
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += dwin[i, j]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, db


def max_relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual - reference| / max |reference| (normwise; 0 for an all-zero match)."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"result has shape {actual.shape}, reference {reference.shape}")
    if not np.all(np.isfinite(actual)):
        return math.inf
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    diff = float(np.max(np.abs(actual - reference))) if reference.size else 0.0
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def compare(results: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Max relative error of each quantity present in ``results`` (keys out, dx, dw, db)."""
    return {q: max_relative_error(results[q], reference[q]) for q in QUANTITIES if q in results}


def failures(errors: Mapping[str, float], shape, dtype, algorithm: str = "direct") -> list[str]:
    """Human lines for every quantity whose error exceeds its tolerance (empty when all pass)."""
    tols = tolerances(shape, dtype, algorithm)
    return [f"{q}: max relative error {e:.3g} > tolerance {tols[q]:.3g}"
            for q, e in errors.items() if not e <= tols[q]]
