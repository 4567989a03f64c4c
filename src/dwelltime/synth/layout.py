"""A synthetic airport: runway, taxiway, aprons with stands, terminal buildings, in the
airport's local UTM CRS (metres). Designed around the real reference point so scenes land
where the real airport is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity


@dataclass(frozen=True)
class Stand:
    """A parking position. ``x, y`` metres (layout CRS); ``heading_deg``: parked nose direction,
    clockwise from grid north; ``max_length_m``: longest aircraft it takes."""

    stand_id: str
    apron_id: str
    x: float
    y: float
    heading_deg: float
    max_length_m: float
    bridge: bool


@dataclass(frozen=True)
class Building:
    footprint: shapely.Polygon  # layout CRS
    height_m: float


@dataclass(frozen=True)
class AirportLayout:
    """Everything static about the synthetic airport (layout CRS metres)."""

    icao: str
    crs: str  # "EPSG:326nn"
    heading_deg: float  # runway direction, clockwise from grid north; slabs and stands follow it
    ref_x: float  # reference point easting
    ref_y: float  # reference point northing
    extent: shapely.Polygon  # the area scenes cover
    runway: shapely.Polygon
    taxiways: tuple[shapely.Polygon, ...]
    aprons: tuple[tuple[str, shapely.Polygon], ...]  # (apron_id, polygon)
    buildings: tuple[Building, ...]
    stands: tuple[Stand, ...]
    car_parks: tuple[shapely.Polygon, ...]

    def stand(self, stand_id: str) -> Stand:
        """The stand called ``stand_id`` (KeyError if none)."""
        for s in self.stands:
            if s.stand_id == stand_id:
                return s
        raise KeyError(stand_id)


def design_layout(
    icao: str,
    crs: str,
    ref_x: float,
    ref_y: float,
    *,
    runway_heading_deg: float = 10.0,
    size_m: tuple[float, float] = (1200.0, 800.0),
) -> AirportLayout:
    """A compact layout centred on the reference point, rotated to ``runway_heading_deg``.

    Local frame before rotation: ``u`` across the runway (east), ``v`` along it (north). West
    to east: runway, parallel taxiway, main apron "A" (nose-in stands facing the terminal,
    some with jet bridges), terminal; apron "B" (remote / VIP stands) south-east of "A".
    """
    w, h = size_m
    rot = -runway_heading_deg  # shapely rotates counter-clockwise; headings are clockwise

    def place(geom: shapely.Geometry) -> shapely.Geometry:
        return affinity.translate(affinity.rotate(geom, rot, origin=(0, 0)), ref_x, ref_y)

    def box(u0: float, v0: float, u1: float, v1: float) -> shapely.Polygon:
        return place(shapely.box(u0, v0, u1, v1))

    runway = box(-w / 2 + 60, -h / 2 - 400, -w / 2 + 105, h / 2 + 400)
    taxiways = (
        box(-w / 2 + 210, -h / 2 - 400, -w / 2 + 233, h / 2 + 400),
        box(-w / 2 + 105, 160, -w / 2 + 210, 183),
        box(-w / 2 + 105, -220, -w / 2 + 210, -197),
    )
    apron_a = (-w / 2 + 233, -130, -w / 2 + 233 + 260, 330)
    apron_b = (-w / 2 + 233, -360, -w / 2 + 233 + 330, -150)
    aprons = (("A", box(*apron_a)), ("B", box(*apron_b)))
    terminal_u = apron_a[2]
    buildings = [
        Building(box(terminal_u + 15, -60, terminal_u + 75, 300), 18.0),
        Building(box(terminal_u + 90, 20, terminal_u + 160, 120), 10.0),
        Building(box(apron_b[2] + 20, -350, apron_b[2] + 110, -260), 22.0),  # hangar
        Building(box(terminal_u + 20, -120, terminal_u + 50, -90), 8.0),
    ]
    buildings += _rooftop_units(buildings)
    car_parks = (box(terminal_u + 175, 0, terminal_u + 265, 140),)
    stands: list[Stand] = []
    heading = (90.0 + runway_heading_deg) % 360  # nose towards the terminal (local east)
    for i, v in enumerate(np.arange(-95, 320, 58)):
        x, y = _xy(place, terminal_u - 38, v)
        stands.append(Stand(f"A{i + 1}", "A", x, y, heading, 58.0, bridge=i % 3 != 2))
    south = (180.0 + runway_heading_deg) % 360  # remote stands: nose to local south
    for i, u in enumerate(np.arange(apron_b[0] + 45, apron_b[2] - 30, 68)):
        x, y = _xy(place, u, -255)
        stands.append(Stand(f"B{i + 1}", "B", x, y, south, 75.0, bridge=False))
    extent = shapely.box(ref_x - w / 2, ref_y - h / 2, ref_x + w / 2, ref_y + h / 2)
    return AirportLayout(
        icao=icao,
        crs=crs,
        heading_deg=runway_heading_deg,
        ref_x=ref_x,
        ref_y=ref_y,
        extent=extent,
        runway=runway,
        taxiways=taxiways,
        aprons=aprons,
        buildings=tuple(buildings),
        stands=tuple(stands),
        car_parks=car_parks,
    )


def _rooftop_units(buildings: list[Building]) -> list[Building]:
    """Air-conditioning units and vents on the roofs (deterministic per building)."""
    units = []
    for k, b in enumerate(buildings):
        rng = np.random.default_rng(1000 + k)
        minx, miny, maxx, maxy = b.footprint.bounds
        for _ in range(int(b.footprint.area // 900)):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            unit = shapely.box(x - 2, y - 1.5, x + 2, y + 1.5)
            if b.footprint.buffer(-3).contains(unit):
                units.append(Building(unit, b.height_m + 1.8))
    return units


def _xy(
    place: Callable[[shapely.Geometry], shapely.Geometry], u: float, v: float
) -> tuple[float, float]:
    p = place(shapely.Point(u, v))
    return float(p.x), float(p.y)
