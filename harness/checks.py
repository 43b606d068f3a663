"""Before a cell is timed: its results checked against the contract and judged by the oracle.

The contract (strategies/base.py) says what a call returns; a strategy that returns a list,
another dtype or another shape is an ``error`` naming itself, before the oracle compares a
single number, so it can never be ranked.  The judge is :mod:`harness.oracle`: each
quantity the pass produces against its own tolerance; over tolerance is a ``mismatch``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.passes import GRADIENT_QUANTITY, PASS_QUANTITIES, PASS_WRT

from . import oracle
from .inputs import ShapeData


class ContractViolation(ValueError):
    """A strategy returned something the contract does not allow."""


@dataclass(frozen=True)
class Verdict:
    """The oracle's view of one cell: errors and tolerances per quantity, and what failed."""

    errors: dict[str, float]
    tolerances: dict[str, float]
    failures: list[str]

    @property
    def worst_ratio(self) -> float:
        return max(self.errors[q] / self.tolerances[q] for q in self.errors)


def check_returned(label: str, value, name: str, shape, dtype) -> None:
    """``value`` is an ndarray of ``shape`` and ``dtype``, or a ContractViolation naming the strategy."""
    if not isinstance(value, np.ndarray):
        raise ContractViolation(f"{label} returned {type(value).__name__} for {name}; the contract asks "
                                f"for a numpy.ndarray")
    if value.dtype != dtype:
        raise ContractViolation(f"{label} returned {value.dtype} for {name} (inputs are {dtype}); "
                                f"the contract keeps the input dtype")
    if value.shape != tuple(shape):
        raise ContractViolation(f"{label} returned {name} of shape {value.shape}; expected {tuple(shape)}")


def judge(strategy, data: ShapeData, pass_: str) -> Verdict:
    """Run the pass on the oracle slice, check what comes back, compare each quantity with the reference."""
    nb, shape, dtype = data.oracle_batch, data.shape, data.dtype
    x, dout = data.x[:nb], data.dout[:nb]
    returned = strategy.forward(x, data.w, data.b, shape.conv_param)
    if not isinstance(returned, tuple) or len(returned) != 2:
        raise ContractViolation(f"{strategy.label}.forward returned {type(returned).__name__}; the contract "
                                f"asks for a tuple (out, cache)")
    out, cache = returned
    out_shape = (nb, shape.F, shape.out_h, shape.out_w)
    check_returned(strategy.label, out, "out", out_shape, dtype)
    results = {"out": out}
    if PASS_WRT[pass_]:
        grads = strategy.backward(dout, cache, wrt=PASS_WRT[pass_])
        if not isinstance(grads, tuple) or len(grads) != 3:
            raise ContractViolation(f"{strategy.label}.backward returned {type(grads).__name__}; the contract "
                                    f"asks for a tuple (dx, dw, db)")
        shapes = {"x": x.shape, "w": data.w.shape, "b": data.b.shape}
        for g, value in zip(("x", "w", "b"), grads):
            if g in PASS_WRT[pass_]:
                check_returned(strategy.label, value, GRADIENT_QUANTITY[g], shapes[g], dtype)
                results[GRADIENT_QUANTITY[g]] = value
    quantities = PASS_QUANTITIES[pass_]
    reference = data.reference()
    errors = {q: oracle.max_relative_error(results[q], reference.values[q]) for q in quantities}
    tolerances = data.tolerances(strategy.family, pass_)
    failures = [f"{q}: max relative error {errors[q]:.3g} > tolerance {tolerances[q]:.3g}"
                for q in quantities if not errors[q] <= tolerances[q]]
    return Verdict(errors, tolerances, failures)
