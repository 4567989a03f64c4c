import json

import numpy as np
import pytest
from rasterio.transform import from_origin

from dwelltime.errors import LabelError
from dwelltime.evaluation.labels import (
    airbus_image_names,
    find_labelled_images,
    read_airbus_csv,
    read_dota,
    read_geojson,
)
from dwelltime.footprints import footprint_corners

IL62 = footprint_corners(
    np.array([100.0]), np.array([80.0]), np.array([106.24]), np.array([86.4]), np.array([30.0])
)


def test_dota_with_header_difficult_and_attributes(tmp_path):
    path = tmp_path / "a.txt"
    coords = " ".join(f"{v:.3f}" for v in IL62.reshape(-1))
    path.write_text(f"imagesource:synth\ngsd:0.5\n{coords} IL62 0\n0 0 4 0 4 2 0 2 plane 1\n")
    objects, gsd = read_dota(path)
    assert gsd == 0.5 and len(objects) == 2
    assert list(objects.types) == ["IL62", "unknown"]
    assert list(objects.difficult) == [False, True]
    assert objects.length_m[0] == pytest.approx(53.12, abs=0.01)
    assert objects.span_m[0] == pytest.approx(43.2, abs=0.01)
    assert objects.heading_deg[0] == pytest.approx(30, abs=0.01)
    # a raster GSD wins over the header
    assert read_dota(path, gsd_m=1.0)[0].length_m[0] == pytest.approx(106.24, abs=0.01)


def test_dota_without_gsd_or_difficult_and_empty(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("0 0 4 0 4 2 0 2 IL62\n")
    objects, gsd = read_dota(path)
    assert np.isnan(gsd) and np.isnan(objects.length_m[0]) and not objects.difficult[0]
    (tmp_path / "empty.txt").write_text("")
    assert len(read_dota(tmp_path / "empty.txt")[0]) == 0


def test_dota_v1_header_with_gsd_null(tmp_path):
    """DOTA v1 files say ``gsd:null`` when the GSD is not known: unknown, not an error."""
    path = tmp_path / "P0001.txt"
    path.write_text("imagesource:GoogleEarth\ngsd:null\n0 0 4 0 4 2 0 2 plane 0\n")
    objects, gsd = read_dota(path)
    assert np.isnan(gsd) and len(objects) == 1
    assert read_dota(path, gsd_m=0.5)[1] == 0.5


def test_dota_with_byte_order_mark_or_not_text(tmp_path):
    """A label saved with a byte-order mark reads; one that is not text is a LabelError."""
    path = tmp_path / "a.txt"
    path.write_bytes(
        b"\xef\xbb\xbfimagesource:GoogleEarth\r\ngsd:0.5\r\n0 0 4 0 4 2 0 2 plane 0\r\n"
    )
    objects, gsd = read_dota(path)
    assert gsd == 0.5 and len(objects) == 1
    path.write_bytes(b"0 0 4 0 4 2 0 2 plane \xe9\n")
    with pytest.raises(LabelError, match=r"a\.txt: not a DOTA text file"):
        read_dota(path)


def test_label_types_in_other_spellings_are_designators(tmp_path):
    """``a320``, ``Il-62``: the detector says A320, IL62; names the catalog lacks stay."""
    path = tmp_path / "a.txt"
    lines = [f"0 0 4 0 4 2 0 2 {t} 0" for t in ("a320", "Il-62", "plane", "Concorde")]
    path.write_text("\n".join(lines) + "\n")
    assert list(read_dota(path)[0].types) == ["A320", "IL62", "unknown", "Concorde"]


def test_dota_other_categories_are_not_truth(tmp_path):
    """A DOTA file labels ships, vehicles, helicopters too: only the aeroplanes are truth."""
    path = tmp_path / "P0002.txt"
    path.write_text(
        "0 0 4 0 4 2 0 2 plane 0\n10 10 14 10 14 12 10 12 ship 0\n"
        "20 20 24 20 24 22 20 22 small-vehicle 1\n30 30 34 30 34 32 30 32 Helicopter 0\n"
    )
    objects, _ = read_dota(path)
    assert len(objects) == 1 and list(objects.polygons[0, 0]) == [0, 0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0 4 0 4 2 0 2", "line 1: expected"),
        ("0 0 4 x 4 2 0 2 IL62 0", "'x' is not a number"),
        ("0 0 4 nan 4 2 0 2 IL62 0", "'nan' is not a number"),
        ("gsd:inf", "'inf' is not a number"),
    ],
)
def test_dota_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(line + "\n")
    with pytest.raises(LabelError, match=message) as info:
        read_dota(path)
    assert "bad.txt" in str(info.value)


