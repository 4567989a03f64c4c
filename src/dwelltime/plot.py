"""Figures of a run: scenes on a time axis, one scene with its aprons, coverage and detected
footprints, a coverage map, a gallery of detection chips and the stays timeline.

Every function draws on a bare :class:`matplotlib.figure.Figure` with an Agg canvas (no pyplot
state, nothing shown), so the same calls serve the CLI report, scripts and notebooks; save a
figure with ``fig.savefig(path)``. Map figures are drawn in the aprons' local metric CRS (the
airport's UTM zone, metres, grid north up); times are UTC. Images are read with rasterio, only
a decimated window around what is drawn.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from dwelltime.dwell import floor_hours, ranking_hours
from dwelltime.linking import LinkConfig, scene_times, stay_visibility
from dwelltime.tables import few

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from dwelltime.pipeline import RunResult
    from dwelltime.scenes import Scene

log = logging.getLogger(__name__)

__all__ = [
    "plot_chips",
    "plot_coverage",
    "plot_scene",
    "plot_scenes",
    "plot_timeline",
    "report_figures",
    "type_colors",
]

SEEN_COLOR = "#0b2a63"
MIN_COLOR = "#5b8fd6"
MAX_COLOR = "#c3d6f0"
OPEN_COLOR = "#3a6ab0"
HIDDEN_COLOR = "#9a9a9a"
FLIGHT_COLOR = "#d9480f"
APRON_COLOR = "#ffd21f"
VISIBLE_COLOR = "#21c25e"
NOT_VISIBLE_COLOR = "#e8412c"
UNKNOWN_COLOR = "#b0b0b0"
#: Colour map of the visible share (%) of the aprons (:func:`plot_scenes`, :func:`plot_coverage`):
#: lighter as more is seen, so it reads to colour-blind readers and in grey print (red–green
#: maps do neither: their 0 and 100 print the same grey).
VISIBLE_CMAP = "viridis"
UNKNOWN = "unknown"

#: Largest side, in pixels, of the image drawn by :func:`plot_scene`.
SCENE_MAX_PX = 1400
#: Side, in pixels, of each chip of :func:`plot_chips` (at most; finer than the scene never).
CHIP_PX = 160
#: What :func:`_draw_image` returns for an image it could not read (not there any more).
UNREAD = "unread"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A constrained-layout figure on an Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _no_stays(type_filter: str, detections: pd.DataFrame) -> str:
    """What an empty timeline says: ``"no stays"``, or ``"no stays of type IL62 (types
    detected: A148, T204)"`` when they were kept to ``type_filter``."""
    if not type_filter:
        return "no stays"
    detected = sorted(set(detections["type"].astype(str)))
    return f"no stays of type {type_filter}" + (
        f" (types detected: {few(detected, 8)})" if detected else ""
    )


def _say(ax: Axes, text: str) -> None:
    """A centred note on empty axes (no data to draw)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])


def _utc(value: object) -> str:
    """``2023-07-31 05:20 UTC``."""
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def _date_axis(ax: Axes, what: str, times: pd.Series) -> None:
    """A UTC date x axis labelled ``what (UTC, 2025-12-20 – 2026-01-13)``: the first and last
    day of ``times``, years included, so that no tick needs its year (matplotlib's offset
    text, the last tick's month and year, misdated the days before a new year, and a year of
    monthly ticks named no year)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    days = pd.to_datetime(pd.Series(times), utc=True).dt.strftime("%Y-%m-%d")
    first, last = days.min(), days.max()
    ax.set_xlabel(f"{what} (UTC, {first}{f' – {last}' * (last != first)})")


def _short_times(times: pd.Series) -> tuple[list[str], str]:
    """UTC labels of ``times`` without their year (``"07-31 02:00"``) and that one year
    (``"2023"``) to say once; full labels (``"2024-07-31 02:00"``) and ``""`` when the times
    span more than one year."""
    times = pd.to_datetime(pd.Series(times), utc=True)
    years = times.dt.year.unique()
    if len(years) == 1:
        return list(times.dt.strftime("%m-%d %H:%M")), str(years[0])
    return list(times.dt.strftime("%Y-%m-%d %H:%M")), ""


#: Width, in points, of a time axis of the timeline or scenes figure (11 inches less labels).
TIME_AXIS_PT = 600.0


def _mark_scale(n_scenes: int, mark_pt: float = 6.0) -> float:
    """Factor (≤ 1) on the diameter of scene marks ``mark_pt`` points wide with their gap
    (the timeline's ~5.5 pt dots: 6) so that ``n_scenes`` evenly spaced marks fit side by side
    on a :data:`TIME_AXIS_PT` axis: 1 up to 100 scenes of 6 pt, 0.5 at 200."""
    return min(1.0, TIME_AXIS_PT / mark_pt / max(n_scenes, 1))


def _date_nums(times: pd.Series) -> np.ndarray:
    """Matplotlib date numbers of UTC timestamps (drawn as UTC)."""
    import matplotlib.dates as mdates

    times = pd.to_datetime(pd.Series(times), utc=True)
    return np.asarray(mdates.date2num(times.dt.tz_localize(None)), float)


