"""Which files ``dwelltime detect`` reads from the paths it is given."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dwelltime.detector.images import collect
from dwelltime.formats import is_dimap


def test_folders_give_their_images_without_masks(tmp_path):
    for name in ("a.tif", "a_3B_udm2.tif", "b.JP2", "notes.txt", "sub/c.png", "sub/d.ntf"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found, errors = collect([tmp_path, tmp_path / "notes.txt"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a.tif", "b.JP2", "sub/c.png", "sub/d.ntf", "notes.txt"]
    assert errors == []


def test_a_folder_without_images_is_an_unusable_input_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image")
    found, errors = collect([tmp_path / "empty"])
    assert found == []
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'empty'}: no image file (.tif, .tiff, .jp2, .ntf, .nitf, .vrt, .til, "
        ".png, .jpg, .jpeg) under it"
    ]


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


def test_a_16_bit_plain_image_is_stretched_not_clipped_to_white(tmp_path):
    from PIL import Image

    from dwelltime.detector.images import read_rgb
    from dwelltime.regrid import open_picture

    grey = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) + 300  # 12-bit data: 300-4395
    Image.fromarray(grey).save(tmp_path / "pan16.png")
    with open_picture(tmp_path / "pan16.png") as ds:
        rgb = read_rgb(ds)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255 and 100 < rgb.mean() < 155
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_a_palette_image_is_read_through_its_colour_table(tmp_path):
    from PIL import Image

    from dwelltime.detector.images import read_rgb
    from dwelltime.regrid import open_picture

    picture = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    picture.putpalette([200, 10, 20, 5, 150, 250])
    picture.save(tmp_path / "quicklook.png")
    with open_picture(tmp_path / "quicklook.png") as ds:
        rgb = read_rgb(ds)
    assert rgb[0, 0].tolist() == [200, 10, 20] and rgb[0, 1].tolist() == [5, 150, 250]
