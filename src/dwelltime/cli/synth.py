"""``dwelltime synth``: render synthetic imagery with ground truth (series, demo, chips)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from dwelltime.catalog import designator, load_catalog
from dwelltime.cli.options import UserPath, overwrite_option

#: The help of every ``--seed``.
_SEED_HELP = "Seed of the random generator: the same seed renders the same files."


def out_folder(command: Callable) -> Callable:
    """``--out DIR``, as every command names its output folder, handed to ``command`` as
    ``out``; ``OUT``, the folder as the first argument, is the older spelling and still read."""

    @functools.wraps(command)
    def wrapper(*args: object, out: Path | None, old_out: Path | None, **kwargs: object) -> object:
        if out is not None and old_out is not None and out != old_out:
            raise click.BadParameter(
                f"two output folders, {old_out} and {out}; give one, with --out",
                param_hint="--out",
            )
        if out is None and old_out is None:
            raise click.MissingParameter(param_type="option", param_hint="'--out'")
        return command(*args, out=out or old_out, **kwargs)

    wrapper = click.option(
        "--out",
        type=UserPath(file_okay=False),
        default=None,
        help="Folder to write into (made if missing; one not empty needs --overwrite). "
        "Required; the folder as a first argument OUT reads the same.",
    )(wrapper)
    return click.argument(
        "old_out", metavar="[OUT]", required=False, type=UserPath(file_okay=False)
    )(wrapper)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise click.BadParameter(
            f"{out} is not empty; pass --overwrite to write into it anyway", param_hint="--out"
        )


@contextmanager
def _scene_bar(ctx: click.Context) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing one "scenes" bar (:func:`progress_bar`)."""
    from dwelltime.cli.progress import progress_bar

    with progress_bar(ctx, desc="scenes", unit="scene") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


