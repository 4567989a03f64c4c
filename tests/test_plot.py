"""Figures: scene with footprints, scenes on a time axis, coverage map, chips, timeline.

Scenes are tiny GeoTIFFs written by the ``write_raster`` fixture; every figure is checked
through the artists it holds (what is drawn where), and saved once to prove it renders.
"""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import geopandas as gpd
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib import patheffects
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from dwelltime.linking import LinkConfig, link_stays
from dwelltime.plot import (
    APRON_COLOR,
    UNKNOWN_COLOR,
    plot_chips,
    plot_coverage,
    plot_scene,
    plot_scenes,
    plot_timeline,
    report_figures,
    type_colors,
)
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS

CRS = "EPSG:32651"
T0 = pd.Timestamp("2026-07-31T00:00:00Z")
APRON = shapely.box(0, 0, 600, 300)


@pytest.fixture
def frames():
    """Six scenes 12 h apart, s2 clouded; an IL62 seen in s1, s3 and a TU20 in s4, s5."""
    scenes = {f"s{i}": T0 + pd.Timedelta(hours=12 * i) for i in range(6)}
    cover = gpd.GeoDataFrame(
        [
            (s, "ZKPY", "main", t, 1.0, shapely.Polygon() if s == "s2" else APRON)
            for s, t in scenes.items()
        ],
        columns=list(COVERAGE_COLUMNS),
        crs=CRS,
    )
    seen = [("s1", 100.0, "IL62"), ("s3", 100.0, "IL62"), ("s4", 300.0, "TU20")]
    seen += [("s5", 300.0, "TU20")]
    dets = gpd.GeoDataFrame(
        [
            (
                f"{s}:0",
                s,
                "ZKPY",
                scenes[s],
                x,
                100.0,
                90.0,
                50.0,
                40.0,
                t,
                0.9,
                0.9,
                shapely.Point(x, 100).buffer(25),
            )
            for s, x, t in seen
        ],
        columns=list(DETECTION_COLUMNS),
        crs=CRS,
    )
    return link_stays(dets, cover), cover, dets


def _marks(ax, gid: str) -> int:
    """How many scene marks of one kind (seen, absent, hidden) the axes hold."""
    return sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == gid)


def test_one_row_per_stay_with_scene_marks(frames, tmp_path):
    stays, cover, dets = frames
    fig = plot_timeline(stays, cover, dets)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 2 and "IL62" in labels[1] and "TU20" in labels[0]
    assert "ZKPY" in ax.get_title() and ax.get_xlabel() == "time (UTC, 2026-07-31 – 2026-08-02)"
    assert _marks(ax, "seen") == 4  # four sightings
    assert _marks(ax, "hidden") == 2  # the clouded scene, once per stay
    assert _marks(ax, "absent") == 2 * 6 - 4 - 2
    fig.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 1000


def test_one_stay_given_as_a_row_is_its_own_timeline(frames):
    """``plot_timeline(result.stays.iloc[0], …)`` in a notebook: that stay's row, not an
    AttributeError from a Series of its fields."""
    stays, cover, dets = frames
    ax = plot_timeline(stays.iloc[0], cover, dets).axes[0]
    (label,) = [t.get_text() for t in ax.get_yticklabels()]
    assert label.startswith(stays.iloc[0]["stay_id"]) and "IL62" in label
    assert _marks(ax, "seen") == stays.iloc[0]["n_seen"]


def test_marks_of_all_rows_are_one_collection_per_kind(frames):
    # One scatter per row and kind made a 300-stay timeline 900 collections, and its drawing
    # three times slower; all rows' marks of a kind are one collection.
    stays, cover, dets = frames
    ax = plot_timeline(stays, cover, dets).axes[0]
    assert sorted(c.get_gid() for c in ax.collections) == ["absent", "hidden", "seen"]
    assert len(ax.lines) <= 2  # open-end arrows: one line of "<", one of ">"


def test_a_stay_gets_marks_only_at_its_own_airports_scenes(frames):
    stays, cover, dets = frames
    moved = {"scene_id": lambda f: "u" + f["scene_id"], "airport": "UUEE"}
    moved["acquired"] = lambda f: f["acquired"] + pd.Timedelta(hours=1)
    other = link_stays(dets.assign(**moved), cover.assign(**moved))
    both = [pd.concat(pair) for pair in ((stays, other), (cover, cover.assign(**moved)))]
    ax = plot_timeline(*both, pd.concat([dets, dets.assign(**moved)])).axes[0]
    assert "UUEE, ZKPY" in ax.get_title()
    assert sum(_marks(ax, gid) for gid in ("seen", "absent", "hidden")) == 4 * 6  # not 4 * 12


def test_a_tolerated_miss_inside_a_stay_is_not_called_absent_in_the_legend(frames):
    _, cover, dets = frames
    clear = cover.assign(geometry=APRON)  # s2 visible: the IL62 (s1, s3) missed there
    il62 = dets[dets["type"] == "IL62"]
    stays = link_stays(il62, clear)
    assert len(stays) == 1 and stays["n_seen"].iloc[0] == 2  # one stay across the miss
    fig = plot_timeline(stays, clear, il62)
    open_marks = next(c for c in fig.axes[0].collections if c.get_gid() == "absent")
    s2 = mdates.date2num((T0 + pd.Timedelta(hours=24)).tz_localize(None))
    assert np.isclose(open_marks.get_offsets()[:, 0], s2).any()  # the miss, drawn open
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "visible, not detected" in labels and "visible, absent" not in labels


