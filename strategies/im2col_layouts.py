"""The two unfolding layouts of blocked im2col: fill a padded buffer, unfold a block, fold its gradient back.

Both write a column block ``cols[k, q]`` (K x pixels; row k = tap (c, i, j), column q = output
pixel (n, h, w) of the block) that equals the textbook :func:`strategies.im2col_reference.im2col`
restricted to the block, and fold a column-gradient block back as
:func:`~strategies.im2col_reference.col2im` does; the tests prove both equal.

``flat`` (stride 1 and "same" padding, HH == WW == 2*pad + 1: H' == H and W' == W).  The input is copied into a flat
buffer of (n, c) planes, each padded with ``pad`` zero rows above and below but *not* at the
sides (rows keep x's width W, so the plane is Hp*W long, Hp = H + 2*pad).  Then::

    cols[(c, i, j), (n, h, w)] = buf[(n*C + c)*Hp*W + (h + i)*W + w + j - pad]

is, for every tap, one contiguous run over (h, w): a block's row is a single copy of
rows*W elements (the textbook's per-row runs are only W' long).  Where ``w + j - pad``
leaves [0, W) the run has wrapped onto the neighbouring row; those positions (``pad - j``
or ``j - pad`` columns per tap) are set to 0, the value the side padding would give.

``windows`` (everything else).  The input is copied into a zero-padded buffer and, at
stride s > 1, split into its polyphase components (:mod:`strategies.polyphase`): phase
(r, t) holds rows r::s and columns t::s, so tap (i, j) = (s*a + r, s*b + t) reads phase (r, t)
at (h + a, w + b) and every copied row is W' contiguous elements (a strided copy at stride
s costs about twice as much).  The rows of a block are ordered phase by phase, (r, t, c, a,
b), so the kernel is reordered the same way (:mod:`strategies.im2col_taps`); at stride 1
there is one phase, the padded input, and the order is the textbook's (c, i, j).

Buffers are allocated once per call, sized for one group of images (a :class:`Tiling`'s); their
zero padding is written once and never overwritten by the copies of later groups.

Folding (col2im) takes the same two forms.  ``flat`` adds each tap's block row, again one
run, straight into dx viewed as flat planes of H*W (no padded buffer, no copy out): the
positions that wrapped round a row end, or fell into the padding rows above and below
(which here alias the neighbouring plane), are first set to 0 in the column gradient, so
they add nothing; dx has guard elements at both ends for the first and last planes.
``windows`` adds into its padded (phase) buffer and copies the interior out per group.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .im2col_plan import Block, Im2colPlan, Tiling
from .im2col_taps import phase_span, phase_taps, tap_major


def unfolder(plan: Im2colPlan, tiling: Tiling, dtype):
    """What unfolds the blocks of ``tiling`` (forward, dW): its padded buffer allocated and zeroed."""
    return (FlatLayout if plan.layout == "flat" else WindowsLayout)(plan, tiling.images, np.dtype(dtype))


def folder(plan: Im2colPlan, tiling: Tiling, dtype):
    """What folds the column gradient of the blocks of ``tiling`` into dx (its ``dx``)."""
    return (FlatFold(plan, np.dtype(dtype)) if plan.layout == "flat"
            else WindowsFold(plan, tiling.images, np.dtype(dtype)))


def buffer_elements(plan: Im2colPlan, tiling: Tiling, fold: bool = False) -> int:
    """Elements of the buffer an unfolder (or a folder) allocates beyond dx (for the costs; no arrays made)."""
    pr, nb = plan.problem, tiling.images
    if plan.layout == "flat":
        return 2 * _guard(pr) if fold else 2 * pr.pad + nb * pr.C * (pr.H + 2 * pr.pad) * pr.W
    if pr.stride == 1:
        return nb * pr.C * (pr.H + 2 * pr.pad) * (pr.W + 2 * pr.pad)
    g = plan.grid
    return nb * pr.C * g.phases_h * g.phases_w * g.rows * g.cols


def _guard(problem) -> int:
    """Elements a flat fold may reach before the first plane (and after the last) of dx."""
    return problem.pad * problem.W + problem.pad


class FlatLayout:
    """Stride 1, same padding: every tap's block row is one run of the flattened, vertically padded input."""

    def __init__(self, plan: Im2colPlan, nb: int, dtype: np.dtype):
        pr = self.problem = plan.problem
        C, H, W, p = pr.C, pr.H, pr.W, pr.pad
        plane = (H + 2 * p) * W
        # p guard elements at both ends keep every wrapped read inside the buffer
        self.buf = np.zeros(2 * p + nb * C * plane, dtype)
        self.interior = self.buf[p:p + nb * C * plane].reshape(nb, C, H + 2 * p, W)[:, :, p:p + H]
        e = dtype.itemsize
        self.windows = as_strided(self.buf, (C, pr.HH, pr.WW, nb, pr.out_h * W),
                                  (plane * e, W * e, e, C * plane * e, e), writeable=False)

    def fill(self, x: np.ndarray, n0: int, n1: int) -> None:
        np.copyto(self.interior[:n1 - n0], x[n0:n1])

    def unfold(self, block: Block, cols: np.ndarray) -> None:
        """cols (K, block pixels) <- the block's columns."""
        pr, nb, W = self.problem, block.images, self.problem.W
        dst = cols.reshape(pr.C, pr.HH, pr.WW, nb, -1, W)
        np.copyto(dst.reshape(pr.C, pr.HH, pr.WW, nb, -1), self.windows[:, :, :, :nb, block.h0 * W:block.h1 * W])
        _zero_wrapped(dst, pr)


