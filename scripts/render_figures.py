"""Render the documentation figures from the Sunan demo: docs/figures/<name>.png.

Renders the demo series once into ``--demo-dir`` (reused when complete), runs the pipeline with
the shipped detector and writes the figures of :func:`dwelltime.plot.report_figures` (scenes,
coverage, scene, chips, timeline) plus ``scene_cloudy`` (the scene with the least of the aprons
visible) and ``timeline_il62`` (the Il-62M's stays only). ``--untrained`` uses an untrained
network instead (no detections: layout checks only).

Usage: python scripts/render_figures.py [--out docs/figures] [--demo-dir cache/sunan_demo]
       [--weights PATH] [--untrained] [--dpi 110]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dwelltime import pipeline
from dwelltime.detector import Detector, build_detector, default_classes, load_detector
from dwelltime.errors import WeightsError
from dwelltime.plot import plot_scene, plot_timeline, report_figures, type_colors
from dwelltime.synth import make_sunan_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--demo-dir", type=Path, default=Path("cache/sunan_demo"))
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--untrained", action="store_true")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()

    start = time.perf_counter()
    if not (args.demo_dir / "truth" / "scenes.csv").exists():  # written last
        make_sunan_demo(args.demo_dir, seed=62)
    if args.untrained:
        classes = default_classes()
        detector = Detector(build_detector(num_classes=len(classes)), classes=classes)
    else:
        try:
            detector = load_detector(args.weights)
        except WeightsError as exc:
            parser.error(f"{exc} (or pass --untrained for a layout check without detections)")
    result = pipeline.run(
        args.demo_dir / "imagery",
        "ZKPY",
        aprons=args.demo_dir / "aprons.geojson",
        detector=detector,
    )
    figures = report_figures(result)
    visible = result.coverage.groupby("scene_id")["visible_fraction"].mean()
    if len(visible):
        cloudy = result.scenes.set_index("scene_id", drop=False).loc[visible.idxmin()]
        colors = type_colors(result.detections["type"].astype(str))
        figures["scene_cloudy"] = plot_scene(
            cloudy, result.aprons, result.coverage, result.detections, colors=colors
        )
    il62 = result.stays[result.stays["type"] == "IL62"]
    figures["timeline_il62"] = plot_timeline(il62, result.coverage, result.detections)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        path = args.out / f"{name}.png"
        figure.savefig(path, dpi=args.dpi)
        print(f"wrote {path}")
    print(
        f"{len(result.scenes)} scenes, {len(result.detections)} detections, "
        f"{len(result.stays)} stays in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
