"""The bundled demo: Pyongyang Sunan (ZKPY), 29 July – 4 August 2023.

A visiting Il-62M stands on remote stand B2 from 31 July 15:40 UTC to 2 August 03:40 UTC
(36 hours) among resident Air Koryo aircraft. Ten scenes at irregular times, 0.4–0.8 m,
every time source once or more, one scene in EPSG:4326, one cloudy over the Il-62M's stand
while it is there, visible absences before its arrival and after its departure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from dwelltime.synth.scene import SceneSpec
from dwelltime.synth.series import airport_layout, simulate_series
from dwelltime.synth.traffic import Visit

IL62_ARRIVAL = pd.Timestamp("2023-07-31T15:40:00Z")
IL62_DEPARTURE = pd.Timestamp("2023-08-02T03:40:00Z")
IL62_STAND = "B2"
RESIDENTS = (
    ("T204", "A1"),
    ("A148", "A2"),
    ("T154", "A4"),
    ("AN24", "A6"),
    ("IL76", "B4"),
    ("T204", "A7"),
)

#: (UTC time, time source, GSD m, CRS, bands, dtype); the cloudy one is flagged in _specs.
_SCENES = (
    ("2023-07-29T02:12:41", "gdal_tag", 0.5, "utm", 4, "uint16"),
    ("2023-07-30T03:41:07", "planet_json", 0.7, "utm", 4, "uint16"),
    ("2023-07-31T01:58:33", "maxar_imd", 0.45, "utm", 3, "uint8"),
    ("2023-07-31T05:20:12", "stac", 0.6, "EPSG:4326", 3, "uint8"),
    ("2023-08-01T02:05:55", "filename", 0.45, "utm", 3, "uint8"),
    ("2023-08-01T04:47:20", "planet_json", 0.7, "utm", 4, "uint16"),  # cloud over the Il-62M
    ("2023-08-02T01:50:02", "gdal_tag", 0.5, "utm", 4, "uint16"),
    ("2023-08-02T05:35:48", "maxar_imd", 0.5, "utm", 3, "uint8"),
    ("2023-08-03T02:30:19", "stac", 0.6, "utm", 3, "uint8"),
    ("2023-08-04T03:10:51", "filename", 0.55, "utm", 3, "uint8"),
)
CLOUDY_SCENE = 5


def _specs(seed: int, il62_xy: tuple[float, float]) -> list[SceneSpec]:
    rng = np.random.default_rng(seed)
    specs = []
    for i, (t, source, gsd, crs, bands, dtype) in enumerate(_SCENES):
        cloudy = i == CLOUDY_SCENE
        jpeg = dtype == "uint8" and i % 4 == 0
        specs.append(
            SceneSpec(
                stem=f"zkpy_{i + 1:02d}",
                acquired=pd.Timestamp(t, tz="UTC"),
                time_source=source,
                crs="EPSG:32651" if crs == "utm" else crs,
                gsd_m=gsd,
                bands=bands,
                dtype=dtype,
                cloud_cover=0.25 if cloudy else (0.05 if i == 1 else 0.0),
                cloud_over=il62_xy if cloudy else None,
                off_nadir_deg=float(round(rng.uniform(0, 20), 1)),
                view_azimuth_deg=float(round(rng.uniform(0, 360), 1)),
                shift_m=(float(round(rng.normal(0, 2), 2)), float(round(rng.normal(0, 2), 2))),
                jpeg_quality=80 if jpeg else None,
                nodata_corner=not jpeg and i % 3 == 1,
                blur_px=float(rng.uniform(0.4, 0.9)),
                noise=float(rng.uniform(0.004, 0.012)),
                haze=float(rng.uniform(0.0, 0.12)),
            )
        )
    return specs


def make_sunan_demo(
    out_dir: Path, *, seed: int = 62, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Render the Sunan demo series into ``out_dir`` (imagery/, aprons.geojson, truth/);
    deterministic from ``seed``. Returns ``out_dir``."""
    stand = airport_layout("ZKPY")[1].stand(IL62_STAND)
    il62 = Visit("IL62", IL62_ARRIVAL, IL62_DEPARTURE, stand_id=IL62_STAND)
    simulate_series(
        Path(out_dir),
        airport="ZKPY",
        start="2023-07-29",
        days=7,
        seed=seed,
        residents=RESIDENTS,
        visits=[il62],
        specs=_specs(seed, (stand.x, stand.y)),
        visitors_per_day=0.8,
        reserved=[IL62_STAND],
        visitor_types=("B738", "A320", "IL18", "AN24", "T134", "IL76"),
        progress=progress,
    )
    return Path(out_dir)