def type_colors(types: Iterable[str]) -> dict[str, str]:
    """A colour per aircraft type among ``types`` (e.g. a run's detection types, repeats
    counting): the most frequent types first get tab10's, then Dark2's, then Set1's colours
    (greys left out; they repeat after 24 types); ``unknown`` is grey. Pass the mapping as
    ``colors=`` to :func:`plot_scene` and :func:`plot_chips` so a run's figures agree (as
    :func:`report_figures` does)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    palette = [
        to_hex(c)
        for name in ("tab10", "Dark2", "Set1")
        for c in colormaps[name].colors
        if len({round(v, 2) for v in c[:3]}) > 1  # not a grey
    ]
    counts = pd.Series([str(t) for t in types], dtype=str).value_counts()
    known = sorted((t for t in counts.index if t != UNKNOWN), key=lambda t: (-counts[t], t))
    colors = {t: palette[i % len(palette)] for i, t in enumerate(known)}
    return {**colors, UNKNOWN: UNKNOWN_COLOR}


def _colors(colors: Mapping[str, str] | None, detections: pd.DataFrame) -> dict[str, str]:
    """``colors`` (default :func:`type_colors` of the detections' types); other types grey."""
    if colors is None:
        colors = type_colors(detections["type"].astype(str))
    return defaultdict(lambda: UNKNOWN_COLOR, colors)


def _field(row: Any, name: str) -> Any:
    """A scene attribute from a :class:`~dwelltime.scenes.Scene` or a scenes-frame row;
    TypeError saying what to give for anything else (a scene id, a one-row frame, a row
    whose ``scene_id`` became the index)."""
    if isinstance(row, (pd.Series, Mapping)):
        if name in row:
            return row[name]
    elif not isinstance(row, (str, pd.DataFrame)) and hasattr(row, name):
        return getattr(row, name)
    raise TypeError(
        f"scene: give a row of RunResult.scenes with its {name!r} column (result.scenes.iloc[i], "
        f"or result.scenes.set_index('scene_id', drop=False).loc[id]) or a Scene, "
        f"not this {type(row).__name__}"
    )


def _polygon_path(geom: shapely.Geometry) -> Any:
    """One matplotlib Path of every polygon in ``geom`` (holes kept, any fill rule)."""
    from matplotlib.path import Path

    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    polygons = shapely.get_parts(shapely.orient_polygons(geom))
    for poly in polygons:
        if not isinstance(poly, shapely.Polygon) or poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)
            code = np.full(len(xy), Path.LINETO, dtype=np.uint8)
            code[0], code[-1] = Path.MOVETO, Path.CLOSEPOLY
            verts.append(xy)
            codes.append(code)
    if not verts:
        return None
    return Path(np.concatenate(verts), np.concatenate(codes))


def _draw_geoms(ax: Axes, geoms: Iterable[shapely.Geometry], **style: Any) -> None:
    """Polygons (holes kept) as patches; ``style``: PathPatch keywords."""
    from matplotlib.patches import PathPatch

    for geom in geoms:
        path = None if geom is None or geom.is_empty else _polygon_path(geom)
        if path is not None:
            ax.add_patch(PathPatch(path, **style))


def _offset(scene: Any) -> tuple[float, float]:
    """(east, north) metres the scene's content lies off the common frame: the co-registration
    columns ``shift_x_m``, ``shift_y_m`` (:mod:`dwelltime.coregister`); 0 where absent."""
    values = []
    for name in ("shift_x_m", "shift_y_m"):
        try:
            value = float(_field(scene, name))
        except (KeyError, AttributeError, TypeError, ValueError):
            value = 0.0
        values.append(value if math.isfinite(value) else 0.0)
    return values[0], values[1]


def _draw_image(
    ax: Axes,
    scene: Any,
    bounds: tuple[float, float, float, float],
    gsd_m: float,
    crs: str,
    *,
    limits: Any = "scene",
) -> tuple[float, float] | str | None:
    """Draw ``scene``'s image over ``bounds`` (metres in ``crs``) at ``gsd_m`` metres a pixel;
    returns the stretch limits used, so callers drawing the same scene again can pass them.

    Only that window is read (decimated by GDAL where coarser than the scene), with the
    per-scene stretch the detector saw (``limits``: ``"scene"`` to compute it, else a
    precomputed :func:`dwelltime.regrid.stretch_limits`), moved by the scene's
    co-registration offset so it lines up with corrected detections and coverage. No-data
    pixels are transparent over a light grey background. An image that cannot be read (moved
    or deleted since the run, as for a result read back elsewhere: :func:`dwelltime.pipeline.
    read_result`) leaves the grey background, says so there and in a warning naming the file,
    and returns :data:`UNREAD`, which given back as ``limits`` says so again without reading
    or warning: the rest of the figure is drawn all the same.
    """
    from dwelltime.errors import SceneError
    from dwelltime.regrid import (
        Grid,
        open_picture,
        read_to_grid,
        rgb_bands,
        stretch_limits,
        to_uint8,
    )
    from dwelltime.timesources import named_rgb_bands

    dx, dy = _offset(scene)
    minx, miny, maxx, maxy = bounds
    grid = Grid.over((minx + dx, miny + dy, maxx + dx, maxy + dy), gsd_m, crs)
    path = Path(_field(scene, "path"))
    ax.set_facecolor("#d9d9d9")
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    image = None
    if limits != UNREAD:  # not an image known to be unreadable, warned of already
        try:
            with open_picture(path) as ds:
                named = (
                    named_rgb_bands(path, ds.count)  # a frame row: read its metadata again
                    if isinstance(scene, (pd.Series, Mapping))
                    else getattr(scene, "rgb_bands", None)
                )
                bands = rgb_bands(ds, str(_field(scene, "provider")), named)
                if isinstance(limits, str):
                    limits = stretch_limits(ds, bands)
                image = to_uint8(
                    read_to_grid(ds, grid, indexes=bands, resampling="bilinear"), limits
                )
                has_data = read_to_grid(ds, grid)[0] > 0
        except (OSError, SceneError) as exc:  # rasterio's RasterioIOError is an OSError
            reason = "no such file" if not path.exists() else str(exc).splitlines()[0]
            log.warning("%s: image not drawn (%s); the figure shows the rest", path, reason)
    if image is None:
        ax.text(0.5, 0.5, f"image not read:\n{path.name}", ha="center", va="center",
                transform=ax.transAxes, color="0.3", fontsize=7)  # fmt: skip
        return UNREAD
    rgba = np.dstack([image.transpose(1, 2, 0), np.where(has_data, 255, 0).astype(np.uint8)])
    gx0, gy0, gx1, gy1 = grid.bounds
    ax.imshow(
        rgba,
        extent=(gx0 - dx, gx1 - dx, gy0 - dy, gy1 - dy),
        origin="upper",
        interpolation="antialiased",
    )
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    return limits


