"""Co-registration: known shifts of small synthetic rasters are recovered within 1 m."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import ndimage

from dwelltime.airports import lookup_airport
from dwelltime.coregister import (
    OFFSET_COLUMNS,
    CoregConfig,
    apply_offsets,
    coregister_scenes,
    highpass,
    masked_shift,
)
from dwelltime.scenes import read_scene, scan

X0, Y0 = 730_485.78, 4_345_043.01  # Sunan reference point, UTM 51N (as tests/conftest.py)


def texture(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Smooth random ground texture in [0, 1] (blobs a few pixels across)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
    return (field - field.min()) / np.ptp(field)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (3.4, -5.7), (-8.0, 9.25)])
def test_masked_shift_recovers_a_subpixel_shift_with_a_cloud(shift):
    ref = texture((120, 120))
    moving = ndimage.shift(ref, shift, order=3, mode="reflect")  # (row, col) shift of content
    valid = np.ones(ref.shape, bool)
    cloudy = valid.copy()
    cloudy[20:60, 30:80] = False  # a cloud over the moving image
    moving = np.where(cloudy, moving, 1.0)  # bright cloud; masked out
    a, va = highpass(ref, valid, 4.0)
    b, vb = highpass(moving, cloudy, 4.0)
    found = masked_shift(a, va, b, vb, 12)
    assert found.row == pytest.approx(shift[0], abs=0.3)
    assert found.col == pytest.approx(shift[1], abs=0.3)
    assert found.peak > 0.8


def test_masked_shift_without_overlap_has_no_peak():
    ref = texture((64, 64))
    valid = np.zeros(ref.shape, bool)
    found = masked_shift(ref, np.ones_like(valid), ref, valid, 5)
    assert np.isnan(found.peak)
    with pytest.raises(ValueError, match="shape"):
        masked_shift(ref, valid, ref[:10], valid[:10], 5)


@pytest.fixture
def shifted_series(tmp_path, write_raster):
    """Three 1 m scenes of the same ground, the content of two displaced by known metres;
    aprons over the middle."""
    shape = (160, 160)
    ground = (texture(shape, seed=3) * 200 + 20).astype(np.uint8)
    shifts = {"s1_20230729T030000": (0.0, 0.0), "s2_20230730T030000": (4.0, -6.0)}
    shifts["s3_20230731T030000"] = (-7.5, 2.5)
    for stem, (dx, dy) in shifts.items():
        write_raster(
            tmp_path / "img" / f"{stem}.tif",
            origin=(X0 + dx, Y0 + dy),  # content at true x appears at x + dx
            gsd=1.0,
            shape=shape,
            data=np.stack([ground] * 3),
        )
    aprons = gpd.GeoDataFrame(
        {"apron_id": ["A"]},
        geometry=[shapely.box(X0 + 30, Y0 - 130, X0 + 130, Y0 - 30)],
        crs="EPSG:32651",
    )
    return scan(tmp_path / "img").scenes, aprons, shifts


def test_coregister_scenes_recovers_known_offsets_within_1_m(shifted_series):
    scenes, aprons, shifts = shifted_series
    calls = []
    offsets = coregister_scenes(
        scenes,
        lookup_airport("ZKPY"),
        aprons,
        CoregConfig(max_shift_m=12.0),
        progress=lambda d, n: calls.append((d, n)),
    )
    assert list(offsets.columns) == list(OFFSET_COLUMNS)
    assert calls == [(1, 3), (2, 3), (3, 3)]  # one step per scene, in scenes
    offsets = offsets.set_index("scene_id")
    assert set(offsets["coreg_status"]) <= {"ok", "reference"}
    assert (offsets["coreg_status"] == "reference").sum() == 1
    # the common frame is the median scene: compare differences between scenes
    truth = pd.DataFrame(shifts, index=["dx", "dy"]).T
    err_x = offsets["shift_x_m"] - truth["dx"]
    err_y = offsets["shift_y_m"] - truth["dy"]
    assert np.ptp(err_x) < 1.0 and np.ptp(err_y) < 1.0
    # the median scene (s1, shift 0 in the middle of both axes) defines the frame
    assert offsets.loc["s1_20230729T030000", ["shift_x_m", "shift_y_m"]].abs().max() < 1.0


def test_a_float_scene_with_a_nan_fill_is_coregistered(shifted_series, tmp_path, write_raster):
    import rasterio

    scenes, aprons, _ = shifted_series
    with rasterio.open(scenes[0].path) as ds:  # s1, the frame: content at its true place
        reflectance = ds.read().astype(np.float32) / 255
    reflectance[:, :, :50] = np.nan  # a NaN fill over the west of the aprons
    stem, shift = "s4_20230801T030000", (3.5, -2.5)  # off the grid: resampled bilinearly
    path = write_raster(
        tmp_path / "float" / f"{stem}.tif",
        origin=(X0 + shift[0], Y0 + shift[1]),
        gsd=1.0,
        shape=reflectance.shape[1:],
        dtype="float32",
        data=reflectance,
        nodata=float("nan"),
    )
    site = lookup_airport("ZKPY")
    offsets = coregister_scenes(
        [*scenes, read_scene(path)], site, aprons, CoregConfig(max_shift_m=12.0)
    ).set_index("scene_id")
    assert offsets.loc[stem, "coreg_status"] == "ok"  # not no_overlap: NaN poisoned the match
    found = offsets.loc[stem, ["shift_x_m", "shift_y_m"]] - offsets.loc["s1_20230729T030000"]
    assert found[["shift_x_m", "shift_y_m"]].tolist() == pytest.approx(shift, abs=1.0)


def test_coregister_scenes_empty_and_unreadable(shifted_series, tmp_path):
    scenes, aprons, _ = shifted_series
    site = lookup_airport("ZKPY")
    assert coregister_scenes([], site, aprons).empty
    broken = scenes[0].__class__(
        **{**scenes[0].__dict__, "scene_id": "gone", "path": tmp_path / "gone.tif"}
    )
    offsets = coregister_scenes([*scenes, broken], site, aprons, CoregConfig(max_shift_m=12.0))
    row = offsets.set_index("scene_id").loc["gone"]
    assert row["coreg_status"] == "failed"
    assert row["shift_x_m"] == 0.0


@pytest.mark.parametrize(
    "dx, status", [(10.0, "ok"), (12.0, "ok"), (15.0, "at_limit"), (40.0, "low_peak")]
)
def test_an_offset_past_the_search_is_not_taken_for_the_limit(
    tmp_path, write_raster, caplog, dx, status
):
    """A scene 15 m off, searched to 12 m, correlates best at the window's edge (a high peak
    on the flank of the true one): it is left where it is and said to be at the limit, not
    moved by 12 m as though aligned. One 12 m off, at the limit searched, is aligned."""
    shape = (160, 160)
    ground = (texture(shape, seed=3) * 200 + 20).astype(np.uint8)
    for stem, shift in (("s1_20230729T030000", 0.0), ("s2_20230730T030000", dx)):
        write_raster(
            tmp_path / "img" / f"{stem}.tif",
            origin=(X0 + shift, Y0),
            gsd=1.0,
            shape=shape,
            data=np.stack([ground] * 3),
        )
    aprons = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 30, Y0 - 130, X0 + 130, Y0 - 30)], crs="EPSG:32651"
    )
    offsets = coregister_scenes(
        scan(tmp_path / "img").scenes, lookup_airport("ZKPY"), aprons, CoregConfig(max_shift_m=12.0)
    ).set_index("scene_id")
    assert offsets.loc["s2_20230730T030000", "coreg_status"] == status
    moved = offsets["shift_x_m"].diff().iloc[-1]  # s2 against s1
    assert moved == (pytest.approx(dx, abs=1.0) if status == "ok" else 0.0)
    unshifted = [r.getMessage() for r in caplog.records if "unshifted" in r.getMessage()]
    if status == "ok":
        assert not unshifted
    else:  # one line says so, naming the scene and why
        assert unshifted == [
            "co-registration left 1 scene unshifted, whose aircraft may lie metres off the "
            f"others' (coreg_status in the scenes layer says why): {status} s2_20230730T030000"
        ]


def test_aircraft_that_came_and_went_do_not_pull_the_match(tmp_path, write_raster):
    """Plain concrete (faint texture) with three aircraft, and a day later three others parked
    16 m along and 4 m back, the scene itself 3 m east and 2 m south: the aircraft are most of
    the contrast, so matching them moved the scene 19 m east onto the wrong aircraft (peak
    0.97, 'ok'). Each scene's detections are left out of its matching: the 3 m, 2 m found."""
    shape = (240, 240)
    concrete = 120 + 3 * (texture(shape, seed=3) - 0.5)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    shifts = {"s1_20230729T030000": (0.0, 0.0, 0), "s2_20230730T030000": (3.0, -2.0, 16)}
    shifts["s3_20230731T030000"] = (0.0, 0.0, None)  # the apron empty
    footprints = []
    for stem, (dx, dy, along) in shifts.items():
        image = concrete.copy()
        for cx in (70, 130, 190) if along is not None else ():
            cx, cy = cx + along, 120 + along // 4
            fuselage = (abs(cols - cx) < 3) & (abs(rows - cy) < 20)
            wings = (abs(rows - cy + 3) < 3) & (abs(cols - cx) < 18)
            image[fuselage | wings] = 230
            x, y = X0 + dx + cx + 0.5, Y0 + dy - cy - 0.5  # where the image places it
            footprints.append(
                {"scene_id": stem, "geometry": shapely.box(x - 18, y - 20, x + 18, y + 20)}
            )
        write_raster(
            tmp_path / "img" / f"{stem}.tif",
            origin=(X0 + dx, Y0 + dy),
            gsd=1.0,
            shape=shape,
            data=np.stack([image.round()] * 3),
        )
    aprons = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 30, Y0 - 210, X0 + 210, Y0 - 30)], crs="EPSG:32651"
    )
    detections = gpd.GeoDataFrame(footprints, crs="EPSG:32651")
    offsets = coregister_scenes(
        scan(tmp_path / "img").scenes, lookup_airport("ZKPY"), aprons, detections=detections
    ).set_index("scene_id")
    assert set(offsets["coreg_status"]) == {"ok", "reference"}
    xy = offsets[["shift_x_m", "shift_y_m"]]
    found = xy.loc["s2_20230730T030000"] - xy.loc["s1_20230729T030000"]
    assert found.tolist() == pytest.approx([3.0, -2.0], abs=0.5)


