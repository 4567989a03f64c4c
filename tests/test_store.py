import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS, empty_frame
from dwelltime.store import (
    STAMP_REASONS,
    SceneStore,
    commit_stamp,
    made_by,
    settings_changes,
    stamp_changes,
)

CRS = "EPSG:32651"


def detections(scene_id: str, n: int) -> gpd.GeoDataFrame:
    t = pd.Timestamp("2023-07-31T02:00:00Z")
    rows = {
        "detection_id": [f"{scene_id}:{i + 1}" for i in range(n)],
        "scene_id": [scene_id] * n,
        "airport": ["ZKPY"] * n,
        "acquired": [t] * n,
        "x": [100.0 * i for i in range(n)],
        "y": [5.0] * n,
        "heading_deg": [90.0] * n,
        "length_m": [53.1] * n,
        "wingspan_m": [43.2] * n,
        "type": ["IL62"] * n,
        "type_prob": [0.9] * n,
        "score": [0.8] * n,
    }
    geometry = [shapely.box(100.0 * i - 25, -20, 100.0 * i + 25, 20) for i in range(n)]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=CRS)


def test_commit_then_load_in_scene_order(tmp_path):
    store = SceneStore(tmp_path)
    cover = empty_frame(COVERAGE_COLUMNS, CRS)
    store.commit("b", cover, detections("b", 2))
    store.commit("ab", cover, detections("ab", 0))  # nothing found there
    store.commit("a", cover, detections("a", 1))
    assert store.done() == {"a", "ab", "b"}
    _, dets = store.load(CRS)
    expected = pd.concat([detections("a", 1), detections("b", 2)], ignore_index=True)
    assert_geodataframe_equal(dets, gpd.GeoDataFrame(expected, crs=CRS))


def test_uncommitted_scene_is_not_done_and_failures_are_recorded(tmp_path):
    store = SceneStore(tmp_path)
    # a killed job may leave parquet files without the marker, or the temporaries of a write
    # cut short (the marker's and a failure record's): not done, and not loaded
    detections("x", 1).to_parquet(store.folder / "x.detections.parquet")
    (store.folder / ".tmp-123-x.done").write_text("")
    (store.folder / ".tmp-123-x.failed.json").write_text("{")
    store.record_failure("y", "/data/y.tif", "RasterioIOError: truncated")
    assert store.done() == set()
    assert store.failed() == {"y": "RasterioIOError: truncated"}
    coverage, dets = store.load(CRS)
    assert dets.empty and coverage.empty
    assert list(dets.columns) == list(DETECTION_COLUMNS)
    # a later success clears the failure record
    store.commit("y", empty_frame(COVERAGE_COLUMNS, CRS), detections("y", 1))
    assert store.failed() == {} and store.done() == {"y"}
    assert sorted(p.name for p in store.folder.glob(".tmp-*")) == [
        ".tmp-123-x.done",
        ".tmp-123-x.failed.json",
    ]  # only the killed job's


def test_parts_committed_with_times_in_other_units_load_together(tmp_path):
    """A job resumed after an upgrade: coverage parts of timestamp[ns] (as earlier versions
    wrote them) beside new ones of timestamp[us] still load as one table."""
    store = SceneStore(tmp_path)
    for scene, unit in (("a", "ns"), ("b", "us")):
        when = pd.Series([pd.Timestamp("2023-07-31T02:35Z")], dtype=f"datetime64[{unit}, UTC]")
        cover = gpd.GeoDataFrame(
            {"scene_id": [scene], "airport": ["ZKPY"], "apron_id": ["A"], "acquired": when,
             "visible_fraction": [1.0]},
            geometry=[shapely.box(0, 0, 10, 10)], crs=CRS,
        )  # fmt: skip
        store.commit(scene, cover, detections(scene, 0))
    coverage, _ = store.load(CRS)
    assert list(coverage["scene_id"]) == ["a", "b"]


