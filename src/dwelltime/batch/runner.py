"""Run a batch job: every airport's scenes, committed one by one, then the tables.

Per airport the outputs are those of ``dwelltime run`` under ``<output>/<airport>/``; a
combined ``all_stays`` table holds the stays of every airport run (EPSG:4326; ``x``/``y`` in
each airport's UTM CRS, named in ``xy_crs``): ``<output>/all_stays.csv``, ``.geojson``,
``.parquet``, and in GeoPackage the layer ``all_stays`` of ``<output>/dwelltime.gpkg``. A
scene that fails in detection is recorded (``parts/<scene_id>.failed.json``) and skipped;
``retry_failed`` tries it again. A file that scan finds unusable (unreadable, no time…) is
logged and named in the summary as unusable, not as failed: trying again cannot mend it. A job
whose inputs cannot be read (imagery, aprons, flights or times file), or that has no usable
scene (as ``dwelltime run`` refuses it), is logged in one line, not run and named in the
summary; the other jobs run, and its stays from an earlier
invocation, if any, stay in the combined table. A killed job started again skips the
committed scenes and ends with the same tables as an uninterrupted run (the temporaries of
a write the kill cut short are removed). A committed scene
whose image file changed since (size or modification time), whose cloud mask or bands
changed (a cloud file drawn since), or that other aprons or detection settings (weights,
precision, tile size) made, is detected again, and the log says so (a corrected acquisition
time needs no detection: the tables take the times as scanned now); one whose image
is no longer scanned is left out of the tables (its parts are kept). One job at a time
writes to an output folder: a second one started there is refused (:class:`OutputInUseError`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from dwelltime.airports import Airport, airport_and_aprons, icao_code
from dwelltime.batch.finishers import Finishers
from dwelltime.batch.spec import AirportJob, BatchSpec
from dwelltime.errors import DwelltimeError, NoImageError, SceneError, error_text
from dwelltime.io import read_if_path, read_layer, read_provenance, with_xy_crs, write_layers
from dwelltime.linking import stays_frame
from dwelltime.pipeline import (
    RunResult,
    changed_settings,
    input_provenance,
    link_scenes,
    provenance,
    write_result,
)
from dwelltime.scenes import ScanResult, Scene, scan, without_coarse
from dwelltime.store import (
    PARTS_NAME,
    STAMP_REASONS,
    SceneStore,
    commit_stamp,
    detection_settings,
    made_by,
    settings_changes,
    stamp_changes,
)
from dwelltime.tables import counted, few
from dwelltime.tiling import TileSpec, scenes_over_aprons

if TYPE_CHECKING:
    from distributed import Client

    from dwelltime.batch.feed import JobFeed, ScenePayload
    from dwelltime.detector import Detector, DetectorPlan
    from dwelltime.detector.decode import TileDetections
    from dwelltime.detector.predict import PostProcessor

log = logging.getLogger(__name__)

#: progress(airport, scenes finished so far in the whole job, scenes in the whole job)
BatchProgress = Callable[[str, int, int], None]

#: What detecting a scene gave: ``(coverage, detections, n_tiles)``, or its error text.
SceneOutcome = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, int] | str


class JobInputError(DwelltimeError):
    """A batch job whose inputs cannot be read, or that has no usable scene:
    ``AIRPORT: file: problem``; ``unusable`` names the files scan could not use."""

    def __init__(self, airport: str, problem: str, unusable: Sequence[str] = ()) -> None:
        self.airport = airport
        self.problem = problem
        self.unusable = list(unusable)
        super().__init__(f"{airport}: {problem}")


class OutputInUseError(DwelltimeError):
    """Another batch job is writing to the output folder: ``OUTPUT: … (process N on HOST)``."""


class SchedulerError(DwelltimeError):
    """A Dask scheduler the job cannot connect to: ``scheduler ADDRESS: …``."""


@contextlib.contextmanager
def _output_lock(output: Path) -> Iterator[None]:
    """Hold ``<output>/.batch.lock`` while the job runs (an flock, which the system releases
    when this process ends, killed or not); :class:`OutputInUseError` when another process
    holds it."""
    import fcntl

    output.mkdir(parents=True, exist_ok=True)
    with open(output / ".batch.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise OutputInUseError(
                f"{output}: another batch job ({handle.read().strip() or 'a process'}) is "
                "writing there; wait for it to end, or give this job another output"
            ) from None
        handle.truncate(0)
        handle.write(f"process {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        yield


@dataclass
class AirportSummary:
    """Counts of one airport's scenes in this invocation."""

    airport: str
    scenes: int = 0
    done: int = 0
    skipped: int = 0  # committed by an earlier invocation
    failed: int = 0  # in detection (``parts/*.failed.json``), tried again on request
    tiles: int = 0
    stays: int = 0
    unusable: list[str] = field(default_factory=list)  # files scan could not use, by name
    problem: str | None = None  # why the job was not run: its inputs cannot be read

    def line(self) -> str:
        """This airport's line of the closing summary."""
        if self.problem is not None:
            return f"{self.airport}: not run: {self.problem}"
        text = (
            f"{self.airport}: {counted(self.scenes, 'scene')}, {self.done} done, "
            f"{self.skipped} skipped (already done), {self.failed} failed, "
            f"{counted(self.tiles, 'tile')}, {counted(self.stays, 'stay')}"
        )
        if self.unusable:
            unusable = counted(len(self.unusable), "unusable file")
            text += f"; {unusable} skipped ({few(self.unusable)})"
        return text


