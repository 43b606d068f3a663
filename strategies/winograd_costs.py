"""Analytic costs of the Winograd strategy, counted from its plan (definitions: :mod:`strategies.costs`).

Every count follows the code in :mod:`strategies.winograd_engine` block by block: each
transform pass a GEMM of ``2 * rows * inner * columns`` flops (identity axes, F(m, 1), run
no pass; the tests count every np.matmul the code runs against these), over whole tiles,
the edge tiles' overhang included; the row pass skips the rows a block shares with the
previous one; the products are ``alpha_h * alpha_w`` GEMMs (F, C) @ (C, Tb) per block, their
channel sums in parts added by the next pass (or by additions, counted as elementwise).  Bytes are compulsory traffic:
the layer's inputs read once by the step that transforms them, outputs written once, U
written once and read once, V written once (it is cached for the weight gradient) and
read once by it; a block's V, M and Y stay in cache and are not counted, nor are the
implementation copies (the column grids, the dout tiles, the scatter into the output).
Workspace is every array the code allocates, at the peak (buffers sized by
:meth:`strategies.winograd_plan.Correlation.buffers`, the code's own sizes).
"""
from __future__ import annotations

import numpy as np

from .costs import Costs, PhaseCost, gemm_flops
from .geometry import ConvProblem
from .winograd_plan import Correlation, Plan, product_parts
from .winograd_transforms import pass_flops


