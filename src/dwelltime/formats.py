"""Which files are imagery, by name: the suffixes every stage that looks for images uses.

Raster suffixes are compared in lower case. GDAL (through rasterio) reads them all.
"""

from __future__ import annotations

#: Georeferenced raster formats providers deliver: GeoTIFF/COG, JPEG 2000 (Pléiades, SPOT),
#: NITF (Maxar and defence archives).
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".ntf", ".nitf")
#: Plain pictures: georeferenced only by a sidecar (:data:`GEOREFERENCE_SIDECARS`).
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Every image suffix: what ``detect`` and ``evaluate`` read.
IMAGE_SUFFIXES = RASTER_SUFFIXES + PICTURE_SUFFIXES
#: Sidecars that georeference a picture: GDAL's world files (and ``<name>.aux.xml``).
GEOREFERENCE_SIDECARS = {
    ".png": (".pgw", ".pngw", ".wld"),
    ".jpg": (".jgw", ".jpgw", ".wld"),
    ".jpeg": (".jgw", ".jpegw", ".wld"),
}
#: Stem endings of provider usable-data masks (Planet ``*_udm2.tif``): not scenes.
MASK_SUFFIXES = ("_udm2", "_udm")
