"""The per-layer plan: which strategy to use for each layer and pass, what it saves, and the plan as a file.

    python -m harness.plan results/<run> [results/<run2> ...] -o plan.json   # a plan auto can use

From a run (its summary and raw samples) for each layer and pass: the winner set (the
one rule of :mod:`harness.summary`), the plan's choice, its time and its speedup over the
baseline with a 95% bootstrap interval; and the network totals for forward, dx, dw and a
training step (their sum) for the baseline, the best single strategy, the per-layer plan,
the peer and ``auto`` when they ran.

**The plan's choice** is what :class:`strategies.auto.Auto` runs given this run as its
plan (one copy of the rule): the winner of each (layer, pass), ties resolved toward the
*simpler* strategy, within auto's default accuracy budget.  Simpler means, in order: the
more accurate family (the oracle's error growth: direct 1 < winograd 4 < fft 8 <
winograd_f4 32 ...: the direct algorithms before the fast ones), then a plain strategy
before a variant with options (parallel is its base plus threads), then the name.  A
backward by a strategy other than the forward's needs that strategy's forward cache, so
the training step counts that forward (column ``mixing``).  Uncontested (``?``),
contended (``!``) and noisy (``~``) cells are marked wherever they are used.

**Intervals**: each cell's samples (results.csv ``seconds``) are resampled with
replacement :data:`RESAMPLES` times; a total is the same weighted sum of the resampled
medians, a speedup the ratio of two totals on the same resamples, the interval their
2.5th and 97.5th percentiles.  The choices are not re-made per resample: an interval says
how sure the times are, not how sure the choice is (the fastest of noisy entrants is
optimistic by construction).
"""
from __future__ import annotations

from .build import FORMAT, VERSION, build_plan, plan_cells, simplicity
from .recommend import RECOMMENDATION_FILE, recommendation, regret, regret_lines, write_recommendation
from .totals import PART_NAMES, RESAMPLES, SEED, interval, layer_choices, network_rows, parts_of, resampled_medians
from .words import headline, report_section

__all__ = ["FORMAT", "VERSION", "PART_NAMES", "RECOMMENDATION_FILE", "RESAMPLES", "SEED", "build_plan", "headline",
           "interval", "layer_choices", "network_rows", "parts_of", "plan_cells", "recommendation",
           "regret", "regret_lines", "report_section", "resampled_medians", "simplicity", "write_recommendation"]
