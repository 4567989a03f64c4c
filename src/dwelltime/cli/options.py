"""Options shared by several commands, defined once."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dwelltime.catalog import designator
from dwelltime.formats import FIGURE_FORMATS, NOT_REGULAR_FILE
from dwelltime.precision import PRECISIONS

if TYPE_CHECKING:
    import geopandas as gpd

    from dwelltime.detector import Detector
    from dwelltime.errors import DwelltimeError


class UserPath(click.Path):
    """``click.Path`` giving a :class:`~pathlib.Path`, with a leading ``~`` read as the home
    folder: the shell leaves it as it is in ``--out=~/results`` and in quotes, and it would
    otherwise name a folder ``~`` (made by an output) in the current one. An input
    (``exists=True``) that is neither a folder nor a regular file (a FIFO, socket or device,
    which opening would wait on forever) is a usage error."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(path_type=Path, **kwargs)

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path:
        if isinstance(value, str):
            value = os.path.expanduser(value)
        path = super().convert(value, param, ctx)
        if self.exists and not (path.is_dir() or path.is_file()):
            self.fail(f"{path}: {NOT_REGULAR_FILE}; give the file or folder itself", param, ctx)
        return path


out_option = click.option(
    "--out",
    "out",
    type=UserPath(file_okay=False),
    default=None,
    help="Folder for the output files (GeoPackage + CSV). Nothing is written without it.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace existing output files instead of stopping."
)


def detector_line(detector: Detector | Mapping[str, object]) -> str:
    """What a command prints once it has its detector (or its description, a
    :class:`~dwelltime.detector.DetectorPlan`'s): weights file, the precision it runs in
    (what ``--precision auto`` chose) and device, e.g.
    ``detector ocnet-….safetensors, bf16 on cpu``."""
    from dwelltime.store import described

    made = described(detector)
    weights = made.get("weights", "(not from a file)")
    return f"detector {weights}, {made['precision']} on {made['device']}"


def known_airport(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--airport``: the code as given, once the registry knows it; else a usage error
    naming close codes, before any work. A command that takes ``--aprons`` gets a code the
    registry lacks as given: with an apron file it is an airport of its own
    (:func:`dwelltime.airports.airport_and_aprons`, which refuses it without one)."""
    if value is None:
        return None
    from dwelltime.airports import lookup_airport
    from dwelltime.errors import UnknownAirportError

    try:
        lookup_airport(value)
    except UnknownAirportError as exc:
        if any(p.name == "aprons" for p in ctx.command.params):
            return value
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    return value


airport_option = click.option(
    "--airport",
    "airport",
    required=True,
    callback=known_airport,
    help="ICAO or IATA code of the airport, e.g. ZKPY or FNJ (Pyongyang Sunan).",
)
_APRONS_OPTIONS = (
    click.option(
        "--aprons",
        "aprons",
        type=UserPath(exists=True, dir_okay=False),
        default=None,
        help="Vector file of apron polygons (GeoPackage, GeoJSON, shapefile, KML, OSM export "
        "with aeroway=apron; of several layers, the polygon layer named like apron, else the "
        "only polygon layer, or the one --aprons-layer names). Default: a 3 km square centred "
        "on the airport reference point. With --airport a code the registry does not know, "
        "the airport is placed at these aprons.",
    ),
    click.option(
        "--aprons-layer",
        "aprons_layer",
        metavar="NAME",
        default=None,
        help="The layer of the --aprons file to read (a GeoPackage table, a KML folder), for "
        "a file of several layers none of which is named like apron.",
    ),
)


def aprons_option(command: Callable) -> Callable:
    """``--aprons FILE`` and ``--aprons-layer NAME``, handed to ``command`` as one ``aprons``
    as :func:`dwelltime.airports.load_aprons` takes it: the file, (file, layer) with a layer,
    or None; a usage error for a layer without a file."""

    @functools.wraps(command)
    def wrapper(
        *args: object, aprons: Path | None, aprons_layer: str | None, **kwargs: object
    ) -> object:
        if aprons_layer is None:
            return command(*args, aprons=aprons, **kwargs)
        if aprons is None:
            raise click.UsageError("--aprons-layer needs --aprons (the file it is a layer of)")
        return command(*args, aprons=(aprons, aprons_layer), **kwargs)

    for option in reversed(_APRONS_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def _designator(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--type``: the catalog's designator (``Il-62`` → ``IL62``); a usage error naming
    close matches for a type the catalog does not know."""
    if value is None:
        return None
    from dwelltime.errors import UnknownTypeError

    try:
        return designator(value)
    except UnknownTypeError as exc:
        raise click.BadParameter(str(exc)) from exc


type_option = click.option(
    "--type",
    "type_filter",
    default=None,
    callback=_designator,
    help="Only report stays of this ICAO type designator, e.g. IL62 (or unknown): printed, "
    "drawn and written. All aircraft are still linked and every detection is written, so "
    "`dwelltime link` can report another type without detecting again.",
)
#: Rows of the stays table ``run``, ``link`` and ``demo`` print unless ``--max-rows`` says.
MAX_ROWS = 50
max_rows_option = click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=MAX_ROWS,
    show_default=True,
    help="Print at most this many stays, in the table's order (by type, longest first); 0 "
    "prints them all. "
    "The files written with --out hold every stay.",
)


