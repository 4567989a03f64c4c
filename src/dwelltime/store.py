"""Per-scene results committed atomically, so a killed batch job resumes where it stopped.

Also what makes ``dwelltime run --out DIR`` resumable (``DIR/parts/``, removed once the result
is written: :func:`dwelltime.pipeline.run`'s ``resume_dir``), and ``dwelltime detect --out DIR``
(each image's detections alone, stamped by :func:`image_stamp`). Layout under
``<output>/<airport>/parts/``: ``<scene_id>.coverage.parquet`` and
``<scene_id>.detections.parquet`` (each written to a temporary name, then renamed), then the
commit marker ``<scene_id>.done``, which holds the commit's stamp (what made the results: the
image file and the detection settings, so that a resumed job can tell results made from another
image or by other settings). A scene without its marker is not finished and is done again;
``<scene_id>.failed.json`` records a scene that raised, with its error. In the names, the id's
``%`` and ``/`` are quoted (``day1%2Fx``: the id of images of one name in two folders,
:func:`dwelltime.scenes.scene_ids`).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import shapely

from dwelltime.io import atomic_write
from dwelltime.schema import (
    COLUMN_DTYPES,
    COVERAGE_COLUMNS,
    DETECTION_COLUMNS,
    UTC_TIMESTAMP,
    empty_frame,
)

if TYPE_CHECKING:
    import pyproj

    from dwelltime.detector import Detector
    from dwelltime.scenes import Scene


#: The store's folder under an output folder.
PARTS_NAME = "parts"


class SceneStore:
    """Finished, failed and pending scenes of one airport's batch output."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / PARTS_NAME
        self.folder.mkdir(parents=True, exist_ok=True)

    def done(self) -> set[str]:
        """Scene ids whose results are committed (their markers' names; :meth:`stamps` reads
        what the markers hold)."""
        return {_scene_id(p.name, ".done") for p in _visible(self.folder.glob("*.done"))}

    def stamps(self) -> dict[str, str]:
        """Scene id → the stamp its results were committed with ("" from before stamps)."""
        markers = _visible(self.folder.glob("*.done"))
        return {_scene_id(p.name, ".done"): p.read_text() for p in markers}

    def failed(self) -> dict[str, str]:
        """Scene id → recorded error, for scenes that failed and were not redone since."""
        out = {}
        for p in sorted(_visible(self.folder.glob("*.failed.json"))):
            out[_scene_id(p.name, ".failed.json")] = json.loads(p.read_text())["error"]
        return out

    def commit(
        self,
        scene_id: str,
        coverage: gpd.GeoDataFrame | None,
        detections: gpd.GeoDataFrame,
        stamp: str = "",
    ) -> None:
        """Write one scene's results (``coverage`` None: its detections alone, as ``dwelltime
        detect`` has them); the ``.done`` marker, holding ``stamp``, is renamed into place
        last."""
        for name, frame in (("coverage", coverage), ("detections", detections)):
            if frame is None:
                continue
            with atomic_write(self._path(scene_id, f".{name}.parquet")) as tmp:
                frame.to_parquet(tmp)
        self._path(scene_id, ".failed.json").unlink(missing_ok=True)
        with atomic_write(self._path(scene_id, ".done")) as tmp:
            tmp.write_text(stamp)

    def record_failure(self, scene_id: str, path: str, error: str) -> None:
        """Remember that a scene failed (retried with ``--retry-failed``)."""
        text = json.dumps({"scene_id": scene_id, "path": path, "error": error}, indent=1)
        with atomic_write(self._path(scene_id, ".failed.json")) as tmp:
            tmp.write_text(text)

    def load(
        self, crs: str, scenes: Iterable[Scene] | None = None
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Committed coverage and detections, in scene-id order (deterministic): of all
        committed scenes (``scenes`` None), else of those ``scenes``, whose rows take the
        scene's acquisition time as scanned now (a time corrected after the commit, by a times
        file or a sidecar, holds without detecting the scene again)."""
        acquired = None if scenes is None else {s.scene_id: s.acquired for s in scenes}
        ids = sorted(self.done() if acquired is None else self.done() & set(acquired))
        frames = (
            _gather([self._path(i, ".coverage.parquet") for i in ids], COVERAGE_COLUMNS, crs),
            _gather([self._path(i, ".detections.parquet") for i in ids], DETECTION_COLUMNS, crs),
        )
        for frame in frames if acquired is not None else ():
            frame["acquired"] = frame["scene_id"].map(acquired).astype(UTC_TIMESTAMP)
        return frames

    def detections(self, scene_id: str) -> gpd.GeoDataFrame:
        """One scene's committed detections as they were written: in their own CRS (none for
        ``dwelltime detect``'s plain images) and with their own columns (its ``image``)."""
        frame = gpd.read_parquet(self._path(scene_id, ".detections.parquet"))
        # UTC as fresh frames have it: Parquet's zoneinfo UTC, joined with an image's times
        # (NaT where it has none) in the other kind of UTC, made a column of objects
        frame["acquired"] = frame["acquired"].dt.tz_convert("UTC")
        return frame

    def _path(self, scene_id: str, suffix: str) -> Path:
        """The file of ``scene_id`` ending in ``suffix`` (``.done``…), in the store's folder
        itself: the id's ``%`` and ``/`` quoted (``day1/x``, a folder that is not there, made
        every commit of such a scene fail)."""
        return self.folder / (scene_id.replace("%", "%25").replace("/", "%2F") + suffix)


