"""Named steps of a strategy's real code, so that the harness can time each one.

A strategy writes its forward and backward as a sequence of steps::

    with step("unfold"):
        cols = im2col(xp, problem)
    with step("gemm"):
        out = np.matmul(w2, cols)

The names are the ones its :meth:`~strategies.base.ConvStrategy.costs` counts.  Outside a
recording a step costs one ``ContextVar`` lookup (well under a microsecond); the harness
records with :func:`recording`, giving a ``recorder(name)`` that returns the context
manager timing that step.  The steps timed are therefore the steps that run, not a copy of
them.  Steps do not nest; a step may run many times in one call (once per block of a
blocked strategy): its times add up.  Work in threads of another context (the parallel wrapper's
workers) is invisible to the recorder: the wrapper names its chunks as one step.

Nothing here reads a clock: strategies stay pure, the recorder is the harness's.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable, ContextManager, Iterator

Recorder = Callable[[str], ContextManager]
_recorder: ContextVar[Recorder | None] = ContextVar("convbench_step_recorder", default=None)
_NOTHING = contextlib.nullcontext()


def step(name: str) -> ContextManager:
    """The context a strategy runs one named step in (a no-op unless the harness records)."""
    recorder = _recorder.get()
    return _NOTHING if recorder is None else recorder(name)


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Within this block, every :func:`step` in this thread's context enters ``recorder(name)``."""
    token = _recorder.set(recorder)
    try:
        yield
    finally:
        _recorder.reset(token)
