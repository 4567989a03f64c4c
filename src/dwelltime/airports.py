"""Airports (ICAO/IATA registry lookup, local UTM CRS) and their apron polygons.

The registry is the ``airportsdata`` package. Each airport works in the WGS84 UTM zone of its
reference point (zone from longitude; 326xx north of the equator, 327xx south; the Norway and
Svalbard zone exceptions are not applied), so distances and areas are in metres.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dwelltime.errors import ApronError, UnknownAirportError
from dwelltime.io import missing_crs, user_path
from dwelltime.tables import counted, few

log = logging.getLogger(__name__)

#: Columns that may name an apron, in order of preference.
APRON_ID_COLUMNS = ("apron_id", "ref", "name", "osm_id", "id")
#: Aprons as the API takes them: a vector file, a (file, layer name) pair to read one layer of
#: a file of several, or a GeoDataFrame of polygons in any CRS.
ApronSource = str | os.PathLike | tuple[str | os.PathLike, str] | gpd.GeoDataFrame
#: A code the registry does not know may name an airport given by its apron file.
LOCAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,11}")
#: Aprons farther than this from the airport reference point (metres) are another
#: airport's: dropped, or, when all are, warned.
FAR_FROM_AIRPORT_M = 20_000.0


@dataclass(frozen=True)
class Airport:
    """An airport: codes, name, reference point (degrees) and local metric CRS."""

    icao: str
    iata: str  # "" if none
    name: str
    lat: float  # degrees north
    lon: float  # degrees east
    crs: str  # local UTM, "EPSG:326nn" (north) or "EPSG:327nn" (south)


def utm_crs(lon: float, lat: float) -> str:
    """The WGS84 UTM zone CRS of a point: ``EPSG:326nn`` north, ``EPSG:327nn`` south. A
    longitude past ±180° (0°…360°, as some lon/lat images are written) is the globe's."""
    if not -180.0 <= lon <= 180.0:
        lon = (lon + 180.0) % 360.0 - 180.0
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


@functools.lru_cache(maxsize=2)
def _registry(key: str) -> dict[str, dict]:
    import airportsdata

    return airportsdata.load(key)


def lookup_airport(code: str) -> Airport:
    """The airport with this ICAO (``ZKPY``) or IATA (``FNJ``) code, any case.

    UnknownAirportError, listing close codes and names, when the registry does not know it
    (or when ``code`` is no text: None, a number, or only blanks).
    """
    key = code.strip().upper() if isinstance(code, str) else ""
    if not key:
        what = "is empty" if isinstance(code, str) else "is not text"
        raise UnknownAirportError(
            f"airport code {code!r} {what}; give a 4-letter ICAO (ZKPY) or 3-letter IATA (FNJ) code"
        )
    row = _registry_row(key)
    if row is None:
        raise UnknownAirportError(
            f"unknown airport code {code!r}; {_suggestions(key)}"
            "give a 4-letter ICAO (ZKPY) or 3-letter IATA (FNJ) code, or, for an airport the "
            "registry does not know, any code (letters, digits, '-') with its apron file"
        )
    return Airport(
        icao=row["icao"],
        iata=row.get("iata") or "",
        name=row["name"],
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        crs=utm_crs(float(row["lon"]), float(row["lat"])),
    )


