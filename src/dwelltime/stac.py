"""STAC items as an imagery list: one scene per item, its image and mask from the item's assets.

A STAC ItemCollection (a GeoJSON FeatureCollection of items, as ``stac-asset download`` or
pystac write it) or a single Item JSON file can stand in for an imagery folder: each item is one
acquisition. Its image is the first asset, in the item's order, that is a local raster (a
suffix of :mod:`dwelltime.formats`, ``href`` relative to the JSON file or absolute, ``file://``
allowed) and not a thumbnail, overview or usable-data mask, preferring assets whose roles say
``data``, and not a Maxar ARD data mask (``<id>-clouds.tif``…). A usable-data mask asset
(``*_udm2``/``*_udm``), or Maxar ARD cloud polygons (``<id>-cloud-mask.gpkg``), becomes the
scene's mask. The item's
``properties.datetime`` is its acquisition time (:func:`dwelltime.timesources.stac_time`).
Nothing is downloaded: an item whose image is only remote is an error naming the item.
The bands the image asset lists (:func:`item_rgb_bands`) say which are red, green and blue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dwelltime.errors import SceneError
from dwelltime.formats import (
    IMAGE_SUFFIXES,
    MASK_SUFFIXES,
    UDM1_SUFFIXES,
    is_ard_cloud_mask,
    is_ard_layer,
)

#: The colours :func:`item_rgb_bands` looks for, in the order a tile holds them.
RGB = ("red", "green", "blue")

#: Asset roles that are never the scene's image.
NOT_IMAGE_ROLES = frozenset({"thumbnail", "overview", "metadata", "data-mask"})


@dataclass(frozen=True)
class ItemScene:
    """The local files of one STAC item: ``image`` and its usable-data ``mask`` (or None)."""

    item: dict[str, Any]
    image: Path
    mask: Path | None


def is_item_file(path: Path) -> bool:
    """Whether ``path`` names a JSON file (an ItemCollection or Item) rather than a folder."""
    return path.is_file() and path.suffix.lower() in (".json", ".geojson")


def read_items(path: Path) -> list[dict[str, Any]]:
    """The items of an ItemCollection (or the one Item) in ``path``; SceneError otherwise, and
    for a collection with none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(path, f"cannot be read as JSON ({exc})") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        items = data.get("features") or []
    elif isinstance(data, dict) and data.get("type") == "Feature":
        items = [data]
    else:
        raise SceneError(path, "is not a STAC ItemCollection or Item (no GeoJSON 'type')")
    items = [item for item in items if isinstance(item, dict)]
    if not items:
        raise SceneError(path, "is a STAC ItemCollection with no items (an empty search?)")
    return items


def item_scenes(path: Path) -> tuple[list[ItemScene], list[SceneError]]:
    """The image and mask of every item in the JSON file ``path`` (:func:`read_items`, whose
    SceneError for a file that holds no items goes to the caller), and one SceneError per item
    without a local image."""
    found, errors = [], []
    for item in read_items(path):
        try:
            found.append(item_scene(item, path))
        except SceneError as exc:
            errors.append(exc)
    return found, errors


def local_path(href: str, base: Path) -> Path | None:
    """The local file an asset's ``href`` names (relative ones start in ``base``; ``file://``
    allowed), or None for a remote one (``https://``, ``s3://``…)."""
    path = href.removeprefix("file://")
    return None if not path or "://" in path else Path(base) / path


def item_scene(item: dict[str, Any], source: Path) -> ItemScene:
    """The image and mask of ``item`` read from the JSON file ``source`` (relative hrefs start
    beside it); SceneError naming the item when it has no local image."""
    images, masks, remote = [], [], []
    for asset in (item.get("assets") or {}).values():
        href = str((asset or {}).get("href", ""))
        local = local_path(href, Path(source).parent)
        roles = set((asset or {}).get("roles") or [])
        name = PurePosixPath(href)
        if not href or not (name.suffix.lower() in IMAGE_SUFFIXES or is_ard_cloud_mask(name)):
            continue
        if is_ard_cloud_mask(name) or name.stem.lower().endswith(MASK_SUFFIXES):
            masks += [] if local is None else [local]
        elif roles & NOT_IMAGE_ROLES or is_ard_layer(name):
            continue
        elif local is None:
            remote.append(href)
        else:
            images.append((0 if "data" in roles else 1, len(images), local))
    if not images:
        reason = (
            f"its image is only remote ({remote[0]}); download the items first, dwelltime "
            "reads local files only"
            if remote
            else "has no local image asset (GeoTIFF, JPEG 2000, NITF, PNG/JPEG)"
        )
        raise SceneError(f"{source}#{item.get('id', '(no id)')}", reason)
    # a UDM2 before a legacy UDM, which marks no shadow or haze; else the first listed
    masks.sort(key=lambda m: m.stem.lower().endswith(UDM1_SUFFIXES))
    return ItemScene(item, min(images)[2], masks[0] if masks else None)


def item_rgb_bands(
    item: dict[str, Any] | None, image: Path, count: int
) -> tuple[int, int, int] | None:
    """1-based indexes of the red, green and blue bands of ``image`` (``count`` bands) as its
    STAC ``item`` names them, or None where it does not name all three or lists another
    number of bands (they describe another asset).

    The bands are those of the asset whose ``href`` ends in ``image``'s file name: its
    ``bands`` (STAC 1.1) or ``eo:bands`` (EO extension), else the item's
    ``properties.eo:bands``; each named by ``eo:common_name``/``common_name``, else ``name``
    (``raster:bands`` names no colours).
    """
    if not item:
        return None
    bands = None
    for asset in (item.get("assets") or {}).values():
        if PurePosixPath(str((asset or {}).get("href", ""))).name == image.name:
            bands = asset.get("bands") or asset.get("eo:bands")
            break
    bands = bands or (item.get("properties") or {}).get("eo:bands")
    if not isinstance(bands, list) or len(bands) != count:
        return None
    names = [_band_colour(band) for band in bands]
    if not all(colour in names for colour in RGB):
        return None
    red, green, blue = (names.index(colour) + 1 for colour in RGB)
    return red, green, blue


def _band_colour(band: object) -> str:
    """A STAC band's common name (else name), in lower case; "" if it has none."""
    if not isinstance(band, dict):
        return ""
    name = band.get("eo:common_name") or band.get("common_name") or band.get("name") or ""
    return str(name).strip().lower()
