"""Render one georeferenced acquisition of a synthetic airport with its ground truth.

The world is the layout's UTM CRS (metres). A scene grid may be UTM or EPSG:4326; world →
pixel is the grid's affine map (exact for UTM, a local affine fit for EPSG:4326 over a
kilometre-sized scene), so aircraft keep their true shape and heading in either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import Transformer

from dwelltime.catalog import AircraftType, load_catalog
from dwelltime.footprints import footprint_corners, frame_axes
from dwelltime.synth.aircraft import Sun, draw_aircraft, draw_shadow, random_paint
from dwelltime.synth.background import VEHICLE_COLOURS, noise_bank
from dwelltime.synth.clouds import CLOUD_HEIGHT_M, apply_clouds, cloud_opacity
from dwelltime.synth.layout import AirportLayout, Building
from dwelltime.synth.planform import planform
from dwelltime.synth.raster import blend, coverage
from dwelltime.synth.solar import sun_position
from dwelltime.synth.traffic import Presence

#: Car paints, weighted like a real car park: mostly white, black and grey.
CAR_COLOURS = np.array(
    [[0.9, 0.9, 0.9]] * 3 + [[0.15, 0.15, 0.17]] * 3 + [[0.55, 0.56, 0.58]] * 3
    + [[0.6, 0.1, 0.1], [0.15, 0.25, 0.5]]
)  # fmt: skip
#: Roof materials: light and dark grey membranes, metal, a faded blue and a green.
ROOF_COLOURS = np.array(
    [
        [0.78, 0.78, 0.77],
        [0.55, 0.56, 0.57],
        [0.68, 0.7, 0.72],
        [0.45, 0.55, 0.65],
        [0.5, 0.6, 0.52],
    ]
)


@dataclass(frozen=True)
class SceneSpec:
    """How one acquisition looks. Distances in metres, angles in degrees."""

    stem: str  # file stem of the image
    acquired: pd.Timestamp  # UTC
    time_source: str  # gdal_tag | stac | planet_json | maxar_imd | filename
    crs: str = "EPSG:32651"  # a UTM CRS or "EPSG:4326"
    gsd_m: float = 0.5
    bands: int = 3  # 3: RGB, 4: RGB + NIR
    dtype: str = "uint8"  # uint8 | uint16
    cloud_cover: float = 0.0  # fraction of the scene under cloud
    cloud_over: tuple[float, float] | None = None  # layout (x, y) a cloud must cover
    off_nadir_deg: float = 0.0
    view_azimuth_deg: float = 0.0  # direction from the target to the satellite
    shift_m: tuple[float, float] = (
        0.0,
        0.0,
    )  # misregistration: (east, north) error of the transform
    jpeg_quality: int | None = None  # JPEG-compressed GeoTIFF (uint8 RGB only)
    nodata_corner: bool = True  # a strip edge cuts one corner (nodata)
    blur_px: float = 0.6
    noise: float = 0.01
    haze: float = 0.05


@dataclass
class RenderedScene:
    """Pixels (bands, H, W), the written grid and the truth rows of one scene."""

    spec: SceneSpec
    data: np.ndarray
    transform: Affine  # as written (includes the misregistration)
    crs: str
    valid: np.ndarray  # (H, W) bool: has data
    clear: np.ndarray  # (H, W) bool: has data and no cloud
    sun: Sun
    truth: list[dict] = field(default_factory=list)

    @property
    def cloud_fraction(self) -> float:
        """Cloudy share of the valid pixels."""
        n = self.valid.sum()
        return float(((~self.clear) & self.valid).sum() / n) if n else 0.0


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def scene_grid(layout: AirportLayout, spec: SceneSpec) -> tuple[Affine, Affine, int, int]:
    """(true transform pixel→scene CRS, world→pixel affine, width, height) of the scene."""
    minx, miny, maxx, maxy = layout.extent.bounds
    if spec.crs == layout.crs:
        width, height = round((maxx - minx) / spec.gsd_m), round((maxy - miny) / spec.gsd_m)
        true = Affine(spec.gsd_m, 0, minx, 0, -spec.gsd_m, maxy)
        return true, ~true, width, height
    to_crs = Transformer.from_crs(layout.crs, spec.crs, always_xy=True)
    xs, ys = to_crs.transform([minx, maxx, maxx, minx], [miny, miny, maxy, maxy])
    cx, cy = layout.extent.centroid.x, layout.extent.centroid.y
    (x0, x1, x2), (y0, y1, y2) = to_crs.transform([cx, cx + 100, cx], [cy, cy, cy + 100])
    # pixel size in the scene CRS that is gsd_m on the ground in both directions
    px = spec.gsd_m * np.hypot(x1 - x0, y1 - y0) / 100
    py = spec.gsd_m * np.hypot(x2 - x0, y2 - y0) / 100
    true = Affine(px, 0, min(xs), 0, -py, max(ys))
    width, height = round((max(xs) - min(xs)) / px), round((max(ys) - min(ys)) / py)
    inv = ~true
    c0, r0 = inv @ (x0, y0)
    c1, r1 = inv @ (x1, y1)
    c2, r2 = inv @ (x2, y2)
    world = Affine((c1 - c0) / 100, (c2 - c0) / 100, 0, (r1 - r0) / 100, (r2 - r0) / 100, 0)
    world = Affine.translation(c0, r0) @ world @ Affine.translation(-cx, -cy)
    return true, world, width, height


def _world_coords(world: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    inv = ~world
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32) + np.float32(0.5)
    a, b, c, d, e, f = (np.float32(v) for v in inv[:6])
    return a * cols + b * rows + c, d * cols + e * rows + f


def _world_noise(x: np.ndarray, y: np.ndarray, k: int, scale_m: float) -> np.ndarray:
    """Noise bank ``k`` sampled at world coordinates, one bank pixel per ``scale_m`` metres."""
    bank = noise_bank()[k]
    n = bank.shape[0]
    return bank[
        (np.floor(-y / scale_m).astype(np.int64) % n), (np.floor(x / scale_m).astype(np.int64) % n)
    ]


def _rings_px(world: Affine, geom: shapely.Geometry) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exterior and interior rings of a (multi)polygon in pixels."""
    exteriors: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    for g in getattr(geom, "geoms", [geom]):
        if g.is_empty or g.geom_type != "Polygon":
            continue
        for ring, out in [(g.exterior, exteriors)] + [(r, holes) for r in g.interiors]:
            xy = np.asarray(ring.coords)
            c, r = world @ (xy[:, 0], xy[:, 1])
            out.append(np.stack([c, r], 1))
    return exteriors, holes