def airport_and_aprons(
    code: str, path: ApronSource | None = None, *, radius_m: float = 1500.0
) -> tuple[Airport, gpd.GeoDataFrame]:
    """The airport of ``code`` (:func:`lookup_airport`) and its aprons (:func:`load_aprons`).

    A code the registry does not know (letters, digits and '-', 2 to 12 of them) names an
    airport placed at the centre of the aprons of ``path``: its name says so, its CRS is the
    UTM zone there, and a warning says where it was placed, naming the registry's airport the
    aprons lie at (:func:`nearest_airport`), else its codes spelled like ``code``, in case of a
    typo. Without ``path`` such a code is an UnknownAirportError.
    """
    key = code.strip().upper() if isinstance(code, str) else ""  # "": lookup_airport refuses it
    try:
        airport = lookup_airport(code)
    except UnknownAirportError:
        if path is None or not LOCAL_CODE.fullmatch(key):
            raise
    else:
        if key != airport.icao:
            log.info("%s: %s (%s)", key, airport.icao, airport.name)  # IATA code
        return airport, load_aprons(airport, path, radius_m=radius_m)
    frame = _read_aprons(path)
    lon, lat = lonlat_centre(frame.geometry)
    airport = Airport(key, "", "not in the airport registry", lat, lon, utm_crs(lon, lat))
    there = nearest_airport(lon, lat)
    hint = (
        f"its aprons lie at {there.icao}/{there.iata or '-'} ({there.name}): give {there.icao} "
        "if they are that airport's"
        if there is not None
        else f"{_suggestions(key)}or a typo?"
    )
    log.warning(
        "%s: not in the airport registry (%s); placed at the centre of the aprons of %s (lat "
        "%.4f, lon %.4f, %s)",
        key,
        hint,
        _name(path),
        lat,
        lon,
        airport.crs,
    )
    return airport, _said(frame.to_crs(airport.crs).reset_index(drop=True), airport, path)


def lonlat_centre(geometries: gpd.GeoSeries) -> tuple[float, float]:
    """(lon, lat) degrees of the centre of the bounds of ``geometries`` (any CRS); aprons or
    footprints across the antimeridian (parts by +180° and by -180°, as RFC 7946 splits them)
    are centred by 180°, not by 0° half a world away. Longitude in (-180°, 180°]."""
    lonlat = across_antimeridian(geometries.to_crs("EPSG:4326").to_numpy())
    lon_min, lat_min, lon_max, lat_max = shapely.total_bounds(lonlat)
    lon = 180.0 - (180.0 - (lon_min + lon_max) / 2) % 360.0
    return float(lon), float((lat_min + lat_max) / 2)


def across_antimeridian(lonlat: shapely.Geometry | np.ndarray) -> shapely.Geometry | np.ndarray:
    """Lon/lat ``lonlat`` (a geometry or an array of them, degrees) that spans more than 180°
    of longitude with its western longitudes + 360°: vertices either side of the antimeridian
    (each in -180°…180°, as PROJ gives them) made one span across 180°, not a band round the
    globe. Anything narrower is returned as it is."""
    lon_min, _, lon_max, _ = shapely.total_bounds(lonlat)
    if not lon_max - lon_min > 180.0:
        return lonlat
    return shapely.transform(lonlat, lambda xy: xy + [[360.0, 0.0]] * (xy[:, :1] < 0))


def icao_code(code: str) -> str | None:
    """The ICAO code of the airport with this ICAO or IATA code, any case; None when the
    registry does not know it."""
    row = _registry_row(code.strip().upper())
    return None if row is None else row["icao"]


def nearest_airport(
    lon: float, lat: float, *, within_m: float = FAR_FROM_AIRPORT_M
) -> Airport | None:
    """The registry's airport whose reference point is nearest to ``lon``, ``lat`` (degrees),
    if it is at most ``within_m`` metres away (great circle); else None."""
    codes, lons, lats = _registry_points()
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    haversine = (
        np.sin((lats - lat_r) / 2) ** 2
        + np.cos(lat_r) * np.cos(lats) * np.sin((lons - lon_r) / 2) ** 2
    )
    metres = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(haversine, 0, 1)))
    i = int(np.argmin(metres))
    return lookup_airport(codes[i]) if metres[i] <= within_m else None


@functools.lru_cache(maxsize=1)
def _registry_points() -> tuple[list[str], np.ndarray, np.ndarray]:
    """ICAO codes of the registry with their reference points' longitudes and latitudes
    (radians)."""
    rows = list(_registry("ICAO").values())
    lons = np.radians([float(r["lon"]) for r in rows])
    lats = np.radians([float(r["lat"]) for r in rows])
    return [r["icao"] for r in rows], lons, lats


def _registry_row(key: str) -> dict | None:
    """The registry's row of an upper-case code: IATA when 3 letters long, else ICAO."""
    return _registry("ICAO").get(key) if len(key) != 3 else _registry("IATA").get(key)


