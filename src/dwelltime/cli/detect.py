"""``dwelltime detect``: aircraft in single images, one row per aircraft."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.cli.options import (
    UserPath,
    aprons_option,
    batch_size_option,
    click_error,
    detector_line,
    device_option,
    formats_option,
    known_airport,
    out_option,
    overwrite_option,
    precision_option,
    strict_option,
    tile_size_option,
    warnings_held,
    weights_option,
)

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=UserPath(exists=True))
@click.option(
    "--gsd",
    "gsd_m",
    type=click.FloatRange(min=0.05, max=10.0),
    default=None,
    help="Ground sample distance (metres/pixel) of plain images with no georeference "
    "(JPEG/PNG). Their footprints are written in pixel coordinates of the original image.",
)
@click.option(
    "--airport",
    "airport",
    default=None,
    callback=known_airport,
    help="ICAO/IATA code: detect only over this airport's aprons (--aprons; default the 3 km "
    "square around its reference point; georeferenced images; one that misses them is skipped "
    "with a warning saying how far it is). Default: the whole image, in the UTM zone of its "
    "centre.",
)
@aprons_option
@tile_size_option
@batch_size_option
@weights_option
@device_option
@precision_option
@out_option
@formats_option
@overwrite_option
@strict_option
@click.pass_context
def detect(
    ctx: click.Context,
    paths: tuple[Path, ...],
    gsd_m: float | None,
    airport: str | None,
    aprons: Path | tuple[Path, str] | None,
    tile_size: int,
    batch_size: int,
    weights: Path | None,
    device: str,
    precision: str,
    out: Path | None,
    formats: tuple[str, ...],
    overwrite: bool,
    strict: bool,
) -> None:
    """Find aircraft in the images PATH... (files, folders or STAC ItemCollection JSON files):
    footprint, heading, length, span, type and score, one row per aircraft with the image it
    came from.

    Georeferenced images (GeoTIFF, JPEG 2000, NITF; PNG/JPEG with a world file and a CRS)
    are tiled at the detector's GSD and give footprints in the local UTM CRS (layer
    "detections"; one layer per CRS when they differ). Plain images need --gsd; they are
    resampled to the detector's GSD and give footprints in (column, row) pixels of the
    original image (layer "detections_pixels", no CRS, so written in every format but GeoJSON,
    which is lon/lat: CSV instead when it is the only format). Source imagery coarser than
    1.5 m is not typed (type "unknown", size class still given).

    \b
    Examples:
      dwelltime detect scene.tif --out det/
      dwelltime detect apron.jpg --gsd 0.5 --out det/

    With --out, each image's detections are kept in DIR/parts/ as soon as it is finished:
    the same command started again after the run was killed (or stopped by Ctrl-C, then
    with --overwrite) detects only the images not kept there (same file, settings, --gsd,
    airport and aprons, and the same world file, .prj or .aux.xml beside it). parts/ is
    removed once the detections are written.

    Ctrl-C stops it after writing the images finished so far to --out (run.json says the
    run was interrupted and lists the images done and left).

    If --out cannot take them at the end (removed or made read-only during the run), the
    detections go to a temporary folder that the last line names, and the status is 1.

    Exit status: 0 done (unusable images are listed on stderr), 1 no usable image,
    --strict with unusable ones or --out not written, 2 bad usage, 130 interrupted (Ctrl-C).
    """

    from dwelltime.airports import airport_and_aprons
    from dwelltime.cli import KEPT
    from dwelltime.cli.progress import Counted, progress_bar
    from dwelltime.detector import load_detector
    from dwelltime.detector.images import (
        collect,
        detect_image,
        image_scene,
        image_sidecars,
        image_tile_count,
        input_scene_ids,
    )
    from dwelltime.errors import DwelltimeError, SceneError, UnknownAirportError, error_text
    from dwelltime.io import PROVENANCE_NAME, ensure_writable
    from dwelltime.pipeline import detect_provenance
    from dwelltime.store import PARTS_NAME, SceneStore, image_stamp, made_by

    if aprons is not None and airport is None:
        raise click.UsageError("--aprons needs --airport (the airport they belong to)", ctx=ctx)
    try:
        if out is not None:  # before the work: a folder that cannot take it, an earlier run's
            ensure_writable([out / PROVENANCE_NAME], overwrite=overwrite)
        # read once, before the work: a bad apron file is one error, not one per image
        site, apron_frame = airport_and_aprons(airport, aprons) if airport else (None, None)
        detector = load_detector(weights, device=device, precision=precision)
    except UnknownAirportError as exc:  # a code the registry lacks, without --aprons
        raise click.BadParameter(str(exc), param_hint="'--airport'") from exc
    except DwelltimeError as exc:  # output folder, aprons, weights, device, precision
        raise click_error(exc) from exc
    click.echo(detector_line(detector))
    files, unusable = collect(paths)
    ids = input_scene_ids(files)
    for exc in unusable:
        click.echo(f"skipped {exc}", err=True)
    # each image finished is committed to --out's parts/ (a killed run keeps them); those
    # committed by an earlier run from the same file by the same settings are not detected
    parts = None if out is None else out / PARTS_NAME  # made at the first commit
    where = {"gsd_m": gsd_m, "airport": site.icao if site else None}
    made = {**made_by(detector, tile_size, apron_frame), **where}
    stamps = {} if parts is None else {p: image_stamp(p, image_sidecars(p), made) for p in files}
    committed = SceneStore(out).stamps() if parts is not None and parts.is_dir() else {}
    reused = {path for path, stamp in stamps.items() if committed.get(ids[path]) == stamp}
    if reused:
        log.info(
            "%d of %d images' detections reused from %s (committed by an earlier run)",
            len(reused),
            len(files),
            parts,
        )
    frames: list[gpd.GeoDataFrame] = []
    done: list[Path] = []
    skipped = 0
    try:  # Ctrl-C anywhere in the loop: the images finished are written below, then it stops
        # what the tiles of an image are made of, counted and detected alike
        tiling = {"gsd_m": gsd_m, "airport": site, "aprons": apron_frame, "tile_size": tile_size}
        # each georeferenced image's header read once, for counting and detecting (6 s for
        # a 16000² GeoTIFF); its warnings said here
        scenes = {path: image_scene(path, ids[path]) for path in files if path not in reused}
        with warnings_held():  # the bar's total, for its time estimate; detection warns
            counted = {
                path: image_tile_count(path, detector, **tiling, scene=scene)
                for path, scene in scenes.items()
            }
        with progress_bar(ctx, unit="tile", desc="detect", total=sum(counted.values())) as bar:
            tiles = Counted(bar)
            for n, path in enumerate(files):
                before, start = tiles.n, time.perf_counter()
                try:
                    if path in reused:  # committed by an earlier run: read back, not detected
                        frame = SceneStore(out).detections(ids[path]).assign(image=str(path))
                    else:
                        frame = detect_image(
                            path,
                            detector,
                            **tiling,
                            batch_size=batch_size,
                            progress=tiles,
                            scene_id=ids[path],
                            scene=scenes[path],
                        )
                except Exception as exc:  # SceneError among them; any other named, as `run` does
                    if not isinstance(exc, DwelltimeError):
                        exc = SceneError(path, error_text(exc))
                    skipped += 1
                    with bar.external_write_mode():  # the bar wiped, then redrawn under it
                        click.echo(f"skipped {exc}", err=True)
                    continue
                finally:  # tiles counted but not read: an image skipped, windows without data
                    tiles.drop(counted.get(path, 0) - (tiles.n - before))
                if parts is not None and path not in reused:
                    parts = _commit(parts, ids[path], frame, stamps[path])
                frames.append(frame)
                done.append(path)
                with bar.external_write_mode():
                    _echo_done(path, frame)
                if bar.disable:  # no bar (stderr is no terminal): a line per image, as batch.log's
                    log.info(
                        "%s done, %d tiles in %.1f s (%d of %d images)",
                        path,
                        tiles.n - before,
                        time.perf_counter() - start,
                        n + 1,
                        len(files),
                    )
        left: list[Path] = []
    except KeyboardInterrupt:
        left = files[len(frames) + skipped :]  # in order: each file is done or skipped
    failed = len(unusable) + skipped
    if not frames and not left:
        raise click.ClickException(f"no usable image among {len(files) + len(unusable)} input(s)")
    if gsd_m is not None and frames and all(frame.crs is not None for frame in frames):
        click.echo(
            "--gsd not used: it is for images without georeference, and every image detected "
            "is georeferenced (detected at its own GSD, which the file gives)",
            err=True,
        )
    problem = ""  # why --out could not take the detections, written to a temporary folder
    if out is not None and frames:
        try:
            record = detect_provenance(
                detector,
                tile_size,
                images=done,
                left=left,
                gsd_m=gsd_m,
                airport=site.icao if site else None,
                aprons=aprons,
                apron_frame=apron_frame,
            )
        except DwelltimeError as exc:
            raise click_error(exc) from exc
        try:
            written = _write(out, frames, record, formats=formats, overwrite=overwrite)
        except DwelltimeError as exc:  # --out removed, made read-only… during the run
            problem = click_error(exc).format_message()
            out = Path(tempfile.mkdtemp(prefix="dwelltime-detect-"))
            try:
                written = _write(out, frames, record, formats=formats, overwrite=False)
            except DwelltimeError as again:
                raise click.ClickException(f"{problem}; nor in {out}: {again}") from again
        for path in written:
            click.echo(f"wrote {path}")
        if not left and not problem:  # the layers hold them all now
            shutil.rmtree(out / PARTS_NAME, ignore_errors=True)
    if left:
        kept = _kept_on_interrupt(out, len(done), len(left))
        ctx.meta[KEPT] = f"{problem}; {kept}" if problem else kept
        raise KeyboardInterrupt  # the group prints what is kept (ctx.meta[KEPT]), exit 130
    click.echo(
        f"{sum(len(f) for f in frames)} aircraft in {len(frames)} image(s), {failed} skipped"
    )
    if problem:
        raise click.ClickException(
            f"{problem}; the detections of the {len(done)} image(s) are written to {out} instead"
        )
    if strict and failed:
        raise click.ClickException(f"{failed} input(s) could not be used (--strict)")


def _write(
    folder: Path,
    frames: list[gpd.GeoDataFrame],
    record: dict[str, object],
    *,
    formats: tuple[str, ...],
    overwrite: bool,
) -> list[Path]:
    """Write the detections ``frames`` (a layer per CRS) and their run.json ``record`` to
    ``folder``; the paths written. DwelltimeError when the folder cannot take them."""
    from dwelltime.detector.images import group_layers
    from dwelltime.io import write_layers, write_provenance

    # exclusive: the whole output, as run.json describes it (--overwrite drops an earlier
    # output's other layers there, which run.json would not describe)
    layers = group_layers(frames)
    written = write_layers(folder, layers, formats=formats, overwrite=overwrite, exclusive=True)
    written.append(write_provenance(folder, record))
    return written


def _commit(parts: Path, scene_id: str, frame: gpd.GeoDataFrame, stamp: str) -> Path | None:
    """Commit an image's detections ``frame`` to the ``parts`` folder of --out
    (:class:`~dwelltime.store.SceneStore`); the folder to commit the next image to: None
    once this one could not be (--out removed or made read-only during the run: said once;
    the detections are still written at the end, elsewhere if need be)."""
    from dwelltime.errors import DwelltimeError
    from dwelltime.store import SceneStore

    try:
        SceneStore(parts.parent).commit(scene_id, None, frame, stamp)
    except (DwelltimeError, OSError) as exc:
        log.warning("%s; the images finished are no longer kept as they are done", exc)
        return None
    return parts


def _echo_done(path: Path, frame: gpd.GeoDataFrame) -> None:
    """The line saying how many aircraft ``path`` has, and in what frame their footprints are."""
    where = (
        "x, y and footprints in (column, row) pixels of the image, sizes in metres"
        if frame.crs is None
        else f"footprints in {frame.crs.to_string()}"
    )
    click.echo(f"{path}: {len(frame)} aircraft; {where}")


def _kept_on_interrupt(out: Path | None, done: int, left: int) -> str:
    """What the line printed on Ctrl-C says ``detect`` keeps: the detections of the ``done``
    images finished, written to ``out`` (None: not written), ``left`` not detected."""
    if not done:
        return "no image was finished, so nothing is written"
    if out is None:
        return (
            f"{done} image(s) finished, not written: with --out DIR the images finished are "
            "written when it is stopped"
        )
    return (
        f"the {done} image(s) finished are written to {out}; its run.json lists them and the "
        f"{left} not detected; the same command with --overwrite detects only those"
    )
