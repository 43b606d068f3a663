"""The look every convbench figure shares: strategy colours and markers, titles, legends, log axes.

One fixed colour per strategy name (:data:`COLOURS`, a stable hash into
:data:`FALLBACK_COLOURS` for other names), the same in every figure and every run;
a variant such as ``parallel[base=fft,n_jobs=2]`` keeps its strategy's colour and
gets its own marker.  Figures are drawn under :data:`RC` with the object-oriented
API on an Agg canvas: no pyplot, no global backend switch.
"""
from __future__ import annotations

import functools
import textwrap
import zlib

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from strategies.passes import PASSES

#: the summary's cell and contest keys (as harness.summary.GROUP and CONTEST: columns, not code)
GROUP = ["shape", "strategy", "pass", "threads"]
CONTEST = ["shape", "pass", "threads"]

COLOURS = {"im2col": "#1f77b4", "fft": "#ff7f0e", "winograd": "#2ca02c", "parallel": "#9467bd",
           "naive": "#8c564b", "auto": "#e377c2",
           "torch": "#4d4d4d"}   # the peer: a neutral dark grey, never one of ours
#: names not above get a colour from here by a stable hash of the name
FALLBACK_COLOURS = ["#17becf", "#bcbd22", "#393b79", "#8c6d31", "#637939"]  # none close to the named ones
#: peers get their own marker too, so they read as a yardstick in every figure
PEER_MARKERS = {"torch": "D"}
#: a plain strategy is drawn with "o"; a variant (name[options]) with one of these, by hash of its spec
VARIANT_MARKERS = ["s", "D", "^", "v", "P", "p", "h", "<"]  # no "x": it means "not measured"
MISMATCH_COLOUR = "#d62728"
RC = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7.5,
      "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "figure.titlesize": 9.5, "axes.grid": True,
      "grid.alpha": 0.3, "grid.linewidth": 0.5}
NOT_MEASURED = {"unsupported": "unsupported", "skipped": "skipped", "hopeless": "hopeless", "error": "error",
                "mismatch": "mismatch"}


class NotApplicable(Exception):
    """A figure that does not apply to this run (its message says why, for report.md)."""


