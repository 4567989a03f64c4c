import json
import logging
import sqlite3
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from dwelltime.airports import (
    Airport,
    airport_and_aprons,
    apron_record,
    load_aprons,
    lookup_airport,
    utm_crs,
)
from dwelltime.errors import ApronError, UnknownAirportError

SUNAN = (125.67, 39.2241)


@pytest.mark.parametrize("code", ["ZKPY", "zkpy", "FNJ", " fnj "])
def test_lookup_icao_or_iata(code):
    airport = lookup_airport(code)
    assert (airport.icao, airport.iata, airport.crs) == ("ZKPY", "FNJ", "EPSG:32651")
    assert (airport.lon, airport.lat) == pytest.approx(SUNAN, abs=0.01)
    assert "Pyongyang" in airport.name


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (125.67, 39.22, "EPSG:32651"),
        (12.19, -5.6, "EPSG:32733"),
        (-0.46, 51.47, "EPSG:32630"),
        (-180.0, 10.0, "EPSG:32601"),
        (180.0, -10.0, "EPSG:32760"),
        # past ±180°, as lon/lat images and GCPs may be written: was zone 60 or 1 whatever it
        # was, so the gdalwarp line given for them (evaluate, GCPs) named a zone far away
        (180.1, -16.7, "EPSG:32701"),
        (205.0, 60.0, "EPSG:32605"),
        (-190.0, 10.0, "EPSG:32659"),
    ],
)
def test_utm_crs(lon, lat, crs):
    assert utm_crs(lon, lat) == crs


def test_southern_airport_uses_south_zone():
    assert lookup_airport("FNCA").crs.startswith("EPSG:327")


@pytest.mark.parametrize(("code", "hint"), [("ZKPX", "ZKPY"), ("Pyongyang", "ZKPY")])
def test_unknown_code_suggests_close_matches(code, hint):
    with pytest.raises(UnknownAirportError, match=hint):
        lookup_airport(code)


def test_nonsense_code_says_what_to_give():
    with pytest.raises(UnknownAirportError, match="ICAO"):
        lookup_airport("??")


@pytest.mark.parametrize("code", [None, 1234])
@pytest.mark.parametrize("find", [lookup_airport, airport_and_aprons])
def test_a_code_that_is_no_text_says_what_to_give(code, find):
    """Also as run takes it (airport_and_aprons), not an AttributeError of ``1234.strip()``."""
    with pytest.raises(UnknownAirportError, match=rf"^airport code {code} is not text; give a"):
        find(code)


@pytest.mark.parametrize("code", ["", "  "])
def test_an_empty_code_says_so(code):
    """It was answered with 'did you mean 00AA/- (Aero B Ranch Airport), 00AK/- …'."""
    with pytest.raises(UnknownAirportError, match=rf"^airport code '{code}' is empty; give a") as e:
        lookup_airport(code)
    assert "did you mean" not in str(e.value)


def _sunan() -> Airport:
    return lookup_airport("ZKPY")


def test_default_apron_is_a_square_around_the_reference_point(caplog):
    with caplog.at_level(logging.INFO):
        aprons = load_aprons(_sunan(), radius_m=500)
    assert "ZKPY: no apron file; searching a 1 km square centred on" in caplog.text
    assert list(aprons.columns) == ["apron_id", "geometry"]
    assert aprons.crs == "EPSG:32651"
    (square,) = aprons.geometry
    assert square.area == pytest.approx(1000 * 1000)
    centre = gpd.GeoSeries([shapely.Point(SUNAN)], crs="EPSG:4326").to_crs("EPSG:32651")[0]
    assert square.centroid.distance(centre) < 1e-6


