"""STAC items as an imagery list: the image and mask assets of each item, errors per item."""

import json

import pandas as pd
import pytest

from dwelltime.errors import SceneError
from dwelltime.scenes import scan
from dwelltime.stac import item_scene, read_items


def _item(item_id: str, when: str, assets: dict) -> dict:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": when, "constellation": "PlanetScope"},
        "assets": assets,
    }


def _collection(path, *items):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(items)}))
    return path


def test_image_asset_prefers_data_role_and_skips_thumbnails_and_masks(tmp_path):
    item = _item(
        "a",
        "2023-07-31T02:35:12Z",
        {
            "thumbnail": {"href": "a_thumb.png", "roles": ["thumbnail"]},
            "visual": {"href": "a_visual.tif", "roles": ["visual"]},
            "ortho_udm2": {"href": "a_udm2.tif", "roles": ["data-mask"]},
            "ortho_analytic": {"href": "file://" + str(tmp_path / "a_sr.tif"), "roles": ["data"]},
            "metadata": {"href": "a_metadata.json", "roles": ["metadata"]},
        },
    )
    found = item_scene(item, tmp_path / "items.json")
    assert found.image == tmp_path / "a_sr.tif"
    assert found.mask == tmp_path / "a_udm2.tif"
    masks_first = _item("b", "2023-07-31T02:35:12Z", {
        "clouds": {"href": "b_clouds.tif", "roles": ["data-mask"]},
        "visual": {"href": "b_visual.tif", "roles": ["visual"]},
    })  # fmt: skip
    assert item_scene(masks_first, tmp_path / "items.json").image == tmp_path / "b_visual.tif"


def test_a_udm2_asset_is_preferred_to_a_legacy_udm_listed_before_it(tmp_path):
    """The first mask asset was the scene's: a legacy UDM listed before the UDM2 hid the
    UDM2's shadow and haze."""
    item = _item("a", "2023-07-31T02:35:12Z", {
        "udm": {"href": "a_3B_AnalyticMS_DN_udm.tif", "roles": ["data-mask"]},
        "ortho_udm2": {"href": "a_3B_udm2.tif", "roles": ["data-mask"]},
        "ortho_analytic_4b": {"href": "a_3B_AnalyticMS.tif", "roles": ["data"]},
    })  # fmt: skip
    assert item_scene(item, tmp_path / "items.json").mask == tmp_path / "a_3B_udm2.tif"


def test_item_without_local_image_is_an_error_naming_it(tmp_path):
    remote = _item("far", "2023-07-31T02:35:12Z", {"data": {"href": "https://x.org/far.tif"}})
    with pytest.raises(SceneError, match=r"items.json#far: its image is only remote .*download"):
        item_scene(remote, tmp_path / "items.json")
    empty = _item("none", "2023-07-31T02:35:12Z", {"meta": {"href": "none.xml"}})
    with pytest.raises(SceneError, match="#none: has no local image asset"):
        item_scene(empty, tmp_path / "items.json")


def test_read_items_takes_a_collection_or_one_item(tmp_path):
    one = _item("a", "2023-07-31T02:35:12Z", {})
    (tmp_path / "item.json").write_text(json.dumps(one))
    assert read_items(tmp_path / "item.json") == [one]
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SceneError, match="not a STAC ItemCollection"):
        read_items(tmp_path / "list.json")
    (tmp_path / "empty.json").write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(SceneError, match=r"empty\.json: is a STAC ItemCollection with no items"):
        read_items(tmp_path / "empty.json")


