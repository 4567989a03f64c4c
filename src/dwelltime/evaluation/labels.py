"""Read truth labels (DOTA txt, GeoJSON map footprints, Airbus CSV) and find them for images.

Label discovery, for each image ``D/S.ext`` found under the folder ``F`` given (recursively;
``.tif .tiff .jpg .jpeg .png``; provider masks ``*_udm2``/``*_udm`` skipped), the first file
that exists wins:

1. DOTA txt: ``D/S.txt``, ``D/labels/S.txt``, ``F/labels/S.txt``, ``F/labelTxt/S.txt``,
   ``F/truth/dota/S.txt``, ``F/truth/S.txt``, then the same four under ``F/..``
   (``F/../labelTxt/S.txt``: DOTA keeps ``images/`` and ``labelTxt/`` side by side, and a
   synthetic series ``imagery/`` and ``truth/``);
2. GeoJSON: the same places with ``.geojson`` (``truth/geojson`` instead of ``truth/dota``,
   no ``labelTxt``);
3. an Airbus ``annotations.csv`` in ``F`` or ``F/..`` that lists the image's file name.

An image with none of these is reported and skipped; an empty label file means "no aircraft".
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import functools
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dwelltime.catalog import designator
from dwelltime.errors import LabelError, UnknownTypeError
from dwelltime.evaluation.objects import Objects, make_objects
from dwelltime.footprints import box_corners
from dwelltime.formats import IMAGE_SUFFIXES, is_provider_mask, walk_folders

log = logging.getLogger(__name__)

AIRBUS_CSV = "annotations.csv"
#: relative folders searched for ``S.txt`` / ``S.geojson``, from the image folder and F, F/..
LABEL_DIRS = {
    "dota": ("labels", "labelTxt", "truth/dota", "truth"),
    "geojson": ("labels", "truth/geojson", "truth"),
}
LABEL_SUFFIX = {"dota": ".txt", "geojson": ".geojson"}
#: an Airbus CSV's rows by image file name: (line number, geometry text) of each box
AirbusRows = dict[str, list[tuple[int, str]]]
#: attributes of :class:`Objects` that a footprint's corners give only if its nose edge is known
SHAPE_ATTRIBUTES = ("length_m", "span_m", "heading_deg")
#: property names of a GeoJSON label's aircraft type, in order of preference (any case)
TYPE_PROPERTIES = ("type", "aircraft_type", "class")
#: words a yes/no property (``hidden``, ``difficult``) written as text says yes with
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
#: DOTA v1/v1.5/v2 categories that are not aeroplanes: their lines are not truth
DOTA_OTHER_CLASSES = frozenset(
    {
        "airport",
        "baseball-diamond",
        "basketball-court",
        "bridge",
        "container-crane",
        "ground-track-field",
        "harbor",
        "helicopter",
        "helipad",
        "large-vehicle",
        "roundabout",
        "ship",
        "small-vehicle",
        "soccer-ball-field",
        "storage-tank",
        "swimming-pool",
        "tennis-court",
    }
)
#: values of a DOTA ``gsd:`` header that mean "not known" (DOTA v1 writes ``gsd:null``)
UNKNOWN_GSD = frozenset({"", "null", "none", "nan"})


@dataclass(frozen=True)
class LabelledImage:
    """An image and where its truth is. kind: ``dota`` | ``geojson`` | ``airbus_csv``."""

    image: Path
    labels: Path
    kind: str


@dataclass
class Discovery:
    """What :func:`find_labelled_images` found: labelled images, images without labels, and
    label files in the label folders under ``F`` and ``F/..`` named after no image."""

    images: list[LabelledImage]
    unlabelled: list[Path]
    unused: list[Path]


def find_labelled_images(folder: Path) -> Discovery:
    """Pair every image under ``folder`` with its label file (module docstring gives the rule)."""
    folder = Path(folder)
    listed = {}
    for path in (folder / AIRBUS_CSV, folder.parent / AIRBUS_CSV):
        if path.is_file():
            try:
                listed[path] = airbus_image_names(path)
            except LabelError as exc:
                log.warning("%s; not used as labels", exc)
    csvs = list(listed)
    found, missing, stems = [], [], set()
    for image in _images(folder):
        stems.add(image.stem)
        hit = _label_file(image, folder)
        if hit is None:
            hit = next(
                (LabelledImage(image, p, "airbus_csv") for p in csvs if image.name in listed[p]),
                None,
            )
        if hit is None:
            missing.append(image)
        else:
            found.append(hit)
    return Discovery(found, missing, [p for p in _label_files(folder) if p.stem not in stems])


def _label_files(folder: Path) -> list[Path]:
    """The DOTA and GeoJSON files in the label folders of ``folder`` and ``folder/..``."""
    places = {
        (root / sub, LABEL_SUFFIX[kind])
        for kind, subdirs in LABEL_DIRS.items()
        for root in (folder, folder.parent)
        for sub in subdirs
    }
    return sorted(p for place, suffix in places if place.is_dir() for p in place.glob(f"*{suffix}"))


def _images(folder: Path) -> Iterator[Path]:
    for root, files in walk_folders(folder):
        for name in files:
            p = root / name
            if p.suffix.lower() in IMAGE_SUFFIXES and not is_provider_mask(p.name):
                yield p


def _label_file(image: Path, folder: Path) -> LabelledImage | None:
    for kind, subdirs in LABEL_DIRS.items():
        name = image.stem + LABEL_SUFFIX[kind]
        places = [image.parent, image.parent / "labels"]
        places += [root / sub for root in (folder, folder.parent) for sub in subdirs]
        for place in places:
            if (place / name).is_file():
                return LabelledImage(image, place / name, kind)
    return None


def read_dota(
    path: Path, *, gsd_m: float | None = None, default_gsd_m: float | None = None
) -> tuple[Objects, float]:
    """Objects of a DOTA txt file and its GSD (metres per pixel; NaN if unknown).

    Lines ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` in pixels, corner 1 starting the nose
    edge; header lines ``imagesource:…`` and ``gsd:…`` are allowed (``gsd:null``: unknown).
    Lines of DOTA's other categories (:data:`DOTA_OTHER_CLASSES`: ships, vehicles,
    helicopters, …) are left out.
    ``gsd_m`` (e.g. from the raster) wins over the header, the header over ``default_gsd_m``
    (e.g. ``--gsd``). With a GSD, length, span and heading come from the corners.
    """
    corners, types, difficult = [], [], []
    header_gsd = float("nan")
    try:  # utf-8-sig: editors on Windows start a file with a byte-order mark
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError(
            f"{path}: not a DOTA text file ({exc.reason} at byte {exc.start})"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("imagesource:"):
            continue
        if line.startswith("gsd:"):
            value = line[4:].strip()
            if value.lower() not in UNKNOWN_GSD:
                header_gsd = _number(path, number, value)
            continue
        fields = line.split()
        if len(fields) not in (9, 10):
            raise LabelError(
                f"{path}, line {number}: expected 'x1 y1 … x4 y4 class [difficult]', got {line!r}"
            )
        if fields[8].lower() in DOTA_OTHER_CLASSES:
            continue
        corners.append([_number(path, number, v) for v in fields[:8]])
        types.append(fields[8])
        difficult.append(len(fields) == 10 and fields[9] == "1")
    gsd = next(
        (g for g in (gsd_m, header_gsd, default_gsd_m) if g is not None and math.isfinite(g)),
        math.nan,
    )
    objects = make_objects(
        np.array(corners, dtype=float).reshape(-1, 4, 2),
        types=[truth_type(t) for t in types],
        difficult=difficult,
        gsd_m=gsd if math.isfinite(gsd) else None,
    )
    return objects, gsd


def _number(path: Path, line: int, text: str) -> float:
    """The finite number ``text`` on ``line`` of ``path``; :class:`LabelError` otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise LabelError(f"{path}, line {line}: {text.strip()!r} is not a number")
    return value


def read_geojson(path: Path, *, crs: object, transform: object, gsd_m: float) -> Objects:
    """Objects of a GeoJSON of map footprints, in the pixels of a raster (``crs``, ``transform``).

    Each feature's polygon (reprojected to ``crs``) is kept when it has four corners (the
    first edge the nose edge, as in DOTA), else reduced to its minimum rotated rectangle.
    Properties used when present, in any letter case: the type (the first of
    :data:`TYPE_PROPERTIES`), ``length_m``, ``wingspan_m``, ``heading_deg`` (clockwise from
    north; the raster must be north-up), ``hidden`` or ``difficult`` (read by
    :func:`yes_no`; yes → difficult). Missing sizes and heading come from a four-corner
    polygon; a rectangle fitted around another shape has no nose, so they stay unknown there.
    """
    import geopandas as gpd
    import shapely

    if not Path(path).read_bytes().strip():  # an empty label file: no aircraft, as in DOTA
        return Objects.empty()
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise LabelError(f"{path}: not a readable GeoJSON ({exc})") from None
    if len(frame) == 0:
        return Objects.empty()
    frame = frame.rename(columns=_property_names(frame.columns))
    if frame.crs is not None:
        frame = frame.to_crs(crs)
    inverse = ~transform  # type: ignore[operator]
    corners, fitted = [], []
    for geom in frame.geometry:
        if geom is None or geom.is_empty:
            raise LabelError(f"{path}: a feature has no geometry; give every aircraft a polygon")
        quad = geom.geom_type == "Polygon" and len(geom.exterior.coords) == 5
        footprint = geom if quad else shapely.oriented_envelope(geom)
        if footprint.geom_type != "Polygon":  # a point or a line: no footprint
            raise LabelError(f"{path}: a feature's geometry is not a footprint polygon")
        ring = np.asarray(footprint.exterior.coords)
        with np.errstate(invalid="ignore"):  # off the projection: NaN, reported by the caller
            cols, rows = inverse @ (ring[:4, 0], ring[:4, 1])
        corners.append(np.stack([cols, rows], axis=-1))
        fitted.append(not quad)
    poly = np.array(corners)
    derived = make_objects(poly, gsd_m=gsd_m if math.isfinite(gsd_m) else None)
    derived = dataclasses.replace(
        derived,
        **{k: np.where(fitted, np.nan, getattr(derived, k)) for k in SHAPE_ATTRIBUTES},
    )

    def prop(name: str, fallback: np.ndarray) -> np.ndarray:
        if name not in frame:
            return fallback
        values = frame[name].to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isnan(values), fallback, values)

    flags = [yes_no(frame[c]) for c in ("hidden", "difficult") if c in frame]
    return make_objects(
        poly,
        types=[truth_type(str(t)) for t in frame["type"].fillna("unknown")]
        if "type" in frame
        else None,
        length_m=prop("length_m", derived.length_m),
        span_m=prop("wingspan_m", derived.span_m),
        heading_deg=prop("heading_deg", derived.heading_deg),
        difficult=np.any(flags, axis=0) if flags else None,
    )


@functools.cache
def truth_type(name: str) -> str:
    """A label's type as the detector names it: the catalog's ICAO designator when ``name``
    is one in another spelling (``a320``, ``Il-62`` → ``IL62``), else ``name`` as it is."""
    try:
        return designator(name)
    except UnknownTypeError:
        return name


def yes_no(values: pd.Series) -> np.ndarray:
    """A yes/no property as booleans: true, non-zero numbers and the words of
    :data:`TRUE_WORDS` (any case); missing values, 0, "0", "false", "no" are false."""
    words = values.astype(str).str.strip().str.lower()
    numeric = pd.to_numeric(values, errors="coerce")
    return (words.isin(TRUE_WORDS) | (numeric.fillna(0) != 0)).to_numpy(bool)


def _property_names(columns: object) -> dict[str, str]:
    """Renames of a label frame's ``columns`` to the names :func:`read_geojson` reads: the
    lower-case name, and ``type`` for the first of :data:`TYPE_PROPERTIES` present."""
    lower = {c: c.lower() for c in columns if c != "geometry"}  # type: ignore[attr-defined]
    kind = next((c for name in TYPE_PROPERTIES for c, low in lower.items() if low == name), None)
    renames = {c: low for c, low in lower.items() if low not in TYPE_PROPERTIES}
    return renames | ({kind: "type"} if kind is not None else {})


def airbus_image_names(path: Path) -> set[str]:
    """The image file names an Airbus ``annotations.csv`` labels; :class:`LabelError` when
    it is not one (no ``image_id`` column, or not text)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if "image_id" not in (reader.fieldnames or ()):
                raise LabelError(f"{path}: no column 'image_id'; is it an Airbus CSV?")
            return {row["image_id"] for row in reader}
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not a CSV text file ({exc.reason})") from None


def read_airbus_csv(path: Path) -> dict[str, Objects]:
    """Axis-aligned boxes of an Airbus ``annotations.csv``, keyed by image file name.

    Columns ``id,image_id,geometry,class``; geometry is a closed ring of pixel points
    ``"[(x, y), …]"``. ``Airplane`` and ``Truncated_airplane`` both count (type unknown).
    :class:`LabelError` names the first unreadable line.
    """
    return {name: airbus_boxes(path, name, rows) for name, rows in airbus_rows(path).items()}


def airbus_rows(path: Path) -> AirbusRows:
    """(line number, geometry text) of each box of an Airbus ``annotations.csv``, keyed by
    image file name, unparsed, so that a bad line spoils only its image (:func:`airbus_boxes`);
    :class:`LabelError` when the file is not such a CSV."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # as airbus_image_names reads it
        reader = csv.DictReader(f)
        try:
            fields = reader.fieldnames
            rows = list(reader)
        except UnicodeDecodeError as exc:
            raise LabelError(f"{path}: not a CSV text file ({exc.reason})") from None
    missing = {"image_id", "geometry"} - set(fields or ())
    if missing:
        raise LabelError(f"{path}: no column {sorted(missing)[0]!r}; is it an Airbus CSV?")
    found: AirbusRows = {}
    for number, row in enumerate(rows, start=2):
        found.setdefault(row["image_id"], []).append((number, row["geometry"]))
    return found


def airbus_boxes(path: Path, name: str, rows: list[tuple[int, str]]) -> Objects:
    """The boxes (pixels) of image ``name`` from its :func:`airbus_rows` of the CSV ``path``;
    :class:`LabelError` naming the first line whose geometry is not a ring of points."""
    boxes = []
    for number, text in rows:
        try:
            points = np.array(ast.literal_eval(text), dtype=float)
        except (ValueError, SyntaxError):
            raise LabelError(f"{path}, line {number}: unreadable geometry of {name}") from None
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise LabelError(
                f"{path}, line {number}: geometry of {name} is not a ring of (x, y) points"
            )
        boxes.append(box_corners([*points.min(axis=0), *points.max(axis=0)])[0])
    return make_objects(np.array(boxes))