def _osm_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feature(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _square(lon, lat, d=0.001):
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_osm_export_keeps_apron_polygons(tmp_path, caplog):
    lon, lat = SUNAN
    path = _osm_geojson(
        tmp_path / "osm.geojson",
        [
            _feature(_square(lon, lat), aeroway="apron", ref="A1", osm_id="way/1"),
            _feature(_square(lon + 0.01, lat), aeroway="apron", ref=None, osm_id="way/2"),
            _feature(_square(lon, lat + 0.01), aeroway="taxiway", ref="T", osm_id="way/3"),
            _feature(
                {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.01, lat]]},
                aeroway="apron",
                ref="L",
                osm_id="way/4",
            ),
        ],
    )
    with caplog.at_level(logging.WARNING):
        aprons = load_aprons(_sunan(), path)
    assert aprons.crs == "EPSG:32651"
    assert aprons["apron_id"].tolist() == ["A1", "way/2"]  # its own id, where no ref
    assert "osm.geojson: dropped 1 feature holding no polygon (1 LineString)" in caplog.text
    assert aprons.geometry.area.min() > 5000  # ~ 86 m x 111 m, in metres now


def test_polygons_of_a_geometry_collection_are_aprons(tmp_path, caplog):
    """A KML MultiGeometry (a polygon with its label point) reads as a GeometryCollection: it
    was dropped as a non-polygon feature. Features with no geometry or an empty one are
    counted by kind."""
    lon, lat = SUNAN
    apron, label = _square(lon, lat), {"type": "Point", "coordinates": [lon, lat]}
    collection = {"type": "GeometryCollection", "geometries": [label, apron]}
    path = _osm_geojson(
        tmp_path / "gc.geojson",
        [
            _feature(collection, name="A"),
            _feature({"type": "GeometryCollection", "geometries": [label]}, name="P"),
            _feature(None, name="N"),
            _feature({"type": "Polygon", "coordinates": []}, name="E"),
        ],
    )
    with caplog.at_level(logging.WARNING):
        aprons = load_aprons(_sunan(), path)
    assert aprons["apron_id"].tolist() == ["A"]
    assert aprons.geometry[0].area == pytest.approx(86 * 111, rel=0.05)  # 0.001° at 39° N
    assert (
        "gc.geojson: dropped 3 features holding no polygon (1 GeometryCollection, "
        "1 empty Polygon, 1 no geometry)" in caplog.text
    )


@pytest.mark.parametrize("as_text", [False, True])
def test_osm_tags_nested_in_a_tags_property_select_the_aprons(tmp_path, as_text):
    """osmtogeojson without flat properties nests the tags (``{"tags": {"aeroway": …}}``):
    the taxiway was kept as an apron, and the ids were the OSM numbers, not the names."""
    lon, lat = SUNAN

    def tags(**kv):
        return json.dumps(kv) if as_text else kv

    path = _osm_geojson(
        tmp_path / "nested.geojson",
        [
            _feature(_square(lon, lat), type="way", id=1, tags=tags(aeroway="apron", name="A")),
            _feature(_square(lon + 0.01, lat), type="way", id=2, tags=tags(aeroway="taxiway")),
        ],
    )
    assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["A"]


def test_aprons_with_holes_and_multipolygons_in_a_projected_geojson(tmp_path):
    """An apron round a grass island (a hole) keeps its hole; an OSM relation is one
    MultiPolygon apron; a GeoJSON with a "crs" member of UTM metres is read in it."""
    lon, lat = SUNAN
    outer, island = _square(lon, lat, 0.004), _square(lon + 0.001, lat + 0.001, 0.002)
    holed = {"type": "Polygon", "coordinates": [*outer["coordinates"], *island["coordinates"]]}
    parts = [_square(lon + 0.01, lat)["coordinates"], _square(lon + 0.02, lat)["coordinates"]]
    relation = {"type": "MultiPolygon", "coordinates": parts}
    frame = gpd.GeoDataFrame.from_features(
        [_feature(holed, ref="A"), _feature(relation, ref="B")], crs=4326
    )
    frame.to_crs(32651).to_file(tmp_path / "utm.geojson")
    assert '"crs"' in (tmp_path / "utm.geojson").read_text()
    aprons = load_aprons(_sunan(), tmp_path / "utm.geojson")
    assert aprons["apron_id"].tolist() == ["A", "B"]
    assert aprons.geom_type.tolist() == ["Polygon", "MultiPolygon"]
    apron = aprons.geometry[0]
    assert len(apron.interiors) == 1  # the island is no part of the apron
    assert apron.area == pytest.approx(0.75 * shapely.Polygon(apron.exterior).area, rel=0.01)