def test_bars_span_min_and_max(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays, cover, dets).axes[0]
    bars = {(p.get_gid(), round(p.get_y() + p.get_height() / 2)): p for p in ax.patches}
    hours = {k: round(p.get_width() * 24, 6) for k, p in bars.items()}
    # rows: 0 = TU20 (latest first seen), 1 = IL62
    assert hours[("min", 1)] == 24.0 and hours[("max", 1)] == 48.0  # s1–s3, s0–s4
    assert hours[("min", 0)] == 12.0
    open_bar = bars[("max", 0)]  # censored at the end: drawn to the right edge
    assert np.isclose(open_bar.get_x() + open_bar.get_width(), ax.get_xlim()[1])


def test_empty_stays_give_a_figure_saying_so(frames):
    stays, cover, dets = frames
    fig = plot_timeline(stays.iloc[:0], cover, dets.iloc[:0])
    assert "no stays" in [t.get_text() for t in fig.axes[0].texts]


def test_a_timeline_of_nothing_names_no_airport_and_stays_without_scenes_say_so(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays.iloc[:0], cover.iloc[:0], dets.iloc[:0]).axes[0]
    assert ax.get_title() == "Stays — 0 stay(s)"
    ax = plot_timeline(stays, cover.iloc[:0], dets.iloc[:0]).axes[0]
    assert ax.get_title() == "Stays at ZKPY — 2 stay(s)"
    assert [t.get_text() for t in ax.texts] == ["no scenes to place the stays on (empty coverage)"]


def test_row_labels_give_the_estimate_or_the_open_minimum(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays, cover, dets).axes[0]
    tu20, il62 = [t.get_text() for t in ax.get_yticklabels()]
    assert "TU20" in tu20 and tu20.endswith("≥ 12 h")  # censored: no estimate
    assert "IL62" in il62 and "~" in il62


def test_the_legend_says_what_a_row_label_gives(frames):
    stays, cover, dets = frames
    key = plot_timeline(stays, cover, dets).legends[0].get_title().get_text()
    assert "type probability" in key and "~estimated dwell" in key and "≥ minimum" in key


def test_row_labels_of_stays_under_an_hour_keep_a_decimal(frames):
    stays, cover, dets = frames
    short = stays.assign(dwell_min_h=[0.1, 0.4], dwell_est_h=[0.3, np.nan])  # IL62, TU20
    tu20, il62 = [t.get_text() for t in plot_timeline(short, cover, dets).axes[0].get_yticklabels()]
    assert tu20.endswith("≥ 0.4 h") and il62.endswith("~0.3 h")  # not "≥ 0 h", "~0 h"


def test_row_labels_round_an_open_minimum_down(frames):
    # A censored stay seen over 71.9 h read "≥ 72 h": a lower bound rounded up claims more
    # than the images show. The estimate is still rounded to the nearest.
    stays, cover, dets = frames
    long = stays.assign(dwell_min_h=[23.9, 71.9], dwell_est_h=[47.6, np.nan])  # IL62, TU20
    tu20, il62 = [t.get_text() for t in plot_timeline(long, cover, dets).axes[0].get_yticklabels()]
    assert tu20.endswith("≥ 71 h") and il62.endswith("~48 h")
    short = stays.assign(dwell_min_h=[0.1, 0.3 - 1e-12], dwell_est_h=[0.3, np.nan])
    tu20, _ = [t.get_text() for t in plot_timeline(short, cover, dets).axes[0].get_yticklabels()]
    assert tu20.endswith("≥ 0.3 h")  # 0.3 h give or take float noise: not floored to 0.2


def test_a_years_daily_scenes_get_marks_that_do_not_run_into_each_other(frames):
    _, _, dets = frames
    days = [T0 + pd.Timedelta(days=d) for d in range(400)]
    cover = gpd.GeoDataFrame(
        [(f"d{d}", "ZKPY", "main", t, 1.0, APRON) for d, t in enumerate(days)],
        columns=list(COVERAGE_COLUMNS),
        crs=CRS,
    )
    seen = dets.iloc[:2].assign(scene_id=["d100", "d101"], acquired=days[100:102])
    fig = plot_timeline(link_stays(seen, cover), cover, seen)
    fig.canvas.draw()
    ax = fig.axes[0]
    axis_pt = ax.get_window_extent().width * 72 / fig.dpi
    widest_pt = max(np.sqrt(c.get_sizes()).max() for c in ax.collections if len(c.get_sizes()))
    assert _marks(ax, "absent") == 398 and widest_pt * 400 <= axis_pt


def test_a_time_axis_across_new_year_names_both_years_and_no_misleading_month(frames):
    # The axis said "2026-Jan" under ticks "21 25 29 Jan 05", dating the December days January
    # 2026; a year of monthly ticks named no year at all. The label gives the first and last
    # day with their years, and no offset text names one month.
    stays, cover, dets = frames
    moved = {"acquired": lambda f: f["acquired"] - pd.Timedelta(days=213, hours=12)}
    fig = plot_timeline(stays.iloc[:0], cover.assign(**moved), dets.assign(**moved))
    assert fig.axes[0].get_xlabel() == "time (UTC)"  # no stays: nothing drawn on the axis
    stays = link_stays(dets.assign(**moved), cover.assign(**moved))
    ax = plot_timeline(stays, cover.assign(**moved), dets.assign(**moved)).axes[0]
    ax.figure.canvas.draw()
    assert ax.get_xlabel() == "time (UTC, 2025-12-29 – 2026-01-01)"
    assert ax.xaxis.get_major_formatter().get_offset() == ""
    ax = plot_scenes(cover.assign(time_source="stac", gsd_m=0.5, **moved)).axes[0]
    assert ax.get_xlabel() == "acquired (UTC, 2025-12-29 – 2026-01-01)"


