import json
import logging
import math
import os
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dwelltime.errors import NoImageError, SceneError
from dwelltime.formats import is_dimap
from dwelltime.scenes import read_scene, scan, scenes_frame
from dwelltime.schema import SCENE_COLUMNS
from dwelltime.timesources import TIME_SOURCES, TimesError, dimap_time, read_times_csv

T0 = pd.Timestamp("2023-07-31T02:35:12Z")


def _stac_item(href: str, when: str = "2023-07-31T02:35:12Z", **props: object) -> dict:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "item",
        "properties": {"datetime": when, **props},
        "geometry": None,
        "assets": {"image": {"href": href}},
    }


def _write_sources(folder: Path, write_raster) -> Path:
    """One image with every time source present, each giving a different hour."""
    image = write_raster(
        folder / "20230731_010101_1234_3B_AnalyticMS.tif",
        tags={"TIFFTAG_DATETIME": "2023:07:31 05:00:00"},
    )
    (folder / f"{image.stem}.json").write_text(
        json.dumps(_stac_item(image.name, "2023-07-31T01:00:00Z"))
    )
    (folder / "20230731_010101_1234_metadata.json").write_text(
        json.dumps({"properties": {"acquired": "2023-07-31T02:00:00Z", "cloud_cover": 0.25}})
    )
    (folder / f"{image.stem}_metadata.xml").write_text(_planet_xml("2023-07-31T03:00:00+00:00"))
    (folder / f"{image.stem}.IMD").write_text(_imd("2023-07-31T04:00:00.000000Z"))
    return image


def _planet_xml(when: str, cloud: str = "12") -> str:
    return (
        '<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata'
        '_geocorrected_level" xmlns:eop="http://earth.esa.int/eop" '
        'xmlns:opt="http://earth.esa.int/opt"><eop:acquisitionParameters>'
        f"<eop:acquisitionDate>{when}</eop:acquisitionDate></eop:acquisitionParameters>"
        f"<opt:cloudCoverPercentage>{cloud}</opt:cloudCoverPercentage></ps:EarthObservation>"
    )


def _imd(first_line: str | None, earliest: str = "2023-07-31T02:35:00.000000Z") -> str:
    line = f"\tfirstLineTime = {first_line};\n" if first_line else ""
    return (
        'version = "28.4";\n'
        f"earliestAcqTime = {earliest};\n"
        "BEGIN_GROUP = IMAGE_1\n"
        f"{line}"
        "\tcloudCover = 0.020;\n"
        "END_GROUP = IMAGE_1\nEND;\n"
    )


def test_time_source_precedence(tmp_path, write_raster):
    image = _write_sources(tmp_path, write_raster)
    expected = [
        ("user", "2023-07-31T00:30:00Z"),
        ("stac", "2023-07-31T01:00:00Z"),
        ("planet_json", "2023-07-31T02:00:00Z"),
        ("planet_xml", "2023-07-31T03:00:00Z"),
        ("maxar_imd", "2023-07-31T04:00:00Z"),
        ("gdal_tag", "2023-07-31T05:00:00Z"),
    ]
    sidecars = [
        None,
        tmp_path / f"{image.stem}.json",
        tmp_path / "20230731_010101_1234_metadata.json",
        tmp_path / f"{image.stem}_metadata.xml",
        tmp_path / f"{image.stem}.IMD",
    ]
    order = [source for source, _ in expected] + ["filename"]
    order.insert(order.index("gdal_tag"), "dimap")  # test_a_tile_beside_its_dimap_file_…
    assert order == list(TIME_SOURCES)
    times = {image.stem: datetime(2023, 7, 31, 0, 30)}
    for (source, when), sidecar in zip(expected, [*sidecars, None], strict=True):
        result = scan(tmp_path, times=times)
        assert not result.errors
        (scene,) = result.scenes
        assert (scene.time_source, scene.acquired) == (source, pd.Timestamp(when))
        times = None
        if sidecar is not None:
            sidecar.unlink()
    image.unlink()  # the same pixels without the tag: the file name is all that is left
    write_raster(tmp_path / "20230731T060000.tif")
    (scene,) = scan(tmp_path).scenes
    assert (scene.time_source, scene.acquired) == ("filename", pd.Timestamp("2023-07-31T06:00Z"))


@pytest.mark.parametrize(
    "key",
    ["scene_a", "scene_a.tif", "sub/scene_a.tif", "ABS"],
)
def test_user_times_by_stem_name_relative_or_absolute_path(tmp_path, write_raster, key):
    image = write_raster(tmp_path / "sub" / "scene_a.tif")
    key = str(image.resolve()) if key == "ABS" else key
    (scene,) = scan(tmp_path, times={key: "2023-07-31T11:35:12+09:00"}).scenes
    assert scene.time_source == "user"
    assert scene.acquired == T0


def test_user_times_csv_made_on_windows_names_a_sub_folder_with_backslashes(
    tmp_path, write_raster, caplog
):
    write_raster(tmp_path / "imagery" / "sub" / "scene_a.tif")
    csv = tmp_path / "times.csv"
    csv.write_text("path,acquired\r\nsub\\scene_a.tif,2023-07-31T02:35:12Z\r\n")
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        (scene,) = scan(tmp_path / "imagery", times=csv).scenes
    assert (scene.time_source, scene.acquired) == ("user", T0)
    assert caplog.messages == []  # not named as a file not found


def test_user_times_csv_typed_in_another_case_names_the_one_image_it_matches(
    tmp_path, write_raster, caplog
):
    """``SUB/SCENE_A.TIF`` (typed by hand, or made where file names ignore case) names
    ``sub/scene_a.tif``, the only image it matches ignoring case; ``SCENE_B`` matches two
    images only so: one line says so, and neither takes its time."""
    write_raster(tmp_path / "imagery" / "sub" / "scene_a.tif")
    write_raster(
        tmp_path / "imagery" / "scene_b.tif", tags={"ACQUISITIONDATETIME": "2023-08-01T00:00Z"}
    )
    write_raster(
        tmp_path / "imagery" / "Scene_B.tif", tags={"ACQUISITIONDATETIME": "2023-08-02T00:00Z"}
    )
    csv = tmp_path / "times.csv"
    csv.write_text(
        "path,acquired\nSUB/SCENE_A.TIF,2023-07-31T02:35:12Z\nSCENE_B,2023-07-31T02:35:12Z\n"
    )
    with caplog.at_level(logging.WARNING):
        scenes = scan(tmp_path / "imagery", times=csv).scenes
    assert {(s.scene_id, s.time_source) for s in scenes} == {
        ("scene_a", "user"),
        ("scene_b", "gdal_tag"),
        ("Scene_B", "gdal_tag"),
    }
    assert caplog.messages[0] == (
        "--times (times= in Python) names SCENE_B, which matches 2 images only ignoring case "
        "(Scene_B, scene_b); it is not used: name one of them as it is written"
    )
    assert not any("not found" in m for m in caplog.messages)


def test_user_times_that_name_one_image_twice_must_agree(tmp_path, write_raster):
    """By name and by stem with different times: which is right is unknown, so the image is
    skipped with a line naming both; the same time twice, or another image's, is fine."""
    write_raster(tmp_path / "scene_a.tif")
    write_raster(tmp_path / "scene_b.tif")
    times = {"scene_a.tif": T0, "scene_a": "2023-08-01T02:35:12Z", "scene_b.tif": T0}
    result = scan(tmp_path, times={**times, "scene_b": "2023-07-31T11:35:12+09:00"})
    assert [s.scene_id for s in result.scenes] == ["scene_b"]
    (error,) = result.errors
    assert Path(error.path).name == "scene_a.tif"
    assert error.reason == (
        "--times gives it different times (2023-07-31T02:35:12Z as scene_a.tif, "
        "2023-08-01T02:35:12Z as scene_a); keep one"
    )


def test_stac_item_elsewhere_in_folder_hrefs_the_image(tmp_path, write_raster):
    write_raster(tmp_path / "img.tif")
    item = _stac_item("./img.tif", **{"eo:cloud_cover": 40, "constellation": "WorldView-3"})
    (tmp_path / "catalog_item.json").write_text(json.dumps(item))
    (scene,) = scan(tmp_path).scenes
    assert (scene.time_source, scene.acquired) == ("stac", T0)
    assert scene.cloud_fraction == pytest.approx(0.4)
    assert scene.provider == "worldview-3"


def test_stac_json_sidecar_with_start_datetime(tmp_path, write_raster):
    image = write_raster(tmp_path / "img.tif")
    item = _stac_item("img.tif", when=None, start_datetime="2023-07-31T02:35:12Z")
    (tmp_path / "img.stac.json").write_text(json.dumps(item))
    scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("stac", T0)


def test_a_stac_range_gives_its_middle_a_mosaic_s_none(tmp_path, write_raster, caplog):
    """``datetime: null`` with a range: the middle of a strip's seconds, zones applied; a
    month's mosaic is no one acquisition, named in a warning and passed over for the name."""
    strip = write_raster(tmp_path / "strip.tif")
    item = _stac_item(
        strip.name,
        when=None,
        start_datetime="2023-07-31T05:35:08+03:00",
        end_datetime="2023-07-31T05:35:16+03:00",
    )
    (tmp_path / "strip.json").write_text(json.dumps(item))
    assert read_scene(strip).acquired == T0
    mosaic = write_raster(tmp_path / "mosaic_20230731T023512.tif")
    month = {"start_datetime": "2023-07-01T00:00:00Z", "end_datetime": "2023-08-01T00:00:00Z"}
    item = _stac_item(mosaic.name, when=None, **month)
    (tmp_path / "mosaic_20230731T023512.json").write_text(json.dumps(item))
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(mosaic)
    assert (scene.time_source, scene.acquired) == ("filename", T0)
    assert caplog.messages == [
        f"{mosaic}: its STAC item gives no datetime but a range, 2023-07-01T00:00:00Z to "
        "2023-08-01T00:00:00Z (744.0 h), not one acquisition (a mosaic?); trying other sources"
    ]


def test_planet_json_cloud_percent_and_xml_cloud(tmp_path, write_raster):
    a = write_raster(tmp_path / "a" / "a_3B_AnalyticMS.tif")
    (a.parent / "a_metadata.json").write_text(
        json.dumps({"properties": {"acquired": "2023-07-31T02:35:12.000Z", "cloud_percent": 30}})
    )
    b = write_raster(tmp_path / "b" / "b.tif")
    (b.parent / "b_metadata.xml").write_text(_planet_xml("2023-07-31T02:35:12+00:00", "12"))
    sa, sb = read_scene(a), read_scene(b)
    assert (sa.time_source, sa.provider, sa.cloud_fraction) == ("planet_json", "planet", 0.3)
    assert (sb.time_source, sb.acquired) == ("planet_xml", T0)
    assert sb.cloud_fraction == pytest.approx(0.12)


def test_planet_xml_with_only_the_acquisition_parameters_time(tmp_path, write_raster):
    """PlanetScope's XML names the time ``ps:acquisitionDateTime`` in its acquisition
    parameters (``eop:acquisitionDate`` is the EOP schema's downlink date)."""
    image = write_raster(tmp_path / "20230731_023512_12_2405_3B_AnalyticMS.tif")
    xml = _planet_xml("2023-07-31T02:35:12+00:00").replace("eop:acquisitionDate", "ps:X")
    when = "<ps:acquisitionDateTime>2023-07-31T11:35:12+09:00</ps:acquisitionDateTime>"
    xml = xml.replace("</eop:acquisitionParameters>", f"{when}</eop:acquisitionParameters>")
    (tmp_path / "20230731_023512_12_2405_3B_AnalyticMS_metadata.xml").write_text(xml)
    scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("planet_xml", T0)