def _suggestions(key: str) -> str:
    """'did you mean …? ': codes of the same kind one letter off, then names like ``key``."""
    rows = list(_registry("ICAO").values())
    field = "iata" if len(key) == 3 else "icao"

    def likeness(code: str) -> tuple[int, int]:
        """(letters equal in place, length of the common prefix); (0, 0) if lengths differ."""
        if len(code) != len(key):
            return (0, 0)
        same = [a == b for a, b in zip(code, key, strict=True)]
        return (sum(same), same.index(False) if False in same else len(same))

    codes = sorted(
        (r for r in rows if likeness(r.get(field) or "")[0] >= len(key) - 1),
        key=lambda r: tuple(-v for v in likeness(r[field])),
    )
    hits = codes[:3]
    if len(key) > 4:
        names = {r["name"].upper(): r for r in rows}
        hits += [r for r in rows if key in r["name"].upper() or key == r["city"].upper()][:3]
        hits += [names[n] for n in difflib.get_close_matches(key, names, n=3, cutoff=0.7)]
    shown = dict.fromkeys(f"{r['icao']}/{r.get('iata') or '-'} ({r['name']})" for r in hits)
    return f"did you mean {', '.join(shown)}? " if shown else ""


def load_aprons(
    airport: Airport, path: ApronSource | None = None, *, radius_m: float = 1500.0
) -> gpd.GeoDataFrame:
    """Apron polygons in ``airport.crs`` with columns ``apron_id`` (str) and ``geometry``.

    Args:
        airport: the airport whose CRS the aprons are returned in.
        path: a vector file (anything pyogrio reads; of several layers, see
            :func:`_apron_layer`), a (file, layer name) pair, or a GeoDataFrame of the same
            in any CRS. Where an ``aeroway`` column (or an OSM ``other_tags`` or nested
            ``tags`` column) exists only ``apron`` rows are kept; a geometry collection gives
            its polygons; lines, points and empty rows are dropped with a warning; heights
            (KML's Z) are dropped.
            Each ``apron_id`` comes from the first of :data:`APRON_ID_COLUMNS` holding one
            for it, else ``apron-<n>``. None: one square of half-side ``radius_m`` metres
            around the airport reference point, ``apron_id`` "airport".
        radius_m: half-side of the default square, metres.

    Raises:
        ApronError: the file cannot be read, lacks the layer named, holds no geometry (a
            CSV table), has no CRS or holds no apron polygons.
    """
    if path is None:
        x, y = (
            gpd.points_from_xy([airport.lon], [airport.lat], crs="EPSG:4326")
            .to_crs(airport.crs)[0]
            .coords[0]
        )
        square = shapely.box(x - radius_m, y - radius_m, x + radius_m, y + radius_m)
        log.info(
            "%s: no apron file; searching a %g km square centred on the airport reference point "
            "(lat %.4f, lon %.4f); give --aprons FILE to search the aprons themselves",
            airport.icao,
            2 * radius_m / 1000,
            airport.lat,
            airport.lon,
        )
        return gpd.GeoDataFrame({"apron_id": ["airport"]}, geometry=[square], crs=airport.crs)
    aprons = _read_aprons(path).to_crs(airport.crs)
    return _said(_near_airport(aprons, airport, _name(path)).reset_index(drop=True), airport, path)


def apron_record(source: object, aprons: gpd.GeoDataFrame) -> dict[str, object]:
    """The aprons a run searched, as ``run.json`` records them beside the file's path and
    sha256: the ``layer`` read from the file ``source`` (or the (file, layer) pair; None for
    the default square or a frame), how many aprons (``count``, after those far from the
    airport were dropped) and the area they cover in km² (``area_km2``, overlaps counted
    once; ``aprons`` in a metric CRS, as :func:`load_aprons` returns them)."""
    layer = None
    if isinstance(source, (str, os.PathLike, tuple)):
        import pyogrio

        file = user_path(apron_file(source))
        layer = _apron_layer(file, _layer_named(source)) or str(pyogrio.list_layers(file)[0][0])
    return {"layer": layer, "count": len(aprons), "area_km2": round(_area_km2(aprons), 6)}


