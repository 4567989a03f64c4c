"""Georeferencing tile detections and merging duplicates across overlapping tiles."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from dwelltime.detector.decode import TileDetections
from dwelltime.detector.merge import georeference, merge_overlaps, tile_seams


def dets(cx, cy, length=40.0, span=30.0, heading=0.0, score=0.9) -> TileDetections:
    n = len(cx)
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()  # noqa: E731
    return TileDetections(
        np.asarray(cx, float),
        np.asarray(cy, float),
        full(length),
        full(span),
        full(heading),
        np.full((n, 2), 0.5),
        full(score),
    )


NORTH_UP = Affine(0.5, 0.0, 1000.0, 0.0, -0.5, 5000.0)  # 0.5 m pixels, top-left (1000, 5000)


def test_pixel_to_map_through_the_tile_transform():
    m = georeference(dets([100.0], [40.0], heading=30.0), NORTH_UP, (256, 256), 0.5)
    assert (m.x[0], m.y[0]) == pytest.approx((1050.0, 4980.0))
    assert m.length_m[0] == pytest.approx(20.0)
    assert m.span_m[0] == pytest.approx(15.0)
    assert m.heading_deg[0] == pytest.approx(30.0)  # north-up: image up is grid north
    fp = m.footprints[0]
    assert fp.area == pytest.approx(20.0 * 15.0)
    assert fp.centroid.x == pytest.approx(1050.0) and fp.centroid.y == pytest.approx(4980.0)
    nose = np.array(fp.exterior.coords[0:2]).mean(0)  # midpoint of the nose edge
    bearing = np.rad2deg(np.arctan2(nose[0] - 1050.0, nose[1] - 4980.0)) % 360
    assert bearing == pytest.approx(30.0)


def test_pixel_frame_keeps_heading_from_image_up():
    scale2 = Affine(2.0, 0.0, 10.0, 0.0, 2.0, 20.0)  # model pixels -> original image pixels
    m = georeference(dets([5.0], [5.0], heading=100.0), scale2, (64, 64), 0.5)
    assert (m.x[0], m.y[0]) == pytest.approx((20.0, 30.0))
    assert m.heading_deg[0] == pytest.approx(100.0)
    assert m.length_m[0] == pytest.approx(20.0)  # metres from the model GSD


def test_edge_margin_is_negative_when_the_footprint_is_cut():
    m = georeference(
        dets([100.0, 10.0], [100.0, 100.0], length=40, span=30), NORTH_UP, (256, 256), 0.5
    )
    assert m.edge_margin_px[0] == pytest.approx(80.0)  # nose at row 80
    assert m.edge_margin_px[1] == pytest.approx(-5.0)  # wing tip at column -5


def test_a_footprint_reaching_what_the_tile_did_not_see_is_cut():
    """An aircraft whose footprint reaches unseen pixels (nodata, cloud), or comes within
    CUT_MARGIN_M (2 m, 4 px) of them or of a side that is no seam, may go on there: cut. A
    seam side cuts only a footprint that crosses it (the neighbour tile saw the rest)."""
    valid = np.ones((256, 256), bool)
    valid[:, 200:] = False  # nodata east of column 200
    seams = (True, True, True, False)  # the bottom side is the edge of the tiled area
    # 40 x 30 px nose up: columns cx ± 15, rows cy ± 20. Inside; 5 px from the nodata; 2 px
    # from it; 2 px across the top seam; 2 px from the left seam; 20 px and 2 px from the bottom
    cx = [100.0, 180.0, 183.0, 100.0, 17.0, 100.0, 100.0]
    cy = [100.0, 100.0, 100.0, 18.0, 100.0, 216.0, 234.0]
    m = georeference(dets(cx, cy), NORTH_UP, (256, 256), 0.5, seams, valid)
    assert m.cut.tolist() == [False, False, True, True, False, False, True]
    # the same footprints where the tile saw everything: only the sides cut
    m = georeference(dets(cx, cy), NORTH_UP, (256, 256), 0.5, seams)
    assert m.cut.tolist() == [False, False, False, True, False, False, True]


def test_empty_detections_georeference_to_nothing():
    m = georeference(dets([], []), NORTH_UP, (256, 256), 0.5)
    assert len(m.footprints) == 0 and len(m.edge_margin_px) == 0


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows], crs="EPSG:32651")


def test_aircraft_on_a_seam_is_found_once_from_the_tile_holding_it_whole():
    # tile A covers x 0..128 m, tile B 64..192 m (0.5 m pixels); aircraft centred at x = 110 m
    tile_a = Affine(0.5, 0, 0, 0, -0.5, 128)
    tile_b = Affine(0.5, 0, 64, 0, -0.5, 128)
    a = georeference(
        dets([220.0], [128.0], length=90, span=80, score=0.95), tile_a, (256, 256), 0.5
    )
    b = georeference(dets([92.0], [128.0], length=90, span=80, score=0.7), tile_b, (256, 256), 0.5)
    assert a.edge_margin_px[0] < 0 <= b.edge_margin_px[0]  # cut by A's east edge, whole in B
    rows = [
        {
            "scene_id": "s",
            "score": 0.95,
            "tile_index": 0,
            "edge_margin_px": a.edge_margin_px[0],
            "geometry": a.footprints[0],
        },
        {
            "scene_id": "s",
            "score": 0.7,
            "tile_index": 1,
            "edge_margin_px": b.edge_margin_px[0],
            "geometry": b.footprints[0],
        },
        {
            "scene_id": "s",
            "score": 0.8,
            "tile_index": 1,
            "edge_margin_px": 30.0,
            "geometry": shapely.box(150, 10, 170, 30),
        },  # another aircraft
        {
            "scene_id": "t",
            "score": 0.6,
            "tile_index": 0,
            "edge_margin_px": 5.0,
            "geometry": b.footprints[0],
        },  # same place, other scene: kept
    ]
    merged = merge_overlaps(frame(rows))
    assert list(merged["tile_index"]) == [1, 1, 0]
    assert list(merged["scene_id"]) == ["s", "s", "t"]
    assert merged["score"].iloc[0] == pytest.approx(0.7)


def test_duplicates_wholly_inside_both_tiles_keep_the_highest_score():
    box = shapely.box(0, 0, 40, 30)
    rows = [
        {
            "scene_id": "s",
            "score": s,
            "tile_index": i,
            "edge_margin_px": 50.0,
            "geometry": shapely.affinity.translate(box, i * 2.0, 0),
        }
        for i, s in enumerate([0.5, 0.9, 0.7])
    ]
    merged = merge_overlaps(frame(rows))
    assert list(merged["score"]) == [0.9]


def test_a_footprint_inside_another_of_the_same_tile_is_kept():
    # a business jet wing to wing with others, mostly inside a neighbour's over-long footprint:
    # the decoder's NMS kept both boxes of the tile, the merge does not undo that
    long_box, jet = shapely.box(0, 0, 40, 20), shapely.box(2, 2, 18, 18)

    def rows(jet_tile: int) -> list[dict]:
        return [
            {"scene_id": "s", "score": s, "tile_index": t, "edge_margin_px": 50.0, "geometry": g}
            for s, t, g in [(0.9, 0, long_box), (0.6, jet_tile, jet)]
        ]

    assert list(merge_overlaps(frame(rows(0)))["score"]) == [0.9, 0.6]
    # the same shapes from overlapping tiles: one aircraft
    assert list(merge_overlaps(frame(rows(1)))["score"]) == [0.9]


def test_merge_of_nothing_is_nothing():
    empty = gpd.GeoDataFrame(
        {"scene_id": [], "score": [], "edge_margin_px": []}, geometry=[], crs="EPSG:32651"
    )
    assert merge_overlaps(empty).empty


def test_seams_are_the_sides_another_tile_reaches_across():
    # three 100 px tiles of 1 m in a row, overlapping by 20 px, north-up; a fourth elsewhere
    transforms = [Affine(1, 0, x, 0, -1, 500) for x in (0, 80, 160)]
    transforms.append(Affine(1, 0, 1000, 0, -1, 500))
    seams = tile_seams(transforms, [(100, 100)] * 4)
    # columns: left, right, top, bottom
    np.testing.assert_array_equal(
        seams,
        [
            [False, True, False, False],
            [True, True, False, False],
            [True, False, False, False],
            [False, False, False, False],
        ],
    )
    # a pixel-frame column (rows going down): tile 1 lies below tile 0
    column = tile_seams([Affine(1, 0, 0, 0, 1, 0), Affine(1, 0, 0, 0, 1, 80)], [(100, 100)] * 2)
    np.testing.assert_array_equal(
        column, [[False, False, False, True], [False, False, True, False]]
    )
    assert tile_seams([], []).shape == (0, 4)


def test_edge_margin_counts_seams_only():
    d = dets([5.0], [50.0], length=40.0, span=30.0)  # nose-up, cut by the left edge
    cut = georeference(d, Affine(1, 0, 0, 0, -1, 100), (100, 100), 1.0)
    assert cut.edge_margin_px[0] < 0
    outer = georeference(d, Affine(1, 0, 0, 0, -1, 100), (100, 100), 1.0, (False, True, True, True))
    assert outer.edge_margin_px[0] == pytest.approx(30.0)  # to the top and bottom: 50 − 20
    alone = georeference(d, Affine(1, 0, 0, 0, -1, 100), (100, 100), 1.0, (False,) * 4)
    assert np.isinf(alone.edge_margin_px[0])