def _day(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--start``: a day written YYYY-MM-DD (not 07/08/2023, which reads two ways)."""
    import datetime as dt
    import re

    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:  # 2023-02-30
            pass
    raise click.BadParameter(f"{value!r}: give a day as YYYY-MM-DD, e.g. 2023-07-29")


@click.group()
def synth() -> None:
    """Synthetic apron imagery with exact ground truth (training chips, scene series, demo).

    Exit status of each command: 0 done, 1 failed, 2 bad usage (an --out folder that is not
    empty, without --overwrite, too).
    """


@synth.command()
@out_folder
@click.option(
    "--airport",
    default="ZKPY",
    show_default=True,
    help="ICAO or IATA code of the airport whose aprons the traffic uses.",
)
@click.option(
    "--start",
    default="2023-07-29",
    show_default=True,
    callback=_day,
    help="First day (UTC), YYYY-MM-DD.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=7,
    show_default=True,
    help="Days of traffic to simulate, from --start; a satellite passes 0–3 times a day "
    "(1.4 on average), so a day or two may give no scene.",
)
@click.option("--seed", type=int, default=0, show_default=True, help=_SEED_HELP)
@click.option(
    "--visitors-per-day",
    type=click.FloatRange(0),
    default=2.0,
    show_default=True,
    help="Mean number of random visiting aircraft per day.",
)
@overwrite_option
@click.pass_context
def series(
    ctx: click.Context,
    out: Path,
    airport: str,
    start: str,
    days: int,
    seed: int,
    visitors_per_day: float,
    overwrite: bool,
) -> None:
    """Simulate --days days of traffic at an airport and render its irregular revisits into the
    --out folder (imagery/, aprons.geojson, truth/).

    \b
    Example:
      dwelltime synth series --out series/ --days 7 --seed 3"""
    from dwelltime.errors import UnknownAirportError
    from dwelltime.synth import simulate_series

    _check_out(out, overwrite)
    with _scene_bar(ctx) as progress:
        try:
            result = simulate_series(
                out,
                airport=airport,
                start=start,
                days=days,
                seed=seed,
                visitors_per_day=visitors_per_day,
                progress=progress,
            )
        except UnknownAirportError as e:
            raise click.BadParameter(str(e), param_hint="--airport") from None
    if not result.images:
        raise click.ClickException(
            f"no satellite pass fell in the {days} day(s) from {start} (seed {seed}), so "
            f"{result.imagery_dir} holds no scene; give more --days or another --seed"
        )
    from dwelltime.tables import counted

    scenes = counted(len(result.images), "scene")
    click.echo(f"{scenes} in {result.imagery_dir}; truth in {result.truth_dir}")


@synth.command()
@out_folder
@click.option("--seed", type=int, default=62, show_default=True, help=_SEED_HELP)
@overwrite_option
@click.pass_context
def demo(ctx: click.Context, out: Path, seed: int, overwrite: bool) -> None:
    """Render the Sunan demo series (29 July – 4 August 2023, a visiting Il-62M) into the
    --out folder (imagery/, aprons.geojson, truth/)."""
    from dwelltime.synth import make_sunan_demo

    _check_out(out, overwrite)
    with _scene_bar(ctx) as progress:
        make_sunan_demo(out, seed=seed, progress=progress)
    click.echo(f"demo series in {out} (imagery/, aprons.geojson, truth/)")


@synth.command()
@out_folder
@click.option(
    "-n",
    "--count",
    "count",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="How many chips to write.",
)
@click.option(
    "--gsd",
    type=click.FloatRange(0.05),
    default=0.5,
    show_default=True,
    help="GSD of the chips written, metres per pixel.",
)
@click.option(
    "--size",
    type=click.IntRange(32),
    default=512,
    show_default=True,
    help="Width and height of each chip, pixels.",
)
@click.option(
    "--source-gsd",
    type=click.FloatRange(0.05),
    default=None,
    help="GSD, metres per pixel, of the imagery each chip imitates: rendered at it, then "
    "resampled to --gsd. Default: random, 0.3–3 m per chip.",
)
@click.option(
    "--types",
    default=None,
    help="Comma-separated ICAO designators, spelled as --type of run takes them, e.g. "
    "Il-62,T204 (default: all).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "tif"]),
    default="png",
    show_default=True,
    help="File format of the chip images: png (as DOTA's own) or tif (a plain TIFF, no "
    "georeference). The labels are DOTA txt either way (corners in pixels, a gsd: line), "
    "as dwelltime evaluate reads them; GeoJSON labels would need georeferenced images.",
)
@click.option("--seed", type=int, default=0, show_default=True, help=_SEED_HELP)
@overwrite_option
@click.pass_context
def chips(
    ctx: click.Context,
    out: Path,
    count: int,
    gsd: float,
    size: int,
    source_gsd: float | None,
    types: str | None,
    fmt: str,
    seed: int,
    overwrite: bool,
) -> None:
    """Write labelled training chips (--count of them) to DIR/images and their DOTA labels
    to DIR/labels (--out DIR).

    \b
    Example:
      dwelltime synth chips --out chips/ -n 200 --gsd 0.5 --format tif
      dwelltime evaluate chips/   # the detector scored on them
    """
    import numpy as np

    from dwelltime.cli.progress import progress_bar
    from dwelltime.errors import UnknownTypeError
    from dwelltime.synth.export import write_chip

    try:  # spelled as --type of run and link takes them: Il-62, Ilyushin Il-62M
        names = [designator(t) for t in types.split(",") if t.strip()] if types else None
    except UnknownTypeError as exc:
        raise click.BadParameter(str(exc), param_hint="--types") from exc
    unknown = sorted(set(names or ()) - set(load_catalog()))  # "unknown" is no type to draw
    if unknown:
        raise click.BadParameter(
            f"unknown type(s) {', '.join(unknown)}; known: {', '.join(sorted(load_catalog()))}",
            param_hint="--types",
        )
    _check_out(out, overwrite)
    from dwelltime.synth import render_chip

    rng = np.random.default_rng(seed)
    with progress_bar(ctx, total=count, desc="chips", unit="chip") as bar:
        for i in range(count):
            chip = render_chip(rng, size_px=size, gsd_m=gsd, source_gsd_m=source_gsd, types=names)
            write_chip(chip, out, f"chip_{i:06d}", fmt)
            bar.update(1)
    from dwelltime.tables import counted

    click.echo(f"{counted(count, 'chip')} in {out / 'images'}, labels in {out / 'labels'}")
