"""The bundled Sunan demo: its plan meets the story, and so does its full render (the
session's ``demo_dir``, rendered once for the pipeline and notebook tests too)."""

from __future__ import annotations

import csv

import pandas as pd

from dwelltime.synth import demo
from dwelltime.synth.writers import TIME_SOURCES


def test_plan_meets_the_story():
    specs = demo._specs(62, (0.0, 0.0))
    assert 8 <= len(specs) <= 12
    assert all(0.4 <= s.gsd_m <= 0.8 for s in specs)
    assert sum(s.crs == "EPSG:4326" for s in specs) >= 1
    assert sum(s.crs == "EPSG:32651" for s in specs) > len(specs) / 2
    assert {s.time_source for s in specs} == set(TIME_SOURCES)
    times = [s.acquired for s in specs]
    assert times == sorted(times) and len(set(pd.Series(times).diff().dropna())) > 3  # irregular
    assert demo.IL62_DEPARTURE - demo.IL62_ARRIVAL == pd.Timedelta(hours=36)
    assert demo.IL62_ARRIVAL.day == 31 and demo.IL62_DEPARTURE.day == 2
    present = [demo.IL62_ARRIVAL <= t < demo.IL62_DEPARTURE for t in times]
    assert any(t < demo.IL62_ARRIVAL for t in times) and any(
        t >= demo.IL62_DEPARTURE for t in times
    )
    cloudy = specs[demo.CLOUDY_SCENE]
    assert present[demo.CLOUDY_SCENE] and cloudy.cloud_over is not None
    assert sum(present) >= 3


def test_plan_is_deterministic_from_the_seed():
    assert demo._specs(62, (1.0, 2.0)) == demo._specs(62, (1.0, 2.0))
    assert demo._specs(62, (1.0, 2.0)) != demo._specs(63, (1.0, 2.0))


def test_full_demo_render(demo_dir):
    import geopandas as gpd

    aprons = gpd.read_file(demo_dir / "aprons.geojson")
    assert "apron_id" in aprons and len(aprons) >= 1
    images = sorted((demo_dir / "imagery").glob("zkpy_*.tif"))
    images = [p for p in images if not p.stem.endswith("_udm2")]
    assert len(images) == len(demo._SCENES)
    seen = {}
    for image in images:
        frame = gpd.read_file(demo_dir / "truth" / f"{image.stem}.geojson")
        il62 = frame[frame["type"] == "IL62"]
        seen[image.stem] = bool(il62["hidden"].iloc[0]) if len(il62) else None
    cloudy = images[demo.CLOUDY_SCENE].stem
    assert seen[cloudy] is True  # hidden by cloud while there
    assert sum(v is False for v in seen.values()) >= 2  # seen clearly at least twice
    with open(demo_dir / "truth" / "stays.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["type"] == "IL62"]
    assert pd.Timestamp(rows[0]["arrival"]) == demo.IL62_ARRIVAL
