"""Which files are imagery, by name: the suffixes every stage that looks for images uses,
:func:`walk_folders`, how every stage searches a folder for them, and
:func:`mosaic_members`, the files a mosaic of a product's tiles (``.vrt``, ``.til``, an
Airbus DIMAP ``DIM_*.XML``: :func:`is_dimap`) stands for.

Raster suffixes are compared in lower case. GDAL (through rasterio) reads them all.
Also the formats the report figures are written in (:data:`FIGURE_FORMATS`), here so that the
CLI, the batch job's spec and the pipeline check them without loading the plotting stack.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import shlex
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: Georeferenced raster formats providers deliver: GeoTIFF/COG, JPEG 2000 (Pléiades, SPOT),
#: NITF (Maxar and defence archives); and mosaics of the tiles a product is delivered in
#: (R1C1, R1C2…): :data:`MOSAIC_SUFFIXES`.
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".ntf", ".nitf", ".vrt", ".til")
#: Mosaics: GDAL virtual rasters (``gdalbuildvrt``) and Maxar tile lists (``.TIL``, read with
#: the ``.IMD`` beside them).
MOSAIC_SUFFIXES = (".vrt", ".til")
#: Airbus DIMAP v2 products (Pléiades, SPOT 6/7, Pléiades Neo) describe the tiles they are
#: delivered in (``IMG_…_R1C1.JP2``…) in ``DIM_<product>.XML`` (:func:`is_dimap_name`), which
#: GDAL's DIMAP driver opens as one mosaic of them.
DIMAP_PREFIX = "dim_"
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
#: Stem endings of Planet's legacy usable-data masks (``*_udm.tif``, 0 = usable), also as
#: clipped to an order's area (``*_udm_clip.tif``).
UDM1_SUFFIXES = ("_udm", "_udm_clip")
#: Stem endings of provider usable-data masks (Planet ``*_udm2.tif``, band 1 = clear, and
#: :data:`UDM1_SUFFIXES`; ``_clip`` as clipped orders deliver them): not scenes.
MASK_SUFFIXES = ("_udm2", "_udm2_clip", *UDM1_SUFFIXES)
#: Airbus DIMAP cloud masks, ``MASKS/CLD_<product>_MSK.GML`` beside the product's
#: ``DIM_<product>.XML`` and ``IMG_<product>_R1C1…`` tiles: polygons of cloud (compared in
#: lower case).
CLOUD_VECTOR_PREFIX, CLOUD_VECTOR_SUFFIX = "cld_", "_msk.gml"
#: Maxar ARD (analysis-ready data, as Maxar's ordering API and its Open Data program deliver
#: it) names each file of an acquisition ``<acquisition id>-<data descriptor>``, the id 16
#: hexadecimal digits (``10300100B3841C00-visual.tif``): its images are :data:`ARD_IMAGES`,
#: its cloud polygons ``-cloud-mask.gpkg`` (:func:`is_ard_cloud_mask`); its other files
#: (``-clouds.tif``, ``-water.tif``, ``-terrain-shadows.tif``…) are data masks, no images.
ARD_NAME = re.compile(r"(?P<id>[0-9a-f]{16})-(?P<descriptor>[a-z0-9-]+)", re.IGNORECASE)
#: The data descriptors of a Maxar ARD acquisition's images: RGB, panchromatic, multispectral.
ARD_IMAGES = ("visual", "pan", "ms")
#: A user's cloud polygons for one image, ``<image stem>_cloud`` with one of these suffixes
#: (compared in lower case): drawn, or exported from a provider's vector mask.
CLOUD_SIDECAR_STEM, CLOUD_SIDECAR_SUFFIXES = "_cloud", (".geojson", ".gpkg", ".shp", ".gml")
#: Archives providers deliver orders in (compared in lower case): not opened, only named.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z")


def is_archive(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of an archive (:data:`ARCHIVE_SUFFIXES`, any case)."""
    return Path(name).name.lower().endswith(ARCHIVE_SUFFIXES)


def is_packed(path: Path) -> bool:
    """Whether ``path`` is an archive (:func:`is_archive`) not yet unpacked beside it
    (no :func:`unpacked_folder`): one whose images no folder scan finds."""
    return is_archive(path) and not unpacked_folder(path).is_dir()


def unpacked_folder(archive: str | os.PathLike) -> Path:
    """The folder beside ``archive`` (:func:`is_archive`) that :func:`unpack_command` unpacks
    it into: its name less the archive suffix. Where it exists, the archive was unpacked and
    its images are read from there, so the archive is not named as not opened."""
    archive = Path(archive)
    suffix = next(s for s in ARCHIVE_SUFFIXES if archive.name.lower().endswith(s))
    return archive.with_name(archive.name[: -len(suffix)])