def styled(figure_function):
    """Draw under the house style (:data:`RC`) without touching matplotlib's global settings."""
    @functools.wraps(figure_function)
    def draw(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return figure_function(*args, **kwargs)
    return draw


def readable_log_ticks(axis) -> None:
    """Plain numbers (0.2, 0.5, 1, 2) on a log axis spanning under three decades, 10^k beyond."""
    lo, hi = sorted(axis.get_view_interval())
    span = np.log10(hi / lo) if lo > 0 else np.inf
    if span <= 3:
        subs = (1.0, 2.0, 5.0) if span <= 1.5 else (1.0, 3.0)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    # unlabelled minor ticks cost a third of the drawing time (tick layout) and add nothing readable
    axis.set_minor_locator(NullLocator())


def strategy_name(spec: str) -> str:
    """``"parallel[base=fft,n_jobs=2]"`` -> ``"parallel"``."""
    return str(spec).split("[", 1)[0].strip()


def strategy_colour(spec: str) -> str:
    name = strategy_name(spec)
    return COLOURS.get(name) or FALLBACK_COLOURS[zlib.crc32(name.encode()) % len(FALLBACK_COLOURS)]


def strategy_marker(spec: str) -> str:
    if strategy_name(spec) in PEER_MARKERS:
        return PEER_MARKERS[strategy_name(spec)]
    if strategy_name(spec) == str(spec).strip():
        return "o"
    return VARIANT_MARKERS[zlib.crc32(str(spec).encode()) % len(VARIANT_MARKERS)]


def run_title(config: dict, env: dict) -> str:
    """"quick sweep · float32 · 1 thread · AMD EPYC": what every figure title names."""
    threads = config.get("threads", [1])
    threads = [threads] if isinstance(threads, int) else list(threads)
    budget = f"{threads[0]} thread{'s' if threads[0] > 1 else ''}" if len(threads) == 1 else \
        "threads " + ", ".join(map(str, threads))
    sweep = (config.get("sweep") or {}).get("name", "sweep")
    regime = f" · allocator {config['allocator']}" if config.get("allocator", "default") != "default" else ""
    return f"{sweep} sweep · {config.get('dtype', 'float32')} · {budget}{regime} · {env.get('cpu_model', 'unknown CPU')}"


def passes_named(passes) -> str:
    """"forward + backward": the passes a figure shows, as its title says them."""
    return " + ".join(p.replace("_", " ") for p in passes)


def new_figure(width: float, height: float) -> Figure:
    """A Figure on the Agg canvas (no pyplot), constrained layout so labels never overlap."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself: fig.canvas renders with Agg
    return fig


def facets(summary: pd.DataFrame) -> tuple[list[str], list[int]]:
    """The passes (in strategies.passes order) and thread budgets the panels are split by."""
    passes = [p for p in PASSES if p in set(summary["pass"])]
    return passes, sorted(int(t) for t in summary["threads"].unique())


def order(summary: pd.DataFrame, column: str) -> list:
    """Values of ``column`` in the order the run produced them (sweep order, config order)."""
    return list(dict.fromkeys(summary[column]))


def series_handles(series: list[str], *, line: bool = False) -> list[Line2D]:
    return [Line2D([], [], color=strategy_colour(s), marker=strategy_marker(s), linestyle="-" if line else "",
                   markersize=5, label=s) for s in series]


def key_handle(label: str, **style) -> Line2D:
    """A legend entry explaining a mark (hollow = noisy, x = not measured, ...)."""
    return Line2D([], [], label=label, **{"color": "0.3", "linestyle": "", **style})


def finish(fig: Figure, title: str, config: dict, env: dict, keys: list, note: str = "", *,
           series: list = (), subtitle: str | None = None) -> Figure:
    """Title (figure + run, or ``subtitle``); the strategies' legend under it, the keys and a note below
    the panels: legends sit outside the data, never over it."""
    fig.suptitle(f"{title}\n{subtitle or run_title(config, env)}")
    if series:  # the colour key beside the panels (a legend above them would collide with the title)
        for h in series:
            h.set_label(h.get_label().replace("[", "\n[", 1) if len(h.get_label()) > 16 else h.get_label())
        fig.legend(handles=list(series), loc="outside right center", frameon=False)
    legend = _legend(fig, keys, "outside lower center", title=textwrap.fill(note, 130) if note else None)
    if note:
        legend.get_title().set_color("0.25")
    return fig


def _legend(fig: Figure, handles: list, loc: str, title: str | None = None):
    for h in handles:  # long labels wrap, so legend columns stay inside the figure
        h.set_label(textwrap.fill(h.get_label(), 48))
    widest = max(max(len(line) for line in h.get_label().splitlines()) for h in handles)
    char = 0.52 * matplotlib.rcParams["legend.fontsize"]  # points, a generous average glyph width
    ncols = max(1, min(len(handles), int(fig.get_figwidth() * 72 * 0.9 // (widest * char + 30))))
    return fig.legend(handles=handles, loc=loc, ncols=ncols, frameon=False, title=title, title_fontsize=7)


def log_limits(ax, values, *, left_room: float) -> None:
    """Log x limits covering ``values`` with ``left_room`` (fraction of the axis) free on the left."""
    values = np.asarray([v for v in values if np.isfinite(v) and v > 0])
    lo, hi = (np.log10(values.min()), np.log10(values.max())) if len(values) else (-1.0, 1.0)
    span = max(hi - lo, 1.0) / (1 - left_room - 0.08)
    ax.set_xscale("log")
    ax.set_xlim(10 ** (lo - left_room * span), 10 ** (hi + 0.08 * span))


def quartiles(results: pd.DataFrame) -> pd.DataFrame:
    """25th and 75th percentile of the timed seconds per cell (index: summary.GROUP)."""
    timed = results[results["seconds"].notna()]
    if timed.empty:
        return pd.DataFrame(columns=["q25", "q75"])
    q = timed.groupby(GROUP, sort=False)["seconds"].quantile([0.25, 0.75]).unstack()
    return q.set_axis(["q25", "q75"], axis=1)
