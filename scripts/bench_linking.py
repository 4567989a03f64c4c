"""How linking scales with the aircraft on the aprons and the scenes of a series.

Usage: python scripts/bench_linking.py [--aircraft 2000] [--scenes 50] [--hours 24]
       [--churn 0.1] [--link-moves]

Builds hand-made detections, no imagery: ``--aircraft`` stands 90 m apart on one apron, each
occupied at first; between scenes (``--hours`` apart, all seeing the whole apron) a share
``--churn`` of them changes, an aircraft leaving or a new one (A320, B738 or IL62) arriving,
so about half the stands are taken. Links them with :func:`dwelltime.linking.link_stays` and
prints the detections, the stays, the seconds (all, and per scene at the start and the end of
the series: they should not grow with the scenes already linked) and the peak memory of the
process. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import resource
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dwelltime.linking import LinkConfig, link_stays
from dwelltime.schema import COVERAGE_COLUMNS, DETECTION_COLUMNS

CRS = "EPSG:32651"
T0 = pd.Timestamp("2026-01-01T00:00:00Z")
PITCH_M = 90.0  # stand spacing, metres
TYPES = np.array(["A320", "B738", "IL62"])
LENGTH_M = np.array([37.6, 39.5, 53.0])
SPAN_M = np.array([35.8, 35.8, 43.0])


def series(
    aircraft: int, scenes: int, hours: float, churn: float, seed: int = 0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(detections, coverage) of the series described in the module docstring."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(aircraft)))
    stands = np.column_stack([np.arange(aircraft) % side, np.arange(aircraft) // side]) * PITCH_M
    apron = shapely.box(-PITCH_M, -PITCH_M, side * PITCH_M, side * PITCH_M)
    occupied = np.ones(aircraft, bool)
    kind = rng.integers(0, len(TYPES), aircraft)
    frames, cover = [], []
    for s in range(scenes):
        acquired = T0 + pd.Timedelta(hours=hours * s)
        change = rng.random(aircraft) < churn
        occupied ^= change
        kind[change] = rng.integers(0, len(TYPES), int(change.sum()))
        here = np.flatnonzero(occupied)
        x, y = (stands[here, i] + rng.normal(0, 1, len(here)) for i in (0, 1))
        frames.append(
            pd.DataFrame(
                {
                    "detection_id": [f"s{s}:{i}" for i in range(len(here))],
                    "scene_id": f"s{s}",
                    "airport": "ZKPY",
                    "acquired": acquired,
                    "x": x,
                    "y": y,
                    "heading_deg": 90.0 + rng.normal(0, 3, len(here)),
                    "length_m": LENGTH_M[kind[here]] + rng.normal(0, 1, len(here)),
                    "wingspan_m": SPAN_M[kind[here]] + rng.normal(0, 1, len(here)),
                    "type": TYPES[kind[here]],
                    "type_prob": 0.8,
                    "score": 0.9,
                    "geometry": shapely.buffer(shapely.points(x, y), 15.0),
                }
            )
        )
        cover.append(
            {
                "scene_id": f"s{s}",
                "airport": "ZKPY",
                "apron_id": "main",
                "acquired": acquired,
                "visible_fraction": 1.0,
                "geometry": apron,
            }
        )
    detections = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)
    coverage = gpd.GeoDataFrame(cover, columns=list(COVERAGE_COLUMNS), crs=CRS)
    return detections[list(DETECTION_COLUMNS)], coverage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aircraft", type=int, default=2000, help="stands on the apron")
    parser.add_argument("--scenes", type=int, default=50)
    parser.add_argument("--hours", type=float, default=24.0, help="between scenes")
    parser.add_argument("--churn", type=float, default=0.1, help="share of stands changing")
    parser.add_argument("--link-moves", action="store_true", help="LinkConfig(link_moves=True)")
    args = parser.parse_args()
    detections, coverage = series(args.aircraft, args.scenes, args.hours, args.churn)
    print(f"{len(detections)} detections in {args.scenes} scenes", flush=True)
    done: list[float] = []
    start = time.perf_counter()
    stays = link_stays(
        detections,
        coverage,
        LinkConfig(link_moves=args.link_moves),
        progress=lambda *_: done.append(time.perf_counter()),
    )
    seconds = time.perf_counter() - start
    per_scene = np.diff([start, *done])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(stays)} stays in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB")
    print(
        f"association per scene: first 5 {np.round(per_scene[:5], 2).tolist()} s, "
        f"last 5 {np.round(per_scene[-5:], 2).tolist()} s"
    )


if __name__ == "__main__":
    main()
