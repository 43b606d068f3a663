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
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

QUANTITIES = ("out", "dx", "dw", "db")

#: unit roundoff u (half the machine epsilon) of each supported dtype
UNIT_ROUNDOFF = {np.dtype(np.float32): 2.0 ** -24, np.dtype(np.float64): 2.0 ** -53}

#: How much more rounding error an algorithm family makes than direct summation, as
#: a factor on the direct bound (see :func:`tolerance`).  Fast algorithms trade
#: exactness for fewer multiplications: FFT error is normwise (it is spread over
#: every output, and grows with log2 of the transform size); Winograd's transforms
#: amplify the error by the norms of B^T, G and A^T (Lavin & Gray 2016, table 2).
ERROR_GROWTH = {
    "direct": 1.0,
    # fft: error ~u*log2(Lh*Lw) of the operands, any n: <=3x (n+4)u at n=1 to 256^2; x2 for tiny cancelling outputs
    "fft": 8.0,
    # winograd families, one per variant (m): the smallest power of two >= 3x the worst float32 error / direct bound
    # measured over the test suite's problems (SHAPES, winograd edge cases, 5x5 and stride-2 layers, 700 random
    # problems drawn like the hypothesis test's; 3 seeds each; direct itself measures <= 0.13x there).
    # m=2: F(2x2,3x3), F(2x2,5x5), stride-2 phases F(2,2) x F(2,1): measured <= 0.28x (a C=F=1 stride-2 dx): 1
    "winograd": 1.0,
    # m=4: F(4x4,3x3) on 0, +-2/3, +-3/2, inf, F(4x4,5x5) (8 points), stride-2 F(4,2): measured <= 0.56x
    "winograd_f4": 2.0,
    # m=6: F(6x6,3x3) on 0, +-1, +-2, +-1/2, inf (8 points), stride-2 F(6,2): measured <= 3.6x (at C=1)
    "winograd_f6": 16.0,
}


def _dims(shape) -> tuple[int, ...]:
    keys = ("N", "C", "H", "W", "F", "HH", "WW", "stride", "pad")
    if isinstance(shape, Mapping):
        return tuple(int(shape[k]) for k in keys)
    return tuple(int(getattr(shape, k)) for k in keys)


def out_size(shape) -> tuple[int, int]:
    """(H', W') of the layer, from the definition of a strided valid window."""
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    return len(range(0, H + 2 * p - HH + 1, s)), len(range(0, W + 2 * p - WW + 1, s))


def flops(shape, quantities) -> int:
    """Floating-point operations of the direct algorithm for ``quantities``: the one count every figure uses.

    out, dx and dw each cost 2*N*F*C*HH*WW*H'*W' (a multiply and an add per tap); db's
    additions are not counted.  Fast algorithms are credited with these same FLOPs, so
    their "effective" GFLOP/s may exceed the machine's GEMM rate.
    """
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    Ho, Wo = out_size(shape)
    unknown = sorted(set(quantities) - set(QUANTITIES))
    if unknown:
        raise ValueError(f"quantities must be some of {QUANTITIES}; got {unknown}")
    return sum(2 * N * F * C * HH * WW * Ho * Wo for q in quantities if q != "db")


def reduction_lengths(shape) -> dict[str, int]:
    """How many products each output element of each quantity sums.

    out: C*HH*WW; dx: F*ceil(HH/s)*ceil(WW/s) (the taps of F filters that land on one
    input pixel); dw and db: N*H'*W' (a sum over the batch and every output pixel).
    """
    N, C, H, W, F, HH, WW, s, p = _dims(shape)
    Ho, Wo = out_size(shape)
    return {"out": C * HH * WW, "dx": F * math.ceil(HH / s) * math.ceil(WW / s),
            "dw": N * Ho * Wo, "db": N * Ho * Wo}


#: Higham & Mary's lambda: per-element failure probability 2 exp(-lambda^2 / 2) ~ 3e-8
LAMBDA = 6.0


