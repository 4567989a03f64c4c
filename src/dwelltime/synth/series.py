"""A time series of synthetic acquisitions of one airport, with its ground truth.

Output layout::

    <out>/imagery/        GeoTIFFs + provider metadata (+ *_udm2.tif for cloudy scenes)
    <out>/aprons.geojson  apron polygons, column apron_id
    <out>/truth/          stays.csv, scenes.csv, <stem>.geojson, dota/<stem>.txt
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from dwelltime.airports import Airport, lookup_airport
from dwelltime.synth.layout import AirportLayout, design_layout
from dwelltime.synth.scene import SceneSpec, render_scene
from dwelltime.synth.traffic import Presence, Visit, occupants, simulate_traffic
from dwelltime.synth.truth import aprons_frame, write_scene_truth, write_scenes_csv, write_stays
from dwelltime.synth.writers import TIME_SOURCES, write_scene


@dataclass(frozen=True)
class SeriesTruth:
    """What a series holds: where it is written, the layout, the true presences, the scenes."""

    out_dir: Path
    imagery_dir: Path
    aprons_path: Path
    truth_dir: Path
    layout: AirportLayout
    presences: tuple[Presence, ...]
    images: tuple[Path, ...]
    specs: tuple[SceneSpec, ...]


#: Provider profiles: (time source, GSD range metres, bands, dtype).
_PROFILES = (
    ("gdal_tag", (0.5, 0.5), 4, "uint16"),  # Pléiades-like
    ("maxar_imd", (0.3, 0.5), 3, "uint8"),  # WorldView-like
    ("planet_json", (0.5, 0.8), 4, "uint16"),  # SkySat-like
    ("planet_json", (3.0, 3.0), 4, "uint16"),  # PlanetScope-like
    ("stac", (0.4, 1.0), 3, "uint8"),
    ("filename", (0.3, 0.6), 3, "uint8"),
)


def revisit_times(
    start: pd.Timestamp, days: int, lon: float, rng: np.random.Generator
) -> list[pd.Timestamp]:
    """Irregular acquisition times like a constellation's: 0–3 passes a day between about
    09:30 and 14:30 local solar time, to the second (UTC)."""
    times = []
    for d in range(days):
        for _ in range(rng.poisson(1.4)):
            local_h = rng.uniform(9.5, 14.5)
            t = start.normalize() + pd.Timedelta(days=d, hours=local_h - lon / 15)
            times.append((t + pd.Timedelta(seconds=float(rng.uniform(0, 59)))).floor("s"))
    return sorted(times)


def random_spec(stem: str, acquired: pd.Timestamp, crs: str, rng: np.random.Generator) -> SceneSpec:
    """A scene of a random provider: GSD, bands, dtype, clouds, lean, misregistration, blur."""
    source, (g0, g1), bands, dtype = _PROFILES[rng.integers(len(_PROFILES))]
    cloudy = rng.random() < 0.3
    jpeg = dtype == "uint8" and bands == 3 and rng.random() < 0.4
    return SceneSpec(
        stem=stem,
        acquired=acquired,
        time_source=source,
        crs="EPSG:4326" if rng.random() < 0.15 else crs,
        gsd_m=float(round(rng.uniform(g0, g1), 2)),
        bands=bands,
        dtype=dtype,
        cloud_cover=float(rng.uniform(0.05, 0.5)) if cloudy else 0.0,
        off_nadir_deg=float(round(rng.uniform(0, 25), 1)),
        view_azimuth_deg=float(round(rng.uniform(0, 360), 1)),
        shift_m=(float(round(rng.normal(0, 2.5), 2)), float(round(rng.normal(0, 2.5), 2))),
        jpeg_quality=int(rng.integers(60, 92)) if jpeg else None,
        nodata_corner=not jpeg and rng.random() < 0.5,
        blur_px=float(rng.uniform(0.3, 1.0)),
        noise=float(rng.uniform(0.004, 0.02)),
        haze=float(rng.uniform(0.0, 0.2)),
    )


def _cover_time_sources(specs: list[SceneSpec]) -> list[SceneSpec]:
    """Give every time source to at least one scene where there are enough scenes, by
    re-labelling scenes whose source is used more than once."""
    specs = list(specs)
    for source in TIME_SOURCES:
        used = [s.time_source for s in specs]
        if source in used:
            continue
        spare = next((i for i, u in enumerate(used) if used.count(u) > 1), None)
        if spare is None:
            break
        specs[spare] = replace(specs[spare], time_source=source)
    return specs


def airport_layout(code: str) -> tuple[Airport, AirportLayout]:
    """The airport (registry lookup) and the synthetic layout around its reference point."""
    ap = lookup_airport(code)
    x, y = Transformer.from_crs("EPSG:4326", ap.crs, always_xy=True).transform(ap.lon, ap.lat)
    return ap, design_layout(ap.icao, ap.crs, float(x), float(y))


def simulate_series(
    out_dir: Path,
    *,
    airport: str = "ZKPY",
    start: pd.Timestamp | str = "2023-07-29",
    days: int = 7,
    seed: int = 0,
    residents: Sequence[tuple[str, str]] | None = None,
    visits: Sequence[Visit] = (),
    specs: Sequence[SceneSpec] | None = None,
    visitors_per_day: float = 2.0,
    visitor_types: Sequence[str] | None = None,
    reserved: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> SeriesTruth:
    """Simulate ``days`` of traffic at ``airport`` from ``start`` (UTC) and render its scenes.

    ``residents``: ``(type, stand_id)`` that never leave (default: a few on the main apron);
    ``visits``: planned visits (e.g. a VIP aircraft); ``specs``: the scenes to render
    (default: irregular revisits with random providers, :func:`random_spec`); ``reserved``:
    stands random visitors never take. Deterministic
    for a seed. ``progress(done, total)`` after each scene.
    """
    ap, layout = airport_layout(airport)
    rng = np.random.default_rng(seed)
    t0 = (
        pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else pd.Timestamp(start)
    )
    t1 = t0 + pd.Timedelta(days=days)
    if residents is None:
        residents = [("B738", "A1"), ("A320", "A3"), ("A148", "A5"), ("IL76", "B4")]
    presences = simulate_traffic(
        layout,
        t0,
        t1,
        rng,
        residents=residents,
        visits=visits,
        visitors_per_day=visitors_per_day,
        reserved=reserved,
        **({"visitor_types": visitor_types} if visitor_types else {}),
    )
    if specs is None:
        times = revisit_times(t0, days, ap.lon, rng)
        specs = [
            random_spec(f"{ap.icao.lower()}_{i + 1:02d}", t, ap.crs, rng)
            for i, t in enumerate(times)
        ]
        specs = _cover_time_sources(specs)
    out_dir = Path(out_dir)
    imagery, truth_dir = out_dir / "imagery", out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    aprons_path = out_dir / "aprons.geojson"
    aprons_frame(layout).to_file(aprons_path, driver="GeoJSON")
    written = []
    for i, spec in enumerate(specs):
        scene = render_scene(
            layout, occupants(presences, spec.acquired), spec, ap.lat, ap.lon, seed
        )
        image = write_scene(scene, imagery)
        write_scene_truth(scene, image, truth_dir, layout.crs)
        written.append((scene, image))
        if progress is not None:
            progress(i + 1, len(specs))
    write_stays(presences, layout, truth_dir / "stays.csv")
    write_scenes_csv(written, truth_dir / "scenes.csv")
    return SeriesTruth(
        out_dir=out_dir,
        imagery_dir=imagery,
        aprons_path=aprons_path,
        truth_dir=truth_dir,
        layout=layout,
        presences=tuple(presences),
        images=tuple(p for _, p in written),
        specs=tuple(specs),
    )
