"""Round trips of result layers through every output format, overwrite and atomic writes."""

from __future__ import annotations

import codecs
import contextlib
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from dwelltime.errors import OutputExistsError, OutputFolderError
from dwelltime.io import (
    FORMATS,
    GPKG_NAME,
    ensure_writable,
    file_record,
    layer_names,
    output_paths,
    read_layer,
    with_xy_crs,
    write_layers,
)
from dwelltime.linking import link_stays
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS, empty_frame

CRS = "EPSG:32651"
T0 = pd.Timestamp("2026-07-31T03:20:00Z")


@pytest.fixture
def detections() -> gpd.GeoDataFrame:
    rows = []
    for n, (hours, x) in enumerate([(0, 730000.25), (24.5, 730000.5), (48, 730400.125)]):
        rows.append(
            {
                "detection_id": f"s{n}:0",
                "scene_id": f"s{n}",
                "airport": "ZKPY",
                "acquired": T0 + pd.Timedelta(hours=hours, milliseconds=n * 1500),
                "x": x,
                "y": 4345000.75,
                "heading_deg": 91.5,
                "length_m": 53.1,
                "wingspan_m": 43.3,
                "type": "IL62",
                "type_prob": 0.875,
                "score": 0.9,
                "geometry": shapely.Point(x, 4345000.75).buffer(20.0, quad_segs=2),
            }
        )
    return gpd.GeoDataFrame(rows, columns=list(DETECTION_COLUMNS), crs=CRS)


@pytest.fixture
def coverage(detections) -> gpd.GeoDataFrame:
    apron = shapely.box(729000, 4344000, 731000, 4346000)
    rows = [
        {
            "scene_id": s,
            "airport": "ZKPY",
            "apron_id": "a1",
            "acquired": t,
            "visible_fraction": 1.0,
            "geometry": apron,
        }
        for s, t in zip(detections["scene_id"], detections["acquired"], strict=True)
    ]
    return gpd.GeoDataFrame(rows, columns=list(COVERAGE_COLUMNS), crs=CRS)


@pytest.fixture
def layers(detections, coverage) -> dict[str, gpd.GeoDataFrame]:
    stays = link_stays(detections, coverage)
    assert stays["last_absent_before"].isna().any()  # NaT and NaN make the trip too
    return {
        "detections": detections,
        "coverage": coverage,
        "stays": stays,
        "no_detections": detections.iloc[:0],
        "no_stays": stays.iloc[:0],
        "contract_empty": empty_frame(DETECTION_COLUMNS, CRS),
    }


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "geojson", "parquet"])
def test_every_layer_round_trips(tmp_path, layers, fmt):
    written = write_layers(tmp_path, layers, formats=(fmt,))
    assert all(p.exists() for p in written)
    for name, frame in layers.items():
        path = tmp_path / GPKG_NAME if fmt == "gpkg" else tmp_path / f"{name}.{fmt}"
        back = read_layer(path, name)
        if fmt == "geojson":
            expected = with_xy_crs(frame).to_crs("EPSG:4326")
            assert_geodataframe_equal(back, expected, check_less_precise=True, normalize=True)
        elif fmt == "csv":
            _assert_csv_equal(back, frame)
        else:
            assert_geodataframe_equal(back, frame.reset_index(drop=True))