class FlatFold:
    """Stride 1, same padding: each tap's block row added, as one run, straight into dx.  (H' == H
    matters here: a plane's H'*W outputs then cover exactly its H*W inputs, so one tap's add
    over all planes never writes a position twice.)"""

    def __init__(self, plan: Im2colPlan, dtype: np.dtype):
        pr = self.problem = plan.problem
        self.tap_major = tap_major(plan)
        C, H, W, g = pr.C, pr.H, pr.W, _guard(pr)
        self.buf = np.zeros(2 * g + pr.N * C * H * W, dtype)
        self.dx = self.buf[g:g + pr.N * C * H * W].reshape(pr.x_shape)
        e = dtype.itemsize
        # tap (i, j) of output pixel q = h*W + w of plane (n, c) lands on dx plane (n, c) at
        # (h + i - p)*W + (w + j - p): the view starts g - p*W - p = 0 elements before plane 0
        self.windows = as_strided(self.buf, (C, pr.HH, pr.WW, pr.N, pr.out_h * W),
                                  (H * W * e, W * e, e, C * H * W * e, e), writeable=True)

    def fold(self, block: Block, dcols: np.ndarray) -> None:
        """Add a column-gradient block, its rows tap-major (i, j, c) when it holds one image (see
        :func:`strategies.im2col_taps.fold_weights`): one tap's rows are then one contiguous slab,
        and so is its target when the block is a whole image, which makes each of the HH*WW
        adds a plain 1-D one; else in the textbook order (c, i, j)."""
        pr, nb, W = self.problem, block.images, self.problem.W
        if self.tap_major:
            src = dcols.reshape(pr.HH, pr.WW, pr.C, nb, -1, W)
        else:
            src = dcols.reshape(pr.C, pr.HH, pr.WW, nb, -1, W).transpose(1, 2, 0, 3, 4, 5)
        for j in range(pr.WW):   # w + j - pad outside [0, W): wrapped round a row end
            if j < pr.pad:
                src[:, j, :, :, :, :pr.pad - j] = 0
            elif j > pr.pad:
                src[:, j, :, :, :, W - (j - pr.pad):] = 0
        for i in range(pr.HH):   # h + i - pad outside [0, H): the padding rows, aliased here
            top, bottom = pr.pad - i - block.h0, pr.H + pr.pad - i - block.h0
            if top > 0:
                src[i, :, :, :, :top] = 0
            if bottom < block.h1 - block.h0:
                src[i, :, :, :, max(0, bottom):] = 0
        for i in range(pr.HH):
            for j in range(pr.WW):
                dst = self.windows[:, i, j, block.n0:block.n1, block.h0 * W:block.h1 * W]
                np.add(dst, src[i, j].reshape(dst.shape), out=dst)

    def finish(self, n0: int, n1: int, last: bool) -> None:
        """Nothing: the gradient is already in dx."""


