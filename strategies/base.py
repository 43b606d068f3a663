"""The strategy contract: one small base class every strategy subclasses.

A strategy computes a 2-D convolutional layer (cross-correlation, as deep-learning
layers do) forward and backward, with the cs231n seed's shapes:

* ``skip_reason(x_shape, w_shape, conv_param) -> str | None``: ``None`` when the
  strategy can compute the problem, else one human-readable line saying why not.
* ``forward(x, w, b, conv_param) -> (out, cache)``: x (N, C, H, W), w (F, C, HH, WW),
  b (F,), ``conv_param = {"stride": int, "pad": int}``; out (N, F, H', W'), see
  :mod:`strategies.geometry`.  ``cache`` is opaque: pass it to this strategy's ``backward``.
* ``backward(dout, cache, wrt=("x", "w", "b")) -> (dx, dw, db)``: dout (N, F, H', W'); the
  gradients have the shapes of x, w and b.  Only the gradients named in ``wrt`` are
  computed (``wrt=("x",)`` does no dw work); the others are ``None``.  The passes and what
  each asks for are in :mod:`strategies.passes`.
* ``costs(x_shape, w_shape, conv_param, pass_, dtype="float32") -> Costs``: the analytic
  counts of one call, per named step of the code (:mod:`strategies.costs`,
  :mod:`strategies.phases`); no arrays are made.

What a strategy says about itself (the harness asks; it never inspects a strategy):

* ``name`` and ``label``: the registry name, and the name with the options that define
  what runs, in a fixed order (``parallel[base=fft,n_jobs=2]``): one variant, one label.
* ``family``: the numerical family the oracle picks its error bound by (``direct``,
  ``fft``, ``winograd``, ...).  A strategy only names its family; the judge keeps the bounds.
* ``role``: ``strategy`` (ours: it can win a contest and enter a plan), ``peer`` (another
  library measured beside ours: shown everywhere, never a winner, never in a plan) or
  ``dispatcher`` (a strategy choosing among the others: measured for its regret, never raced).
* ``budget_option``: the option that receives the harness's thread budget when the user
  did not set it (the parallel wrapper's ``n_jobs``), or ``None``.
* ``memory_blind_spot``: what the harness's memory tracer cannot see of this strategy
  ("" when it sees everything).
* ``equivalent_to(x_shape, w_shape, conv_param)``: the label of another strategy whose
  code this one runs on that problem (parallel with a single chunk is its base), else None.

Rules every strategy keeps:

* Every output keeps the input dtype (float32 or float64).  Bad input raises
  ``ValueError`` naming the argument, its value and what was expected (validation lives
  once, in :mod:`strategies.geometry`); ``forward`` on a declined problem raises
  ``ValueError`` carrying the skip reason; ``backward`` with another strategy's cache
  raises ``ValueError`` naming both.
* Inputs are read, never written: the harness hands read-only arrays, so a strategy that
  writes into x, w, b or dout fails loudly, alone.
* The cache may hold views of x and w (as autograd saves tensors), so the caller must not
  modify x or w in place between forward and backward: the gradients would then mix old
  and new values.  The harness never does; this is the one rule for every strategy.
* NaN and Inf inputs are computed, not refused (a check would be a pass over every input
  inside every timed call): they propagate by IEEE arithmetic, to the outputs whose
  windows read them for the direct strategies and further for the transforms (a whole
  tile for winograd, a whole image for fft).  The oracle holds every strategy to the
  direct layer's rule: non-finite exactly where the float64 reference is, close elsewhere;
  so a transform given a NaN is a ``mismatch``, and says so.  The harness draws finite inputs.
* Strategies are pure: no I/O, no config, no thread settings.  The one exception is a
  strategy whose algorithm *is* the split over workers (the parallel wrapper): it limits
  its own workers' threads, never the caller's.

A subclass implements ``_forward(x, w, b, problem) -> (out, saved)``,
``_backward(dout, problem, saved, wrt) -> (dx, dw, db)`` (``wrt`` a frozenset; entries not
asked for may be ``None``) and ``_costs(problem, pass_, itemsize)`` on validated input,
names its steps with :func:`strategies.phases.step`, and may override
``_skip_reason(problem)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .costs import Costs
from .geometry import SUPPORTED_DTYPES, ConvProblem, validate_dout, validate_inputs
from .passes import GRADIENTS, check_pass, check_wrt

ROLES = ("strategy", "peer", "dispatcher")


@dataclass(frozen=True)
class ConvCache:
    """What ``forward`` hands to ``backward``: who made it, the problem, the dtype and the strategy's state."""

    strategy: str
    problem: ConvProblem
    dtype: np.dtype
    saved: Any