def test_the_title_names_the_type_when_every_stay_is_of_one(frames):
    stays, cover, dets = frames
    il62 = stays[stays["type"] == "IL62"]
    assert plot_timeline(il62, cover, dets).axes[0].get_title() == (
        "Stays of IL62 at ZKPY — 1 stay(s)"
    )
    capped = plot_timeline(stays, cover, dets, max_rows=1).axes[0].get_title()
    assert capped == "Stays at ZKPY — 1 longest of 2 stays"  # the other is a TU20


def test_rows_are_capped_to_the_longest_stays(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays, cover, dets, max_rows=1).axes[0]
    (label,) = [t.get_text() for t in ax.get_yticklabels()]
    assert "IL62" in label and "1 longest of 2 stays" in ax.get_title()


# --- maps and chips over tiny rasters -------------------------------------------------------

X0, Y0 = 730_485.78, 4_345_043.01  # conftest's raster corner (Sunan, UTM 51N); 200 px at 0.5 m
APRON_BOX = shapely.box(X0 + 10, Y0 - 90, X0 + 90, Y0 - 10)


@pytest.fixture
def scene_frames(write_raster, tmp_path):
    """Two scenes over one apron: a (fully visible, an IL62 and a T204) and b (half clouded,
    the IL62 again), as the frames a run returns."""
    scenes = pd.DataFrame(
        {
            "scene_id": ["a", "b"],
            "path": [
                str(write_raster(tmp_path / f"{s}.tif", shape=(200, 200), seed=i))
                for i, s in enumerate("ab")
            ],
            "acquired": pd.to_datetime(["2023-07-31T02:00Z", "2023-08-01T05:00Z"], utc=True),
            "time_source": ["stac", "filename"],
            "provider": "unknown",
            "gsd_m": 0.5,
        }
    )
    aprons = gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[APRON_BOX], crs=CRS)
    half = shapely.box(X0 + 10, Y0 - 90, X0 + 50, Y0 - 10)
    cover = gpd.GeoDataFrame(
        [
            ("a", "ZKPY", "A", scenes["acquired"][0], 1.0, APRON_BOX),
            ("b", "ZKPY", "A", scenes["acquired"][1], 0.5, half),
        ],
        columns=list(COVERAGE_COLUMNS),
        crs=CRS,
    )
    dets = gpd.GeoDataFrame(
        [
            _detection("a:0", "a", scenes, 30, 50, "IL62", 0.9),
            _detection("a:1", "a", scenes, 70, 30, "T204", 0.6),
            _detection("b:0", "b", scenes, 30, 50, "IL62", 0.8),
        ],
        columns=list(DETECTION_COLUMNS),
        crs=CRS,
    )
    return scenes, aprons, cover, dets


def _detection(did, sid, scenes, dx, dy, kind, score):
    """A detection row, 20 x 16 m footprint centred ``dx`` m east, ``dy`` m south of X0, Y0."""
    x, y = X0 + dx, Y0 - dy
    t = scenes.set_index("scene_id").loc[sid, "acquired"]
    box = shapely.box(x - 10, y - 8, x + 10, y + 8)
    return (did, sid, "ZKPY", t, x, y, 90.0, 20.0, 16.0, kind, 0.8, score, box)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _edges(ax) -> list[str]:
    from matplotlib.colors import to_hex

    return [to_hex(p.get_edgecolor()) for p in ax.patches]


def test_type_colors_are_distinct_and_unknown_is_grey():
    types = ["T204", "IL62", "unknown", "A319", "IL62", *[f"X{i:02d}" for i in range(20)]]
    colors = type_colors(types)
    assert colors["unknown"] == UNKNOWN_COLOR and len(colors) == 24
    known = [c for t, c in colors.items() if t != "unknown"]
    assert len(set(known)) == 23 and UNKNOWN_COLOR not in known
    assert colors["IL62"] == "#1f77b4"  # the most frequent type gets the first colour
    assert type_colors(["T204", "IL62"]) == type_colors(["IL62", "T204"])


def test_scene_draws_image_aprons_coverage_and_footprints(scene_frames, tmp_path):
    scenes, aprons, cover, dets = scene_frames
    fig = plot_scene(scenes.iloc[1], aprons, cover, dets, pad_m=20)
    ax = fig.axes[0]
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    left, right, bottom, top = image.get_extent()
    assert left <= X0 - 10 and right >= X0 + 110 and bottom <= Y0 - 110 and top >= Y0 + 10
    alpha = image.get_array()[..., 3]
    assert alpha.max() == 255 and alpha.min() == 0  # padding beyond the raster: no data
    assert ax.get_xlim() == pytest.approx((X0 - 10, X0 + 110))
    assert "IL62 0.80" in _texts(fig) and "T204 0.60" not in _texts(fig)  # only scene b
    assert type_colors(["IL62"])["IL62"] in _edges(ax)
    title = ax.get_title()
    assert "b — 2023-08-01 05:00 UTC" in title and "A 50 %" in title
    assert "1 detection(s), labelled type and score" in title and "filename" in title
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"apron", "visible", "IL62"} <= set(legend)
    assert ax.get_xlabel() == "easting (m, EPSG:32651)"
    fig.savefig(tmp_path / "scene.png")


