"""``dwelltime evaluate-dwell``: stay and dwell-time quality on a synthetic series with truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.cli.options import (
    DETECTOR_OPTIONS,
    UserPath,
    airport_option,
    click_error,
    device_option,
    echo_skipped,
    flights_option,
    given_options,
    out_option,
    overwrite_option,
    precision_option,
    weights_option,
)

if TYPE_CHECKING:
    import pandas as pd

SCORES_NAME = "dwell_scores.csv"
#: metres between the nearest predicted and true stays beyond which their coordinates differ
FAR_M = 10_000.0


@click.command("evaluate-dwell")
@click.argument("series", type=UserPath(exists=True, file_okay=False))
@airport_option
@click.option(
    "--results",
    type=UserPath(exists=True),
    default=None,
    help="Score the stays of this saved dwelltime.gpkg (or its folder) instead of running "
    "the pipeline, as they are (not with --flights, --no-coregister or the detector's "
    "options).",
)
@click.option(
    "--gate",
    "max_distance_m",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Largest distance, metres, between a predicted and a true stay centre to match.",
)
@click.option(
    "--no-coregister",
    is_flag=True,
    help="Link without aligning the scenes first (to measure what co-registration brings).",
)
@flights_option
@out_option
@overwrite_option
@weights_option
@device_option
@precision_option
@click.pass_context
def evaluate_dwell(
    ctx: click.Context,
    series: Path,
    airport: str,
    results: Path | None,
    max_distance_m: float,
    no_coregister: bool,
    flights: Path | None,
    out: Path | None,
    overwrite: bool,
    weights: Path | None,
    device: str,
    precision: str,
) -> None:
    """Score stays and dwell intervals on SERIES, a folder written by `dwelltime synth`
    (imagery/, aprons.geojson, truth/).

    Runs the detector and the whole pipeline on SERIES/imagery (or reads --results), matches
    predicted stays to true ones (same airport, centres within --gate, overlapping in time)
    and prints per true type (a false positive under its predicted type): stay precision,
    recall, F1; type_acc (share of matched stays typed as their true type); coverage (share
    of matched stays whose true dwell lies in [min, max], an open max counting as +inf); the
    median |estimate − truth| in hours over stays bounded at both ends.

    \b
    Example:
      dwelltime synth series --out series/ --days 7 --seed 3
      dwelltime evaluate-dwell series/ --airport ZKPY --out series/results

    \b
    A series of your own needs, under SERIES/truth/ (times ISO 8601, UTC without offset):
      stays.csv    stay_id, aircraft_id, type, stand_id, x, y (stand point, metres in
                   the airport's UTM zone), start, end (on the stand)
      scenes.csv   scene_id (image file stem), acquired
      <scene_id>.geojson  optional: aircraft_id, stand_id, hidden per aircraft shown;
                   without any, a stay counts as observed when a scene falls within it

    With --out: the run's layers (when the pipeline ran), timeline.png and dwell_scores.csv.

    Exit status: 0 scored (inputs that could not be used are named on stderr), 1 no usable
    scene, the truth cannot be read or the outputs exist (see --overwrite), 2 bad usage
    (including --results without stays).
    """
    from dwelltime.errors import DwelltimeError
    from dwelltime.evaluation.dwell import (
        format_scores,
        load_true_stays,
        median_revisit_h,
        nearest_distance_m,
        score_stays,
    )
    from dwelltime.io import ensure_writable, write_csv
    from dwelltime.tables import counted

    unused = given_options(ctx, "flights", "no_coregister", *DETECTOR_OPTIONS)
    if results is not None and unused:
        raise click.UsageError(
            f"{', '.join(unused)}: these change how the pipeline detects or links stays; "
            "--results scores saved stays as they are. Relink them first (`dwelltime link "
            "RESULTS --flights CSV --out DIR`, then --results DIR) or leave out --results"
        )
    scores_path = None if out is None else out / SCORES_NAME
    try:
        truth = load_true_stays(series, airport)
        if scores_path is not None:
            ensure_writable([scores_path], overwrite=overwrite)
        if results is not None:
            stays, scenes = _saved(results)
            _check_airport(stays, truth, results)
        else:
            result = _run(
                ctx, series, airport, flights, not no_coregister, weights, device, precision
            )
            echo_skipped(result.errors)
            if result.scenes.empty:  # nothing to score: every true stay would read as missed
                raise click.ClickException(
                    f"no usable scene of {result.airport.icao} in {series / 'imagery'}"
                )
            stays, scenes = result.stays, result.scenes
            if out is not None:
                from dwelltime import pipeline

                for path in pipeline.write_result(result, out, overwrite=overwrite):
                    click.echo(f"wrote {path}")
    except DwelltimeError as exc:
        raise click_error(exc) from exc

    scores = score_stays(stays, truth, max_distance_m=max_distance_m)
    revisit = median_revisit_h(scenes["acquired"]) if len(scenes) else float("nan")
    observed = counted(int(truth["observed"].sum()), "observed true stay")
    click.echo(
        f"{series}: {counted(len(stays), 'predicted stay')}, {observed}, "
        f"{counted(len(scenes), 'scene')}, median revisit {revisit:.1f} h"
    )
    click.echo(format_scores(scores))
    nearest = nearest_distance_m(stays, truth)
    if nearest > FAR_M:
        click.echo(
            f"warning: every true stay is {nearest / 1000:.0f} km or more from every predicted "
            "one: are x, y of truth/stays.csv metres in the airport's UTM zone?",
            err=True,
        )
    if scores_path is not None:
        scores_path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(scores, scores_path)
        click.echo(f"wrote {scores_path}")


def _saved(results: Path):
    """Stays and scenes layers of a saved run; a usage error when they are missing."""
    from dwelltime.io import read_layer

    try:
        return read_layer(results, "stays"), read_layer(results, "scenes")
    except (ValueError, OSError, RuntimeError) as exc:  # pyogrio errors are RuntimeErrors
        raise click.BadParameter(str(exc), param_hint="--results") from exc


def _check_airport(stays: pd.DataFrame, truth: pd.DataFrame, results: Path) -> None:
    """A usage error when the saved ``stays`` are all at airports other than the truth's
    (nothing could match: every stay would be a false positive)."""
    at = sorted(set(stays["airport"].astype(str)))
    wanted = set(truth["airport"])
    if at and not wanted & set(at):
        raise click.BadParameter(
            f"{results} holds stays at {', '.join(at)}, none at {', '.join(sorted(wanted))}; "
            "give the airport of that run",
            param_hint="--airport",
        )


def _run(
    ctx: click.Context,
    series: Path,
    airport: str,
    flights: Path | None,
    coregister: bool,
    weights: Path | None,
    device: str,
    precision: str,
):
    """The pipeline over SERIES/imagery with the series' aprons."""
    from dwelltime import pipeline
    from dwelltime.cli.progress import stage_bars
    from dwelltime.detector import load_detector

    aprons = series / "aprons.geojson"
    detector = load_detector(weights, device=device, precision=precision)
    with stage_bars(ctx) as progress:
        return pipeline.run(
            series / "imagery",
            airport,
            aprons=aprons if aprons.is_file() else None,
            detector=detector,
            coregister=coregister,
            flights=flights,
            progress=progress,
        )