def _scale_bar(
    ax: Axes, bounds: tuple[float, float, float, float], length_m: float, *, fontsize: float
) -> None:
    """A white bar ``length_m`` metres long labelled with it (``10 m``) at the lower left of
    ``bounds`` (the drawn map's minx, miny, maxx, maxy in metres), 8 % of its shorter side in
    from its edges, edged in black so that it reads on concrete, grass and in grey print
    (gid ``scale``)."""
    side = min(bounds[2] - bounds[0], bounds[3] - bounds[1])
    x0, y0 = bounds[0] + 0.08 * side, bounds[1] + 0.08 * side
    ax.plot(
        [x0, x0 + length_m],
        [y0, y0],
        color="white",
        lw=2.5,
        solid_capstyle="butt",
        gid="scale",
        path_effects=_halo(4.0),
    )
    ax.text(
        x0 + length_m / 2,
        y0 + 0.03 * side,
        f"{length_m:g} m",
        color="white",
        fontsize=fontsize,
        ha="center",
        va="bottom",
        path_effects=_halo(1.5),
        gid="scale",
    )


def _halo(width_pt: float) -> list[Any]:
    """Path effects drawing a black edge ``width_pt`` points wide under a line or text, so
    that white or yellow reads on light concrete and in grey print."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=width_pt, foreground="black")]


def _round_length(target_m: float) -> float:
    """The longest of 1, 2, 5 × 10^k metres not over ``target_m`` (a scale bar's length)."""
    power = 10.0 ** math.floor(math.log10(target_m))
    return max(step * power for step in (1, 2, 5) if step * power <= target_m)


def _metre_axes(ax: Axes, crs: object) -> None:
    """Easting/northing labels in metres of ``crs``, no offset or scientific notation."""
    from pyproj import CRS

    name = CRS.from_user_input(crs).to_string() if crs is not None else "local CRS"
    for axis in (ax.xaxis, ax.yaxis):
        axis.get_major_formatter().set_useOffset(False)
        axis.get_major_formatter().set_scientific(False)
    ax.set_xlabel(f"easting (m, {name})")
    ax.set_ylabel(f"northing (m, {name})")
    ax.tick_params(labelsize=8)


def plot_scene(
    scene: Any,
    aprons: gpd.GeoDataFrame,
    coverage: gpd.GeoDataFrame | None = None,
    detections: gpd.GeoDataFrame | None = None,
    *,
    pad_m: float = 40.0,
    min_score: float = 0.0,
    max_px: int = SCENE_MAX_PX,
    colors: Mapping[str, str] | None = None,
) -> Figure:
    """One scene around the aprons with what the run made of it.

    ``scene``: a row of ``RunResult.scenes`` (or a :class:`~dwelltime.scenes.Scene`). The image
    is read decimated (at most ``max_px`` pixels a side) over the aprons' bounds plus ``pad_m``
    metres, resampled into the aprons' CRS (north up, axes in metres, a scale bar of a round
    length near a fifth of the width at the lower left) with the per-scene
    stretch the detector saw. Drawn over it: apron outlines (yellow) and names (those that do
    not overlap another, the largest aprons' first), the scene's visible part
    of each apron from ``coverage`` (green) and what it did not see (red hatch), and this
    scene's ``detections`` with ``score >= min_score``: footprints coloured by type
    (``colors``, default :func:`type_colors` of the types drawn) labelled ``TYPE score``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scene_id = str(_field(scene, "scene_id"))
    crs = aprons.crs
    fig = _new_figure(_map_size(aprons.total_bounds, pad_m) if not aprons.empty else (8, 6))
    ax = fig.add_subplot()
    title = [
        f"{scene_id} — {_utc(_field(scene, 'acquired'))}",
        f"{_field(scene, 'gsd_m'):.2f} m GSD, time from {_field(scene, 'time_source')}",
    ]
    dx, dy = _offset(scene)
    moved_x, moved_y = round(-dx, 1) + 0.0, round(-dy, 1) + 0.0  # + 0.0: no "-0.0"
    if moved_x or moved_y:  # a move under 0.05 m would read "(+0.0, +0.0)": not said
        title[1] += f", image moved ({moved_x:+.1f}, {moved_y:+.1f}) m E, N by co-registration"
    if aprons.empty:
        ax.set_title("\n".join(title), fontsize=10)
        _say(ax, "no aprons")
        return fig
    minx, miny, maxx, maxy = aprons.total_bounds
    bounds = (minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m)
    side = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    _draw_image(ax, scene, bounds, max(float(_field(scene, "gsd_m")), side / max_px), str(crs))

    apron = Line2D([], [], color=APRON_COLOR, lw=1.5, path_effects=_halo(3.0), label="apron")
    handles: list[Any] = [apron]
    cover = _rows(coverage, scene_id)
    if cover is not None:
        visible = shapely.union_all(cover.geometry.to_numpy())
        hidden = shapely.union_all(aprons.geometry.to_numpy()).difference(visible)
        _draw_geoms(ax, [visible], facecolor=VISIBLE_COLOR, alpha=0.08, edgecolor="none")
        _draw_geoms(ax, [visible], facecolor="none", edgecolor=VISIBLE_COLOR, lw=1.0)
        _draw_geoms(
            ax, [hidden], facecolor="none", edgecolor=NOT_VISIBLE_COLOR, hatch="///", lw=0.8
        )
        fraction = cover.set_index("apron_id")["visible_fraction"]
        title.append(
            "apron visible: " + ", ".join(f"{a} {100 * f:.0f} %" for a, f in fraction.items())
        )
        handles += [
            Patch(facecolor=VISIBLE_COLOR, alpha=0.4, edgecolor=VISIBLE_COLOR, label="visible"),
            Patch(
                facecolor="none",
                edgecolor=NOT_VISIBLE_COLOR,
                hatch="///",
                label="not visible (no data, cloud)",
            ),
        ]
    _draw_geoms(
        ax,
        aprons.geometry,
        facecolor="none",
        edgecolor=APRON_COLOR,
        lw=1.5,
        path_effects=_halo(3.0),
    )
    names = _apron_names(ax, aprons, APRON_COLOR)

    dets = _rows(detections, scene_id)
    if dets is not None:
        dets = dets[dets["score"].astype(float) >= min_score]
        colors = _colors(colors, dets)
        for det in dets.itertuples(index=False):
            color = colors[str(det.type)]
            _draw_geoms(ax, [det.geometry], facecolor="none", edgecolor=color, lw=1.6)
            ax.annotate(
                f"{det.type} {det.score:.2f}",
                (det.x, det.geometry.bounds[3]),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color="black",
                bbox={"boxstyle": "round,pad=0.15", "fc": color, "ec": "none", "alpha": 0.8},
                clip_on=True,
            )
        handles += [
            Patch(facecolor="none", edgecolor=colors[t], lw=1.6, label=t)
            for t in sorted(dets["type"].astype(str).unique())
        ]
        floor = f" with score ≥ {min_score:g}" if min_score > 0 else ""
        title.append(f"{len(dets)} detection(s){floor}, labelled type and score")
    ax.set_title("\n".join(title), fontsize=10)
    _metre_axes(ax, crs)
    _scale_bar(ax, bounds, _round_length((bounds[2] - bounds[0]) / 5), fontsize=9)
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
    _drop_overlapping(fig, names)
    return fig


def _apron_names(ax: Axes, aprons: gpd.GeoDataFrame, color: str) -> list[Any]:
    """Each apron's id at a point inside it, 11 pt bold in ``color`` edged in black (gid
    ``apron``), the largest aprons' first; the texts, in that order."""
    texts = []
    for i in np.argsort(-aprons.geometry.area.to_numpy(), kind="stable"):
        apron = aprons.iloc[i]
        x, y = apron.geometry.representative_point().coords[0]
        texts.append(
            ax.annotate(
                str(apron["apron_id"]),
                (x, y),
                color=color,
                fontsize=11,
                fontweight="bold",
                ha="center",
                va="center",
                path_effects=_halo(2.5),
                gid="apron",
            )
        )
    return texts