def test_a_scene_has_a_scale_bar_of_a_round_length(scene_frames):
    # The scene figure had metre axes but no scale bar, which a figure pasted into a report,
    # its axes cropped or unread, needs to give the size of what it shows.
    scenes, aprons, cover, dets = scene_frames
    ax = plot_scene(scenes.iloc[0], aprons, cover, dets, pad_m=20).axes[0]
    (bar,) = [line for line in ax.lines if line.get_gid() == "scale"]
    x0, x1 = bar.get_xdata()
    assert x1 - x0 == 20  # a fifth of the 120 m drawn (24 m), down to 1, 2 or 5 × 10^k
    assert [t.get_text() for t in ax.texts if t.get_gid() == "scale"] == ["20 m"]
    chip = plot_chips(dets.iloc[:1], scenes).axes[0]
    assert [t.get_text() for t in chip.texts if t.get_gid() == "scale"] == ["10 m"]


def test_apron_outlines_and_names_are_edged_to_read_on_concrete_and_in_grey(scene_frames):
    # Yellow (#ffd21f) on light concrete prints as the same light grey: apron B's outline and
    # name were lost. Both are now edged in black, the legend's apron line too.
    scenes, aprons, cover, dets = scene_frames
    ax = plot_scene(scenes.iloc[0], aprons, cover, dets).axes[0]
    (outline,) = [p for p in ax.patches if to_hex(p.get_edgecolor()) == APRON_COLOR]
    (name,) = [t for t in ax.texts if t.get_text() == "A"]
    legend = ax.get_legend()
    line = legend.get_lines()[0]
    assert legend.get_texts()[0].get_text() == "apron"
    for artist in (outline, name, line):
        (edge,) = artist.get_path_effects()
        assert isinstance(edge, patheffects.withStroke)


def test_names_of_many_small_aprons_are_not_drawn_one_on_another(scene_frames):
    # 60 aprons (an OSM export's) got 60 11 pt bold names on the maps, run into each other.
    scenes, _, cover, _ = scene_frames
    boxes = [
        shapely.box(X0 + 10 + 8 * i, Y0 - 90 + 8 * j, X0 + 16 + 8 * i, Y0 - 84 + 8 * j)
        for i in range(10)
        for j in range(6)
    ]
    small = gpd.GeoDataFrame(
        {"apron_id": [f"stand {k}" for k in range(60)]}, geometry=boxes, crs=CRS
    )
    for fig in (plot_scene(scenes.iloc[0], small), plot_coverage(cover, small)):
        fig.canvas.draw()
        names = [
            t.get_window_extent()
            for ax in fig.axes
            for t in ax.texts
            if t.get_text().startswith("stand ")
        ]
        assert 0 < len(names) < 60
        assert not any(a.overlaps(b) for i, a in enumerate(names) for b in names[:i])


def test_scene_and_coverage_figures_are_not_drawn_before_they_are_saved(
    scene_frames, monkeypatch, tmp_path
):
    # plot_scene and plot_coverage drew the whole figure (the scene image resampled too) to see
    # which apron names overlap, and savefig drew it again: the names are now measured on the
    # layout alone, so the figure is drawn when it is saved.
    scenes, aprons, cover, dets = scene_frames
    draws = []
    original = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, r: draws.append(fig) or original(fig, r))
    figures = [plot_scene(scenes.iloc[0], aprons, cover, dets), plot_coverage(cover, aprons)]
    assert draws == []
    for fig in figures:
        fig.savefig(tmp_path / "figure.png")
    assert set(draws) == set(figures)


def test_scene_filters_scores_and_draws_without_coverage(scene_frames):
    scenes, aprons, _, dets = scene_frames
    fig = plot_scene(scenes.iloc[0], aprons, None, dets, min_score=0.7)
    assert "IL62 0.90" in _texts(fig) and "T204 0.60" not in _texts(fig)
    assert "with score ≥ 0.7" in fig.axes[0].get_title()
    assert "visible" not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_scene_image_moves_by_its_coregistration_offset(scene_frames):
    scenes, aprons, _, _ = scene_frames
    plain = plot_scene(scenes.iloc[0], aprons).axes[0].images[0]
    shifted = scenes.iloc[0].copy()
    shifted["shift_x_m"], shifted["shift_y_m"] = 3.0, -2.0  # content 3 m east, 2 m south
    ax = plot_scene(shifted, aprons).axes[0]
    moved = ax.images[0]
    assert moved.get_extent() == pytest.approx(plain.get_extent())  # same map window
    a, b = plain.get_array(), moved.get_array()
    # at each map point the moved image shows what lies 3 m (6 px) east, 2 m (4 px) south
    assert np.array_equal(b[40:120, 40:120], a[44:124, 46:126])
    assert not np.array_equal(b[40:120, 40:120], a[40:120, 40:120])
    assert "(-3.0, +2.0) m" in ax.get_title()


def test_scene_title_names_no_move_that_rounds_to_zero(scene_frames):
    """A co-registration shift under 0.05 m is not a move to report as "(+0.0, -0.0) m"."""
    scenes, aprons, _, _ = scene_frames
    tiny = scenes.iloc[0].copy()
    tiny["shift_x_m"], tiny["shift_y_m"] = -0.01, 0.02
    assert "moved" not in plot_scene(tiny, aprons).axes[0].get_title()
    half = scenes.iloc[0].copy()
    half["shift_x_m"], half["shift_y_m"] = 0.01, 0.5  # 0.5 m north: -0.0 east is +0.0
    assert "(+0.0, -0.5) m" in plot_scene(half, aprons).axes[0].get_title()


