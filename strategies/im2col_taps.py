"""Which kernel tap each row of an im2col column block holds, and the kernel reordered to match.

The textbook column matrix orders its rows by tap (c, i, j).  The blocked layouts order them
as their copies run: ``windows`` phase by phase at stride s > 1 (tap (i, j) = (s*a + r, s*b + t)
is row (r, t, c, a, b): :func:`phase_taps`), ``flat``'s fold tap-major (i, j, c) when it folds one image at a time,
so that one tap's rows are one contiguous slab.  The kernel matrix is reordered the same way
(:func:`block_weights`, :func:`fold_weights`), and dW back (:func:`unpermute`); at stride 1 the
forward's order is the textbook's and the kernel is w itself, reshaped.
"""
from __future__ import annotations

import numpy as np

from .im2col_plan import Im2colPlan


def phase_span(size: int, pad: int, stride: int, r: int, length: int) -> tuple[int, int, int]:
    """Which of the first ``length`` entries a of phase r of a padded axis hold data of the unpadded one.

    Entry a of phase r is padded position ``r + stride*a``, i.e. unpadded ``r + stride*a - pad``.
    Returns ``(a0, y0, count)``: entries a0 .. a0+count-1 hold unpadded positions y0, y0+stride, ...
    """
    a0 = max(0, -(-(pad - r) // stride))
    end = min(length, (size - 1 + pad - r) // stride + 1) if size - 1 + pad - r >= 0 else 0
    return a0, r + stride * a0 - pad, max(0, end - a0)


def phase_taps(problem) -> list[tuple[int, int, int, int, int, int]]:
    """(r, t, A, B, k0, k1) per polyphase component: its taps are (s*a + r, s*b + t), a < A, b < B,
    and they are rows k0:k1 of a column block, ordered (c, a, b).  One component at stride 1."""
    s, parts, k0 = problem.stride, [], 0
    for r in range(min(s, problem.HH)):
        for t in range(min(s, problem.WW)):
            A, B = len(range(r, problem.HH, s)), len(range(t, problem.WW, s))
            parts.append((r, t, A, B, k0, k0 + problem.C * A * B))
            k0 += problem.C * A * B
    return parts


def block_weights(problem, w: np.ndarray) -> np.ndarray:
    """(F, K) with columns in the blocks' row order: w itself reshaped at stride 1, a copy at stride > 1."""
    s, F = problem.stride, w.shape[0]
    if s == 1:
        return w.reshape(F, -1)
    return np.concatenate([w[:, :, r::s, t::s].reshape(F, -1) for r, t, *_ in phase_taps(problem)], axis=1)


def tap_major(plan: Im2colPlan) -> bool:
    """Whether the fold wants its column gradient tap-major, (i, j, c): ``flat`` with one image per
    fold block, where one tap's rows are then one contiguous slab and so is their target in dx."""
    return plan.layout == "flat" and plan.fold.images == 1


def fold_weights(plan: Im2colPlan, w: np.ndarray) -> np.ndarray:
    """(K, F): W^T with rows in the order the folder wants its column gradient: tap-major (i, j, c)
    when :func:`tap_major` (the transpose of a (F, HH, WW, C) copy of w, whose reads stay within one
    filter), else the blocks' row order (a view at stride 1)."""
    if tap_major(plan):
        return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1).T
    return block_weights(plan.problem, w).T


def unpermute(problem, wk: np.ndarray) -> np.ndarray:
    """The inverse of :func:`block_weights`: (F, K) in block row order -> (F, C, HH, WW)."""
    s = problem.stride
    if s == 1:
        return wk.reshape(problem.w_shape)
    w = np.empty(problem.w_shape, wk.dtype)
    for r, t, A, B, k0, k1 in phase_taps(problem):
        w[:, :, r::s, t::s] = wk[:, k0:k1].reshape(problem.F, problem.C, A, B)
    return w
