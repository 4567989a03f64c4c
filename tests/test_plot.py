"""Timeline figure: one row per stay, scene marks by status, interval bars, empty case."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.figure import Figure

from dwelltime.linking import link_stays
from dwelltime.plot import plot_timeline
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
    assert "ZKPY" in ax.get_title() and ax.get_xlabel() == "time (UTC)"
    assert _marks(ax, "seen") == 4  # four sightings
    assert _marks(ax, "hidden") == 2  # the clouded scene, once per stay
    assert _marks(ax, "absent") == 2 * 6 - 4 - 2
    fig.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 1000


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


def test_rows_are_capped_to_the_longest_stays(frames):
    stays, cover, dets = frames
    ax = plot_timeline(stays, cover, dets, max_rows=1).axes[0]
    (label,) = [t.get_text() for t in ax.get_yticklabels()]
    assert "IL62" in label and "1 longest of 2 stays" in ax.get_title()
