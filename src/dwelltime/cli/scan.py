"""``dwelltime scan``: what is in a folder of imagery."""

from __future__ import annotations

from pathlib import Path

import click

from dwelltime.cli.options import (
    UserPath,
    click_error,
    echo_skipped,
    formats_option,
    out_option,
    overwrite_option,
    terminal_width,
    times_option,
)

#: The columns of the printed scan table.
SCAN_TABLE_COLUMNS = (
    "scene_id",
    "acquired",
    "time_source",
    "crs",
    "gsd_m",
    "size",
    "count",
    "dtype",
    "mask",
)
SCAN_TABLE_HEADERS = {"acquired": "acquired (UTC)", "count": "bands", "mask": "cloud mask"}
#: The columns a terminal too narrow for the table loses first.
SCAN_NARROW_DROP_ORDER = ("dtype", "count", "size", "crs", "mask", "time_source", "gsd_m")


@click.command()
@click.argument("folder", type=UserPath(exists=True))
@times_option
@out_option
@formats_option
@overwrite_option
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with status 1 if any file could not be used (pictures without georeference too).",
)
@click.pass_context
def scan(
    ctx: click.Context,
    folder: Path,
    times: Path | None,
    out: Path | None,
    formats: tuple[str, ...],
    overwrite: bool,
    strict: bool,
) -> None:
    """List the image scenes under FOLDER: acquisition time and its source, CRS, GSD, bands, cloud
    mask.

    GSD: metres per pixel on the ground, the mean of the pixel's two sides (which differ in
    lon/lat away from the equator; run resamples every scene onto square UTM pixels).

    Searches FOLDER recursively for .tif/.tiff, .jp2, .ntf/.nitf, .vrt and .til files, Airbus
    DIM_*.XML products (where GDAL has its DIMAP driver), and .png/.jpg with a world file or
    .aux.xml beside them (other pictures are named in one warning; Planet *_udm2/*_udm masks, *_clip
    too, Airbus MASKS/CLD_*_MSK.GML cloud masks, Maxar ARD <id>-cloud-mask.gpkg cloud masks and your
    cloud polygons <image stem>_cloud.geojson (.gpkg, .shp, .gml) are attached to their scene, not
    listed, and Maxar ARD's other masks, <id>-clouds.tif…, left out; the tiles of a mosaic, a .vrt
    such as gdalbuildvrt makes of a product's R1C1, R1C2… tiles, a Maxar .TIL or an Airbus
    DIM_*.XML, are read through it). The acquisition time comes from, in order of trust: --times, a
    STAC item, Planet metadata (JSON, then XML), a Maxar .IMD (else its .XML), Airbus DIMAP
    (IMAGING_DATE/IMAGING_TIME of its DIM_*.XML), the ACQUISITIONDATETIME, NITF_IDATIM or
    TIFFTAG_DATETIME tag (no zone: read as UTC; TIFFTAG_DATETIME, often the file's save time, is
    warned when the file name says otherwise or nothing), a date and time in the file name
    (20230731T023512, 20230731_023512, 2023-07-31T02:35:12, Airbus 202307310235123, Maxar
    23JUL31023512-P1BS-…; a date alone is refused). FOLDER may instead be a STAC ItemCollection (or
    Item) JSON file: one scene per item, its local image and mask from the item's assets, its time
    from the item.

    \b
    Example:
      dwelltime scan images/ --out scan_out/

    Exit status: 0 scenes found (files that could not be used are listed on stderr), 1 no
    usable scene, or --strict with files that could not be used, 2 bad usage.
    """
    from dwelltime.cli.progress import stage_bars
    from dwelltime.errors import DwelltimeError, NoImageError
    from dwelltime.io import write_layers
    from dwelltime.scenes import scan as scan_folder
    from dwelltime.scenes import scenes_frame
    from dwelltime.tables import counted, fitted_table

    try:
        with stage_bars(ctx) as progress:
            result = scan_folder(folder, times=times, progress=lambda d, n: progress("scan", d, n))
    except DwelltimeError as exc:
        raise click_error(exc) from exc
    echo_skipped(result.errors)
    frame = scenes_frame(result.scenes)
    if result.scenes:
        shown = frame.assign(
            size=frame["width"].astype(str) + "x" + frame["height"].astype(str),
            crs=frame["crs"].map(crs_label),
            mask=frame["mask_path"].map(lambda path: Path(path).name if path else ""),
        )
        click.echo(
            fitted_table(
                shown,
                SCAN_TABLE_COLUMNS,
                terminal_width(),
                SCAN_NARROW_DROP_ORDER,
                headers=SCAN_TABLE_HEADERS,
            )
        )
    # a folder without any image is the one error then: said above, not a file skipped
    files = [e for e in result.errors if not isinstance(e, NoImageError)]
    skipped = f", {counted(len(files), 'file')} skipped" if result.scenes or files else ""
    pictures = (
        f", {counted(len(result.pictures), 'picture')} without georeference"
        if result.pictures
        else ""
    )
    click.echo(f"{counted(len(result.scenes), 'scene')}{skipped}{pictures} in {folder}")
    if out is not None and result.scenes:
        try:
            paths = write_layers(out, {"scenes": frame}, formats=formats, overwrite=overwrite)
        except DwelltimeError as exc:
            raise click_error(exc) from exc
        for path in paths:
            click.echo(f"wrote {path}")
    if not result.scenes:
        raise click.ClickException(f"no usable scene in {folder}")
    unused = len(result.errors) + len(result.pictures)
    if strict and unused:
        raise click.ClickException(f"{counted(unused, 'file')} could not be used (--strict)")


def crs_label(crs: str) -> str:
    """A scene's CRS as the table shows it: "EPSG:nnnn" as it is; a WKT (no EPSG code) by
    its name, or its projection method when it has none, e.g. "Transverse Mercator, no EPSG
    code", not hundreds of characters (the WKT itself is in the written scenes layer)."""
    if crs.startswith("EPSG:"):
        return crs
    from pyproj import CRS

    parsed = CRS.from_user_input(crs)
    method = parsed.coordinate_operation.method_name if parsed.coordinate_operation else None
    name = parsed.name if parsed.name and parsed.name != "unknown" else method or "custom CRS"
    return f"{name}, no EPSG code"