def test_stand_markings_repeated_within_the_search_are_ambiguous(tmp_path, write_raster):
    """Lead-in lines every 20 m on plain concrete, a scene 12 m east: it matches as well 8 m
    west (one stand along), where it was moved and said 'ok'; it is now left where it is as
    'ambiguous'."""
    shape = (240, 240)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    for stem, dx in (("s1_20230729T030000", 0.0), ("s2_20230730T030000", 12.0)):
        image = 120 + 8 * (texture(shape, seed=int(dx)) - 0.5)  # each day its own dust
        image[(cols % 20 == 0) & (rows > 40) & (rows < 200)] = 200
        image[rows == 60] = 200  # a stop bar across
        write_raster(
            tmp_path / "img" / f"{stem}.tif",
            origin=(X0 + dx, Y0),
            gsd=1.0,
            shape=shape,
            data=np.stack([image.round()] * 3),
        )
    aprons = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 30, Y0 - 210, X0 + 210, Y0 - 30)], crs="EPSG:32651"
    )
    offsets = coregister_scenes(scan(tmp_path / "img").scenes, lookup_airport("ZKPY"), aprons)
    row = offsets.set_index("scene_id").loc["s2_20230730T030000"]
    assert row["coreg_status"] == "ambiguous"
    assert row["coreg_peak"] > 0.5  # a good match, but not the only one
    assert (offsets[["shift_x_m", "shift_y_m"]] == 0).all().all()


