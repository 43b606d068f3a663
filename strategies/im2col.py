"""im2col + GEMM, blocked: unfold a cache-sized block of receptive fields, multiply it, move on.

The textbook algorithm (:mod:`strategies.im2col_reference`; K = C*HH*WW, P = H'*W')::

    cols  = im2col(x_padded)          # (N, K, P)  every receptive field as a column
    out   = W @ cols + b              # (F, K) @ (N, K, P) -> (N, F, P)
    dW    = sum_n dout[n] @ cols[n]^T # (F, K)
    dcols = W^T @ dout                # (N, K, P)
    dx    = col2im(dcols)             # scatter-add back onto the windows

written whole, the column matrix is HH*WW/stride^2 times the input (58 MB on a 56x56 3x3
layer with N=8, C=64): the unfold writes it to memory and the GEMM reads it back.  Here it
is never whole.  :mod:`strategies.im2col_plan` cuts the output into blocks (rows of one
image, or whole images) whose column block fits the core's L2, and each block is unfolded
into one workspace and multiplied at once, while it is still in cache::

    forward    per block: cols_b = unfold(block)          (K, pixels)  the one workspace
                          out[block] = [W | b] @ [cols_b; 1] GEMM straight into the output,
                                                           the bias a row of ones (row blocks)
    dW         per block: dW += dout[block] @ cols_b^T    (the unfold done again: the cache
                                                           holds x, not the columns)
    dx         per block: dcols_b = W^T @ dout[block], then col2im of that block

How a block is unfolded (:mod:`strategies.im2col_layouts`): at stride 1 with "same" padding
(HH == WW == 2*pad + 1: ResNet's 3x3 pad 1) each row of a column block is one contiguous copy
of the flattened input, and col2im adds each tap as one run straight into dx; otherwise from
strided window views, polyphase-split at stride > 1 so every copied row is contiguous.  A 1x1
kernel without padding unfolds nothing: the columns are x itself (one reshape), or one gather
``x[:, :, ::s, ::s]`` at stride s.
"""
from __future__ import annotations

import numpy as np

from .base import ConvStrategy
from .geometry import ConvProblem
from .im2col_costs import im2col_costs
from .im2col_layouts import folder, unfolder
from .im2col_taps import block_weights, fold_weights, tap_major, unpermute
from .im2col_plan import Im2colPlan
from .phases import step


