"""Analytic costs of blocked im2col, per pass and named step (definitions: :mod:`strategies.costs`).

The steps of a blocked call repeat once per block (``unfold``, ``gemm``, ...); each phase
here is the total over its blocks, listed in the order the steps first run.  Counts:

* products: exactly the direct algorithm's GEMMs, 2*N*F*K*P flops each (K = C*HH*WW,
  P = H'*W'); no block computes a pixel twice and no padding column is multiplied.
* ``transform``: the bias and db sums (N*F*P), col2im's one add per column element
  (N*K*P), and dW's accumulation over blocks ((blocks - 1) * F*K adds).
* bytes: x read by ``unfold`` (and by the 1x1 ``gemm``), w and dout read and out, dw, dx
  written once by the phase that makes them.  Column blocks stay in cache, so they are not
  counted; the padded buffer, the phase split, the reordered kernel and the dout block
  transposed for whole-image blocks are implementation copies (``pad``, ``weights``; the
  last inside ``dw_gemm`` / ``dcols_gemm``), never counted.
* workspace: the padded buffer of one group, the column block, the per-block temporaries
  (F x pixels for whole-image blocks, F x K for dW's accumulation), the kernel reordered
  at stride > 1; the forward cache holds only x and w (0 bytes).  Backward's dW and dx
  run one after the other, each freeing its buffers: the peak is the larger.
"""
from __future__ import annotations

from .costs import Costs, PhaseCost, gemm_flops
from .im2col_layouts import buffer_elements
from .im2col_plan import Im2colPlan
from .im2col_taps import tap_major


def im2col_costs(plan: Im2colPlan, pass_: str, itemsize: int) -> Costs:
    pr = plan.problem
    N, F, K, P, C = pr.N, pr.F, plan.K, plan.P, pr.C
    e = float(itemsize)
    x, w, out = N * C * pr.H * pr.W * e, F * K * e, N * F * P * e
    pointwise, strided = plan.layout == "pointwise", pr.stride > 1
    gemm, dw_gemm, dcols_gemm = (gemm_flops(F, P, K, batch=N), gemm_flops(F, K, P, batch=N),
                                 gemm_flops(K, P, F, batch=N))
    if pointwise:
        cols_read = N * C * P * e          # the columns are x (or its every s-th pixel)
        if pass_ == "forward":
            phases = [PhaseCost("gather")] if strided else []
            phases += [PhaseCost("gemm", cols_read + w + out, product=gemm),
                       PhaseCost("bias", 0.0, transform=float(N * F * P))]
            return Costs(tuple(phases), cols_read if strided else 0.0)   # the cache keeps the gather
        phases, workspace = _db(pass_, N, F, P, out, e), 0.0
        if pass_ in ("backward_filter", "backward"):
            phases.append(PhaseCost("dw_gemm", out + cols_read + w, product=dw_gemm,
                                    transform=float((N - 1) * F * K)))
            workspace = N * F * K * e                                  # per-image products before the sum
        if pass_ in ("backward_data", "backward"):
            phases.append(PhaseCost("dcols_gemm", w + out + (0.0 if strided else x), product=dcols_gemm))
            if strided:
                phases.append(PhaseCost("col2im", x))
                workspace = max(workspace, cols_read)                  # dcols before the scatter
        return Costs(tuple(phases), workspace)

    def sizes(tiling, fold=False):   # padded buffer, column block, dout block (whole-image blocks)
        pixels = plan.pixels(tiling)
        return (buffer_elements(plan, tiling, fold) * e + K * pixels * e
                + (F * pixels * e if tiling.images > 1 else 0.0))
    reordered = w if strided else 0.0
    if pass_ == "forward":
        bias = float(N * F * P)
        if plan.bias_row:   # a row of ones in the block, b in the kernel matrix: the GEMM adds it
            phases = [PhaseCost("weights"), PhaseCost("pad"), PhaseCost("unfold", x),
                      PhaseCost("gemm", w + out, product=gemm, transform=2 * bias)]
            ones = plan.pixels(plan.unfold) * e
            return Costs(tuple(phases), sizes(plan.unfold) + ones + w + F * e)
        phases = [PhaseCost("weights")] if strided else []
        phases += [PhaseCost("pad"), PhaseCost("unfold", x), PhaseCost("gemm", w + out, product=gemm),
                   PhaseCost("bias", 0.0, transform=bias)]
        return Costs(tuple(phases), sizes(plan.unfold) + reordered)   # sizes: the (F, pixels) result block
    phases, workspace = _db(pass_, N, F, P, out, e), 0.0
    if pass_ in ("backward_filter", "backward"):
        blocks = plan.count(plan.unfold)
        phases += [PhaseCost("pad"), PhaseCost("unfold", x),
                   PhaseCost("dw_gemm", out + w, product=dw_gemm, transform=float((blocks - 1) * F * K))]
        workspace = sizes(plan.unfold) + (w if blocks > 1 else 0.0) + reordered
    if pass_ in ("backward_data", "backward"):
        reordered_dx = w if strided or tap_major(plan) else 0.0
        phases += [PhaseCost("weights")] if reordered_dx else []
        phases += [PhaseCost("dcols_gemm", w + out, product=dcols_gemm),
                   PhaseCost("col2im", x, transform=float(N * K * P))]
        workspace = max(workspace, sizes(plan.fold, fold=True) + reordered_dx)
    return Costs(tuple(phases), workspace)


def _db(pass_: str, N: int, F: int, P: int, out: float, e: float) -> list[PhaseCost]:
    if pass_ in ("backward_filter", "backward"):
        return [PhaseCost("db", out + F * e, transform=2.0 * N * F * P)]   # a matvec with ones
    return []