def test_apply_offsets_moves_x_y_and_geometry_per_scene():
    frame = gpd.GeoDataFrame(
        {"scene_id": ["a", "b", "c"], "x": [10.0, 10.0, 10.0], "y": [20.0, 20.0, 20.0]},
        geometry=[shapely.box(9, 19, 11, 21)] * 3,
        crs="EPSG:32651",
    )
    offsets = pd.DataFrame(
        {"scene_id": ["a", "b"], "shift_x_m": [2.0, 0.0], "shift_y_m": [-3.0, 1.5]}
    )
    moved = apply_offsets(frame, offsets)
    assert moved["x"].tolist() == [8.0, 10.0, 10.0]
    assert moved["y"].tolist() == [23.0, 18.5, 20.0]
    assert moved.geometry[0].equals(shapely.box(7, 22, 9, 24))
    assert moved.geometry[2].equals(frame.geometry[2])  # no offset row: untouched
    assert frame["x"].tolist() == [10.0] * 3  # input unchanged
    assert apply_offsets(frame.iloc[:0], offsets).empty


class BlockDetector:
    """Finds the 255-valued block in band 1 of each tile: one 20 m × 12 m aircraft."""

    gsd_m = 1.0
    classes = ("IL62", "unknown")

    def predict(self, images):
        from dwelltime.detector.decode import TileDetections

        out = []
        for tile in images:
            rows, cols = np.nonzero(tile[0] == 255)
            n = 1 if len(rows) else 0
            out.append(
                TileDetections(
                    cx=np.full(n, cols.mean() + 0.5 if n else 0.0),
                    cy=np.full(n, rows.mean() + 0.5 if n else 0.0),
                    length_px=np.full(n, 20.0),
                    span_px=np.full(n, 12.0),
                    heading_deg=np.full(n, 90.0),
                    type_probs=np.tile([0.9, 0.1], (n, 1)),
                    score=np.full(n, 0.9),
                )
            )
        return out

    def post_processor(self):
        """Itself: it has the post-processor's ``gsd_m`` and ``assign_types``."""
        return self

    def describe(self):
        return {"weights": "block detector"}

    def assign_types(self, det, length_m, span_m, source_gsd_m=None):
        return np.full(len(det.score), "IL62", dtype=object), np.full(len(det.score), 0.9)


