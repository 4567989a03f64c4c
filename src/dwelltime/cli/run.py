"""``dwelltime run``: the whole job on a folder of imagery."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.cli import KEPT
from dwelltime.cli.options import (
    MAX_ROWS,
    UserPath,
    airport_option,
    aprons_option,
    batch_size_option,
    click_error,
    detector_line,
    device_option,
    echo_skipped,
    figure_format_option,
    flights_option,
    formats_option,
    link_options,
    max_rows_option,
    more_stays,
    out_option,
    overwrite_option,
    precision_option,
    strict_option,
    terminal_width,
    tile_size_option,
    times_option,
    type_option,
    weights_option,
)

if TYPE_CHECKING:
    from dwelltime.linking import LinkConfig


def run_and_report(
    ctx: click.Context,
    folder: Path,
    airport: str,
    *,
    aprons: Path | tuple[Path, str] | None,
    type_filter: str | None,
    out: Path | None,
    formats: tuple[str, ...],
    overwrite: bool,
    weights: Path | None,
    device: str,
    precision: str,
    strict: bool,
    flights: Path | None = None,
    times: Path | None = None,
    link_config: LinkConfig | None = None,
    max_rows: int = MAX_ROWS,
    tile_size: int = 512,
    batch_size: int = 8,
    figure_format: str = "png",
) -> None:
    """Run the pipeline (tiles of ``tile_size`` pixels, ``batch_size`` to a forward pass),
    print the detector line (weights, the precision ``auto`` chose, device) once the
    pipeline has checked the inputs and described the detector (loaded only when a scene is
    not already committed under ``out``), the stays table
    (at most ``max_rows`` rows; 0: all), write outputs (figures as ``figure_format``); exit 1
    on failure."""
    from dwelltime import pipeline
    from dwelltime.cli.progress import stage_bars
    from dwelltime.detector import DetectorPlan
    from dwelltime.errors import DwelltimeError, UnknownAirportError
    from dwelltime.io import ensure_writable
    from dwelltime.report import stays_report
    from dwelltime.store import PARTS_NAME

    def announce(made: dict[str, object]) -> None:
        """The detector line, once the pipeline has checked the inputs and described it."""
        click.echo(detector_line(made))

    detector = DetectorPlan(weights, device=device, precision=precision, announce=announce)
    try:
        if out is not None:
            targets = pipeline.result_paths(out, formats, figure_format)
            ensure_writable(targets, overwrite=overwrite)
        with stage_bars(ctx) as progress:
            result = pipeline.run(
                folder,
                airport,
                aprons=aprons,
                type_filter=type_filter,
                detector=detector,
                link_config=link_config,
                tile_size_px=tile_size,
                batch_size=batch_size,
                flights=flights,
                times=times,
                resume_dir=out,
                progress=progress,
            )
    except UnknownAirportError as exc:
        raise click.BadParameter(str(exc), param_hint="--airport") from exc
    except DwelltimeError as exc:
        raise click_error(exc) from exc

    echo_skipped(result.errors)
    click.echo(result.summary())
    if result.scenes.empty:  # no table to print, no empty files to block the next run's --out
        if out is not None:
            shutil.rmtree(out / PARTS_NAME, ignore_errors=True)  # no scene was committed
        raise click.ClickException(f"no usable scene of {result.airport.icao} in {folder}")
    click.echo(
        stays_report(
            result.stays,
            result.detections,
            result.link_config,
            type_filter=type_filter,
            flights=flights is not None,
            max_rows=max_rows or None,
            more=more_stays(out),
            width=terminal_width(),
        )
    )
    if out is not None:
        try:
            paths = pipeline.write_result(
                result, out, formats=formats, figure_format=figure_format, overwrite=overwrite
            )
        except DwelltimeError as exc:
            raise click_error(exc) from exc
        for path in paths:
            click.echo(f"wrote {path}")
        shutil.rmtree(out / PARTS_NAME, ignore_errors=True)  # the result holds them all now
    if strict and result.errors:
        raise click.ClickException(f"{len(result.errors)} input(s) failed (--strict)")


@click.command()
@click.argument("folder", type=UserPath(exists=True))
@airport_option
@aprons_option
@type_option
@out_option
@formats_option
@figure_format_option
@overwrite_option
@weights_option
@device_option
@precision_option
@tile_size_option
@batch_size_option
@strict_option
@max_rows_option
@link_options
@flights_option
@times_option
@click.pass_context
def run(ctx: click.Context, folder: Path, **options: object) -> None:
    """Find aircraft in every image of FOLDER and estimate how long each stayed.

    Scans FOLDER (or a STAC ItemCollection JSON; see dwelltime scan) for images, tiles the
    aprons of the airport at the detector's resolution, detects aircraft, links them across
    dates into stays and prints each stay's dwell interval: at least dwell_min hours, at most
    dwell_max hours (open when the images do not show the arrival or the departure).

    \b
    Example:
      dwelltime run images/ --airport ZKPY --type IL62 --out results/

    Exit status: 0 done (inputs that could not be used are listed on stderr), 1 nothing
    usable or --strict with failed inputs, 2 bad usage.
    """
    ctx.meta[KEPT] = kept_on_interrupt(options["out"])
    run_and_report(ctx, folder, options.pop("airport"), **options)


def kept_on_interrupt(out: Path | None) -> str:
    """What the line printed on Ctrl-C says ``run`` keeps: with ``--out``, the scenes finished
    so far, in that folder's ``parts/``, named; without it, nothing."""
    from dwelltime.store import PARTS_NAME

    if out is None:
        return "nothing is kept without --out: with --out DIR each scene is kept as it is finished"
    return (
        f"the scenes finished so far are kept in {out / PARTS_NAME}: run it again with "
        f"--out {out} to go on where it stopped"
    )