def test_apron_ids_fall_back_and_stay_unique(tmp_path):
    lon, lat = SUNAN
    path = _osm_geojson(
        tmp_path / "aprons.geojson",
        [
            _feature(_square(lon, lat), name="main"),
            _feature(_square(lon + 0.01, lat), name="main"),
            _feature(_square(lon + 0.02, lat), name=""),
        ],
    )
    assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["main", "main-2", "apron-3"]


def test_an_apron_without_a_name_takes_its_own_osm_id(tmp_path):
    """Overpass turbo's export names some aprons; a relation without a name was
    ``apron-2`` though its ``id`` (``relation/4``) says which it is."""
    lon, lat = SUNAN
    ids = {"@id": "way/1"}
    path = _osm_geojson(
        tmp_path / "export.geojson",
        [
            {**_feature(_square(lon, lat), aeroway="apron", name="Main", **ids), "id": "way/1"},
            {**_feature(_square(lon + 0.01, lat), aeroway="apron"), "id": "relation/4"},
        ],
    )
    assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["Main", "relation/4"]


def test_apron_ids_are_whole_numbers_and_unique_after_spacing(tmp_path):
    lon, lat = SUNAN
    path = _osm_geojson(
        tmp_path / "aprons.geojson",
        [_feature(_square(lon + 0.01 * n, lat), ref=ref) for n, ref in enumerate([1, None, 3])],
    )
    assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["1", "apron-2", "3"]  # not 1.0
    names = ["main", "main", "main-2", "a b", "a  b"]
    squares = [
        shapely.box(lon + 0.01 * n, lat, lon + 0.01 * n + 0.001, lat + 0.001) for n in range(5)
    ]
    gpd.GeoDataFrame({"name": names}, geometry=squares, crs=4326).to_file(tmp_path / "dup.gpkg")
    ids = load_aprons(_sunan(), tmp_path / "dup.gpkg")["apron_id"].tolist()
    assert ids == ["main", "main-2", "main-2-2", "a b", "a b-2"]


def test_gdal_osm_driver_other_tags(tmp_path):
    lon, lat = SUNAN
    frame = gpd.GeoDataFrame(
        {
            "osm_way_id": ["1", "2"],
            "other_tags": ['"aeroway"=>"apron","surface"=>"concrete"', '"aeroway"=>"runway"'],
        },
        geometry=[shapely.box(lon, lat, lon + 0.001, lat + 0.001)] * 2,
        crs="EPSG:4326",
    )
    frame.to_file(tmp_path / "osm.gpkg")
    assert len(load_aprons(_sunan(), tmp_path / "osm.gpkg")) == 1


def test_no_apron_polygons_is_an_error(tmp_path):
    lon, lat = SUNAN
    path = _osm_geojson(tmp_path / "x.geojson", [_feature(_square(lon, lat), aeroway="runway")])
    with pytest.raises(ApronError, match="no apron polygons"):
        load_aprons(_sunan(), path)


def test_unreadable_apron_file_is_an_error(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{ not json")
    with pytest.raises(ApronError, match=r"broken\.geojson"):
        load_aprons(_sunan(), path)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("empty.geojson", "", "an empty file"),
        ("hand.geojson", "{ not json", "not valid JSON: Expecting property name"),
        ("notes.txt", "aprons: the north one", "not a vector format GDAL reads; give a GeoPackage"),
        (
            "overpass.json",
            json.dumps({"version": 0.6, "elements": [{"type": "way", "id": 1, "tags": {}}]}),
            "an Overpass API JSON, not GeoJSON: export it as GeoJSON",
        ),
    ],
)
def test_an_unreadable_apron_file_says_why_for_the_user(tmp_path, name, text, problem):
    """GDAL's 'not recognized as being in a supported file format.; It might help to specify
    the correct driver explicitly by prefixing the file path with '<DRIVER>:'' was passed on."""
    (tmp_path / name).write_text(text)
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), tmp_path / name)
    assert str(e.value).startswith(f"{tmp_path / name}: cannot read apron file ({problem}")
    assert "DRIVER" not in str(e.value)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # written so on purpose
def test_apron_file_without_crs_is_an_error(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 10, 10)])
    frame.to_file(tmp_path / "nocrs.gpkg")
    with pytest.raises(ApronError, match="no CRS"):
        load_aprons(_sunan(), tmp_path / "nocrs.gpkg")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # written so on purpose