def _scene_id(name: str, suffix: str) -> str:
    """The scene id whose file (:meth:`SceneStore._path`) is named ``name``."""
    return urllib.parse.unquote(name[: -len(suffix)])


def described(detector: Detector | Mapping[str, object]) -> dict[str, object]:
    """``detector.describe()``, or ``detector`` itself when it is such a description (a
    :meth:`~dwelltime.detector.predict.DetectorPlan.describe`'s, the detector not loaded)."""
    return dict(detector) if isinstance(detector, Mapping) else detector.describe()


def detection_settings(
    detector: Detector | Mapping[str, object], tile_size_px: int
) -> dict[str, object]:
    """The detection settings a scene's detections depend on: the weights' sha256, precision,
    model GSD (m/px), decoding settings and tile size (px); not the device or weights path.
    ``detector``: a detector or its description (:func:`described`)."""
    kept = {k: v for k, v in described(detector).items() if k not in ("device", "weights")}
    return {**kept, "tile_size_px": tile_size_px}


def made_by(
    detector: Detector | Mapping[str, object],
    tile_size_px: int,
    aprons: gpd.GeoDataFrame | None,
) -> dict[str, object]:
    """What a scene's committed results depend on besides the scene: ``aprons``, the sha256
    of the aprons' ids and geometries (WKB, in their CRS) they were made over (None without
    aprons: ``dwelltime detect`` over whole images), and ``settings``,
    :func:`detection_settings`."""
    settings = detection_settings(detector, tile_size_px)
    if aprons is None:
        return {"aprons": None, "settings": settings}
    digest = hashlib.sha256(_crs_key(aprons.crs).encode())
    for apron_id, wkb in zip(aprons["apron_id"], shapely.to_wkb(aprons.geometry), strict=True):
        digest.update(str(apron_id).encode() + b"\0" + wkb)
    return {"aprons": digest.hexdigest(), "settings": settings}


def _crs_key(crs: pyproj.CRS | None) -> str:
    """``crs`` as a stamp holds it: its authority code (``EPSG:32651``) where it is exactly
    one, else its WKT; "" for none. Not the WKT of every CRS: one equal CRS writes another
    WKT where it was read from GDAL's (a datum, not PROJ's WGS 84 ensemble), so a run in a
    process that had read an image first would have found every commit stale."""
    if crs is None:
        return ""
    authority = crs.to_authority(min_confidence=100)
    return ":".join(authority) if authority else crs.to_wkt()


#: Why committed results are made again, by the part of their stamp that changed
#: (:func:`commit_stamp`), in the order they are told.
STAMP_REASONS = {
    "image": "their image file changed",
    "sidecars": "a file read with their image changed (world file, .prj, .aux.xml, tile)",
    "read": "their cloud mask or bands changed",
    "aprons": "the aprons changed",
    "settings": "other detection settings made them",
}