def _said(aprons: gpd.GeoDataFrame, airport: Airport, source: ApronSource) -> gpd.GeoDataFrame:
    """``aprons`` (in ``airport.crs``) read from the file ``source``, said in one line: how
    many, the area they cover (km², overlaps once) and their ids, e.g. ``ZKPY: 2 aprons from
    a.kml, 0.08 km²: North apron, South apron`` (not for a frame: the caller's own)."""
    if not isinstance(source, gpd.GeoDataFrame):
        log.info(
            "%s: %s from %s, %.2f km²: %s",
            airport.icao,
            counted(len(aprons), "apron"),
            _name(source),
            _area_km2(aprons),
            few(aprons["apron_id"].tolist()),
        )
    return aprons


def _area_km2(aprons: gpd.GeoDataFrame) -> float:
    """The area ``aprons`` (metric CRS) cover, km², overlaps counted once."""
    return float(shapely.union_all(aprons.geometry.to_numpy()).area / 1e6)


def _read_aprons(source: ApronSource) -> gpd.GeoDataFrame:
    """The apron polygons of a file or frame (``apron_id``, ``geometry``) in its CRS, as
    :func:`load_aprons` describes them; ApronError for a source of none of its kinds (a
    list, a pair without a layer name, a DataFrame without geometry) and for a file of no
    geometry (a CSV table)."""
    pair = isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], str)
    if not (pair or isinstance(source, (str, os.PathLike, gpd.GeoDataFrame))):
        given = repr(source) if isinstance(source, (list, tuple)) else type(source).__name__
        raise ApronError(
            f"aprons {given}: give a vector file, a (file, layer name) tuple or a GeoDataFrame"
        )
    path = _name(source)
    if isinstance(source, gpd.GeoDataFrame):
        frame = source
    else:
        try:
            file = user_path(apron_file(source))
            layer = _apron_layer(file, _layer_named(source))
            if layer is not None:
                log.info("%s: aprons from layer %r", path, layer)
            frame = gpd.read_file(file, layer=layer)
        except ApronError:
            raise
        except Exception as e:  # pyogrio raises its own DataSourceError/DataLayerError types
            problem = _read_problem(user_path(path), e)
            raise ApronError(f"{path}: cannot read apron file ({problem})") from None
    if not isinstance(frame, gpd.GeoDataFrame):  # GDAL found no geometry: a CSV of names…
        raise ApronError(
            f"{path}: holds no geometry, only a table; give the apron polygons as a GeoPackage, "
            "GeoJSON, shapefile or KML file"
        )
    if missing_crs(frame.crs):
        raise ApronError(f"{path}: has no CRS{_crs_hint(source, frame)}")
    _check_degrees(frame, path)
    frame = _only_polygons(_only_aprons(_with_tags(frame)), path)
    if frame.empty:
        raise ApronError(f"{path}: holds no apron polygons (aeroway=apron Polygon features)")
    ids = _apron_ids(frame)
    geometry = _repaired(shapely.force_2d(frame.geometry.to_numpy()), ids, path)
    return gpd.GeoDataFrame({"apron_id": ids}, geometry=geometry, crs=frame.crs)


