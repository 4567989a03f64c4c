"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from dwelltime.precision import PRECISIONS

out_option = click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the output files (GeoPackage + CSV). Nothing is written without it.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace existing output files instead of stopping."
)
airport_option = click.option(
    "--airport",
    "airport",
    required=True,
    help="ICAO or IATA code of the airport, e.g. ZKPY or FNJ (Pyongyang Sunan).",
)
aprons_option = click.option(
    "--aprons",
    "aprons",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Vector file of apron polygons (GeoPackage, GeoJSON, shapefile, OSM export with "
    "aeroway=apron). Default: a square around the airport reference point.",
)
type_option = click.option(
    "--type",
    "type_filter",
    default=None,
    help="Only report stays of this ICAO type designator, e.g. IL62.",
)
formats_option = click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["gpkg", "csv", "geojson", "parquet"]),
    default=("gpkg", "csv"),
    show_default=True,
    help="Output formats; repeat the option for several.",
)


def _read_file_with(reader: str) -> Callable[[click.Context, click.Parameter, Path | None], object]:
    """A click callback: the option's file as ``reader`` ("module:function", imported when
    the option is given) reads it, or None; the reader's :class:`DwelltimeError` (which
    names the file) becomes a usage error of the option."""
    module, name = reader.split(":")

    def callback(ctx: click.Context, param: click.Parameter, value: Path | None) -> object:
        if value is None:
            return None
        import importlib

        from dwelltime.errors import DwelltimeError

        try:
            return getattr(importlib.import_module(module), name)(value)
        except DwelltimeError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc

    return callback


times_option = click.option(
    "--times",
    "times",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    callback=_read_file_with("dwelltime.timesources:read_times_csv"),
    help="CSV of acquisition times (columns path or stem, and acquired, ISO 8601; no zone "
    "means UTC). These win over every time found in the files.",
)
flights_option = click.option(
    "--flights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    callback=_read_file_with("dwelltime.flights:read_flights"),
    help="Flight-tracking CSV (columns time, airport, event arr/dep, type): a recorded "
    "arrival or departure of a stay's type between a sighting and the nearest visible "
    "absence tightens that bound.",
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
    "bf16 (AVX512-BF16, AMX; 1.6-1.9x as fast there); on other x86 CPUs int8 (the dense "
    "network; about 1.5x as fast at 1024² tiles), else fp32. Scores and sizes differ slightly "
    "between them; fp32 gives the model card's figures, whatever the machine.",
)
weights_option = click.option(
    "--weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Detector weights (.safetensors, model card beside it). Default: the shipped model.",
)


def quiet(ctx: click.Context) -> bool:
    """Whether the group was called with ``--quiet`` (no progress bars then)."""
    return bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