def test_scan_an_item_collection(tmp_path, write_raster):
    write_raster(tmp_path / "img" / "a.tif")
    write_raster(tmp_path / "img" / "a_udm2.tif", count=8)
    write_raster(tmp_path / "img" / "b.tif")
    items = _collection(
        tmp_path / "items.json",
        _item("a", "2023-07-31T02:35:12Z", {"analytic": {"href": "img/a.tif"},
                                            "udm2": {"href": "img/a_udm2.tif"}}),
        _item("b", "2023-07-30T01:00:00+09:00", {"analytic": {"href": "img/b.tif"}}),
        _item("c", "2023-07-31T00:00:00Z", {"analytic": {"href": "s3://bucket/c.tif"}}),
    )  # fmt: skip
    result = scan(items)
    assert [s.scene_id for s in result.scenes] == ["b", "a"]  # by acquisition time
    b, a = result.scenes
    assert (a.time_source, a.acquired) == ("stac", pd.Timestamp("2023-07-31T02:35:12Z"))
    assert b.acquired == pd.Timestamp("2023-07-29T16:00:00Z")
    assert a.provider == "planetscope"
    assert a.mask_path == (tmp_path / "img" / "a_udm2.tif").resolve()
    assert [str(e).split(":")[0] for e in result.errors] == [f"{items}#c"]


def _bgrn_item(image, bands_key: str, where: str = "asset") -> dict:
    """A STAC item of ``image`` whose bands (blue, green, red, nir) are listed under
    ``bands_key`` of its asset, or of its properties."""
    bands = [{"name": n, "common_name": c} for n, c in
             (("B1", "blue"), ("B2", "green"), ("B3", "red"), ("B4", "nir"))]  # fmt: skip
    if bands_key == "bands":  # STAC 1.1
        bands = [{"name": b["name"], "eo:common_name": b["common_name"]} for b in bands]
    asset = {"href": image.name, "roles": ["data"]}
    item = _item("s", "2023-07-31T02:35:12Z", {"data": asset})
    item["properties"]["constellation"] = "some-sat"
    (asset if where == "asset" else item["properties"])[bands_key] = bands
    return item


@pytest.mark.parametrize(
    ("bands_key", "where"), [("eo:bands", "asset"), ("bands", "asset"), ("eo:bands", "item")]
)
def test_the_bands_an_item_names_give_the_tiles_their_colours(
    tmp_path, write_raster, bands_key, where
):
    import geopandas as gpd
    import numpy as np
    import rasterio
    import shapely

    from dwelltime.airports import lookup_airport
    from dwelltime.tiling import TileSpec, iter_tiles

    data = np.stack([np.full((64, 64), v, np.uint16) for v in (100, 200, 300, 400)])
    data[:, 0, 0] = 0  # a stretch from 0 keeps the order of the bands visible
    image = write_raster(tmp_path / "s.tif", count=4, dtype="uint16", data=data)
    items = _collection(tmp_path / "items.json", _bgrn_item(image, bands_key, where))
    (scene,) = scan(items).scenes
    assert scene.rgb_bands == (3, 2, 1)
    with rasterio.open(image) as ds:
        left, top = ds.transform @ (0, 0)
    apron = shapely.box(left + 8, top - 24, left + 24, top - 8)
    aprons = gpd.GeoDataFrame({"apron_id": ["A"]}, geometry=[apron], crs="EPSG:32651")
    spec = TileSpec(gsd_m=0.5, size_px=16, overlap_px=0)
    tile = next(iter_tiles(scene, lookup_airport("ZKPY"), aprons, spec))
    red, green, blue = (float(np.median(tile.image[b])) for b in range(3))
    assert red > green > blue  # red is band 3 (300), blue band 1 (100)


def test_an_item_that_names_no_colours_leaves_the_band_order_to_the_file(tmp_path, write_raster):
    image = write_raster(tmp_path / "s.tif", count=4, dtype="uint16")
    item = _bgrn_item(image, "eo:bands")
    for band in item["assets"]["data"]["eo:bands"]:
        del band["common_name"]
    (scene,) = scan(_collection(tmp_path / "items.json", item)).scenes
    assert scene.rgb_bands is None


def test_bands_listed_for_another_asset_are_not_read_as_the_image_s(tmp_path, write_raster):
    image = write_raster(tmp_path / "visual.tif", count=3)  # the item lists 4 bands
    item = _bgrn_item(image, "eo:bands", where="item")
    (scene,) = scan(_collection(tmp_path / "items.json", item)).scenes
    assert scene.rgb_bands is None
