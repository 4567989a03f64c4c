"""Which files ``dwelltime detect`` reads from the paths it is given."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dwelltime.detector.images import collect, read_rgb
from dwelltime.errors import SceneError
from dwelltime.formats import is_dimap


def test_folders_give_their_images_without_masks(tmp_path):
    for name in ("a.tif", "a_3B_udm2.tif", "b.JP2", "notes.txt", "sub/c.png", "sub/d.ntf"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found, errors = collect([tmp_path, tmp_path / "notes.txt"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a.tif", "b.JP2", "sub/c.png", "sub/d.ntf", "notes.txt"]
    assert errors == []


def test_a_maxar_ard_delivery_gives_its_images_not_its_data_masks(tmp_path):
    ard = ("-visual.tif", "-pan.tif", "-ms.tif", "-clouds.tif", "-water.tif", "-cloud-mask.gpkg")
    for suffix in ard:
        (tmp_path / f"10300100B3841C00{suffix}").write_bytes(b"")
    found, _ = collect([tmp_path])
    assert [p.name[17:] for p in found] == ["ms.tif", "pan.tif", "visual.tif"]


def test_a_folder_without_images_is_an_unusable_input_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image")
    found, errors = collect([tmp_path / "empty"])
    assert found == []
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'empty'}: no image file (.tif, .tiff, .jp2, .ntf, .nitf, .vrt, .til, "
        ".png, .jpg, .jpeg) under it"
    ]


def test_archives_given_or_in_a_folder_are_named_each_not_read(tmp_path):
    for name in ("imagery/a.tif", "imagery/order 1.ZIP", "imagery/sub/maxar.tar.gz", "b.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found, errors = collect([tmp_path / "imagery", tmp_path / "b.zip"])
    assert found == [tmp_path / "imagery" / "a.tif"]
    named = [Path(e.path).relative_to(tmp_path).as_posix() for e in errors]
    assert named == ["imagery/order 1.ZIP", "imagery/sub/maxar.tar.gz", "b.zip"]
    assert all("is an archive, not opened; unpack it" in e.reason for e in errors)


def test_an_archive_unpacked_beside_it_is_not_named(tmp_path):
    """``unzip order.zip -d order`` done (the line the error gives): the folder's images are
    read and the archive kept beside them is no longer named as not opened."""
    (tmp_path / "order").mkdir()
    (tmp_path / "order" / "a.tif").write_bytes(b"")
    (tmp_path / "order.zip").write_bytes(b"PK")
    assert collect([tmp_path]) == ([tmp_path / "order" / "a.tif"], [])


def test_a_file_reached_twice_is_read_once(tmp_path):
    (tmp_path / "imagery").mkdir()
    (tmp_path / "imagery" / "b.tif").write_bytes(b"")
    (tmp_path / "imagery" / "a.tif").symlink_to(tmp_path / "imagery" / "b.tif")
    found, errors = collect([tmp_path / "imagery", tmp_path / "imagery" / "b.tif"])
    assert found == [tmp_path / "imagery" / "b.tif"] and errors == []


def test_links_to_folders_are_followed(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a.tif").write_bytes(b"")
    (tmp_path / "imagery").mkdir()
    (tmp_path / "imagery" / "linked").symlink_to(tmp_path / "archive", target_is_directory=True)
    found, errors = collect([tmp_path / "imagery"])
    assert [p.relative_to(tmp_path / "imagery").as_posix() for p in found] == ["linked/a.tif"]
    assert errors == []


def test_a_vrt_mosaic_stands_for_its_tiles(tmp_path, write_raster, write_vrt):
    tiles = [write_raster(tmp_path / "r1c1.tif"), write_raster(tmp_path / "r1c2.tif")]
    write_vrt(tmp_path / "mosaic.vrt", tiles)
    found, errors = collect([tmp_path])
    assert [p.name for p in found] == ["mosaic.vrt"]
    assert errors == []


def test_a_stac_item_collection_gives_its_items_images(tmp_path):
    def item(item_id, href):
        return {"type": "Feature", "id": item_id, "properties": {}, "assets": {"d": {"href": href}}}

    items = {
        "type": "FeatureCollection",
        "features": [item("a", "img/a.tif"), item("b", "s3://b.tif")],
    }
    (tmp_path / "items.json").write_text(json.dumps(items))
    found, errors = collect([tmp_path / "items.json"])
    assert found == [tmp_path / "img" / "a.tif"]
    assert [str(e).split(":")[0] for e in errors] == [f"{tmp_path / 'items.json'}#b"]


@pytest.mark.skipif(not is_dimap("DIM_.XML"), reason="GDAL has no DIMAP driver")
def test_a_dimap_product_stands_for_its_tiles(tmp_path, write_dimap):
    dim = write_dimap(tmp_path)
    found, errors = collect([tmp_path])
    assert found == [dim]
    assert errors == []


def test_a_16_bit_planet_tiff_without_georeference_is_read_in_colour(tmp_path, write_raster):
    """`detect --gsd` on a 4-band uint16 BGRN TIFF with no georeference (which PIL cannot
    open): read as red, green, blue uint8, not refused as "not a readable image"."""
    import numpy as np

    data = np.zeros((4, 32, 32), np.uint16)
    for band, value in enumerate((1000, 2000, 3000, 4000)):  # blue, green, red, NIR
        data[band] = value + np.arange(32, dtype=np.uint16)
    name = "20230801_183000_00_2429_3B_AnalyticMS.tif"
    path = tmp_path / name
    rgb = read_rgb(write_raster(path, crs=None, shape=(32, 32), count=4, dtype="uint16", data=data))
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].mean() > rgb[..., 1].mean() > rgb[..., 2].mean()  # red brightest


def test_an_unreadable_picture_is_named(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(SceneError, match=r"bad\.png: not a readable image"):
        read_rgb(tmp_path / "bad.png")


def test_a_read_error_without_text_still_names_the_picture(tmp_path, monkeypatch):
    """GDAL may raise with an empty message: the file is named with the error's type, not
    an IndexError traceback."""
    from rasterio.errors import RasterioError

    import dwelltime.regrid

    def fail(path):
        raise RasterioError("")

    monkeypatch.setattr(dwelltime.regrid, "read_rgb", fail)
    with pytest.raises(SceneError, match=r"bad\.png: not a readable image \(RasterioError\)"):
        read_rgb(tmp_path / "bad.png")


def test_a_palette_png_is_read_in_its_colours(tmp_path):
    """A palette PNG (a screenshot or quicklook saved with 256 colours) gives its colours,
    not its palette indexes as grey."""
    import numpy as np
    from PIL import Image

    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = (200, 30, 10)
    rgb[:, 8:] = (10, 40, 220)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    assert np.array_equal(read_rgb(tmp_path / "p.png"), rgb)


def test_a_16_bit_plain_image_is_stretched_not_clipped_to_white(tmp_path):
    from PIL import Image

    grey = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) + 300  # 12-bit data: 300-4395
    Image.fromarray(grey).save(tmp_path / "pan16.png")
    rgb = read_rgb(tmp_path / "pan16.png")
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255 and 100 < rgb.mean() < 155
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
