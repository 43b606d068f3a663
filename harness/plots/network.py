"""The whole network: the time of every conv layer in the passes the run measured, times its multiplicity.

For sweeps whose layers carry a ``count`` (resnet18, resnet50, vgg16).  Each
strategy's total uses its own median where it has an ok cell and the baseline's
where it has not (declined, skipped, failed): the figure says how many layers were
substituted.  "Best per layer" takes each (layer, pass)'s winner from
:func:`harness.summary.summarize`; a layer whose winner is tied with others (the
summary's one rule) is drawn hatched, as a tie, not credited to one strategy.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .style import CONTEST, NotApplicable, facets, finish, new_figure, order, passes_named, strategy_colour, styled

BEST = "best per layer"
PASS_ALPHA = {"forward": 1.0, "backward_data": 0.7, "backward_filter": 0.55, "backward": 0.4}
SUBSTITUTED_HATCH = "...."
TIE_HATCH = "////"


def has_layer_counts(summary: pd.DataFrame, config: dict) -> bool:
    layers = (config.get("sweep") or {}).get("layers") or []
    return any("count" in layer for layer in layers) or bool((summary["count"] > 1).any())


def network_segments(summary: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """One row per (threads, bar, pass, shape): the seconds it adds to that bar and how.

    ``bar`` is a strategy or :data:`BEST`; ``drawn_as`` is the strategy whose colour the
    segment takes (the baseline's for a substituted layer, the winner's for BEST);
    ``kind`` is ``own``, ``substituted``, ``tie`` or ``missing`` (no time anywhere:
    ``seconds`` is 0 and the bar is a lower bound).
    """
    contests = {key: g.set_index("strategy") for key, g in summary.groupby(["threads", "pass", "shape"])}
    counts = summary.groupby("shape")["count"].first()
    best = summary[summary["winner"] | summary["tied"]]
    ties = {key: frozenset(g["strategy"]) for key, g in best.groupby(CONTEST, sort=False)}
    rows = []
    for t in facets(summary)[1]:
        for p in facets(summary)[0]:
            for shape in order(summary, "shape"):
                count = int(counts[shape])
                here = contests.get((t, p, shape), summary.iloc[:0].set_index("strategy"))
                base_ok = baseline in here.index and here.at[baseline, "status"] == "ok"
                for s in order(summary, "strategy"):
                    cell = here.loc[s] if s in here.index else None
                    if cell is not None and cell["status"] == "ok":
                        rows.append((t, s, p, shape, count, cell["median_s"] * count, s, "own"))
                    elif base_ok:
                        rows.append((t, s, p, shape, count, here.at[baseline, "median_s"] * count, baseline,
                                     "substituted"))
                    else:
                        rows.append((t, s, p, shape, count, 0.0, s, "missing"))
                winners = here[here["winner"]]
                if len(winners):
                    tied = len(ties.get((shape, p, t), ())) > 1
                    rows.append((t, BEST, p, shape, count, winners["median_s"].iloc[0] * count,
                                 winners.index[0], "tie" if tied else "own"))
                else:
                    rows.append((t, BEST, p, shape, count, 0.0, BEST, "missing"))
    return pd.DataFrame(rows, columns=["threads", "bar", "pass", "shape", "count", "seconds", "drawn_as", "kind"])


def network_totals(segments: pd.DataFrame) -> pd.DataFrame:
    """Per (threads, bar): seconds and substituted / missing layers per pass, and the total."""
    rows = []
    for (t, bar), g in segments.groupby(["threads", "bar"], sort=False):
        row = {"threads": t, "strategy": bar, "layers": int(g.drop_duplicates("shape")["count"].sum())}
        for p, gp in g.groupby("pass", sort=False):
            row[f"{p}_s"] = gp["seconds"].sum()
            row[f"{p}_substituted"] = int(gp.loc[gp["kind"] == "substituted", "count"].sum())
            row[f"{p}_missing"] = int(gp.loc[gp["kind"] == "missing", "count"].sum())
        row["total_s"] = g["seconds"].sum()
        rows.append(row)
    return pd.DataFrame(rows)


def _per_pass(total: pd.Series, what: str) -> str:
    """"forward 3, backward 5 of 20" (or "" when every pass has 0)."""
    counts = {p: int(total.get(f"{p}_{what}", 0) or 0) for p in PASS_ALPHA if f"{p}_s" in total}
    if not any(counts.values()):
        return ""
    return ", ".join(f"{p} {n}" for p, n in counts.items()) + f" of {int(total['layers'])}"


def _bar_note(bar: str, g: pd.DataFrame, total: pd.Series, baseline: str | None, unit: float,
              unit_name: str) -> str:
    text = f"{total['total_s'] / unit:.3g} {unit_name}"
    missing = _per_pass(total, "missing")
    if missing:
        text = f">= {text} (no time at all: {missing} layers)"  # a lower bound
    if bar == BEST:
        won = g[g["kind"] == "own"].groupby("drawn_as")["count"].sum().sort_values(ascending=False)
        ties = int(g.loc[g["kind"] == "tie", "count"].sum())
        parts = [f"{s} {n}" for s, n in won.items()] + ([f"tied {ties}"] if ties else [])
        return f"{text}\nwon: {', '.join(parts)} of {len(g['pass'].unique()) * int(total['layers'])} layer-passes"
    substituted = _per_pass(total, "substituted")
    return text + (f"\nat {baseline}'s time: {substituted} layers" if substituted else "")


@styled
def network_figure(summary: pd.DataFrame, results: pd.DataFrame, config: dict, env: dict) -> Figure:
    """Whole-network time per strategy and for the best strategy per layer, in the passes the run measured."""
    if not has_layer_counts(summary, config):
        raise NotApplicable("no network figure: the sweep's layers have no multiplicities (count), "
                            "so they are not a network (try sweep=resnet18)")
    baseline = config.get("baseline")
    segments = network_segments(summary, baseline)
    totals = network_totals(segments).set_index(["threads", "strategy"])
    threads = facets(summary)[1]
    bars = order(summary, "strategy") + [BEST]
    unit, unit_name = (1.0, "s") if totals["total_s"].max() >= 1 else (1e-3, "ms")
    fig = new_figure(7.5, len(threads) * (0.42 * len(bars) + 0.9) + 1.6)
    axes = fig.subplots(len(threads), 1, squeeze=False)[:, 0]
    notes = []
    for ax, t in zip(axes, threads):
        for y, bar in enumerate(bars):
            g = segments[(segments["threads"] == t) & (segments["bar"] == bar)]
            # one block per (pass, colour, kind), forward first: layer-by-layer stripes would only add noise
            blocks = g.groupby(["pass", "drawn_as", "kind"], sort=False)["seconds"].sum().reset_index()
            blocks = blocks.sort_values(["pass", "kind"], key=lambda c: c.map(
                {"forward": 0, "backward": 1, "own": 0, "tie": 1, "substituted": 2, "missing": 3}), kind="stable")
            left = 0.0
            for _, seg in blocks.iterrows():
                if seg["seconds"] <= 0:
                    continue
                ax.barh(y, seg["seconds"] / unit, left=left, height=0.62, color=strategy_colour(seg["drawn_as"]),
                        alpha=PASS_ALPHA[seg["pass"]], edgecolor="white", linewidth=0.4,
                        hatch={"substituted": SUBSTITUTED_HATCH, "tie": TIE_HATCH}.get(seg["kind"]))
                left += seg["seconds"] / unit
            notes.append((ax, left, ax.annotate(_bar_note(bar, g, totals.loc[(t, bar)], baseline, unit, unit_name),
                                                (left, y), xytext=(4, 0), textcoords="offset points", va="center",
                                                fontsize=7, linespacing=1.3)))
        ax.set_yticks(range(len(bars)), bars)
        for label, bar in zip(ax.get_yticklabels(), bars):
            label.set_color(strategy_colour(bar) if bar != BEST else "black")
        ax.set_ylim(len(bars) - 0.5, -0.5)
        ax.grid(False, axis="y")
        ax.set_xlabel(f"whole-network time per batch, {passes_named(facets(summary)[0])} ({unit_name})")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}" if len(threads) > 1 else "")
    layers = int(summary.drop_duplicates("shape")["count"].sum())
    handles = [*(Patch(facecolor="0.35", alpha=PASS_ALPHA[p], label=p.replace("_", " ")) for p in facets(summary)[0]),
               Patch(facecolor="white", edgecolor="0.3", hatch=SUBSTITUTED_HATCH,
                     label="dotted: layers without an ok time of the strategy (declined, skipped, "
                           f"failed), at {baseline}'s time"),
               Patch(facecolor="white", edgecolor="0.3", hatch=TIE_HATCH,
                     label="striped: best per layer, winner tied with another strategy")]
    sizes = sorted({int(n) for n in summary["N"]})
    batch = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"
    note = (f"{layers} conv layers (each distinct shape times its count in the network), batch {batch}. "
            "Best per layer: each layer and pass run by its fastest strategy; segments take the winner's colour.")
    finish(fig, "Network total", config, env, handles, note)
    _make_room(fig, notes, right=totals["total_s"].max() / unit)
    return fig


def _make_room(fig: Figure, notes: list, right: float) -> None:
    """One x range for every panel, wide enough that each note beside a bar ends inside its panel."""
    panels = list(dict.fromkeys(ax for ax, _, _ in notes))
    limit = max(right * 1.05, 1e-9)   # nothing measured: an axis still
    for _ in range(4):
        for ax in panels:
            ax.set_xlim(0, limit)
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        # the xlim at which bar end + note width just fits in the panel's pixel width
        need = max(end * ax.get_window_extent(renderer).width / max(
            ax.get_window_extent(renderer).width - text.get_window_extent(renderer).width - 12, 1)
            for ax, end, text in notes)
        if limit >= need * 0.999:
            return
        limit = need * 1.02
