"""Performance profiles (Dolan & More 2002): how often each strategy is within a factor tau of the best.

For each contest (shape, pass, thread budget) with at least one measured entrant, the
performance ratio of an entrant is its median over the least median of the contest's
entrants (ours, the peer and auto alike: the profile compares everything drawn); a cell
without an ok time (declined, skipped, hopeless, mismatch, error) has ratio infinity, so it
is never within.  The profile of a strategy is

    rho(tau) = (contests with ratio <= tau) / (contests of the pass)

for tau from 1 to 100 on a log axis: rho(1) is how often it is the fastest, the height at
large tau how often it runs at all, and a curve above another wins over the whole suite.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import (CONTEST, NotApplicable, facets, finish, key_handle, new_figure, order, series_handles,
                    strategy_colour, strategy_marker, styled)

TAU_MAX = 100.0


def ratios(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (contest, strategy): ``ratio`` = median / the contest's least median (inf without an ok time)."""
    ok = (summary["status"] == "ok") & (summary["median_s"] > 0)
    best = summary[ok].groupby(CONTEST)["median_s"].min().rename("best")
    table = summary[CONTEST + ["strategy", "role", "status"]].join(best, on=CONTEST)
    table = table[table["best"].notna()]
    table["ratio"] = np.where(ok[table.index], summary.loc[table.index, "median_s"] / table["best"], np.inf)
    return table.reset_index(drop=True)


def profile(table: pd.DataFrame, taus: np.ndarray) -> dict[str, np.ndarray]:
    """strategy -> rho(tau) over the contests of ``table`` (one pass and budget)."""
    contests = table.groupby(CONTEST).ngroups
    return {s: np.array([(g["ratio"] <= tau).sum() / contests for tau in taus])
            for s, g in table.groupby("strategy", sort=False)}


@styled
def profile_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Dolan & More performance profiles, one panel per pass (a row per thread budget)."""
    table = ratios(summary)
    if table.empty or table.groupby(CONTEST).ngroups < 2:
        raise NotApplicable("no performance profile: it needs at least two contests with a measured strategy")
    passes, threads = facets(summary)
    series = order(summary, "strategy")
    fig = new_figure(max(6.5, 3.2 * len(passes) + 0.6), 2.8 * len(threads) + 1.6)
    axes = fig.subplots(len(threads), len(passes), squeeze=False, sharey=True)
    taus = np.logspace(0, np.log10(TAU_MAX), 400)
    for r, t in enumerate(threads):
        for c, p in enumerate(passes):
            ax = axes[r][c]
            panel = table[(table["pass"] == p) & (table["threads"] == t)]
            n = panel.groupby(CONTEST).ngroups
            for s, rho in profile(panel, taus).items():
                ax.step(taus, rho, where="post", color=strategy_colour(s), linewidth=1.4,
                        linestyle="--" if panel.loc[panel["strategy"] == s, "role"].iloc[0] != "strategy" else "-")
                ax.plot([1], [rho[0]], marker=strategy_marker(s), color=strategy_colour(s), markersize=4)
            ax.set_xscale("log")
            ax.set_xlim(1, TAU_MAX)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
            ax.set_title(f"{p} ({n} contests)" + (f", {t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else ""))
            ax.set_xlabel("tau: within this factor of the fastest (log)")
            if c == 0:
                ax.set_ylabel("fraction of contests")
    fig.data = table
    keys = [key_handle("dashed: a peer or auto (yardsticks, not ours)", linestyle="--")]
    note = ("rho(tau) = share of the pass's contests in which the strategy's median is within tau of the fastest "
            "entrant's; a declined or failed cell is never within. rho(1): how often it is fastest.")
    return finish(fig, "Performance profiles (Dolan & More)", config, env, keys, note,
                  series=series_handles(series, line=True))