def test_reads_what_the_synthetic_engine_writes(tmp_path):
    from dwelltime.synth import render_chip
    from dwelltime.synth.export import write_chip

    chip = render_chip(np.random.default_rng(3), size_px=128, gsd_m=0.5, n_aircraft=(2, 2))
    _, label = write_chip(chip, tmp_path, "c0")
    objects, gsd = read_dota(label)
    assert gsd == 0.5 and len(objects) == len(chip.labels)
    for i, truth in enumerate(chip.labels):
        assert objects.types[i] == truth.type and objects.difficult[i] == truth.difficult
        assert objects.heading_deg[i] == pytest.approx(truth.heading_deg, abs=0.05)
        assert objects.length_m[i] == pytest.approx(truth.length_m, abs=0.02)
        assert objects.span_m[i] == pytest.approx(truth.wingspan_m, abs=0.02)
    found = find_labelled_images(tmp_path / "images")  # out/images + out/labels
    assert [(i.image.name, i.labels.name, i.kind) for i in found.images] == [
        ("c0.png", "c0.txt", "dota")
    ]


def test_airbus_csv(tmp_path):
    path = tmp_path / "annotations.csv"
    path.write_text(
        "id,image_id,geometry,class\n"
        '1,a.jpg,"[(10, 20), (50, 20), (50, 60), (10, 60), (10, 20)]",Airplane\n'
        '2,a.jpg,"[(0, 0), (5, 0), (5, 9), (0, 9), (0, 0)]",Truncated_airplane\n'
        '3,b.jpg,"[(1, 1), (2, 1), (2, 2), (1, 2), (1, 1)]",Airplane\n'
    )
    boxes = read_airbus_csv(path)
    assert sorted(boxes) == ["a.jpg", "b.jpg"] and len(boxes["a.jpg"]) == 2
    assert np.allclose(boxes["a.jpg"].polygons[0], [[10, 20], [50, 20], [50, 60], [10, 60]])
    assert set(boxes["a.jpg"].types) == {"unknown"}
    path.write_text('id,image_id,geometry,class\n1,a.jpg,"[(1, 2]",Airplane\n')
    with pytest.raises(LabelError, match="line 2: unreadable geometry"):
        read_airbus_csv(path)


def test_airbus_csv_saved_by_excel_with_a_byte_order_mark(tmp_path):
    """An annotations.csv re-saved as "CSV UTF-8" (a BOM before its first column, here
    image_id) is read as the file search found it, not refused for lacking 'image_id'."""
    path = tmp_path / "annotations.csv"
    path.write_bytes(
        b"\xef\xbb\xbfimage_id,geometry,class\r\n"
        b'a.jpg,"[(1, 1), (4, 1), (4, 3), (1, 3)]",Airplane\r\n'
    )
    assert airbus_image_names(path) == {"a.jpg"}
    assert list(read_airbus_csv(path)) == ["a.jpg"]
    path.write_bytes(b"image_id,geometry\na\xff.jpg,x\n")
    with pytest.raises(LabelError, match="not a CSV text file"):
        read_airbus_csv(path)