def test_apron_file_without_crs_says_which_crs_to_name(tmp_path):
    """A shapefile without its .prj was told 'ogr2ogr -a_srs EPSG:4326' (no files: not a
    command that runs) even for metres; the line now says the .prj is missing, whether the
    numbers are degrees or metres, and the whole command."""
    lon, lat = SUNAN
    degrees = gpd.GeoDataFrame(geometry=[shapely.box(lon, lat, lon + 0.001, lat + 0.001)])
    degrees.to_file(tmp_path / "drawn.shp")
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), tmp_path / "drawn.shp")
    assert str(e.value) == (
        f"{tmp_path / 'drawn.shp'}: has no CRS (no .prj beside it); its numbers look like "
        f"longitude and latitude: name it (ogr2ogr -a_srs EPSG:4326 aprons.gpkg "
        f"{tmp_path / 'drawn.shp'})"
    )
    metres = gpd.GeoDataFrame(geometry=[shapely.box(730_000, 4_345_000, 730_100, 4_345_100)])
    metres.to_file(tmp_path / "utm.gpkg")
    with pytest.raises(ApronError, match=r"utm\.gpkg: has no CRS; its numbers are metres: "):
        load_aprons(_sunan(), tmp_path / "utm.gpkg")


def test_apron_geopackage_of_undefined_srs_is_without_crs(tmp_path):
    """A GeoPackage layer of srs_id 0 (GDAL 3.7 writes one without CRS so) reads as "Undefined
    geographic SRS": its metres would be taken for degrees."""
    path = tmp_path / "srs0.gpkg"
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 10, 10)], crs=4326)
    frame.to_file(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_geometry_columns SET srs_id = 0")
        db.execute("UPDATE gpkg_contents SET srs_id = 0")
    assert gpd.read_file(path).crs.name == "Undefined geographic SRS"
    with pytest.raises(ApronError, match=r"srs0\.gpkg: has no CRS"):
        load_aprons(_sunan(), path)


def test_far_away_aprons_are_warned(tmp_path, caplog):
    path = _osm_geojson(tmp_path / "far.geojson", [_feature(_square(126.5, 39.0))])
    with caplog.at_level(logging.WARNING):
        load_aprons(_sunan(), path)
    assert "right airport" in caplog.text


def test_aprons_of_another_airport_name_it(tmp_path, caplog):
    """Gatwick's aprons given for Heathrow (40 km away) only asked 'is this the right
    airport?'; the warning now names the airport they lie at."""
    gatwick = lookup_airport("EGKK")
    path = _osm_geojson(tmp_path / "lgw.geojson", [_feature(_square(gatwick.lon, gatwick.lat))])
    with caplog.at_level(logging.WARNING):
        load_aprons(lookup_airport("EGLL"), path)
    assert (
        "lgw.geojson: nearest apron is 40 km from EGLL; they lie at EGKK/LGW (London Gatwick "
        "Airport): give EGKK if they are that airport's" in caplog.text
    )


def test_aprons_of_another_airport_across_the_antimeridian_name_it(tmp_path, caplog):
    """Aprons either side of 180° (by Matei, Fiji) given for Heathrow were centred at 0°,
    half a world away, where no airport is, so the warning only asked 'is this the right
    airport?'; it names the airport they lie at."""
    path = _osm_geojson(
        tmp_path / "fiji.geojson",
        [_feature(_square(179.998, -16.69)), _feature(_square(-179.999, -16.69))],
    )
    with caplog.at_level(logging.WARNING):
        load_aprons(lookup_airport("EGLL"), path)
    assert "they lie at NFNM/TVU (Matei Airport)" in caplog.text


def test_swapped_longitude_and_latitude_on_the_globe_are_warned(tmp_path, caplog):
    heathrow = lookup_airport("EGLL")
    square = _square(heathrow.lat, heathrow.lon)  # (latitude, longitude), both in range
    path = _osm_geojson(tmp_path / "swapped.geojson", [_feature(square)])
    with caplog.at_level(logging.WARNING):
        load_aprons(heathrow, path)
    assert "km from EGLL; are longitude and latitude swapped? (GeoJSON, KML and WKT give " in (
        caplog.text
    )
    assert "longitude first: [-0.46, 51.47], not [51.47, -0.46])" in caplog.text  # its numbers


def test_swapped_longitude_and_latitude_is_an_error(tmp_path):
    lon, lat = SUNAN
    square = _square(lat, lon)  # (latitude, longitude): the classic slip
    path = _osm_geojson(tmp_path / "swapped.geojson", [_feature(square)])
    with pytest.raises(ApronError, match=r"swapped\.geojson: coordinates beyond.*swapped\?") as e:
        load_aprons(_sunan(), path)
    assert str(e.value).endswith("longitude first: [125.67, 39.22], not [39.22, 125.67])")


def test_projected_geojson_without_crs_member_is_not_called_swapped(tmp_path):
    """UTM metres in a GeoJSON without a "crs" member are read as degrees: they were called
    'are longitude and latitude swapped?'."""
    utm = gpd.GeoSeries([shapely.box(*SUNAN, SUNAN[0] + 0.002, SUNAN[1] + 0.002)], crs=4326)
    square = json.loads(utm.to_crs("EPSG:32651").to_json())["features"][0]["geometry"]
    path = _osm_geojson(tmp_path / "utm.geojson", [_feature(square)])  # no "crs" member
    with pytest.raises(ApronError, match=r"utm\.geojson: coordinates beyond the globe") as e:
        load_aprons(_sunan(), path)
    assert "swapped" not in str(e.value)
    assert "metres of a projected CRS, not degrees" in str(e.value)
    assert "-t_srs EPSG:4326" in str(e.value)


def test_features_without_geometry_hold_no_aprons(tmp_path):
    """Only null geometries: their bounds are NaN, which was called 'coordinates beyond the
    globe (longitude nan…nan …)'."""
    path = _osm_geojson(tmp_path / "null.geojson", [_feature(None, name="A")])
    with pytest.raises(ApronError, match=r"null\.geojson: holds no apron polygons"):
        load_aprons(_sunan(), path)


def test_apron_layer_of_a_file_of_several_layers(tmp_path):
    lon, lat = SUNAN
    path = tmp_path / "airfield.gpkg"
    line = shapely.LineString([(lon, lat), (lon + 0.01, lat)])
    gpd.GeoDataFrame({"name": ["09/27"]}, geometry=[line], crs=4326).to_file(path, layer="runways")
    square = shapely.box(lon, lat, lon + 0.001, lat + 0.001)
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[square], crs=4326).to_file(path, layer="Aprons")
    assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["A"]


