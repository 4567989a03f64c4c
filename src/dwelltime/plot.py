"""Timeline figure of stays: what each scene said about each stand, and the dwell interval.

Drawn on a bare :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state), so it works
headless and in notebooks alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dwelltime.linking import LinkConfig, scene_times, stay_visibility

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SEEN_COLOR = "#0b2a63"
MIN_COLOR = "#5b8fd6"
MAX_COLOR = "#c3d6f0"
OPEN_COLOR = "#3a6ab0"
HIDDEN_COLOR = "#9a9a9a"


def plot_timeline(
    stays: pd.DataFrame,
    coverage: pd.DataFrame,
    detections: pd.DataFrame,
    *,
    config: LinkConfig | None = None,
    max_rows: int = 60,
) -> Figure:
    """One row per stay (earliest first) on a UTC time axis; at most ``max_rows`` rows (the
    longest estimated dwells, the title says how many of how many).

    Per scene of the airport: filled dot = seen, open circle = stand visible and aircraft
    absent (or a tolerated miss), grey x = stand not visible. Narrow dark bar = ``[first_seen,
    last_seen]`` (dwell_min); wide light bar = ``[last_absent_before, first_absent_after]``
    (dwell_max); an arrow at a light bar's end marks a censored (open) end. ``config`` gives
    the visibility rule (``min_visible_fraction``) used when linking (default ``LinkConfig()``).
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    total = len(stays)
    if total > max_rows:
        stays = stays.nlargest(max_rows, "dwell_est_h")
    stays = stays.sort_values(["first_seen", "stay_id"], ascending=[False, False])
    scenes = scene_times(detections, coverage)
    n = len(stays)
    fig = Figure(figsize=(11, 1.6 + 0.45 * max(n, 2)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    airports = sorted(set(stays["airport"].astype(str)) | set(coverage["airport"].astype(str)))
    shown = f"{n} stay(s)" if n == total else f"{n} longest of {total} stays"
    ax.set_title(f"Stays at {', '.join(airports) or 'no airport'} — {shown}")
    ax.set_xlabel("time (UTC)")
    if n == 0 or scenes.empty:
        ax.text(0.5, 0.5, "no stays", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return fig

    visible = stay_visibility(stays, coverage, config or LinkConfig()).reindex(
        columns=scenes["scene_id"], fill_value=False
    )
    times = mdates.date2num(scenes["acquired"].dt.tz_convert("UTC").dt.tz_localize(None))
    span = times.max() - times.min() or 1.0
    left, right = times.min() - 0.03 * span, times.max() + 0.03 * span
    for row, stay in enumerate(stays.itertuples(index=False)):
        _draw_interval(ax, row, stay, left, right)
        seen = np.isin(scenes["scene_id"], str(stay.scene_ids).split(";"))
        vis = visible.loc[str(stay.stay_id)].to_numpy(bool)
        ax.scatter(
            times[seen],
            np.full(seen.sum(), row),
            s=30,
            color=SEEN_COLOR,
            edgecolor="white",
            linewidth=0.8,
            zorder=3,
            gid="seen",
        )
        absent = vis & ~seen
        ax.scatter(
            times[absent],
            np.full(absent.sum(), row),
            s=28,
            facecolor="white",
            edgecolor=SEEN_COLOR,
            zorder=3,
            gid="absent",
        )
        hidden = ~vis & ~seen
        ax.scatter(
            times[hidden],
            np.full(hidden.sum(), row),
            s=18,
            marker="x",
            color=HIDDEN_COLOR,
            linewidth=1,
            zorder=3,
            gid="hidden",
        )

    ax.set_yticks(range(n), [_label(s) for s in stays.itertuples(index=False)], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.tick_params(axis="y", pad=10)
    ax.set_xlim(left, right)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.legend(
        handles=[
            Line2D([], [], ls="", marker="o", color=SEEN_COLOR, label="seen"),
            Line2D([], [], ls="", marker="o", mfc="white", mec=SEEN_COLOR, label="visible, absent"),
            Line2D([], [], ls="", marker="x", color=HIDDEN_COLOR, label="not visible"),
            Patch(color=MIN_COLOR, label="min: first–last seen"),
            Patch(color=MAX_COLOR, label="max: absent–absent"),
            Line2D([], [], ls="", marker=">", color=OPEN_COLOR, label="open (censored)"),
        ],
        loc="outside lower center",
        ncols=6,
        fontsize=8,
        frameon=False,
    )
    return fig


def _num(value: pd.Timestamp) -> float:
    import matplotlib.dates as mdates

    return float(mdates.date2num(pd.Timestamp(value).tz_convert("UTC").tz_localize(None)))


def _draw_interval(ax, row: int, stay, left: float, right: float) -> None:
    """Light max bar (to the axis edge with an arrow when open) and dark min bar."""
    first, last = _num(stay.first_seen), _num(stay.last_seen)
    start = left if stay.censored_start else _num(stay.last_absent_before)
    end = right if stay.censored_end else _num(stay.first_absent_after)
    ax.barh(row, end - start, left=start, height=0.5, color=MAX_COLOR, zorder=1, gid="max")
    ax.barh(
        row, max(last - first, 0.0), left=first, height=0.22, color=MIN_COLOR, zorder=2, gid="min"
    )
    for open_end, x, marker in ((stay.censored_start, start, "<"), (stay.censored_end, end, ">")):
        if open_end:
            ax.plot([x], [row], marker=marker, color=OPEN_COLOR, ms=9, zorder=4, clip_on=False)


def _label(stay) -> str:
    est = f"{stay.dwell_est_h:.0f} h"
    return f"{stay.stay_id}  {stay.type} ({stay.type_prob:.2f})  ~{est}"
