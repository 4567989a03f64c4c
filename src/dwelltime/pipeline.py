"""The whole job as one Python call: scan → tile → detect → link → estimate.

This is the API the CLI (`dwelltime run`, `dwelltime demo`), the notebooks and the batch job
share. I/O stays at the edges: :func:`run` reads imagery and returns frames (writing only
each scene's parts under a ``resume_dir``, when given one); writing the result is
:func:`write_result`'s job (:func:`dwelltime.io.write_layers` for the layers).
"""

from __future__ import annotations

import enum
import functools
import logging
import numbers
import os
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from dwelltime.airports import (
    Airport,
    ApronSource,
    airport_and_aprons,
    apron_file,
    apron_record,
)
from dwelltime.catalog import designator
from dwelltime.errors import (
    ApronError,
    ResultError,
    ResultNotFoundError,
    SceneError,
    SettingsError,
)
from dwelltime.flights import (
    FlightsError,
    as_flights,
    read_flights,
    tighten_with_flights,
    warn_if_not_at,
)
from dwelltime.formats import FIGURE_DPI, FIGURE_FORMATS, check_figure_format
from dwelltime.io import (
    FORMATS,
    PROVENANCE_NAME,
    atomic_write,
    ensure_writable,
    file_record,
    layer_names,
    output_paths,
    read_layer,
    read_provenance,
    user_path,
    write_layers,
    write_provenance,
)
from dwelltime.linking import (
    LinkConfig,
    aligned_scenes,
    as_link_config,
    dwell_priors,
    link_stays,
)
from dwelltime.scenes import Scene, as_scene_error, scan, scenes_frame, without_coarse
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS, empty_frame
from dwelltime.store import SceneStore, commit_stamp, described, made_by
from dwelltime.tables import counted, few
from dwelltime.tiling import TileSpec, iter_tiles, scene_coverage, scenes_over_aprons
from dwelltime.timesources import user_times

if TYPE_CHECKING:
    from dwelltime.detector import Detector, DetectorPlan

log = logging.getLogger(__name__)

#: progress(stage, done, total): called as scenes are processed; stage is "scan", "detect",
#: "coregister" or "link", in that order (scan counts files, the others scenes).
Progress = Callable[[str, int, int], None]


class Unchanged(enum.Enum):
    """Type of :data:`UNCHANGED`."""

    UNCHANGED = "unchanged"


#: Default of :meth:`RunResult.relink`'s ``flights`` and ``type_filter``: keep the result's
#: own (``None`` given explicitly removes them).
UNCHANGED = Unchanged.UNCHANGED

#: Layers of a run's GeoPackage, in order.
RESULT_LAYERS: tuple[str, ...] = ("scenes", "aprons", "coverage", "detections", "stays")


