"""Ground truth exports of a synthetic series, under ``<series>/truth/``:

- ``<stem>.geojson``: one feature per aircraft in the scene: oriented length × span footprint
  (layout UTM CRS, true position — the image's transform may be misregistered by
  ``shift_east_m``/``shift_north_m`` of ``scenes.csv``), properties ``type``, ``heading_deg``
  (nose, clockwise from the scene grid's north = image up), ``heading_grid_deg`` (clockwise
  from the layout CRS's grid north), ``length_m``, ``wingspan_m``, ``x``, ``y`` (UTM metres),
  ``cx_px``, ``cy_px`` and ``polygon_px`` (image pixels, JSON list, where the image shows the
  aircraft: shifted by the off-nadir lean of its wing/fuselage height), ``hidden`` (under cloud
  or outside the valid data), ``cloud_fraction``, ``aircraft_id``, ``visit_id``, ``stand_id``;
- ``dota/<stem>.txt``: ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` in image pixels (corner 1
  starts the nose edge), difficult = 1 when hidden; a ``gsd:`` header line;
- ``stays.csv``: one row per aircraft per stand with true ``start``/``end`` on the stand and
  the visit's true ``arrival``/``departure`` (UTC ISO 8601);
- ``scenes.csv``: one row per scene: file, time, time source, CRS, GSD, bands, dtype, cloud
  fraction, misregistration, off-nadir angle, sun.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from dwelltime.io import write_csv
from dwelltime.synth.export import dota_line
from dwelltime.synth.layout import AirportLayout
from dwelltime.synth.scene import RenderedScene
from dwelltime.synth.traffic import Presence

SCENE_TRUTH_COLUMNS = (
    "scene_id",
    "acquired",
    "aircraft_id",
    "visit_id",
    "stand_id",
    "type",
    "heading_deg",
    "heading_grid_deg",
    "length_m",
    "wingspan_m",
    "x",
    "y",
    "cx_px",
    "cy_px",
    "polygon_px",
    "hidden",
    "cloud_fraction",
    "in_view_fraction",
    "resident",
    "geometry",
)


def scene_truth_frame(scene: RenderedScene, crs: str) -> gpd.GeoDataFrame:
    """Truth rows of one scene as a GeoDataFrame (:data:`SCENE_TRUTH_COLUMNS`, ``crs``)."""
    rows = []
    for r in scene.truth:
        row = {k: v for k, v in r.items() if k not in ("polygon_map", "polygon_px")}
        row["acquired"] = r["acquired"].isoformat()
        row["polygon_px"] = json.dumps(
            [[round(float(c), 3), round(float(v), 3)] for c, v in r["polygon_px"]]
        )
        row["geometry"] = shapely.Polygon(r["polygon_map"])
        rows.append(row)
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in SCENE_TRUTH_COLUMNS}, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)[list(SCENE_TRUTH_COLUMNS)]


def dota_lines(scene: RenderedScene) -> list[str]:
    """DOTA label lines of one scene, with a ``gsd:`` header."""
    lines = [f"gsd:{scene.spec.gsd_m:g}"]
    lines += [dota_line(r["polygon_px"], r["type"], r["hidden"]) for r in scene.truth]
    return lines


def write_scene_truth(scene: RenderedScene, image: Path, truth_dir: Path, crs: str) -> None:
    """``truth/<stem>.geojson`` and ``truth/dota/<stem>.txt`` for the image file ``image``."""
    (truth_dir / "dota").mkdir(parents=True, exist_ok=True)
    frame = scene_truth_frame(scene, crs)
    frame.to_file(truth_dir / f"{image.stem}.geojson", driver="GeoJSON")
    (truth_dir / "dota" / f"{image.stem}.txt").write_text("\n".join(dota_lines(scene)) + "\n")


def write_stays(presences: Sequence[Presence], layout: AirportLayout, path: Path) -> None:
    """One row per presence (aircraft × stand) with true times."""
    fields = [
        "stay_id",
        "aircraft_id",
        "visit_id",
        "type",
        "stand_id",
        "apron_id",
        "x",
        "y",
        "heading_deg",
        "start",
        "end",
        "arrival",
        "departure",
        "resident",
        "towed",
    ]
    stays_per_visit = Counter(p.visit_id for p in presences)
    towed = {v for v, n in stays_per_visit.items() if n > 1}
    rows = []
    for i, p in enumerate(sorted(presences, key=lambda q: (q.start, q.aircraft_id))):
        s = layout.stand(p.stand_id)
        rows.append(
            {
                "stay_id": f"S{i + 1:03d}",
                "aircraft_id": p.aircraft_id,
                "visit_id": p.visit_id,
                "type": p.type,
                "stand_id": p.stand_id,
                "apron_id": s.apron_id,
                "x": round(s.x, 2),
                "y": round(s.y, 2),
                "heading_deg": s.heading_deg,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "arrival": p.arrival.isoformat(),
                "departure": p.departure.isoformat(),
                "resident": p.resident,
                "towed": p.visit_id in towed,
            }
        )
    write_csv(pd.DataFrame(rows, columns=fields), path)


def write_scenes_csv(scenes: Sequence[tuple[RenderedScene, Path]], path: Path) -> None:
    """One row per scene: how it was made."""
    fields = [
        "scene_id",
        "file",
        "acquired",
        "time_source",
        "crs",
        "gsd_m",
        "bands",
        "dtype",
        "cloud_fraction",
        "shift_east_m",
        "shift_north_m",
        "off_nadir_deg",
        "view_azimuth_deg",
        "sun_azimuth_deg",
        "sun_elevation_deg",
        "n_aircraft",
    ]
    rows = []
    for scene, image in scenes:
        s = scene.spec
        rows.append(
            {
                "scene_id": image.stem,
                "file": image.name,
                "acquired": s.acquired.isoformat(),
                "time_source": s.time_source,
                "crs": s.crs,
                "gsd_m": s.gsd_m,
                "bands": s.bands,
                "dtype": s.dtype,
                "cloud_fraction": round(scene.cloud_fraction, 4),
                "shift_east_m": s.shift_m[0],
                "shift_north_m": s.shift_m[1],
                "off_nadir_deg": s.off_nadir_deg,
                "view_azimuth_deg": s.view_azimuth_deg,
                "sun_azimuth_deg": round(scene.sun.azimuth_deg, 2),
                "sun_elevation_deg": round(scene.sun.elevation_deg, 2),
                "n_aircraft": len(scene.truth),
            }
        )
    write_csv(pd.DataFrame(rows, columns=fields), path)


def aprons_frame(layout: AirportLayout) -> gpd.GeoDataFrame:
    """The layout's aprons: ``apron_id``, ``geometry`` (layout CRS)."""
    return gpd.GeoDataFrame(
        {"apron_id": [a for a, _ in layout.aprons]},
        geometry=[g for _, g in layout.aprons],
        crs=layout.crs,
    )
