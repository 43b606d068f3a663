"""What a plan says about a problem and pass, for :class:`strategies.auto.Auto` to choose by.

Three sources, the first that has any candidate (see :mod:`strategies.auto`): the measured cell
(``plan``), the nearest measured problem of the class scaled by each strategy's analytic work
(``nearest``), the analytic costs times the strategy's measured time per unit of work (``analytic``);
and the accuracy budget that decides who is a candidate at all.
"""
from __future__ import annotations

import math

from .geometry import ConvProblem

#: the default accuracy budget, in units of the direct algorithm's tolerance on the same inputs (the judge's
#: bound for im2col): float32 worst over ResNet-like 3x3 layers, measured: im2col 0.05, F(2x2,3x3) 0.06, fft 0.05,
#: F(4x4,3x3) 0.32, F(6x6,3x3) 1.6, so by default the large-tile F(6x6) stays out of a training plan
DEFAULT_ERROR_FACTOR = 1.0
#: rates when the plan has none (only their ratio matters): a GEMM at 50 GFLOP/s, memory at 10 GB/s
NOMINAL_RATES = (50e9, 10e9)
DIMS = ("N", "C", "H", "W", "F", "HH", "WW", "stride", "pad")
DISTANCE_DIMS = ("N", "C", "F", "H", "W", "pad")


def key_of(problem: ConvProblem) -> tuple:
    return tuple(getattr(problem, d) for d in DIMS)