class Im2col(ConvStrategy):
    """im2col + GEMM in cache-sized blocks; 1x1 layers with no unfolding at all.

    Algorithm: see the module docstring (``help(strategies.im2col)``); the block rule is in
    :mod:`strategies.im2col_plan`, the unfolding in :mod:`strategies.im2col_layouts`, the
    textbook whole-matrix version it is tested against in :mod:`strategies.im2col_reference`.

    Costs: exactly the direct algorithm's 2*N*F*C*HH*WW*H'*W' flops per product (forward:
    one; backward: dW and dcols), every column element copied once per product that uses
    it (forward: one unfold; backward: one for dW, one col2im add for dx).  Workspace: one
    column block (L2-sized, larger for col2im) and a padded copy of one group of images,
    allocated once per call (not kept on the object: the parallel wrapper runs one object from several
    threads at once; with the heap pinned a fresh call reuses the freed memory anyway);
    the cache holds x and w themselves.

    Where it loses: its multiplies grow with HH*WW (FFT's do not: fft wins from ~5x5
    kernels) and it does 2.25x the multiplies of Winograd F(2x2,3x3) on 3x3 layers; the
    unfold is a copy of HH*WW/stride^2 times the input per product, ~5-15% on top of the
    GEMM (less on 1x1 layers: none).  It wins on 1x1 and strided layers and wherever the
    GEMM is large and the kernel small.
    """

    name = "im2col"

    def _forward(self, x, w, b, problem: ConvProblem):
        """out = W @ im2col(x) + b, block by block (steps ``weights``, ``pad``, ``unfold``, ``gemm``;
        ``bias`` when blocks hold whole images: else the GEMM adds it, see :mod:`strategies.im2col_plan`)."""
        plan = Im2colPlan.for_problem(problem, x.dtype.itemsize)
        if plan.layout == "pointwise":
            return self._pointwise_forward(x, w, b, plan)
        N, F, P, K, tiling = problem.N, problem.F, plan.P, plan.K, plan.unfold
        layout = unfolder(plan, tiling, x.dtype)
        if plan.bias_row or problem.stride > 1:
            with step("weights"):   # (F, K [+1]): taps in block row order [, then b]
                wk = block_weights(problem, w)
                wk = np.concatenate([wk, b[:, None]], axis=1) if plan.bias_row else wk
        else:
            wk = block_weights(problem, w)                             # a view
        cols = np.empty((wk.shape[1], plan.pixels(tiling)), x.dtype)
        if plan.bias_row:
            cols[K] = 1
        out = np.empty((N, F, P), x.dtype)
        tmp = None if plan.bias_row else np.empty((F, plan.pixels(tiling)), x.dtype)
        W_ = problem.out_w
        for n0, n1 in plan.groups(tiling):
            with step("pad"):
                layout.fill(x, n0, n1)
            for blk in plan.blocks(tiling, n0, n1):
                c = cols[:, :blk.images * (blk.h1 - blk.h0) * W_]
                with step("unfold"):
                    layout.unfold(blk, c[:K])
                with step("gemm"):
                    np.matmul(wk, c, out=out[n0, :, blk.h0 * W_:blk.h1 * W_] if tmp is None else tmp[:, :c.shape[1]])
            if tmp is not None:
                with step("bias"):   # (F, images, P) -> (images, F, P): the bias pass moves it into place
                    np.add(tmp[:, :(n1 - n0) * P].reshape(F, n1 - n0, P).transpose(1, 0, 2), b[:, None],
                           out=out[n0:n1])
        return out.reshape(problem.out_shape), (x, w, plan)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        """db (step ``db``); dW block by block (``pad``, ``unfold``, ``dw_gemm``); dx block by block
        (``dcols_gemm``, ``col2im``), each only when asked for."""
        x, w, plan = saved
        dout3 = dout.reshape(problem.N, problem.F, -1)                 # (N, F, P)
        dx = dw = db = None
        if "b" in wrt:
            with step("db"):
                db = np.matmul(dout3, np.ones(dout3.shape[2], dout.dtype)).sum(axis=0)   # BLAS: 3x a sum()
        pointwise = plan.layout == "pointwise"
        if "w" in wrt:
            dw = self._pointwise_dw(dout3, x, plan) if pointwise else self._blocked_dw(dout3, x, plan)
        if "x" in wrt:
            dx = self._pointwise_dx(dout3, w, plan) if pointwise else self._blocked_dx(dout3, w, plan)
        return dx, dw, db

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int):
        return im2col_costs(Im2colPlan.for_problem(problem, itemsize), pass_, itemsize)

    # --- blocked -----------------------------------------------------------------------------
    @staticmethod
    def _dout_block(dout3, blk, W_, buf):
        """dout of one block as (F, pixels): a view for rows of one image, else copied into ``buf``."""
        if buf is None:
            return dout3[blk.n0, :, blk.h0 * W_:blk.h1 * W_]
        d = buf[:, :blk.images * dout3.shape[2]]
        np.copyto(d.reshape(dout3.shape[1], blk.images, -1), dout3[blk.n0:blk.n1].transpose(1, 0, 2))
        return d

    def _blocked_dw(self, dout3, x, plan: Im2colPlan):
        pr, W_, tiling = plan.problem, plan.problem.out_w, plan.unfold
        layout = unfolder(plan, tiling, x.dtype)
        cols = np.empty((plan.K, plan.pixels(tiling)), x.dtype)
        dbuf = np.empty((pr.F, plan.pixels(tiling)), x.dtype) if tiling.images > 1 else None
        acc = np.empty((pr.F, plan.K), x.dtype)                        # dW in block row order
        tmp = np.empty_like(acc) if plan.count(tiling) > 1 else None
        first = True
        for n0, n1 in plan.groups(tiling):
            with step("pad"):
                layout.fill(x, n0, n1)
            for blk in plan.blocks(tiling, n0, n1):
                c = cols[:, :blk.images * (blk.h1 - blk.h0) * W_]
                with step("unfold"):
                    layout.unfold(blk, c)
                with step("dw_gemm"):
                    d = self._dout_block(dout3, blk, W_, dbuf)
                    np.matmul(d, c.T, out=acc if first else tmp)
                    if not first:
                        acc += tmp
                first = False
        if pr.stride == 1:
            return acc.reshape(pr.w_shape)
        with step("dw_gemm"):
            return unpermute(pr, acc)

    def _blocked_dx(self, dout3, w, plan: Im2colPlan):
        pr, W_, tiling = plan.problem, plan.problem.out_w, plan.fold
        layout = folder(plan, tiling, dout3.dtype)
        if pr.stride > 1 or tap_major(plan):
            with step("weights"):
                wkT = fold_weights(plan, w)                            # (K, F), a reordered copy
        else:
            wkT = fold_weights(plan, w)                                # a view
        dcols = np.empty((plan.K, plan.pixels(tiling)), dout3.dtype)
        dbuf = np.empty((pr.F, plan.pixels(tiling)), dout3.dtype) if tiling.images > 1 else None
        groups = plan.groups(tiling)
        for n0, n1 in groups:
            for blk in plan.blocks(tiling, n0, n1):
                c = dcols[:, :blk.images * (blk.h1 - blk.h0) * W_]
                with step("dcols_gemm"):
                    np.matmul(wkT, self._dout_block(dout3, blk, W_, dbuf), out=c)
                with step("col2im"):
                    layout.fold(blk, c)
            with step("col2im"):
                layout.finish(n0, n1, last=(n0, n1) == groups[-1])
        return layout.dx

    # --- 1x1 without padding: the columns are x ------------------------------------------------
    @staticmethod
    def _pointwise_forward(x, w, b, plan: Im2colPlan):
        pr, s = plan.problem, plan.problem.stride
        if s > 1:
            with step("gather"):
                x = np.ascontiguousarray(x[:, :, ::s, ::s])            # (N, C, H', W'): the columns
        x3 = x.reshape(pr.N, pr.C, -1)                                 # (N, K=C, P), a view
        with step("gemm"):
            out = np.matmul(w.reshape(pr.F, pr.C), x3)                 # (N, F, P)
        with step("bias"):
            out += b[:, None]
        return out.reshape(pr.out_shape), (x, w, plan)

    @staticmethod
    def _pointwise_dw(dout3, x, plan: Im2colPlan):
        pr = plan.problem
        with step("dw_gemm"):   # per-image (F, P) @ (P, C), summed over the batch
            return np.matmul(dout3, x.reshape(pr.N, pr.C, -1).transpose(0, 2, 1)).sum(axis=0).reshape(pr.w_shape)

    @staticmethod
    def _pointwise_dx(dout3, w, plan: Im2colPlan):
        pr, s = plan.problem, plan.problem.stride
        with step("dcols_gemm"):
            dcols = np.matmul(w.reshape(pr.F, pr.C).T, dout3)          # (N, C, P)
        if s == 1:
            return dcols.reshape(pr.x_shape)
        with step("col2im"):   # the adjoint of the gather: every s-th pixel, the rest 0
            dx = np.zeros(pr.x_shape, dout3.dtype)
            dx[:, :, ::s, ::s] = dcols.reshape(pr.N, pr.C, pr.out_h, pr.out_w)
        return dx