def test_osm_xml_export_reads_its_multipolygons_layer(tmp_path):
    lon, lat = SUNAN
    corners = [(lon, lat), (lon + 0.002, lat), (lon + 0.002, lat + 0.002), (lon, lat + 0.002)]
    nodes = "".join(
        f'<node id="{n}" lat="{y}" lon="{x}" version="1"/>'
        for n, (x, y) in enumerate(corners, start=1)
    )
    way = '<nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
    path = tmp_path / "export.osm"
    path.write_text(
        f'<?xml version="1.0"?><osm version="0.6">{nodes}'
        f'<way id="10" version="1">{way}<tag k="aeroway" v="apron"/></way></osm>'
    )
    (apron,) = load_aprons(_sunan(), path).geometry
    assert apron.area == pytest.approx(173 * 222, rel=0.05)  # 0.002° x 0.002° at 39° N


def test_several_polygon_layers_none_named_apron_is_an_error(tmp_path):
    lon, lat = SUNAN
    path = tmp_path / "two.gpkg"
    square = shapely.box(lon, lat, lon + 0.001, lat + 0.001)
    for layer in ("buildings", "parking"):
        gpd.GeoDataFrame(geometry=[square], crs=4326).to_file(path, layer=layer)
    with pytest.raises(ApronError, match=r"two\.gpkg: 2 layers \(buildings .*parking.*--aprons-l"):
        load_aprons(_sunan(), path)