def test_scenes_their_provider_calls_cloudy_but_without_a_mask_are_named(
    tmp_path, write_raster, caplog
):
    """Cloud is known only from a mask: a scene whose metadata reports cloud but that came
    without one was used as clear in silence, its cloud over a stand read as ground seen
    empty."""
    for n, (name, percent) in enumerate([("a", 30), ("b", 0), ("c", 40), ("d", 5)]):
        origin = (730_485.78 + 100 * n, 4_345_043.01)
        write_raster(tmp_path / f"{name}_3B_AnalyticMS.tif", origin=origin)
        properties = {"acquired": f"2023-08-0{n + 1}T02:35:12.000Z", "cloud_percent": percent}
        (tmp_path / f"{name}_metadata.json").write_text(json.dumps({"properties": properties}))
    write_raster(tmp_path / "c_3B_udm2.tif", count=8, origin=(730_685.78, 4_345_043.01))  # c's
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert len(result.scenes) == 4 and not result.errors, result.errors
    (line,) = [r.getMessage() for r in caplog.records if "no cloud mask" in r.getMessage()]
    assert line.startswith(
        "2 scene(s) have no cloud mask although their provider reports cloud: "
        "a_3B_AnalyticMS (30 %), d_3B_AnalyticMS (5 %);"
    )


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("2023-07-31T02:35:12.123456Z", pd.Timestamp("2023-07-31T02:35:12.123456Z")),
        (None, pd.Timestamp("2023-07-31T02:35:00Z")),  # earliestAcqTime
    ],
)
def test_maxar_imd(tmp_path, write_raster, first_line, expected):
    image = write_raster(tmp_path / "23JUL31023512-P2AS-012345678901_01_P001.TIF")
    image.with_suffix(".IMD").write_text(_imd(first_line))
    scene = read_scene(image)
    assert (scene.time_source, scene.provider, scene.acquired) == ("maxar_imd", "maxar", expected)
    assert scene.cloud_fraction == pytest.approx(0.02)


def _with_two_image_imd(image: Path, field: str) -> Path:
    """``image`` with a Maxar ``.IMD`` beside it listing two source images (IMAGE_1 taken at
    T0, IMAGE_2 40 minutes later), each time under ``field``."""
    groups = [
        f"BEGIN_GROUP = IMAGE_{i}\n\t{field} = {when};\nEND_GROUP = IMAGE_{i}\n"
        for i, when in ((1, "2023-07-31T02:35:12.000000Z"), (2, "2023-07-31T03:15:00.000000Z"))
    ]
    image.with_suffix(".IMD").write_text('version = "28.4";\n' + "".join(groups) + "END;\n")
    return image


def test_a_maxar_imd_of_two_images_without_first_line_times_gives_the_first_s(
    tmp_path, write_raster, caplog
):
    """An ortho product's IMD gives each image's earliestAcqTime alone: the first image's,
    warned as firstLineTimes are, not the last one's."""
    image = _with_two_image_imd(write_raster(tmp_path / "scene_1.TIF"), "earliestAcqTime")
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("maxar_imd", T0)
    assert "the product is made of 2 strips" in caplog.text


def test_a_maxar_imd_without_a_time_leaves_it_to_its_xml(tmp_path, write_raster):
    image = write_raster(tmp_path / "scene_1.TIF")
    image.with_suffix(".IMD").write_text('version = "28.4";\nEND;\n')
    image.with_suffix(".XML").write_text(_maxar_xml("2023-07-31T02:35:12.000000Z"))
    scene = read_scene(image)
    assert (scene.time_source, scene.time_origin, scene.acquired) == (
        "maxar_imd",
        "scene_1.XML",
        T0,
    )


def _maxar_xml(*first_lines: str, root: str = "isd", bands: str = "R") -> str:
    """A Maxar XML twin of an IMD (``/isd/IMD/IMAGE/FIRSTLINETIME``…), one ``IMAGE`` per
    time, a ``BAND_<b>`` per letter of ``bands``, with ``root`` ``isd`` (around the ``IMD``)
    or ``IMD``."""
    images = "".join(
        f"<IMAGE><SATID>WV03</SATID><FIRSTLINETIME>{when}</FIRSTLINETIME>"
        "<EARLIESTACQTIME>2023-07-31T02:35:00.000000Z</EARLIESTACQTIME>"
        "<CLOUDCOVER>0.020</CLOUDCOVER></IMAGE>"
        for when in first_lines
    )
    groups = "".join(f"<BAND_{b}><ULLON>125.7</ULLON></BAND_{b}>" for b in bands)
    imd = f"<IMD><VERSION>28.4</VERSION>{groups}{images}</IMD>"
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + (
        f"<isd>{imd}</isd>" if root == "isd" else imd
    )


@pytest.mark.parametrize("root", ["isd", "IMD"])
def test_a_maxar_xml_without_its_imd_gives_the_time(tmp_path, write_raster, root):
    """A delivery of ``*.TIF`` beside ``*.XML``, the IMD removed: the XML's FIRSTLINETIME,
    its fraction of a second and CLOUDCOVER, as the IMD gives them, not GDAL's tag."""
    image = write_raster(tmp_path / "23JUL31023512-P2AS-012345678901_01_P001.TIF")
    image.with_suffix(".XML").write_text(_maxar_xml("2023-07-31T02:35:12.123456Z", root=root))
    scene = read_scene(image)
    assert (scene.time_source, scene.provider, scene.acquired) == (
        "maxar_imd",
        "maxar",
        pd.Timestamp("2023-07-31T02:35:12.123456Z"),
    )
    assert scene.cloud_fraction == pytest.approx(0.02)


def test_a_maxar_xml_of_two_images_gives_the_first_s_time_warned(tmp_path, write_raster, caplog):
    """Two IMAGE elements taken 40 minutes apart: the first one's, warned, as in an IMD."""
    image = write_raster(tmp_path / "23JUL31023512-P2AS-012345678901_01_P001.TIF")
    xml = image.with_suffix(".XML")
    xml.write_text(_maxar_xml("2023-07-31T02:35:12.000000Z", "2023-07-31T03:15:00.000000Z"))
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("maxar_imd", T0)
    assert caplog.messages == [
        f"{xml}: the product is made of 2 strips taken from 2023-07-31T02:35:12Z to "
        "2023-07-31T03:15:00Z; using the first, 2023-07-31T02:35:12Z"
    ]


def test_a_malformed_maxar_xml_is_warned_and_the_next_source_tried(tmp_path, write_raster, caplog):
    image = write_raster(tmp_path / "sunan_20230731T023512.tif")
    xml = image.with_suffix(".xml")
    xml.write_text("<isd><IMD><IMAGE><FIRSTLINETIME>2023-07-31")
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("filename", T0)
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith(f"{xml}: cannot read Maxar XML metadata (")


@pytest.mark.parametrize("other", ["planet", "dimap"])
def test_other_xml_beside_an_image_is_not_read_as_maxar_s(tmp_path, write_raster, other):
    """A Planet or DIMAP XML named ``<stem>.xml`` is no Maxar XML: the file name's time."""
    image = write_raster(tmp_path / "sunan_20230731T023512.tif")
    dimap = "<Dimap_Document><Strip_Source><IMAGING_DATE>2023-07-31</IMAGING_DATE></Strip_Source>"
    text = (
        _planet_xml("2023-07-31T04:00:00+00:00")
        if other == "planet"
        else dimap + "</Dimap_Document>"
    )
    image.with_suffix(".xml").write_text(text)
    scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("filename", T0)


def test_a_maxar_imd_of_two_images_gives_the_first_s_time_warned(tmp_path, write_raster, caplog):
    """An IMD listing two source images (IMAGE_1, IMAGE_2) taken 40 minutes apart: the
    first one's firstLineTime, as a DIMAP product's first strip, and one warning."""
    image = write_raster(tmp_path / "23JUL31023512-P2AS-012345678901_01_P001.TIF")
    image = _with_two_image_imd(image, "firstLineTime")
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("maxar_imd", T0)
    assert caplog.messages == [
        f"{image.with_suffix('.IMD')}: the product is made of 2 strips taken from "
        "2023-07-31T02:35:12Z to 2023-07-31T03:15:00Z; using the first, 2023-07-31T02:35:12Z"
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"TIFFTAG_DATETIME": "2023:07:31 02:35:12"}, T0),  # no zone: UTC
        ({"ACQUISITIONDATETIME": "2023-07-31T11:35:12+09:00"}, T0),
        (
            {
                "ACQUISITIONDATETIME": "2023-07-31T02:35:12Z",
                "TIFFTAG_DATETIME": "2020:01:01 00:00:00",
            },
            T0,
        ),
    ],
)
def test_gdal_tags(tmp_path, write_raster, tags, expected):
    scene = read_scene(write_raster(tmp_path / "img.tif", tags=tags))
    assert (scene.time_source, scene.acquired) == ("gdal_tag", expected)


def test_a_metadata_time_that_cannot_be_the_acquisition_is_passed_over(
    tmp_path, write_raster, caplog
):
    """GDAL gives 1970-01-01 for a provider time it cannot read; a sidecar may say 2100: each
    is named in a warning and the next source (the file name) gives the time; where none is
    left, the scene is skipped."""
    epoch = {"ACQUISITIONDATETIME": "1970-01-01 00:00:00"}
    image = write_raster(tmp_path / "sunan_20230731T023512.tif", tags=epoch)
    (tmp_path / "sunan_20230731T023512.json").write_text(
        json.dumps(_stac_item(image.name, "2100-01-01T00:00:00Z"))
    )
    with caplog.at_level("WARNING", logger="dwelltime.timesources"):
        scene = read_scene(image)
    assert (scene.time_source, scene.acquired) == ("filename", T0)
    assert caplog.messages == [
        f"{image}: STAC item time 2100-01-01T00:00:00Z is in the future; trying other sources",
        f"{image}: GDAL tag time 1970-01-01T00:00:00Z is before 1990, a date left unset rather "
        "than when the image was taken; trying other sources",
    ]
    unnamed = write_raster(tmp_path / "sunan.tif", tags=epoch)
    with pytest.raises(SceneError, match=r"sunan.tif: no acquisition time \(none usable"):
        read_scene(unnamed)


@pytest.mark.parametrize(
    "name",
    [
        "sunan_20230731T023512.tif",
        "20230731_023512_0f2b_3B_AnalyticMS.tif",
        "ZKPY 2023-07-31T02:35:12.TIFF",
        "x-2023-07-31_023512-y.tif",
    ],
)
def test_filename_times(tmp_path, write_raster, name):
    scene = read_scene(write_raster(tmp_path / name))
    assert (scene.time_source, scene.acquired) == ("filename", T0)


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("23JUL31023512-P1BS-050001234010_01_P001.TIF", "maxar"),
        ("23JUL31023512-M2AS_R1C2-050001234010_01_P001.TIF", "maxar"),
        ("IMG_PHR1A_P_202307310235123_SEN_1234567101-1_R1C1.tif", "unknown"),
    ],
)
def test_maxar_and_airbus_product_names_give_the_time(tmp_path, write_raster, name, provider):
    scene = read_scene(write_raster(tmp_path / name))
    assert (scene.time_source, scene.acquired, scene.provider) == ("filename", T0, provider)


@pytest.mark.parametrize(
    ("stem", "times"),
    [
        ("20230731_023512_12_2405_3B_AnalyticMS", None),
        ("20230731_023512_1_2405_3B_AnalyticMS", None),
        ("20230731_023512_12_2405_3B_AnalyticMS", {"20230731_023512_12_2405_3B_AnalyticMS": T0}),
    ],
)
def test_a_planet_file_name_says_planet(tmp_path, write_raster, stem, times):
    # no metadata sidecar nor mask: the name alone says Planet, whose 4 bands are BGRN
    image = write_raster(tmp_path / f"{stem}.tif", count=4)
    scene = read_scene(image, times=times)
    assert (scene.provider, scene.acquired) == ("planet", T0)


def test_a_run_of_digits_that_is_no_date_is_not_called_one(tmp_path, write_raster):
    image = write_raster(tmp_path / "tile_02040512.tif")
    with pytest.raises(SceneError, match="no acquisition time"):
        read_scene(image)


def test_jpeg2000_and_nitf_are_scenes(tmp_path, write_raster):
    write_raster(tmp_path / "pleiades_20230731T023512.jp2", driver="JP2OpenJPEG")
    # NITF 2.1 keeps the image's UTC date-time in IDATIM; UTM corners need ICORDS=N
    write_raster(
        tmp_path / "maxar.NTF",
        driver="NITF",
        options={"IDATIM": "20230731023512", "ICORDS": "N"},
        shape=(100, 100),
    )
    result = scan(tmp_path)
    assert result.errors == []
    found = {s.path.name: s for s in result.scenes}
    assert found["pleiades_20230731T023512.jp2"].time_source == "filename"
    assert (found["maxar.NTF"].time_source, found["maxar.NTF"].acquired) == ("gdal_tag", T0)
    assert found["maxar.NTF"].crs == "EPSG:32651"