class Evidence:
    """The plan's cells at one thread budget and the strategies they name, asked per problem and pass."""

    def __init__(self, plan: dict, cells: list, strategies: dict, threads: int, max_error):
        self.plan, self.strategies, self.threads, self.max_error = plan, strategies, threads, max_error
        self.cells = {(key_of(ConvProblem(**c["problem"])), c["pass"], c["dtype"]): c for c in cells}
        self._efficiency: dict = {}
        self._work_of: dict = {}

    def times(self, problem, pass_, dtype, accuracy=True) -> tuple[dict, str, str, list]:
        """(label -> seconds of the candidates, how, why, the plan's winner set) by the first way that has any."""
        usable = [s for s in self.strategies if self.accepts(s, problem) and
                  (not accuracy or self.accurate(s, problem, pass_, dtype))]
        cell = self.cells.get((key_of(problem), pass_, dtype))
        if cell is not None:
            times = {s: cell["entrants"][s]["median_s"] for s in usable if s in cell["entrants"]}
            if times:
                return times, "plan", f"measured on {cell['shape']}{marks(cell)}", list(cell["winners"])
        # the nearest problem measured in this pass; dx or dw never timed apart: in the whole backward
        for measured_as in [pass_] + (["backward"] if pass_ in ("backward_data", "backward_filter") else []):
            near = self.nearest(problem, measured_as, dtype, usable)
            if near is None:
                continue
            cell, distance = near
            ref = ConvProblem(**cell["problem"])
            times = {s: cell["entrants"][s]["median_s"] * self.work(s, problem, pass_, dtype) /
                     self.work(s, ref, measured_as, dtype) for s in usable if s in cell["entrants"]}
            whose = cell["shape"] + ("" if measured_as == pass_ else "'s backward")
            return times, "nearest", f"scaled from {whose} (log2 distance {distance:.2f}){marks(cell)}", []
        efficiency = self.efficiencies(dtype)
        times = {s: self.work(s, problem, pass_, dtype) * efficiency.get(s, math.nan) for s in usable}
        times = {s: t for s, t in times.items() if math.isfinite(t)}
        basis = "times the plan's measured time per unit of work" if self.plan else "at nominal rates (no plan)"
        return times, "analytic", f"analytic costs {basis}", []

    def accepts(self, label, problem) -> bool:
        return self.strategies[label].skip_reason(problem.x_shape, problem.w_shape, problem.conv_param) is None

    def class_cells(self, problem, pass_, dtype) -> list:
        return [c for (k, p, d), c in self.cells.items() if p == pass_ and d == dtype and
                (k[5], k[6], k[7]) == (problem.HH, problem.WW, problem.stride)]

    def errors(self, label, problem, pass_, dtype) -> list:
        """label's measured errors for ``pass_`` on every problem of the problem's class (the exact one among
        them): the worst of them is what new inputs of the class may meet."""
        return [c["entrants"][label] for c in self.class_cells(problem, pass_, dtype) if label in c["entrants"]]

    def accurate(self, label, problem, pass_, dtype) -> bool:
        """Within the accuracy budget (the worst measured error); dx or dw not measured apart are judged by
        the whole backward's cells (every gradient: the stricter), the whole backward by both parts'."""
        known = self.errors(label, problem, pass_, dtype)
        if not known and pass_ != "forward":
            found = [self.errors(label, problem, q, dtype) for q in
                     (["backward"] if pass_ != "backward" else ["backward_data", "backward_filter"])]
            known = sum(found, []) if all(found) else []
        if not known:
            return self.strategies[label].family == "direct"
        worst = max(e["error"] if self.max_error is not None else e["error_ratio"] for e in known)
        return worst <= (self.max_error if self.max_error is not None else DEFAULT_ERROR_FACTOR)

    def nearest(self, problem, pass_, dtype, usable):
        here = [math.log2(getattr(problem, d) + (d == "pad")) for d in DISTANCE_DIMS]
        best = None
        for cell in self.class_cells(problem, pass_, dtype):
            if not any(s in cell["entrants"] for s in usable):
                continue
            there = [math.log2(cell["problem"][d] + (d == "pad")) for d in DISTANCE_DIMS]
            distance = math.dist(here, there)
            if best is None or distance < best[1]:
                best = (cell, distance)
        return best

    def work(self, label, problem, pass_, dtype) -> float:
        """Analytic seconds: flops / GEMM rate + bytes / bandwidth at the plan's rates for this budget
        (a strategy that does not describe its costs: the direct algorithm's products alone)."""
        machine = self.plan.get("machine") or {}
        gemm = (machine.get("gemm_gflops") or {}).get(str(self.threads))
        bandwidth = (machine.get("bandwidth_gb_per_s") or {}).get(str(self.threads))
        gemm = float(gemm) * 1e9 if gemm else NOMINAL_RATES[0]
        bandwidth = float(bandwidth) * 1e9 if bandwidth else NOMINAL_RATES[1]
        key = (label, key_of(problem), pass_, dtype)
        if key not in self._work_of:   # costs are pure but not free (~ms): once per problem
            try:
                costs = self.strategies[label].costs(problem.x_shape, problem.w_shape, problem.conv_param, pass_,
                                                      dtype)
                self._work_of[key] = costs.flops / gemm + costs.bytes_moved / bandwidth
            except NotImplementedError:
                products = 2 if pass_ == "backward" else 1
                self._work_of[key] = products * 2.0 * math.prod(problem.w_shape) * problem.N * problem.out_h * \
                    problem.out_w / gemm
        return self._work_of[key]

    def efficiencies(self, dtype) -> dict:
        """Per strategy: the median of measured time / analytic work over the plan's cells of ``dtype`` (of any
        dtype when it has none; 1 for every candidate without a plan)."""
        if dtype not in self._efficiency:
            ratios = {d: {s: [] for s in self.strategies} for d in (dtype, None)}
            for (k, p, d), cell in self.cells.items():
                for s, e in cell["entrants"].items():
                    if s in self.strategies:
                        ratio = e["median_s"] / self.work(s, ConvProblem(*k), p, d)
                        ratios[None][s].append(ratio)
                        if d == dtype:
                            ratios[dtype][s].append(ratio)
            found = ratios[dtype] if any(ratios[dtype].values()) else ratios[None]
            self._efficiency[dtype] = {s: sorted(r)[len(r) // 2] for s, r in found.items() if r} if self.plan \
                else {s: 1.0 for s in self.strategies}
        return self._efficiency[dtype]


def marks(cell) -> str:
    marks = [m for m in ("contended", "uncontested", "noisy") if cell.get(m)]
    return f" ({', '.join(marks)})" if marks else ""
