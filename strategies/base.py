"""The strategy contract: one small base class every strategy subclasses.

A strategy computes a 2-D convolutional layer (cross-correlation, as deep-learning
layers do) forward and backward, with the cs231n seed's shapes:

* ``skip_reason(x_shape, w_shape, conv_param) -> str | None``: ``None`` when the
  strategy can compute the problem, else one human-readable line saying why not.
* ``forward(x, w, b, conv_param) -> (out, cache)``: x (N, C, H, W), w (F, C, HH, WW),
  b (F,), ``conv_param = {"stride": int, "pad": int}``; out (N, F, H', W'), see
  :mod:`strategies.geometry`.  ``cache`` is opaque: pass it to ``backward``.
* ``backward(dout, cache) -> (dx, dw, db)``: dout (N, F, H', W'); the gradients
  have the shapes of x, w and b.

Every output keeps the input dtype (float32 or float64).  Bad input raises
``ValueError`` (validation lives once, in :mod:`strategies.geometry`); ``forward``
on a declined problem raises ``ValueError`` carrying the skip reason.

A subclass implements ``_forward(x, w, b, problem) -> (out, saved)`` and
``_backward(dout, problem, saved) -> (dx, dw, db)`` on validated input, and may
override ``_skip_reason(problem)``.  Strategies are pure: no I/O, no config, no
thread settings (the harness owns the thread budget).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .geometry import ConvProblem, validate_dout, validate_inputs


@dataclass(frozen=True)
class ConvCache:
    """What ``forward`` hands to ``backward``: the problem, the dtype and the strategy's own state."""

    problem: ConvProblem
    dtype: np.dtype
    saved: Any


class ConvStrategy:
    """Base class of every strategy; see the module docstring for the contract."""

    #: registry name, set by each subclass
    name: ClassVar[str] = ""
    #: numerical family, used by the oracle to pick the error bound: "direct", "fft", "winograd"
    algorithm: ClassVar[str] = "direct"

    def __init__(self, **options):
        if options:
            raise ValueError(f"strategy {self.name!r} takes no options; got {sorted(options)}")

    @property
    def label(self) -> str:
        """Name plus options, e.g. ``parallel[base=fft,n_jobs=2]``; strategies with options override."""
        return self.name

    def skip_reason(self, x_shape, w_shape, conv_param) -> str | None:
        """``None`` if this strategy computes the problem, else why not (one line)."""
        return self._skip_reason(ConvProblem.from_shapes(x_shape, w_shape, conv_param))

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param) -> tuple[np.ndarray, ConvCache]:
        problem = validate_inputs(x, w, b, conv_param)
        reason = self._skip_reason(problem)
        if reason is not None:
            raise ValueError(f"{self.label} cannot compute {problem}: {reason}")
        out, saved = self._forward(x, w, b, problem)
        return out, ConvCache(problem, x.dtype, saved)

    def backward(self, dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(cache, ConvCache):
            raise ValueError(f"cache must be the ConvCache returned by forward; got {type(cache).__name__}")
        validate_dout(dout, cache.problem, cache.dtype)
        return self._backward(dout, cache.problem, cache.saved)

    # --- to implement -------------------------------------------------------------------
    def _skip_reason(self, problem: ConvProblem) -> str | None:
        return None

    def _forward(self, x, w, b, problem: ConvProblem):
        raise NotImplementedError

    def _backward(self, dout, problem: ConvProblem, saved):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<strategy {self.label}>"
