"""``dwelltime demo``: render the bundled synthetic Sunan series and run the whole job on it."""

from __future__ import annotations

from pathlib import Path

import click

from dwelltime.cli.options import (
    UserPath,
    click_error,
    device_option,
    figure_format_option,
    formats_option,
    overwrite_option,
    precision_option,
    weights_option,
)


@click.command()
@click.option(
    "--out",
    type=UserPath(file_okay=False),
    default=Path("dwelltime-demo"),
    show_default=True,
    help="Folder for the rendered imagery (OUT/series) and the results (OUT/results).",
)
@click.option("--seed", type=int, default=62, show_default=True, help="Seed of the rendering.")
@formats_option
@figure_format_option
@overwrite_option
@weights_option
@device_option
@precision_option
@click.pass_context
def demo(
    ctx: click.Context,
    out: Path,
    seed: int,
    formats: tuple[str, ...],
    figure_format: str,
    overwrite: bool,
    weights: Path | None,
    device: str,
    precision: str,
) -> None:
    """Pyongyang Sunan, 29 July – 4 August: how long did the visiting Il-62M stay?

    Renders a synthetic but realistic image series of Sunan (ZKPY) with known truth — a
    visiting Il-62M on the ground about 36 hours among resident Air Koryo aircraft, one
    scene cloudy over its stand — then runs `dwelltime run` on it and prints the stays.

    Exit status: 0 done, 1 failed or the results exist (see --overwrite), 2 bad usage.
    """
    from dwelltime import pipeline
    from dwelltime.cli.run import run_and_report
    from dwelltime.errors import DwelltimeError
    from dwelltime.io import ensure_writable
    from dwelltime.synth import make_sunan_demo

    try:  # before rendering: a folder that cannot take the results, an earlier demo's
        targets = pipeline.result_paths(out / "results", formats, figure_format)
        ensure_writable(targets, overwrite=overwrite)
    except DwelltimeError as exc:
        raise click_error(exc) from exc
    series = out / "series"
    if (series / "truth" / "scenes.csv").exists() and not overwrite:  # written last
        click.echo(
            f"using the series already rendered in {series} (--overwrite renders it again, "
            "with --seed)"
        )
    else:
        make_sunan_demo(series, seed=seed)
    run_and_report(
        ctx,
        series / "imagery",
        "ZKPY",
        aprons=series / "aprons.geojson",
        type_filter=None,
        out=out / "results",
        formats=formats,
        figure_format=figure_format,
        overwrite=overwrite,
        weights=weights,
        device=device,
        precision=precision,
        strict=False,
    )
    click.echo(f"truth of the series: {series / 'truth'}")