@dataclass(repr=False)
class RunResult:
    """Everything one run produced, as frames with the columns of :mod:`dwelltime.schema`.

    ``errors`` holds one :class:`SceneError` per input that could not be used (at scan or
    later); the other scenes' results are complete regardless. ``provenance``: what produced
    the tables (:func:`provenance`), written as ``run.json``. ``link_config``: the linking
    rules the stays were made by (the close gate is tight between the scenes ``scenes`` says
    co-registration aligned: :func:`dwelltime.linking.aligned_scenes`). ``flights``: the flight
    log (FLIGHT_COLUMNS) that tightened the stays' bounds, None for none; ``type_filter``: the
    ICAO designator the stays were kept to, None for all types (both kept by :meth:`relink`).
    """

    airport: Airport
    aprons: gpd.GeoDataFrame
    scenes: gpd.GeoDataFrame
    coverage: gpd.GeoDataFrame
    detections: gpd.GeoDataFrame
    stays: gpd.GeoDataFrame
    errors: list[SceneError] = field(default_factory=list)
    provenance: dict[str, object] = field(default_factory=dict)
    link_config: LinkConfig = field(default_factory=LinkConfig)
    flights: pd.DataFrame | None = None
    type_filter: str | None = None

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The frames to write, by layer name (:data:`RESULT_LAYERS`)."""
        return {name: getattr(self, name) for name in RESULT_LAYERS}

    def blind_scenes(self) -> list[str]:
        """Ids of the scenes that saw none of the aprons (all cloud or nodata there): neither
        presence nor absence anywhere."""
        seen = self.coverage.loc[self.coverage["visible_fraction"] > 0, "scene_id"]
        ids = self.scenes["scene_id"].astype(str)
        return ids[~ids.isin(seen.astype(str))].tolist()

    def summary(self) -> str:
        """One line: the airport and how many scenes (and which saw no apron: cloud, nodata),
        detections and stays (of the type filter's type) the run has, and how many inputs it
        skipped, e.g. ``"ZKPY Pyongyang …: 10 scenes (1 saw no apron, cloud or nodata: s3),
        65 detections, 1 stay of type IL62"`` (what ``dwelltime run`` prints above its
        table)."""
        blind = self.blind_scenes()
        scenes = counted(len(self.scenes), "scene") + (
            f" ({len(blind)} saw no apron, cloud or nodata: {few(blind)})" if blind else ""
        )
        text = (
            f"{self.airport.icao} {self.airport.name}: {scenes}, "
            f"{counted(len(self.detections), 'detection')}, {counted(len(self.stays), 'stay')}"
            + (f" of type {self.type_filter}" if self.type_filter else "")
        )
        return f"{text}, {len(self.errors)} input(s) skipped" if self.errors else text

    def __repr__(self) -> str:
        """The :meth:`summary`, not five frames and the provenance record in full (what a
        notebook shows for ``result``)."""
        return f"<RunResult {self.summary()}>"

    def relink(
        self,
        *,
        flights: pd.DataFrame | str | os.PathLike | Unchanged | None = UNCHANGED,
        type_filter: str | Unchanged | None = UNCHANGED,
        **changes: object,
    ) -> RunResult:
        """This result linked again by other rules, without detecting again: the same scenes,
        coverage and detections, new stays. ``changes``: :class:`LinkConfig` fields applied to
        :attr:`link_config` (``max_gap_h=24``, ``min_score_single=0.5``; an unknown one is a
        ValueError naming the valid ones); the scenes co-registration aligned are still those
        of :attr:`scenes`. ``flights`` and ``type_filter`` as :func:`run` takes them; not given,
        this result's own are kept; ``None`` removes them (every type's stays, bounds not
        tightened by a flight log). The provenance records the new rules."""
        config = LinkConfig.from_dict({**asdict(self.link_config), **changes})
        keep_log = flights is UNCHANGED
        log_frame = self.flights if keep_log else as_flights(flights)
        if type_filter is UNCHANGED:
            type_filter = self.type_filter
        type_filter = canonical_type(type_filter)
        if log_frame is not None and not keep_log:
            warn_if_not_at(log_frame, self.airport)
        stays = estimate_stays(
            self.detections,
            self.coverage,
            config,
            aligned=aligned_scenes(self.scenes),
            flights=log_frame,
            type_filter=type_filter,
        )
        linking = link_provenance(config, flights=log_frame is not None, type_filter=type_filter)
        record = self.provenance and (
            {**self.provenance, **linking}
            if keep_log
            else relinked_provenance(
                self.provenance, config, flights=flights, type_filter=type_filter
            )
        )
        return replace(
            self,
            stays=stays,
            link_config=config,
            provenance=dict(record),
            flights=log_frame,
            type_filter=type_filter,
        )


def run(
    folder: Path | str,
    airport: str,
    *,
    aprons: ApronSource | None = None,
    type_filter: str | None = None,
    detector: Detector | DetectorPlan | Callable[[], Detector] | str | os.PathLike | None = None,
    link_config: LinkConfig | Mapping[str, object] | None = None,
    tile_size_px: int = 512,
    batch_size: int = 8,
    coregister: bool = True,
    flights: pd.DataFrame | str | os.PathLike | None = None,
    times: Mapping[str, object] | str | os.PathLike | None = None,
    resume_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Estimate stays and dwell intervals at ``airport`` from the images under ``folder``.

    Args:
        folder: folder searched recursively for scenes, or a STAC ItemCollection JSON file.
        airport: ICAO or IATA code (``ZKPY`` or ``FNJ``), or any code of an airport the
            registry does not know, placed at the centre of ``aprons``.
        aprons: vector file of apron polygons, a (file, layer name) pair to read that layer
            of a file of several, or a GeoDataFrame of them; default a 3 km square around
            the airport.
        type_filter: keep only stays of this ICAO designator (all aircraft are still linked,
            so a neighbour of another type never splits or joins a stay); ``Il-62`` reads as
            ``IL62``, and a type the catalog does not know raises
            :class:`~dwelltime.errors.UnknownTypeError` before any detection.
        detector: a loaded :class:`dwelltime.detector.Detector`, a function that loads
            one, called once every input is checked, a
            :class:`~dwelltime.detector.DetectorPlan` (described then, its ``announce``
            called: the CLI prints the detector line; loaded unless every scene's detections
            are committed in ``resume_dir`` by the detection settings it describes), or a
            weights file (a plan of it, as ``--weights``); default the shipped model's plan.
        link_config: association rules, or a mapping of their fields (``{"max_gap_h": 24}``),
            checked before any detection; default :class:`LinkConfig()`.
        tile_size_px: tile edge in pixels at the detector's GSD, ≥ 64.
        batch_size: tiles per forward pass, ≥ 1 (both checked before any scene is read).
        coregister: align the scenes before linking (:mod:`dwelltime.coregister`); the offsets
            are the scenes layer's ``shift_x_m``, ``shift_y_m``, ``coreg_peak``,
            ``coreg_status`` columns.
        flights: movements that tighten the dwell bounds
            (:func:`dwelltime.flights.tighten_with_flights`): a flight-tracking CSV, or a
            frame of its columns (:func:`dwelltime.flights.as_flights`: times without a zone
            are UTC). Read before anything else, so a bad file stops the run at once.
        times: acquisition times that win over those found in the files: a CSV as
            ``--times`` takes it (:func:`dwelltime.timesources.read_times_csv`), or a mapping
            as :func:`dwelltime.scenes.scan` takes it. Read and checked before anything else
            (:func:`dwelltime.timesources.user_times`).
        resume_dir: a folder (``run --out``) in whose ``parts/`` each scene's coverage and
            detections are committed as soon as it is done
            (:class:`dwelltime.store.SceneStore`, as the batch job does), so that a run
            stopped part-way and started again with the same ``resume_dir`` detects only the
            scenes not committed there from the same image file, mask and bands by the same
            detection settings and aprons (:func:`dwelltime.store.commit_stamp`; a
            corrected time needs no detection); None: nothing is kept.
        progress: optional callback ``progress(stage, done, total)``.
    """
    folder = user_path(folder)
    site, apron_frame = airport_and_aprons(airport, aprons)
    type_filter = canonical_type(type_filter)  # before any detection
    link_config = as_link_config(link_config)
    check_tiling(tile_size_px, batch_size)
    flight_log, scene_times = as_flights(flights), user_times(times)  # a bad file: its error
    inputs = input_provenance(
        site.icao, folder, aprons=aprons, apron_frame=apron_frame, times=times, flights=flights
    )
    if flight_log is not None:
        warn_if_not_at(flight_log, site)
    found = without_coarse(scan(folder, times=scene_times, progress=_stage(progress, "scan")))
    errors = list(found.errors)
    scenes = scenes_over_aprons(found.scenes, apron_frame, site.icao)

    from dwelltime.detector import DetectorPlan

    if detector is None or isinstance(detector, (str, os.PathLike)):  # as --weights gives it
        detector = DetectorPlan(None if detector is None else user_path(detector))
    store = SceneStore(user_path(resume_dir)) if resume_dir is not None and scenes else None
    committed = store.stamps() if store else {}
    model = _detector_for(detector, scenes, committed, tile_size_px, apron_frame)
    made = made_by(model, tile_size_px, apron_frame)
    gsd_m = model["gsd_m"] if isinstance(model, Mapping) else model.gsd_m
    spec = TileSpec(gsd_m=float(gsd_m), size_px=tile_size_px)  # type: ignore[arg-type]
    coverage, detections, reused = [], [], 0
    report = _stage(progress, "detect")
    if report and scenes:
        report(0, len(scenes))  # before the first scene, which a bar then shows and times
    for done, scene in enumerate(scenes, start=1):
        stamp = commit_stamp(scene, made) if store else ""
        try:
            if store and committed.get(scene.scene_id) == stamp:
                cov, det = store.load(site.crs, [scene])
                reused += 1
            else:
                cov, det = process_scene(
                    scene, site, apron_frame, model, spec, batch_size=batch_size
                )
                if store:
                    store.commit(scene.scene_id, cov, det, stamp)
        except Exception as exc:
            errors.append(as_scene_error(scene, exc))  # named once, as scan's errors are
        else:
            coverage.append(cov)
            detections.append(det)
        if report:
            report(done, len(scenes))
    if store and reused:
        log.info(
            "%s: %d of %d scenes' detections reused from %s (committed by an earlier run)",
            site.icao,
            reused,
            len(scenes),
            store.folder,
        )

    result = link_scenes(
        site,
        apron_frame,
        scenes,
        _concat(coverage, COVERAGE_COLUMNS, site.crs),
        _concat(detections, DETECTION_COLUMNS, site.crs),
        link_config=link_config,
        coregister=coregister,
        flights=flight_log,
        type_filter=type_filter,
        progress=progress,
    )
    result.errors = errors
    result.provenance = provenance(
        model,
        tile_size_px=tile_size_px,
        link_config=result.link_config,
        coregister=coregister,
        flights=flight_log is not None,
        type_filter=type_filter,
        inputs=inputs,
        skipped=errors,
    )
    return result