def test_geojson_map_footprints_to_pixels(tmp_path):
    transform = from_origin(1000.0, 2000.0, 0.5, 0.5)
    corners_m = footprint_corners(
        np.array([1050.0]),
        np.array([1960.0]),
        np.array([53.12]),
        np.array([43.2]),
        np.array([30.0]),
        y_down=False,
    )
    ring = [*corners_m[0].tolist(), corners_m[0][0].tolist()]
    feature = {
        "type": "Feature",
        "properties": {"type": "IL62", "heading_deg": 30.0, "length_m": 53.12, "wingspan_m": 43.2},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}},
        "features": [feature],
    }
    path = tmp_path / "t.geojson"
    path.write_text(json.dumps(doc))
    objects = read_geojson(path, crs="EPSG:32651", transform=transform, gsd_m=0.5)
    assert list(objects.types) == ["IL62"] and objects.heading_deg[0] == 30.0
    assert np.allclose(objects.polygons[0].mean(axis=0), [100, 80])
    expected = footprint_corners(
        np.array([100.0]), np.array([80.0]), np.array([106.24]), np.array([86.4]), np.array([30.0])
    )
    from dwelltime.evaluation.geometry import iou_matrix

    assert iou_matrix(objects.polygons, expected)[0, 0] == pytest.approx(1, abs=1e-6)


def test_geojson_footprint_without_properties(tmp_path):
    """A four-corner footprint in EPSG:4326 (nose edge first) gives its own length, span and
    heading in the raster's pixels; a traced outline has no nose: those stay unknown."""
    import geopandas as gpd
    import shapely

    transform = from_origin(1000.0, 2000.0, 0.5, 0.5)
    corners_m = footprint_corners(
        np.array([1050.0]),
        np.array([1960.0]),
        np.array([40.0]),
        np.array([30.0]),
        np.array([30.0]),
        y_down=False,
    )[0]
    outline = shapely.Polygon([*corners_m[:2], corners_m[2:].mean(axis=0) + 1, *corners_m[2:]])
    frame = gpd.GeoDataFrame(
        geometry=[shapely.Polygon(corners_m), outline, shapely.Point(1050, 1960)],
        crs="EPSG:32651",
    ).to_crs(4326)
    frame.iloc[:2].to_file(tmp_path / "t.geojson")
    objects = read_geojson(tmp_path / "t.geojson", crs="EPSG:32651", transform=transform, gsd_m=0.5)
    assert objects.length_m[0] == pytest.approx(40, abs=0.01)
    assert objects.span_m[0] == pytest.approx(30, abs=0.01)
    assert objects.heading_deg[0] == pytest.approx(30, abs=0.01)
    assert np.isnan([objects.length_m[1], objects.span_m[1], objects.heading_deg[1]]).all()
    frame.iloc[2:].to_file(tmp_path / "p.geojson")
    with pytest.raises(LabelError, match=r"p\.geojson: a feature's geometry is not a footprint"):
        read_geojson(tmp_path / "p.geojson", crs="EPSG:32651", transform=transform, gsd_m=0.5)


@pytest.mark.parametrize("content", ["", "\n"])
def test_an_empty_geojson_file_is_an_image_without_aircraft(tmp_path, content):
    """`touch b.geojson` marks a negative image, as an empty DOTA file does: no truth, so
    what the detector finds there counts as false positives."""
    path = tmp_path / "b.geojson"
    path.write_text(content)
    objects = read_geojson(path, crs="EPSG:32651", transform=from_origin(0, 0, 1, 1), gsd_m=1)
    assert len(objects) == 0


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"Type": "A320", "Difficult": 1}, ("A320", True)),
        ({"aircraft_type": "B738", "HIDDEN": 0}, ("B738", False)),
        ({"CLASS": "plane"}, ("unknown", False)),
        ({"class": "plane", "TYPE": "IL62"}, ("IL62", False)),
        ({"type": "A320", "difficult": "0"}, ("A320", False)),  # yes/no written as text
        ({"type": "A320", "hidden": "False"}, ("A320", False)),
        ({"type": "A320", "hidden": "yes"}, ("A320", True)),
    ],
)
def test_geojson_property_names_in_any_case(tmp_path, properties, expected):
    """Labels drawn in a GIS name the type column as they please (Type, aircraft_type, class)
    and may write yes/no as text."""
    ring = [[125.0, 39.0], [125.001, 39.0], [125.001, 38.999], [125.0, 38.999], [125.0, 39.0]]
    feature = {"type": "Feature", "properties": properties}
    feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    path = tmp_path / "t.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    transform = from_origin(125.0, 39.0, 1e-4, 1e-4)
    objects = read_geojson(path, crs="EPSG:4326", transform=transform, gsd_m=10.0)
    assert (objects.types[0], bool(objects.difficult[0])) == expected