def _zero_wrapped(cols6: np.ndarray, problem) -> None:
    """Set the positions whose run wrapped round a row end (w + j - pad outside [0, W)) to 0.
    ``cols6``: a block as (C, HH, WW, images, rows, W)."""
    p, W = problem.pad, problem.W
    for j in range(problem.WW):
        if j < p:
            cols6[:, :, j, :, :, :p - j] = 0
        elif j > p:
            cols6[:, :, j, :, :, W - (j - p):] = 0


class WindowsLayout:
    """Any problem: strided window views of the padded input, one per polyphase component at stride > 1."""

    def __init__(self, plan: Im2colPlan, nb: int, dtype: np.dtype, writeable: bool = False):
        pr = self.problem = plan.problem
        grid = plan.grid
        if pr.stride == 1:   # one phase: the padded input
            self.buf = np.zeros((nb, pr.C, 1, 1, pr.H + 2 * pr.pad, pr.W + 2 * pr.pad), dtype)
        else:
            self.buf = np.zeros((nb, pr.C, grid.phases_h, grid.phases_w, grid.rows, grid.cols), dtype)
        sN, sC, _, _, sY, sX = self.buf.strides
        # per component: (r, t, A, B, k0, k1, windows (C, A, B, nb, H', W') of its phase)
        self.parts = [(r, t, A, B, k0, k1, as_strided(self.buf[:, :, r, t], (pr.C, A, B, nb, pr.out_h, pr.out_w),
                                                      (sC, sY, sX, sN, sY, sX), writeable=writeable))
                      for r, t, A, B, k0, k1 in phase_taps(pr)]

    def _spans(self, r: int, t: int):
        """(buffer rows, buffer cols, x rows, x cols) of phase (r, t) that hold data of x."""
        pr, s = self.problem, self.problem.stride
        a0, y0, na = phase_span(pr.H, pr.pad, s, r, self.buf.shape[4])
        b0, x0, nw = phase_span(pr.W, pr.pad, s, t, self.buf.shape[5])
        if not (na and nw):
            return None
        return (slice(a0, a0 + na), slice(b0, b0 + nw),
                slice(y0, y0 + s * (na - 1) + 1, s), slice(x0, x0 + s * (nw - 1) + 1, s))

    def fill(self, x: np.ndarray, n0: int, n1: int) -> None:
        for r, t, *_ in self.parts:
            span = self._spans(r, t)
            if span:
                rows, cols, xr, xc = span
                np.copyto(self.buf[:n1 - n0, :, r, t, rows, cols], x[n0:n1, :, xr, xc])

    def unfold(self, block: Block, cols: np.ndarray) -> None:
        pr, nb = self.problem, block.images
        for r, t, A, B, k0, k1, view in self.parts:
            np.copyto(cols[k0:k1].reshape(pr.C, A, B, nb, -1, pr.out_w), view[:, :, :, :nb, block.h0:block.h1])


class WindowsFold(WindowsLayout):
    """Any problem: col2im into the padded (phase) buffer of a group, its interior then copied to dx."""

    def __init__(self, plan: Im2colPlan, nb: int, dtype: np.dtype):
        super().__init__(plan, nb, dtype, writeable=True)
        # at stride > 1 input positions no window reads get no gradient: they stay 0
        self.dx = (np.zeros if self.problem.stride > 1 else np.empty)(self.problem.x_shape, dtype)

    def fold(self, block: Block, dcols: np.ndarray) -> None:
        pr, nb = self.problem, block.images
        for r, t, A, B, k0, k1, view in self.parts:
            src = dcols[k0:k1].reshape(pr.C, A, B, nb, -1, pr.out_w)
            for a in range(A):
                for b in range(B):
                    dst = view[:, a, b, :nb, block.h0:block.h1]
                    np.add(dst, src[:, a, b], out=dst)

    def finish(self, n0: int, n1: int, last: bool) -> None:
        """dx[n0:n1] <- the group's gradient, phase by phase; the buffer cleared for the next group."""
        for r, t, *_ in self.parts:
            span = self._spans(r, t)
            if span:
                rows, cols, xr, xc = span
                np.copyto(self.dx[n0:n1, :, xr, xc], self.buf[:n1 - n0, :, r, t, rows, cols])
        if not last:
            self.buf.fill(0)
