"""``dwelltime link``: relink saved detections into stays, without running the detector."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.cli.options import (
    UserPath,
    click_error,
    figure_format_option,
    flights_option,
    formats_option,
    link_options,
    max_rows_option,
    more_stays,
    out_option,
    overwrite_option,
    read_output_layer,
    terminal_width,
    type_option,
)

if TYPE_CHECKING:
    from dwelltime.linking import LinkConfig


@click.command()
@click.argument("detections_path", metavar="DETECTIONS", type=UserPath(exists=True))
@click.option(
    "--coverage",
    "coverage_path",
    type=UserPath(exists=True),
    default=None,
    help="GeoPackage holding the 'coverage' layer. Default: the DETECTIONS file itself.",
)
@type_option
@max_rows_option
@link_options
@flights_option
@out_option
@formats_option
@figure_format_option
@overwrite_option
@click.pass_context
def link(
    ctx: click.Context,
    detections_path: Path,
    coverage_path: Path | None,
    type_filter: str | None,
    max_rows: int,
    link_config: LinkConfig,
    flights: Path | None,
    out: Path | None,
    formats: tuple[str, ...],
    figure_format: str,
    overwrite: bool,
) -> None:
    """Link the saved detections of DETECTIONS (a dwelltime.gpkg, or its folder; a folder
    written with --format csv or parquet is read from those files) into stays.

    Reads the 'detections' and 'coverage' layers written by `dwelltime run` (`detect`
    writes no coverage, which says what each image saw empty), links sightings across dates
    into stays, prints each stay's dwell interval (UTC times, hours; "≥" marks a stay whose
    arrival or departure the images do not show) and, with --out, writes the coverage,
    detections and stays layers (and the scenes layer of DETECTIONS when it has one, so
    `evaluate-dwell --results` can score them), plus timeline.png (or .svg, .pdf: see
    --figure-format; with --overwrite, one in another format is removed) and run.json (the
    detector record and inputs of the run.json beside DETECTIONS, when there is one, with
    these linking settings). With --type, only the stays of that type are printed, drawn
    and written (all aircraft are still linked, and the detections written are all of them).
    Linking settings, flight log or type filter that differ from that run.json's are named
    in a note on stderr: with the run's own, the stays are the run's.

    \b
    Example:
      dwelltime link results/dwelltime.gpkg --type IL62 --out relinked/

    Exit status: 0 done, 1 outputs exist (see --overwrite), 2 bad usage (including a missing
    or unreadable layer).
    """
    from dwelltime import __version__
    from dwelltime.airports import icao_code, lookup_airport
    from dwelltime.cli.progress import stage_bars
    from dwelltime.errors import DwelltimeError
    from dwelltime.flights import read_flights, warn_if_not_at
    from dwelltime.formats import FIGURE_DPI, FIGURE_FORMATS
    from dwelltime.io import (
        PROVENANCE_NAME,
        atomic_write,
        ensure_writable,
        layer_names,
        output_paths,
        read_if_path,
        read_provenance,
        write_layers,
        write_provenance,
    )
    from dwelltime.linking import aligned_scenes, require_placed
    from dwelltime.pipeline import (
        canonical_type,
        changed_settings,
        estimate_stays,
        relinked_provenance,
        source_commit,
    )
    from dwelltime.report import plot_timeline, stays_report
    from dwelltime.tables import counted

    # readable? (GeoJSON of run --format geojson back in the airport's metres)
    detections = read_output_layer(detections_path, "detections", "DETECTIONS", as_written=True)
    single_layer = detections_path.is_file() and detections_path.suffix.lower() != ".gpkg"
    if single_layer and coverage_path is None:
        raise click.BadParameter(
            f"{detections_path} holds one layer; give the coverage with --coverage",
            param_hint="--coverage",
        )
    try:
        require_placed(detections)
    except ValueError as exc:
        raise click.BadParameter(f"{detections_path}: {exc}", param_hint="DETECTIONS") from exc
    coverage = read_output_layer(
        coverage_path or detections_path, "coverage", "--coverage", as_written=True
    )
    if detections.crs is not None and detections.crs.is_geographic:
        raise click.BadParameter(
            f"{detections_path}: detections are in {detections.crs.to_string()} (degrees); "
            "linking needs the airport's metric CRS (UTM), as written by `dwelltime run`",
            param_hint="DETECTIONS",
        )
    if coverage.crs != detections.crs and coverage.crs is not None:
        coverage = coverage.to_crs(detections.crs)

    config = link_config
    flight_log = read_if_path(flights, read_flights)
    layers = {"coverage": coverage, "detections": detections}
    aligned: frozenset[str] = frozenset()
    if not single_layer and "scenes" in layer_names(detections_path):
        scenes = read_output_layer(detections_path, "scenes", "DETECTIONS")
        aligned = aligned_scenes(scenes)  # as `dwelltime run` linked them
        layers = {"scenes": scenes, **layers}  # written too: `evaluate-dwell --results` reads it
    source = detections_path if detections_path.is_dir() else detections_path.parent
    made = read_provenance(source)
    record = {
        **relinked_provenance(made, config, flights=flights, type_filter=type_filter),
        "dwelltime": __version__,  # the code that linked these stays
        "dwelltime_commit": source_commit(),
        "relinked_from": str(detections_path.resolve()),
    }
    changes = changed_settings(made, record)
    if changes:
        click.echo(
            f"note: {source / PROVENANCE_NAME} was linked with other settings, so these "
            f"stays may differ from its: {'; '.join(changes)}",
            err=True,
        )

    if flight_log is not None:
        for code in sorted(set(detections["airport"].astype(str))):
            warn_if_not_at(flight_log, lookup_airport(code) if icao_code(code) else code)
    timeline = None if out is None else out / f"timeline.{figure_format}"
    if out is not None:
        try:
            targets = [*output_paths(out, [*layers, "stays"], formats), timeline]
            ensure_writable([*targets, out / PROVENANCE_NAME], overwrite=overwrite)
        except DwelltimeError as exc:
            raise click_error(exc) from exc

    with stage_bars(ctx) as progress:
        stays = estimate_stays(
            detections,
            coverage,
            config,
            aligned=aligned,
            flights=flight_log,
            type_filter=type_filter,
            progress=progress,
        )
    kept = counted(len(stays), "stay") + (f" of type {type_filter}" if type_filter else "")
    scenes = counted(coverage["scene_id"].nunique(), "scene")
    seen = f"{counted(len(detections), 'detection')} in {scenes}"
    click.echo(f"{seen} → {kept}")
    click.echo(
        stays_report(
            stays,
            detections,
            config,
            type_filter=type_filter,
            flights=flight_log is not None,
            max_rows=max_rows or None,
            more=more_stays(out),
            width=terminal_width(),
        )
    )
    if out is None:
        return
    try:
        paths = write_layers(out, {**layers, "stays": stays}, formats=formats, overwrite=overwrite)
    except DwelltimeError as exc:
        raise click_error(exc) from exc
    figure = plot_timeline(
        stays,
        coverage,
        detections,
        config=config,
        type_filter=canonical_type(type_filter),
        flights=flight_log,
    )
    with atomic_write(timeline) as tmp:
        figure.savefig(tmp, format=figure_format, dpi=FIGURE_DPI)
    for path in [*paths, timeline, write_provenance(out, record)]:
        click.echo(f"wrote {path}")
    others = [timeline.with_suffix(f".{fmt}") for fmt in FIGURE_FORMATS if fmt != figure_format]
    for path in [p for p in others if overwrite and p.exists()]:  # as the layers' formats
        path.unlink()
        click.echo(f"removed {path}: an earlier timeline, in a format not written now")