def _only_polygons(frame: gpd.GeoDataFrame, path: str) -> gpd.GeoDataFrame:
    """The rows with polygons, a geometry collection (KML's MultiGeometry of a polygon and its
    label point) as its polygonal parts; the others (points, lines, no geometry) dropped with
    one warning that counts them by kind."""
    geometry = frame.geometry.copy()
    collections = (geometry.geom_type == "GeometryCollection").to_numpy()
    geometry[collections] = polygonal_parts(geometry[collections].to_numpy())
    kept = geometry.geom_type.isin(["Polygon", "MultiPolygon"]) & ~geometry.is_empty
    if (~kept).any():
        dropped = frame.geometry[~kept]
        kinds = dropped.geom_type.where(~dropped.is_empty, "empty " + dropped.geom_type)
        by_kind = kinds.fillna("no geometry").value_counts().sort_index()
        log.warning(
            "%s: dropped %s holding no polygon (%s)",
            path,
            counted(int((~kept).sum()), "feature"),
            ", ".join(f"{n} {kind}" for kind, n in by_kind.items()),
        )
    return frame[kept].set_geometry(geometry[kept])


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Each geometry's polygonal parts as one MultiPolygon (empty if none): of a collection, or
    of an intersection, where an apron that only touches the seen area, along an edge or at a
    corner, meets it in a line or a point (that saw nothing, and a coverage layer of mixed
    types opens in QGIS as several layers)."""
    parts = [shapely.get_parts(shapely.get_parts(g)) for g in geoms]
    polygons = [shapely.MultiPolygon([p for p in ps if p.geom_type == "Polygon"]) for ps in parts]
    return np.array(polygons, dtype=object)


def _read_problem(path: Path, error: Exception) -> str:
    """Why GDAL could not read ``path``, said for the user: no such file; a folder (of no
    layer GDAL reads); an empty file; a .geojson that is not JSON, where; an Overpass API JSON
    (``elements``, not GeoJSON) with how to export it; a format GDAL does not know with the
    formats it does (not GDAL's advice to prefix a driver name); else GDAL's message."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "a folder, not a vector file; give the apron file in it"
    try:
        if "not recognized as being in a supported file format" not in str(error):
            return str(error)
        content = path.read_bytes()
    except OSError:  # unreadable: no permission
        return str(error)
    if not content:
        return "an empty file"
    try:
        data = json.loads(content)
    except ValueError as e:  # a .geojson edited by hand (or not text)
        if path.suffix.lower() in (".json", ".geojson"):
            return f"not valid JSON: {e}"
        data = None
    if isinstance(data, dict) and "elements" in data:
        return (
            "an Overpass API JSON, not GeoJSON: export it as GeoJSON (overpass turbo: Export, "
            "GeoJSON; or osmtogeojson FILE > aprons.geojson), or ask Overpass for [out:xml] "
            "and give the .osm file"
        )
    return (
        "not a vector format GDAL reads; give a GeoPackage, GeoJSON, shapefile, KML/KMZ or OSM "
        ".osm/.pbf file"
    )


def _crs_hint(source: ApronSource, frame: gpd.GeoDataFrame) -> str:
    """What to do about aprons without a CRS: the ``set_crs`` of a frame; of a file, the
    ogr2ogr line that names its CRS, EPSG:4326 where its numbers fit longitudes and latitudes
    (a shapefile: its missing ``.prj`` said)."""
    if isinstance(source, gpd.GeoDataFrame):
        return "; set one (GeoDataFrame.set_crs)"
    lon_min, lat_min, lon_max, lat_max = frame.total_bounds
    degrees = -180 <= lon_min and lon_max <= 360 and -90 <= lat_min and lat_max <= 90
    crs = "EPSG:4326" if degrees else "EPSG:<its projected CRS>"
    file = apron_file(source)
    prj = " (no .prj beside it)" if Path(file).suffix.lower() == ".shp" else ""
    looks = "its numbers look like longitude and latitude" if degrees else "its numbers are metres"
    return f"{prj}; {looks}: name it (ogr2ogr -a_srs {crs} aprons.gpkg {file})"


def _repaired(geometry: np.ndarray, ids: list[str], path: str) -> np.ndarray:
    """Polygons made valid, still polygons (a self-intersecting one split in two, collapsed
    spikes dropped); the invalid ones named in one warning with what was wrong."""
    invalid = ~shapely.is_valid(geometry)
    if invalid.any():
        bad = zip(np.asarray(ids)[invalid], geometry[invalid], strict=True)
        named = [f"{i} ({shapely.is_valid_reason(g)})" for i, g in bad]
        log.warning("%s: repaired %d invalid apron polygons: %s", path, len(named), few(named))
    return shapely.make_valid(geometry, method="structure", keep_collapsed=False)


def _name(source: ApronSource) -> str:
    """How messages name the aprons: the file as given, or "aprons frame"."""
    return "aprons frame" if isinstance(source, gpd.GeoDataFrame) else str(apron_file(source))


def apron_file(source: object) -> object:
    """The file of aprons given as a (file, layer name) pair; any other source as given."""
    return source[0] if isinstance(source, tuple) else source


def _layer_named(source: object) -> str | None:
    """The layer named by aprons given as a (file, layer name) pair; else None."""
    return str(source[1]) if isinstance(source, tuple) else None


def _apron_layer(path: Path, named: str | None = None) -> str | None:
    """The layer of ``path`` to read aprons from: ``named`` when given (in any case, where only
    one layer has the name so: a KML folder ``Parking`` for ``parking``; ApronError naming the
    file's layers when it has none of that name); else, of a file with several, the one
    polygon layer named like ``apron``, else the only polygon layer (an OSM export's
    ``multipolygons``; of a KML, whose folders declare no geometry type, the only folder
    holding a polygon, not the one of the pin beside it); None for a file of one layer.
    ApronError, naming the layers, when that leaves none or several."""
    import pyogrio

    layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(path)]
    listed = ", ".join(f"{name} ({kind})" for name, kind in layers)
    if named is not None:
        names = [name for name, _ in layers]
        same = [n for n in names if n == named] or [n for n in names if n.lower() == named.lower()]
        if len(same) != 1:
            raise ApronError(f"{path}: no layer {named!r}; its layers: {listed}")
        return same[0]
    if len(layers) < 2:
        return None
    polygons = [
        name
        for name, kind in layers
        if "Polygon" in kind or (kind in ("Unknown", "None") and _holds_polygons(path, name))
    ]
    named = [name for name in polygons if "apron" in name.lower()]
    chosen = named if named else polygons
    if len(chosen) != 1:
        raise ApronError(
            f"{path}: {len(layers)} layers ({listed}) and not one that is clearly the aprons; "
            "name the apron layer (--aprons-layer NAME; aprons_layer: in a batch job; "
            "aprons=(FILE, NAME) in Python)"
        )
    return chosen[0]