def test_scene_in_geographic_crs_is_drawn_in_the_aprons_grid(write_raster, tmp_path):
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(X0, Y0)
    path = write_raster(
        tmp_path / "geo.tif", crs="EPSG:4326", origin=(lon, lat), gsd=5e-6, shape=(200, 200)
    )
    scene = {
        "scene_id": "g",
        "path": str(path),
        "acquired": pd.Timestamp("2023-08-01T00:00Z"),
        "time_source": "stac",
        "provider": "unknown",
        "gsd_m": 0.5,
    }
    aprons = gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[APRON_BOX], crs=CRS)
    image = plot_scene(scene, aprons, pad_m=0).axes[0].images[0].get_array()
    assert image[..., 3].mean() > 200 and image[..., :3].std() > 0


def test_a_scene_row_is_drawn_in_the_colours_its_metadata_names(write_raster, tmp_path):
    import json

    data = np.stack([np.full((200, 200), v, np.uint16) for v in (100, 200, 300, 400)])
    data[:, 0, 0] = 0  # a stretch from 0 keeps the order of the bands visible
    path = write_raster(tmp_path / "bgrn.tif", origin=(X0, Y0), shape=(200, 200), count=4,
                        dtype="uint16", data=data)  # fmt: skip
    colours = [{"common_name": c} for c in ("blue", "green", "red", "nir")]
    item = {"type": "Feature", "stac_version": "1.0.0", "properties": {"datetime": "2023-08-01"},
            "assets": {"image": {"href": path.name, "eo:bands": colours}}}  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(item))
    when = pd.Timestamp("2023-08-01T00:00Z")
    scene = pd.Series({"scene_id": "s", "path": str(path), "provider": "unknown", "gsd_m": 0.5,
                       "acquired": when, "time_source": "stac"})  # fmt: skip
    aprons = gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[APRON_BOX], crs=CRS)
    image = plot_scene(scene, aprons, pad_m=0).axes[0].images[0].get_array()
    red, green, blue = (float(np.median(np.asarray(image[..., b]))) for b in range(3))
    assert red > green > blue  # red is band 3


def test_scene_without_aprons_says_so(scene_frames):
    scenes, aprons, _, _ = scene_frames
    assert "no aprons" in _texts(plot_scene(scenes.iloc[0], aprons.iloc[:0]))


@pytest.mark.parametrize(
    "pick",
    [lambda f: "a", lambda f: f.iloc[:1], lambda f: f.set_index("scene_id").loc["a"]],
    ids=["scene id", "one-row frame", "row without scene_id"],
)
def test_a_scene_that_is_no_row_says_what_to_give(scene_frames, pick):
    scenes, aprons, _, _ = scene_frames
    with pytest.raises(TypeError, match=r"^scene: give a row of RunResult.scenes with its"):
        plot_scene(pick(scenes), aprons)


def test_chips_one_per_detection_with_type_size_score(scene_frames, tmp_path):
    scenes, _, _, dets = scene_frames
    fig = plot_chips(dets.sort_values("score", ascending=False), scenes, max_chips=2)
    chips = [ax for ax in fig.axes if ax.images]
    assert len(chips) == 2
    assert "IL62 (0.80)\n20 × 16 m, score 0.90\n07-31 02:00 UTC" == chips[0].get_title()
    assert chips[1].get_title().endswith("score 0.80\n08-01 05:00 UTC")  # b:0, not T204
    assert fig.get_suptitle().startswith("2 of 3 detection(s)")
    left, right, bottom, top = chips[0].images[0].get_extent()
    assert right - left >= 45 and top - bottom >= 45  # 1.5 x max(30 m, length, span)
    assert chips[0].get_xlim() == pytest.approx((X0 + 30 - 22.5, X0 + 30 + 22.5))
    assert type_colors(["IL62"])["IL62"] in _edges(chips[0])
    mine = plot_chips(dets.iloc[:1], scenes, colors={"IL62": "#123456"})
    assert "#123456" in _edges(mine.axes[0])
    fig.savefig(tmp_path / "chips.png")


def test_chip_times_say_the_year(scene_frames):
    scenes, _, _, dets = scene_frames
    fig = plot_chips(dets.iloc[:2], scenes)
    assert fig.get_suptitle().endswith("time (UTC, 2023)")
    later = dets.iloc[:2].assign(acquired=dets["acquired"].iloc[:2] + pd.DateOffset(years=1))
    fig = plot_chips(pd.concat([dets.iloc[:1], later.iloc[1:]]), scenes)
    titles = [ax.get_title().splitlines()[-1] for ax in fig.axes if ax.images]
    assert titles == ["2023-07-31 02:00 UTC", "2024-07-31 02:00 UTC"]  # not "07-31" twice


def test_chips_empty_and_unknown_scene(scene_frames):
    scenes, _, _, dets = scene_frames
    assert "no detections" in _texts(plot_chips(dets.iloc[:0], scenes))
    fig = plot_chips(dets.iloc[:1], scenes[scenes["scene_id"] == "b"])
    assert "scene not in\nthis run" in _texts(fig)


