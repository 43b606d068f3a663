"""The passes a layer is measured in, and what each asks of ``backward``: the one copy of both.

    pass              computes        backward(..., wrt=)   cs231n name
    forward           out             (no backward)         conv_forward
    backward_data     dx              ("x",)                the input gradient
    backward_filter   dw, db          ("w", "b")            the weight gradient
    backward          dx, dw, db      ("x", "w", "b")       conv_backward (the default)

DeepBench and cuDNN time ``backward_data`` and ``backward_filter`` apart because a
network needs dx for every layer but the first, and because the fastest algorithm for
one is not always the fastest for the other.
"""
from __future__ import annotations

#: every pass, in the order tables and figures list them
PASSES = ("forward", "backward_data", "backward_filter", "backward")
#: the gradients backward can be asked for, and the quantity each one is
GRADIENTS = ("x", "w", "b")
GRADIENT_QUANTITY = {"x": "dx", "w": "dw", "b": "db"}
#: what ``backward`` is asked for in each pass (forward: nothing)
PASS_WRT: dict[str, tuple[str, ...]] = {
    "forward": (),
    "backward_data": ("x",),
    "backward_filter": ("w", "b"),
    "backward": GRADIENTS,
}
#: the quantities each pass produces, checked by the oracle and reported
PASS_QUANTITIES: dict[str, tuple[str, ...]] = {
    p: ("out",) if not wrt else tuple(GRADIENT_QUANTITY[g] for g in wrt) for p, wrt in PASS_WRT.items()
}


def check_pass(pass_) -> str:
    """``pass_`` itself if it names a pass, else a ``ValueError`` listing them."""
    if pass_ not in PASSES:
        raise ValueError(f"pass must be one of {PASSES}; got {pass_!r}")
    return pass_


def check_wrt(wrt) -> frozenset[str]:
    """The gradients ``backward`` is asked for, as a set; a ``ValueError`` names a bad request."""
    if isinstance(wrt, str):
        wrt = (wrt,)
    try:
        asked = frozenset(wrt)
    except TypeError:
        raise ValueError(f"wrt must be a collection of names from {GRADIENTS}; got {wrt!r}") from None
    unknown = sorted(map(repr, asked - set(GRADIENTS)))
    if unknown or not asked:
        raise ValueError(f"wrt must be a non-empty collection of names from {GRADIENTS}; got {wrt!r}")
    return asked
