"""``auto``: a per-layer plan used as a strategy (a dispatcher: measured for its regret, never raced).

Each call runs the strategy its plan names for that problem and pass.  The plan is a plain
mapping the harness builds from measured runs (:mod:`harness.plan`; strategies do no I/O)::

    {"name": ..., "machine": {"cpu_model", "gemm_gflops": {threads: GFLOP/s}, "bandwidth_gb_per_s": {...}},
     "families": [simplest (most accurate) first], "simplicity": [labels, simplest first],
     "tie_fraction": 0.05,
     "cells": [{"shape", "problem": {N, C, H, W, F, HH, WW, stride, pad}, "pass", "threads", "dtype",
                "winners": [the winner set, simplest first], "contended", "uncontested", "noisy",
                "entrants": {label: {"name", "options", "family", "median_s", "error", "error_ratio"}}}]}

How a pass's strategy is chosen (``choice`` says which way, and why):

1. ``plan``: the problem was measured (same shape, pass, thread budget, dtype): its winner
   set (the harness's tie rule) within the accuracy budget, else the fastest measured one
   within it; among tied forwards the least training step (the forward plus the backward
   it leads to), then the simpler (the plan's ``simplicity`` order).
2. ``nearest``: the nearest measured problem of the same class (pass, kernel, stride,
   budget, dtype; distance over log2 of N, C, F, H, W and pad): each strategy measured there
   gets its time scaled by the ratio of its analytic work on the two problems, the least wins
   (dx or dw never timed apart: scaled from the whole backward's time by the same ratio).
3. ``analytic``: no measured problem of the class: analytic work (``flops / GEMM rate +
   bytes / bandwidth``, :mod:`strategies.costs`) times the strategy's median measured time over
   work in the plan (no plan: :data:`DEFAULT_CANDIDATES` at nominal rates).

Times within ``tie_fraction`` of the least (in one measured winner set; a predicted time: within
:data:`PREDICTED_TIE`) go to the fewest strategies, no mixing, then the simpler.  Only
strategies that accept the problem and whose float32 error on its class (same pass, kernel,
stride, dtype; the worst measured) is within the budget are candidates: ``max_error`` (the
oracle's max relative error) when given, else :data:`DEFAULT_ERROR_FACTOR` times the direct
algorithm's tolerance on the same inputs.  A strategy with no measured error there is a
candidate only if its family is ``direct`` (its error is the reference's by definition).

Backward runs on the cache its forward made, by the strategy ``M`` that made it.  A
gradient by another strategy ``S`` needs ``S``'s own forward cache: ``S``'s forward is run
inside that backward call (it is the price of mixing), so ``S`` is chosen only where its
backward time plus its forward time beats ``M``'s backward; ``backward`` with every
gradient may take dx from one strategy and dw, db from another.  The oracle judges auto by
the loosest family among the strategies its last problem used (:attr:`Auto.family`).

The choices for a problem are made once, when it is first seen (``skip_reason``, which the
harness asks before any timed call), as an FFT plan is made: a call only looks them up, so
auto's per-call overhead is a validation and two dictionary lookups (~10-30 us).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .base import ConvStrategy
from .auto_evidence import Evidence, key_of
from .costs import Costs
from .geometry import ConvProblem
from .passes import GRADIENT_QUANTITY, GRADIENTS, PASS_WRT

#: no plan: the BLAS- and FFT-backed strategies (naive's costs count flops, not Python's loops)
DEFAULT_CANDIDATES = ("im2col", "fft", "winograd")
#: a predicted time (nearest or analytic) must beat the simpler choice, or the no-mixing one, by this much
PREDICTED_TIE = 0.25
#: how well founded a time is: measured, scaled from the nearest measured problem, analytic
HOW_RANK = {"plan": 0, "nearest": 1, "analytic": 2}


@dataclass(frozen=True)
class Choice:
    """What auto runs for one problem and pass: gradient (or ``out``) -> strategy label, and why."""

    labels: dict
    how: str       # "plan", "nearest" or "analytic"
    why: str

    def __str__(self) -> str:
        return self.why


def backward_pass(wrt) -> str:
    """The pass a ``wrt`` set is timed as (dx alone, dw and/or db alone, or both)."""
    wrt = frozenset(wrt)
    return "backward_data" if wrt == {"x"} else "backward_filter" if "x" not in wrt else "backward"


class Auto(ConvStrategy):
    """The per-layer plan as a strategy: each problem and pass by the strategy the plan names.

    ``auto[plan=results/<run>]`` or ``auto[plan=plan.json]`` in a sweep (the harness turns
    the path into the plan mapping); ``get_strategy("auto", plan=mapping, max_error=1e-4)``
    in Python; ``get_strategy("auto")`` alone picks by analytic costs among the strategies
    whose error is the direct algorithm's, which is im2col.  How it chooses, the accuracy
    budget and the price of mixing strategies between forward and backward: the module
    docstring.  :meth:`choice` says what it would run, and why.  Costs: the chosen
    strategy's, plus the forward of a backward strategy that did not make the cache.
    Where it loses: a problem far from every measured one (then its pick is a prediction),
    and mixing, which costs a forward.
    """

    name = "auto"
    role = "dispatcher"
    budget_option = "threads"

    def __init__(self, plan=None, max_error=None, threads=None):
        from . import STRATEGIES  # lazy: the registry imports this module
        if plan is not None and not hasattr(plan, "get"):
            raise ValueError(f"auto option plan must be a plan mapping (harness.plan builds one from a run); "
                             f"got {type(plan).__name__}")
        if max_error is not None and not (isinstance(max_error, (int, float)) and max_error > 0):
            raise ValueError(f"auto option max_error={max_error!r} must be a number > 0 (a max relative error)")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"auto option threads={threads!r} must be an int >= 1")
        self.plan, self.max_error, self.threads = plan or {}, max_error, threads or 1
        self.given_threads = threads is not None
        budgets = {int(c["threads"]) for c in self.plan.get("cells", [])}
        # the plan's cells at this thread budget (at the nearest budget it measured, if not this one)
        budget = min(budgets, key=lambda t: (abs(t - self.threads), t), default=self.threads)
        cells = [c for c in self.plan.get("cells", []) if int(c["threads"]) == budget]
        specs = {label: (e["name"], e.get("options") or {}) for c in cells for label, e in c["entrants"].items()}
        if not self.plan:
            specs = {name: (name, {}) for name in DEFAULT_CANDIDATES if name in STRATEGIES}
        self._strategies = {label: STRATEGIES[n](**o) for label, (n, o) in specs.items() if n in STRATEGIES}
        self._evidence = Evidence(self.plan, cells, self._strategies, self.threads, max_error)
        order = list(self.plan.get("simplicity", [])) + sorted(self._strategies)
        self._rank = {label: order.index(label) for label in self._strategies}
        self._choices: dict = {}
        self._reasons: dict = {}
        self._last: tuple = ()

    @property
    def options(self) -> dict:
        options = {"plan": self.plan["name"]} if self.plan.get("name") else {}
        if self.max_error is not None:
            options["max_error"] = self.max_error
        if self.given_threads:
            options["threads"] = self.threads
        return options

    @property
    def family(self) -> str:
        families = [self._strategies[label].family for label in self._last] or ["direct"]
        order = list(self.plan.get("families", ["direct"]))
        return max(families, key=lambda f: order.index(f) if f in order else len(order))

    @property
    def memory_blind_spot(self) -> str:
        return "; ".join(dict.fromkeys(filter(None, (self._strategies[s].memory_blind_spot for s in self._last))))

    # --- the contract ---------------------------------------------------------------------
    def _skip_reason(self, problem: ConvProblem):
        """None when a candidate computes the problem within the budget.  The choices for every pass are made
        here, once per problem (for the plan's dtypes), as an FFT plan is: a timed call only looks them up."""
        key = key_of(problem)
        if key not in self._reasons:
            self._reasons[key] = self._first_look(problem)
        return self._reasons[key]

    def _first_look(self, problem: ConvProblem):
        if not any(s.skip_reason(problem.x_shape, problem.w_shape, problem.conv_param) is None
                   for s in self._strategies.values()):
            return f"no strategy of its plan computes it (candidates: {', '.join(self._strategies) or 'none'})"
        for dtype in sorted({key[2] for key in self._evidence.cells} or {"float32"}):
            try:
                made_by = self._choose(problem, "forward", dtype).labels["out"]
                for pass_ in ("backward_data", "backward_filter", "backward"):
                    self._choose(problem, pass_, dtype, made_by)
            except ValueError as err:
                return str(err)
        return None

    # The chosen strategy's own _forward / _backward run on the input auto's forward and backward already
    # validated (and the choice accepts the problem): one validation per call, as for any strategy.
    def _forward(self, x, w, b, problem: ConvProblem):
        """``out, cache`` of the strategy chosen for the forward pass; the cache keeps x, w, b (views)."""
        label = self._choose(problem, "forward", x.dtype.name).labels["out"]
        self._last = (label,)
        out, saved = self._strategies[label]._forward(x, w, b, problem)
        return out, (x, w, b, label, saved)

    def _backward(self, dout, problem: ConvProblem, saved, wrt):
        """Each gradient by its chosen strategy; one that did not make the cache runs its forward first."""
        x, w, b, made_by, cache = saved
        labels = self._choose(problem, backward_pass(wrt), dout.dtype.name, made_by).labels
        grads = {}
        for label in dict.fromkeys(labels[g] for g in GRADIENTS if g in wrt):
            strategy, asked = self._strategies[label], tuple(g for g in GRADIENTS if g in wrt and labels[g] == label)
            own = cache if label == made_by else strategy._forward(x, w, b, problem)[1]
            grads.update((g, v) for g, v in zip(GRADIENTS, strategy._backward(dout, problem, own, frozenset(asked)))
                         if g in asked)
        self._last = tuple(dict.fromkeys(labels[g] for g in GRADIENTS if g in wrt))
        return tuple(grads.get(g) if g in wrt else None for g in GRADIENTS)

    def _costs(self, problem: ConvProblem, pass_: str, itemsize: int) -> Costs:
        dtype = {4: "float32", 8: "float64"}[itemsize]
        made_by = self._choose(problem, "forward", dtype).labels["out"]
        if pass_ == "forward":
            return self._strategies[made_by].costs(problem.x_shape, problem.w_shape, problem.conv_param, pass_, dtype)
        labels, wrt = self._choose(problem, pass_, dtype, made_by).labels, PASS_WRT[pass_]
        total = None
        for label in dict.fromkeys(labels[g] for g in GRADIENTS if g in wrt):
            asked = [g for g in GRADIENTS if g in wrt and labels[g] == label]
            parts = (["forward"] if label != made_by else []) + [backward_pass(asked)]
            for part in parts:
                c = self._strategies[label].costs(problem.x_shape, problem.w_shape, problem.conv_param, part, dtype)
                total = c if total is None else total + c
        return total

    # --- choosing -------------------------------------------------------------------------
    def choice(self, x_shape, w_shape, conv_param, pass_: str, dtype="float32", made_by: str | None = None) -> Choice:
        """What auto runs for ``pass_`` on this problem and why; backward passes assume the cache
        ``made_by`` (default: auto's own forward choice) made."""
        problem = ConvProblem.from_shapes(x_shape, w_shape, conv_param)
        dtype = str(getattr(dtype, "name", dtype))
        if pass_ != "forward" and made_by is None:
            made_by = self._choose(problem, "forward", dtype).labels["out"]
        return self._choose(problem, pass_, dtype, made_by)

    def _choose(self, problem: ConvProblem, pass_: str, dtype: str, made_by: str | None = None) -> Choice:
        key = (key_of(problem), pass_, dtype, made_by)
        if key not in self._choices:
            if not any(self._evidence.accepts(s, problem) for s in self._strategies):
                self._check_supported(problem)
            self._choices[key] = self._forward_choice(problem, dtype) if pass_ == "forward" else \
                self._backward_choice(problem, pass_, dtype, made_by)
        return self._choices[key]

    def _forward_choice(self, problem, dtype) -> Choice:
        """The plan's winner; among tied ones, the least training step (its forward and the backward after it),
        then the simpler."""
        times, how, why, winners = self._evidence.times(problem, "forward", dtype)
        if not times:
            raise ValueError(f"auto has no candidate within its accuracy budget for {problem} forward")
        tied = [s for s in winners if s in times] or self._within_tie(times, how)
        note = ("the plan's winner" if len(winners) == 1 else "tied winner") if tied[0] in winners else \
            (f"fastest within the accuracy budget (not {', '.join(winners)})" if winners else "least predicted time")
        label = tied[0]
        if len(tied) > 1:
            step = {s: times[s] + min(self._backward_options(problem, "backward", dtype, s)[0].values(),
                                      default=math.inf) for s in tied}
            label = min(self._within_tie(step, how) if min(step.values()) < math.inf else tied,
                        key=self._rank.__getitem__)
            note += f" (of {', '.join(tied)}: the least forward + backward after it, then the simpler)"
        return Choice({"out": label}, how, f"{how}: {label}, {note}; {why}")

    def _backward_options(self, problem, pass_, dtype, made_by) -> tuple[dict, tuple]:
        """combo of (part, label) -> predicted seconds of the backward, the forwards that mixing needs included
        (a member of a measured winner set at the winner's time); and the times' source (how, why)."""
        forward = self._evidence.times(problem, "forward", dtype, accuracy=False)[0]
        parts = ["backward_data", "backward_filter"] if pass_ == "backward" else [pass_]
        per_part = {p: self._evidence.times(problem, p, dtype) for p in parts}
        whole = self._evidence.times(problem, "backward", dtype) if pass_ == "backward" else None
        # the whole backward's times and the parts' are each used where they are the better founded; when the parts
        # can be mixed, every option is summed from the parts (a whole backward timed apart is not comparable: here
        # it measured up to 1.7x the sum of its parts on the same layer)
        rank_whole = HOW_RANK[whole[1]] if whole is not None and whole[0] else math.inf
        rank_parts = max(HOW_RANK[per_part[p][1]] if per_part[p][0] else math.inf for p in parts)
        whole = whole if rank_whole <= rank_parts else None
        source = whole if whole is not None else per_part[parts[0]]
        split = len(parts) == 2 and rank_parts <= rank_whole
        combos = [tuple((p, s) for p in parts) for s in self._strategies]
        if split:
            combos += [((parts[0], a), (parts[1], b)) for a in per_part[parts[0]][0] for b in per_part[parts[1]][0]
                       if a != b]
        options = {}
        for combo in combos:
            used = {s for _, s in combo}
            if len(used) == 1 and whole is not None and not split and combo[0][1] in whole[0]:
                seconds = _as_tied(whole, combo[0][1])
            else:
                seconds = sum(_as_tied(per_part[p], s) for p, s in combo)
            seconds += sum(forward.get(s, math.inf) for s in used if s != made_by)
            if math.isfinite(seconds):
                options[combo] = seconds
        return options, source[1:3]

    def _backward_choice(self, problem, pass_, dtype, made_by) -> Choice:
        """The gradients' strategies minimising backward time plus the forwards that mixing needs; ties to the
        fewest strategies, no mixing, then the simpler."""
        options, (how, why) = self._backward_options(problem, pass_, dtype, made_by)
        if not options:
            raise ValueError(f"auto has no candidate within its accuracy budget for {problem} {pass_}")
        combo = min(self._within_tie(options, how), key=lambda c: (len({s for _, s in c}), any(s != made_by for _, s in c),
                                                              sum(self._rank[s] for _, s in c), options[c]))
        labels = {g: s for p, s in combo for g in PASS_WRT[p]}
        mixed = sorted({s for _, s in combo} - {made_by})
        text = ", ".join(f"{GRADIENT_QUANTITY[g]} {labels[g]}" for g in GRADIENTS if g in labels) \
            if len(set(labels.values())) > 1 else next(iter(labels.values()))
        extra = f" ({', '.join(mixed)}'s forward run for its cache: the cache is {made_by}'s)" if mixed else ""
        return Choice(labels, how, f"{how}: {text}{extra}; {why}")

    def _within_tie(self, times: dict, how: str) -> list:
        """The keys whose time is within the plan's tie fraction of the least (a predicted time: within
        :data:`PREDICTED_TIE`), simplest first."""
        best = min(times.values())
        margin = self.plan.get("tie_fraction", 0.05) if how == "plan" else PREDICTED_TIE
        near = [k for k, t in times.items() if t <= best * (1 + margin)]
        return sorted(near, key=lambda k: self._rank[k] if k in self._rank else 0)


def _as_tied(times: tuple, label: str) -> float:
    """A strategy's time from :meth:`Evidence.times`; a member of the plan's winner set counts at the winner's time
    (tied within noise by the harness's rule: equal), so the simpler of them is taken."""
    seconds, _, _, winners = times
    if label not in seconds:
        return math.inf
    tied = [seconds[w] for w in winners if w in seconds]
    return min(tied) if label in winners and tied else seconds[label]