def test_figures_of_a_result_whose_images_moved_are_drawn_without_them(scene_frames, caplog):
    """A result read back where its imagery is not (moved, deleted, another machine) raised
    RasterioIOError from plot_scene, plot_chips and so report_figures (write_result wrote
    nothing): now the scene and each chip show aprons, coverage and footprints on grey,
    saying "image not read", and one warning per image names the file."""
    import logging

    scenes, aprons, cover, dets = scene_frames
    moved = scenes.assign(path=scenes["path"].str.replace(".tif", "_moved.tif"))
    with caplog.at_level(logging.WARNING, logger="dwelltime.plot"):
        scene = plot_scene(moved.iloc[0], aprons, cover, dets)
        chips = plot_chips(dets, moved)
    assert not scene.axes[0].images and "IL62 0.90" in _texts(scene)
    assert "image not read:\na_moved.tif" in _texts(scene)
    assert [len(ax.patches) for ax in chips.axes] == [1, 1, 1]  # each footprint
    assert _texts(chips).count("image not read:\na_moved.tif") == 2
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        f"{moved['path'][i]}: image not drawn (no such file); the figure shows the rest"
        for i in (0, 0, 1)
    ]  # the scene's, then once per image of the chips


def test_coverage_counts_scenes_per_spot_and_fractions_per_scene(scene_frames, tmp_path):
    _, aprons, cover, _ = scene_frames
    fig = plot_coverage(cover, aprons, gsd_m=2.0)
    left, right = fig.axes[0], fig.axes[1]
    counts = left.images[0].get_array()
    assert counts.max() == 2 and counts.min() == 1  # west half seen twice, east half once
    assert counts.mask.any()  # outside the apron: not drawn
    assert right.images[0].get_array().tolist() == [[100.0, 50.0]]
    assert [t.get_text() for t in right.get_xticklabels()] == ["07-31 02:00", "08-01 05:00"]
    assert "by 2 scene(s)" in fig.get_suptitle()
    fig.savefig(tmp_path / "coverage.png")


def _daily(cover: gpd.GeoDataFrame, days: int) -> pd.DataFrame:
    """``cover``'s first row as ``days`` daily scenes ``d0``, ``d1``… from T0."""
    return pd.concat(
        [
            cover.iloc[[0]].assign(scene_id=f"d{d}", acquired=T0 + pd.Timedelta(days=d))
            for d in range(days)
        ]
    )


def test_coverage_scene_counts_are_ticked_at_even_steps(scene_frames):
    # 12 scenes were ticked 0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12: 3 and 9 seemed missing.
    _, aprons, cover, _ = scene_frames
    fig = plot_coverage(_daily(cover, 12), aprons)
    fig.canvas.draw()
    (counts,) = [ax for ax in fig.axes if ax.get_ylabel() == "scenes (of 12)"]
    ticks = [t for t in counts.get_yticks() if 0 <= t <= 12]
    assert ticks == [0, 2, 4, 6, 8, 10, 12]


def test_coverage_counts_of_a_long_series_have_a_readable_colourbar(scene_frames):
    # A year of daily scenes gave the counts' colourbar 366 colours, each edge a tick mark:
    # a comb of 367 marks beside the 12 labelled counts.
    _, aprons, cover, _ = scene_frames
    fig = plot_coverage(_daily(cover, 60), aprons)
    fig.canvas.draw()
    (counts,) = [ax for ax in fig.axes if ax.get_ylabel() == "scenes (of 60)"]
    ticks = [*counts.yaxis.get_majorticklocs(), *counts.yaxis.get_minorticklocs()]
    assert len(ticks) <= 12
    assert fig.axes[0].images[0].norm.vmax == 60


def test_coverage_of_many_aprons_grows_so_that_their_labels_do_not_overlap(scene_frames):
    # 60 aprons (an OSM export of a large airport) had their 8 pt labels squeezed into a
    # 4-inch table, one on another.
    _, aprons, cover, _ = scene_frames
    many = pd.concat([cover.assign(apron_id=f"P{i:02d}") for i in range(60)])
    fig = plot_coverage(many, aprons)
    fig.canvas.draw()
    right = fig.axes[1]
    labels = [t.get_window_extent() for t in right.get_yticklabels()]
    assert len(labels) == 60
    assert all(a.y0 >= b.y1 or b.y0 >= a.y1 for a, b in pairwise(labels))


def test_coverage_scene_labels_say_the_year(scene_frames):
    _, aprons, cover, _ = scene_frames
    right = plot_coverage(cover, aprons).axes[1]
    assert right.get_xlabel() == "scene acquired (UTC, 2023)"
    later = cover.assign(acquired=cover["acquired"] + pd.DateOffset(years=1))
    right = plot_coverage(pd.concat([cover.iloc[[0]], later.iloc[[1]]]), aprons).axes[1]
    labels = [t.get_text() for t in right.get_xticklabels()]
    assert labels == ["2023-07-31 02:00", "2024-08-01 05:00"]  # not "07-31", "08-01"


def test_coverage_cells_are_labelled_only_while_the_labels_fit(scene_frames):
    # A year of daily scenes printed 365 "100"s into one row of the table: a black smear.
    _, aprons, cover, _ = scene_frames
    days = pd.concat(
        [
            cover.iloc[[0]].assign(scene_id=f"d{d}", acquired=T0 + pd.Timedelta(days=d))
            for d in range(21)
        ]
    )
    assert len(plot_coverage(days.iloc[:20], aprons).axes[1].texts) == 20
    assert len(plot_coverage(days, aprons).axes[1].texts) == 0