def _drop_overlapping(fig: Figure, texts: list[Any]) -> None:
    """Lay ``fig`` out (its layout engine only, not drawn: saving it draws it once) and remove
    each of ``texts`` that would overlap one kept before it: of many small aprons (an OSM
    export's), the names that fit."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    renderer = fig.canvas.get_renderer()
    kept: list[Any] = []
    for text in texts:
        box = text.get_window_extent(renderer)
        if any(box.overlaps(other) for other in kept):
            text.remove()
        else:
            kept.append(box)


def _map_size(bounds: Any, pad_m: float) -> tuple[float, float]:
    """Figure size (inches) for a map of ``bounds`` + ``pad_m`` with titles and a legend at
    the right: the longer map side 8 inches."""
    width, height = bounds[2] - bounds[0] + 2 * pad_m, bounds[3] - bounds[1] + 2 * pad_m
    scale = 8.0 / max(width, height)
    return (max(width * scale, 3.0) + 3.2, max(height * scale, 3.0) + 1.6)


def _rows(frame: gpd.GeoDataFrame | None, scene_id: str) -> gpd.GeoDataFrame | None:
    """The rows of ``frame`` for one scene; None when there is no frame."""
    if frame is None:
        return None
    return frame[frame["scene_id"].astype(str) == scene_id]


def plot_scenes(
    scenes: pd.DataFrame | Sequence[Scene],
    coverage: pd.DataFrame | None = None,
    *,
    skipped: int = 0,
    max_labels: int = 60,
) -> Figure:
    """Scenes on a UTC time axis, one row per scene in time order, labelled ``scene_id · time
    source · GSD (m)`` (up to ``max_labels`` rows; more scenes share unlabelled rows, with
    smaller marks: :func:`_mark_scale`). ``scenes``: ``RunResult.scenes``, or the
    :class:`~dwelltime.scenes.Scene` list of a scan (``scan(folder).scenes``).

    Each marker is coloured by the mean visible fraction of the aprons in that scene
    (``coverage``); a grey cross marks a scene the run has no coverage for. Without
    ``coverage`` (the scenes of a scan, before any run) every scene is one plain dot.
    ``skipped``: inputs the run could not use (the title says so).
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    from dwelltime.scenes import scenes_frame

    if not isinstance(scenes, pd.DataFrame):
        scenes = scenes_frame(scenes)

    n = len(scenes)
    labelled = n <= max_labels
    fig = _new_figure((11, 1.4 + 0.3 * (n if labelled else 12)))
    ax = fig.add_subplot()
    note = f"; {skipped} input(s) skipped, see RunResult.errors" if skipped else ""
    ax.set_title(f"{n} scene(s) on the time axis{note}", fontsize=10)
    if n == 0:
        _say(ax, "no scenes")
        return fig
    scenes = scenes.sort_values(["acquired", "scene_id"], ascending=False)
    times = _date_nums(scenes["acquired"])
    rows = np.arange(n, dtype=float)
    share = _visible_share(scenes, coverage)
    seen = np.isfinite(share) | (coverage is None)  # no run: none it has no coverage for
    scale = 1.0 if labelled else _mark_scale(n, 9.0)  # unlabelled: many scenes, smaller marks
    if labelled:  # lines from each label to its scene
        ax.hlines(rows, times.min(), times, color="#e0e0e0", lw=0.8, zorder=1)
    ax.scatter(
        times[~seen],
        rows[~seen],
        s=60 * scale**2,
        marker="x",
        color=HIDDEN_COLOR,
        zorder=3,
        label="no coverage of this scene in the run",
    )
    shade = (
        {"color": SEEN_COLOR}
        if coverage is None
        else {"c": share[seen], "cmap": colormaps[VISIBLE_CMAP], "norm": Normalize(0, 100)}
    )
    points = ax.scatter(
        times[seen],
        rows[seen],
        **shade,
        s=70 * scale**2,
        edgecolor="black",
        linewidth=0.6 * scale,
        zorder=3,
    )
    if labelled:
        for t, row, when in zip(times, rows, scenes["acquired"], strict=True):
            ax.annotate(
                f"{pd.Timestamp(when):%m-%d %H:%M}",
                (t, row),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color="0.25",
            )
        labels = [
            f"{sid} · {source} · {gsd:.2f} m"
            for sid, source, gsd in zip(
                scenes["scene_id"], scenes["time_source"], scenes["gsd_m"], strict=True
            )
        ]
        ax.set_yticks(rows, labels, fontsize=8)
    else:
        ax.set_yticks([])
    ax.set_ylim(-0.7, n - 0.3)
    if coverage is not None:
        fig.colorbar(points, ax=ax, label="aprons visible, mean (%)", pad=0.01, fraction=0.04)
    span = (times.max() - times.min()) or 1.0
    ax.set_xlim(times.min() - 0.03 * span, times.max() + 0.13 * span)
    _date_axis(ax, "acquired", scenes["acquired"])
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    if not seen.all():  # say what the grey crosses are
        ax.legend(loc="upper right", fontsize=8)
    return fig