def _detector_for(
    detector: Detector | DetectorPlan | Callable[[], Detector],
    scenes: Sequence[Scene],
    committed: Mapping[str, str],
    tile_size_px: int,
    aprons: gpd.GeoDataFrame,
) -> Detector | dict[str, object]:
    """The detector :func:`run` detects with: ``detector`` itself, what a loader returns, or
    a :class:`~dwelltime.detector.predict.DetectorPlan` loaded; for a plan under which every
    one of ``scenes`` is ``committed`` (a run started again after it finished), or with no
    scene at all, only its description
    (:meth:`~dwelltime.detector.predict.DetectorPlan.describe`): nothing is detected, so the
    network is never built."""
    from dwelltime.detector import DetectorPlan

    if not isinstance(detector, DetectorPlan):
        return detector() if callable(detector) else detector
    planned = detector.describe()
    if not scenes:
        return planned
    made = made_by(planned, tile_size_px, aprons)
    if all(committed.get(s.scene_id) == commit_stamp(s, made) for s in scenes):
        log.info("every scene's detections are committed: the detector is not loaded")
        return planned
    return detector.load()


def check_tiling(tile_size_px: object, batch_size: object) -> None:
    """:class:`SettingsError` unless the tile edge (pixels) is a whole number ≥ 64 and the
    batch (tiles per forward pass) one ≥ 1, as ``--tile-size`` and ``--batch-size`` take them;
    checked before any detection (a batch of 0 detected nothing in every scene)."""
    for name, value, least in (("tile_size_px", tile_size_px, 64), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise SettingsError(f"{name} must be a whole number ≥ {least}, got {value!r}")


@functools.cache
def source_commit(package: Path = Path(__file__).parent) -> str | None:
    """The git commit of the dwelltime code that runs, when ``package`` (the ``dwelltime``
    folder) is ``src/dwelltime`` of a git checkout (an editable install): ``git describe
    --always --dirty`` with the full hash, ``-dirty`` when files differ from it. None for an
    installed package, or without git."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        top = git("rev-parse", "--show-toplevel")
        if not top or Path(top).resolve() / "src" / "dwelltime" != package.resolve():
            return None
        return git("describe", "--always", "--dirty", "--abbrev=40") or None
    except (OSError, subprocess.SubprocessError):
        return None


def detection_provenance(
    detector: Detector | Mapping[str, object], tile_size_px: int
) -> dict[str, object]:
    """What produced a table of detections: dwelltime's version and git commit
    (:func:`source_commit`, None outside a checkout), the detector
    (:meth:`~dwelltime.detector.Detector.describe`: weights file, sha256, precision…; or
    that description itself, :func:`dwelltime.store.described`) and the tile size (pixels)."""
    from dwelltime import __version__

    return {
        "dwelltime": __version__,
        "dwelltime_commit": source_commit(),
        "detector": described(detector),
        "tile_size_px": tile_size_px,
    }


def detect_provenance(
    detector: Detector | Mapping[str, object],
    tile_size_px: int,
    *,
    images: Sequence[Path],
    left: Sequence[Path] = (),
    gsd_m: float | None = None,
    airport: str | None = None,
    aprons: object = None,
    apron_frame: gpd.GeoDataFrame | None = None,
) -> dict[str, object]:
    """What produced ``dwelltime detect``'s layers: :func:`detection_provenance`, the
    ``inputs`` (``gsd_m``: the metres/pixel given for images without georeference, as
    ``dwelltime evaluate --detections`` reads it back; the ``airport`` code and ``aprons``
    file searched, as :func:`input_provenance` records them; None each when not given), the
    ``images`` whose detections they hold (absolute paths) and, for a run interrupted
    (Ctrl-C) before it was through, ``interrupted`` and the ``images_left`` undetected."""
    inputs: dict[str, object] = {
        "airport": airport,
        "aprons": file_record(apron_file(aprons)),
        "gsd_m": gsd_m,
    }
    if apron_frame is not None:
        inputs["apron_set"] = apron_record(aprons, apron_frame)
    return {
        **detection_provenance(detector, tile_size_px),
        "inputs": inputs,
        "images": [str(user_path(p).resolve()) for p in images],
        "interrupted": bool(left),
        "images_left": [str(user_path(p).resolve()) for p in left],
    }


def provenance(
    detector: Detector | Mapping[str, object],
    *,
    tile_size_px: int,
    link_config: LinkConfig | None = None,
    coregister: bool = True,
    flights: bool = False,
    type_filter: str | None = None,
    inputs: Mapping[str, object] | None = None,
    skipped: Sequence[SceneError] = (),
) -> dict[str, object]:
    """What produced a run's tables, so a quoted dwell time can be traced and reproduced:
    :func:`detection_provenance`, the linking settings, the ``inputs``
    (:func:`input_provenance`) and the input files ``skipped`` (path and reason each: not in
    the tables). No clock time: the same run writes the same file."""
    return {
        **detection_provenance(detector, tile_size_px),
        "inputs": dict(inputs or {}),
        "skipped": [{"path": e.path, "reason": e.reason} for e in skipped],
        "coregister": coregister,
        **link_provenance(link_config, flights=flights, type_filter=type_filter),
    }


def input_provenance(
    icao: str,
    imagery: Path | str,
    *,
    aprons: object = None,
    apron_frame: gpd.GeoDataFrame | None = None,
    times: object = None,
    flights: object = None,
) -> dict[str, object]:
    """The inputs of a run as ``run.json`` records them: the airport's ``icao`` code, the imagery
    folder (or STAC file) as an absolute path, and the aprons, times and flights files as
    :func:`dwelltime.io.file_record` gives them (absolute path and sha256; None when not
    given, e.g. aprons for the default square, or given as contents rather than a file);
    with ``apron_frame``, the aprons searched (read from ``aprons``) as ``apron_set``: layer,
    count and area in km² (:func:`dwelltime.airports.apron_record`)."""
    record: dict[str, object] = {
        "airport": icao,
        "imagery": str(user_path(imagery).resolve()),
        "aprons": file_record(apron_file(aprons)),
        "times": file_record(times),
        "flights": file_record(flights),
    }
    if apron_frame is not None:
        record["apron_set"] = apron_record(aprons, apron_frame)
    return record


def link_provenance(
    link_config: LinkConfig | None, *, flights: bool, type_filter: str | None
) -> dict[str, object]:
    """The linking part of a run's record: the link settings used (defaults when None),
    whether a flight log tightened the bounds (its file, when there is one, is in
    ``inputs``: :func:`input_provenance`), and the type filter."""
    return {
        "flights": flights,
        "type_filter": type_filter,
        "link": asdict(link_config or LinkConfig()),
    }


def relinked_provenance(
    made: Mapping[str, object],
    link_config: LinkConfig,
    *,
    flights: object = None,
    type_filter: str | None = None,
) -> dict[str, object]:
    """``made`` (a run's record) as relinking changes it: the flight log given now (its file
    record in ``inputs``: :func:`dwelltime.io.file_record`) and :func:`link_provenance`."""
    return {
        **made,
        "inputs": {**dict(made.get("inputs") or {}), "flights": file_record(flights)},
        **link_provenance(link_config, flights=flights is not None, type_filter=type_filter),
    }


def changed_settings(made: Mapping[str, object], record: Mapping[str, object]) -> list[str]:
    """What a relinking's ``record`` changes from ``made``, the record of the run that wrote
    the detections (its run.json; empty when there is none): link settings as ``"max_gap_h
    24.0 → 72.0"`` (hours), the flight log and the type filter. Empty: the stays come out as
    the run's (``dwelltime link`` and a batch job rerun say so)."""
    if not made:
        return []
    before: Mapping[str, object] = made.get("link") or {}  # type: ignore[assignment]
    now: Mapping[str, object] = record["link"]  # type: ignore[assignment]
    changes = [
        f"{key} {before[key]} → {now[key]}" for key in now if before.get(key, now[key]) != now[key]
    ]
    if bool(made.get("flights")) != bool(record["flights"]):
        used = {True: "used", False: "none"}
        changes.append(
            f"flight log {used[bool(made.get('flights'))]} → {used[bool(record['flights'])]}"
        )
    if made.get("type_filter") != record["type_filter"]:
        changes.append(
            f"type filter {made.get('type_filter') or 'none'} → {record['type_filter'] or 'none'}"
        )
    return changes


def link_scenes(
    site: Airport,
    aprons: gpd.GeoDataFrame,
    scenes: list[Scene],
    coverage: gpd.GeoDataFrame,
    detections: gpd.GeoDataFrame,
    *,
    link_config: LinkConfig | Mapping[str, object] | None = None,
    coregister: bool = True,
    flights: pd.DataFrame | str | os.PathLike | None = None,
    type_filter: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Co-register, link and estimate from per-scene coverage and detections (the part of
    :func:`run` after detection, shared with the batch job). Only scenes with coverage rows
    (those processed without error) enter the scenes table and co-registration. ``flights``:
    as :func:`run` takes it."""
    flights = as_flights(flights)
    processed = set(coverage["scene_id"].astype(str))
    done = [s for s in scenes if s.scene_id in processed]
    scene_frame = scenes_frame(done)
    config = as_link_config(link_config)
    aligned: frozenset[str] = frozenset()
    if coregister:
        from dwelltime.coregister import apply_offsets, coregister_scenes

        offsets = coregister_scenes(
            done, site, aprons, detections=detections, progress=_stage(progress, "coregister")
        )
        coverage = apply_offsets(coverage, offsets)
        detections = apply_offsets(detections, offsets)
        scene_frame = scene_frame.merge(offsets, on="scene_id", how="left")
        aligned = aligned_scenes(offsets)
    return RunResult(
        airport=site,
        aprons=aprons,
        scenes=scene_frame,
        coverage=coverage,
        detections=detections,
        stays=estimate_stays(
            detections,
            coverage,
            config,
            aligned=aligned,
            flights=flights,
            type_filter=type_filter,
            progress=progress,
        ),
        link_config=config,
        flights=flights,
        type_filter=canonical_type(type_filter),
    )


def estimate_stays(
    detections: gpd.GeoDataFrame,
    coverage: gpd.GeoDataFrame,
    config: LinkConfig | Mapping[str, object],
    *,
    aligned: Collection[str] = (),
    flights: pd.DataFrame | None = None,
    type_filter: str | None = None,
    progress: Progress | None = None,
) -> gpd.GeoDataFrame:
    """Stays linked from ``detections`` and ``coverage`` (the airport's metric CRS) by
    ``config`` (a :class:`LinkConfig` or a mapping of its fields), their bounds tightened by
    ``flights`` and kept to the stays of ICAO type ``type_filter`` (read as :func:`run` reads
    it: ``Il-62`` is IL62, a type the catalog does not know raises
    :class:`~dwelltime.errors.UnknownTypeError` before linking; a warning names the types
    there were when no stay is of it): the linking that `run`, `link`, the batch job and
    :meth:`RunResult.relink` share. ``aligned``: the scenes co-registration aligned
    (:func:`dwelltime.linking.aligned_scenes`), as :func:`~dwelltime.linking.link_stays`
    takes them."""
    type_filter = canonical_type(type_filter)
    config = as_link_config(config)
    stays = link_stays(
        detections, coverage, config, aligned=aligned, progress=_stage(progress, "link")
    )
    if flights is not None:
        stays = tighten_with_flights(stays, flights, dwell_priors(stays, coverage, config))
    if not type_filter:
        return stays
    from dwelltime.report import no_stays_of_type, of_type

    kept = of_type(stays, type_filter).reset_index(drop=True)
    if kept.empty and len(stays):
        airports = ", ".join(sorted(set(stays["airport"].astype(str))))
        log.warning("%s: %s", airports, no_stays_of_type(stays, type_filter))
    return kept


def canonical_type(type_filter: str | None) -> str | None:
    """``type_filter`` as the catalog's designator (``Il-62`` → ``IL62``), None for none;
    :class:`~dwelltime.errors.UnknownTypeError` naming close matches for a type it lacks."""
    return designator(type_filter) if type_filter else None


def process_scene(
    scene: Scene,
    site: Airport,
    aprons: gpd.GeoDataFrame,
    detector: Detector,
    spec: TileSpec,
    *,
    batch_size: int = 8,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Coverage and detections of one scene over the aprons (both in ``site.crs``)."""
    from dwelltime.detector import detect_tiles

    coverage = scene_coverage(scene, site, aprons)
    tiles = iter_tiles(scene, site, aprons, spec)
    detections = detect_tiles(tiles, detector, batch_size=batch_size, source_gsd_m=scene.gsd_m)
    return coverage, detections


def write_result(
    result: RunResult,
    out_dir: Path,
    *,
    formats: tuple[str, ...] = ("gpkg", "csv"),
    figure_format: str = "png",
    overwrite: bool = False,
) -> list[Path]:
    """Write the layers of ``result``, the report figures (``timeline``, ``scenes``,
    ``coverage``, ``scene``, ``chips``: :func:`dwelltime.plot.report_figures`) as
    ``<name>.<figure_format>`` (png, svg or pdf: :data:`dwelltime.formats.FIGURE_FORMATS`;
    :data:`~dwelltime.formats.FIGURE_DPI` dots per inch) and, when it has one, its provenance
    (``run.json``: :func:`dwelltime.io.write_provenance`) to ``out_dir``; refuses to replace
    existing files unless ``overwrite``, with which the layers' files in the other formats
    (:func:`dwelltime.io.stale_paths`), an earlier run's figures in any format and ``run.json``
    that this result has none of (``scene.png`` of a run with scenes, when this one has none;
    ``timeline.png`` when this one is written as PDF), and the layers of an earlier output
    that this result has not (``detections_pixels`` of ``detect``:
    ``write_layers(exclusive=True)``), are removed, one log line each: the folder holds this
    result alone. ValueError for a ``figure_format`` not among them, before anything is
    written; OutputFolderError naming the file a write fails on (a full disk), whose half
    file is removed."""
    from dwelltime.plot import report_figures

    check_figure_format(figure_format)
    out_dir = user_path(out_dir)
    ensure_writable(result_paths(out_dir, formats, figure_format), overwrite=overwrite)
    figures = report_figures(result)
    files = [out_dir / f"{name}.{figure_format}" for name in figures]
    paths = write_layers(
        out_dir, result.layers(), formats=formats, overwrite=overwrite, exclusive=True
    )
    for path, figure in zip(files, figures.values(), strict=True):
        with atomic_write(path) as tmp:  # a full disk leaves no half figure, and one line
            figure.savefig(tmp, format=figure_format, dpi=FIGURE_DPI, bbox_inches="tight")
    paths += files
    if result.provenance:
        paths.append(write_provenance(out_dir, result.provenance))
    if overwrite:
        every = {p for fmt in FIGURE_FORMATS for p in result_paths(out_dir, formats, fmt)}
        for path in sorted(every - set(paths)):
            if path.exists():
                path.unlink()
                log.info("removed %s: an earlier run's, this result has none", path)
    return paths


def result_paths(
    out_dir: Path, formats: tuple[str, ...] = ("gpkg", "csv"), figure_format: str = "png"
) -> list[Path]:
    """Every file :func:`write_result` may write (its figures as ``figure_format``), so a run
    can refuse to start when one exists (before hours of work rather than after)."""
    from dwelltime.plot import REPORT_FIGURES

    out_dir = user_path(out_dir)
    figures = [out_dir / f"{name}.{figure_format}" for name in REPORT_FIGURES]
    layers = output_paths(out_dir, list(RESULT_LAYERS), formats)
    return [*layers, *figures, out_dir / PROVENANCE_NAME]


def _result_folder(path: Path) -> Path:
    """The folder of a saved result given as ``path``: ``path`` itself, or its folder when it is
    one of the files :func:`write_result` writes there (its layers alone would lose run.json's
    link rules, type filter and flight log); ResultError naming the folder for another file,
    ResultNotFoundError for a path not there."""
    if not path.exists():
        raise ResultNotFoundError(
            f"{path}: no such folder; give the folder write_result (dwelltime run --out) wrote"
        )
    if not path.is_file():
        return path
    if any(path in result_paths(path.parent, FORMATS, fmt) for fmt in FIGURE_FORMATS):
        return path.parent
    raise ResultError(
        f"{path} is not a file dwelltime run --out writes; give the folder that holds the "
        f"result's run.json and layers: read_result({str(path.parent)!r})"
    )


def read_result(folder: Path | str) -> RunResult:
    """The result :func:`write_result` (``dwelltime run --out``) left in ``folder``, back as a
    :class:`RunResult` to filter, plot or :meth:`~RunResult.relink` in memory, as ``dwelltime
    link`` relinks it: its layers (:func:`dwelltime.io.read_layer`; coverage, detections and
    stays in the airport's metric CRS), ``run.json`` as ``provenance`` and the link rules, type
    filter and flight log it records (the log read again from ``inputs.flights``; a warning
    when it cannot be, and the result then has none; the aprons, which a ``dwelltime link``
    folder lacks, from ``inputs.aprons``, or, where that file cannot be read again, what the
    coverage layer saw of each, said in a warning). ``errors`` is empty: they are not saved.
    :class:`~dwelltime.errors.ResultNotFoundError` (a FileNotFoundError) or
    :class:`~dwelltime.errors.ResultError` (a ValueError) naming the folder when it holds no
    result. ``folder`` may
    be given as one of the files :func:`write_result` wrote there (``dwelltime.gpkg``,
    ``run.json``, a layer's ``.csv``…): the result is the whole folder's, run.json included."""
    folder = _result_folder(user_path(folder))
    made = read_provenance(folder)
    saved = set(layer_names(folder))
    frames = {
        name: read_layer(folder, name, as_written=True)
        for name in RESULT_LAYERS
        if name != "aprons" or name in saved
    }
    inputs: Mapping[str, object] = made.get("inputs") or {}  # type: ignore[assignment]
    codes = frames["detections"]["airport"].astype(str)
    code = inputs.get("airport") or (codes.iloc[0] if len(codes) else None)
    if not code:
        raise ResultError(f"{folder}: no run.json and no detections: which airport is unknown")
    record: Mapping[str, str] = inputs.get("aprons") or {}  # type: ignore[assignment]
    layer = (inputs.get("apron_set") or {}).get("layer")  # type: ignore[union-attr]
    file = (record["path"], layer) if record.get("path") and layer else record.get("path")
    # `dwelltime link` writes no aprons: the run's file (its layer), else the default square
    try:
        site, aprons = airport_and_aprons(str(code), frames.get("aprons", file))
    except ApronError as exc:  # the run's apron file moved, changed or not copied with it
        seen = frames["coverage"].dissolve("apron_id", as_index=False)[["apron_id", "geometry"]]
        seen = seen[~seen.is_empty]
        if "aprons" in frames or seen.empty:
            raise
        log.warning(
            "%s: the run's apron file cannot be read again (%s); the aprons are what the "
            "coverage layer saw of them",
            folder,
            exc,
        )
        site, aprons = airport_and_aprons(str(code), seen)
    for name in ("coverage", "detections", "stays"):
        if frames[name].crs is not None and frames[name].crs != site.crs:
            frames[name] = frames[name].to_crs(site.crs)
    config = as_link_config(made["link"]) if "link" in made else LinkConfig()  # type: ignore[arg-type]
    flights = None
    if made.get("flights"):
        try:
            flights = read_flights(inputs["flights"]["path"])  # type: ignore[index]
        except (KeyError, TypeError, FlightsError) as exc:
            log.warning(
                "%s: the flight log these stays were tightened with cannot be read again (%s); "
                "relink() links without it unless given flights=",
                folder,
                exc if isinstance(exc, FlightsError) else "given as a frame, not a file",
            )
    return RunResult(
        airport=site,
        aprons=aprons,
        **{name: frames[name] for name in ("scenes", "coverage", "detections", "stays")},
        provenance=made,
        link_config=config,
        flights=flights,
        type_filter=made.get("type_filter"),  # type: ignore[arg-type]
    )


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _concat(frames: list[gpd.GeoDataFrame], columns: tuple[str, ...], crs: str) -> gpd.GeoDataFrame:
    """The scenes' frames as one; with no rows, the first scene's empty frame (its extra
    columns, typed), or an empty frame of ``columns`` when there is none."""
    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return empty_frame(columns, crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