def _grey_rises(cmap) -> bool:
    """Whether ``cmap`` gets lighter from 0 to 1 (grey level of each of 256 colours)."""
    grey = cmap(np.linspace(0, 1, 256))[:, :3] @ [0.299, 0.587, 0.114]
    return bool((np.diff(grey) > 0).all())


def test_visible_shares_are_told_apart_in_grey_and_by_colour_blind_readers(scene_frames):
    # RdYlGn made 0 % and 100 % the same grey (0.21, 0.26) and red-green to tell apart.
    scenes, aprons, cover, _ = scene_frames
    fig = plot_coverage(cover.assign(visible_fraction=[1.0, 0.0]), aprons)
    assert _grey_rises(fig.axes[1].images[0].get_cmap())
    assert [t.get_color() for t in fig.axes[1].texts] == ["black", "white"]  # 100 %, 0 %
    points = [
        c for c in plot_scenes(scenes, cover).axes[0].collections if c.get_array() is not None
    ]
    assert _grey_rises(points[0].get_cmap())


def test_coverage_empty_says_so(scene_frames):
    _, aprons, cover, _ = scene_frames
    assert "no coverage" in _texts(plot_coverage(cover.iloc[:0], aprons))


def test_scenes_on_a_time_axis(scene_frames, tmp_path):
    scenes, _, cover, _ = scene_frames
    extra = scenes.iloc[[0]].assign(scene_id="c", acquired=pd.Timestamp("2023-08-02T00:00Z"))
    fig = plot_scenes(pd.concat([scenes, extra]), cover, skipped=1)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["c · stac · 0.50 m", "b · filename · 0.50 m", "a · stac · 0.50 m"]
    shown = [c for c in ax.collections if len(c.get_offsets()) and c.get_array() is not None]
    assert sorted(shown[0].get_array().tolist()) == [50.0, 100.0]  # mean apron visible, %
    assert "3 scene(s)" in ax.get_title() and "1 input(s) skipped" in ax.get_title()
    assert ax.get_xlabel() == "acquired (UTC, 2023-07-31 – 2023-08-02)"
    assert "08-01 05:00" in _texts(fig)
    fig.savefig(tmp_path / "scenes.png")


def test_a_scene_without_coverage_is_a_cross_the_legend_explains(scene_frames):
    scenes, _, cover, _ = scene_frames
    ax = plot_scenes(scenes, cover[cover["scene_id"] != "b"]).axes[0]
    (legend,) = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == "no coverage of this scene in the run"
    assert plot_scenes(scenes, cover).axes[0].get_legend() is None  # nothing to explain


def test_scenes_of_a_scan_without_coverage_are_plain_dots_not_crosses(scene_frames):
    """``plot_scenes(scenes)`` before any run (a scan's scenes: no coverage given) drew every
    scene as a grey cross with the legend "no coverage of this scene in the run": there is no
    run. Each is now a plain dot, nothing to explain; a run's missing coverage still a cross."""
    scenes, _, _, _ = scene_frames
    ax = plot_scenes(scenes).axes[0]
    marks = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == 2 and marks[0].get_array() is None
    assert ax.get_legend() is None and len(ax.figure.axes) == 1  # no colourbar of coverage
    crossed = plot_scenes(scenes, scene_frames[2].iloc[:0]).axes[0]
    assert crossed.get_legend() is not None


def test_the_scenes_of_a_scan_are_plotted_as_given(write_raster, tmp_path):
    """``plot_scenes(scan(folder).scenes)``, a list of Scene as ``plot_scene`` takes one, was
    "AttributeError: 'list' object has no attribute 'sort_values'"."""
    from dwelltime.scenes import scan

    for stamp in ("20230731T023512", "20230801T023512"):
        write_raster(tmp_path / f"zkpy_{stamp}.tif")
    ax = plot_scenes(scan(tmp_path).scenes).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        f"zkpy_{s} · filename · 0.50 m" for s in ("20230801T023512", "20230731T023512")
    ]


def test_many_scenes_get_marks_that_do_not_run_into_each_other(scene_frames):
    scenes, _, cover, _ = scene_frames
    days = pd.Series([T0 + pd.Timedelta(days=d) for d in range(300)])
    many = pd.concat([scenes.iloc[[0]]] * 300).assign(scene_id=days.index.astype(str))
    many["acquired"] = days.to_numpy()
    fig = plot_scenes(many, cover.iloc[:0])
    fig.canvas.draw()
    ax = fig.axes[0]
    axis_pt = ax.get_window_extent().width * 72 / fig.dpi
    marks = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_sizes())]
    assert max(np.sqrt(c.get_sizes()).max() for c in marks) * 300 <= axis_pt  # not a smear


def test_scenes_empty_says_so(scene_frames):
    scenes, _, cover, _ = scene_frames
    assert "no scenes" in _texts(plot_scenes(scenes.iloc[:0], cover))


def test_report_figures_show_the_busiest_scene(scene_frames):
    scenes, aprons, cover, dets = scene_frames
    result = SimpleNamespace(
        scenes=scenes,
        aprons=aprons,
        coverage=cover,
        detections=dets,
        stays=link_stays(dets, cover),
        errors=[],
        link_config=LinkConfig(),
        type_filter=None,
        flights=None,
    )
    figures = report_figures(result)
    assert list(figures) == ["scenes", "coverage", "scene", "chips", "timeline"]
    assert figures["scene"].axes[0].get_title().startswith("a — ")  # two detections in a
    empty = SimpleNamespace(
        scenes=scenes.iloc[:0],
        aprons=aprons,
        coverage=cover.iloc[:0],
        detections=dets.iloc[:0],
        stays=link_stays(dets.iloc[:0], cover.iloc[:0]),
        errors=[],
        link_config=LinkConfig(),
        type_filter=None,
        flights=None,
    )
    assert "scene" not in report_figures(empty)