def tolerance(dtype, reduction_length: int, algorithm: str = "direct", condition: float = 1.0) -> float:
    """Largest acceptable :func:`max_relative_error` for sums of ``reduction_length`` products.

    Derivation.  Inputs are exact in the working precision (the reference is fed the
    same float32/float64 values, widened), so all error is rounding in the sums.  For
    a sum of n products, Higham & Mary's probabilistic bound (SIAM J. Sci. Comput.
    2019) gives, for each output element i,

        |error_i| <= lam * sqrt(n) * u * S_i,     S_i = sum_k |a_k b_k|

    with probability at least 1 - 2 exp(-lam^2 / 2) (lam = 6: 3e-8), for any
    summation order (blocked BLAS sums do better).  Dividing by max|ref| gives the
    normwise metric's bound ``lam * sqrt(n) * u * condition`` with
    ``condition = max_i S_i / max|ref|`` (>= 1): how much the data cancels, measured
    by :func:`reference` on the inputs themselves.  For the standard-normal data the
    harness generates it is ~0.2 sqrt(n) (S ~ 0.64 n, max|ref| ~ 3.5 sqrt(n)); for a
    single output whose terms cancel it can be 20 or more, and a tolerance that
    assumed random data would then fail a correct strategy.  We add 4 roundings (the
    product, the bias add, the store, the final widening) and scale by the
    algorithm's growth factor::

        tolerance = ERROR_GROWTH[algorithm] * (lam * sqrt(n) + 4) * u * condition

    float32, C=128 3x3 (n = 1152, condition ~ 7): ~9e-5; float64, dw of a ResNet
    layer (n = 25088, condition ~ 25): ~3e-12.  A wrong index or a dropped term
    gives errors of order 1, far above either.
    """
    dtype = np.dtype(dtype)
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    if algorithm not in ERROR_GROWTH:
        raise ValueError(f"unknown algorithm family {algorithm!r}; known: {sorted(ERROR_GROWTH)}")
    n = int(reduction_length)
    return ERROR_GROWTH[algorithm] * (LAMBDA * math.sqrt(n) + 4) * UNIT_ROUNDOFF[dtype] * max(1.0, condition)


def tolerances(shape, dtype, algorithm: str = "direct", condition: Mapping[str, float] | None = None) -> dict[str, float]:
    """:func:`tolerance` for each of out, dx, dw, db of one layer (``condition`` from :func:`reference`)."""
    condition = condition or {}
    return {q: tolerance(dtype, n, algorithm, condition.get(q, 1.0)) for q, n in reduction_lengths(shape).items()}


@dataclass(frozen=True)
class Reference:
    """The float64 answers for one set of inputs, and how much each cancels."""

    values: dict      # out, dx, dw, db (float64 arrays)
    condition: dict   # per quantity: max_i sum_k |terms_ik| / max|value|, see tolerance()


def reference(x, w, b, dout, stride: int, pad: int) -> Reference:
    """Forward and backward references plus their condition (the same sums over |terms|)."""
    values = {"out": reference_forward(x, w, b, stride, pad)}
    values["dx"], values["dw"], values["db"] = reference_backward(x, w, dout, stride, pad)
    ax, aw, ab, ad = (np.abs(np.asarray(a, dtype=np.float64)) for a in (x, w, b, dout))
    sums = {"out": reference_forward(ax, aw, ab, stride, pad)}
    sums["dx"], sums["dw"], sums["db"] = reference_backward(ax, aw, ad, stride, pad)
    condition = {}
    for q, v in values.items():
        top = float(np.max(np.abs(v))) if v.size else 0.0
        condition[q] = float(np.max(sums[q])) / top if top > 0 else 1.0
    return Reference(values, condition)


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
    """max |actual - reference| / max |reference| over the positions where the reference is finite.

    Non-finite inputs (NaN, Inf) propagate through the reference by IEEE arithmetic; a
    strategy must then be non-finite where the reference is, and finite and close where it
    is finite (a transform that spreads one NaN over a whole image fails here, as it
    should: the direct layer keeps it to the windows that read it).  0 for an all-zero match.
    """
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"result has shape {actual.shape}, reference {reference.shape}")
    finite = np.isfinite(reference)
    if not np.array_equal(np.isfinite(actual), finite):
        return math.inf
    if not finite.any():
        return 0.0
    scale = float(np.max(np.abs(reference[finite])))
    diff = float(np.max(np.abs(actual[finite] - reference[finite])))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def compare(results: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Max relative error of each quantity present in ``results`` (keys out, dx, dw, db)."""
    return {q: max_relative_error(results[q], reference[q]) for q in QUANTITIES if q in results}


def failures(errors: Mapping[str, float], shape, dtype, algorithm: str = "direct",
             condition: Mapping[str, float] | None = None) -> list[str]:
    """Human lines for every quantity whose error exceeds its tolerance (empty when all pass)."""
    tols = tolerances(shape, dtype, algorithm, condition)
    return [f"{q}: max relative error {e:.3g} > tolerance {tols[q]:.3g}"
            for q, e in errors.items() if not e <= tols[q]]
