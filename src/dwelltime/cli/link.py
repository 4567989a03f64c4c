"""``dwelltime link``: relink saved detections into stays, without running the detector."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.cli.options import (
    flights_option,
    formats_option,
    out_option,
    overwrite_option,
    quiet,
    type_option,
)

if TYPE_CHECKING:
    import pandas as pd

TIMELINE_NAME = "timeline.png"


@click.command()
@click.argument(
    "detections_path", metavar="DETECTIONS", type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--coverage",
    "coverage_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="GeoPackage holding the 'coverage' layer. Default: the DETECTIONS file itself.",
)
@type_option
@click.option(
    "--max-misses",
    type=click.IntRange(min=0),
    default=None,
    help="Consecutive missed detections (stand visible, aircraft not found) a stay survives. "
    "Default 1.",
)
@click.option(
    "--max-gap",
    "max_gap_h",
    type=click.FloatRange(min=0),
    default=None,
    help="Hours between two sightings beyond which they are different stays; 0 for no limit. "
    "Default 72.",
)
@click.option(
    "--link-moves",
    is_flag=True,
    help="Join a stay that ends with one of the same type starting at the next scene on "
    "another stand (a towed aircraft). Default: a tow starts a new stay.",
)
@click.option(
    "--prior-strength",
    metavar="STAYS|none",
    default=None,
    help="Weight, in stays, that the log-uniform prior keeps in the dwell estimate's prior "
    "fitted to this airport's stays; 'none' for the log-uniform prior alone. Default 2.",
)
@flights_option
@out_option
@formats_option
@overwrite_option
@click.pass_context
def link(
    ctx: click.Context,
    detections_path: Path,
    coverage_path: Path | None,
    type_filter: str | None,
    max_misses: int | None,
    max_gap_h: float | None,
    link_moves: bool,
    prior_strength: str | None,
    flights: pd.DataFrame | None,
    out: Path | None,
    formats: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Link the saved detections of DETECTIONS (a dwelltime.gpkg, or its folder) into stays.

    Reads the 'detections' and 'coverage' layers written by `dwelltime run` or `detect`,
    links sightings across dates into stays, prints each stay's dwell interval (UTC times,
    hours; "≥" marks a stay whose arrival or departure the images do not show) and, with
    --out, writes the coverage, detections and stays layers plus timeline.png and run.json
    (the detector record of the run.json beside DETECTIONS, when there is one, with these
    linking settings). --type only filters what is printed and drawn; every stay is written.

    \b
    Example:
      dwelltime link results/dwelltime.gpkg --type IL62 --out relinked/

    Exit status: 0 done, 1 outputs exist (see --overwrite), 2 bad usage (including a missing
    or unreadable layer).
    """
    import dataclasses

    from dwelltime import __version__
    from dwelltime.cli.progress import stage_bars
    from dwelltime.errors import DwelltimeError
    from dwelltime.flights import tighten_with_flights
    from dwelltime.io import (
        PROVENANCE_NAME,
        atomic_write,
        ensure_writable,
        layer_names,
        output_paths,
        read_provenance,
        write_layers,
        write_provenance,
    )
    from dwelltime.linking import LinkConfig, dwell_priors, for_coregistered, link_stays
    from dwelltime.pipeline import link_provenance
    from dwelltime.report import of_type, plot_timeline, stays_table

    single_layer = detections_path.is_file() and detections_path.suffix.lower() != ".gpkg"
    if single_layer and coverage_path is None:
        raise click.BadParameter(
            f"{detections_path} holds one layer; give the coverage with --coverage",
            param_hint="--coverage",
        )
    detections = _read(detections_path, "detections", "DETECTIONS")
    coverage = _read(coverage_path or detections_path, "coverage", "--coverage")
    if detections.crs is not None and detections.crs.is_geographic:
        raise click.BadParameter(
            f"{detections_path}: detections are in {detections.crs.to_string()} (degrees); "
            "linking needs the airport's metric CRS (UTM), as written by `dwelltime run`",
            param_hint="DETECTIONS",
        )
    if coverage.crs != detections.crs and coverage.crs is not None:
        coverage = coverage.to_crs(detections.crs)

    overrides = {"max_visible_misses": max_misses, "link_moves": link_moves or None}
    config = dataclasses.replace(
        LinkConfig(), **{k: v for k, v in overrides.items() if v is not None}
    )
    if max_gap_h is not None:
        config = dataclasses.replace(config, max_gap_h=max_gap_h or None)
    if prior_strength is not None:
        config = dataclasses.replace(config, prior_strength=_strength(prior_strength))
    source = detections_path if detections_path.is_dir() else detections_path.parent
    record = {
        **read_provenance(source),
        "dwelltime": __version__,
        "relinked_from": str(detections_path),
        **link_provenance(config, flights=flights is not None, type_filter=type_filter),
    }
    if not single_layer and "scenes" in layer_names(detections_path):
        scenes = _read(detections_path, "scenes", "DETECTIONS")
        config = for_coregistered(config, scenes)  # as `dwelltime run` linked them

    layers = {"coverage": coverage, "detections": detections}
    timeline = None if out is None else out / TIMELINE_NAME
    if out is not None:
        try:
            targets = [*output_paths(out, [*layers, "stays"], formats), timeline]
            ensure_writable([*targets, out / PROVENANCE_NAME], overwrite=overwrite)
        except DwelltimeError as exc:
            raise click.ClickException(str(exc)) from exc

    with stage_bars(disable=quiet(ctx)) as progress:
        stays = link_stays(
            detections, coverage, config, progress=lambda d, n: progress("link", d, n)
        )
    if flights is not None:
        stays = tighten_with_flights(stays, flights, dwell_priors(stays, coverage, config))
    click.echo(
        f"{len(detections)} detections in {coverage['scene_id'].nunique()} scenes → "
        f"{len(stays)} stays"
    )
    click.echo(stays_table(stays, type_filter))
    if out is None:
        return
    try:
        paths = write_layers(out, {**layers, "stays": stays}, formats=formats, overwrite=overwrite)
    except DwelltimeError as exc:
        raise click.ClickException(str(exc)) from exc
    figure = plot_timeline(of_type(stays, type_filter), coverage, detections, config=config)
    with atomic_write(timeline) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    for path in [*paths, timeline, write_provenance(out, record)]:
        click.echo(f"wrote {path}")


def _read(path: Path, layer: str, hint: str):
    """One layer of a dwelltime GeoPackage; a clear usage error when it is not there."""
    from dwelltime.io import read_layer

    try:
        return read_layer(path, layer)
    except (ValueError, OSError, RuntimeError) as exc:  # pyogrio errors are RuntimeErrors
        raise click.BadParameter(str(exc), param_hint=hint) from exc


def _strength(text: str) -> float | None:
    """``--prior-strength``: a number of stays (≥ 0), or None for 'none'."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise click.BadParameter(
            f"{text!r}: give a number of stays (0 or more) or 'none'", param_hint="--prior-strength"
        )
    return value