def _cover(
    world: Affine, geom: shapely.Geometry, shape: tuple[int, int], shift: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """Pixel coverage of a (multi)polygon, optionally shifted by ``shift`` pixels
    (:func:`dwelltime.synth.raster.coverage`: alpha and its window; None when none)."""
    exteriors, holes = _rings_px(world, geom)
    if not exteriors:
        return None
    if shift is not None:
        exteriors, holes = [e + shift for e in exteriors], [h + shift for h in holes]
    return coverage(exteriors, shape, supersample=2, holes=holes)


def _paint(
    rgb: np.ndarray,
    world: Affine,
    geom: shapely.Geometry,
    colour: Sequence[float] | np.ndarray,
    opacity: float = 1.0,
) -> None:
    cov = _cover(world, geom, rgb.shape[:2])
    if cov is not None:
        blend(rgb, cov[0] * opacity, cov[1], np.asarray(colour, np.float32))


def _ground(
    layout: AirportLayout, world: Affine, shape: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Grass, asphalt and apron concrete (H, W, 3) and an NIR-ish vegetation weight (H, W)."""
    x, y = _world_coords(world, shape)
    mix = np.clip(0.5 + 0.7 * _world_noise(x, y, 0, 2.0) + rng.uniform(-0.15, 0.15), 0, 1)[
        ..., None
    ]
    green = np.array([0.3, 0.4, 0.2], np.float32)
    dry = np.array([0.48, 0.45, 0.32], np.float32)
    tex = (1 + 0.12 * _world_noise(x, y, 1, 0.25))[..., None]
    rgb = (green * (1 - mix) + dry * mix) * tex
    veg = np.ones(shape, np.float32)
    paved = np.zeros(shape, np.float32)
    asphalt = shapely.union_all([layout.runway, *layout.taxiways, *layout.car_parks])
    cov = _cover(world, asphalt, shape)
    if cov is not None:
        a, win = cov
        tone = 0.3 * (1 + 0.08 * _world_noise(x[win], y[win], 2, 0.5))
        blend(rgb, a, win, tone[..., None] * np.array([1.0, 1.0, 1.02], np.float32))
        paved[win] = np.maximum(paved[win], a)
    edge = layout.runway.boundary.buffer(0.5).intersection(layout.runway)
    _paint(rgb, world, edge, (0.85, 0.85, 0.85), 0.9)
    along, across = frame_axes(layout.heading_deg, y_down=False)
    for _, apron in layout.aprons:
        cov = _cover(world, apron, shape)
        if cov is None:
            continue
        a, win = cov
        xs, ys = x[win] - layout.ref_x, y[win] - layout.ref_y
        u = xs * across[0] + ys * across[1]
        v = xs * along[0] + ys * along[1]
        slab = 6.0
        iu, iv = np.floor(u / slab).astype(np.int64), np.floor(v / slab).astype(np.int64)
        hashed = ((iu * 73856093) ^ (iv * 19349663)) % 997 / 997.0
        gsd = 1 / np.hypot(world.a, world.d)
        joint_w = max(0.3 / gsd, 0.35) * gsd
        fu = np.abs(u - (iu + 0.5) * slab)
        fv = np.abs(v - (iv + 0.5) * slab)
        joint = np.clip((np.maximum(fu, fv) - (slab / 2 - joint_w)) / joint_w, 0, 1)
        # renovated blocks of slabs in a slightly different concrete
        block = (((iu // 5) * 83492791) ^ ((iv // 4) * 2971215073)) % 991 / 991.0
        tone = 0.62 * (1 + 0.05 * (hashed - 0.5) + 0.07 * (block - 0.5)) * (1 - 0.07 * joint)
        tone = tone * (1 - _stand_stains(layout, x[win], y[win]))
        tone = tone * (1 - 0.18 * np.clip(_world_noise(x[win], y[win], 3, 1.5), 0, 1))
        tone = tone * (1 + 0.03 * _world_noise(x[win], y[win], 1, 0.1))
        blend(rgb, a, win, tone[..., None] * np.array([1.0, 0.99, 0.97], np.float32))
        paved[win] = np.maximum(paved[win], a)
    veg = veg - paved
    return rgb.astype(np.float32), veg


def _stand_stains(layout: AirportLayout, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Darkening (0–0.2) of oil and rubber stains along each stand's axis."""
    out = np.zeros(x.shape, np.float32)
    for s in layout.stands:
        nose, right = frame_axes(s.heading_deg, y_down=False)
        dx, dy = x - s.x, y - s.y
        along = dx * nose[0] + dy * nose[1]
        across = dx * right[0] + dy * right[1]
        blob = np.exp(-((along / 18.0) ** 2) - (across / 4.0) ** 2)
        out += 0.12 * blob * (0.6 + 0.4 * np.clip(_world_noise(x, y, 0, 0.3), -1, 1))
    return np.clip(out, 0, 0.2)


def _markings(rgb: np.ndarray, layout: AirportLayout, world: Affine) -> None:
    """Stand lead-in lines and stop bars (yellow), apron edge lines."""
    yellow = (0.8, 0.68, 0.2)
    lines = []
    for s in layout.stands:
        nose, side = frame_axes(s.heading_deg, y_down=False)
        c = np.array([s.x, s.y])
        lines.append(shapely.LineString([c - nose * 60, c + nose * (s.max_length_m / 2 - 4)]))
        bar = c + nose * (s.max_length_m / 2 - 4)
        lines.append(shapely.LineString([bar - side * 3, bar + side * 3]))
    for _, apron in layout.aprons:
        lines.append(apron.buffer(-3).exterior)
    geom = shapely.union_all([ln.buffer(0.2, cap_style="flat") for ln in lines])
    aprons = shapely.union_all([a for _, a in layout.aprons])
    _paint(rgb, world, geom.intersection(aprons), yellow, 0.85)


def _boxes(
    rgb: np.ndarray,
    world: Affine,
    footprints: list[shapely.Polygon],
    heights: list[float],
    colours: Sequence[Sequence[float] | np.ndarray],
    sun: Sun,
    lean: np.ndarray,
    strength: float,
) -> None:
    """Buildings / vehicles / bridges: cast shadow, then the roof shifted by the lean."""
    gsd = 1 / np.hypot(world.a, world.d)
    shade = []
    for fp, h in zip(footprints, heights, strict=True):
        dx, dy = sun.shadow_px(h, gsd)
        shade.append(
            shapely.convex_hull(
                shapely.union(fp, shapely.affinity.translate(fp, dx * gsd, -dy * gsd))
            )
        )
    for geom in shade:
        cov = _cover(world, geom, rgb.shape[:2])
        if cov is not None:
            a, win = cov
            rgb[win] *= (1 - strength * a)[..., None]
    for fp, h, colour in zip(footprints, heights, colours, strict=True):
        cov = _cover(world, fp, rgb.shape[:2], lean * h)
        if cov is not None:
            blend(rgb, cov[0], cov[1], np.asarray(colour, np.float32))


def _bridges(layout: AirportLayout) -> list[Building]:
    out = []
    for s in layout.stands:
        if not s.bridge:
            continue
        nose, right = frame_axes(s.heading_deg, y_down=False)
        left = -right
        door = np.array([s.x, s.y]) + nose * (s.max_length_m / 2 - 12) + left * 4
        root = door + nose * 22 + left * 10
        line = shapely.LineString([root, door])
        out.append(Building(line.buffer(1.6, cap_style="flat"), 5.0))
        out.append(Building(shapely.Point(root).buffer(3.0, quad_segs=2), 5.5))
    return out


def _vehicles(
    layout: AirportLayout, occupants: list[Presence], rng: np.random.Generator
) -> list[tuple[shapely.Polygon, float, np.ndarray]]:
    out = []
    stands = {p.stand_id for p in occupants}
    for s in layout.stands:
        n = rng.poisson(2.5 if s.stand_id in stands else 0.4)
        for _ in range(n):
            length = float(rng.choice([3.0, 5.0, 9.0, 12.0]))
            ang = rng.uniform(0, 180)
            off = rng.normal(0, 18, 2)
            box = shapely.box(-length / 2, -1.25, length / 2, 1.25)
            box = shapely.affinity.rotate(box, ang, origin=(0, 0))
            box = shapely.affinity.translate(box, s.x + off[0], s.y + off[1])
            out.append(
                (
                    box,
                    2.5 if length < 6 else 3.2,
                    VEHICLE_COLOURS[rng.integers(len(VEHICLE_COLOURS))],
                )
            )
    return out


def _cars(
    layout: AirportLayout, rng: np.random.Generator
) -> list[tuple[shapely.Polygon, float, np.ndarray]]:
    """Cars in rows on the car parks, about 70 % of the bays taken (changes every scene)."""
    out = []
    along, across = frame_axes(layout.heading_deg, y_down=False)
    for park in layout.car_parks:
        c = np.array([park.centroid.x, park.centroid.y])
        for row in np.arange(-35, 36, 7.0):
            for bay in np.arange(-60, 61, 2.7):
                if rng.random() > 0.7:
                    continue
                p = c + across * row + along * bay
                car = shapely.affinity.rotate(
                    shapely.box(-0.9, -2.2, 0.9, 2.2), -layout.heading_deg + 90, origin=(0, 0)
                )
                car = shapely.affinity.translate(car, *p)
                colour = CAR_COLOURS[rng.integers(len(CAR_COLOURS))] * rng.uniform(0.85, 1.1)
                if park.contains(car):
                    out.append((car, 1.5, colour))
    return out


def _parked(p: Presence, layout: AirportLayout) -> tuple[float, float, float]:
    """Where a presence stands: (x, y, heading° grid), jittered per presence, same on every date."""
    r = np.random.default_rng(_seed(p.visit_id, p.stand_id))
    s = layout.stand(p.stand_id)
    t = load_catalog()[p.type]
    h = s.heading_deg + r.normal(0, 1.5)
    nose, right = frame_axes(h, y_down=False)
    # nose near the stop bar: centre sits half a length behind it
    along = (s.max_length_m - t.length_m) / 2 + r.normal(0, 1.0)
    x, y = np.array([s.x, s.y]) + nose * along + right * r.normal(0, 0.5)
    return float(x), float(y), float(h % 360)


def _label_height_m(t: AircraftType) -> float:
    """Height (metres) whose off-nadir lean moves the length × span rectangle: the mean of the
    wing and fuselage tops, the parts that set the span and the length."""
    heights = [p.height_m for p in planform(t).parts if p.kind in ("wing", "fuselage")]
    return float(np.mean(heights))


def render_scene(
    layout: AirportLayout,
    occupants: list[Presence],
    spec: SceneSpec,
    lat: float,
    lon: float,
    seed: int,
) -> RenderedScene:
    """Render ``spec`` with the aircraft in ``occupants``; truth rows follow :mod:`truth`."""
    rng = np.random.default_rng(_seed(seed, spec.stem))
    true, world, width, height = scene_grid(layout, spec)
    shape = (height, width)
    gsd = spec.gsd_m
    sun = sun_position(spec.acquired, lat, lon)
    rotation = float(np.degrees(np.arctan2(world.b, -world.e)))  # image-up heading of grid north
    va = np.radians(spec.view_azimuth_deg)
    lean = np.array([-np.sin(va), np.cos(va)]) * np.tan(np.radians(spec.off_nadir_deg)) / gsd
    rgb, veg = _ground(layout, world, shape, rng)
    _markings(rgb, layout, world)
    strength = float(rng.uniform(0.45, 0.6))
    statics = [*layout.buildings, *_bridges(layout)]
    colours = [
        ROOF_COLOURS[_seed(layout.icao, i) % len(ROOF_COLOURS)]
        for i in range(len(layout.buildings))
    ]
    colours += [np.full(3, 0.7)] * (len(statics) - len(layout.buildings))
    vehicles = _vehicles(layout, occupants, rng) + _cars(layout, rng)
    _boxes(
        rgb,
        world,
        [b.footprint for b in statics] + [v[0] for v in vehicles],
        [b.height_m for b in statics] + [v[1] for v in vehicles],
        colours + [v[2] for v in vehicles],
        sun,
        lean,
        strength,
    )
    ids = np.zeros(shape, np.uint16)
    catalog = load_catalog()
    placed = []
    for p in occupants:
        x, y, h = _parked(p, layout)
        c, r = world @ (x, y)
        placed.append((p, catalog[p.type], (float(c), float(r), (h + rotation) % 360), (x, y, h)))
    for _, t, place, _ in placed:
        draw_shadow(rgb, t, place, sun, gsd, strength)
    for i, (p, t, place, _) in enumerate(placed):
        paint = random_paint(np.random.default_rng(_seed(p.aircraft_id, "paint")), t)
        draw_aircraft(rgb, ids, i + 1, t, place, paint, sun, gsd, lean)
    opacity = np.zeros(shape, np.float32)
    if spec.cloud_cover > 0 or spec.cloud_over is not None:
        boost = None
        if spec.cloud_over is not None:
            x, y = _world_coords(world, shape)
            d2 = (x - spec.cloud_over[0]) ** 2 + (y - spec.cloud_over[1]) ** 2
            boost = 2.0 * np.exp(-d2 / (2 * 80.0**2))
        opacity = cloud_opacity(rng, shape, gsd, max(spec.cloud_cover, 0.02), boost)
        rgb = apply_clouds(rgb, opacity, sun.shadow_px(CLOUD_HEIGHT_M, gsd))
    valid = _valid_mask(shape, spec, rng)
    clear = valid & (opacity < 0.3)
    data = _sensor(rgb, veg, opacity, valid, spec, rng)
    truth = []
    for i, (p, t, place, (x, y, h)) in enumerate(placed):
        on = ids == i + 1
        e, n = footprint_corners(x, y, t.length_m, t.wingspan_m, h, y_down=False)[0].T
        # the image shows the aircraft leaned towards/away from the sensor: label where it appears
        lean_px = lean * _label_height_m(t)
        cols, rows = world @ (e, n)
        cols, rows = cols + lean_px[0], rows + lean_px[1]
        cloud_mean = float(opacity[on].mean()) if on.any() else 0.0
        in_view = float(valid[on].mean()) if on.any() else 0.0
        truth.append(
            {
                "scene_id": spec.stem,
                "acquired": spec.acquired,
                "aircraft_id": p.aircraft_id,
                "visit_id": p.visit_id,
                "stand_id": p.stand_id,
                "type": t.icao,
                "heading_deg": place[2],
                "heading_grid_deg": h,
                "length_m": t.length_m,
                "wingspan_m": t.wingspan_m,
                "x": x,
                "y": y,
                "cx_px": place[0] + lean_px[0],
                "cy_px": place[1] + lean_px[1],
                "polygon_px": np.stack([cols, rows], 1),
                "polygon_map": np.stack([e, n], 1),
                "hidden": cloud_mean > 0.5 or in_view < 0.5,
                "cloud_fraction": cloud_mean,
                "in_view_fraction": in_view,
                "resident": p.resident,
            }
        )
    written = Affine.translation(*_crs_shift(layout, spec)) @ true
    return RenderedScene(spec, data, written, spec.crs, valid, clear, sun, truth)


def _crs_shift(layout: AirportLayout, spec: SceneSpec) -> tuple[float, float]:
    """The misregistration ``shift_m`` expressed in the scene CRS's units."""
    if spec.crs == layout.crs:
        return spec.shift_m
    to_crs = Transformer.from_crs(layout.crs, spec.crs, always_xy=True)
    cx, cy = layout.ref_x, layout.ref_y
    (x0, x1), (y0, y1) = to_crs.transform([cx, cx + spec.shift_m[0]], [cy, cy + spec.shift_m[1]])
    return x1 - x0, y1 - y0


def _valid_mask(shape: tuple[int, int], spec: SceneSpec, rng: np.random.Generator) -> np.ndarray:
    """All True, or with one corner cut off by a straight strip edge (nodata)."""
    valid = np.ones(shape, bool)
    if not spec.nodata_corner:
        return valid
    h, w = shape
    corner = rng.integers(4)
    a, b = rng.uniform(0.15, 0.3) * w, rng.uniform(0.15, 0.3) * h
    rows, cols = np.ogrid[0:h, 0:w]
    cc = cols if corner in (0, 3) else w - 1 - cols
    rr = rows if corner in (0, 1) else h - 1 - rows
    return valid & (cc / a + rr / b > 1)


def _sensor(
    rgb: np.ndarray,
    veg: np.ndarray,
    cloud: np.ndarray,
    valid: np.ndarray,
    spec: SceneSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """Blur, haze, noise, NIR band, quantisation to the scene dtype; nodata = 0."""
    from scipy import ndimage

    bands = [rgb[..., k] for k in range(3)]
    if spec.bands == 4:
        nir = 0.55 * bands[0] + 0.35 * veg + 0.6 * cloud
        bands.append(np.clip(nir, 0, 1))
    out = np.stack(bands)
    if spec.blur_px > 0.05:
        out = ndimage.gaussian_filter(out, (0, spec.blur_px, spec.blur_px))
    out = out * (1 - spec.haze) + spec.haze * 0.8
    out = out + rng.standard_normal(out.shape, dtype=np.float32) * np.float32(spec.noise)
    scale = 255.0 if spec.dtype == "uint8" else 2047.0
    q = np.clip(out * scale, 1, scale).round().astype(spec.dtype)
    q[:, ~valid] = 0
    return q