def _holds_polygons(path: Path, layer: str) -> bool:
    """Whether ``layer`` of ``path``, of no declared geometry type, holds a polygon (of a
    geometry collection too)."""
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer=layer, columns=[])
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry
        return False
    return bool((~shapely.is_empty(polygonal_parts(frame.geometry.to_numpy()))).any())


def _check_degrees(frame: gpd.GeoDataFrame, path: str) -> None:
    """Longitudes and latitudes of a file in degrees must be on the globe: latitudes beyond
    ±90° that would be longitudes, with longitudes that would be latitudes, are (almost always)
    the two swapped; numbers beyond that are metres of a projected CRS the file does not name
    (a GeoJSON without a ``crs`` member is read as EPSG:4326). Longitudes past ±180° (180.1°,
    as polygons drawn across the antimeridian are written, or 0°…360°) are the globe's, up to
    ±360°."""
    if not frame.crs.is_geographic or (frame.geometry.isna() | frame.geometry.is_empty).all():
        return
    lon_min, lat_min, lon_max, lat_max = frame.total_bounds
    if -90 <= lat_min and lat_max <= 90 and -360 <= lon_min and lon_max <= 360:
        return
    swapped = -90 <= lon_min and lon_max <= 90 and -360 <= lat_min and lat_max <= 360
    raise ApronError(
        f"{path}: coordinates beyond the globe (longitude {lon_min:.2f}…{lon_max:.2f}, "
        f"latitude {lat_min:.2f}…{lat_max:.2f} in {frame.crs.to_string()}); "
        + (
            _swapped(lon_min, lat_min)
            if swapped
            else "numbers this large are metres of a projected CRS, not degrees (a GeoJSON "
            'without a "crs" member is read as EPSG:4326): write the file in degrees '
            f"(ogr2ogr -s_srs EPSG:<its CRS> -t_srs EPSG:4326 aprons.geojson {path})"
        )
    )


def _swapped(lon: float, lat: float) -> str:
    """What messages ask of aprons read at ``lon``, ``lat`` (degrees) that look swapped, with
    the order the formats want, in the file's own numbers."""
    return (
        "are longitude and latitude swapped? (GeoJSON, KML and WKT give longitude first: "
        f"[{lat:.2f}, {lon:.2f}], not [{lon:.2f}, {lat:.2f}])"
    )


