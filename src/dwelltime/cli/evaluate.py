"""``dwelltime evaluate``: score the detector (or saved detections) on labelled imagery."""

from __future__ import annotations

from pathlib import Path

import click

from dwelltime.cli.options import (
    DETECTOR_OPTIONS,
    UserPath,
    batch_size_option,
    click_error,
    detector_line,
    device_option,
    given_options,
    overwrite_option,
    precision_option,
    read_output_layer,
    tile_size_option,
    weights_option,
)


@click.command()
@click.argument("folder", type=UserPath(exists=True, file_okay=False))
@click.option(
    "--detections",
    type=UserPath(exists=True, dir_okay=False),
    default=None,
    help="Score these saved detections instead of running the detector: a dwelltime.gpkg "
    "(its 'detections' layer, or its one detections_* layer, e.g. `detect`'s "
    "detections_pixels) or a GeoJSON/CSV/Parquet file with the detection columns; "
    "scene_id = image file stem (a labelled image none names is scored as all missed, "
    "and named). Threshold: the one recorded in the run.json beside it.",
)
@click.option(
    "--axis-aligned/--oriented",
    default=None,
    help="Compare axis-aligned boxes (around each footprint's fuselage and wing, as box labels "
    "are drawn) or oriented footprints. Default: axis-aligned when every label is a box-only "
    "Airbus annotations.csv, else oriented.",
)
@click.option(
    "--score-threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Operating threshold for precision/recall. Default: the model card's (with "
    "--detections: the one recorded with them), else 0.5.",
)
@click.option(
    "--gsd",
    "gsd_m",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Metres per pixel of images without georeference or a DOTA 'gsd:' line. Default "
    "with --detections: the --gsd recorded in the run.json beside them by `dwelltime detect`.",
)
@tile_size_option
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=128,
    show_default=True,
    help="Tile overlap in pixels at the detector's GSD (less than --tile-size).",
)
@batch_size_option
@click.option(
    "--out",
    type=UserPath(file_okay=False),
    default=None,
    help="Folder for the tables: evaluation.json, overall.csv, by_gsd.csv, by_type.csv, "
    "misses.csv (each missed truth object, where it is and how close a prediction came) and "
    "false_positives.csv (each prediction at the threshold that found no aircraft); "
    "image_id: the image's path under FOLDER without its suffix.",
)
@overwrite_option
@weights_option
@device_option
@precision_option
@click.pass_context
def evaluate(
    ctx: click.Context,
    folder: Path,
    detections: Path | None,
    axis_aligned: bool | None,
    score_threshold: float | None,
    gsd_m: float | None,
    tile_size: int,
    overlap: int,
    batch_size: int,
    out: Path | None,
    overwrite: bool,
    weights: Path | None,
    device: str,
    precision: str,
) -> None:
    """Detection quality on labelled images under FOLDER: AP50/AP75 (oriented IoU; box IoU for
    Airbus box labels, see --axis-aligned), precision, recall and F1 at the shipped threshold,
    best F1, type accuracy, size and heading errors, by GSD and by type.

    \b
    Labels are found per image D/S.ext (first match wins):
      DOTA txt   D/S.txt, D/labels/S.txt,
                 FOLDER/{labels,labelTxt,truth/dota,truth}/S.txt,
                 FOLDER/../{labels,labelTxt,truth/dota,truth}/S.txt
      GeoJSON    the same places with S.geojson (truth/geojson instead of truth/dota,
                 no labelTxt); map footprints, the image must be georeferenced;
                 the type property: type, aircraft_type or class (any case)
      Airbus     annotations.csv in FOLDER or FOLDER/.. listing the file name;
                 its Truncated_airplane boxes (cut by the image edge) count as aircraft
    DOTA lines of other categories (ship, small-vehicle, helicopter, …) are not truth.
    Types are compared as ICAO designators (a320, Il-62 read as A320, IL62).
    Images without labels are reported and skipped.
    Images are scored in their own pixels: a georeferenced one whose pixels are not
    square on the ground (lon/lat away from the equator) is skipped with the gdalwarp
    line that squares them.

    Exit status: 0 scored (images that could not be scored are named on stderr), 1 no
    labelled image could be scored or the tables exist (see --overwrite), 2 bad usage.
    """
    import math
    from collections import Counter

    from dwelltime.cli.progress import progress_bar
    from dwelltime.errors import DwelltimeError
    from dwelltime.evaluation.dataset import (
        check_saved_detections,
        image_id,
        image_info,
        load_truth,
        saved_detections,
        stems_without_detections,
    )
    from dwelltime.evaluation.labels import find_labelled_images
    from dwelltime.evaluation.objects import EvalImage
    from dwelltime.evaluation.predict import (
        lower_score_floor,
        predict_image,
        recorded_gsd,
        recorded_threshold,
        shipped_threshold,
    )
    from dwelltime.evaluation.summary import (
        evaluate_images,
        evaluation_paths,
        format_evaluation,
        write_evaluation,
    )
    from dwelltime.io import ensure_writable
    from dwelltime.regrid import read_rgb
    from dwelltime.tables import few

    if overlap >= tile_size:
        raise click.BadParameter("must be smaller than --tile-size", param_hint="--overlap")
    unused = given_options(ctx, *DETECTOR_OPTIONS, "tile_size", "overlap", "batch_size")
    if detections is not None and unused:
        raise click.UsageError(
            f"{', '.join(unused)}: the detector does not run with --detections, which scores "
            "the saved detections as they are; leave out one or the other"
        )
    found = find_labelled_images(folder)
    for path in found.unlabelled:
        click.echo(f"{path}: no labels found; skipped", err=True)
    if found.unused:
        names = few([str(p) for p in found.unused])
        click.echo(
            f"{len(found.unused)} label file(s) have no image of their name under {folder}, "
            f"not scored: {names}",
            err=True,
        )
    if not found.images:
        raise click.ClickException(
            f"no labelled images under {folder}: put DOTA txt, GeoJSON or an Airbus "
            "annotations.csv where `dwelltime evaluate --help` says"
        )
    boxes = sum(item.kind == "airbus_csv" for item in found.images)
    if axis_aligned is None:
        axis_aligned = boxes == len(found.images)
        if not axis_aligned and boxes:
            click.echo(
                f"{boxes} of the {len(found.images)} labelled images have Airbus labels "
                "(axis-aligned boxes), scored with oriented IoU as the others: consider "
                "--axis-aligned, or score them apart",
                err=True,
            )

    try:
        if out is not None:  # before the work: a folder that cannot take it, earlier tables
            ensure_writable(evaluation_paths(out), overwrite=overwrite)
        if detections is not None:
            frame = read_output_layer(detections, _detections_layer(detections), "--detections")
            labelled = [item.image.stem for item in found.images]
            check_saved_detections(frame, labelled, detections)
            if empty := stems_without_detections(frame, labelled):
                click.echo(
                    f"{len(empty)} of the {len(set(labelled))} labelled images have no detection "
                    f"in {detections}, scored as finding nothing there: {few(empty)} (were "
                    "they detected?)",
                    err=True,
                )
            threshold, source = recorded_threshold(detections)
            detector = None
            if gsd_m is None and (recorded := recorded_gsd(detections)):
                gsd_m = recorded[0]
                click.echo(
                    f"GSD {gsd_m:g} m for the images without georeference: the --gsd "
                    f"`dwelltime detect` was given ({recorded[1]}); pass --gsd to change it",
                    err=True,
                )
        else:
            from dwelltime.detector import load_detector

            detector = load_detector(weights, device=device, precision=precision)
            threshold, source = shipped_threshold(weights)
            lower_score_floor(detector)
            click.echo(detector_line(detector))
    except DwelltimeError as exc:
        raise click_error(exc) from exc
    if score_threshold is not None:
        threshold, source = score_threshold, "given"

    stems = Counter(item.image.stem for item in found.images)
    images, airbus = [], {}
    for item in progress_bar(ctx, iterable=found.images, desc="evaluate", unit="image"):
        if detector is None and stems[item.image.stem] > 1:
            click.echo(
                f"{item.image}: {stems[item.image.stem]} labelled images have the file stem "
                f"{item.image.stem!r}, and saved detections name their image by stem; skipped",
                err=True,
            )
            continue
        try:
            info = image_info(item.image, gsd_m=gsd_m)
            truth, gsd = load_truth(item, info, airbus)
            if not math.isfinite(gsd):
                taken = (
                    f"taken as the detector's {detector.gsd_m:g} m, "
                    if detector is not None
                    else ""
                )
                why, lost = (
                    ("no georeference", "binned as GSD 'unknown'")  # boxes: no sizes to score
                    if item.kind == "airbus_csv"
                    else ("no georeference, no DOTA 'gsd:' line", "sizes not scored")
                )
                click.echo(
                    f"{item.image}: GSD unknown ({why}); {taken}{lost}; pass --gsd", err=True
                )
            if detector is None:
                preds = saved_detections(frame, item.image.stem, info)
            else:
                preds = predict_image(
                    detector,
                    read_rgb(item.image),
                    gsd,
                    tile_px=tile_size,
                    overlap_px=overlap,
                    batch_size=batch_size,
                )
        except DwelltimeError as exc:
            click.echo(f"{exc}; skipped", err=True)
            continue
        size = (info.width, info.height)
        images.append(EvalImage(image_id(item.image, folder), gsd, truth, preds, size))

    if not images:
        raise click.ClickException(
            f"none of the {len(found.images)} labelled images under {folder} could be scored "
            "(each is named above with why)"
        )
    result = evaluate_images(
        images, score_threshold=threshold, threshold_source=source, axis_aligned=axis_aligned
    )
    click.echo(format_evaluation(result))
    if out is not None:
        try:
            paths = write_evaluation(result, out, overwrite=overwrite)
        except DwelltimeError as exc:
            raise click_error(exc) from exc
        click.echo(f"tables written to {paths[0].parent}")


def _detections_layer(path: Path) -> str:
    """The layer of saved detections to score in ``path``: "detections", else the one
    ``detections_*`` layer of a GeoPackage (as `dwelltime detect` names them); a usage error
    listing them when there are several."""
    if path.suffix.lower() != ".gpkg":
        return "detections"  # one-layer files: the name is not used
    from dwelltime.io import layer_names

    names = layer_names(path)
    found = [n for n in names if n.startswith("detections_")]
    if "detections" in names or not found:
        return "detections"  # read_output_layer names the layers there when it is missing
    if len(found) > 1:
        raise click.BadParameter(
            f"{path} holds several detections layers {found}; keep one (e.g. ogr2ogr "
            "-sql 'SELECT * FROM <layer>') or score each image set apart",
            param_hint="--detections",
        )
    return found[0]