def test_a_nitf_2_0_idatim_gives_the_time(tmp_path, write_raster):
    """NITF 2.0 writes IDATIM DDhhmmssZMONYY, not 2.1's CCYYMMDDhhmmss: read, not passed over."""
    image = write_raster(
        tmp_path / "archive.ntf",
        driver="NITF",
        options={"IDATIM": "31023512ZJUL23", "ICORDS": "N"},
        shape=(100, 100),
    )
    scene = read_scene(image)
    assert (scene.time_source, scene.time_origin, scene.acquired) == ("gdal_tag", "NITF_IDATIM", T0)


def test_pictures_need_a_georeference_beside_them(tmp_path, write_raster, caplog):
    from PIL import Image

    pixels = np.zeros((32, 32, 3), np.uint8)
    for name in ("scene_1.png", "quicklook.JPG", "sunan_20230731T023512.png"):
        Image.fromarray(pixels).save(tmp_path / name)
    # a world file places the picture, and no CRS says in which system: one clear error
    (tmp_path / "sunan_20230731T023512.pgw").write_text("0.5\n0\n0\n-0.5\n330000\n4340000\n")
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert [p.name for p in result.pictures] == ["quicklook.JPG", "scene_1.png"]
    assert "2 PNG/JPEG file(s) with no georeference" in caplog.text
    assert "detect --gsd" in caplog.text
    assert [Path(e.path).name for e in result.errors] == ["sunan_20230731T023512.png"]
    assert "CRS" in str(result.errors[0])
    assert result.scenes == []


def test_a_quicklook_whose_aux_xml_holds_only_statistics_is_a_picture(tmp_path, write_raster):
    """A GIS viewer saves statistics in ``<name>.aux.xml`` beside a quicklook it showed: no
    georeference, so a picture as before, not a scene that fails."""
    from PIL import Image

    write_raster(tmp_path / "s_20230731T023512.tif")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "s_20230731T023512.JPG")
    (tmp_path / "s_20230731T023512.JPG.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><Metadata>'
        '<MDI key="STATISTICS_MEAN">12.5</MDI></Metadata></PAMRasterBand></PAMDataset>'
    )
    result = scan(tmp_path)
    assert [p.name for p in result.pictures] == ["s_20230731T023512.JPG"]
    assert result.errors == [] and len(result.scenes) == 1


