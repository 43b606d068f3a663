"""Convolution strategies behind one contract (see :mod:`strategies.base`).

To add a strategy: write one file with a :class:`ConvStrategy` subclass and add it
to ``STRATEGIES`` below.  The test suite picks it up from the registry.

Optional peers (other libraries measured beside ours, ``role = "peer"``) are registered
only where their library is installed; :data:`MISSING_PEERS` says which are not and how
to install them.  Whether a library is installed is asked of the import system
(``importlib.util.find_spec``) without importing it: a peer imports its library when it is
built, so ``import strategies`` does not pay torch's import (~1.3 s here).
"""
from __future__ import annotations

import importlib.util

from .auto import Auto
from .base import ConvCache, ConvStrategy
from .fft import FFT
from .geometry import ConvProblem, output_size
from .im2col import Im2col
from .naive import Naive
from .parallel import Parallel
from .peer_torch import TorchPeer
from .winograd import Winograd

#: registry: name -> strategy class (explicit on purpose: no discovery magic)
STRATEGIES: dict[str, type[ConvStrategy]] = {
    cls.name: cls for cls in (Naive, Im2col, Parallel, FFT, Winograd, Auto)
}
#: optional peers whose library is not installed: name -> the command that installs it
MISSING_PEERS: dict[str, str] = {}
for _peer in (TorchPeer,):
    if importlib.util.find_spec(_peer.requires) is None:
        MISSING_PEERS[_peer.name] = _peer.install
    else:
        STRATEGIES[_peer.name] = _peer
del _peer


def get_strategy(name: str, **options) -> ConvStrategy:
    """A ready strategy object; unknown names raise ``ValueError`` listing the known ones."""
    if name in MISSING_PEERS:
        raise ValueError(f"peer {name!r} is not installed: {MISSING_PEERS[name]}")
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known strategies: {sorted(STRATEGIES)}") from None
    return cls(**options)


__all__ = ["STRATEGIES", "MISSING_PEERS", "get_strategy", "ConvStrategy", "ConvCache", "ConvProblem", "output_size"]