def _stands_and_parking(path: Path) -> Path:
    """A GeoPackage of two polygon layers, neither named like apron: ``stands`` (one square,
    id ``S1``) and ``parking`` (two squares, ``P1`` and ``P2``), at Sunan."""
    lon, lat = SUNAN
    for layer, ids in (("stands", ["S1"]), ("parking", ["P1", "P2"])):
        boxes = [
            shapely.box(lon + i / 1e3, lat, lon + i / 1e3 + 5e-4, lat + 5e-4)
            for i in range(len(ids))
        ]
        gpd.GeoDataFrame({"name": ids}, geometry=boxes, crs=4326).to_file(path, layer=layer)
    return path


def test_the_layer_named_of_a_file_of_several_is_read_and_recorded(tmp_path):
    """A file of several polygon layers none named like apron could not be used at all (the
    error asked to rename the layer or extract it with ogr2ogr): a (file, layer) pair names it."""
    path = _stands_and_parking(tmp_path / "two.gpkg")
    aprons = load_aprons(_sunan(), (path, "parking"))
    assert aprons["apron_id"].tolist() == ["P1", "P2"]
    assert apron_record((path, "parking"), aprons)["layer"] == "parking"
    site, placed = airport_and_aprons("XPYG", (str(path), "stands"))  # placed at its aprons
    assert placed["apron_id"].tolist() == ["S1"] and site.icao == "XPYG"


def test_a_layer_named_in_another_case_is_read_as_the_file_spells_it(tmp_path):
    """A KML folder typed ``Parking`` in Google Earth, named ``parking``, was 'no layer'."""
    path = _stands_and_parking(tmp_path / "two.gpkg")
    aprons = load_aprons(_sunan(), (path, "PARKING"))
    assert aprons["apron_id"].tolist() == ["P1", "P2"]
    assert apron_record((path, "PARKING"), aprons)["layer"] == "parking"


def test_a_layer_the_file_lacks_is_one_line_listing_its_layers(tmp_path):
    path = _stands_and_parking(tmp_path / "two.gpkg")
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), (path, "hangars"))
    assert (
        str(e.value)
        == f"{path}: no layer 'hangars'; its layers: stands (Polygon), parking (Polygon)"
    )


def test_a_missing_apron_file_or_a_folder_says_so_not_gdals_words(tmp_path):
    """Given through the API, a folder was 'cannot read apron file ('…' not recognized as being
    in a supported file format.; It might help to specify the correct driver explicitly by
    prefixing …)' and a missing file '(….gpkg: No such file or directory)'."""
    (tmp_path / "aprons").mkdir()
    for name, problem in (
        ("aprons", "a folder, not a vector file; give the apron file in it"),
        ("missing.gpkg", "no such file"),
    ):
        with pytest.raises(ApronError) as e:
            load_aprons(_sunan(), tmp_path / name)
        assert str(e.value) == f"{tmp_path / name}: cannot read apron file ({problem})"


@pytest.mark.parametrize("source", [("two.gpkg",), ["two.gpkg", "parking"], ("two.gpkg", 3)])
def test_aprons_of_no_kind_the_api_takes_say_what_it_takes(tmp_path, source):
    """A pair without a layer name was 'cannot read apron file (tuple index out of range)',
    a list '… (expected str, bytes or os.PathLike object, not list)'."""
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), source)
    assert str(e.value) == (
        f"aprons {source!r}: give a vector file, a (file, layer name) tuple or a GeoDataFrame"
    )


def test_aprons_without_geometry_say_so_not_attribute_error(tmp_path):
    """A CSV of stand names and coordinates (GDAL reads it as a table: a DataFrame), or such
    a DataFrame given in Python, was "'DataFrame' object has no attribute 'crs'" (a
    traceback from ``run --aprons stands.csv``) and "   a\n0  1: cannot read apron file (no
    such file)"."""
    import pandas as pd

    (tmp_path / "stands.csv").write_text("name,lon,lat\nA,125.67,39.22\n")
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), tmp_path / "stands.csv")
    assert str(e.value) == (
        f"{tmp_path / 'stands.csv'}: holds no geometry, only a table; give the apron polygons "
        "as a GeoPackage, GeoJSON, shapefile or KML file"
    )
    with pytest.raises(ApronError) as e:
        load_aprons(_sunan(), pd.DataFrame({"name": ["A"]}))
    assert str(e.value) == (
        "aprons DataFrame: give a vector file, a (file, layer name) tuple or a GeoDataFrame"
    )