class ConvStrategy:
    """Base class of every strategy; see the module docstring for the contract."""

    #: registry name, set by each subclass
    name: ClassVar[str] = ""
    #: numerical family the oracle picks the error bound by
    family: ClassVar[str] = "direct"
    #: "strategy", "peer" or "dispatcher" (see the module docstring)
    role: ClassVar[str] = "strategy"
    #: the option that receives the harness's thread budget, if this strategy takes one
    budget_option: ClassVar[str | None] = None

    def __init__(self, **options):
        if options:
            raise ValueError(f"strategy {self.name!r} takes no options; got {sorted(options)}")

    @property
    def options(self) -> dict[str, Any]:
        """The options that define what runs, in a fixed order (the label shows them)."""
        return {}

    @property
    def label(self) -> str:
        """Name plus options, e.g. ``parallel[base=fft,n_jobs=2]``: the same for the same variant."""
        opts = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.name}[{opts}]" if opts else self.name

    @property
    def memory_blind_spot(self) -> str:
        """What tracemalloc does not see of this strategy's memory ("" when it sees all)."""
        return ""

    def equivalent_to(self, x_shape, w_shape, conv_param) -> str | None:
        """The label of another strategy whose code this one runs on the problem, else None."""
        return None

    def skip_reason(self, x_shape, w_shape, conv_param) -> str | None:
        """``None`` if this strategy computes the problem, else why not (one line)."""
        return self._skip_reason(ConvProblem.from_shapes(x_shape, w_shape, conv_param))

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param) -> tuple[np.ndarray, ConvCache]:
        problem = validate_inputs(x, w, b, conv_param)
        self._check_supported(problem)
        out, saved = self._forward(x, w, b, problem)
        return out, ConvCache(self.label, problem, x.dtype, saved)

    def backward(self, dout: np.ndarray, cache: ConvCache, wrt=GRADIENTS):
        asked = check_wrt(wrt)
        if not isinstance(cache, ConvCache):
            raise ValueError(f"cache must be the ConvCache returned by forward; got {type(cache).__name__}")
        if cache.strategy != self.label:
            raise ValueError(f"cache was made by {cache.strategy}'s forward; {self.label} cannot use it "
                             f"(pass the cache of {self.label}'s own forward)")
        validate_dout(dout, cache.problem, cache.dtype)
        grads = self._backward(dout, cache.problem, cache.saved, asked)
        return tuple(g if q in asked else None for q, g in zip(GRADIENTS, grads))

    def costs(self, x_shape, w_shape, conv_param, pass_: str, dtype="float32") -> Costs:
        """Analytic costs of one call of ``pass_`` (see :mod:`strategies.costs`)."""
        problem = ConvProblem.from_shapes(x_shape, w_shape, conv_param)
        check_pass(pass_)
        if np.dtype(dtype) not in SUPPORTED_DTYPES:
            raise ValueError(f"dtype must be float32 or float64; got {dtype!r}")
        self._check_supported(problem)
        return self._costs(problem, pass_, np.dtype(dtype).itemsize)

    def _check_supported(self, problem: ConvProblem) -> None:
        reason = self._skip_reason(problem)
        if reason is not None:
            raise ValueError(f"{self.label} cannot compute {problem}: {reason}")

    # --- to implement -------------------------------------------------------------------
    def _skip_reason(self, problem: ConvProblem) -> str | None:
        return None

    def _forward(self, x, w, b, problem: ConvProblem):
        raise NotImplementedError

    def _backward(self, dout, problem: ConvProblem, saved, wrt: frozenset):
        raise NotImplementedError

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        raise NotImplementedError(f"{self.label} does not describe its costs")

    def __repr__(self) -> str:
        return f"<strategy {self.label}>"