def test_a_folder_given_as_tilde_is_in_the_home_folder(tmp_path, layers, monkeypatch):
    """``write_layers("~/out", …)`` and ``read_layer("~/out", …)``: ``~`` is the home folder,
    as pandas reads it, not a folder named ``~`` in the current one."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    written = write_layers("~/out", {"stays": layers["stays"]})
    assert written[0] == tmp_path / "home" / "out" / GPKG_NAME and written[0].exists()
    assert len(read_layer("~/out", "stays")) == len(layers["stays"])
    assert not (tmp_path / "~").exists()


def test_an_empty_geopackage_layer_declares_its_geometry_type(tmp_path, layers):
    """A run with no stays still gives QGIS a point layer, not one of "Unknown" geometry."""
    import pyogrio

    empty = {name: layers[name].iloc[:0] for name in ("detections", "coverage", "stays")}
    write_layers(tmp_path, empty, formats=("gpkg",))
    found = {str(name): str(kind) for name, kind in pyogrio.list_layers(tmp_path / GPKG_NAME)}
    assert found == {"detections": "Polygon", "coverage": "MultiPolygon", "stays": "Point"}
    assert_geodataframe_equal(read_layer(tmp_path, "stays"), empty["stays"])


def test_an_empty_layer_has_the_field_types_of_a_full_one(tmp_path, layers):
    """A run with no detections gives QGIS REAL fields for x, y, score…, not TEXT."""
    import pyogrio

    write_layers(tmp_path, {"contract_empty": layers["contract_empty"]}, formats=("gpkg",))
    fields = pyogrio.read_info(tmp_path / GPKG_NAME, layer="contract_empty")
    types = dict(zip(fields["fields"], fields["dtypes"], strict=True))
    assert types["x"] == types["score"] == "float64"
    assert types["scene_id"] == "object" and types["acquired"].startswith("datetime64")


def test_geopackage_layers_say_what_they_hold(tmp_path, layers):
    """Each layer's description (gpkg_contents, QGIS's abstract) says what it holds, units."""
    import sqlite3

    write_layers(tmp_path, {"stays": layers["stays"]}, formats=("gpkg",))
    with contextlib.closing(sqlite3.connect(tmp_path / GPKG_NAME)) as db:
        (text,) = db.execute("SELECT description FROM gpkg_contents").fetchone()
    assert "one row per stay" in text and "hours" in text
    assert_geodataframe_equal(read_layer(tmp_path, "stays"), layers["stays"])


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "geojson", "parquet"])
def test_a_row_without_geometry_round_trips(tmp_path, layers, fmt):
    """A row whose geometry is missing (None, an empty cell in CSV) reads back as None."""
    stays = layers["stays"].copy()
    stays.loc[0, "geometry"] = None
    write_layers(tmp_path, {"stays": stays}, formats=(fmt,))
    path = tmp_path / (GPKG_NAME if fmt == "gpkg" else f"stays.{fmt}")
    back = read_layer(path, "stays")
    assert back.geometry[0] is None and back.geometry[1:].notna().all()


def test_times_read_back_as_utc(tmp_path, layers):
    write_layers(tmp_path, layers)
    stays = read_layer(tmp_path, "stays")
    assert str(stays["first_seen"].dtype) == "datetime64[us, UTC]"
    assert stays["first_seen"].iloc[0] == T0


def test_csv_is_wkt_and_iso_8601_with_z(tmp_path, layers):
    write_layers(tmp_path, {"detections": layers["detections"]}, formats=("csv",))
    text = (tmp_path / "detections.csv").read_text(encoding="utf-8-sig").splitlines()
    assert text[0].split(",")[0] == "detection_id"
    assert "2026-07-31T03:20:00.000000Z" in text[1]  # as the others of its column: below
    assert "2026-08-01T03:50:01.500000Z" in text[2]
    assert '"POLYGON ((' in text[1]


def test_csv_times_of_a_column_share_one_format_that_pandas_parses(tmp_path, layers):
    """One scene's time with a fraction of a second (a Maxar .IMD's, a Planet sidecar's)
    beside whole seconds (a file name's) was written "…03:20:00Z" and "…03:50:01.500000Z":
    pandas infers a column's format from its first time, so ``read_csv(parse_dates=…)`` left
    the column as text and ``to_datetime`` raised. Whole seconds alone stay whole."""
    whole = layers["detections"].assign(acquired=T0 + pd.to_timedelta([0, 1, 2], unit="h"))
    write_layers(tmp_path, {"detections": layers["detections"], "whole": whole}, formats=("csv",))
    plain = pd.read_csv(tmp_path / "detections.csv", parse_dates=["acquired"])
    assert isinstance(plain["acquired"].dtype, pd.DatetimeTZDtype)
    assert list(plain["acquired"]) == list(layers["detections"]["acquired"])
    assert pd.read_csv(tmp_path / "whole.csv")["acquired"][0] == "2026-07-31T03:20:00Z"


#: Most a coordinate written to the centimetre moves (metres; a tie, x.xx5, either way).
HALF_CM = 0.005 + 1e-9


def _assert_csv_equal(back: gpd.GeoDataFrame, frame: gpd.GeoDataFrame) -> None:
    """``back``, read from ``frame``'s CSV, is ``frame``: its WKT coordinates to the cm."""
    frame = frame.reset_index(drop=True)
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=HALF_CM).all()
    assert_geodataframe_equal(back, frame.assign(**{frame.geometry.name: back.geometry.values}))