def terminal_width() -> int | None:
    """Columns of the terminal standard output shows in (``shutil.get_terminal_size``:
    ``COLUMNS``, else the terminal's own); None when it goes to a file or pipe (no limit)."""
    if sys.stdout is None or not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def more_stays(out: Path | None) -> str:
    """What the stays table's last line says of the stays it leaves out: where all are."""
    if out is None:
        return "--max-rows 0 prints them all, --out DIR writes them all"
    return f"all are in the stays files written to {out} (--max-rows 0 prints them all)"


#: The output formats (:data:`dwelltime.io.FORMATS`, not imported: geopandas is slow to load).
OUTPUT_FORMATS: tuple[str, ...] = ("gpkg", "csv", "geojson", "parquet")


def _format_list(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """The formats of every ``--format``, each one name or a comma-separated list
    (``--format gpkg,geojson``), in order without repeats; an unknown name is a usage error."""
    names = [n.strip().lower() for value in values for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in OUTPUT_FORMATS]
    if unknown or not names:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown)) or 'none given'}: choose from "
            f"{', '.join(OUTPUT_FORMATS)} (several: --format gpkg,geojson)",
            ctx=ctx,
            param=param,
        )
    return tuple(dict.fromkeys(names))


figure_format_option = click.option(
    "--figure-format",
    type=click.Choice(FIGURE_FORMATS, case_sensitive=False),
    default="png",
    show_default=True,
    help="File format of the figures written with --out: png (120 dpi), or svg or pdf, "
    "vector for print (images in them, such as a scene's pixels, at 120 dpi).",
)
formats_option = click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="[" + "|".join(OUTPUT_FORMATS) + "]",
    default=("gpkg", "csv"),
    show_default=True,
    callback=_format_list,
    help="Output formats: repeat the option or list them, e.g. gpkg,geojson.",
)


def _read_file_with(
    reader: str,
) -> Callable[[click.Context, click.Parameter, Path | None], Path | None]:
    """A click callback: the option's file, checked by reading it with ``reader``
    ("module:function", imported when the option is given) so that its
    :class:`DwelltimeError` (which names the file) becomes a usage error of the option before
    any work; the path itself is handed on (the API reads it again, and records it in
    ``run.json``), or None. The check's warnings are held back: the API's read gives them."""
    module, name = reader.split(":")

    def callback(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is None:
            return None
        import importlib

        from dwelltime.errors import DwelltimeError

        try:
            with warnings_held():  # the API's own read warns, once
                getattr(importlib.import_module(module), name)(value)
        except DwelltimeError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
        return value

    return callback


times_option = click.option(
    "--times",
    "times",
    type=UserPath(exists=True, dir_okay=False),
    default=None,
    callback=_read_file_with("dwelltime.timesources:read_times_csv"),
    help="CSV of acquisition times: columns path or stem, and acquired (ISO 8601 date and "
    "time of day, e.g. 2023-08-02T05:00:00Z; no zone means UTC), one row per image. These "
    "win over every time found in the files.",
)
flights_option = click.option(
    "--flights",
    type=UserPath(exists=True, dir_okay=False),
    default=None,
    callback=_read_file_with("dwelltime.flights:read_flights"),
    help="Flight-tracking CSV (columns time, airport as ICAO or IATA code, event arr/dep, "
    "type as ICAO designator or name; or one row per flight: From/ATD/To/ATA as FlightRadar24 "
    "gives it, with its DATE where they are times of day, OpenSky's firstSeen/lastSeen with "
    "a typecode column): a recorded arrival or departure of a stay's type between a sighting "
    "and the nearest visible absence tightens that bound. Read before anything else; rows "
    "that cannot be read (named), unknown types, a log with no row at the airport and one of "
    "another period are warned.",
)
device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device for the detector: auto, cpu, cuda, cuda:1…",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help="Arithmetic of the detector's networks. auto: bf16 on CUDA and on CPUs with native "
    "bf16 (AVX512-BF16, AMX; 1.5-1.8x as fast there at 1024² tiles); on other x86 CPUs int8 "
    "(the dense network; 1.6-2.1x as fast at 1024² tiles), else fp32. Scores and sizes differ "
    "slightly between them; fp32 gives the model card's figures, whatever the machine.",
)
strict_option = click.option(
    "--strict", is_flag=True, help="Exit with status 1 if any input could not be used."
)
tile_size_option = click.option(
    "--tile-size",
    type=click.IntRange(min=64),
    default=512,
    show_default=True,
    help="Tile edge in pixels at the detector's GSD.",
)
batch_size_option = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Tiles per forward pass.",
)
weights_option = click.option(
    "--weights",
    type=UserPath(exists=True, dir_okay=False),
    default=None,
    help="Detector weights (.safetensors, model card beside it). Default: the shipped model.",
)