def unpack_command(archive: str | os.PathLike) -> str:
    """The shell line, run in its folder, that unpacks ``archive`` (:func:`is_archive`) into
    a folder beside it named after it (:func:`unpacked_folder`): ``unzip order.zip -d order``."""
    quoted = shlex.quote(Path(archive).name)
    folder = shlex.quote(unpacked_folder(archive).name)
    if Path(archive).name.lower().endswith(".zip"):
        return f"unzip {quoted} -d {folder}"
    if Path(archive).name.lower().endswith(".7z"):
        return f"7z x {quoted} -o{folder}"
    return f"mkdir {folder} && tar -xf {quoted} -C {folder}"


def unpack_archive(archive: str | os.PathLike) -> str:
    """Why ``archive``, given or found where images are read, is not used, and what to do:
    the line that unpacks it (:func:`unpack_command`)."""
    return (
        f"is an archive, not opened; unpack it in its folder ({unpack_command(archive)}), "
        "then give that folder or one above it"
    )


#: File formats the report figures are written in (matplotlib's ``savefig``): PNG raster,
#: SVG and PDF vector (their images, such as the scene and chips, embedded as pixels).
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
#: Resolution of the figures' pixels (dots per inch): all of a PNG, the images in SVG and PDF.
FIGURE_DPI = 120


def check_figure_format(figure_format: str) -> None:
    """Raise :class:`~dwelltime.errors.SettingsError` (a ValueError) naming ``figure_format``
    when it is not one of :data:`FIGURE_FORMATS`."""
    from dwelltime.errors import SettingsError  # errors imports this module

    if figure_format not in FIGURE_FORMATS:
        raise SettingsError(
            f"unknown figure format {figure_format!r}; choose from {', '.join(FIGURE_FORMATS)}"
        )


#: The record every dwelltime output folder holds (``run``, ``detect``, ``link``, a batch
#: job's airports): what marks a folder as output, not imagery.
PROVENANCE_NAME = "run.json"


#: Why a path that exists is no input: no folder and no regular file, so opening it (a FIFO
#: without a writer) would wait forever.
NOT_REGULAR_FILE = "not a regular file (a FIFO, socket or device)"


