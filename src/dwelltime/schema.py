"""Column contracts between the stages; the names are part of the public API.

Every stage hands the next one a :class:`geopandas.GeoDataFrame` with exactly these columns
(extra columns are allowed and documented where they are made). Times are tz-aware UTC
``pandas.Timestamp``; distances in metres; angles in degrees clockwise from grid north;
durations in hours. ``x``/``y`` are in the airport's local metric CRS (UTM), as the
geometry; a table whose geometry is in another CRS (GeoJSON output, EPSG:4326) or that
combines airports (the batch job's ``all_stays``) names that CRS in :data:`XY_CRS_COLUMN`.
A text without a value (an open end's ``start_bounded_by``, no ``mask_path``) is ``""`` in
memory and NULL in the files (CSV: an empty cell); :func:`dwelltime.io.read_layer` (and so
``read_result`` and ``dwelltime link``) gives it back as ``""`` from every format, while
reading a file directly (``geopandas.read_file``, ``pandas.read_csv``) gives None or NaN.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

#: One row per acquisition. ``geometry``: valid-data footprint in EPSG:4326.
SCENE_COLUMNS: tuple[str, ...] = (
    "scene_id",  # str, unique within a scan (file stem, made unique if needed)
    "path",  # str, absolute path of the image
    "acquired",  # UTC timestamp
    # where `acquired` came from: user, stac, planet_json, planet_xml, maxar_imd, dimap, gdal_tag,
    # filename (maxar_imd: a Maxar .IMD or its .XML twin)
    "time_source",
    "provider",  # str: planet, maxar, stac, unknown…
    "crs",  # str, the image CRS as "EPSG:nnnn" or WKT
    "gsd_m",  # float, ground sample distance in metres (mean of x and y)
    "width",  # int, pixels
    "height",  # int, pixels
    "count",  # int, band count
    "dtype",  # str, e.g. uint8, uint16
    "cloud_fraction",  # float in [0, 1] or NaN where the provider says nothing
    "mask_path",  # str or "" : usable-data / cloud mask (UDM2, Airbus, Maxar ARD, *_cloud)
    "geometry",
)

#: ``coreg_status`` (scenes layer; :data:`dwelltime.coregister.OFFSET_COLUMNS`) of the scenes
#: co-registration aligned: the reference and those matched to it.
ALIGNED_STATUSES: tuple[str, ...] = ("reference", "ok")

#: One row per scene × apron. ``geometry``: the visible part of the apron (local metric CRS).
COVERAGE_COLUMNS: tuple[str, ...] = (
    "scene_id",
    "airport",  # ICAO code
    "apron_id",  # str
    "acquired",  # UTC timestamp of the scene
    "visible_fraction",  # float in [0, 1]: visible area / apron area
    "geometry",
)

#: One row per detected aircraft. ``geometry``: oriented footprint (local metric CRS).
DETECTION_COLUMNS: tuple[str, ...] = (
    "detection_id",  # str, unique: "<scene_id>:<n>"
    "scene_id",
    "airport",
    "acquired",
    "x",  # centre easting, metres (local CRS)
    "y",  # centre northing, metres (local CRS)
    "heading_deg",  # nose direction, degrees clockwise from grid north, [0, 360)
    "length_m",
    "wingspan_m",
    "type",  # ICAO designator or "unknown"
    "type_prob",  # probability of `type`, [0, 1]
    "score",  # detection confidence, [0, 1]
    "geometry",
)

#: One row per stay (one aircraft, one continuous presence). ``geometry``: centre point.
#: :func:`dwelltime.linking.link_stays` adds ``STAY_EXTRA_COLUMNS`` (documented there), among
#: them ``start_open_reason`` / ``end_open_reason``: why a censored end is open (``OPEN_REASONS``).
STAY_COLUMNS: tuple[str, ...] = (
    "stay_id",
    "airport",
    "type",
    "type_prob",
    "x",
    "y",
    "first_seen",  # UTC, t_i
    "last_seen",  # UTC, t_j
    "last_absent_before",  # UTC t_a, or NaT when censored at the start
    "first_absent_after",  # UTC t_b, or NaT when censored at the end
    "n_seen",
    "dwell_min_h",  # t_j - t_i, hours
    "dwell_max_h",  # t_b - t_a, hours; NaN (open) when censored
    "dwell_est_h",  # point estimate, hours; NaN when censored
    "censored_start",  # bool: no visible absence before the first sighting
    "censored_end",  # bool: no visible absence after the last sighting
    "detection_ids",  # str, ";"-joined detection ids
    "geometry",
)


#: Added right after ``y`` where x/y and the geometry are in different CRSs (GeoJSON output)
#: or airports are combined (``all_stays``): the CRS of x/y, e.g. "EPSG:32651" (str).
XY_CRS_COLUMN = "xy_crs"

#: Geometry type of each result layer, by layer name: a GeoPackage layer declares it even
#: with no rows (GDAL would say "Unknown"), so GIS software draws an empty layer as it draws
#: a full one. Coverage mixes Polygon and MultiPolygon, which GDAL stores as MultiPolygon.
LAYER_GEOMETRY_TYPES: dict[str, str] = {
    "scenes": "Polygon",
    "aprons": "Polygon",
    "coverage": "MultiPolygon",
    "detections": "Polygon",
    "stays": "Point",
    "all_stays": "Point",
}

#: What each result layer holds, by layer name: the description a GeoPackage layer carries
#: (QGIS shows it as the layer's abstract). Units as in the columns above.
LAYER_DESCRIPTIONS: dict[str, str] = {
    "scenes": "dwelltime: one row per image; acquired (UTC) and its time_source, gsd_m "
    "(metres); footprint in EPSG:4326",
    "aprons": "dwelltime: the apron polygons searched (apron_id from the apron file)",
    "coverage": "dwelltime: the part of each apron each scene saw; visible_fraction 0-1",
    "detections": "dwelltime: one row per aircraft detected; oriented footprint, centre x/y "
    "(metres), heading_deg, length_m, wingspan_m, type, score 0-1",
    "detections_pixels": "dwelltime: detections in the image's pixels (no CRS)",
    "stays": "dwelltime: one row per stay (one aircraft, one continuous presence); "
    "first_seen/last_seen (UTC), dwell_min_h/dwell_max_h/dwell_est_h (hours); point at its centre",
    "all_stays": "dwelltime: the stays of every airport of a batch job (EPSG:4326; x/y in xy_crs)",
}

#: Columns of the contracts above that hold UTC timestamps, and their dtype.
TIME_COLUMNS = frozenset(
    {"acquired", "first_seen", "last_seen", "last_absent_before", "first_absent_after"}
)
UTC_TIMESTAMP = "datetime64[us, UTC]"


#: dtype of every column above that is no text (``str``) nor time (:data:`TIME_COLUMNS`),
#: and of the detector's ``size_sigma_m`` / ``tile_index`` / ``cut``: what an empty frame
#: declares, so that a run with no rows writes a GeoPackage of REAL, INTEGER and BOOLEAN
#: fields as a full one does.
COLUMN_DTYPES: dict[str, str] = {
    **dict.fromkeys(
        ("gsd_m", "cloud_fraction", "visible_fraction", "x", "y", "heading_deg", "length_m"),
        "float64",
    ),
    **dict.fromkeys(("wingspan_m", "type_prob", "score", "size_sigma_m"), "float64"),
    **dict.fromkeys(("dwell_min_h", "dwell_max_h", "dwell_est_h"), "float64"),
    **dict.fromkeys(("width", "height", "count", "tile_index", "n_seen"), "int64"),
    **dict.fromkeys(("censored_start", "censored_end", "cut"), "bool"),
}


#: Decimals each float column is written with (:func:`dwelltime.io.write_layers`): x/y and
#: co-registration shifts to the millimetre, sizes (metres) to the centimetre, angles to
#: 0.01 degree, probabilities, scores, correlations and fractions to 1e-4. What the detector
#: measures carries float32 noise (``46.29999923706055`` m) that no reader needs; frames in
#: memory keep full precision. Other floats (``gsd_m``, the dwell hours) are written as they are.
COLUMN_DECIMALS: dict[str, int] = {
    **dict.fromkeys(("x", "y", "shift_x_m", "shift_y_m"), 3),
    **dict.fromkeys(("length_m", "wingspan_m", "size_sigma_m", "heading_deg"), 2),
    **dict.fromkeys(("type_prob", "score", "score_max", "coreg_peak"), 4),
    **dict.fromkeys(("visible_fraction", "cloud_fraction"), 4),
}


#: Decimals of the WKT geometry in CSV layers (:func:`dwelltime.io.write_layers`): a
#: centimetre in projected metres (and 0.01 px in image pixels, a layer without CRS), 1e-7 in
#: lon/lat degrees (about 1 cm). Other formats keep geometries at full precision.
WKT_DECIMALS_PROJECTED = 2
WKT_DECIMALS_GEOGRAPHIC = 7


def empty_frame(columns: tuple[str, ...], crs: object) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame with the given contract columns and CRS, typed as full frames
    are (times UTC timestamps, :data:`COLUMN_DTYPES`, the rest text), so that it is written
    with the same field types and concatenates with full frames without turning them into
    objects."""
    import geopandas as gpd

    data = {
        c: pd.Series(dtype=UTC_TIMESTAMP if c in TIME_COLUMNS else COLUMN_DTYPES.get(c, "str"))
        for c in columns
        if c != "geometry"
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def require_columns(frame: object, columns: tuple[str, ...], name: str) -> None:
    """Raise ValueError when ``frame`` (called ``name`` in the message) is no GeoDataFrame or
    lacks one of the contract ``columns``: a frame from elsewhere (``pandas.read_csv``, another
    tool) is named with what it misses rather than failing deep inside a stage."""
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(
            f"{name} must be a GeoDataFrame, not {type(frame).__name__}; "
            "dwelltime.io.read_layer reads a saved layer back as one"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lack the column(s) {', '.join(missing)} that dwelltime.schema requires; "
            "dwelltime.io.read_layer reads a saved layer back with them"
        )


def fits_annotation(value: object, annotation: str) -> bool:
    """Whether ``value`` fits a dataclass field annotated ``bool``, ``int``, ``float`` (any
    real number but a bool: an int, a NumPy float) or ``str``, each maybe ``| None`` (the
    settings of :class:`dwelltime.linking.LinkConfig` and of a batch job)."""
    if value is None:
        return annotation.endswith("| None")
    if isinstance(value, bool) or annotation.startswith("bool"):
        return isinstance(value, bool) and annotation.startswith("bool")
    kinds = {"int": numbers.Integral, "str": str}.get(annotation.partition(" ")[0], numbers.Real)
    return isinstance(value, kinds)