@contextmanager
def warnings_held() -> Iterator[None]:
    """No log record up to WARNING within: for a check or a count made before the work, whose
    reads warn of what the work's own reads warn of again (a warning said once)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def read_output_layer(
    path: Path, layer: str, hint: str, *, as_written: bool = False
) -> gpd.GeoDataFrame:
    """Layer ``layer`` of a dwelltime output (:func:`dwelltime.io.read_layer`: a GeoPackage or
    its folder, or a one-layer CSV/GeoJSON/Parquet file; ``as_written``: GeoJSON in the CRS
    it was written from); a usage error of ``hint`` naming the file and the layer when it
    cannot be read."""
    from dwelltime.io import read_layer

    try:
        return read_layer(path, layer, as_written=as_written)
    except (ValueError, OSError, RuntimeError) as exc:  # pyogrio errors are RuntimeErrors
        raise click.BadParameter(str(exc), param_hint=hint) from exc


def click_error(exc: DwelltimeError) -> click.ClickException:
    """``exc`` as a command reports it (exit 1): an existing output names ``--overwrite``
    where the API's message says ``overwrite=True``."""
    from dwelltime.errors import OutputExistsError

    if isinstance(exc, OutputExistsError):
        exc = exc.with_switch("--overwrite")
    return click.ClickException(str(exc))


def echo_skipped(errors: Sequence[DwelltimeError]) -> None:
    """One line on stderr for each input left out, ``skipped FILE: why`` (a scan's or a
    run's errors, which name their file)."""
    for err in errors:
        click.echo(f"skipped {err}", err=True)


def given_options(ctx: click.Context, *names: str) -> list[str]:
    """Of the parameters ``names`` of ``ctx``'s command, those given on the command line (not
    left at their defaults), as they are spelled there (``--weights``)."""
    from click.core import ParameterSource

    return [
        param.opts[0]
        for param in ctx.command.params
        if param.name in names
        and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    ]


#: ``--weights``, ``--device``, ``--precision``: what only a command that runs the detector uses.
DETECTOR_OPTIONS = ("weights", "device", "precision")


def quiet(ctx: click.Context) -> bool:
    """Whether the group was called with ``--quiet`` (no progress bars then)."""
    return bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))


def _prior_strength(text: str) -> float | None:
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


_LINK_OPTIONS = (
    click.option(
        "--max-misses",
        type=click.IntRange(min=0),
        default=None,
        help="Consecutive missed detections (stand visible, aircraft not found) a stay "
        "survives. Default 1.",
    ),
    click.option(
        "--max-gap",
        "max_gap_h",
        type=click.FloatRange(min=0),
        default=None,
        help="Hours between two sightings beyond which they are different stays; 0 for no "
        "limit. Default 72. Two such stays are joined again when nobody saw the stand empty "
        "in between and the later sighting matches closely (see --no-rejoin).",
    ),
    click.option(
        "--no-rejoin",
        is_flag=True,
        help="Keep the stays that --max-gap splits apart, even when the stand was not seen "
        "empty in between. Default: a resident seen again after a long revisit gap is one "
        "stay.",
    ),
    click.option(
        "--link-moves",
        is_flag=True,
        help="Join a stay that ends with one of the same type starting at the next acquisition "
        "time on another stand (a towed aircraft). Default: a tow starts a new stay.",
    ),
    click.option(
        "--min-score",
        "min_score",
        type=click.FloatRange(0, 1),
        default=None,
        help="Evidence a stay needs: a stay seen once needs a detection score at least this, "
        "one seen several times the combination 1 − Π(1 − score). Lower it when real aircraft "
        "score low (unusual imagery), raise it to drop stray detections. Default 0.65.",
    ),
    click.option(
        "--prior-strength",
        metavar="STAYS|none",
        default=None,
        help="Weight, in stays, that the log-uniform prior keeps in the dwell estimate's prior "
        "fitted to this airport's stays; 'none' for the log-uniform prior alone. Default 2.",
    ),
)


def link_options(command: Callable) -> Callable:
    """The linking rules a user may change (``--max-misses``, ``--max-gap``,
    ``--no-rejoin``, ``--link-moves``, ``--min-score``, ``--prior-strength``), handed to
    ``command`` as one ``link_config`` (:class:`dwelltime.linking.LinkConfig`: the defaults
    where an option is not given)."""

    @functools.wraps(command)
    def wrapper(
        *args: object,
        max_misses: int | None,
        max_gap_h: float | None,
        no_rejoin: bool,
        link_moves: bool,
        min_score: float | None,
        prior_strength: str | None,
        **kwargs: object,
    ) -> object:
        import dataclasses

        from dwelltime.linking import LinkConfig

        changes: dict[str, object] = {}
        if max_misses is not None:
            changes["max_visible_misses"] = max_misses
        if max_gap_h is not None:
            changes["max_gap_h"] = max_gap_h or None  # 0: no limit
        if no_rejoin:
            changes["rejoin_gaps"] = False
        if link_moves:
            changes["link_moves"] = True
        if min_score is not None:
            changes["min_score_single"] = min_score
        if prior_strength is not None:
            changes["prior_strength"] = _prior_strength(prior_strength)
        return command(*args, link_config=dataclasses.replace(LinkConfig(), **changes), **kwargs)

    for option in reversed(_LINK_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
