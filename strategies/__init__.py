"""Convolution strategies behind one contract (see :mod:`strategies.base`).

To add a strategy: write one file with a :class:`ConvStrategy` subclass and add it
to ``STRATEGIES`` below.  The test suite picks it up from the registry.
"""
from __future__ import annotations

from .base import ConvCache, ConvStrategy
from .fft import FFT
from .geometry import ConvProblem, output_size
from .im2col import Im2col
from .naive import Naive
from .parallel import Parallel
from .winograd import Winograd

#: registry: name -> strategy class (explicit on purpose: no discovery magic)
STRATEGIES: dict[str, type[ConvStrategy]] = {
    cls.name: cls for cls in (Naive, Im2col, Parallel, FFT, Winograd)
}


def get_strategy(name: str, **options) -> ConvStrategy:
    """A ready strategy object; unknown names raise ``ValueError`` listing the known ones."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known strategies: {sorted(STRATEGIES)}") from None
    return cls(**options)


__all__ = ["STRATEGIES", "get_strategy", "ConvStrategy", "ConvCache", "ConvProblem", "output_size"]