def test_csv_wkt_is_to_the_centimetre_or_1e7_degree(tmp_path, layers):
    # Footprints were written with every digit of the float (730120.4938271604 m), while the
    # columns beside them are rounded (x, y to the millimetre).
    scenes = gpd.GeoDataFrame(
        {"scene_id": ["a"]}, geometry=[shapely.box(125.6712345678, 39.2, 125.68, 39.2198765432)]
    ).set_crs("EPSG:4326")
    write_layers(tmp_path, {"detections": layers["detections"], "scenes": scenes}, formats=("csv",))
    for name, decimals in (("detections", 2), ("scenes", 7)):
        wkt = pd.read_csv(tmp_path / f"{name}.csv")["geometry"]
        digits = wkt.str.findall(r"\.(\d+)").explode().str.len()
        assert digits.max() <= decimals, name
    assert "125.6712346 39.2" in wkt[0]


def test_csv_opens_in_excel_with_non_ascii_names(tmp_path, layers):
    """UTF-8 with a byte order mark: Excel shows a Cyrillic scene id as written (without the
    mark it reads the Windows code page); pandas and read_layer skip the mark."""
    detections = layers["detections"].assign(scene_id="Внуково_01")
    write_layers(tmp_path, {"detections": detections}, formats=("csv",))
    data = (tmp_path / "detections.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert "Внуково_01" in data.decode("utf-8-sig")
    assert pd.read_csv(tmp_path / "detections.csv").columns[0] == "detection_id"
    _assert_csv_equal(read_layer(tmp_path / "detections.csv"), detections)


def test_every_csv_dwelltime_writes_goes_through_write_csv():
    """Evaluation tables, dwell scores, synthetic truth, the scripts' flight logs: each CSV
    has the byte order mark Excel needs (``io.write_csv``), none a writer of its own."""
    from pathlib import Path

    root = Path(__file__).parents[1]
    own = re.compile(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(")
    writers = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in sorted((*root.glob("src/dwelltime/**/*.py"), *root.glob("scripts/**/*.py")))
        for line in path.read_text(encoding="utf-8").splitlines()
        if own.search(line)
    ]
    assert writers == ["src/dwelltime/io.py: frame.to_csv(tmp, index=False, encoding=CSV_ENCODING)"]


def test_geojson_is_rfc7946_lon_lat(tmp_path, layers):
    write_layers(tmp_path, {"stays": layers["stays"]}, formats=("geojson",))
    data = json.loads((tmp_path / "stays.geojson").read_text())
    lon, lat = data["features"][0]["geometry"]["coordinates"]
    assert 125 < lon < 126 and 39 < lat < 40  # Sunan, UTM 51N
    assert "crs" not in data
    assert data["name"] == "stays"  # not the temporary file's name it was written under


def test_a_pixel_layer_asked_for_as_geojson_only_is_written_as_csv(tmp_path, layers, caplog):
    pixels = layers["stays"].set_crs(None, allow_override=True)
    written = write_layers(tmp_path, {"detections_pixels": pixels}, formats=("geojson",))
    assert tmp_path / "detections_pixels.csv" in written
    assert len(pd.read_csv(tmp_path / "detections_pixels.csv")) == len(pixels)
    assert "not written as GeoJSON, which is lon/lat; written as csv" in caplog.text


def test_geojson_names_the_crs_of_x_and_y(tmp_path, layers):
    """Lon/lat geometry, x/y still metres in the airport's UTM zone: xy_crs says which."""
    write_layers(tmp_path, layers, formats=("geojson",))
    stays = gpd.read_file(tmp_path / "stays.geojson")
    columns = list(stays.columns)
    assert columns[columns.index("y") + 1] == "xy_crs" and set(stays["xy_crs"]) == {CRS}
    x, y = stays.loc[0, ["x", "y"]]
    point = gpd.GeoSeries([shapely.Point(x, y)], crs=CRS).to_crs("EPSG:4326")[0]
    assert point.distance(stays.geometry[0]) < 1e-6
    assert set(gpd.read_file(tmp_path / "detections.geojson")["xy_crs"]) == {CRS}
    assert "xy_crs" not in gpd.read_file(tmp_path / "coverage.geojson").columns  # no x/y


def test_a_geojson_layer_read_in_lon_lat_keeps_the_crs_of_x_and_y(tmp_path, layers):
    """read_layer("stays.geojson") gives lon/lat geometry and x/y in metres: xy_crs names
    theirs, as in the file (even with no rows); read as written (UTM), there is no need."""
    write_layers(tmp_path, layers, formats=("geojson",))
    for name in ("stays", "no_stays"):
        lon_lat = read_layer(tmp_path / f"{name}.geojson")
        columns = list(lon_lat.columns)
        assert columns[columns.index("y") + 1] == "xy_crs"
        assert set(lon_lat["xy_crs"]) <= {CRS} and lon_lat.crs == "EPSG:4326"
        assert "xy_crs" not in read_layer(tmp_path / f"{name}.geojson", as_written=True)
    assert "xy_crs" not in read_layer(tmp_path / "coverage.geojson").columns


def test_existing_output_is_not_overwritten(tmp_path, layers):
    (tmp_path / "stays.csv").write_text("keep me")
    with pytest.raises(
        OutputExistsError, match=r"stays\.csv already exists; pass overwrite=True to"
    ):
        write_layers(tmp_path, {"stays": layers["stays"]})
    assert (tmp_path / "stays.csv").read_text() == "keep me"
    assert not (tmp_path / GPKG_NAME).exists()  # checked before anything is written
    write_layers(tmp_path, {"stays": layers["stays"]}, overwrite=True)
    assert read_layer(tmp_path / "stays.csv").shape[0] == len(layers["stays"])


def test_a_layer_held_in_another_format_is_not_written_beside_it(tmp_path, layers):
    """`scan --out DIR --format csv` over an earlier `--format gpkg`: stays.csv beside the
    older dwelltime.gpkg's stays would be two runs' tables, and read_layer(DIR) the old one."""
    stays = {"stays": layers["stays"]}
    write_layers(tmp_path, stays, formats=("gpkg",))
    newer = {"stays": layers["stays"].iloc[:1]}
    with pytest.raises(OutputExistsError, match=rf"{GPKG_NAME} already exists"):
        write_layers(tmp_path, newer, formats=("csv",))
    assert sorted(p.name for p in tmp_path.iterdir()) == [GPKG_NAME]
    write_layers(tmp_path / "other", {"detections": layers["detections"]}, formats=("gpkg",))
    write_layers(tmp_path / "other", stays, formats=("csv",))  # its GeoPackage has no stays
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / GPKG_NAME).write_bytes(b"")  # no GeoPackage: kept, named
    with pytest.raises(OutputExistsError, match=rf"broken/{GPKG_NAME} already exists"):
        write_layers(tmp_path / "broken", newer, formats=("csv",))
    write_layers(tmp_path, newer, formats=("csv",), overwrite=True)
    assert len(read_layer(tmp_path, "stays")) == 1


def test_a_folder_that_cannot_be_made_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(OutputFolderError, match=r"blocker/out: cannot write output there"):
        ensure_writable([tmp_path / "blocker" / "out" / "stays.csv"], overwrite=True)


def test_overwrite_removes_the_layers_files_in_the_other_formats(tmp_path, layers, caplog):
    """A folder never holds tables of two runs: the earlier run's files of the same layers
    in formats not written now go, and nothing else does."""
    caplog.set_level("INFO", logger="dwelltime.io")
    stays = {"stays": layers["stays"]}
    write_layers(tmp_path, {**stays, "detections": layers["detections"]}, formats=FORMATS)
    (tmp_path / "stays.txt").write_text("not ours")
    write_layers(tmp_path, stays, formats=("csv",), overwrite=True)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "stays.geojson" not in left and "stays.parquet" not in left
    assert {"stays.csv", "stays.schema.json", "stays.txt", "detections.csv"} <= set(left)
    assert f"removed {tmp_path / 'stays.geojson'}" in caplog.text
    # the GeoPackage also holds the detections, which nothing rewrote: kept, and said so
    assert GPKG_NAME in left
    assert "kept (it holds other layers too); its stays layer(s)" in caplog.text
    only = tmp_path / "only_stays"
    write_layers(only, stays, formats=("gpkg",))
    write_layers(only, stays, formats=("csv",), overwrite=True)
    assert not (only / GPKG_NAME).exists()  # its one layer would disagree with stays.csv


def test_overwriting_some_layers_of_a_geopackage_keeps_its_others(tmp_path, layers, caplog):
    """`dwelltime link run/ --out run/ --overwrite` rewrites the stays, not the run's aprons."""
    write_layers(tmp_path, {"stays": layers["stays"], "detections": layers["detections"]})
    fewer = layers["stays"].iloc[:1]
    write_layers(tmp_path, {"stays": fewer}, formats=("gpkg",), overwrite=True)
    assert sorted(layer_names(tmp_path)) == ["detections", "stays"]
    assert len(read_layer(tmp_path, "stays")) == 1
    assert len(read_layer(tmp_path, "detections")) == len(layers["detections"])
    assert "kept its detections layer(s), from an earlier run" in caplog.text


def test_an_exclusive_overwrite_leaves_only_the_new_layers(tmp_path, layers, caplog):
    """`dwelltime run --out DIR --overwrite` over `detect --out DIR`: its detections_pixels
    layer, in the GeoPackage and as files, is an earlier output's and goes."""
    caplog.set_level("INFO", logger="dwelltime.io")
    pixels = layers["detections"].set_crs(None, allow_override=True)
    write_layers(tmp_path, {"detections_pixels": pixels, "detections": layers["detections"]})
    (tmp_path / "notes.csv").write_text("not ours")
    write_layers(tmp_path, {"stays": layers["stays"]}, overwrite=True, exclusive=True)
    assert layer_names(tmp_path) == ["stays"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        GPKG_NAME,
        "notes.csv",
        "stays.csv",
        "stays.schema.json",
    ]
    assert f"removed {tmp_path / 'detections_pixels.csv'}" in caplog.text
    assert "dropped its earlier layer(s) detections, detections_pixels" in caplog.text


def test_a_failed_write_leaves_no_file(tmp_path, layers, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError, match="killed"):
        write_layers(tmp_path, {"stays": layers["stays"]}, formats=("parquet",))
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_replaced_is_named_in_one_line(tmp_path, layers, monkeypatch):
    """dwelltime.gpkg open in QGIS on Windows cannot be replaced: an OutputFolderError naming
    it (one line in the CLI), not a PermissionError traceback, and no temporary left."""

    def locked(source, target):
        raise PermissionError(13, "The process cannot access the file", str(target))

    monkeypatch.setattr("dwelltime.io.os.replace", locked)
    with pytest.raises(
        OutputFolderError, match=rf"{GPKG_NAME}: cannot write it \(The process cannot access"
    ):
        write_layers(tmp_path, {"stays": layers["stays"]})
    assert list(tmp_path.iterdir()) == []


def test_output_paths_and_bad_arguments(tmp_path):
    assert [p.name for p in output_paths(tmp_path, ["stays"], ("gpkg", "csv", "parquet"))] == [
        "dwelltime.gpkg",
        "stays.csv",
        "stays.parquet",
        "stays.schema.json",
    ]
    with pytest.raises(ValueError, match="unknown output formats \\['shp'\\]"):
        output_paths(tmp_path, ["stays"], ("shp",))
    with pytest.raises(ValueError, match=r"a sequence of names such as \('gpkg',\), not None"):
        output_paths(tmp_path, ["stays"], None)  # not TypeError: 'NoneType' is not iterable
    with pytest.raises(ValueError, match=r"a sequence of names such as \('csv',\), not a string"):
        output_paths(tmp_path, ["stays"], "csv")
    with pytest.raises(ValueError, match="layer name"):
        output_paths(tmp_path, ["my stays"], ("csv",))


def test_a_csv_copied_without_its_schema_is_read_with_types_and_a_warning(tmp_path, layers, caplog):
    """stays.csv sent alone: numbers, booleans and UTC times back, not all text; no CRS, said."""
    write_layers(tmp_path, {"stays": layers["stays"]}, formats=("csv",))
    (tmp_path / "stays.schema.json").unlink()
    back = read_layer(tmp_path / "stays.csv")
    assert "no stays.schema.json beside it: column types guessed and no CRS" in caplog.text
    stays = layers["stays"]
    assert back.crs is None
    assert back.set_crs(CRS).geometry.geom_equals_exact(stays.geometry, HALF_CM).all()
    for column in ("first_seen", "last_absent_before", "dwell_min_h", "dwell_max_h", "n_seen"):
        pd.testing.assert_series_equal(back[column], stays[column], check_dtype=False)
    assert back["censored_start"].dtype == bool and back["n_seen"].dtype == "int64"
    assert isinstance(back["first_seen"].dtype, pd.DatetimeTZDtype)
    (tmp_path / "truth.csv").write_text("stay_id,x,y\nS1,1.0,2.0\n")
    with pytest.raises(ValueError, match=r"truth\.csv: no geometry column \(WKT\): not a layer"):
        read_layer(tmp_path / "truth.csv")


def test_reading_a_missing_layer_names_the_layers_there(tmp_path, layers):
    write_layers(tmp_path, {"stays": layers["stays"]}, formats=("gpkg",))
    with pytest.raises(ValueError, match=r"no layer 'detections'; it has \['stays'\]"):
        read_layer(tmp_path / GPKG_NAME, "detections")
    with pytest.raises(FileNotFoundError, match="write_layers"):
        read_layer(tmp_path / "nothing.csv")


def test_readme_says_what_every_column_of_the_written_layers_means():
    """The README's "Outputs and reading them back" names each column of the stays,
    detections, coverage and scenes files a run writes (the scenes' with co-registration's
    offsets), so a user reading a CSV can look it up."""
    from pathlib import Path

    from dwelltime.coregister import OFFSET_COLUMNS
    from dwelltime.detector.predict import EXTRA_COLUMNS
    from dwelltime.linking import STAY_EXTRA_COLUMNS
    from dwelltime.schema import SCENE_COLUMNS, STAY_COLUMNS

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Outputs and reading them back")[1].split("\n### ")[0]
    written = (
        STAY_COLUMNS
        + STAY_EXTRA_COLUMNS
        + DETECTION_COLUMNS
        + EXTRA_COLUMNS
        + COVERAGE_COLUMNS
        + SCENE_COLUMNS
        + OFFSET_COLUMNS
    )
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert sorted({c for c in written if c != "geometry"} - named) == []


def test_a_layer_in_pixels_is_written_without_a_missing_crs_warning(tmp_path, layers):
    """detect --gsd's detections_pixels has no CRS on purpose: the Python API's write_layers
    says nothing of it (pyogrio's "'crs' was not provided" reached notebooks)."""
    import warnings

    pixels = layers["detections"].set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_layers(tmp_path, {"detections_pixels": pixels})
    assert layer_names(tmp_path) == ["detections_pixels"]


def test_the_record_of_a_shapefile_holds_its_parts(tmp_path):
    """Aprons given as a shapefile: their ids are in its ``.dbf`` and their CRS in its
    ``.prj``, so run.json records those files' sha256 too; edited after a run, the record of
    the next run differs, where the ``.shp``'s alone stayed the same."""
    frame = gpd.GeoDataFrame(
        {"apron_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:32651"
    )
    frame.to_file(tmp_path / "aprons.shp")
    (tmp_path / "aprons.shp.xml").write_text("<metadata/>")  # not a part
    before = file_record(tmp_path / "aprons.shp")
    assert sorted(before["parts"]) == ["aprons.cpg", "aprons.dbf", "aprons.prj", "aprons.shx"]
    frame.assign(apron_id=["B"]).to_file(tmp_path / "aprons.shp")  # the ids renamed
    after = file_record(tmp_path / "aprons.shp")
    assert after["sha256"] == before["sha256"] and after["parts"] != before["parts"]
    assert "parts" not in file_record(tmp_path / "aprons.shp.xml")


def _read_plainly(tmp_path, name: str, fmt: str) -> pd.DataFrame:
    """Layer ``name`` as QGIS or pandas sees the file of ``fmt``, without dwelltime."""
    if fmt == "csv":
        return pd.read_csv(tmp_path / f"{name}.csv", encoding="utf-8-sig")
    if fmt == "parquet":
        return pd.read_parquet(tmp_path / f"{name}.parquet")
    if fmt == "gpkg":
        return gpd.read_file(tmp_path / GPKG_NAME, layer=name)
    return gpd.read_file(tmp_path / f"{name}.geojson")


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "geojson", "parquet"])
def test_a_text_without_value_is_written_as_null(tmp_path, layers, coverage, fmt):
    """An open end's ``start_bounded_by`` and an apron-less ``apron_id`` are NULL in the file
    (an empty cell in CSV), so that ``"apron_id" IS NULL`` and ``isna()`` find them;
    :func:`read_layer` gives them back as ``""``, as the stages make them."""
    coverage = coverage.assign(apron_id=["a1", "", "a1"])
    write_layers(tmp_path, {"stays": layers["stays"], "coverage": coverage}, formats=(fmt,))
    stays = _read_plainly(tmp_path, "stays", fmt)
    assert stays["start_bounded_by"].isna().tolist() == stays["censored_start"].tolist()
    assert stays["censored_start"].any()
    assert stays["apron_id"].notna().all()
    assert _read_plainly(tmp_path, "coverage", fmt)["apron_id"].isna().tolist() == [
        False,
        True,
        False,
    ]
    path = tmp_path / GPKG_NAME if fmt == "gpkg" else tmp_path / f"coverage.{fmt}"
    assert read_layer(path, "coverage")["apron_id"].tolist() == ["a1", "", "a1"]
    if fmt in ("csv", "geojson"):  # copied without its schema: still "", not NaN
        (tmp_path / "coverage.schema.json").unlink()
        assert read_layer(path)["apron_id"].tolist() == ["a1", "", "a1"]


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "geojson", "parquet"])
def test_floats_are_written_at_the_precision_of_their_unit(tmp_path, detections, fmt):
    """The detector's float32 noise stays out of the files: x/y to the millimetre, sizes to
    the centimetre, degrees to 0.01, scores to 1e-4; the frame in memory is left as it is."""
    noisy = detections.assign(
        x=730322.70786026772,
        length_m=float(np.float32(46.3)),
        heading_deg=float(np.float32(131.2)),
        score=0.9575619101524353,
    )
    write_layers(tmp_path, {"detections": noisy}, formats=(fmt,))
    back = _read_plainly(tmp_path, "detections", fmt).iloc[0]
    assert (back["x"], back["length_m"], back["heading_deg"], back["score"]) == (
        730322.708,
        46.3,
        131.2,
        0.9576,
    )
    assert noisy["length_m"].iloc[0] == float(np.float32(46.3))