def test_a_picture_placed_by_a_world_file_takes_the_crs_of_its_prj(tmp_path, write_raster):
    """A JPEG with its .jgw and the ESRI .prj a GIS exports with them is the scene the same
    pixels make as a GeoTIFF: its CRS, GSD and footprint; a .prj that holds no CRS is named."""
    from PIL import Image
    from pyproj import CRS

    pixels = np.full((32, 32, 3), 120, np.uint8)
    Image.fromarray(pixels).save(tmp_path / "s_20230731T023512.jpg")
    (tmp_path / "s_20230731T023512.jgw").write_text("0.5\n0\n0\n-0.5\n330000.25\n4339999.75\n")
    (tmp_path / "s_20230731T023512.prj").write_text(CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    (scene,) = scan(tmp_path).scenes
    tif = write_raster(tmp_path / "tif" / "s.tif", shape=(32, 32), origin=(330000, 4340000))
    expected = read_scene(tif, require_time=False)
    assert (scene.crs, scene.gsd_m) == ("EPSG:32651", 0.5)
    assert scene.footprint.equals_exact(expected.footprint, 1e-9)
    (tmp_path / "s_20230731T023512.prj").write_text('PROJCS["WGS_1984_UTM_Zone_51N"]')
    tif.unlink()
    (error,) = scan(tmp_path).errors
    assert error.path == str(tmp_path / "s_20230731T023512.prj")
    assert "is no CRS PROJ reads" in error.reason


def test_an_image_placed_by_its_prj_keeps_its_own_time_tags(tmp_path, write_raster):
    """The CRS of a .prj is given through a warped view of the file: the time in the file's
    own GDAL tags is still read, not passed over for the file name."""
    from pyproj import CRS

    image = write_raster(
        tmp_path / "s_20230731T000000.tif",
        crs=None,
        tags={"ACQUISITIONDATETIME": "2023-07-31T02:35:12Z"},
    )
    (tmp_path / "s_20230731T000000.prj").write_text(CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    scene = read_scene(image)
    assert (scene.crs, scene.time_source, scene.acquired) == ("EPSG:32651", "gdal_tag", T0)


def test_a_jpeg_s_exif_time_is_named_as_not_read(tmp_path):
    """A camera's EXIF DateTimeOriginal has no zone (and may be the time a picture was
    exported): it is not used, and the skipped scene's line says so rather than nothing."""
    from PIL import Image
    from pyproj import CRS

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2023:07:31 11:35:12"  # Exif IFD: DateTimeOriginal
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(tmp_path / "s.jpg", exif=exif)
    (tmp_path / "s.jgw").write_text("0.5\n0\n0\n-0.5\n330000.25\n4339999.75\n")
    (tmp_path / "s.prj").write_text(CRS.from_epsg(32651).to_wkt("WKT1_ESRI"))
    with pytest.raises(SceneError, match="no acquisition time") as error:
        read_scene(tmp_path / "s.jpg")
    assert "EXIF_DateTimeOriginal '2023:07:31 11:35:12' is not read" in error.value.reason
    assert error.value.reason.endswith("give it with --times CSV (times= in Python)")


def test_a_vrt_mosaic_is_one_scene_and_its_tiles_none(tmp_path, write_raster, write_vrt):
    # a Maxar product delivered in two tiles, mosaicked with gdalbuildvrt beside them
    stem = "23JUL31023512-P1BS{}-050001234010_01_P001"
    west = write_raster(tmp_path / f"{stem.format('_R1C1')}.TIF")
    east = write_raster(tmp_path / f"{stem.format('_R1C2')}.TIF", origin=(730_517.78, 4_345_043.01))
    mosaic = write_vrt(tmp_path / f"{stem.format('')}.vrt", [west, east])
    result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [mosaic.resolve()]
    assert result.errors == []
    (scene,) = result.scenes
    assert (scene.acquired, scene.width, scene.height) == (T0, 128, 64)


def test_a_maxar_til_is_one_scene_and_its_tiles_none(tmp_path, write_raster):
    # Maxar's tiled delivery: R1C1, R1C2, and the .TIL listing them, read with the .IMD
    stem = "23JUL31023512-P1BS{}-050001234010_01_P001"
    tiles = [
        write_raster(tmp_path / f"{stem.format('_R1C1')}.TIF"),
        write_raster(tmp_path / f"{stem.format('_R1C2')}.TIF", origin=(730_517.78, 4_345_043.01)),
    ]
    groups = "".join(
        f'BEGIN_GROUP = TILE_{n}\n\tfilename = "{tile.name}";\n\tULColOffset = {64 * (n - 1)};\n'
        f"\tULRowOffset = 0;\n\tLRColOffset = {64 * n - 1};\n\tLRRowOffset = 63;\n"
        f"END_GROUP = TILE_{n}\n"
        for n, tile in enumerate(tiles, start=1)
    )
    (tmp_path / f"{stem.format('')}.TIL").write_text(f"numTiles = 2;\n{groups}END;\n")
    centre = (730_485.78 + 0.25, 4_345_043.01 - 0.25)  # the IMD places the UL pixel's centre
    (tmp_path / f"{stem.format('')}.IMD").write_text(
        _imd("2023-07-31T02:35:12.000000Z").replace(
            "BEGIN_GROUP = IMAGE_1",
            "numRows = 64;\nnumColumns = 128;\nbitsPerPixel = 8;\n"
            f"BEGIN_GROUP = MAP_PROJECTED_PRODUCT\n\tULX = {centre[0]};\n\tULY = {centre[1]};\n"
            "END_GROUP = MAP_PROJECTED_PRODUCT\nBEGIN_GROUP = IMAGE_1",
        )
    )
    result = scan(tmp_path)
    assert result.errors == []
    (scene,) = result.scenes
    assert (scene.path.suffix, scene.time_source, scene.acquired) == (".TIL", "maxar_imd", T0)
    assert (scene.width, scene.height, scene.gsd_m) == (128, 64, 0.5)


def test_tiles_of_one_acquisition_are_warned(tmp_path, write_raster, caplog):
    stem = "23JUL31023512-P1BS_{}-050001234010_01_P001.TIF"
    write_raster(tmp_path / stem.format("R1C1"))
    write_raster(tmp_path / stem.format("R1C2"), origin=(730_517.78, 4_345_043.01))  # abutting
    write_raster(tmp_path / "far_20230731T023512.tif", origin=(731_485.78, 4_345_043.01))
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert len(result.scenes) == 3
    assert "2 scenes of one acquisition time (2023-07-31T02:35:12Z) touch" in caplog.text
    assert stem.format("R1C1")[:-4] + ", " + stem.format("R1C2")[:-4] + ";" in caplog.text
    assert "far_" not in caplog.text and "gdalbuildvrt" in caplog.text


def test_archives_are_named_not_silently_passed_over(tmp_path, write_raster, caplog):
    write_raster(tmp_path / "a_20230731T023512.tif")
    for name in ("order_1.zip", "PSScene.ZIP", "maxar.tar.gz"):
        (tmp_path / name).write_bytes(b"PK")
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert len(result.scenes) == 1
    assert "3 archive(s) are not opened: PSScene.ZIP, maxar.tar.gz, order_1.zip" in caplog.text
    assert "unpack each in its folder (unzip PSScene.ZIP -d PSScene, …)" in caplog.text


def test_a_folder_of_archives_alone_says_how_to_unpack_them_and_unpacked_ones_are_quiet(
    tmp_path, write_raster, caplog
):
    """A delivery kept zipped (Maxar, Airbus, Planet orders): the folder's one error names
    the archives and the line that unpacks them, not only "no image file"; once unpacked
    beside it (``unzip order.zip -d order``), its images are scanned and the archive is no
    longer named as not opened."""
    (tmp_path / "order 1.zip").write_bytes(b"PK")
    (tmp_path / "maxar.tar.gz").write_bytes(b"")
    (error,) = scan(tmp_path).errors
    assert isinstance(error, NoImageError)
    assert error.reason.endswith(
        "under it, only 2 archive(s), not opened: maxar.tar.gz, order 1.zip; unpack each in "
        "its folder (mkdir maxar && tar -xf maxar.tar.gz -C maxar, …) and give the folder again"
    )
    with pytest.raises(SceneError, match=r"unpack it in its folder \(unzip 'order 1.zip' -d"):
        scan(tmp_path / "order 1.zip")
    write_raster(tmp_path / "order 1" / "a_20230731T023512.tif")
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["a_20230731T023512"]
    assert "1 archive(s) are not opened: maxar.tar.gz; unpack each in its folder (mkdir" in (
        caplog.text
    )
    assert "order 1.zip" not in caplog.text


def test_a_folder_without_an_image_file_is_named_with_the_kinds_looked_for(tmp_path, caplog):
    """Nothing but notes and an archive: one error naming the folder and the file kinds (as
    ``detect`` says it), not an empty scan that says nothing; a picture is named as one."""
    (tmp_path / "notes.txt").write_text("images to follow")
    (tmp_path / "order.zip").write_bytes(b"PK")
    (error,) = scan(tmp_path).errors
    assert isinstance(error, NoImageError) and error.path == str(tmp_path)
    assert error.reason == (
        "no image file (.tif, .tiff, .jp2, .ntf, .nitf, .vrt, .til, .png, .jpg, .jpeg) under it"
        ", only 1 archive(s), not opened: order.zip; unpack each in its folder "
        "(unzip order.zip -d order) and give the folder again"
    )
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "quicklook.png")
    assert scan(tmp_path).errors == []  # the picture is named by its own warning


def test_a_scene_without_time_only_when_none_is_required(tmp_path, write_raster):
    image = write_raster(tmp_path / "undated.tif")
    with pytest.raises(
        SceneError, match=r"no acquisition time .*give it with --times CSV \(times= in Python\)$"
    ):
        read_scene(image)
    scene = read_scene(image, require_time=False)  # what detection alone asks
    assert pd.isna(scene.acquired) and scene.time_source == "none"


@pytest.mark.parametrize("crs", ["EPSG:32651", None])
def test_an_image_without_geotransform_is_refused_without_a_python_warning(tmp_path, crs):
    import warnings

    import rasterio

    path = tmp_path / "plain_20230731T023512.tif"
    profile = dict(driver="GTiff", width=8, height=8, count=1, dtype="uint8", crs=crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "Dataset has no geotransform"
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.ones((1, 8, 8), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SceneError, match=r"plain_20230731T023512.tif: is not georeferenced"):
            read_scene(path)


def test_metres_labelled_lon_lat_are_refused_not_scanned_off_the_globe(tmp_path, write_raster):
    """A UTM image given EPSG:4326 (gdal_edit.py -a_srs on the wrong file) was a scene with a
    footprint at longitude 730,000° and a GSD of NaN."""
    image = write_raster(tmp_path / "wrong_20230731T023512.tif", crs="EPSG:4326")
    expected = r"wrong_20230731T023512.tif: has coordinates beyond the globe for its lon/lat "
    expected += r"CRS EPSG:4326 \(x 730485.8…730517.8, y .*\): they are not degrees.*gdal_edit"
    with pytest.raises(SceneError, match=expected):
        read_scene(image)


def test_an_image_in_a_local_crs_is_refused_in_one_line(tmp_path, write_raster):
    """A drone or CAD export in an engineering CRS: the scan gave PROJ's 'Cannot find
    coordinate operations' with the whole CRS as PROJJSON, 600 characters on one line."""
    local = 'LOCAL_CS["Site grid",LOCAL_DATUM["Arbitrary",0],UNIT["metre",1],'
    local += 'AXIS["E",EAST],AXIS["N",NORTH]]'
    image = write_raster(tmp_path / "drone_20230731T023512.tif", crs=local, origin=(100, 200))
    with pytest.raises(SceneError) as caught:
        read_scene(image)
    assert str(caught.value) == (
        f"{image}: has a local CRS (Site grid) tied to no place on Earth, so where its pixels "
        "lie is unknown; give it its map CRS (gdal_edit.py -a_srs EPSG:…, with -a_ullr ULX ULY "
        "LRX LRY in that CRS if its corners are local too)"
    )


def test_a_gcp_only_image_is_refused_with_the_gdalwarp_line_to_its_utm_zone(tmp_path):
    """'warp it first (gdalwarp)' left the analyst to find the target CRS and the options."""
    import warnings

    import rasterio
    from rasterio.control import GroundControlPoint
    from rasterio.crs import CRS

    path = tmp_path / "gcps_20230731T023512.tif"
    x, y = 730_485.78, 4_345_043.01  # Sunan, UTM 51N
    gcps = [GroundControlPoint(r, c, x + c / 2, y - r / 2) for r in (0, 8) for c in (0, 8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "Dataset has no geotransform"
        profile = dict(driver="GTiff", width=8, height=8, count=1, dtype="uint8")
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.ones((1, 8, 8), np.uint8))
            ds.gcps = (gcps, CRS.from_epsg(32651))
    with pytest.raises(SceneError) as caught:
        read_scene(path)
    assert str(caught.value) == (
        f"{path}: is georeferenced only by 4 ground control points (GCPs), not a geotransform; "
        "warp it onto a map grid first (gdalwarp -t_srs EPSG:32651 -r bilinear "
        "gcps_20230731T023512.tif gcps_20230731T023512_warped.tif)"
    )


def test_an_rpc_only_image_is_refused_naming_orthorectification(tmp_path, write_raster):
    import rasterio
    from rasterio.rpc import RPC

    image = write_raster(tmp_path / "raw_20230731T023512.tif", crs=None)
    coeffs = [1.0] + [0.0] * 19
    with rasterio.open(image, "r+") as ds:  # a raw (L1) product: RPCs, no CRS, no geotransform
        ds.rpcs = RPC(
            0, 100, 39.2, 0.01, coeffs, coeffs, 32, 32, 125.6, 0.01, coeffs, coeffs, 32, 32
        )
    with pytest.raises(SceneError, match=r"raw_20230731T023512.tif: .*only by RPCs.*gdalwarp -rpc"):
        read_scene(image)
    # the line names the UTM zone of the RPCs' centre (125.6° E, 39.2° N), as the GCPs' does,
    # and the files, not "-t_srs EPSG:…" alone
    with pytest.raises(SceneError) as refused:
        read_scene(image)
    assert str(refused.value).endswith(
        "(gdalwarp -rpc -to RPC_DEM=dem.tif -t_srs EPSG:32651 -r bilinear "
        "raw_20230731T023512.tif raw_20230731T023512_ortho.tif)"
    )


def test_rpcs_beside_a_geotransform_are_warned_as_maybe_not_orthorectified(
    tmp_path, write_raster, caplog
):
    """A Maxar Standard product: a UTM geotransform and RPCs. It is a scene, with one warning
    naming the file, the error to expect and the gdalwarp line that orthorectifies it."""
    import rasterio
    from rasterio.rpc import RPC

    image = write_raster(tmp_path / "std_20230731T023512.tif")
    coeffs = [1.0] + [0.0] * 19
    with rasterio.open(image, "r+") as ds:
        ds.rpcs = RPC(
            0, 100, 39.2, 0.01, coeffs, coeffs, 32, 32, 125.6, 0.01, coeffs, coeffs, 32, 32
        )
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        assert read_scene(image).crs == "EPSG:32651"
    (warning,) = caplog.messages
    assert warning.startswith(f"{image}: carries RPCs beside its geotransform")
    assert "off by tens of metres" in warning
    assert "gdalwarp -rpc -to RPC_DEM=dem.tif -t_srs EPSG:32651 std_20230731T023512.tif" in warning
    caplog.clear()
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        read_scene(write_raster(tmp_path / "ortho_20230731T023512.tif"))
    assert caplog.messages == []  # no RPCs: no word


def test_date_only_file_name_is_refused(tmp_path, write_raster):
    image = write_raster(tmp_path / "sunan_20230731.tif")
    with pytest.raises(SceneError, match=r"sunan_20230731.tif: .*no time of day.*--times"):
        read_scene(image)


def test_bad_files_are_reported_and_scan_goes_on(tmp_path, write_raster):
    good = write_raster(tmp_path / "good_20230731T023512.tif")
    truncated = tmp_path / "cut_20230731T023512.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "text_20230731T023512.tif").write_text("not an image")
    (tmp_path / "empty_20230731T023512.tif").write_bytes(b"")
    write_raster(tmp_path / "nocrs_20230731T023512.tif", crs=None)
    write_raster(tmp_path / "notime.tif")
    result = scan(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["good_20230731T023512"]
    reasons = {Path(e.path).name: e.reason for e in result.errors}
    assert set(reasons) == {
        "cut_20230731T023512.tif",
        "text_20230731T023512.tif",
        "empty_20230731T023512.tif",
        "nocrs_20230731T023512.tif",
        "notime.tif",
    }
    assert "truncated" in reasons["cut_20230731T023512.tif"]
    assert "is empty (0 bytes)" in reasons["empty_20230731T023512.tif"]
    assert "not a readable image" in reasons["text_20230731T023512.tif"]
    assert "no CRS" in reasons["nocrs_20230731T023512.tif"]
    assert "no acquisition time" in reasons["notime.tif"]
    assert all("\n" not in str(e) and str(e).startswith(e.path) for e in result.errors)


def test_all_nodata_image_is_an_error(tmp_path, write_raster):
    data = np.zeros((3, 64, 64), np.uint8)
    image = write_raster(tmp_path / "x_20230731T023512.tif", nodata=0, data=data)
    with pytest.raises(SceneError, match="no valid pixels"):
        read_scene(image)


@pytest.mark.parametrize("gsd", [0.3, 0.5, 3.0])
def test_gsd_and_shape_utm(tmp_path, write_raster, gsd):
    image = write_raster(tmp_path / "x_20230731T023512.tif", gsd=gsd, shape=(40, 50), count=4)
    scene = read_scene(image)
    assert scene.gsd_m == pytest.approx(gsd)
    assert (scene.crs, scene.width, scene.height, scene.count, scene.dtype) == (
        "EPSG:32651",
        50,
        40,
        4,
        "uint8",
    )


def test_gsd_in_metres_for_epsg4326(tmp_path, write_raster):
    deg = 5e-6
    image = write_raster(
        tmp_path / "x_20230731T023512.tif", crs="EPSG:4326", origin=(125.67, 39.23), gsd=deg
    )
    scene = read_scene(image)
    lat = math.radians(39.23)
    expected = (deg * 111_320 * math.cos(lat) + deg * 111_000) / 2
    assert scene.crs == "EPSG:4326"
    assert scene.gsd_m == pytest.approx(expected, rel=0.01)


def test_gsd_in_ground_metres_for_web_mercator(tmp_path, write_raster):
    from pyproj import Transformer

    # web map tiles come in EPSG:3857, whose metres at 39° N are 1/cos(lat) = 1.29 ground metres
    origin = Transformer.from_crs(4326, 3857, always_xy=True).transform(125.67, 39.23)
    grid_m = 0.5 / math.cos(math.radians(39.23))
    image = write_raster(
        tmp_path / "x_20230731T023512.tif", crs="EPSG:3857", origin=origin, gsd=grid_m
    )
    assert read_scene(image).gsd_m == pytest.approx(0.5, rel=0.005)


def test_gsd_of_an_image_outside_its_crs_area_is_in_the_crs_metres():
    from affine import Affine
    from rasterio.crs import CRS

    from dwelltime.scenes import gsd_metres

    utm = CRS.from_epsg(32651)  # a centre with no longitude and latitude: not NaN
    assert gsd_metres(utm, Affine(0.5, 0, -5e7, 0, -0.5, 0), 64, 64) == 0.5


def test_footprint_follows_valid_data(tmp_path, write_raster):
    data = np.full((1, 100, 100), 7, np.uint16)
    full = read_scene(
        write_raster(
            tmp_path / "full_20230731T023512.tif",
            data=data,
            count=1,
            dtype="uint16",
            shape=(100, 100),
        )
    )
    data[:, :, :50] = 0  # western half is nodata
    half = read_scene(
        write_raster(
            tmp_path / "half_20230731T023512.tif",
            data=data,
            count=1,
            dtype="uint16",
            nodata=0,
            shape=(100, 100),
        )
    )
    assert half.footprint.is_valid
    assert half.footprint.area == pytest.approx(full.footprint.area / 2, rel=0.02)
    assert full.footprint.covers(half.footprint.buffer(-1e-7))
    assert half.footprint.centroid.x > full.footprint.centroid.x


def test_an_undeclared_zero_fill_along_the_edges_is_warned(tmp_path, write_raster, caplog):
    data = np.full((3, 64, 64), 90, np.uint8)
    data[:, :, :20] = 0  # the fill beside an orthorectified strip, no nodata declared
    data[:, 30:34, 40:44] = 0  # black inside the image (a shadow) is no fill
    fill = write_raster(tmp_path / "fill_20230731T023512.tif", data=data)
    data[1] = 90  # 0 in bands 1 and 3 only: dark ground, not fill
    dark = write_raster(tmp_path / "dark_20230731T023512.tif", data=data)
    with caplog.at_level("WARNING", logger="dwelltime.scenes"):
        read_scene(fill)
        read_scene(dark)
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"{fill}: 31 % of the image, along its edges, is 0 in every band")
    assert f"gdal_edit.py -a_nodata 0 {fill}" in message


@pytest.mark.filterwarnings("error:Use .@. matmul:PendingDeprecationWarning:dwelltime")
def test_reading_a_scene_multiplies_no_affine_by_a_tuple(tmp_path, write_raster):
    """``transform * (x, y)`` is deprecated by affine 3 (a warning in every scan); ``@`` it is."""
    path = write_raster(tmp_path / "s_20230731T023512.tif")
    assert read_scene(path).footprint.area > 0


def test_footprint_of_a_rotated_image_is_its_outline(tmp_path, write_raster):
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine

    path = write_raster(tmp_path / "turned_20230731T023512.tif")
    with rasterio.open(path, "r+") as ds:  # a geotransform turned by 30° about the corner
        ds.transform = transform = ds.transform @ Affine.rotation(30)
    # the footprint is the turned square, not its bounding box (1.87 times larger)
    footprint = gpd.GeoSeries([read_scene(path).footprint], crs=4326).to_crs(32651)[0]
    outline = shapely.Polygon([transform @ c for c in ((0, 0), (64, 0), (64, 64), (0, 64))])
    assert footprint.symmetric_difference(outline).area < 0.01 * outline.area


def test_udm2_mask_is_attached_not_scanned(tmp_path, write_raster):
    image = write_raster(tmp_path / "20230731_023512_1234_3B_AnalyticMS_SR.TIF")
    mask = write_raster(tmp_path / "20230731_023512_1234_3B_udm2.tif", count=8)
    (scene,) = scan(tmp_path).scenes
    assert scene.path == image.resolve()
    assert scene.mask_path == mask.resolve()
    assert scene.provider == "planet"


@pytest.mark.skipif(not is_dimap("DIM_.XML"), reason="GDAL has no DIMAP driver")
def test_a_dimap_product_is_one_scene_of_its_tiles_at_its_strip_time(tmp_path, write_dimap, caplog):
    dim = write_dimap(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = scan(tmp_path)
    assert not result.errors
    (scene,) = result.scenes  # the tiles are not scenes of their own
    assert scene.path == dim.resolve()
    assert (scene.width, scene.height) == (64, 32)
    assert (scene.time_source, scene.provider) == ("dimap", "airbus")
    assert scene.acquired == pd.Timestamp("2023-07-31T02:35:12.5Z")  # the name has 12.5 too
    assert "touch" not in caplog.text


@pytest.mark.skipif(not is_dimap("DIM_.XML"), reason="GDAL has no DIMAP driver")
def test_a_dimap_product_missing_a_tile_is_named_and_its_tiles_present_are_scenes(
    tmp_path, write_dimap
):
    dim = write_dimap(tmp_path)
    (tmp_path / "IMG_PHR1A_PMS_001_R1C2.TIF").unlink()
    result = scan(tmp_path)
    (error,) = result.errors
    assert str(error) == (
        f"{dim}: lists 1 file(s) that are missing: IMG_PHR1A_PMS_001_R1C2.TIF; copy the whole "
        "product (the tiles it lists) beside it"
    )
    (scene,) = result.scenes
    assert (scene.scene_id, scene.time_source) == ("IMG_PHR1A_PMS_001_R1C1", "dimap")


def test_a_vrt_missing_a_source_is_named_and_its_sources_present_are_scenes(
    tmp_path, write_raster, write_vrt
):
    tiles = [
        write_raster(tmp_path / "a_20230731T023512.tif"),
        write_raster(tmp_path / "b_20230731T023512.tif", origin=(730_517.78, 4_345_043.01)),
    ]
    vrt = write_vrt(tmp_path / "mosaic_20230731T023512.vrt", tiles)
    tiles[1].unlink()
    result = scan(tmp_path)
    assert [str(e) for e in result.errors] == [
        f"{vrt}: lists 1 file(s) that are missing: b_20230731T023512.tif; copy the whole "
        "product (the tiles it lists) beside it"
    ]
    assert [s.scene_id for s in result.scenes] == ["a_20230731T023512"]


def test_a_tile_beside_its_dimap_file_takes_the_strip_time(tmp_path, write_dimap):
    write_dimap(tmp_path, "02:35:13.25Z", tags={"TIFFTAG_DATETIME": "2024:01:02 03:04:05"})
    scene = read_scene(tmp_path / "IMG_PHR1A_PMS_001_R1C2.TIF")  # ranks above GDAL tags
    assert (scene.time_source, scene.provider) == ("dimap", "airbus")
    assert scene.acquired == pd.Timestamp("2023-07-31T02:35:13.25Z")


def test_a_dimap_product_of_strips_imaged_apart_is_warned(tmp_path, write_dimap, caplog):
    dim = write_dimap(tmp_path)
    strip = "<Source_Identification><Strip_Source>{}</Strip_Source></Source_Identification>"
    later = strip.format(
        "<IMAGING_DATE>2023-07-31</IMAGING_DATE><IMAGING_TIME>03:10:00Z</IMAGING_TIME>"
    )
    dim.write_text(dim.read_text().replace("<Dataset_Sources>", "<Dataset_Sources>" + later, 1))
    with caplog.at_level(logging.WARNING):
        info = dimap_time(dim)
    assert (info.acquired, info.source) == (pd.Timestamp("2023-07-31T03:10:00Z"), "dimap")
    assert "made of 2 strips taken from 2023-07-31T02:35:12Z to 2023-07-31T03:10:00Z" in caplog.text


@pytest.mark.parametrize(("groups", "expected"), [("RGBN", (1, 2, 3)), ("BGRN", (3, 2, 1))])
def test_the_band_order_a_maxar_imd_lists_is_the_scene_s(tmp_path, write_raster, groups, expected):
    image = write_raster(tmp_path / "23JUL31023512-M2AS-0123.tif", count=4, dtype="uint16")
    bands = "".join(
        f"BEGIN_GROUP = BAND_{b}\n\tULLon = 125.6;\nEND_GROUP = BAND_{b}\n" for b in groups
    )
    imd = _imd("2023-07-31T02:35:12.000000Z").replace("END;\n", bands + "END;\n")
    image.with_suffix(".IMD").write_text(imd)
    scene = read_scene(image)
    assert scene.provider == "maxar"
    assert scene.rgb_bands == expected  # RGBN: not Maxar's usual BGRN


def test_the_band_order_a_maxar_xml_lists_is_the_scene_s(tmp_path, write_raster):
    """Without the IMD, its XML twin's BAND_R… elements give the order, here RGBN, which
    Maxar's usual BGRN would read red for blue, also where --times gives the time."""
    image = write_raster(tmp_path / "scene_1.tif", count=4, dtype="uint16")
    image.with_suffix(".XML").write_text(_maxar_xml("2023-07-31T02:35:12Z", bands="RGBN"))
    assert read_scene(image).rgb_bands == (1, 2, 3)
    assert read_scene(image, times={image.name: T0}).rgb_bands == (1, 2, 3)


def test_a_user_time_keeps_the_sidecar_s_provider_and_cloud(tmp_path, write_raster, caplog):
    """--times for a Planet 4-band BGRN scene beside its _metadata.json: the user's time, but
    Planet's band order and cloud still, and no warning of sidecars passed over."""
    image = write_raster(tmp_path / "scene_1.tif", count=4, dtype="uint16")
    (tmp_path / "scene_1_metadata.json").write_text(
        json.dumps({"properties": {"acquired": "2023-07-31T02:35:00Z", "cloud_cover": 0.25}})
    )
    image.with_suffix(".json").write_text("{")  # no STAC item: warned, were its time needed
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(image, times={image.name: T0})
    assert (scene.time_source, scene.acquired, scene.provider) == ("user", T0, "planet")
    assert scene.cloud_fraction == pytest.approx(0.25)
    assert caplog.messages == []


def test_a_rapideye_tile_is_read_blue_green_red(tmp_path, write_raster):
    import rasterio

    from dwelltime.regrid import rgb_bands

    name = "2078218_2015-03-25_RE2_3A_Analytic.tif"  # Planet's RapidEye ortho tile, 5 bands
    write_raster(tmp_path / name, count=5, dtype="uint16")
    (scene,) = scan(tmp_path, times={name: "2015-03-25T10:11:12Z"}).scenes
    assert scene.provider == "rapideye"
    with rasterio.open(scene.path) as ds:
        assert rgb_bands(ds, scene.provider, scene.rgb_bands) == [3, 2, 1]


def _truncate(path: Path) -> None:
    """Cut the file to its first third, as a download that stopped: it opens, its pixels
    cannot be read (a truncated mask was found only by detection, which blamed the image)."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize(
    ("problem", "write_mask"),
    [
        ("cannot be read", lambda path, write: path.write_bytes(b"<html>expired link</html>")),
        ("has no CRS", lambda path, write: write(path, crs=None, count=8)),
        ("does not overlap", lambda path, write: write(path, origin=(0.0, 0.0), count=8)),
        ("cannot be read", lambda path, write: _truncate(write(path, count=8))),
    ],
)
def test_a_bad_mask_is_named_and_its_scene_skipped(tmp_path, write_raster, problem, write_mask):
    image = write_raster(tmp_path / "20230731_023512_1234_3B_AnalyticMS_SR.tif")
    write_mask(tmp_path / "20230731_023512_1234_3B_udm2.tif", write_raster)
    write_raster(tmp_path / "20230801_023512_1234_3B_AnalyticMS_SR.tif")  # no mask: used
    result = scan(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["20230801_023512_1234_3B_AnalyticMS_SR"]
    (error,) = result.errors
    assert str(error).startswith(f"{image}: its mask 20230731_023512_1234_3B_udm2.tif {problem}")
    assert len(str(error).splitlines()) == 1
    assert "previous exception" not in str(error)  # rasterio's words, no use to the user


@pytest.mark.parametrize(
    ("crs", "origin", "gsd"),
    [
        ("EPSG:4326", (180.1, -15.9995), 1e-5),  # written past 180°
        ("EPSG:32760", (821_076.5, 8_228_443.5), 0.5),  # UTM 60S across 180°
    ],
)
def test_a_planet_mask_by_the_antimeridian_is_its_scene_s(tmp_path, write_raster, crs, origin, gsd):
    """The footprint is in -180°…180°; the mask's bounds, past 180° or across it, were
    compared as they came and the scene refused as 'does not overlap the image'."""
    for name, count in (("AnalyticMS", 3), ("udm2", 8)):
        write_raster(
            tmp_path / f"fiji_20230731T023512_3B_{name}.tif", crs=crs, origin=origin, gsd=gsd,
            shape=(96, 96), count=count, data=np.ones((count, 96, 96)),
        )  # fmt: skip
    found = scan(tmp_path)
    assert found.errors == [] and len(found.scenes) == 1
    assert found.scenes[0].mask_path.name == "fiji_20230731T023512_3B_udm2.tif"


def _srs_id_0(path: Path) -> None:
    """Set the GeoPackage's layers to srs_id 0, as GDAL 3.7 writes a layer without CRS."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_geometry_columns SET srs_id = 0")
        db.execute("UPDATE gpkg_contents SET srs_id = 0")


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_cloud_polygons_without_crs_are_named_and_their_scene_skipped(
    tmp_path, write_raster, suffix
):
    """A ``_cloud`` GeoPackage of srs_id 0 read as "Undefined geographic SRS": its metres were
    taken for degrees, so no pixel was under cloud; a shapefile without ``.prj`` likewise has
    no CRS. A mask without any cloud needs none."""
    import geopandas as gpd
    import shapely

    x, y = 730_485.78, 4_345_043.01  # the image's corner, Sunan, UTM 51N
    image = write_raster(tmp_path / "s_20230731T023512.tif")
    mask = tmp_path / f"s_20230731T023512_cloud{suffix}"
    clear = write_raster(tmp_path / "c_20230801T023512.tif")
    clear_mask = tmp_path / f"c_20230801T023512_cloud{suffix}"
    for path, clouds in ((mask, [shapely.box(x, y - 16, x + 16, y)]), (clear_mask, [])):
        gpd.GeoDataFrame(geometry=clouds, crs=32651).to_file(path)
        if suffix == ".gpkg":
            _srs_id_0(path)
        else:
            path.with_suffix(".prj").unlink()
    result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [clear]
    (error,) = result.errors
    assert str(error).startswith(f"{image}: its mask {mask.name} has no CRS")
    assert len(str(error).splitlines()) == 1


@pytest.mark.parametrize(
    ("problem", "geometry", "crs"),
    [  # the image: 32 m from (730_485.78, 4_345_043.01), UTM 51N
        ("has no cloud polygon over", {"type": "Polygon", "coordinates": [
            [[730_485, 4_345_000], [730_500, 4_345_000], [730_500, 4_345_040], [730_485, 4_345_000]]
        ]}, None),  # metres in a GeoJSON without "crs": read as lon/lat, they hid nothing
        ("has no cloud polygon over", {"type": "Polygon", "coordinates": [
            [[0, 0], [1, 0], [1, 1], [0, 0]]
        ]}, None),  # another scene's clouds
        ("holds 1 feature(s) but no polygon", {"type": "LineString", "coordinates": [
            [125.67, 39.224], [125.671, 39.2241]
        ]}, None),  # a cloud's outline drawn as a line
        ("has no cloud polygon over", {"type": "Polygon", "coordinates": [
            [[1e12, 1e12], [1e12 + 5, 1e12], [1e12, 1e12 + 5], [1e12, 1e12]]
        ]}, "urn:ogc:def:crs:EPSG::32651"),  # out of the CRS's range
    ],
)  # fmt: skip
def test_cloud_polygons_that_hide_nothing_of_the_image_are_named_and_their_scene_skipped(
    tmp_path, write_raster, problem, geometry, crs
):
    """A user's ``_cloud`` file whose polygons all miss the image was taken for a clear sky:
    each cloud over a stand read as the stand seen empty."""
    image = write_raster(tmp_path / "s_20230731T023512.tif")
    mask = tmp_path / "s_20230731T023512_cloud.geojson"
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": geometry}
    ]}  # fmt: skip
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    mask.write_text(json.dumps(collection))
    result = scan(tmp_path)
    assert not result.scenes
    (error,) = result.errors
    assert str(error).startswith(f"{image}: its mask {mask.name} {problem}")
    assert len(str(error).splitlines()) == 1


def test_an_unreadable_airbus_cloud_mask_is_named(tmp_path, write_dimap):
    dim = write_dimap(tmp_path)
    mask = tmp_path / "MASKS" / f"CLD_{dim.stem[len('DIM_') :]}_MSK.GML"
    mask.parent.mkdir()
    mask.write_text("<eop:Mask")  # cut short
    result = scan(tmp_path)
    assert not result.scenes and result.errors
    assert all(f"its mask {mask.name} cannot be read" in str(e) for e in result.errors)


def test_a_user_cloud_file_named_after_the_image_is_its_mask(tmp_path, write_raster):
    import geopandas as gpd
    import shapely

    image = write_raster(tmp_path / "site_20230731T023512_3B_AnalyticMS.tif")
    write_raster(tmp_path / "site_20230731T023512_3B_udm2.tif", count=8)
    other = write_raster(  # a neighbour, whose stem starts with the first one's
        tmp_path / "site_20230731T023512_3B_AnalyticMS_2.tif", origin=(730_517.78, 4_345_043.01)
    )
    cloud = tmp_path / "site_20230731T023512_3B_AnalyticMS_Cloud.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(125.6, 39.2, 125.7, 39.3)], crs=4326).to_file(cloud)
    masks = {s.path: s.mask_path for s in scan(tmp_path).scenes}
    assert masks[image.resolve()] == cloud.resolve()  # the user's polygons, not the UDM2
    assert masks[other.resolve()].name == "site_20230731T023512_3B_udm2.tif"


def test_a_udm2_with_values_other_than_clear_and_not_clear_is_warned(
    tmp_path, write_raster, caplog
):
    """Band 1 of a UDM2 is 1 (clear) or 0: other values, unknown classes, are taken for
    unseen; the scene is used, and one line names the mask."""
    write_raster(tmp_path / "20230731_023512_1234_3B_AnalyticMS_SR.tif")
    flags = np.ones((8, 64, 64), np.uint8)
    flags[0, :8] = 7
    mask = write_raster(tmp_path / "20230731_023512_1234_3B_udm2.tif", count=8, data=flags)
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        (scene,) = scan(tmp_path).scenes
    assert scene.mask_path == mask.resolve()
    (line,) = [r.getMessage() for r in caplog.records if str(mask) in r.getMessage()]
    assert line.startswith(f"{mask}: band 1 (clear) holds values other than 0 and 1: 7;")


def test_a_planet_legacy_udm_is_attached_and_a_udm2_preferred_to_it(tmp_path, write_raster, caplog):
    """Planet names a legacy UDM ``<id>_3B_AnalyticMS_DN_udm.tif``: its base, ending in
    ``_DN``, starts no image's stem, so it was attached to none, and where a UDM2 came too,
    its longer base would have won over the UDM2 (which also marks shadow and haze)."""
    image = write_raster(tmp_path / "20190731_023512_1234_3B_AnalyticMS.tif")
    udm = write_raster(tmp_path / "20190731_023512_1234_3B_AnalyticMS_DN_udm.tif", count=1)
    (scene,) = scan(tmp_path).scenes
    assert (scene.path, scene.mask_path) == (image.resolve(), udm.resolve())
    udm2 = write_raster(tmp_path / "20190731_023512_1234_3B_udm2.tif", count=8)
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        (scene,) = scan(tmp_path).scenes
    assert scene.mask_path == udm2.resolve()
    assert not [r for r in caplog.records if "belong to no image" in r.getMessage()]


def test_masks_that_belong_to_no_image_are_named(tmp_path, write_raster, caplog):
    """A mask named after no image (the image renamed, its cloud file misspelt) was dropped
    in silence, and the cloud it marks read as ground seen empty."""
    import geopandas as gpd
    import shapely

    image = write_raster(tmp_path / "20230731_023512_1234_3B_AnalyticMS_SR.tif")
    write_raster(tmp_path / "20230731_023512_1234_3B_udm2.tif", count=8)  # its mask
    cloud = tmp_path / "20230731_023512_1234_3B_AnalyticMS_SR_cloud.geojson"  # replaces it
    gpd.GeoDataFrame(geometry=[shapely.box(125.6, 39.2, 125.7, 39.3)], crs=4326).to_file(cloud)
    write_raster(tmp_path / "renamed_20230801T023512.tif")
    write_raster(tmp_path / "20230801_023512_9999_3B_udm2.tif", count=8)  # renamed's, once
    (tmp_path / "renamed_cloud.geojson").write_bytes(cloud.read_bytes())  # not its stem
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        result = scan(tmp_path)
    assert [s.mask_path for s in result.scenes] == [cloud.resolve(), None]
    (line,) = [r.getMessage() for r in caplog.records if "belong to no image" in r.getMessage()]
    assert line.startswith(
        "2 mask(s) belong to no image and are not used: 20230801_023512_9999_3B_udm2.tif, "
        "renamed_cloud.geojson;"
    )
    assert image.name not in line


def test_an_airbus_cloud_mask_is_attached_to_its_product(tmp_path, write_dimap, write_cloud_gml):
    dim = write_dimap(tmp_path)  # its tiles are the scenes where GDAL has no DIMAP driver
    product = dim.stem[len("DIM_") :]
    mask = write_cloud_gml(tmp_path / "MASKS" / f"CLD_{product}_MSK.GML")
    write_cloud_gml(tmp_path / "MASKS" / "CLD_PHR1B_PMS_202308010235125_ORT_1-001_MSK.GML")
    result = scan(tmp_path)
    assert not result.errors and result.scenes
    assert {s.mask_path for s in result.scenes} == {mask.resolve()}
    assert {s.provider for s in result.scenes} != {"planet"}  # not taken for a Planet mask


def test_a_maxar_ard_delivery_s_cloud_polygons_are_its_images_mask_not_its_masks_scenes(
    tmp_path, write_raster, caplog
):
    """Maxar ARD delivers <id>-visual/-pan/-ms.tif with data masks beside them: its cloud
    polygons <id>-cloud-mask.gpkg were not read (cloud over a stand read as ground seen
    empty) and its mask rasters (<id>-clouds.tif…) were scenes, one of which could be kept
    as the acquisition's scene in place of its images."""
    import geopandas as gpd
    import shapely

    catid = "10300100B3841C00"
    write_raster(tmp_path / f"{catid}-visual.tif")
    for layer in ("clouds", "water", "terrain-shadows"):
        write_raster(tmp_path / f"{catid}-{layer}.tif", count=1)
    x, y = 730_485.78, 4_345_043.01  # the image's corner, Sunan, UTM 51N
    mask = tmp_path / f"{catid}-cloud-mask.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(x, y - 16, x + 16, y)], crs=32651).to_file(mask)
    other = tmp_path / "10300100FFFFFF00-cloud-mask.gpkg"  # another acquisition's
    gpd.GeoDataFrame(geometry=[shapely.box(x, y - 16, x + 16, y)], crs=32651).to_file(other)
    item = _stac_item(f"./{catid}-visual.tif", platform="WV03")
    (tmp_path / f"{catid}.json").write_text(json.dumps(item))
    with caplog.at_level(logging.INFO, logger="dwelltime.scenes"):
        result = scan(tmp_path)
    left_out = [r.getMessage() for r in caplog.records if "Maxar ARD data mask" in r.getMessage()]
    assert len(left_out) == 3  # each named with -v, should an image be named like one
    assert result.errors == []
    assert [(s.scene_id, s.mask_path) for s in result.scenes] == [
        (f"{catid}-visual", mask.resolve())
    ]
    item["assets"] = {  # the same delivery as a STAC item: its mask assets are no image
        "clouds": {"href": f"./{catid}-clouds.tif"},
        "visual": {"href": f"./{catid}-visual.tif"},
        "cloud-mask": {"href": f"./{catid}-cloud-mask.gpkg"},
    }
    (tmp_path / "items.json").write_text(json.dumps(item))
    (scene,) = scan(tmp_path / "items.json").scenes
    assert (scene.path.name, scene.mask_path) == (f"{catid}-visual.tif", mask.resolve())


@pytest.mark.parametrize("suffix", ["_udm2_clip", "_udm_clip"])
def test_a_clipped_order_s_mask_is_attached_not_scanned(tmp_path, write_raster, suffix):
    # Planet orders clipped to an area deliver <id>_3B_AnalyticMS_SR_clip.tif + <id>_3B_udm2_clip
    image = write_raster(tmp_path / "20230731_023512_12_2405_3B_AnalyticMS_SR_clip.tif")
    mask = write_raster(tmp_path / f"20230731_023512_12_2405_3B{suffix}.tif", count=8)
    result = scan(tmp_path)
    assert [(s.path, s.mask_path) for s in result.scenes] == [(image.resolve(), mask.resolve())]
    assert result.errors == []


def test_scan_is_recursive_case_insensitive_and_sorted(tmp_path, write_raster):
    write_raster(tmp_path / "b" / "deep" / "late_20230802T000000.TIFF")
    write_raster(tmp_path / "a" / "early_20230731T000000.Tif")
    (tmp_path / "notes_20230731T000000.txt").write_text("not a tif")
    calls = []
    result = scan(tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert [s.scene_id for s in result.scenes] == ["early_20230731T000000", "late_20230802T000000"]
    assert calls == [(1, 2), (2, 2)]


def test_scan_reads_a_tilde_as_the_home_folder(tmp_path, write_raster, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_raster(tmp_path / "imagery" / "early_20230731T000000.tif")
    assert [s.scene_id for s in scan("~/imagery").scenes] == ["early_20230731T000000"]


def test_scan_follows_links_to_folders_once(tmp_path, write_raster):
    archive = tmp_path / "archive"
    write_raster(archive / "linked_20230731T000000.tif")
    folder = tmp_path / "imagery"
    write_raster(folder / "own_20230801T000000.tif")
    (folder / "from_archive").symlink_to(archive, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # a link loop ends
    result = scan(folder)
    assert [s.scene_id for s in result.scenes] == ["linked_20230731T000000", "own_20230801T000000"]
    assert result.errors == []


def test_links_to_nothing_are_named_and_the_scan_goes_on(tmp_path, write_raster, caplog):
    image = write_raster(tmp_path / "a_20230731T023512.tif")
    (tmp_path / "gone_20230801T000000.tif").symlink_to(tmp_path / "deleted.tif")
    (tmp_path / "x.tif").symlink_to(tmp_path / "y.tif")
    (tmp_path / "y.tif").symlink_to(tmp_path / "x.tif")  # a loop of links
    with caplog.at_level(logging.WARNING):
        result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [image.resolve()]
    lines = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(lines) == 3
    assert any(
        "gone_20230801T000000.tif: it links to" in line and "missing" in line for line in lines
    )
    assert sum("loop of links" in line for line in lines) == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_like_an_image_is_named_and_the_scan_goes_on(tmp_path, write_raster, caplog):
    image = write_raster(tmp_path / "a_20230731T023512.tif")
    os.mkfifo(tmp_path / "pipe_20230801T000000.tif")  # opening it would wait for a writer
    with caplog.at_level(logging.WARNING):
        result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [image.resolve()]
    assert result.errors == []
    assert any(
        "pipe_20230801T000000.tif: not a regular file" in r.getMessage() for r in caplog.records
    )


def test_a_folder_that_cannot_be_listed_is_named_and_the_scan_goes_on(
    tmp_path, write_raster, caplog, monkeypatch
):
    image = write_raster(tmp_path / "a_20230731T023512.tif")
    locked = tmp_path / "locked"
    write_raster(locked / "b_20230801T000000.tif")
    scandir = os.scandir

    def refuse_locked(path: object = ".") -> object:  # chmod 000 does not bite as root
        if Path(os.fspath(path)) == locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_locked)
    with caplog.at_level(logging.WARNING):
        result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [image.resolve()]
    assert any(
        f"left out {locked}: the folder cannot be listed (Permission denied)" in r.getMessage()
        for r in caplog.records
    )


def test_a_link_to_an_image_of_the_folder_is_read_once(tmp_path, write_raster, caplog):
    image = write_raster(tmp_path / "b_20230731T023512.tif")
    (tmp_path / "a_link.tif").symlink_to(image)  # sorted first: the file itself is kept
    with caplog.at_level(logging.WARNING):
        result = scan(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["b_20230731T023512"]
    assert result.errors == []
    assert f"left out {tmp_path / 'a_link.tif'}: the same file as {image}" in caplog.text


def test_hidden_files_and_folders_are_not_scanned(tmp_path, write_raster):
    image = write_raster(tmp_path / "a_20230731T023512.tif")
    (tmp_path / "._a_20230731T023512.tif").write_bytes(b"\x00\x05\x16\x07" + bytes(80))  # macOS
    write_raster(tmp_path / ".Trash" / "old_20230801T000000.tif")
    result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [image.resolve()]
    assert result.errors == []


def _beside(step: int) -> tuple[float, float]:
    """A raster origin (UTM 51N, near Sunan) ``step`` km east of the others: another place."""
    return 729_000.0 + 1000.0 * step, 4_345_000.0


def test_repeated_stems_get_unique_ids(tmp_path, write_raster):
    write_raster(tmp_path / "d1" / "x_20230731T023512.tif")
    write_raster(tmp_path / "d2" / "x_20230731T023512.tif", origin=_beside(1))
    ids = sorted(s.scene_id for s in scan(tmp_path).scenes)
    assert ids == ["d1/x_20230731T023512", "d2/x_20230731T023512"]
    write_raster(tmp_path / "d1" / "x_20230731T023512.jp2", driver="JP2OpenJPEG", origin=_beside(2))
    ids = sorted(s.scene_id for s in scan(tmp_path).scenes)
    assert ids == ["d1/x_20230731T023512.jp2", "d1/x_20230731T023512.tif", "d2/x_20230731T023512"]


def test_a_copy_of_an_image_is_skipped_naming_the_one_kept(tmp_path, write_raster):
    """Same time and footprint: one image (the finest GSD is kept); same time elsewhere, or
    the same place at another time, are other scenes."""
    write_raster(tmp_path / "pan_20230731T023512.tif", gsd=0.5, shape=(64, 64))
    write_raster(tmp_path / "ms_20230731T023512.tif", gsd=2.0, shape=(16, 16))
    write_raster(tmp_path / "copy" / "pan_20230731T023512.tif", gsd=0.5, shape=(64, 64))
    write_raster(tmp_path / "east_20230731T023512.tif", origin=_beside(1))
    write_raster(tmp_path / "pan_20230801T023512.tif")
    result = scan(tmp_path)
    kept = sorted(s.scene_id for s in result.scenes)
    assert kept == ["copy/pan_20230731T023512", "east_20230731T023512", "pan_20230801T023512"]
    skipped = sorted(str(e) for e in result.errors)
    assert [Path(e.path).relative_to(tmp_path) for e in sorted(result.errors, key=str)] == [
        Path("ms_20230731T023512.tif"),
        Path("pan_20230731T023512.tif"),
    ]
    assert all("same acquisition time and footprint as" in e for e in skipped)
    assert all(e.endswith("skipped as a copy of it") for e in skipped)


def test_a_maxar_ard_image_takes_its_time_from_its_acquisition_s_item_of_remote_hrefs(
    tmp_path, write_raster
):
    """An ARD image <id>-visual.tif has no time in its name; its item <id>.json beside it
    named it only by its s3:// href, as older deliveries wrote them, so the scene was
    refused for want of a time."""
    catid = "10300100B3841C00"
    image = write_raster(tmp_path / f"{catid}-visual.tif")
    item = _stac_item(f"s3://bucket/13/031133231113/2023-07-31/{catid}-visual.tif")
    item["properties"]["eo:cloud_cover"] = 0
    (tmp_path / f"{catid}.json").write_text(json.dumps(item))
    (scene,) = scan(tmp_path).scenes
    assert (scene.path, scene.acquired, scene.time_source) == (image.resolve(), T0, "stac")


def test_of_a_product_s_colour_and_grey_images_at_one_gsd_the_colour_one_is_kept(
    tmp_path, write_raster
):
    """A delivery's panchromatic band and its RGB (Maxar ARD's -pan and -visual) at one GSD
    are one image: the first scene id, the grey one, was kept, and the detector, which reads
    red, green and blue, saw grey."""
    write_raster(tmp_path / "pan_20230731T023512.tif", count=1)
    visual = write_raster(tmp_path / "visual_20230731T023512.tif", count=3)
    result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [visual.resolve()]
    assert [Path(e.path).name for e in result.errors] == ["pan_20230731T023512.tif"]


def test_empty_folder(tmp_path):
    result = scan(tmp_path)
    assert result.scenes == [] and [type(e) for e in result.errors] == [NoImageError]
    frame = scenes_frame(result.scenes)
    assert list(frame.columns) == list(SCENE_COLUMNS)
    assert frame.crs == "EPSG:4326" and frame.empty


def test_missing_folder_is_an_error(tmp_path):
    """A path that does not exist was 'neither a folder nor a STAC ItemCollection JSON file'
    (and a missing .zip was told to be unpacked): it is 'no such folder or file'. A file that
    is neither keeps its message."""
    for name in ("nope", "nope.zip"):
        with pytest.raises(SceneError) as e:
            scan(tmp_path / name)
        assert str(e.value) == (
            f"{tmp_path / name}: no such folder or file; give the folder that holds the images"
        )
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SceneError, match="neither a folder nor a STAC ItemCollection"):
        scan(tmp_path / "notes.txt")


def test_an_archive_given_as_the_folder_says_to_unpack_it(tmp_path):
    (tmp_path / "order.zip").write_bytes(b"PK")
    with pytest.raises(SceneError, match=r"order\.zip: is an archive, not opened; unpack it"):
        scan(tmp_path / "order.zip")


def test_scenes_frame_columns_and_types(tmp_path, write_raster):
    write_raster(tmp_path / "x_20230731T023512.tif")
    frame = scenes_frame(scan(tmp_path).scenes)
    assert list(frame.columns) == list(SCENE_COLUMNS)
    assert frame.crs == "EPSG:4326"
    assert frame.loc[0, "acquired"] == T0
    assert frame.loc[0, "mask_path"] == ""
    assert math.isnan(frame.loc[0, "cloud_fraction"])


def test_unused_user_times_are_warned(tmp_path, write_raster, caplog):
    write_raster(tmp_path / "x_20230731T023512.tif")
    with caplog.at_level(logging.WARNING):
        scan(tmp_path, times={"other": T0, "x_20230731T023512": T0, "nosuch": T0})
    assert (
        "--times (times= in Python) names 2 file(s) not found among the images: nosuch, other"
        in caplog.text
    )


def test_images_user_times_leave_out_are_named(tmp_path, write_raster, caplog):
    """Given --times, an image it does not name takes its time from elsewhere: said once."""
    for i, name in enumerate(("a", "b_20230731T023512", "c_20230731T023512")):
        write_raster(tmp_path / f"{name}.tif", origin=(730_485.78 + 100 * i, 4_345_043.01))
    with caplog.at_level(logging.WARNING, logger="dwelltime.scenes"):
        result = scan(tmp_path, times={"a": T0})
    assert [s.time_source for s in result.scenes] == ["user", "filename", "filename"]
    assert caplog.messages == [
        "--times (times= in Python) gives no time for 2 of the 3 images, which take it from "
        "their metadata or name (time_source): b_20230731T023512.tif, c_20230731T023512.tif"
    ]


@pytest.mark.parametrize("as_text", [True, False])
def test_times_may_be_given_as_a_csv_path(tmp_path, write_raster, as_text):
    image = write_raster(tmp_path / "imagery" / "x_20230731T000000.tif")
    times = tmp_path / "t.csv"
    times.write_text("stem,acquired\nx_20230731T000000,2023-07-31T02:35:12Z\n")
    (scene,) = scan(tmp_path / "imagery", times=str(times) if as_text else times).scenes
    assert (scene.time_source, scene.acquired) == ("user", T0)
    assert read_scene(image, times=str(times)).acquired == T0


def test_times_without_a_zone_are_read_as_utc_with_one_warning(tmp_path, caplog):
    times = tmp_path / "t.csv"
    times.write_text("stem,acquired\na,2023-07-31T11:35:12\nb,2023-07-31T11:35:12+09:00\n")
    with caplog.at_level(logging.WARNING):
        assert read_times_csv(times)["a"] == pd.Timestamp("2023-07-31T11:35:12Z")
    assert [r.getMessage() for r in caplog.records] == [
        f"{times}: 1 time(s) without a zone (line 2: '2023-07-31T11:35:12') read as UTC; if "
        "they are local times, write their offset (2023-08-02T14:05+09:00)"
    ]
    caplog.clear()
    times.write_text("stem,acquired\na,2023-07-31T02:35:12Z\n")
    read_times_csv(times)
    assert not caplog.records


def test_read_times_csv(tmp_path):
    good = tmp_path / "t.csv"
    good.write_text(
        "stem,acquired\nscene_a,2023-07-31T02:35:12\nscene_b,2023-07-31T11:35:12+09:00\n"
    )
    assert read_times_csv(good) == {"scene_a": T0, "scene_b": T0}
    bad = tmp_path / "bad.csv"
    bad.write_text("path,acquired\nscene_a,yesterday\n")
    with pytest.raises(TimesError, match=r"bad\.csv: line 2"):
        read_times_csv(bad)
    (tmp_path / "cols.csv").write_text("name,when\na,b\n")
    with pytest.raises(TimesError, match=r"cols\.csv: .*columns"):
        read_times_csv(tmp_path / "cols.csv")
    with pytest.raises(TimesError, match=r"none\.csv: cannot read"):
        read_times_csv(tmp_path / "none.csv")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,02/08/2023 05:00\n", r"line 3: '02/08/2023 05:00' is not an ISO 8601"),
        ("a,2023-08-02\n", r"line 3: '2023-08-02' has no time of day"),
        ("b,2023-08-02T05:00:00Z\n", r"line 3: 'b' is given a time on line 2 already"),
    ],
)
def test_times_csv_refuses_ambiguous_dates_dates_alone_and_repeats(tmp_path, rows, message):
    path = tmp_path / "t.csv"
    path.write_text("stem,acquired\nb,2023-08-02T05:00\n" + rows)
    with pytest.raises(TimesError, match=rf"t\.csv: {message}"):
        read_times_csv(path)


def test_times_csv_takes_iso_8601_forms(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "stem,acquired\na,2023-07-31 02:35:12\nb,20230731T113512+0900\nc,2023-07-31T02:35:12.0z\n"
    )
    assert read_times_csv(path) == {"a": T0, "b": T0, "c": T0}


def test_times_csv_saved_by_excel_with_semicolons(tmp_path):
    """Excel where ``,`` is the decimal mark writes ``;``, with a BOM and CRLF."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfstem;acquired\r\na;2023-07-31T11:35:12+09:00\r\n")
    assert read_times_csv(path) == {"a": T0}


def test_times_csv_excel_saved_on_windows_is_read(tmp_path):
    """Excel's "CSV (Comma delimited)" on Windows is Windows-1252, not UTF-8."""
    path = tmp_path / "t.csv"
    path.write_bytes("stem,acquired,note\na,2023-07-31T02:35:12Z,café\n".encode("cp1252"))
    assert read_times_csv(path) == {"a": T0}


def test_times_csv_passes_blank_rows_over_and_names_the_file_line(tmp_path):
    """Excel saves empty rows as ``,``: not an error; a bad row after blank lines is named by
    its line in the file."""
    path = tmp_path / "t.csv"
    path.write_text("stem,acquired\na,2023-07-31T02:35:12Z\n,\n\n , \n")
    assert read_times_csv(path) == {"a": T0}
    path.write_text("stem,acquired\na,2023-07-31T02:35:12Z\n\n,\nb,yesterday\n")
    with pytest.raises(TimesError, match=r"t\.csv: line 5: 'yesterday'"):
        read_times_csv(path)


def test_a_tifftag_time_far_from_the_file_name_is_used_and_warned(tmp_path, write_raster, caplog):
    """TIFFTAG_DATETIME ranks above the file name, but is often the save time: one warning
    names both times when they differ; none when they agree within minutes."""
    far = write_raster(
        tmp_path / "zkpy_20230731T023512.tif", tags={"TIFFTAG_DATETIME": "2023:08:04 09:00:00"}
    )
    near = write_raster(
        tmp_path / "zkpy_20230801T023512.tif", tags={"TIFFTAG_DATETIME": "2023:08:01 02:37:00"}
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scene = read_scene(far)
        assert read_scene(near).time_source == "gdal_tag"
    assert (scene.time_source, scene.acquired) == ("gdal_tag", pd.Timestamp("2023-08-04T09:00Z"))
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(
        f"{far}: TIFFTAG_DATETIME 2023-08-04T09:00:00Z differs from the file name's "
        "2023-07-31T02:35:12Z by 102.4 h; using TIFFTAG_DATETIME"
    )
    assert "--times" in message and "\n" not in message


def test_detect_s_warning_of_a_time_far_from_the_name_names_the_commands_that_take_times(
    tmp_path, write_raster, caplog
):
    """detect (``require_time=False``) takes no ``--times``: its warning of a tag far from the
    file name says which commands do, not to give detect an option it does not have."""
    image = write_raster(
        tmp_path / "zkpy_20230731T023512.tif", tags={"ACQUISITIONDATETIME": "2023-08-04T09:00Z"}
    )
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        read_scene(image, require_time=False)
    (message,) = caplog.messages
    assert message.endswith(
        "give the acquisition time with --times CSV of scan, run or batch "
        "(times= in Python; detect takes none)"
    )


def test_a_sidecar_time_far_from_the_file_name_is_used_and_warned(tmp_path, write_raster, caplog):
    """One metadata file matched to two images by the start of their names gives both its
    time: it ranks above their names, so it is used, and each image names both times."""
    a = write_raster(tmp_path / "apron_20230731T023512.tif")
    b = write_raster(tmp_path / "apron_20230801T023512.tif", origin=(730_585.78, 4_345_043.01))
    metadata = {"properties": {"acquired": "2023-08-02T09:00:00Z"}}
    (tmp_path / "apron_metadata.json").write_text(json.dumps(metadata))
    with caplog.at_level(logging.WARNING, logger="dwelltime.timesources"):
        scenes = scan(tmp_path).scenes
    assert {(s.time_source, s.acquired) for s in scenes} == {
        ("planet_json", pd.Timestamp("2023-08-02T09:00Z"))
    }
    assert [m.split(" by ")[0] for m in caplog.messages] == [
        f"{image}: apron_metadata.json 2023-08-02T09:00:00Z differs from the file name's {named}"
        for image, named in ((a, "2023-07-31T02:35:12Z"), (b, "2023-08-01T02:35:12Z"))
    ]
    assert "another image's" in caplog.messages[0] and "--times" in caplog.messages[0]


def test_tifftag_times_the_file_names_cannot_confirm_are_warned_once(
    tmp_path, write_raster, caplog
):
    """TIFFTAG_DATETIME has no zone and is often the save time: the scan names the images
    whose time rests on it alone in one warning, not one per image."""
    for i in range(4):
        tags = {"TIFFTAG_DATETIME": f"2023:08:0{i + 1} 09:00:00"}
        write_raster(tmp_path / f"export{i}.tif", tags=tags, origin=(730_485.78 + 100 * i, 4.3e6))
    write_raster(
        tmp_path / "x_20230801T090000.tif", tags={"TIFFTAG_DATETIME": "2023:08:01 09:00:30"}
    )
    with caplog.at_level(logging.WARNING):
        scenes = scan(tmp_path).scenes
    assert [s.time_origin for s in scenes] == ["TIFFTAG_DATETIME"] * 5
    assert scenes[0].acquired == pd.Timestamp("2023-08-01T09:00Z")  # no zone: UTC
    (message,) = caplog.messages  # the one the file name confirms is not named
    assert message.startswith(
        "4 image(s) take their acquisition time from TIFFTAG_DATETIME alone (export0.tif "
        "2023-08-01T09:00:00Z, export1.tif 2023-08-02T09:00:00Z, export2.tif "
        "2023-08-03T09:00:00Z, …), which has no zone (read as UTC)"
    )
    assert "saved" in message and message.endswith("--times CSV (times= in Python)")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2023-07-31", "has no time of day"),
        (datetime(2023, 7, 31).date(), "has no time of day"),
        ("31/07/2023 02:35", "not an ISO 8601 date and time"),
    ],
)
def test_a_times_mapping_is_checked_as_the_csv_is(tmp_path, write_raster, value, problem):
    """A date alone is refused (midnight would bias the dwell), not read as 00:00 UTC, and a
    value that is no ISO date-time is refused naming its key, before any image is read."""
    write_raster(tmp_path / "x.tif")
    with pytest.raises(TimesError, match=rf"^times\['x'\]: .*{problem}"):
        scan(tmp_path, times={"x": value})


def test_a_times_mapping_may_be_keyed_by_path(tmp_path, write_raster):
    image = write_raster(tmp_path / "x.tif")
    (scene,) = scan(tmp_path, times={image: datetime(2023, 7, 31, 2, 35, 12)}).scenes
    assert (scene.time_source, scene.acquired) == ("user", T0)


def test_a_scan_shows_as_its_counts_not_every_scene(tmp_path, write_raster):
    write_raster(tmp_path / "x_20230731T023512.tif")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    assert repr(scan(tmp_path)) == (
        "<ScanResult 1 scenes, 1 unusable file(s), 0 picture(s) without georeference>"
    )


def test_a_dwelltime_output_folder_inside_the_imagery_is_not_scanned(tmp_path, write_raster):
    """``run --out IMAGES/results`` run twice: its figures are no pictures to warn about."""
    image = write_raster(tmp_path / "a_20230731T023512.tif")
    results = tmp_path / "results"
    results.mkdir()
    (results / "run.json").write_text("{}")
    (results / "timeline.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write_raster(results / "b_20230801T000000.tif")  # not even a GeoTIFF there
    result = scan(tmp_path)
    assert [s.path for s in result.scenes] == [image.resolve()]
    assert result.errors == [] and result.pictures == []


@pytest.mark.parametrize("west", [179.999, 180.1, -180.001])
def test_a_lon_lat_footprint_past_180_degrees_is_given_in_longitudes_of_the_globe(
    tmp_path, write_raster, west
):
    """A lon/lat image written across or past 180° (as gdalwarp writes a scene across the
    antimeridian) has its footprint within -180°…180°, split in two parts where it crosses,
    so that it meets aprons given in those longitudes."""
    import shapely

    step = 1e-5
    image = write_raster(
        tmp_path / "s_20230731T023512.tif", crs="EPSG:4326", origin=(west, -15.9995), gsd=step,
        shape=(100, 200),
    )  # fmt: skip
    footprint = read_scene(image).footprint
    lon_west, _, lon_east, _ = footprint.bounds
    assert -180 <= lon_west and lon_east <= 180
    assert footprint.area == pytest.approx(200 * 100 * step**2, rel=1e-3)
    for lon in (west + 50 * step, west + 150 * step):  # west and east of the middle
        assert footprint.contains(shapely.Point((lon + 180) % 360 - 180, -16.0))


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32760", "EPSG:32701"])
def test_a_projected_footprint_across_the_antimeridian_is_two_parts_not_a_band_round_the_globe(
    tmp_path, write_raster, crs
):
    """A Web Mercator image across 180° (which GDAL does not cut there, as it cuts UTM) had a
    footprint 360° wide, a band round the globe at its latitudes; it is two parts of the
    image's size, one each side, as a UTM image's is."""
    import shapely
    from pyproj import Geod, Transformer

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(180.0, -16.7)
    gsd = 0.5  # ground metres; Web Mercator's are 1/cos(latitude) of them
    if crs == "EPSG:3857":
        x, gsd = 20_037_508.34, gsd / math.cos(math.radians(16.7))  # 180°, PROJ's -180°
    image = write_raster(
        tmp_path / "s_20230731T023512.tif", crs=crs, origin=(x - 200 * gsd, y + 200 * gsd),
        gsd=gsd, shape=(400, 400),
    )  # fmt: skip
    footprint = read_scene(image).footprint
    parts = shapely.get_parts(footprint)
    assert len(parts) == 2 and {round(p.bounds[0]) for p in parts} == {-180, 180}
    ground_m2 = sum(abs(Geod(ellps="WGS84").geometry_area_perimeter(p)[0]) for p in parts)
    assert ground_m2 == pytest.approx(200 * 200, rel=0.03)


def test_footprint_of_an_irregular_nodata_edge_is_within_its_tolerance(tmp_path, write_raster):
    """A 600 px scene is traced on cells of FOOTPRINT_CELL_M (8 px at 0.5 m): its footprint
    covers every valid pixel (tiling reads only windows that meet it) and claims no nodata
    ground beyond two cells (the band that holds data where band 1 is nodata counts)."""
    import geopandas as gpd
    import rasterio

    from dwelltime.regrid import mask_to_polygon
    from dwelltime.scenes import FOOTPRINT_CELL_M

    rows, cols = np.mgrid[0:600, 0:600]
    valid = (cols > 150 + 60 * np.sin(rows / 40)) & (cols + rows < 1000)
    data = np.full((3, 600, 600), 90, np.uint8)
    data[:, ~valid] = 0
    data[0, 300:310, 400:410] = 0  # band 1 nodata, bands 2 and 3 data: valid
    path = write_raster(
        tmp_path / "wavy_20230731T023512.tif", data=data, shape=(600, 600), nodata=0
    )
    with rasterio.open(path) as ds:
        exact = mask_to_polygon(valid, ds.transform)
    footprint = gpd.GeoSeries([read_scene(path).footprint], crs=4326).to_crs(32651)[0]
    tolerance = 2 * FOOTPRINT_CELL_M
    assert footprint.buffer(0.05).covers(exact)  # no valid ground left out (5 cm: lon/lat)
    assert exact.buffer(tolerance).covers(footprint)  # no nodata ground claimed beyond it
    assert footprint.symmetric_difference(exact).area < 0.05 * exact.area


def test_footprint_grid_cells_are_sized_in_metres():
    """Cells of FOOTPRINT_CELL_M (4 m: 8 px at 0.5 m), no more than FOOTPRINT_MAX_PX along a
    side, no fewer than FOOTPRINT_MIN_PX where the scene has as many pixels, none below a
    pixel."""
    from dwelltime.scenes import _footprint_shape

    assert _footprint_shape(1024, 512, 0.5) == (64, 128)
    assert _footprint_shape(20000, 20000, 0.5) == (512, 512)
    assert _footprint_shape(100, 100, 0.5) == (100, 100)
    assert _footprint_shape(512, 512, 0.5) == (128, 128)
    assert _footprint_shape(40, 30, 0.5) == (30, 40)
    assert _footprint_shape(1000, 1000, 30.0) == (512, 512)


def test_scan_reads_with_gdal_cache_capped(tmp_path, write_raster, monkeypatch):
    """GDAL's block cache is READ_CACHE_BYTES while scan reads, not 5 % of the RAM."""
    from rasterio.env import getenv

    from dwelltime import scenes
    from dwelltime.regrid import READ_CACHE_BYTES

    write_raster(tmp_path / "a_20230731T023512.tif")
    caches = []
    real = scenes._read_scene  # what scan reads each image with

    def read_scene(*args, **kwargs):
        caches.append(getenv().get("GDAL_CACHEMAX"))
        return real(*args, **kwargs)

    monkeypatch.setattr(scenes, "_read_scene", read_scene)
    assert len(scenes.scan(tmp_path).scenes) == 1
    assert caches == [READ_CACHE_BYTES]


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (["scene_a.tif"], "times must be a mapping of image"),
        ({"scene_a.tif": 1690770912}, "times['scene_a.tif']: 1690770912 is not a time"),
    ],
)
def test_user_times_of_the_wrong_kind_are_refused_before_reading(
    tmp_path, write_raster, times, message
):
    """A list for the mapping, or a number (pandas reads it as nanoseconds since 1970), is a
    TimesError naming what is wrong, not an AttributeError or a 1970 acquisition time."""
    write_raster(tmp_path / "scene_a.tif")
    with pytest.raises(TimesError, match=re.escape(message)):
        scan(tmp_path, times=times)