def commit_stamp(scene: Scene, made: Mapping[str, object]) -> str:
    """A scene's commit stamp, what made its results (:data:`STAMP_REASONS`' parts):
    ``image``, its file's size (bytes) and modification time (ns); ``sidecars``, those of
    the other files it is read from (:attr:`~dwelltime.scenes.Scene.sidecars`: a world file,
    ``.prj`` or ``.aux.xml`` that places it, a mosaic's tiles); ``read``, how it was read:
    its mask's path, size and modification time (a cloud file drawn since) and its bands; and
    ``made`` (:func:`made_by`). Not its acquisition time: :meth:`SceneStore.load` gives the
    rows the time as scanned now."""
    mask = scene.mask_path and [str(scene.mask_path), _file_state(scene.mask_path)]
    read = {"mask": mask, "rgb_bands": scene.rgb_bands}
    sidecars = [[str(f), _file_state(f)] for f in scene.sidecars]
    stamp = {"image": _file_state(scene.path), "sidecars": sidecars, "read": read, **made}
    return json.dumps(stamp, sort_keys=True, default=str)


def image_stamp(path: Path, sidecars: Iterable[Path], made: Mapping[str, object]) -> str:
    """``dwelltime detect``'s commit stamp of the image file ``path``: ``image``, its absolute
    path, size (bytes) and modification time (ns); ``sidecars``, those of the other files it
    is read from, as :func:`commit_stamp` has them (a world file, ``.prj``, ``.aux.xml``…:
    :func:`dwelltime.detector.images.image_sidecars`); and ``made``, what else its detections
    depend on (:func:`made_by`, ``--gsd``, the airport)."""
    image = [str(Path(path).resolve()), _file_state(path)]
    files = [[str(f), _file_state(f)] for f in sidecars]
    return json.dumps({"image": image, "sidecars": files, **made}, sort_keys=True, default=str)


def stamp_changes(old: str, new: str) -> str | None:
    """The first of :data:`STAMP_REASONS` whose part differs between two stamps, None when
    none does; a part the ``old`` stamp lacks (committed before it was recorded) counts as
    unchanged."""
    was, now = json.loads(old), json.loads(new)
    return next((r for r in STAMP_REASONS if r in was and was[r] != now.get(r)), None)


def settings_changes(old: str, new: str) -> str:
    """The detection settings (:func:`detection_settings`) that differ between two stamps,
    as ``"precision int8 → bf16; tile_size_px 512 → 1024"``; empty when none does."""
    was, now = (json.loads(stamp).get("settings") or {} for stamp in (old, new))
    keys = sorted(was.keys() | now.keys())
    return "; ".join(f"{k} {was.get(k)} → {now.get(k)}" for k in keys if was.get(k) != now.get(k))


def _file_state(path: Path | str) -> list[int] | None:
    """A file's size (bytes) and modification time (ns); None if it cannot be read."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _visible(paths: Iterable[Path]) -> list[Path]:
    """``paths`` less hidden names: the temporaries of a write cut short by a kill."""
    return [p for p in paths if not p.name.startswith(".")]


def _gather(paths: list[Path], columns: tuple[str, ...], crs: str) -> gpd.GeoDataFrame:
    """The scenes' frames in one, their WKB geometries decoded once in ``crs``: reading each
    file with :func:`geopandas.read_parquet` parses its CRS again (35 ms a file, 80 ms a scene
    on the GPU box, as long as the scene's inference). The files are read on threads (pyarrow
    lets go of the interpreter lock) and made one table before pandas sees them: 962 scenes'
    parts in 2.0 s instead of 7.0 s one by one on the 2-core VM."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.parquet as pq

    with ThreadPoolExecutor() as pool:
        tables = [t for t in pool.map(pq.read_table, paths) if t.num_rows]
    if not tables:
        return empty_frame(columns, crs)
    # permissive: parts an earlier version committed may keep times in other units (ns)
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = table.replace_schema_metadata(None).to_pandas()  # each file's index: 0, 1, …
    frame["geometry"] = gpd.GeoSeries.from_wkb(frame["geometry"], crs=crs)
    # a switch that parts an earlier version committed lack (detections' ``cut``) is False
    # there, as they were linked, not None, which would turn the column into text in the files
    for column in frame.columns.intersection([c for c, t in COLUMN_DTYPES.items() if t == "bool"]):
        frame[column] = frame[column].eq(True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