def test_aprons_in_longitudes_past_180_degrees_are_read_not_called_swapped(tmp_path):
    """Matei (Taveuni, -179.877°) with its apron written at 180.123°, as a polygon drawn across
    the antimeridian is: it was refused as 'are longitude and latitude swapped?'."""
    matei = lookup_airport("NFNM")
    path = _osm_geojson(
        tmp_path / "past180.geojson", [_feature(_square(matei.lon + 360, matei.lat))]
    )
    (apron,) = load_aprons(matei, path).geometry
    assert apron.area == pytest.approx(107 * 111, rel=0.05)  # 0.001° x 0.001° at 16.7° S
    centre = gpd.points_from_xy([matei.lon], [matei.lat], crs=4326).to_crs(matei.crs)[0]
    assert apron.distance(centre) < 200


def test_airport_not_in_the_registry_is_placed_at_its_aprons(tmp_path, caplog):
    lon, lat = SUNAN
    path = _osm_geojson(tmp_path / "field.geojson", [_feature(_square(lon, lat, 0.01), ref="A")])
    with caplog.at_level(logging.WARNING):
        airport, aprons = airport_and_aprons(" kp-x1 ", path)
    assert (airport.icao, airport.iata, airport.crs) == ("KP-X1", "", "EPSG:32651")
    assert (airport.lon, airport.lat) == pytest.approx((lon + 0.005, lat + 0.005))
    assert "KP-X1: not in the airport registry" in caplog.text
    assert "field.geojson (lat 39.2291, lon 125.6750, EPSG:32651)" in caplog.text
    assert aprons.crs == "EPSG:32651"
    assert aprons["apron_id"].tolist() == ["A"]


def test_a_new_code_at_a_registry_airport_s_aprons_names_that_airport(tmp_path, caplog):
    """MY-FIELD on Sunan's aprons: the warning named look-alike names (Myers Field…), not
    ZKPY, whose aprons they are; the placed airport's repr showed np.float64(...)."""
    lon, lat = SUNAN
    path = _osm_geojson(tmp_path / "field.geojson", [_feature(_square(lon, lat), ref="A")])
    with caplog.at_level(logging.WARNING):
        airport, _ = airport_and_aprons("MY-FIELD", path)
    assert "(its aprons lie at ZKPY/FNJ (Pyongyang" in caplog.text
    assert "give ZKPY if they are that airport's" in caplog.text and "Myers" not in caplog.text
    assert type(airport.lon) is float and type(airport.lat) is float
    assert "np.float64" not in repr(airport)


def test_airport_not_in_the_registry_on_the_antimeridian_is_placed_there(tmp_path):
    """Aprons across 180° (a GeoJSON splits them in parts by +180° and by -180°) were centred
    at longitude 0°, half a world away, and projected in that UTM zone: areas 2x wrong."""
    halves = [
        shapely.box(179.998, -16.001, 180, -15.999),
        shapely.box(-180, -16.001, -179.998, -15.999),
    ]
    apron = shapely.geometry.mapping(shapely.MultiPolygon(halves))
    path = _osm_geojson(tmp_path / "dateline.geojson", [_feature(apron)])
    airport, aprons = airport_and_aprons("FJ-X1", path)
    assert (airport.lon, airport.lat, airport.crs) == (180.0, pytest.approx(-16.0), "EPSG:32760")
    assert aprons.geometry.area.sum() == pytest.approx(428 * 221, rel=0.01)  # 0.004° x 0.002°


def test_registered_airport_and_its_aprons(tmp_path):
    airport, aprons = airport_and_aprons("fnj")
    assert airport == lookup_airport("ZKPY")
    assert aprons["apron_id"].tolist() == ["airport"]


@pytest.mark.parametrize("code", ["KP-X1", "39.22,125.67"])
def test_unknown_code_without_usable_aprons_is_an_error(tmp_path, code):
    lon, lat = SUNAN
    path = _osm_geojson(tmp_path / "field.geojson", [_feature(_square(lon, lat))])
    with pytest.raises(UnknownAirportError, match=r"any code .* with its apron file"):
        airport_and_aprons(code, None if code == "KP-X1" else path)