def test_report_figures_of_a_run_kept_to_a_type_show_that_types_sightings(scene_frames):
    # A --type IL62 run's chips were the best 24 detections of any type (the demo's showed one
    # IL62 in 24), and its scene the busiest, where the IL62 may not stand.
    scenes, aprons, cover, dets = scene_frames
    dets = dets[dets["detection_id"] != "a:0"]  # a: a T204 only; b: the IL62
    stays = link_stays(dets, cover)
    result = SimpleNamespace(
        scenes=scenes,
        aprons=aprons,
        coverage=cover,
        detections=dets,
        stays=stays[stays["type"] == "IL62"],
        errors=[],
        link_config=LinkConfig(),
        type_filter="IL62",
        flights=None,
    )
    figures = report_figures(result)
    assert figures["scene"].axes[0].get_title().startswith("b — ")  # not a, the first of a tie
    chips = figures["chips"]
    assert [ax.get_title().split(" ")[0] for ax in chips.axes if ax.images] == ["IL62"]
    assert chips.get_suptitle().startswith("1 sighting(s) of the IL62 stays, north up")
    none = report_figures(SimpleNamespace(**{**vars(result), "stays": stays.iloc[:0]}))
    assert "no sightings of the IL62 stays" in _texts(none["chips"])
    assert none["scene"].axes[0].get_title().startswith("a — ")  # the busiest, as unfiltered


def test_the_run_timeline_marks_visibility_by_the_runs_linking_rules(scene_frames):
    scenes, aprons, cover, dets = scene_frames
    cover = cover.copy()  # b now shows 63 % of the T204's stand: visible at 0.5, not at 0.8
    cover.loc[1, "geometry"] = shapely.box(X0 + 10, Y0 - 90, X0 + 72, Y0 - 10)
    config = LinkConfig(min_visible_fraction=0.5, min_score_single=0.5)  # the T204 kept
    result = SimpleNamespace(
        scenes=scenes,
        aprons=aprons,
        coverage=cover,
        detections=dets,
        stays=link_stays(dets, cover, config),
        errors=[],
        link_config=config,
        type_filter=None,
        flights=None,
    )
    ax = report_figures(result)["timeline"].axes[0]
    assert _marks(ax, "hidden") == 0 and _marks(ax, "absent") == 1


def test_a_timeline_kept_to_a_type_without_stays_says_so_and_names_the_types_detected(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays.iloc[:0], cover, dets, type_filter="B744").axes[0]
    assert ax.get_title() == "Stays of B744 at ZKPY — 0 stay(s)"
    assert [t.get_text() for t in ax.texts] == [
        "no stays of type B744 (types detected: IL62, TU20)"
    ]


def test_a_flight_logs_movements_are_shown_on_the_timeline_bounding_an_end_or_not(frames):
    # A run given a flight log showed nothing of it unless a movement bounded an end: the
    # reader could not tell the log was read, nor see the movements that matched no stay.
    stays, cover, dets = frames
    log = pd.DataFrame(
        {
            "row": [1, 2, 3, 4],
            "time": [T0 + pd.Timedelta(hours=h) for h in (5, 30, 40, 24 * 30)],  # last: later
            "airport": ["ZKPY", "ZKPY", "UUEE", "ZKPY"],
            "event": ["arr", "dep", "arr", "dep"],
            "type": ["IL62", "TU20", "IL62", "IL62"],
            "registration": "",
        }
    )
    fig = plot_timeline(stays, cover, dets, flights=log)
    ax = fig.axes[0]
    arr, dep = [line for line in ax.lines if line.get_gid() == "log"]
    assert arr.get_marker() == "v" and dep.get_marker() == "^"
    hours = [24 * (x - mdates.date2num(T0.tz_localize(None))) for x in arr.get_xdata()]
    assert np.allclose(hours, [5]) and len(dep.get_xdata()) == 1  # not UUEE's, not a month on
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "flight log: 2 movement(s), ▼ arrival ▲ departure (top edge)" in legend
    typed = plot_timeline(stays, cover, dets, flights=log, type_filter="IL62")
    assert "flight log: 1 movement(s)" in typed.legends[0].get_texts()[-1].get_text()
    assert not [
        line for line in plot_timeline(stays, cover, dets).axes[0].lines if line.get_gid() == "log"
    ]


def test_ends_a_flight_log_bounds_are_marked_on_the_timeline(frames):
    """An end a flight-log row bounds (``flight:<row>``) gets a tick at its time (the arrival
    or departure recorded) and a legend entry; ends bounded by scenes get none."""
    stays, cover, dets = frames
    il62 = stays["type"] == "IL62"
    arrival = stays.loc[il62, "last_absent_before"].iloc[0] + pd.Timedelta(hours=3)
    flown = stays.copy()
    flown.loc[il62, ["last_absent_before", "start_bounded_by"]] = [arrival, "flight:1"]
    fig = plot_timeline(flown, cover, dets)
    (ticks,) = [c for c in fig.axes[0].collections if c.get_gid() == "flight"]
    x = mdates.date2num(arrival.tz_localize(None))
    assert np.allclose(ticks.get_offsets(), [[x, 1]])  # row 1: the IL62
    assert "flight-log arrival/departure" in [t.get_text() for t in fig.legends[0].get_texts()]