@dataclass
class BatchSummary:
    """What the job did; :meth:`text` is the closing summary."""

    airports: list[AirportSummary] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether a scene failed in detection or a job was not run (exit status 1)."""
        return any(a.failed or a.problem is not None for a in self.airports)

    def text(self) -> str:
        """Scenes done / skipped / failed, time and throughput, per airport and in all. The
        throughput is of the whole invocation (a rerun with little left to detect reads low):
        ``scripts/benchmark.py --pipeline`` measures the detection pipeline itself."""
        done = sum(a.done for a in self.airports)
        tiles = sum(a.tiles for a in self.airports)
        rate = tiles / self.seconds if self.seconds > 0 else 0.0
        total = (
            f"total: {counted(done, 'scene')} done, {counted(tiles, 'tile')} in "
            f"{self.seconds:.1f} s ({rate:.1f} "
            "tiles/s, scanning and model loading included), "
            f"{sum(a.skipped for a in self.airports)} skipped, "
            f"{sum(a.failed for a in self.airports)} failed, "
            f"{counted(sum(len(a.unusable) for a in self.airports), 'unusable file')}"
        )
        not_run = sum(a.problem is not None for a in self.airports)
        if not_run:
            total += f", {counted(not_run, 'job')} not run (inputs unreadable)"
        return "\n".join([*(a.line() for a in self.airports), total])


def run_batch(
    spec: BatchSpec,
    *,
    retry_failed: bool = False,
    weights: Path | None = None,
    progress: BatchProgress | None = None,
) -> BatchSummary:
    """Process every job of ``spec``; see the module docstring."""
    with _output_lock(Path(spec.output)):
        _remove_temporaries(Path(spec.output))
        return _run_batch(spec, retry_failed, weights, progress)


def _remove_temporaries(output: Path) -> None:
    """Remove the temporaries (``.tmp-PID-NAME``: :func:`dwelltime.io.atomic_write`) of
    writes cut short by a kill under ``output`` (a GeoPackage's may be hundreds of MB); the
    job holds the folder's lock, so no write of another job is under way there."""
    stale = [p for pattern in _TEMPORARIES for p in sorted(output.glob(pattern))]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("%s: removed %d files a job killed while writing left", output, len(stale))


#: Where :func:`_remove_temporaries` looks: the combined tables, each airport's outputs, parts.
_TEMPORARIES = (".tmp-*", "*/.tmp-*", f"*/{PARTS_NAME}/.tmp-*")


def _run_batch(
    spec: BatchSpec,
    retry_failed: bool,
    weights: Path | None,
    progress: BatchProgress | None,
) -> BatchSummary:
    """:func:`run_batch`, the output folder locked."""
    from dwelltime.detector import DetectorPlan
    from dwelltime.flights import read_flights

    start = time.perf_counter()
    # described first: a device, weights file or precision this machine cannot use stops the
    # job in one line before its imagery is scanned, not after
    plan = DetectorPlan(
        weights, device=spec.device, compiled=spec.compile, precision=spec.precision
    )
    planned = plan.describe()
    flight_log = functools.cache(read_flights)  # a job-wide log is read once, not per airport
    prepared, not_run = [], []
    for job in spec.jobs:
        try:
            prepared.append(_prepare(job, spec, retry_failed, flight_log))
        except JobInputError as exc:
            log.error("%s: %s; job not run", exc.airport, exc.problem)
            not_run.append(
                AirportSummary(airport=exc.airport, problem=exc.problem, unusable=exc.unusable)
            )
    summary, stays = BatchSummary(), []
    if prepared:
        summary.airports, stays = _run_jobs(prepared, spec, plan, planned, progress)
    summary.airports += not_run
    earlier = (_earlier_stays(Path(spec.output) / a.airport) for a in not_run)
    _write_combined(spec.output, [*stays, *(s for s in earlier if s is not None)], spec.formats)
    summary.seconds = time.perf_counter() - start
    log.info("batch finished\n%s", summary.text())
    return summary


def _run_jobs(
    prepared: list[_Prepared],
    spec: BatchSpec,
    plan: DetectorPlan,
    planned: dict[str, object],
    progress: BatchProgress | None,
) -> tuple[list[AirportSummary], list[gpd.GeoDataFrame]]:
    """Detect, link and write every prepared job by ``plan``'s detector (``planned``, its
    description): each job's summary and stays (EPSG:4326, with ``xy_crs``) for the combined
    table."""
    detector = _detector_for_jobs(prepared, spec, plan, planned)
    total = sum(len(p.todo) + p.summary.skipped for p in prepared)
    finished = sum(p.summary.skipped for p in prepared)
    all_stays = []
    with contextlib.ExitStack() as stack:
        detect = None  # each airport's scenes to do, detected and committed: _process
        if not isinstance(detector, Mapping):  # loaded: a scene to detect
            tile_spec = TileSpec(gsd_m=detector.gsd_m, size_px=spec.tile_size_px)
            if spec.scheduler:  # one Dask cluster for every airport's scenes
                client, feed = stack.enter_context(_dask_client(spec)), None
            else:  # the readers start now and read the first scenes while the network warms up
                client, feed = None, stack.enter_context(_feed(prepared, spec, detector, tile_spec))
            detector.warm_up(spec.batch_size, spec.tile_size_px)
            finisher = stack.enter_context(
                Finishers(_finisher_processes(spec, detector.device.type))
            )
            detect = functools.partial(
                _process,
                spec=spec,
                detector=detector,
                tile_spec=tile_spec,
                weights=plan.weights,
                finisher=finisher,
                feed=feed,
                client=client,
            )
        mark = time.perf_counter()
        for p in prepared:
            for scene, outcome in detect(p) if detect else ():
                finished += 1
                now = time.perf_counter()
                log.info(
                    "%s: %s %s in %.1f s (%d of %d scenes)",
                    p.site.icao,
                    scene.path.name,
                    outcome,
                    now - mark,
                    finished,
                    total,
                )
                mark = now
                if progress:
                    progress(p.job.airport, finished, total)
            result = _assemble(p, spec)
            result.provenance = provenance(
                detector,
                tile_size_px=spec.tile_size_px,
                link_config=result.link_config,
                flights=p.flights is not None,
                type_filter=p.job.type,
                inputs={
                    **input_provenance(
                        p.site.icao,
                        p.job.imagery,
                        aprons=p.job.apron_source,
                        apron_frame=p.aprons,
                        times=p.job.times,
                        flights=p.job.flights or spec.flights,
                    ),
                    **_range_record(p.job),
                },
                skipped=p.unusable,
            )
            _say_relinked(p.site.icao, read_provenance(p.folder), result.provenance)
            write_result(
                result,
                p.folder,
                formats=spec.formats,
                figure_format=spec.figure_format,
                overwrite=True,
            )
            p.summary.stays = len(result.stays)
            all_stays.append(with_xy_crs(result.stays).to_crs("EPSG:4326"))
    return [p.summary for p in prepared], all_stays


def _detector_for_jobs(
    prepared: list[_Prepared], spec: BatchSpec, plan: DetectorPlan, planned: dict[str, object]
) -> Detector | dict[str, object]:
    """``plan``'s detector, with each airport's committed scenes whose stamp changed put back
    to do (:func:`_redo_changed`); where no scene is left to do (a job run again to relink,
    or after it finished), only its description ``planned``
    (:meth:`~dwelltime.detector.DetectorPlan.describe`): the network is not built."""
    for p in prepared:
        _redo_changed(p, made_by(planned, spec.tile_size_px, p.aprons))
    if not any(p.todo for p in prepared):
        log.info("every scene's detections are committed: the detector is not loaded")
        return planned
    detector = plan.load()
    log.info("%r", detector)  # the precision `auto` chose, as run.json records it
    size = spec.tile_size_px
    if detection_settings(detector, size) != detection_settings(planned, size):
        for p in prepared:  # int8 could not be built after all (fp32): the stamps differ
            _redo_changed(p, made_by(detector, size, p.aprons))
    return detector


def _say_relinked(icao: str, made: dict[str, object], record: dict[str, object]) -> None:
    """One log line when the airport's stays are linked by other settings than the earlier
    invocation's ``made`` (its run.json): link rules, flight log or type filter
    (:func:`~dwelltime.pipeline.changed_settings`), so that stays that differ without any
    scene detected again are explained."""
    changes = changed_settings(made, record)
    if changes:
        log.info(
            "%s: stays linked again by other settings than the earlier run's: %s",
            icao,
            "; ".join(changes),
        )


@dataclass
class _Prepared:
    job: AirportJob
    folder: Path
    site: Airport
    aprons: gpd.GeoDataFrame
    scenes: list[Scene]
    todo: list[Scene]
    store: SceneStore
    summary: AirportSummary
    flights: pd.DataFrame | None  # movements that tighten the dwell bounds
    made: dict[str, object] = field(default_factory=dict)  # what scenes' results hang on: made_by
    unusable: list[SceneError] = field(default_factory=list)  # files scan could not use
    outside: set[str] = field(default_factory=set)  # ids of scenes outside the job's start…end


def _redo_changed(p: _Prepared, made: dict[str, object]) -> None:
    """Put back in ``p.todo`` the committed scenes whose stamp changed since
    (:func:`~dwelltime.store.stamp_changes`: image file, mask or bands, aprons,
    detection settings), with one warning per reason naming them; commits from before
    stamps are kept. ``made``: :func:`~dwelltime.store.made_by`."""
    p.made = made
    stamps = p.store.stamps()
    todo = {s.scene_id for s in p.todo}
    changed: dict[tuple[int, str], list[Scene]] = {}  # (the reason's rank, in words): scenes
    for scene in p.scenes:
        old = stamps.get(scene.scene_id)
        if not old or scene.scene_id in todo:  # not committed, or committed before stamps
            continue
        new = commit_stamp(scene, made)
        reason = stamp_changes(old, new)
        if reason is not None:
            why = STAMP_REASONS[reason]
            why += f": {settings_changes(old, new)}" if reason == "settings" else ""
            changed.setdefault((list(STAMP_REASONS).index(reason), why), []).append(scene)
    redo = [scene for scenes in changed.values() for scene in scenes]
    if not redo:
        return
    for (_, why), scenes in sorted(changed.items()):  # in STAMP_REASONS' order
        log.warning(
            "%s: %d committed scenes detected again: %s (%s)",
            p.site.icao,
            len(scenes),
            why,
            ", ".join(s.path.name for s in scenes),
        )
    todo |= {s.scene_id for s in redo}
    p.todo = [s for s in p.scenes if s.scene_id in todo]
    p.summary.skipped -= len(redo)


def _prepare(
    job: AirportJob,
    spec: BatchSpec,
    retry_failed: bool,
    flight_log: Callable[[Path], pd.DataFrame],
) -> _Prepared:
    """An airport's aprons, scenes (those still to do apart), store and flight log (read by
    ``flight_log``), read before the detector is loaded; :class:`JobInputError` naming the
    airport and the file when one of them cannot be read."""
    from dwelltime.flights import warn_if_not_at

    flights_csv = job.flights or spec.flights
    try:
        site, aprons = airport_and_aprons(job.airport, job.apron_source)
        found = without_coarse(scan(job.imagery, times=job.times))
        for err in found.errors:  # an empty folder (not mounted?) must not empty the tables
            if isinstance(err, NoImageError):
                raise err
        flights = read_if_path(flights_csv, flight_log)
    except DwelltimeError as exc:  # with hundreds of jobs, say which one
        code = icao_code(job.airport) or job.airport.strip().upper()
        raise JobInputError(code, str(exc)) from exc
    if flights is not None:
        warn_if_not_at(flights, site)
    folder = Path(spec.output) / site.icao
    store = SceneStore(folder)
    for err in found.errors:
        log.warning("%s: unusable, skipped: %s", site.icao, err)
    scenes = scenes_over_aprons(found.scenes, aprons, site.icao)
    unusable = [Path(err.path).name for err in found.errors]
    if not scenes:  # as `run` refuses it; the folder's earlier results stay as they are
        raise JobInputError(site.icao, _no_scene(job.imagery, found, unusable), unusable)
    scenes, outside = _in_range(job, scenes, site.icao)
    if not scenes:
        problem = (
            f"none of its {len(outside)} scenes over the aprons was acquired in the job's "
            f"range ({job.range_text()})"
        )
        raise JobInputError(site.icao, problem, unusable)
    done, failed = store.done(), store.failed()
    skip_failed = set() if retry_failed else set(failed)
    passed_over = done | skip_failed
    for scene in scenes:
        if scene.scene_id in skip_failed - done:
            log.warning(
                "%s: %s: failed in an earlier run, not tried again (--retry-failed does): %s",
                site.icao,
                scene.path,
                failed[scene.scene_id],
            )
    todo = [s for s in scenes if s.scene_id not in passed_over]
    summary = AirportSummary(
        airport=site.icao,
        scenes=len(scenes),
        skipped=sum(s.scene_id in done for s in scenes),
        failed=sum(s.scene_id in skip_failed - done for s in scenes),
        unusable=unusable,
    )
    return _Prepared(
        job,
        folder,
        site,
        aprons,
        scenes,
        todo,
        store,
        summary,
        flights,
        unusable=found.errors,
        outside=outside,
    )


def _range_record(job: AirportJob) -> dict[str, str]:
    """The job's ``start`` and ``end`` as run.json's ``inputs`` record them (ISO 8601, UTC),
    those given: the tables hold only the scenes in that range."""
    ends = (("start", job.start), ("end", job.end))
    return {key: when.isoformat() for key, when in ends if when is not None}


def _in_range(job: AirportJob, scenes: list[Scene], icao: str) -> tuple[list[Scene], set[str]]:
    """The scenes acquired in the job's ``start``…``end`` and the ids of the others, counted
    in one log line."""
    kept = [s for s in scenes if job.in_range(s.acquired)]
    outside = {s.scene_id for s in scenes} - {s.scene_id for s in kept}
    if outside:
        log.info(
            "%s: %d of %d scenes left out: acquired outside the job's range (%s)",
            icao,
            len(outside),
            len(scenes),
            job.range_text(),
        )
    return kept, outside


def _no_scene(imagery: Path, found: ScanResult, unusable: list[str]) -> str:
    """Why a job has no scene to detect: ``no usable scene in FOLDER (…)``, the folder
    holding only unusable files (named), pictures without georeference, or scenes that miss
    the aprons (a folder without an image file is :class:`NoImageError`'s)."""
    why = [f"{counted(len(unusable), 'unusable file')}: {few(unusable)}"] if unusable else []
    if found.pictures:
        why.append(f"{counted(len(found.pictures), 'picture')} without georeference")
    if found.scenes:
        why.append(f"none of its scenes ({len(found.scenes)}) covers the aprons")
    return f"no usable scene in {imagery} ({'; '.join(why)})"


def _finisher_processes(spec: BatchSpec, device_type: str) -> int:
    """``spec.finishers``, or by default 2 on CUDA and 0 (a thread) elsewhere (on a CPU the
    model is the limit, and processes would only compete for its cores)."""
    if spec.finishers is not None:
        return spec.finishers
    return 2 if device_type == "cuda" else 0


def _feed(
    prepared: list[_Prepared], spec: BatchSpec, detector: Detector, tile_spec: TileSpec
) -> JobFeed:
    """Every airport's scenes to do, read from now on by ``spec.workers`` processes."""
    from dwelltime.batch.feed import JobFeed

    sites = [(p.todo, p.site, p.aprons) for p in prepared]
    return JobFeed(sites, tile_spec, workers=spec.workers, cuda=detector.device.type == "cuda")


def _process(
    p: _Prepared,
    spec: BatchSpec,
    detector: Detector,
    tile_spec: TileSpec,
    weights: Path | None,
    finisher: Finishers,
    feed: JobFeed | None,
    client: Client | None,
) -> Iterator[tuple[Scene, str]]:
    """Commit or record as failed each scene of ``p.todo``, yielding it and what became of it
    (:func:`_count`) when done; read by ``feed`` (None: read and detected on the Dask
    cluster of ``client``)."""
    if feed is not None:
        yield from _local_scenes(p, spec, detector, feed.next_scenes(len(p.todo)), finisher)
        return
    for scene, outcome in _dask_results(p, spec, client, tile_spec, weights):
        yield scene, _count(p, scene, _commit(p.store, scene, outcome, commit_stamp(scene, p.made)))


def _commit(store: SceneStore, scene: Scene, outcome: SceneOutcome, stamp: str) -> int | str:
    """Commit a scene's ``(coverage, detections, n_tiles)`` with ``stamp``
    (:func:`~dwelltime.store.commit_stamp`) and return its tile count, or pass its
    error text on."""
    if isinstance(outcome, str):
        return outcome
    coverage, detections, n_tiles = outcome
    store.commit(scene.scene_id, coverage, detections, stamp)
    return n_tiles


def _count(p: _Prepared, scene: Scene, committed: int | str) -> str:
    """Count a committed scene (its tile count), or record and log its error text; what
    became of it, for its log line (``done, 8 tiles`` or ``failed``)."""
    if isinstance(committed, str):
        p.store.record_failure(scene.scene_id, str(scene.path), committed)
        log.warning("%s: %s: %s", p.site.icao, scene.path, committed)
        p.summary.failed += 1
        return "failed"
    p.summary.done += 1
    p.summary.tiles += committed
    return f"done, {committed} tiles"


def _local_scenes(
    p: _Prepared,
    spec: BatchSpec,
    detector: Detector,
    payloads: Iterable[ScenePayload],
    finisher: Finishers,
) -> Iterator[tuple[Scene, str]]:
    """DataLoader workers read (``payloads``, those of ``p.todo``); this process infers
    (batched, the network on the next batch while it decodes this one) while the
    ``finisher`` turns earlier scenes' predictions into map rows and commits them (up to
    :attr:`Finishers.slots` scenes in flight; yielded in order)."""
    post = detector.post_processor()
    in_flight: deque = deque()
    for payload, predictions in _inferred(payloads, detector, spec.batch_size):
        stamp = commit_stamp(payload.scene, p.made)
        job = (p.folder, payload.without_pixels(), predictions, post, stamp)
        in_flight.append((payload.scene, finisher.submit(_finish_scene, *job)))
        yield from _settle(p, in_flight, finisher.slots)
    yield from _settle(p, in_flight, 0)


def _settle(p: _Prepared, in_flight: deque, keep: int) -> Iterator[tuple[Scene, str]]:
    """Count and yield the oldest scenes in flight that are finished (with what became of
    them: :func:`_count`), waiting for them while more than ``keep`` are in flight."""
    while len(in_flight) > keep or (in_flight and in_flight[0][1].done()):
        scene, future = in_flight.popleft()
        try:
            committed = future.result()
        except BrokenProcessPool as exc:
            committed = f"BrokenProcessPool: its finisher process died ({exc})"
        yield scene, _count(p, scene, committed)


def _finish_scene(
    folder: Path,
    payload: ScenePayload,
    predictions: list[TileDetections] | str,
    post: PostProcessor,
    stamp: str,
) -> int | str:
    """Runs in the finisher: a scene's map rows committed under ``folder`` with ``stamp``; its
    tile count, or its error text."""
    outcome = _outcome(payload, predictions, post)
    return _commit(SceneStore(folder), payload.scene, outcome, stamp)


def _inferred(
    payloads: Iterable[ScenePayload], detector: Detector, batch_size: int
) -> Iterator[tuple[ScenePayload, list[TileDetections] | str]]:
    """(payload, its predictions or error text) for each payload, in order
    (:func:`~dwelltime.detector.predict_scenes`)."""
    from dwelltime.detector import predict_scenes

    items = ((p, p.images if p.error is None else p.error) for p in payloads)
    return predict_scenes(items, detector, batch_size=batch_size)


def _outcome(
    payload: ScenePayload, predictions: list[TileDetections] | str, post: PostProcessor
) -> SceneOutcome:
    """``(coverage, detections, n_tiles)`` from a payload's predictions, or the error text
    (``post``: the detector's post-processor)."""
    from dwelltime.detector.predict import detections_frame  # looked up now (benchmark wraps it)

    if isinstance(predictions, str):
        return predictions
    try:
        pairs = list(zip(payload.full_tiles(), predictions, strict=True))
        detections = detections_frame(pairs, post, source_gsd_m=payload.scene.gsd_m)
    except Exception as exc:
        return error_text(exc)
    return payload.coverage, detections, len(payload.tiles)


@contextlib.contextmanager
def _dask_client(spec: BatchSpec) -> Iterator[Client]:
    """A client of the job's Dask cluster, for every airport (its workers load the model
    once): a LocalCluster of ``spec.workers`` processes (``scheduler: local``), else the
    scheduler at ``spec.scheduler``; :class:`SchedulerError` when it cannot be reached."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        try:
            cluster = (
                stack.enter_context(
                    LocalCluster(
                        n_workers=max(spec.workers, 1), threads_per_worker=1, dashboard_address=None
                    )
                )
                if spec.scheduler == "local"
                else spec.scheduler  # its address
            )
            client = stack.enter_context(Client(cluster))
        except (OSError, ValueError) as exc:  # no scheduler there, an address misspelt
            raise SchedulerError(
                f"scheduler {spec.scheduler}: cannot connect: {exc}; start the scheduler "
                "(dask scheduler) or give its address as tcp://host:8786, or local"
            ) from None
        yield client


def _dask_results(
    p: _Prepared, spec: BatchSpec, client: Client, tile_spec: TileSpec, weights: Path | None
) -> Iterator[tuple[Scene, SceneOutcome]]:
    """Each scene read and detected as one task on ``client``'s cluster; committed here. A
    scene whose workers died on it (out of memory…) is its error text: recorded as failed,
    as a scene whose finisher process died is, and the job goes on."""
    from distributed import KilledWorker, as_completed

    futures = {
        client.submit(
            _scene_task,
            scene,
            p.site,
            p.aprons,
            tile_spec,
            weights,
            spec.device,
            spec.compile,
            spec.precision,
            spec.batch_size,
            pure=False,
        ): scene
        for scene in p.todo
    }
    for future in as_completed(futures):
        try:
            outcome = future.result()
        except KilledWorker as exc:
            outcome = error_text(exc)
        yield futures[future], outcome


def _scene_task(
    scene: Scene,
    site: Airport,
    aprons: gpd.GeoDataFrame,
    tile_spec: TileSpec,
    weights: Path | None,
    device: str,
    compiled: bool,
    precision: str,
    batch_size: int,
) -> SceneOutcome:
    """Runs on a Dask worker: read one scene and detect; the model is loaded once per worker."""
    from dwelltime.batch.feed import read_payload

    detector = _worker_detector(weights, device, compiled, precision)
    ((payload, predictions),) = _inferred(
        [read_payload(scene, site, aprons, tile_spec)], detector, batch_size
    )
    return _outcome(payload, predictions, detector.post_processor())


@functools.lru_cache(maxsize=2)
def _worker_detector(weights: Path | None, device: str, compiled: bool, precision: str) -> Detector:
    from dwelltime.detector import load_detector

    return load_detector(weights, device=device, compiled=compiled, precision=precision)


def _assemble(p: _Prepared, spec: BatchSpec) -> RunResult:
    """The airport's tables from its committed scenes among those scanned now (the others,
    whose image was removed or is now unusable or off the aprons, are left out, the log
    naming them; their parts are kept), in a deterministic order, linked by the job's rules
    and flight log. Rows take their scene's acquisition time as scanned now: a time
    corrected (``times``, a sidecar) after a scene was committed holds without detecting it
    again."""
    gone = sorted(p.store.done() - {s.scene_id for s in p.scenes} - p.outside)
    if gone:
        log.warning(
            "%s: %d committed scenes left out of the tables: no longer among the job's scenes "
            "(image removed, unusable now or off the aprons): %s",
            p.site.icao,
            len(gone),
            ", ".join(gone),
        )
    coverage, detections = p.store.load(p.site.crs, p.scenes)
    return link_scenes(
        p.site,
        p.aprons,
        p.scenes,
        coverage,
        detections,
        link_config=spec.link,
        flights=p.flights,
        type_filter=p.job.type,
    )


def _earlier_stays(folder: Path) -> gpd.GeoDataFrame | None:
    """The stays an airport's folder holds from an earlier invocation (EPSG:4326, with
    ``xy_crs``), for the combined table of a job not run this time; None when there are none
    or they cannot be read (logged)."""
    if not folder.is_dir():
        return None
    try:
        return with_xy_crs(read_layer(folder, "stays")).to_crs("EPSG:4326")
    except FileNotFoundError:
        return None
    except (ValueError, OSError, RuntimeError) as exc:  # pyogrio: RuntimeErrors
        log.warning("%s: earlier stays not read: %s", folder, exc)
        return None


def _write_combined(output: Path, stays: list[gpd.GeoDataFrame], formats: Sequence[str]) -> None:
    """Write ``all_stays.csv``, and ``all_stays`` in the job's other ``formats``: every
    airport's stays (EPSG:4326, with ``xy_crs``); with none, the header and dtypes of a full
    table all the same (every stay column, typed)."""
    frames = [s for s in stays if len(s)]
    combined = (
        gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
        if frames
        else with_xy_crs(stays_frame([], "EPSG:4326"))
    )
    formats = ("csv", *(f for f in formats if f != "csv"))
    write_layers(output, {"all_stays": combined}, formats=formats, overwrite=True)