def walk_folders(folder: Path) -> Iterator[tuple[Path, list[str]]]:
    """Each directory under ``folder`` (itself included), top down and sorted, with its file
    names sorted. Links to directories are followed (an imagery folder is often links into an
    archive), each real directory once, so a link loop ends. Hidden entries (name starting
    with ``.``) are left out: macOS ``._name.tif`` resource forks, ``.Trash``, ``.git``; and so
    are dwelltime's output folders below ``folder`` (holding :data:`PROVENANCE_NAME`: a
    ``--out`` put inside the imagery), whose figures are no imagery, each in one log line.
    Links to nothing (the target missing, or a loop of links), files that are no regular file
    (a FIFO, socket or device named like an image, whose reading would wait forever) and
    folders that cannot be listed are left out, each named in one warning."""
    visited: set[str] = set()
    for root, dirs, files in os.walk(folder, onerror=_unlisted_folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirs.clear()
            continue
        visited.add(real)
        if PROVENANCE_NAME in files and real != os.path.realpath(folder):
            log.info("left out %s: dwelltime's output (%s), not imagery", root, PROVENANCE_NAME)
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        visible = sorted(f for f in files if not f.startswith("."))
        yield Path(root), [f for f in visible if not _unreadable_entry(Path(root) / f)]


def _unlisted_folder(e: OSError) -> None:
    """One warning naming a folder under the imagery that cannot be listed (no permission…):
    its images are not scanned."""
    log.warning(
        "left out %s: the folder cannot be listed (%s); its images are not scanned",
        e.filename,
        e.strerror or e,
    )


def _unreadable_entry(path: Path) -> bool:
    """Whether ``path`` is a link to nothing (its target missing, or a loop of links) or no
    regular file (a FIFO, socket or device), which one warning names: no stage can read it,
    resolving a dangling link fails and opening a FIFO waits for a writer forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if not os.path.islink(path):
            return False
        problem = (
            "is a loop of links"
            if e.errno == errno.ELOOP
            else f"links to {os.readlink(path)}, which is missing"
        )
        log.warning("left out %s: it %s; fix or remove the link", path, problem)
        return True
    if stat.S_ISREG(mode):
        return False
    log.warning("left out %s: %s", path, NOT_REGULAR_FILE)
    return True


def distinct_files(paths: Iterable[Path]) -> list[Path]:
    """``paths`` less those that reach a file already among them (a link to it, or the file
    given twice), in order, each named in one warning: read twice, its aircraft would count
    twice. The path reached through no link is the one kept."""
    paths = list(paths)
    real = [os.path.realpath(p) for p in paths]
    through_link = [r != os.path.abspath(p) for p, r in zip(paths, real, strict=True)]
    kept: dict[str, int] = {}
    for i in sorted(range(len(paths)), key=lambda i: through_link[i]):  # stable
        if real[i] in kept:
            log.warning(
                "left out %s: the same file as %s, read once", paths[i], paths[kept[real[i]]]
            )
        else:
            kept[real[i]] = i
    return [paths[i] for i in sorted(kept.values())]


def is_cloud_vector(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of cloud polygons: an Airbus DIMAP cloud mask,
    ``CLD_*_MSK.GML``, a Maxar ARD one (:func:`is_ard_cloud_mask`) or a user's
    :data:`CLOUD_SIDECAR_STEM` file (any case)."""
    return (
        is_airbus_cloud_mask(name)
        or is_ard_cloud_mask(name)
        or (
            Path(name).stem.lower().endswith(CLOUD_SIDECAR_STEM)
            and Path(name).suffix.lower() in CLOUD_SIDECAR_SUFFIXES
        )
    )


def ard_id(name: str | os.PathLike) -> str | None:
    """The acquisition id of a Maxar ARD file (:data:`ARD_NAME`), as its name writes it, None
    where ``name`` is not one: its STAC item is ``<id>.json`` beside it."""
    m = ARD_NAME.fullmatch(Path(name).stem)
    return None if m is None else m["id"]


def is_ard_layer(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of a Maxar ARD file that is none of its acquisition's images
    (:data:`ARD_IMAGES`): a data mask such as ``<id>-clouds.tif`` or ``<id>-water.tif``."""
    m = ARD_NAME.fullmatch(Path(name).stem)
    return m is not None and m["descriptor"].lower() not in ARD_IMAGES


def is_ard_cloud_mask(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of a Maxar ARD cloud mask, ``<id>-cloud-mask.gpkg``: the
    polygons of cloud over its acquisition's images (any case)."""
    m = ARD_NAME.fullmatch(Path(name).stem)
    return (
        m is not None
        and m["descriptor"].lower() == "cloud-mask"
        and Path(name).suffix.lower() == ".gpkg"
    )


def is_provider_mask(name: str | os.PathLike) -> bool:
    """Whether the raster ``name`` is a provider's mask, not an image: a Planet usable-data
    mask (:data:`MASK_SUFFIXES`) or a Maxar ARD data mask (:func:`is_ard_layer`)."""
    return Path(name).stem.lower().endswith(MASK_SUFFIXES) or is_ard_layer(name)


def is_airbus_cloud_mask(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of an Airbus DIMAP cloud mask, ``CLD_*_MSK.GML`` (any case)."""
    name = Path(name).name.lower()
    return name.startswith(CLOUD_VECTOR_PREFIX) and name.endswith(CLOUD_VECTOR_SUFFIX)


def is_dimap_name(name: str | os.PathLike) -> bool:
    """Whether ``name`` is that of an Airbus DIMAP product file, ``DIM_*.XML`` (any case)."""
    name = Path(name).name.lower()
    return name.startswith(DIMAP_PREFIX) and name.endswith(".xml")


def is_dimap(name: str | os.PathLike) -> bool:
    """Whether ``name`` is a DIMAP product file (:func:`is_dimap_name`) that GDAL can open as a
    mosaic of its tiles: an image, where GDAL has its DIMAP driver (else its tiles are read
    one by one)."""
    return is_dimap_name(name) and _has_driver("DIMAP")


@functools.cache
def _has_driver(driver: str) -> bool:
    """Whether GDAL (through rasterio) has the raster ``driver``."""
    import rasterio

    with rasterio.Env() as env:
        return driver in env.drivers()


def mosaic_members(images: Iterable[Path]) -> set[Path]:
    """Resolved paths of the files the mosaics (:data:`MOSAIC_SUFFIXES`, DIMAP products:
    :func:`is_dimap`) among ``images`` are made of: a mosaic stands for its tiles, which are
    then no images of their own (counting both would see each aircraft twice). A mosaic that
    cannot be opened, or lists a file that is missing, names none: its tiles present are
    images of their own."""
    import rasterio
    from rasterio.errors import RasterioError

    members: set[Path] = set()
    for path in images:
        if path.suffix.lower() not in MOSAIC_SUFFIXES and not is_dimap(path):
            continue
        try:
            with rasterio.open(path) as ds:
                files = {Path(f).resolve() for f in ds.files}
        except RasterioError:
            continue
        if not all(f.exists() for f in files):
            continue
        members |= files - {path.resolve()}
    return members