def winograd_costs(plan: Plan, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
    """The phases of one call of ``pass_``, in the order the code runs them, and its workspace."""
    N, C, H, W = problem.x_shape
    F, out = problem.F, problem.N * problem.F * problem.out_h * problem.out_w
    x, w = N * C * H * W, F * C * problem.HH * problem.WW
    call = plan.forward
    U = sum(_u_size(rows, cols, F, C) for rows, cols in call.algorithms)
    kept = call.buffers(True)["kept"]
    if pass_ == "forward":
        filt = PhaseCost("filter_transform", (w + U) * itemsize,
                         gemm_transform=sum(_filter_flops(rows, cols, s.kh, s.kw, F, C)
                                            for s, (rows, cols) in zip(plan.specs, call.algorithms)))
        phases = _correlate_phases(call, src=x, out=out + F, U=U, kept=kept, itemsize=itemsize)
        return Costs((filt,) + phases, (U + sum(call.buffers(True).values())) * itemsize)
    dw, dx = pass_ in ("backward_filter", "backward"), pass_ in ("backward_data", "backward")
    phases = [PhaseCost("db", (out + F) * itemsize, transform=float(out))] if dw else []
    phases += _backward_phases(call, dw, dx, dout=out, x=x, w=w, U=U, kept=kept, itemsize=itemsize)
    arrays = sum(call.backward_buffers(dw, dx).values()) + sum(call.backward_arrays(dw, dx).values())
    return Costs(tuple(phases), (arrays + (w if dw else 0) + (call.fold() if dx else 0)) * itemsize)


def _u_size(rows, cols, F: int, C: int) -> int:
    """Elements of U: alpha per transformed axis, 1 per identity (broadcast) axis."""
    return (1 if rows.identity else rows.alpha) * (1 if cols.identity else cols.alpha) * F * C


def _filter_flops(rows, cols, kh: int, kw: int, F: int, C: int) -> float:
    """kron(G_h, G_w) (alpha_h' alpha_w', kh kw) @ g^T (kh kw, F*C)."""
    return gemm_flops(_u_size(rows, cols, 1, 1), F * C, kh * kw)


def _matrices(alg, dtype=np.float64):
    """(A^T, B^T) as the code passes them, None on an identity axis."""
    return (None, None) if alg.identity else alg.arrays(dtype)[0::2]


def _pass(T, columns: int, parts: int = 1, size: int = 0) -> tuple[float, float]:
    """(GEMM, elementwise) flops of one transform pass (:func:`~strategies.winograd_transforms.apply`):
    T (None: identity of ``size``) stacked ``parts`` times along its columns; an identity of one
    part is a copy (or no pass at all)."""
    if T is None:
        if parts == 1:
            return 0.0, 0.0
        T = np.eye(size)
    return pass_flops(np.tile(T, (1, parts)), columns)


def _correlate_phases(call: Correlation, src: float, out: float, U: float, kept: float,
                      itemsize: int) -> tuple[PhaseCost, ...]:
    """tiles, input_transform, products, output_transform of the forward (src, out, U, kept: elements
    of its input read, output (and bias) written, U read and V kept)."""
    t = call.tiling
    m, tw, N, C, F = t.m, t.tw, t.N, call.C, call.F
    inp, outp, prod = np.zeros(2), np.zeros(2), 0.0
    for i0, ib in t.blocks:
        n = t.tiles(ib)
        for k, (rows, cols) in enumerate(call.algorithms):
            (AT_h, BT_h), (AT_w, BT_w) = _matrices(rows), _matrices(cols)
            ah, aw = rows.alpha, cols.alpha
            fresh = m * ib + ah - m - (0 if i0 == 0 else ah - m)     # rows whose row pass is not carried over
            inp += _pass(BT_w, fresh * C * tw * N) if BT_w is not None else 0.0
            inp += _pass(BT_h, aw * C * n)
            prod += gemm_flops(F, n, C, batch=ah * aw)
            plain = rows.identity and cols.identity
            if not plain:
                parts = product_parts(call, C)
                outp[1] += max(0, parts - 2) * ah * aw * F * n    # parts beyond two, added into those
                outp += _pass(AT_h, aw * F * n, min(parts, 2), m)
                outp += _pass(AT_w, m * F * n)
            if k:
                outp[1] += m * m * F * n              # the sum over terms
        outp[1] += m * m * F * n                      # the bias, on every tile
    return (PhaseCost("tiles"),
            PhaseCost("input_transform", (src + kept) * itemsize, gemm_transform=inp[0], transform=inp[1]),
            PhaseCost("products", U * itemsize, product=prod),
            PhaseCost("output_transform", out * itemsize, gemm_transform=outp[0], transform=outp[1]))


def _backward_phases(call: Correlation, dw: bool, dx: bool, dout: float, x: float, w: float, U: float,
                     kept: float, itemsize: int) -> list[PhaseCost]:
    """The forward's transpose over the same blocks (:func:`strategies.winograd_engine.backward`)."""
    t = call.tiling
    m, tw, N, F, C = t.m, t.tw, t.N, call.F, call.C
    trans, dxt = np.zeros(2), np.zeros(2)
    dwp = dxp = adds = 0.0
    for b, (i0, ib) in enumerate(t.blocks):
        n = t.tiles(ib)
        for rows, cols in call.algorithms:
            (AT_h, BT_h), (AT_w, BT_w) = _matrices(rows), _matrices(cols)
            ah, aw = rows.alpha, cols.alpha
            nr, shared = m * ib + ah - m, (0 if i0 == 0 else ah - m)
            trans += _pass(None if AT_w is None else AT_w.T, m * F * n)
            trans += _pass(None if AT_h is None else AT_h.T, aw * F * n)
            if dw:
                dwp += gemm_flops(F, C, n, batch=ah * aw)
                adds += ah * aw * F * C if b else 0          # the sum over blocks
            if dx:
                dxp += gemm_flops(C, n, F, batch=ah * aw)
                parts = product_parts(call, F)
                dxt[1] += max(0, parts - 2) * ah * aw * C * n
                dxt += _pass(None if BT_h is None else BT_h.T, aw * C * n, min(parts, 2), ah)
                if ib > 1:
                    dxt[1] += ah * aw * C * n                  # rows shared within the block
                dxt += _pass(None if BT_w is None else BT_w.T, nr * C * tw * N)
                dxt[1] += shared * aw * C * tw * N             # rows shared with the previous block
    M = sum(rows.alpha * cols.alpha for rows, cols in call.algorithms) * F * C
    phases = [PhaseCost("dout_tiles"),
              PhaseCost("dout_transform", dout * itemsize, gemm_transform=trans[0], transform=trans[1])]
    if dw:
        phases.append(PhaseCost("dw_products", (kept + M) * itemsize, product=dwp, transform=float(adds)))
    if dx:
        phases += [PhaseCost("dx_products", U * itemsize, product=dxp),
                   PhaseCost("dx_transform", 0.0, gemm_transform=dxt[0], transform=dxt[1])]
    if dw:
        kernel = sum(gemm_flops(F * C, rows.r * cols.r, rows.alpha * cols.alpha) for rows, cols in call.algorithms)
        phases.append(PhaseCost("dw_output_transform", (M + w) * itemsize, gemm_transform=kernel))
    if dx:
        folds = sum((m * t.th + ah - m) * (aw - m) * C * tw * N for ah, aw in call.shapes)
        phases.append(PhaseCost("dx_tiles", x * itemsize, transform=float(folds)))
    return phases
