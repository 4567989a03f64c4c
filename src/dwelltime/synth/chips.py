"""Labelled training chips: aircraft on random aprons, rendered at a source GSD, degraded and
resampled to the model GSD, with strong domain randomisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from PIL import Image

from dwelltime.catalog import AircraftType, load_catalog
from dwelltime.footprints import footprint_corners, frame_axes
from dwelltime.synth.aircraft import Sun, draw_aircraft, draw_shadow, random_paint
from dwelltime.synth.background import apron_background
from dwelltime.synth.clouds import CLOUD_HEIGHT_M, apply_clouds, cloud_opacity
from dwelltime.synth.degrade import (
    OPTICS_BLUR_PX,
    blur_and_resample,
    jpeg,
    radiometry,
    sharpen,
    to_uint8,
)

#: Source GSD range (metres) drawn log-uniformly when ``source_gsd_m`` is None.
SOURCE_GSD_RANGE_M = (0.3, 3.0)


#: Least share of an aircraft's footprint inside a chip for it to count in evaluation: the
#: window-crop rule of DOTA tooling (an object belongs to a crop when at least 70 % of it is
#: inside, e.g. ``iof_thr=0.7`` in ultralytics' ``split_dota``).
MIN_IN_CHIP = 0.7
#: Length range (metres) of the aircraft that ``render_chip(small_share=…)`` draws outside the
#: catalog: business, commuter and light aircraft, shorter than its shortest type (23.5 m).
SMALL_LENGTH_RANGE_M = (9.0, 22.0)
#: Their designator: the detector's class for types outside the catalog.
SMALL_TYPE = "unknown"


@dataclass(frozen=True)
class AircraftLabel:
    """One aircraft in a chip. Pixels are (col, row) of the returned image; pixel (0, 0) covers
    ``[0, 1) × [0, 1)``. ``heading_deg``: nose direction clockwise from image up.
    """

    type: str
    cx_px: float
    cy_px: float
    heading_deg: float
    length_m: float
    wingspan_m: float
    polygon_px: np.ndarray  # (4, 2): nose-left, nose-right, tail-right, tail-left
    hidden: bool  # mostly under cloud
    in_chip: float = 1.0  # share of the length × span rectangle inside the chip, [0, 1]

    @property
    def difficult(self) -> bool:
        """Not to be scored as found or missed: hidden, or cut by the chip's edge to less
        than :data:`MIN_IN_CHIP` of its footprint (only part of the aircraft is in view)."""
        return self.hidden or self.in_chip < MIN_IN_CHIP


@dataclass(frozen=True)
class Chip:
    """A rendered chip: ``image`` (H, W, 3) uint8 at ``gsd_m``; ``mask`` (H, W) uint16 holds
    ``i + 1`` where ``labels[i]`` covers the pixel (0 = no aircraft).
    """

    image: np.ndarray
    labels: list[AircraftLabel]
    mask: np.ndarray
    gsd_m: float
    source_gsd_m: float


def label_polygon_px(
    t: AircraftType, cx: float, cy: float, heading_deg: float, gsd_m: float
) -> np.ndarray:
    """Corners (4, 2) of the oriented length × span rectangle in pixels, nose-left first."""
    return footprint_corners(cx, cy, t.length_m / gsd_m, t.wingspan_m / gsd_m, heading_deg)[0]


Placement = tuple[AircraftType, float, float, float]  # type, x_m, y_m (from top-left), heading°


def _place(rng: np.random.Generator, kinds: list[AircraftType], extent_m: float) -> list[Placement]:
    """Non-overlapping (type, x_m, y_m, heading°) with centres inside the square chip: often a
    parking row (same heading, wing tip to wing tip a few metres apart), else scattered."""
    placed: list[Placement] = []
    taken: list[shapely.Polygon] = []

    def take(t: AircraftType, x: float, y: float, heading: float) -> bool:
        inside = 0 <= x <= extent_m and 0 <= y <= extent_m
        poly = shapely.Polygon(label_polygon_px(t, x, y, heading, 1.0)).buffer(1.5)
        if inside and not any(poly.intersects(other) for other in taken):
            placed.append((t, x, y, heading))
            taken.append(poly)
            return True
        return False

    if len(kinds) > 1 and rng.random() < 0.4:
        row_heading = float(rng.uniform(0, 360))
        across = frame_axes(row_heading)[1]
        start = rng.uniform(0.1, 0.9, 2) * extent_m
        offset = 0.0
        for i, t in enumerate(kinds):
            if i:
                offset += (kinds[i - 1].wingspan_m + t.wingspan_m) / 2 + rng.uniform(3, 12)
            x, y = start + across * offset
            take(t, float(x), float(y), (row_heading + rng.normal(0, 2)) % 360)
        return placed
    for t in kinds:
        for _ in range(20):
            x, y = rng.uniform(0, extent_m, 2)
            if take(t, float(x), float(y), float(rng.uniform(0, 360))):
                break
    return placed


def render_chip(
    rng: np.random.Generator,
    *,
    size_px: int = 512,
    gsd_m: float = 0.5,
    source_gsd_m: float | None = None,
    types: Sequence[str] | None = None,
    n_aircraft: tuple[int, int] = (0, 6),
    cloud_probability: float = 0.07,
    small_share: float = 0.0,
) -> Chip:
    """Render one labelled chip of ``size_px``² pixels at ``gsd_m`` metres per pixel.

    The scene is drawn at ``source_gsd_m`` (random log-uniform in 0.3–3 m when None), blurred
    like a sensor, resampled to ``gsd_m`` and randomised in colour, brightness, haze, noise and
    JPEG compression. ``types``: ICAO designators to draw from (default: the whole catalog);
    ``n_aircraft``: inclusive range of the number of aircraft. ``small_share``: probability that
    an aircraft is a catalog planform scaled to :data:`SMALL_LENGTH_RANGE_M`, labelled
    :data:`SMALL_TYPE` (0 draws no extra random numbers, so chips stay as they were).
    """
    catalog = load_catalog()
    names = list(types) if types else sorted(catalog)
    unknown = sorted(set(names) - set(catalog))
    if unknown:
        raise ValueError(
            f"unknown aircraft type(s) {unknown}; use ICAO designators of load_catalog()"
        )
    if source_gsd_m is None:
        lo, hi = np.log(SOURCE_GSD_RANGE_M[0]), np.log(SOURCE_GSD_RANGE_M[1])
        source_gsd_m = float(np.exp(rng.uniform(lo, hi)))
    count = int(rng.integers(n_aircraft[0], n_aircraft[1] + 1))
    kinds = [catalog[names[i]] for i in rng.integers(len(names), size=count)]
    if small_share > 0:
        kinds = [
            t.scaled(float(rng.uniform(*SMALL_LENGTH_RANGE_M)), SMALL_TYPE)
            if rng.random() < small_share
            else t
            for t in kinds
        ]
    placed = _place(rng, kinds, size_px * gsd_m)
    return compose_chip(
        rng,
        placed,
        size_px=size_px,
        gsd_m=gsd_m,
        source_gsd_m=source_gsd_m,
        cloud_probability=cloud_probability,
    )


def compose_chip(
    rng: np.random.Generator,
    placed: Sequence[Placement],
    *,
    size_px: int,
    gsd_m: float,
    source_gsd_m: float,
    cloud_probability: float = 0.0,
    randomise: bool = True,
    clutter: bool = True,
) -> Chip:
    """Render the given aircraft placements (metres from the chip's top-left corner) on a
    random apron; ``randomise=False`` skips the colour/noise/JPEG domain randomisation (and
    uses a fixed 0.5-pixel optics blur),
    ``clutter=False`` the buildings, bridges, vehicles and grass.
    """
    extent_m = size_px * gsd_m
    n_src = max(round(extent_m / source_gsd_m), 8)
    src_gsd = extent_m / n_src
    sun = Sun(float(rng.uniform(0, 360)), float(rng.uniform(25, 75)))
    kinds = [t for t, *_ in placed]
    # (col, row, heading°) of each aircraft on the source grid
    places = [(x / src_gsd, y / src_gsd, heading) for _, x, y, heading in placed]
    footprints = [
        shapely.Polygon(label_polygon_px(t, *place, src_gsd))
        for t, place in zip(kinds, places, strict=True)
    ]
    keep_out = shapely.union_all(footprints).buffer(1.0 / src_gsd) if footprints else None
    rgb = apron_background(
        rng,
        (n_src, n_src),
        src_gsd,
        sun.shadow_px(1.0, src_gsd),
        clutter=clutter,
        keep_out=keep_out,
    )
    ids = np.zeros((n_src, n_src), np.uint16)
    shadow_strength = float(rng.uniform(0.4, 0.7))
    for t, place in zip(kinds, places, strict=True):
        draw_shadow(rgb, t, place, sun, src_gsd, shadow_strength)
    for i, (t, place) in enumerate(zip(kinds, places, strict=True)):
        draw_aircraft(rgb, ids, i + 1, t, place, random_paint(rng, t), sun, src_gsd)
    hidden = [False] * len(placed)
    if rng.random() < cloud_probability:
        opacity = cloud_opacity(rng, (n_src, n_src), src_gsd, float(rng.uniform(0.15, 0.6)))
        rgb = apply_clouds(rgb, opacity, sun.shadow_px(CLOUD_HEIGHT_M, src_gsd))
        for i in range(len(placed)):
            on = ids == i + 1
            hidden[i] = bool(on.any() and opacity[on].mean() > 0.5)
    blur = float(rng.uniform(*OPTICS_BLUR_PX)) if randomise else 0.5
    image = blur_and_resample(to_uint8(rgb), (size_px, size_px), blur)
    if randomise:
        if rng.random() < 0.3:
            image = sharpen(image, rng.uniform(30, 120))
        image = radiometry(rng, image)
        if rng.random() < 0.5:
            image = jpeg(image, int(rng.integers(35, 95)))
    mask = np.asarray(Image.fromarray(ids).resize((size_px, size_px), Image.Resampling.NEAREST))
    frame = shapely.box(0, 0, size_px, size_px)
    labels = []
    for i, (t, x, y, heading) in enumerate(placed):
        polygon = label_polygon_px(t, x / gsd_m, y / gsd_m, heading, gsd_m)
        footprint = shapely.Polygon(polygon)
        labels.append(
            AircraftLabel(
                type=t.icao,
                cx_px=x / gsd_m,
                cy_px=y / gsd_m,
                heading_deg=heading,
                length_m=t.length_m,
                wingspan_m=t.wingspan_m,
                polygon_px=polygon,
                hidden=hidden[i],
                in_chip=float(footprint.intersection(frame).area / footprint.area),
            )
        )
    return Chip(image=image, labels=labels, mask=mask, gsd_m=gsd_m, source_gsd_m=src_gsd)