@pytest.mark.parametrize("coregister, n_stays", [(True, 1), (False, 2)])
def test_pipeline_run_coregisters_before_linking(tmp_path, write_raster, coregister, n_stays):
    """One aircraft in three scenes misregistered by up to 13 m in opposite directions: one
    stay once the scenes are aligned, two without (the second and third sightings are 23 m
    apart)."""
    from dwelltime import pipeline

    shape = (160, 160)
    ground = (texture(shape, seed=3) * 200 + 20).astype(np.uint8)
    ground[70:82, 70:90] = 255  # the aircraft, same place on the ground every time
    shifts = {"s1_20230729T030000": (0.0, 0.0), "s2_20230730T030000": (10.0, -8.0)}
    shifts["s3_20230731T030000"] = (-8.0, 6.0)
    for stem, (dx, dy) in shifts.items():
        write_raster(
            tmp_path / "img" / f"{stem}.tif",
            origin=(X0 + dx, Y0 + dy),
            gsd=1.0,
            shape=shape,
            data=np.stack([ground] * 3),
        )
    aprons = tmp_path / "aprons.geojson"
    gpd.GeoDataFrame(
        {"apron_id": ["A"]},
        geometry=[shapely.box(X0 + 20, Y0 - 140, X0 + 140, Y0 - 20)],
        crs="EPSG:32651",
    ).to_file(aprons, driver="GeoJSON")
    result = pipeline.run(
        tmp_path / "img", "ZKPY", aprons=aprons, detector=BlockDetector(), coregister=coregister
    )
    assert len(result.detections) == 3
    assert len(result.stays) == n_stays
    if coregister:
        scenes = result.scenes.set_index("scene_id")
        assert scenes.loc["s2_20230730T030000", "shift_x_m"] == pytest.approx(10.0, abs=1.0)
        assert scenes.loc["s3_20230731T030000", "shift_y_m"] == pytest.approx(6.0, abs=1.0)
        spread = np.hypot(
            *(result.detections[["x", "y"]] - result.detections[["x", "y"]].mean()).T.to_numpy()
        )
        assert spread.max() < 1.5
    else:
        assert "shift_x_m" not in result.scenes