def test_parts_committed_before_cut_was_recorded_load_as_whole(tmp_path):
    """A job resumed after an upgrade: detections committed without ``cut`` beside new ones
    load as whole (False, as they were linked), not None: the column stays bool, not text."""
    store = SceneStore(tmp_path)
    cover = empty_frame(COVERAGE_COLUMNS, CRS)
    store.commit("a", cover, detections("a", 2))
    store.commit("b", cover, detections("b", 1).assign(cut=[True]))
    _, dets = store.load(CRS)
    assert str(dets["cut"].dtype) == "bool"
    assert dets["cut"].tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("image", "sidecar"),
    [("a.png", "a.pgw"), ("a.png", "a.prj"), ("b.tif", "b.tif.aux.xml")],
)
def test_a_scene_whose_georeferencing_sidecar_changed_has_another_stamp(
    tmp_path, write_raster, image, sidecar
):
    """A world file, ``.prj`` or ``.aux.xml`` that places an image is part of its commit
    stamp: edited since the scene was committed (the CRS or origin corrected), the scene is
    detected again rather than its detections kept where the old georeference put them."""
    from pyproj import CRS as ProjCRS

    from dwelltime.scenes import read_scene

    png = write_raster(tmp_path / "a.png", driver="PNG", crs=None)
    png.with_name("a.png.aux.xml").unlink()  # placed by its world file and .prj alone
    png.with_suffix(".pgw").write_text("0.5\n0\n0\n-0.5\n730485.78\n4345043.01\n")
    png.with_suffix(".prj").write_text(ProjCRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    tif = write_raster(tmp_path / "b.tif")
    srs = ProjCRS.from_epsg(32651).to_wkt()
    tif.with_name("b.tif.aux.xml").write_text(f"<PAMDataset><SRS>{srs}</SRS></PAMDataset>")
    made = {"aprons": "0" * 64, "settings": {}}
    before = commit_stamp(read_scene(tmp_path / image, require_time=False), made)
    assert commit_stamp(read_scene(tmp_path / image, require_time=False), made) == before
    edited = tmp_path / sidecar
    edited.write_text(edited.read_text().replace("730485.78", "730485.28") + "\n")
    after = commit_stamp(read_scene(tmp_path / image, require_time=False), made)
    assert stamp_changes(before, after) == "sidecars"
    assert "world file" in STAMP_REASONS["sidecars"]


def test_a_scene_id_with_a_folder_in_it_is_committed_and_loaded(tmp_path):
    """Images of one name in two folders have the ids ``day1/x`` and ``day2/x``: their commits
    failed (``parts/day1/`` is no folder), so ``run --out`` skipped both; now each is one file
    in ``parts/`` and reads back under its id."""
    store = SceneStore(tmp_path)
    cover = empty_frame(COVERAGE_COLUMNS, CRS)
    for scene_id in ("day1/x", "day2/x", "100%/x"):
        store.commit(scene_id, cover, detections(scene_id, 1), stamp=scene_id)
    store.record_failure("day3/x", "/data/day3/x.tif", "RasterioIOError: truncated")
    assert store.stamps() == {i: i for i in ("day1/x", "day2/x", "100%/x")}
    assert store.failed() == {"day3/x": "RasterioIOError: truncated"}
    assert {p.parent for p in store.folder.iterdir()} == {store.folder}
    _, dets = store.load(CRS)
    assert list(dets["scene_id"]) == ["100%/x", "day1/x", "day2/x"]


def test_detections_committed_alone_read_back_and_join_fresh_ones(tmp_path):
    """``dwelltime detect`` commits an image's detections without coverage; read back, they
    join the next images' fresh detections as one typed table (their times came back in
    another kind of UTC, which made the joined column objects, and writing it failed)."""
    store = SceneStore(tmp_path)
    store.commit("a", None, detections("a", 2), stamp="s")
    assert store.stamps() == {"a": "s"}
    assert not list(store.folder.glob("*.coverage.parquet"))
    back = store.detections("a")
    assert_geodataframe_equal(back, detections("a", 2), check_dtype=False)
    untimed = pd.to_datetime(pd.Series([pd.NaT]), utc=True)  # detect needs no time
    both = pd.concat([back, detections("b", 1).assign(acquired=untimed)], ignore_index=True)
    assert isinstance(both["acquired"].dtype, pd.DatetimeTZDtype)


def test_the_detection_settings_a_stamp_changes_are_named():
    """The batch log said only "other detection settings made them", leaving the user to
    guess which (a device that changed what `precision: auto` picks, a tile size)."""
    settings = {"precision": "int8", "tile_size_px": 512, "nms_iou": 0.5}
    old = json.dumps({"aprons": "a", "settings": settings})
    new = json.dumps({"aprons": "a", "settings": {**settings, "precision": "bf16"}})
    assert stamp_changes(old, new) == "settings"
    assert settings_changes(old, new) == "precision int8 → bf16"
    assert settings_changes(old, old) == ""


def test_aprons_in_one_crs_read_from_gdal_or_proj_have_one_stamp():
    """A batch job or notebook that had read an image first held its aprons' CRS as GDAL wrote
    it (WGS 84 a datum, not PROJ's ensemble): the same CRS in another WKT, so the stamp of
    every scene committed by a fresh process was stale and each was detected again."""
    import pyproj
    import rasterio.crs

    described = {"sha256": "s", "precision": "fp32", "gsd_m": 0.5}
    aprons = gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[shapely.box(0, 0, 9, 9)], crs=CRS)
    gdal = pyproj.CRS.from_wkt(rasterio.crs.CRS.from_epsg(32651).to_wkt())
    assert gdal == aprons.crs and gdal.to_wkt() != aprons.crs.to_wkt()  # the trap
    stamps = [
        made_by(described, 512, aprons.set_crs(crs, allow_override=True)) for crs in (CRS, gdal)
    ]
    assert stamps[0] == stamps[1]
    other = made_by(described, 512, aprons.set_crs("EPSG:32652", allow_override=True))
    assert other["aprons"] != stamps[0]["aprons"]
    local = pyproj.CRS.from_proj4("+proj=tmerc +lon_0=125.67 +lat_0=39.2 +units=m")  # no code
    assert made_by(described, 512, aprons.set_crs(local, allow_override=True))["aprons"]
