"""Shape math and input validation shared by every strategy (the one copy of both).

A convolutional layer problem is described by a :class:`ConvProblem`: the input
``x`` has shape ``(N, C, H, W)``, the filters ``w`` have shape ``(F, C, HH, WW)``
and ``conv_param = {"stride": s, "pad": p}``.  The output has shape
``(N, F, H', W')`` with::

    H' = 1 + (H + 2*p - HH) // s        W' = 1 + (W + 2*p - WW) // s

(floor division, as the cs231n seed and PyTorch).  When ``H + 2*p - HH`` is not a
multiple of ``s`` the last ``(H + 2*p - HH) % s`` padded rows are covered by no
window; they get zero gradient.

Every check raises ``ValueError`` naming the argument, its value and what was
expected, so a user sees the problem in their own terms.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Mapping

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
CONV_PARAM_KEYS = ("stride", "pad")


def output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Number of window positions along one axis: ``1 + (size + 2*pad - kernel) // stride``."""
    return 1 + (size + 2 * pad - kernel) // stride


@dataclass(frozen=True)
class ConvProblem:
    """A validated convolution problem: shapes and hyper-parameters, no data."""

    N: int
    C: int
    H: int
    W: int
    F: int
    HH: int
    WW: int
    stride: int
    pad: int

    @classmethod
    def from_shapes(cls, x_shape, w_shape, conv_param) -> "ConvProblem":
        """Validate shapes and ``conv_param`` and return the problem they describe."""
        x_shape, w_shape = _shape4("x", x_shape), _shape4("w", w_shape)
        stride, pad = _conv_param(conv_param)
        N, C, H, W = x_shape
        F, Cw, HH, WW = w_shape
        if C != Cw:
            raise ValueError(f"x has {C} channels (x.shape={x_shape}) but w expects {Cw} "
                             f"(w.shape={w_shape}); they must match")
        if HH > H + 2 * pad or WW > W + 2 * pad:
            raise ValueError(f"kernel {HH}x{WW} (w.shape={w_shape}) is larger than the padded "
                             f"input {H + 2 * pad}x{W + 2 * pad} (H={H}, W={W}, pad={pad})")
        return cls(N, C, H, W, F, HH, WW, stride, pad)

    @property
    def out_h(self) -> int:
        return output_size(self.H, self.HH, self.stride, self.pad)

    @property
    def out_w(self) -> int:
        return output_size(self.W, self.WW, self.stride, self.pad)

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.F, self.C, self.HH, self.WW)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.F, self.out_h, self.out_w)

    @property
    def conv_param(self) -> dict:
        return {"stride": self.stride, "pad": self.pad}

    def __str__(self) -> str:
        return (f"N={self.N} C={self.C} {self.H}x{self.W} F={self.F} {self.HH}x{self.WW} "
                f"stride={self.stride} pad={self.pad}")


def validate_inputs(x, w, b, conv_param) -> ConvProblem:
    """Check the arrays of a forward call; return their :class:`ConvProblem`.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,), all float32 or all float64.
    """
    for name, a in (("x", x), ("w", w), ("b", b)):
        _check_array(name, a)
    if not (x.dtype == w.dtype == b.dtype):
        raise ValueError(f"x, w and b must share one dtype (no silent promotion); got "
                         f"x {x.dtype}, w {w.dtype}, b {b.dtype}")
    problem = ConvProblem.from_shapes(x.shape, w.shape, conv_param)
    if b.shape != (problem.F,):
        raise ValueError(f"b must have shape (F,) = ({problem.F},) to match w.shape={w.shape}; "
                         f"got b.shape={b.shape}")
    return problem


def validate_dout(dout, problem: ConvProblem, dtype) -> None:
    """Check the upstream gradient of a backward call against its forward problem."""
    _check_array("dout", dout)
    if dout.shape != problem.out_shape:
        raise ValueError(f"dout must have the forward output's shape {problem.out_shape}; "
                         f"got dout.shape={dout.shape}")
    if dout.dtype != dtype:
        raise ValueError(f"dout must have the forward input's dtype {np.dtype(dtype)}; "
                         f"got {dout.dtype}")


def pad_input(x: np.ndarray, pad: int, pad_w: int | None = None) -> np.ndarray:
    """Zero-pad the spatial axes of ``x`` (N, C, H, W) -> (N, C, H+2*pad, W+2*pad_w).

    ``pad_w`` defaults to ``pad``.  Returns ``x`` itself (no copy) when there is
    nothing to pad; callers must not write into the result.
    """
    pad_w = pad if pad_w is None else pad_w
    if pad == 0 and pad_w == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad_w), dtype=x.dtype)
    xp[:, :, pad:pad + H, pad_w:pad_w + W] = x
    return xp


def _check_array(name: str, a) -> None:
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray):
        raise ValueError(f"{name} is a numpy.ma.MaskedArray; masks are not supported (its mask would be "
                         f"dropped silently): pass {name}.filled(0) or the plain array")
    if a.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} has dtype {a.dtype}; expected float32 or float64")


def _shape4(name: str, shape) -> tuple[int, int, int, int]:
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4:
        form = "(N, C, H, W)" if name == "x" else "(F, C, HH, WW)"
        raise ValueError(f"{name} must be 4-D {form}; got {len(shape)}-D shape {shape}")
    if min(shape) < 1:
        raise ValueError(f"{name}.shape={shape} has a zero dimension; every dimension must be >= 1")
    return shape  # type: ignore[return-value]


def is_int(v) -> bool:
    """An integer (Python or numpy) that is not a bool."""
    return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))


def _conv_param(conv_param) -> tuple[int, int]:
    if not isinstance(conv_param, Mapping):
        raise ValueError(f"conv_param must be a dict with keys {CONV_PARAM_KEYS}; "
                         f"got {type(conv_param).__name__}")
    missing = [k for k in CONV_PARAM_KEYS if k not in conv_param]
    if missing:
        raise ValueError(f"conv_param is missing {missing}; expected keys {CONV_PARAM_KEYS}, "
                         f"got {sorted(conv_param)}")
    extra = sorted(set(conv_param) - set(CONV_PARAM_KEYS))
    if extra:
        raise ValueError(f"conv_param has unsupported keys {extra}; only {CONV_PARAM_KEYS} are "
                         f"supported (dilation, groups and asymmetric stride/pad are out of scope)")
    stride, pad = conv_param["stride"], conv_param["pad"]
    if not is_int(stride) or stride < 1:
        raise ValueError(f"conv_param['stride'] must be an int >= 1; got {stride!r}")
    if not is_int(pad) or pad < 0:
        raise ValueError(f"conv_param['pad'] must be an int >= 0; got {pad!r}")
    return int(stride), int(pad)