def test_invalid_apron_polygons_are_repaired_into_polygons_and_named(tmp_path, caplog):
    lon, lat = SUNAN
    d = 0.002
    good = shapely.box(lon - 0.01, lat, lon - 0.01 + d, lat + d)
    bowtie = shapely.Polygon([(lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d)])
    spike = [(lon - d, lat), (lon, lat), (lon + d / 2, lat), (lon, lat), (lon, lat + d)]
    frame = gpd.GeoDataFrame(
        {"ref": ["ok", "bow", "spike"]},
        geometry=[good, bowtie, shapely.Polygon([*spike, (lon - d, lat + d)])],
        crs=4326,
    )
    frame.to_file(tmp_path / "drawn.gpkg")
    with caplog.at_level(logging.WARNING):
        aprons = load_aprons(_sunan(), tmp_path / "drawn.gpkg")
    assert aprons.geom_type.tolist() == ["Polygon", "MultiPolygon", "Polygon"]
    assert aprons.is_valid.all()
    assert "drawn.gpkg: repaired 2 invalid apron polygons: bow (Self-intersection" in caplog.text
    assert ", spike (" in caplog.text and "ok (" not in caplog.text


def test_kml_placemark_names_are_the_apron_ids_in_two_dimensions(tmp_path, caplog):
    lon, lat = SUNAN
    placemarks = "".join(
        f"<Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        + " ".join(f"{x},{y},0" for x, y in _square(lon, lat + dy)["coordinates"][0])
        + "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
        for name, dy in (("North apron", 0.01), ("South apron", 0.0))
    )
    path = tmp_path / "drawn.kml"
    path.write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"{placemarks}</Document></kml>"
    )
    aprons = load_aprons(_sunan(), path)
    assert aprons["apron_id"].tolist() == ["North apron", "South apron"]
    assert not aprons.has_z.any()
    # as Google Earth saves them: a pin beside a folder of the polygons, two layers of no
    # declared geometry type; it was refused as 'not one that is clearly the aprons'
    pin = f"<Placemark><name>Sunan</name><Point><coordinates>{lon},{lat},0</coordinates></Point>"
    path.write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"{pin}</Placemark><Folder><name>Sunan airport</name>{placemarks}</Folder></Document></kml>"
    )
    with caplog.at_level(logging.INFO):
        assert load_aprons(_sunan(), path)["apron_id"].tolist() == ["North apron", "South apron"]
    # which aprons were read, in one line: how many, the area, the ids
    assert "ZKPY: 2 aprons from " in caplog.text
    assert "drawn.kml, 0.02 km²: North apron, South apron" in caplog.text


def test_aprons_of_other_airports_in_the_file_are_dropped(tmp_path, caplog):
    lon, lat = SUNAN
    features = [_feature(_square(lon, lat), ref="A"), _feature(_square(126.5, 39.0), ref="X")]
    path = _osm_geojson(tmp_path / "region.geojson", features)
    with caplog.at_level(logging.WARNING):
        aprons = load_aprons(_sunan(), path)
    assert aprons["apron_id"].tolist() == ["A"]
    assert "region.geojson: dropped 1 aprons over 20 km from ZKPY (another airport's?): X" in (
        caplog.text
    )


def test_aprons_as_a_geodataframe(caplog):
    lon, lat = SUNAN
    frame = gpd.GeoDataFrame(
        {"Name": ["A"]}, geometry=[shapely.box(lon, lat, lon + 0.001, lat + 0.001)]
    )
    with pytest.raises(ApronError, match=r"^aprons frame: has no CRS; .*set_crs"):
        load_aprons(_sunan(), frame)
    airport, aprons = airport_and_aprons("zkpy", frame.set_crs(4326))
    assert aprons.crs == airport.crs == "EPSG:32651"
    assert aprons["apron_id"].tolist() == ["A"]


def test_nearest_airport_within_a_distance():
    from dwelltime.airports import nearest_airport

    assert nearest_airport(125.68, 39.23).icao == "ZKPY"  # about 1 km from Sunan's point
    assert nearest_airport(125.68, 39.23, within_m=100) is None
    assert nearest_airport(-150.0, -40.0) is None  # the open Pacific