def test_discovery_rule(tmp_path):
    imagery = tmp_path / "series" / "imagery"
    for name in ("a.tif", "b.tif", "c.jpg", "d.png", "e.tif", "a_udm2.tif", "f.tif"):
        (imagery / name).parent.mkdir(parents=True, exist_ok=True)
        (imagery / name).write_bytes(b"")
    (imagery / "a.txt").write_text("")  # beside the image
    (imagery / "labels").mkdir()
    (imagery / "labels" / "b.txt").write_text("")
    (tmp_path / "series" / "truth" / "dota").mkdir(parents=True)
    (tmp_path / "series" / "truth" / "dota" / "e.txt").write_text("")  # imagery/../truth/dota
    (tmp_path / "series" / "truth" / "c.geojson").write_text("{}")
    (tmp_path / "series" / "truth" / "e.geojson").write_text("{}")  # DOTA wins
    (tmp_path / "series" / "annotations.csv").write_text(
        'id,image_id,geometry,class\n1,d.png,"[(0, 0), (1, 0), (1, 1), (0, 1)]",Airplane\n'
    )
    found = find_labelled_images(imagery)
    kinds = {
        item.image.name: (item.kind, item.labels.relative_to(tmp_path).as_posix())
        for item in found.images
    }
    assert kinds == {
        "a.tif": ("dota", "series/imagery/a.txt"),
        "b.tif": ("dota", "series/imagery/labels/b.txt"),
        "c.jpg": ("geojson", "series/truth/c.geojson"),
        "d.png": ("airbus_csv", "series/annotations.csv"),
        "e.tif": ("dota", "series/truth/dota/e.txt"),
    }
    assert [p.name for p in found.unlabelled] == ["f.tif"]
    assert found.unused == []  # truth/e.geojson has its image; DOTA won over it


@pytest.mark.parametrize("given", ["", "images"])
def test_discovery_of_the_dota_layout(tmp_path, given):
    """DOTA ships images/ and labelTxt/ side by side: found from the root or from images/."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "P0001.png").write_bytes(b"")
    (tmp_path / "labelTxt").mkdir()
    (tmp_path / "labelTxt" / "P0001.txt").write_text("")
    found = find_labelled_images(tmp_path / given)
    assert [(i.labels.relative_to(tmp_path).as_posix(), i.kind) for i in found.images] == [
        ("labelTxt/P0001.txt", "dota")
    ]
    assert found.unused == []
    (tmp_path / "labelTxt" / "P0002.txt").write_text("")  # its image is missing
    assert find_labelled_images(tmp_path / given).unused == [tmp_path / "labelTxt" / "P0002.txt"]


def test_discovery_past_a_foreign_annotations_csv(tmp_path, caplog):
    """An annotations.csv that is not Airbus's is named in one warning; DOTA labels still count."""
    (tmp_path / "annotations.csv").write_text("name,x,y\nfoo,1,2\n")
    (tmp_path / "a.tif").write_bytes(b"")
    (tmp_path / "a.txt").write_text("")
    found = find_labelled_images(tmp_path)
    assert [i.image.name for i in found.images] == ["a.tif"]
    assert "annotations.csv: no column 'image_id'" in caplog.text


def test_discovery_of_an_empty_folder(tmp_path):
    found = find_labelled_images(tmp_path)
    assert found.images == [] and found.unlabelled == []