def _with_tags(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with the keys of a ``tags`` column of OSM tags (osmtogeojson without flat
    properties writes ``{"tags": {"aeroway": "apron", "name": …}}``; read as dicts or as JSON
    text) as columns of their own, where no column has the name already."""
    if "tags" not in frame.columns:
        return frame
    tags = [_tag_dict(cell) for cell in frame["tags"]]
    if not any(tags):
        return frame
    flat = pd.DataFrame(tags, index=frame.index)
    return frame.join(flat[[c for c in flat.columns if c not in frame.columns]])


def _tag_dict(cell: object) -> dict:
    """A ``tags`` cell as a dict: as read, or parsed from JSON text; {} otherwise."""
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except ValueError:
            return {}
    return cell if isinstance(cell, dict) else {}


def _only_aprons(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows tagged aeroway=apron where the file carries the tag, else all rows."""
    if "aeroway" in frame.columns:
        return frame[frame["aeroway"].astype(str).str.lower() == "apron"]
    if "other_tags" in frame.columns:  # GDAL's OSM driver packs tags as "k"=>"v"
        tag = frame["other_tags"].fillna("").str.contains(r'"aeroway"=>"apron"', regex=True)
        return frame[tag]
    return frame


def _apron_ids(frame: gpd.GeoDataFrame) -> list[str]:
    """Each row's id from the first of :data:`APRON_ID_COLUMNS` (any case: KML's ``Name``)
    holding one for it (:func:`_id_text`: an OSM relation without a name keeps its ``id``),
    ``apron-<n>`` where none does, made unique with ``-2``, ``-3``… after a name taken
    before."""
    columns = {str(c).lower(): c for c in reversed(frame.columns)}  # the first of each case
    present = [frame[columns[c]].tolist() for c in APRON_ID_COLUMNS if c in columns]
    used: set[str] = set()
    ids = []
    rows = list(zip(*present, strict=True)) or [()] * len(frame)  # each row's candidates
    for n, values in enumerate(rows, start=1):
        base = next(filter(None, map(_id_text, values)), f"apron-{n}")
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}-{k}"
        used.add(name)
        ids.append(name)
    return ids


def _id_text(value: object) -> str:
    """An id cell as one line of text, "" when empty; a whole number read as a float (a
    numeric column with gaps) without its ``.0``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", " ", str(value)).strip()
    return "" if text in ("nan", "None", "<NA>") else text


def _near_airport(aprons: gpd.GeoDataFrame, airport: Airport, path: str) -> gpd.GeoDataFrame:
    """The aprons (``airport.crs``) within :data:`FAR_FROM_AIRPORT_M` of the airport's
    reference point, the others (another airport's, as in a regional OSM extract) dropped with
    a warning naming them. When none is near, all are kept with a warning asking whether
    longitude and latitude are swapped (where swapping them brings the aprons near), else
    naming the registry's airport they lie at (:func:`nearest_airport`), else asking whether
    the airport is the right one."""
    centre = gpd.points_from_xy([airport.lon], [airport.lat], crs="EPSG:4326").to_crs(airport.crs)
    distance = aprons.distance(centre[0])
    far = (distance > FAR_FROM_AIRPORT_M).to_numpy()
    if not far.all():
        if far.any():
            log.warning(
                "%s: dropped %d aprons over %.0f km from %s (another airport's?): %s",
                path,
                int(far.sum()),
                FAR_FROM_AIRPORT_M / 1000,
                airport.icao,
                few(aprons.loc[far, "apron_id"].tolist()),
            )
        return aprons[~far]
    lon, lat = lonlat_centre(aprons.geometry)
    swapped = gpd.points_from_xy([lat], [lon], crs="EPSG:4326").to_crs(airport.crs)[0]
    there = nearest_airport(lon, lat)
    if swapped.distance(centre[0]) <= FAR_FROM_AIRPORT_M:
        hint = _swapped(lon, lat)
    elif there is not None:
        hint = (
            f"they lie at {there.icao}/{there.iata or '-'} ({there.name}): give "
            f"{there.icao} if they are that airport's"
        )
    else:
        hint = "is this the right airport?"
    log.warning(
        "%s: nearest apron is %.0f km from %s; %s",
        path,
        float(distance.min()) / 1000,
        airport.icao,
        hint,
    )
    return aprons