def _visible_share(scenes: pd.DataFrame, coverage: pd.DataFrame | None) -> np.ndarray:
    """Per scene, the mean visible fraction of the aprons in percent; NaN without coverage."""
    if coverage is None or coverage.empty:
        return np.full(len(scenes), np.nan)
    mean = coverage.groupby(coverage["scene_id"].astype(str))["visible_fraction"].mean()
    return 100 * mean.reindex(scenes["scene_id"].astype(str)).to_numpy(float)


#: Most scenes (columns) of :func:`plot_coverage`'s table whose cells are labelled with their
#: percentage: an 8 pt "100" is 15 pt wide, the table about 420 pt, so more scenes than 20
#: would run the labels into each other (the colours still say it).
LABELLED_SCENES = 20
#: Height, in inches, of an apron's row in :func:`plot_coverage`'s table (its 8 pt labels and
#: a gap): over 24 aprons the figure grows so that they do not overlap.
APRON_ROW_IN = 0.16
#: Most scenes whose counts :func:`plot_coverage`'s map shows as one colour each, its
#: colourbar marking each count's edges; over that, a continuous scale: hundreds of colours
#: no eye tells apart drew the colourbar as a comb of as many tick marks.
BINNED_COUNTS = 24


def plot_coverage(
    coverage: gpd.GeoDataFrame, aprons: gpd.GeoDataFrame, *, gsd_m: float = 2.0
) -> Figure:
    """Where and when the aprons were seen.

    Left, a map in the aprons' CRS: for each spot of the aprons, in how many of the scenes it
    was visible (data present and not cloud; ``gsd_m`` metre cells; a colour per count up to
    :data:`BINNED_COUNTS` scenes, a continuous scale over that). Right, the visible
    fraction (%) of each apron in each scene, scenes in time order (UTC; the year in the axis
    label, or in each scene's when they span more than one), each cell labelled with its
    percentage up to :data:`LABELLED_SCENES` scenes; the figure grows with the aprons
    (:data:`APRON_ROW_IN`). Spots seen in few scenes are where stays get open or loose bounds.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, Normalize
    from matplotlib.ticker import MaxNLocator
    from rasterio.features import rasterize

    from dwelltime.regrid import Grid

    n_aprons = coverage["apron_id"].nunique()
    fig = _new_figure((13, max(5.5, 1.8 + APRON_ROW_IN * n_aprons)))  # a row per apron
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    order = scene_times(coverage.iloc[:0], coverage) if not coverage.empty else None
    n = 0 if order is None else len(order)
    fig.suptitle(f"Coverage of the aprons by {n} scene(s)", fontsize=11)
    if n == 0 or aprons.empty:
        _say(left, "no coverage" if n == 0 else "no aprons")
        right.set_axis_off()
        return fig

    minx, miny, maxx, maxy = aprons.total_bounds
    grid = Grid.over((minx - 10, miny - 10, maxx + 10, maxy + 10), gsd_m, aprons.crs.to_string())
    count = np.zeros(grid.shape, np.int32)
    for _, rows in coverage.groupby("scene_id"):
        seen = shapely.union_all(rows.geometry.to_numpy())
        if not seen.is_empty:
            count += rasterize(
                [seen],
                out_shape=grid.shape,
                transform=grid.transform,
                fill=0,
                default_value=1,
                dtype="uint8",
            )
    inside = rasterize(
        list(aprons.geometry),
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        default_value=1,
        dtype="uint8",
    ).astype(bool)
    cmap, norm = colormaps["viridis"], Normalize(0, n)
    if n <= BINNED_COUNTS:
        cmap, norm = cmap.resampled(n + 1), BoundaryNorm(np.arange(-0.5, n + 1.5), n + 1)
    bx0, by0, bx1, by1 = grid.bounds
    shown = left.imshow(
        np.ma.masked_where(~inside, count),
        cmap=cmap,
        norm=norm,
        extent=(bx0, bx1, by0, by1),
        origin="upper",
        interpolation="nearest",
    )
    _draw_geoms(left, aprons.geometry, facecolor="none", edgecolor="black", lw=1.0)
    names = _apron_names(left, aprons, "white")
    left.set_aspect("equal")
    left.set_xlim(bx0, bx1)
    left.set_ylim(by0, by1)
    _metre_axes(left, aprons.crs)
    left.set_title("scenes with a clear view of each spot", fontsize=10)
    ticks = MaxNLocator(nbins=10, integer=True)  # evenly: 0, 2, … 12, not 0, 1, 2, 4, … 12
    fig.colorbar(shown, ax=left, ticks=ticks, label=f"scenes (of {n})", shrink=0.8)

    table = coverage.pivot_table(
        index="apron_id", columns="scene_id", values="visible_fraction", aggfunc="max"
    )
    table = 100 * table.reindex(columns=order["scene_id"])
    cells = right.imshow(
        table.to_numpy(float),
        cmap=VISIBLE_CMAP,
        vmin=0,
        vmax=100,
        aspect="auto",
        interpolation="nearest",
    )
    if table.shape[1] <= LABELLED_SCENES:
        for (row, col), value in np.ndenumerate(table.to_numpy(float)):
            if np.isfinite(value):
                ink = _ink(cells.cmap(cells.norm(value)))
                right.text(
                    col, row, f"{value:.0f}", ha="center", va="center", fontsize=8, color=ink
                )
    labels, year = _short_times(order["acquired"])
    step = max(1, math.ceil(len(labels) / 40))
    right.set_xticks(
        range(0, len(labels), step), labels[::step], rotation=60, ha="right", fontsize=7
    )
    right.set_yticks(range(len(table)), table.index.astype(str), fontsize=8)
    right.set_xlabel(f"scene acquired (UTC{f', {year}' * bool(year)})")
    right.set_ylabel("apron")
    right.set_title("visible fraction of each apron per scene (%)", fontsize=10)
    fig.colorbar(cells, ax=right, label="visible (%)", shrink=0.8)
    _drop_overlapping(fig, names)
    return fig


def _ink(rgba: tuple[float, ...]) -> str:
    """Black or white, whichever reads on a cell of colour ``rgba`` (by its grey level)."""
    return "black" if float(np.dot(rgba[:3], (0.299, 0.587, 0.114))) > 0.5 else "white"


def plot_chips(
    detections: gpd.GeoDataFrame,
    scenes: pd.DataFrame,
    *,
    max_chips: int = 24,
    ncols: int = 6,
    colors: Mapping[str, str] | None = None,
    what: str = "detection(s)",
) -> Figure:
    """A gallery of detections, the first ``max_chips`` rows of ``detections`` in their order
    (sort first, e.g. by ``score``, to choose); ``what`` they are, in the title (``"2 of 5
    detection(s), north up: …"``) and, when there are none, on the figure (``"no
    detections"``).

    Each chip is cut from its scene (``scenes``: rows with ``scene_id``, ``path``,
    ``provider``, ``gsd_m``) around the detection, at most :data:`CHIP_PX` pixels a side,
    north up in the detections' CRS, with the oriented footprint outlined in the type's colour
    (``colors``, default :func:`type_colors` of the types shown) and a 10 m scale bar; titled
    with type (probability), length × span in metres, score and acquisition time (UTC; the
    year in the title, or in each chip's when they span more than one).
    """
    total = len(detections)
    dets = detections.head(max_chips)
    n = len(dets)
    cols = max(3, min(ncols, n))
    rows = max(1, math.ceil(n / cols))
    fig = _new_figure((1.9 * cols + 0.4, 2.35 * rows + 0.5))
    shown = f"{n} of {total}" if n < total else f"{n}"
    times, year = _short_times(dets["acquired"])
    fig.suptitle(
        f"{shown} {what}, north up: type (prob), length × span, score, "
        f"time (UTC{f', {year}' * bool(year)})",
        fontsize=10,
    )
    if n == 0:
        _say(fig.add_subplot(), f"no {what.replace('(s)', 's')}")
        return fig

    colors = _colors(colors, dets)
    by_id = scenes.set_index(scenes["scene_id"].astype(str))
    crs = detections.crs.to_string()
    limits: dict[str, Any] = {}
    for i, (det, time) in enumerate(zip(dets.itertuples(index=False), times, strict=True)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        color = colors[str(det.type)]
        ax.set_title(
            f"{det.type} ({det.type_prob:.2f})\n{det.length_m:.0f} × {det.wingspan_m:.0f} m, "
            f"score {det.score:.2f}\n{time} UTC",
            fontsize=7.5,
        )
        for side in ax.spines.values():
            side.set_edgecolor(color)
            side.set_linewidth(2.5)
        sid = str(det.scene_id)
        if sid not in by_id.index:
            _say(ax, "scene not in\nthis run")
            continue
        scene = by_id.loc[sid]
        half = 0.75 * max(float(np.nanmax([det.length_m, det.wingspan_m, 0.0])), 30.0)
        gsd = max(float(scene["gsd_m"]), 2 * half / CHIP_PX)
        bounds = (det.x - half, det.y - half, det.x + half, det.y + half)
        limits[sid] = _draw_image(ax, scene, bounds, gsd, crs, limits=limits.get(sid, "scene"))
        _draw_geoms(ax, [det.geometry], facecolor="none", edgecolor=color, lw=1.2)
        _scale_bar(ax, bounds, 10.0, fontsize=6.5)
    return fig


#: Names of the figures :func:`report_figures` draws (``scene`` only when there are scenes).
REPORT_FIGURES: tuple[str, ...] = ("scenes", "coverage", "scene", "chips", "timeline")


def report_figures(result: RunResult, *, max_chips: int = 24) -> dict[str, Figure]:
    """The figures of a run, by name: ``scenes`` (:func:`plot_scenes`), ``coverage``
    (:func:`plot_coverage`), ``scene`` (:func:`plot_scene` of the scene with the most
    detections, the first scene on a tie; absent without scenes), ``chips``
    (:func:`plot_chips`, best scores first) and ``timeline`` (:func:`plot_timeline`, by the
    run's ``link_config``). A run kept to a ``type_filter`` shows in ``chips`` the sightings
    of its stays of that type (so named in the title), and in ``scene`` the scene with the
    most of them (the busiest scene when there are none).

    Save them with ``fig.savefig(out / f"{name}.png", dpi=FIGURE_DPI)`` (or ``.svg``,
    ``.pdf``: :data:`dwelltime.formats.FIGURE_FORMATS`, ``FIGURE_DPI`` there too), as
    :func:`dwelltime.pipeline.write_result` does.
    """
    colors = type_colors(result.detections["type"].astype(str))
    figures = {
        "scenes": plot_scenes(result.scenes, result.coverage, skipped=len(result.errors)),
        "coverage": plot_coverage(result.coverage, result.aprons),
    }
    chips, what = result.detections, "detection(s)"
    if result.type_filter:
        kept = ";".join(result.stays["detection_ids"].astype(str)).split(";")
        chips = chips[chips["detection_id"].astype(str).isin(kept)]
        what = f"sighting(s) of the {result.type_filter} stays"
    if not result.scenes.empty:
        counts = (chips if len(chips) else result.detections)["scene_id"].astype(str)
        counts = counts.value_counts()
        ids = result.scenes["scene_id"].astype(str)
        busiest = int(np.argmax(ids.map(counts).fillna(0).to_numpy()))
        figures["scene"] = plot_scene(
            result.scenes.iloc[busiest],
            result.aprons,
            result.coverage,
            result.detections,
            colors=colors,
        )
    figures["chips"] = plot_chips(
        chips.sort_values("score", ascending=False),
        result.scenes,
        max_chips=max_chips,
        colors=colors,
        what=what,
    )
    figures["timeline"] = plot_timeline(
        result.stays,
        result.coverage,
        result.detections,
        config=result.link_config,
        type_filter=result.type_filter,
        flights=result.flights,
    )
    return figures


#: What a timeline row label says (the legend's title), e.g. ``ZKPY-0009  IL62 (1.00)  ~33 h``.
ROW_KEY = "rows: stay, type (type probability), ~estimated dwell or ≥ minimum where an end is open"


def plot_timeline(
    stays: pd.DataFrame | pd.Series,
    coverage: pd.DataFrame,
    detections: pd.DataFrame,
    *,
    config: LinkConfig | None = None,
    max_rows: int = 60,
    type_filter: str | None = None,
    flights: pd.DataFrame | None = None,
) -> Figure:
    """One row per stay (earliest first) on a UTC time axis; at most ``max_rows`` rows (the
    longest dwells by :func:`~dwelltime.dwell.ranking_hours`; the title says how many of how
    many; it names the type when every stay is of one, or ``type_filter``: the ``--type`` the
    stays were kept to, when none is of it the figure says so and names the types detected).

    Per scene of the stay's airport: filled dot = seen, open circle = stand visible and aircraft
    not detected (absent, or a tolerated miss inside the stay), grey x = stand not visible
    (marks shrink over 100 scenes so that they stay apart: :func:`_mark_scale`). Narrow dark
    bar = ``[first_seen, last_seen]`` (dwell_min); wide light bar = ``[last_absent_before,
    first_absent_after]`` (dwell_max); an arrow at a light bar's end marks a censored (open)
    end, an orange tick an end a flight-log row bounds (``*_bounded_by`` ``flight:<row>``: the
    arrival or departure it recorded). ``flights``: the run's flight log
    (:data:`dwelltime.flights.FLIGHT_COLUMNS`), each of its movements at the figure's airports
    (of ``type_filter`` when given) a mark on the top edge, ▼ arrival, ▲ departure, the legend
    saying how many (none bounding a stay too). ``config`` gives the visibility rule
    (``min_visible_fraction``) used when linking (default ``LinkConfig()``). ``stays`` may be
    one stay, a row (``result.stays.iloc[0]``).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(stays, pd.Series):
        stays = pd.DataFrame([stays]).infer_objects()
    total = len(stays)
    types = set(stays["type"].astype(str))
    if total > max_rows:
        stays = stays.loc[ranking_hours(stays).nlargest(max_rows).index]
    stays = stays.sort_values(["first_seen", "stay_id"], ascending=[False, False])
    scenes = scene_times(detections, coverage)
    n = len(stays)
    fig = _new_figure((11, 1.6 + 0.45 * max(n, 2)))
    ax = fig.add_subplot()
    airports = sorted(set(stays["airport"].astype(str)) | set(coverage["airport"].astype(str)))
    shown = f"{n} stay(s)" if n == total else f"{n} longest of {total} stays"
    where = f" at {', '.join(airports)}" if airports else ""
    of = type_filter or (types.pop() if len(types) == 1 else "")
    ax.set_title(f"Stays{f' of {of}' * bool(of)}{where} — {shown}")
    ax.set_xlabel("time (UTC)")
    if n == 0 or scenes.empty:
        _say(
            ax,
            "no scenes to place the stays on (empty coverage)"
            if n
            else _no_stays(type_filter or "", detections),
        )
        return fig

    visible = stay_visibility(stays, coverage, config or LinkConfig()).reindex(
        columns=scenes["scene_id"], fill_value=False
    )
    times = _date_nums(scenes["acquired"])
    airport_of = pd.concat([detections[["scene_id", "airport"]], coverage[["scene_id", "airport"]]])
    airport_of = airport_of.astype(str).drop_duplicates("scene_id").set_index("scene_id")
    scene_airports = scenes["scene_id"].map(airport_of["airport"]).to_numpy()
    span = times.max() - times.min() or 1.0
    left, right = times.min() - 0.03 * span, times.max() + 0.03 * span
    scale = _mark_scale(len(times))
    _draw_intervals(ax, stays, left, right)
    flown = _draw_flight_ends(ax, stays)
    marks: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {
        kind: ([], []) for kind in ("seen", "absent", "hidden")
    }
    for row, stay in enumerate(stays.itertuples(index=False)):
        seen = np.isin(scenes["scene_id"], str(stay.scene_ids).split(";"))
        vis = visible.loc[str(stay.stay_id)].to_numpy(bool)
        here = scene_airports == str(stay.airport)  # no marks at other airports' scenes
        kinds = {"seen": seen, "absent": vis & ~seen & here, "hidden": ~vis & ~seen & here}
        for kind, where in kinds.items():
            marks[kind][0].append(times[where])
            marks[kind][1].append(np.full(where.sum(), row))
    style = {
        "seen": {"s": 30 * scale**2, "color": SEEN_COLOR, "edgecolor": "white"},
        "absent": {"s": 28 * scale**2, "facecolor": "white", "edgecolor": SEEN_COLOR},
        "hidden": {"s": 18 * scale**2, "marker": "x", "color": HIDDEN_COLOR},
    }
    width = {"seen": 0.8 * scale, "absent": scale, "hidden": scale}
    for kind, (xs, rows) in marks.items():  # one collection per kind: fast with many stays
        ax.scatter(
            np.concatenate(xs),
            np.concatenate(rows),
            linewidth=width[kind],
            zorder=3,
            gid=kind,
            **style[kind],
        )

    ax.set_yticks(range(n), [_label(s) for s in stays.itertuples(index=False)], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.tick_params(axis="y", pad=10)
    ax.set_xlim(left, right)
    _date_axis(ax, "time", scenes["acquired"])
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    handles = [
        Line2D([], [], ls="", marker="o", color=SEEN_COLOR, label="seen"),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="white",
            mec=SEEN_COLOR,
            label="visible, not detected",
        ),
        Line2D([], [], ls="", marker="x", color=HIDDEN_COLOR, label="not visible"),
        Patch(color=MIN_COLOR, label="min: first–last seen"),
        Patch(color=MAX_COLOR, label="max: absent–absent"),
        Line2D([], [], ls="", marker=">", color=OPEN_COLOR, label="open (censored)"),
    ]
    if flown:
        flight = {"marker": "|", "ms": 12, "mew": 2, "color": FLIGHT_COLOR}
        handles.append(Line2D([], [], ls="", label="flight-log arrival/departure", **flight))
    if flights is not None:
        logged = _draw_log(ax, flights, airports, type_filter)
        label = f"flight log: {logged} movement(s), ▼ arrival ▲ departure (top edge)"
        handles.append(Line2D([], [], ls="", marker="v", color=FLIGHT_COLOR, label=label))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles) if len(handles) <= 7 else math.ceil(len(handles) / 2),  # 11 in
        fontsize=8,
        frameon=False,
        title=ROW_KEY,
        title_fontsize=8,
    )
    return fig


def _draw_intervals(ax, stays: pd.DataFrame, left: float, right: float) -> None:
    """Per stay (row ``i`` = ``stays``' ``i``-th), a light max bar (to the axis edge ``left``
    / ``right``, date numbers, with an arrow when open) and a dark min bar; one call per
    kind of mark for all rows."""
    first, last = _date_nums(stays["first_seen"]), _date_nums(stays["last_seen"])
    open_start = stays["censored_start"].to_numpy(bool)
    open_end = stays["censored_end"].to_numpy(bool)
    start = np.where(open_start, left, _date_nums(stays["last_absent_before"]))
    end = np.where(open_end, right, _date_nums(stays["first_absent_after"]))
    rows = np.arange(len(stays))
    ax.barh(rows, end - start, left=start, height=0.5, color=MAX_COLOR, zorder=1, gid="max")
    ax.barh(
        rows,
        np.maximum(last - first, 0.0),
        left=first,
        height=0.22,
        color=MIN_COLOR,
        zorder=2,
        gid="min",
    )
    for is_open, x, marker in ((open_start, start, "<"), (open_end, end, ">")):
        if is_open.any():
            ax.plot(
                x[is_open],
                rows[is_open],
                ls="",
                marker=marker,
                color=OPEN_COLOR,
                ms=9,
                zorder=4,
                clip_on=False,
            )


def _draw_flight_ends(ax, stays: pd.DataFrame) -> bool:
    """Per stay (row ``i`` = ``stays``' ``i``-th), a tick at each end a flight-log row bounds
    (``start_bounded_by`` / ``end_bounded_by`` ``flight:<row>``): at ``last_absent_before``
    (the arrival) and ``first_absent_after`` (the departure), as one collection (gid
    ``flight``); whether there was any."""
    xs, rows = [], []
    for column, time in (
        ("start_bounded_by", "last_absent_before"),
        ("end_bounded_by", "first_absent_after"),
    ):
        bounds = stays[column] if column in stays else pd.Series("", index=stays.index)
        flown = bounds.astype(str).str.startswith("flight:").to_numpy()
        xs.append(_date_nums(stays[time])[flown])
        rows.append(np.arange(len(stays))[flown])
    x = np.concatenate(xs)
    if x.size:
        ax.scatter(
            x,
            np.concatenate(rows),
            marker="|",
            s=150,
            linewidth=2,
            color=FLIGHT_COLOR,
            zorder=4,
            gid="flight",
        )
    return bool(x.size)


def _draw_log(ax: Axes, flights: pd.DataFrame, airports: list[str], type_filter: str | None) -> int:
    """Each movement of ``flights`` at ``airports`` (of ``type_filter`` when given) within the
    axes' time range as a mark on their top edge: ▼ arrival, ▲ departure (gid ``log``); how
    many."""
    rows = flights[flights["airport"].astype(str).isin(airports)]
    if type_filter:
        rows = rows[rows["type"].astype(str) == type_filter]
    x = _date_nums(rows["time"])
    low, high = ax.get_xlim()
    inside = (x >= low) & (x <= high)
    for event, marker in (("arr", "v"), ("dep", "^")):
        pick = inside & (rows["event"] == event).to_numpy()
        ax.plot(
            x[pick],
            np.ones(int(pick.sum())),
            ls="",
            marker=marker,
            ms=6,
            color=FLIGHT_COLOR,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=5,
            gid="log",
        )
    return int(inside.sum())


def _label_hours(hours: float, *, at_least: bool = False) -> str:
    """Hours for a row label: one decimal under 10 h (a 20-minute stay is 0.3 h, not 0 h),
    whole hours above; a minimum (``at_least``) rounded down, so that "≥ 72 h" never stands
    for a stay seen over 71.9 h."""
    digits = 1 if hours < 10 else 0
    if at_least:
        hours = floor_hours(hours, digits)
    return f"{hours:.{digits}f}"


def _label(stay) -> str:
    est = (
        f"≥ {_label_hours(stay.dwell_min_h, at_least=True)} h"
        if math.isnan(stay.dwell_est_h)
        else f"~{_label_hours(stay.dwell_est_h)} h"
    )
    return f"{stay.stay_id}  {stay.type} ({stay.type_prob:.2f})  {est}"
