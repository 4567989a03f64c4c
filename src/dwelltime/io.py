"""Write and read the result layers (scenes, coverage, detections, stays…) in open formats.

``write_layers`` writes, in one output folder:

* ``dwelltime.gpkg`` — one GeoPackage with a layer per frame, in the frame's CRS (an empty
  layer declares its geometry type all the same: :data:`~dwelltime.schema.LAYER_GEOMETRY_TYPES`),
  each described (:data:`~dwelltime.schema.LAYER_DESCRIPTIONS`: QGIS shows it as the abstract);
* ``<layer>.csv`` — geometry as WKT in the frame's CRS (to the centimetre, 1e-7 degree in
  lon/lat), times ISO 8601 UTC with ``Z``, UTF-8
  with a byte order mark (:data:`CSV_ENCODING`), so that Excel shows non-ASCII names (a
  Cyrillic scene id) as written; pandas, GDAL/QGIS and R's readr skip the mark;
* ``<layer>.geojson`` (on request) — RFC 7946, so reprojected to EPSG:4326; a layer with
  ``x``/``y`` gains ``xy_crs`` naming their CRS (:func:`with_xy_crs`), as they stay in it; a
  layer with no CRS (image pixels) cannot be put in lon/lat and is left out, with a warning;
* ``<layer>.parquet`` (on request) — GeoParquet through ``GeoDataFrame.to_parquet``;
* ``<layer>.schema.json`` beside CSV/GeoJSON — column dtypes and CRS, so that
  :func:`read_layer` gives back exactly the frame that was written (even an empty one). The
  GeoPackage keeps the same schema in its layer metadata (``DWELLTIME_SCHEMA``);
* ``run.json`` (:func:`write_provenance`) — what produced the layers: dwelltime's version, the
  detector's weights file, sha256 and precision, the tiling and linking settings and the
  inputs (airport, imagery, and the aprons, times and flights files with their sha256:
  :func:`file_record`).

Existing files are never replaced, nor files of the same layers in other formats left
beside new ones, unless ``overwrite=True``; with it, the files dwelltime
writes for the same layers in the other formats are removed (:func:`stale_paths`), so a folder
never holds tables of two runs, and an existing GeoPackage keeps the layers not written now
(with a warning naming them). Every file is written under a
temporary name in the same folder and renamed when complete, so a killed run leaves no half file.
Every format writes a text without value (``""``: an open end's ``start_bounded_by``, no
``mask_path``) as NULL (CSV: an empty cell), which :func:`read_layer` gives back as ``""`` (from
every format, with or without the schema beside it; a reader of its own, ``gpd.read_file``,
``pd.read_csv``, gives None or NaN there), and
the floats of :data:`~dwelltime.schema.COLUMN_DECIMALS` rounded to their unit's precision
(:func:`_for_file`). Limits of the formats: GeoPackage and GeoJSON keep times to the millisecond.
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import pandas as pd
import shapely

from dwelltime.errors import (
    OutputExistsError,
    OutputFolderError,
    ResultError,
    ResultNotFoundError,
    SettingsError,
)
from dwelltime.formats import PROVENANCE_NAME
from dwelltime.schema import (
    COLUMN_DECIMALS,
    LAYER_DESCRIPTIONS,
    LAYER_GEOMETRY_TYPES,
    TIME_COLUMNS,
    WKT_DECIMALS_GEOGRAPHIC,
    WKT_DECIMALS_PROJECTED,
    XY_CRS_COLUMN,
)

GPKG_NAME = "dwelltime.gpkg"
FORMATS: tuple[str, ...] = ("gpkg", "csv", "geojson", "parquet")
_SCHEMA_KEY = "DWELLTIME_SCHEMA"
#: Encoding of the CSV tables: UTF-8 with a byte order mark, without which Excel reads UTF-8
#: as the Windows code page (``Внуково`` as ``Ð’Ð½ÑƒÐºÐ¾Ð²Ð¾``).
CSV_ENCODING = "utf-8-sig"
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_T = TypeVar("_T")
log = logging.getLogger(__name__)


def check_formats(formats: Sequence[str]) -> None:
    """Raise :class:`~dwelltime.errors.SettingsError` (a ValueError) naming the formats of
    ``formats`` that are not in :data:`FORMATS`, or
    saying that one name alone (``"csv"``, read as "c", "s", "v") or no sequence (None) is
    no sequence of them."""
    if isinstance(formats, str):
        raise SettingsError(
            f"formats must be a sequence of names such as ({formats!r},), not a string"
        )
    if not isinstance(formats, Collection):
        raise SettingsError(
            f"formats must be a sequence of names such as ('gpkg',), not {formats!r}"
        )
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise SettingsError(f"unknown output formats {unknown}; choose from {list(FORMATS)}")


def output_paths(
    out_dir: Path, layers: Sequence[str], formats: Sequence[str], *, unmapped: Sequence[str] = ()
) -> list[Path]:
    """The files :func:`write_layers` would write for these layer names and formats; the
    layers named in ``unmapped`` (no CRS) get no GeoJSON."""
    check_formats(formats)
    for name in layers:
        if not _LAYER_NAME.match(name):
            raise ValueError(f"layer name {name!r} must be letters, digits and underscores")
    out_dir = Path(out_dir)
    paths = [out_dir / GPKG_NAME] if "gpkg" in formats and layers else []
    for name in layers:
        own = _layer_formats(formats, mapped=name not in unmapped)
        paths += [out_dir / f"{name}.{fmt}" for fmt in FORMATS[1:] if fmt in own]
        if "csv" in own or "geojson" in own:
            paths.append(out_dir / f"{name}.schema.json")
    return paths


def _layer_formats(formats: Sequence[str], *, mapped: bool) -> tuple[str, ...]:
    """``formats`` less GeoJSON (lon/lat only) for a layer that is not ``mapped`` (no CRS);
    CSV in its place when GeoJSON was the only one, so that the layer is written."""
    own = tuple(f for f in formats if mapped or f != "geojson")
    return own or ("csv",)


def write_layers(
    out_dir: Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    formats: Sequence[str] = ("gpkg", "csv"),
    overwrite: bool = False,
    exclusive: bool = False,
) -> list[Path]:
    """Write each frame of ``layers`` (name → GeoDataFrame) in ``formats``; return the paths.

    A layer with no CRS (image pixels) is written in no GeoJSON, which is lon/lat (as CSV
    when GeoJSON is the only format); a warning names it. Raises :class:`OutputExistsError`
    naming the first existing file (nothing is written then), of these or of ``layers`` in
    other formats (:func:`held_paths`: an earlier run's ``dwelltime.gpkg`` beside a new
    ``--format csv``), unless ``overwrite``; with
    ``overwrite`` the GeoPackage's layers of these names are replaced (its other layers are
    kept, with a warning naming them) and the :func:`stale_paths` are removed once the new
    files are written (one log line each). ``exclusive``: ``layers`` are the whole output
    (a run's), so with ``overwrite`` an earlier output's other layers (:func:`other_layers`)
    are dropped from the GeoPackage and their files removed, one log line each.
    """
    out_dir = user_path(out_dir)
    layers = {name: _for_file(frame) for name, frame in layers.items()}
    unmapped = [name for name, frame in layers.items() if frame.crs is None]
    paths = output_paths(out_dir, list(layers), formats, unmapped=unmapped)
    ensure_writable([*paths, *held_paths(out_dir, list(layers))], overwrite=overwrite)
    others = other_layers(out_dir, list(layers)) if overwrite and exclusive else []
    out_dir.mkdir(parents=True, exist_ok=True)
    if "gpkg" in formats and layers:
        with atomic_write(out_dir / GPKG_NAME) as tmp:
            if not exclusive:
                _keep_other_layers(out_dir / GPKG_NAME, tmp, list(layers))
            for name, frame in layers.items():
                with warnings.catch_warnings():  # a pixel-frame layer has no CRS on purpose
                    warnings.filterwarnings("ignore", message="'crs' was not provided")
                    frame.to_file(
                        tmp,
                        layer=name,
                        driver="GPKG",
                        layer_metadata={_SCHEMA_KEY: json.dumps(_schema(frame))},
                        # declared where no row shows it: an empty layer of GDAL's "Unknown" type
                        geometry_type=LAYER_GEOMETRY_TYPES.get(name) if frame.empty else None,
                        layer_options={"DESCRIPTION": LAYER_DESCRIPTIONS.get(name, "")},
                    )
    for name, frame in layers.items():
        own = _layer_formats(formats, mapped=name not in unmapped)
        if "geojson" in formats and name in unmapped:
            log.warning(
                "layer %r has no CRS (image pixels): not written as GeoJSON, which is lon/lat; %s",
                name,
                f"written as {', '.join(own)}",
            )
        if "csv" in own:
            write_csv(_to_text(frame), out_dir / f"{name}.csv")
        if "geojson" in own:
            with atomic_write(out_dir / f"{name}.geojson") as tmp:
                # the layer's name, not the temporary file's stem
                lon_lat = with_xy_crs(frame).to_crs("EPSG:4326")
                lon_lat.to_file(tmp, layer=name, driver="GeoJSON", RFC7946="YES")
        if "parquet" in own:
            with atomic_write(out_dir / f"{name}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
        if "csv" in own or "geojson" in own:
            with atomic_write(out_dir / f"{name}.schema.json") as tmp:
                tmp.write_text(json.dumps(_schema(frame), indent=1) + "\n", encoding="utf-8")
    if overwrite:
        for path in stale_paths(out_dir, list(layers), formats, exclusive=exclusive):
            path.unlink()
            log.info("removed %s: an earlier run's, in a format not written now", path)
    for path in output_paths(out_dir, others, FORMATS):
        if path.exists() and path not in paths:
            path.unlink()
            log.info("removed %s: an earlier output's, of a layer not written now", path)
    if others and out_dir / GPKG_NAME in paths:
        log.info("%s: dropped its earlier layer(s) %s", out_dir / GPKG_NAME, ", ".join(others))
    return paths


def held_paths(out_dir: Path, layers: Sequence[str]) -> list[Path]:
    """The files of ``layers`` that ``out_dir`` holds in any format (its GeoPackage where that
    holds one of them): an earlier output's tables, which new ones written beside them in
    another format would disagree with, so :func:`write_layers` refuses them as it refuses
    the files it would replace."""
    gpkg = Path(out_dir) / GPKG_NAME
    return [
        path
        for path in output_paths(out_dir, layers, FORMATS)
        if path.exists() and (path != gpkg or _holds_any(gpkg, layers))
    ]


def _holds_any(gpkg: Path, layers: Sequence[str]) -> bool:
    """Whether the GeoPackage ``gpkg`` holds one of ``layers``; True where it cannot be read
    (a file that is no GeoPackage is not written beside unasked)."""
    try:
        return bool(set(layer_names(gpkg)) & set(layers))
    except RuntimeError:  # pyogrio's DataSourceError
        return True


def other_layers(out_dir: Path, layers: Sequence[str]) -> list[str]:
    """The layers an earlier output left in ``out_dir`` besides ``layers``: those of its
    GeoPackage and those with a ``<layer>.schema.json`` (its CSV/GeoJSON), sorted."""
    out_dir = Path(out_dir)
    gpkg = out_dir / GPKG_NAME
    held = set(layer_names(gpkg)) if gpkg.exists() else set()
    held |= {f.name.removesuffix(".schema.json") for f in out_dir.glob("*.schema.json")}
    return sorted(n for n in held - set(layers) if _LAYER_NAME.match(n))


def _keep_other_layers(gpkg: Path, tmp: Path, layers: Sequence[str]) -> None:
    """Start ``tmp`` as a copy of the existing ``gpkg`` when that holds layers other than
    ``layers`` (a run's detections beside the scenes ``scan`` rewrites), so that writing
    ``layers`` over it loses none of them; a warning names the layers kept."""
    if not gpkg.exists():
        return
    others = sorted(set(layer_names(gpkg)) - set(layers))
    if others:
        shutil.copyfile(gpkg, tmp)
        log.warning("%s: kept its %s layer(s), from an earlier run", gpkg, ", ".join(others))


def stale_paths(
    out_dir: Path, layers: Sequence[str], formats: Sequence[str], *, exclusive: bool = False
) -> list[Path]:
    """The existing files :func:`write_layers` writes for ``layers`` in formats other than
    ``formats`` (``stays.geojson`` when only gpkg and csv are written; ``dwelltime.gpkg``
    when gpkg is not): an earlier run's tables, that would disagree with the new ones. A
    GeoPackage that also holds other layers (a run's detections beside the scenes that
    ``scan`` rewrites) is not one of them unless ``exclusive`` (``layers`` are the whole
    output): it is kept, and a warning says which of its layers are now older than the files
    beside it."""
    kept = set(output_paths(out_dir, layers, formats))
    every = output_paths(out_dir, layers, FORMATS)
    stale = [path for path in every if path not in kept and path.exists()]
    gpkg = Path(out_dir) / GPKG_NAME
    held = set(layer_names(gpkg)) if gpkg in stale and not exclusive else set()
    if not held <= set(layers):
        stale.remove(gpkg)
        older = sorted(held & set(layers))
        log.warning(
            "%s: kept (it holds other layers too); its %s layer(s) are from an earlier run",
            gpkg,
            ", ".join(older),
        )
    return stale


def with_xy_crs(frame: gpd.GeoDataFrame, crs: str | None = None) -> gpd.GeoDataFrame:
    """``frame`` with :data:`~dwelltime.schema.XY_CRS_COLUMN` right after ``y``: the CRS its
    ``x``/``y`` columns are in (its own, or ``crs`` where its geometry was reprojected since,
    as a GeoJSON layer read back in lon/lat), before its geometry is reprojected or airports
    are combined. A frame without ``y`` or a CRS, or that has the column, comes back as it is."""
    xy_crs = crs or (frame.crs.to_string() if frame.crs is not None else None)
    if "y" not in frame.columns or XY_CRS_COLUMN in frame.columns or xy_crs is None:
        return frame
    out = frame.copy()
    out.insert(out.columns.get_loc("y") + 1, XY_CRS_COLUMN, xy_crs)
    return out


def write_provenance(out_dir: Path, record: Mapping[str, object]) -> Path:
    """Write ``record``, what produced the layers beside it (weights, settings; see
    :func:`dwelltime.pipeline.provenance`), as :data:`PROVENANCE_NAME` in ``out_dir`` with
    sorted keys (the same record gives the same bytes); return its path."""
    path = Path(out_dir) / PROVENANCE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: The files a shapefile (``.shp``, geometry) is read with: its index, attributes (the apron
#: ids), CRS and encoding; any case of suffix.
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")


def file_record(value: object) -> dict[str, object] | None:
    """An input file as ``run.json`` records it: its absolute path (resolved) and the sha256
    of its bytes, so a quoted dwell can be traced to the exact file; a shapefile also the
    sha256 of each of its :data:`SHAPEFILE_PARTS` there, by name (``parts``), as its ids and
    CRS are in them. None when ``value`` is not a path (not given, or given as contents
    through the API)."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    path = user_path(value).resolve()
    record: dict[str, object] = {"path": str(path), "sha256": sha256_file(path)}
    if path.suffix.lower() == ".shp":
        beside = path.parent.glob(f"{glob.escape(path.stem)}.*")
        parts = [p for p in beside if p.stem == path.stem and p.suffix.lower() in SHAPEFILE_PARTS]
        record["parts"] = {p.name: sha256_file(p) for p in sorted(parts)}
    return record


def read_provenance(folder: Path) -> dict[str, object]:
    """The record :func:`write_provenance` left in ``folder``; empty when there is none or it
    cannot be read."""
    try:
        record = json.loads((Path(folder) / PROVENANCE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def read_layer(
    path: Path, layer: str | None = None, *, as_written: bool = False
) -> gpd.GeoDataFrame:
    """Read one layer back with the dtypes it was written with (times as UTC timestamps).

    ``path``: a ``dwelltime.gpkg`` (or the folder holding it) with ``layer``, or one
    ``.csv`` / ``.geojson`` / ``.parquet`` file written by :func:`write_layers` (``layer`` is
    then ignored); a folder written without GeoPackage (``--format csv``) gives the layer's
    own file there (Parquet, CSV, else GeoJSON). GeoJSON comes back in EPSG:4326, or with
    ``as_written`` in the CRS it was written from (its schema's: the airport's UTM metres,
    which linking needs; in lon/lat a layer with ``x``/``y`` keeps ``xy_crs`` naming theirs);
    everything else in the CRS written. A CSV whose
    ``<layer>.schema.json`` is not beside it comes back with guessed types and no CRS, with a
    warning (:func:`_guessed_csv`).
    """
    path = user_path(path)
    if path.is_dir():
        path = _layer_file(path, layer)
    if not path.exists():
        raise ResultNotFoundError(f"{path}: no such file; write it with write_layers() first")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _text_back(gpd.read_parquet(path))
    if suffix == ".csv":
        schema = _read_schema(path)
        if schema is None:
            return _guessed_csv(path)
        text = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=CSV_ENCODING)
        return _restore(_from_text(text, schema), schema)
    if suffix in (".geojson", ".json"):
        schema = _read_schema(path)
        written = schema.get("crs") if schema is not None else None
        if schema is not None:
            schema = {**schema, "crs": "EPSG:4326"}
        frame = _restore(gpd.read_file(path), schema)
        if as_written and written:
            return frame.to_crs(written)
        return with_xy_crs(frame, written) if written else frame  # x/y still in metres
    if layer is None:
        raise ResultError(f"{path}: say which layer to read, e.g. layer='stays'")
    import pyogrio

    names = layer_names(path)
    if layer not in names:
        raise ResultError(f"{path} has no layer {layer!r}; it has {names}")
    meta = pyogrio.read_info(path, layer=layer).get("layer_metadata") or {}
    schema = json.loads(meta[_SCHEMA_KEY]) if _SCHEMA_KEY in meta else None
    return _restore(gpd.read_file(path, layer=layer), schema)


def layer_names(path: Path) -> list[str]:
    """The layers of a GeoPackage (``path`` or the ``dwelltime.gpkg`` in folder ``path``); of
    a folder without one, the layers that have a file of their own there (``stays.csv``…)."""
    import pyogrio

    path = user_path(path)
    if path.is_dir() and not (path / GPKG_NAME).exists():
        return sorted({f.name.split(".")[0] for fmt in FORMATS[1:] for f in path.glob(f"*.{fmt}")})
    return [str(n) for n in pyogrio.list_layers(path / GPKG_NAME if path.is_dir() else path)[:, 0]]


def _layer_file(folder: Path, layer: str | None) -> Path:
    """The file of ``layer`` in an output folder: its GeoPackage, or where the folder has
    none, the layer's Parquet, CSV or (lon/lat) GeoJSON file, the first there is;
    FileNotFoundError naming what was looked for when there is neither."""
    gpkg = folder / GPKG_NAME
    if gpkg.exists() or layer is None:
        return gpkg
    own = [folder / f"{layer}.{fmt}" for fmt in ("parquet", "csv", "geojson")]
    found = [f for f in own if f.exists()]
    if not found:
        raise ResultNotFoundError(
            f"{folder}: no {GPKG_NAME}, nor {layer}.parquet, .csv or .geojson: "
            "not a folder dwelltime wrote"
        )
    return found[0]


def ensure_writable(paths: Sequence[Path], *, overwrite: bool = False) -> None:
    """Raise :class:`OutputFolderError` naming a folder of ``paths`` that cannot be made or
    written to, and :class:`OutputExistsError` naming the first of ``paths`` that exists,
    unless ``overwrite``: checks to make before the work, not after it (nothing is made)."""
    for folder in dict.fromkeys(Path(path).parent for path in paths):
        _check_folder(folder)
    if overwrite:
        return
    for path in paths:
        if Path(path).exists():
            raise OutputExistsError(path)


def _check_folder(folder: Path) -> None:
    """Raise :class:`OutputFolderError` unless ``folder``, or the nearest of its parents that
    exists (the rest is made when writing), is a folder this process can write in."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(0, f"{existing} is a file")
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise OutputFolderError(f"{folder}: cannot write output there ({problem})") from exc


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` (its columns as they are, no index) to ``path`` as every CSV dwelltime
    writes is: UTF-8 with a byte order mark (:data:`CSV_ENCODING`), under a temporary name
    renamed when complete (:func:`atomic_write`)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        frame.to_csv(tmp, index=False, encoding=CSV_ENCODING)
    return path


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) to write to; it is renamed to
    ``path`` when the block ends without error and removed otherwise, so no half file stays.
    An OSError (``path`` open in another program on Windows, a full disk) is raised as
    :class:`OutputFolderError` naming ``path`` and the problem."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise OutputFolderError(f"{path}: cannot write it ({problem})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def missing_crs(crs: object) -> bool:
    """Whether a file read with GDAL has no CRS: ``crs`` None, or GDAL's stand-in for none (a
    GeoPackage layer of ``srs_id`` 0, how GDAL 3.7 writes a layer without CRS, reads as
    "Undefined geographic SRS", which would take metres for degrees)."""
    return crs is None or str(getattr(crs, "name", "")).lower().startswith("undefined ")


def user_path(value: str | os.PathLike) -> Path:
    """A path the user gave the API, as a :class:`~pathlib.Path` with a leading ``~`` read as
    the home folder (as the shell and pandas read it; the CLI's ``UserPath`` does the same)."""
    return Path(value).expanduser()


def read_if_path(value: _T | str | os.PathLike | None, reader: Callable[[Path], _T]) -> _T | None:
    """``value`` read by ``reader`` when it is a path (str or os.PathLike; :func:`user_path`),
    else ``value`` itself: what lets an API argument (``flights=``, ``times=``) take a file or
    its contents, read as the CLI reads it."""
    return reader(user_path(value)) if isinstance(value, (str, os.PathLike)) else value


def user_csv(path: Path | str) -> tuple[io.StringIO, str]:
    """A user's CSV (a flight log, a times file) as text for :mod:`csv` to read, and its
    separator (:func:`csv_separator` of the first line). Decoded as UTF-16 where it begins
    with UTF-16's byte order mark (Excel's "Unicode Text", tab-separated), else as UTF-8 (a
    BOM dropped), else as Windows-1252, as Excel's "CSV (Comma delimited)" saves it on
    Windows. OSError or UnicodeDecodeError when it cannot be read."""
    data = user_path(path).read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252")
    return io.StringIO(text, newline=""), csv_separator(text.partition("\n")[0])


def csv_separator(header: str) -> str:
    """The separator of a user's CSV (a flight log, a times file), from its header line: the
    most frequent of ``,``, ``;`` (what Excel writes where ``,`` is the decimal mark) and tab;
    ``,`` when none is there."""
    return max(",;\t", key=header.count)


def _for_file(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` as every format writes it: the float columns of
    :data:`~dwelltime.schema.COLUMN_DECIMALS` rounded to their decimals, and an empty text
    (``""``, no value: an open end's ``start_bounded_by``, no ``mask_path``) as missing, which
    GeoPackage, GeoJSON and Parquet write as NULL and CSV as an empty cell. :func:`read_layer`
    gives the text back as ``""``, as the stages make it."""
    out = frame.copy()
    for column in out.columns.drop(frame.geometry.name):
        values = out[column]
        if column in COLUMN_DECIMALS and values.dtype.kind == "f":
            out[column] = values.round(COLUMN_DECIMALS[column])
        elif pd.api.types.is_string_dtype(values.dtype):  # str, object
            out[column] = values.where(values != "", None)
    return out


def _text_back(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` read from a file with its missing texts as ``""`` again (:func:`_for_file`)."""
    for column in frame.columns.drop(frame.geometry.name):
        if pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].fillna("")
    return frame


def _schema(frame: gpd.GeoDataFrame) -> dict[str, object]:
    crs = frame.crs.to_string() if frame.crs is not None else None
    return {
        "columns": {str(c): str(frame[c].dtype) for c in frame.columns},
        "geometry": frame.geometry.name,
        "crs": crs,
    }


def _read_schema(path: Path) -> dict[str, object] | None:
    sidecar = path.with_name(f"{path.stem}.schema.json")
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else None


def _guessed_csv(path: Path) -> gpd.GeoDataFrame:
    """A layer's CSV without the ``<layer>.schema.json`` written beside it (copied alone):
    numbers and booleans as pandas guesses them, the contract's times
    (:data:`~dwelltime.schema.TIME_COLUMNS`) as UTC timestamps, the WKT geometry, no CRS; a
    warning says so. ValueError for a CSV without ``geometry``: no layer."""
    text = pd.read_csv(path, encoding=CSV_ENCODING)
    if "geometry" not in text.columns:
        raise ResultError(f"{path}: no geometry column (WKT): not a layer dwelltime wrote")
    log.warning(
        "%s: no %s.schema.json beside it: column types guessed and no CRS (set it with "
        "GeoDataFrame.set_crs: the layer's CRS, EPSG:4326 for scenes)",
        path,
        path.stem,
    )
    frame = _from_text(text, None)
    for column in TIME_COLUMNS & set(frame.columns):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return _text_back(frame)


def _iso_utc(times: pd.Series) -> pd.Series:
    """ISO 8601 text with ``Z``, in one format for the whole column (as ``pandas.read_csv``'s
    ``parse_dates`` and ``pandas.to_datetime`` infer it from the first time): microseconds
    where any time has a fraction of a second, else whole seconds."""
    utc = times.dt.tz_convert("UTC")
    fraction = bool((utc.dropna().dt.microsecond != 0).any())
    return utc.dt.strftime(f"%Y-%m-%dT%H:%M:%S{'.%f' * fraction}Z").fillna("")


def _to_text(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The frame as CSV-ready text: WKT geometry (coordinates to the centimetre, or 1e-7
    degree in lon/lat: :data:`~dwelltime.schema.WKT_DECIMALS_PROJECTED`), ISO 8601 UTC times."""
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = _iso_utc(out[column])
    geographic = frame.crs is not None and frame.crs.is_geographic
    decimals = WKT_DECIMALS_GEOGRAPHIC if geographic else WKT_DECIMALS_PROJECTED
    out[frame.geometry.name] = shapely.to_wkt(
        frame.geometry.to_numpy(), rounding_precision=decimals, trim=True
    )
    return out


def _from_text(text: pd.DataFrame, schema: dict[str, object] | None) -> gpd.GeoDataFrame:
    """A CSV's text as a GeoDataFrame: its WKT column parsed, an empty cell as no geometry."""
    name = str(schema["geometry"]) if schema else "geometry"
    wkt = text.pop(name) if name in text.columns else pd.Series([], dtype=str)
    geometry = shapely.from_wkt(wkt.replace("", None).to_numpy(dtype=object, na_value=None))
    frame = gpd.GeoDataFrame(text, geometry=gpd.GeoSeries(geometry, index=text.index))
    return frame.rename_geometry(name) if name != "geometry" else frame


def _restore(frame: gpd.GeoDataFrame, schema: dict[str, object] | None) -> gpd.GeoDataFrame:
    """Give the columns their written order and dtypes; without a schema, parse times only.
    Missing texts come back as ``""`` either way (:func:`_text_back`)."""
    if schema is None:
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype) or (
                frame[column].dtype.kind == "M"
            ):
                frame[column] = pd.to_datetime(frame[column], utc=True)
        return _text_back(frame)
    columns: dict[str, str] = schema["columns"]  # type: ignore[assignment]
    geometry_name = str(schema["geometry"])
    if frame.geometry.name != geometry_name:
        frame = frame.rename_geometry(geometry_name)
    data = {}
    for column, dtype in columns.items():
        if column == geometry_name:
            continue
        values = frame[column] if column in frame.columns else pd.Series(index=frame.index)
        data[column] = _cast(values, dtype)
    crs = schema.get("crs")
    out = gpd.GeoDataFrame(data, geometry=frame.geometry.to_numpy(), index=frame.index, crs=crs)
    out = out.rename_geometry(geometry_name) if geometry_name != "geometry" else out
    return _text_back(out[list(columns)].reset_index(drop=True))


def _cast(values: pd.Series, dtype: str) -> pd.Series:
    """One column back to ``dtype`` (a pandas dtype string) from GDAL's or CSV's version."""
    target = pd.api.types.pandas_dtype(dtype)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        if target.kind in "iufbM" or isinstance(target, pd.DatetimeTZDtype):
            values = values.replace("", None)
        if target.kind == "b":
            values = values.map({"True": True, "False": False, True: True, False: False})
    if isinstance(target, pd.DatetimeTZDtype):
        return pd.to_datetime(values, utc=True, format="ISO8601").astype(target)
    if target.kind == "M":
        return pd.to_datetime(values, format="ISO8601").astype(target)
    return values.astype(target)
