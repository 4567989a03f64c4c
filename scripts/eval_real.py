"""Score the detector on the real Airbus validation airports (sites S03, S13, S21).

The Airbus boxes are axis-aligned, so each predicted oriented footprint is compared through
the axis-aligned box enclosing its fuselage and wing, cut to the image frame as such labels
are drawn (``dwelltime.footprints.cross_boxes``, ``clip_boxes``): AP50, AP75, precision and
recall at the shipped threshold, best F1. Images
are Pléiades extracts of about 0.5 m without georeference (``--gsd``). Uses the shipped
weights, else ``--weights``; ``--random`` allows an untrained network (a smoke run).
``--coarsen-to 3`` scores the same aircraft as a 3 m sensor (PlanetScope) would see them: each
image and its labels resampled to 3 m with an optics blur.

    python scripts/eval_real.py --out eval_real/
    python scripts/eval_real.py --coarsen-to 3
"""

from __future__ import annotations

import argparse
import csv
import logging
from dataclasses import replace
from pathlib import Path

from dwelltime.detector.datasets import AIRBUS_DEV_DIR, AIRBUS_VALIDATION_SITES
from dwelltime.errors import DwelltimeError, OutputExistsError
from dwelltime.evaluation.dataset import coarse_copy
from dwelltime.evaluation.labels import read_airbus_csv
from dwelltime.evaluation.objects import EvalImage, Objects
from dwelltime.evaluation.predict import lower_score_floor, predict_image, shipped_threshold
from dwelltime.evaluation.summary import (
    evaluate_images,
    evaluation_paths,
    format_evaluation,
    write_evaluation,
)
from dwelltime.io import ensure_writable
from dwelltime.precision import PRECISIONS
from dwelltime.regrid import read_rgb
from dwelltime.synth.degrade import COARSE_SENSOR_BLUR_PX
from dwelltime.tables import few


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=AIRBUS_DEV_DIR, help="The airbus_dev folder.")
    parser.add_argument("--sites", nargs="+", default=list(AIRBUS_VALIDATION_SITES), help="Sites.")
    parser.add_argument("--gsd", type=float, default=0.5, help="Metres per pixel of the images.")
    parser.add_argument(
        "--coarsen-to",
        type=float,
        default=None,
        metavar="METRES",
        help="First resample the images (and labels) to this GSD with a sensor-like blur "
        f"({COARSE_SENSOR_BLUR_PX} px): real aircraft as a coarse sensor such as PlanetScope (3 m) "
        "would see them.",
    )
    parser.add_argument("--weights", type=Path, default=None, help="None: the shipped ones.")
    parser.add_argument("--random", action="store_true", help="Untrained network if no weights.")
    parser.add_argument("--device", default="auto", help="Torch device.")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="As run's.")
    parser.add_argument("--tile-size", type=int, default=512, help="Pixels at 0.5 m.")
    parser.add_argument("--overlap", type=int, default=128, help="Pixels at 0.5 m.")
    parser.add_argument("--batch-size", type=int, default=8, help="Tiles per pass.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images.")
    parser.add_argument("--out", type=Path, default=None, help="Folder for the tables.")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the tables of an earlier run in --out (else refused before detecting).",
    )
    return parser


def site_images(data: Path, sites: list[str]) -> list[str]:
    """File names of the images of ``sites`` (``sites.csv``: image,site_id) found in
    ``images/``, sorted; those missing are named in one warning. :class:`SystemExit` naming
    the sites the file has when one of ``sites`` is none of them (a typo would score fewer
    airports), or when none of their images is there."""
    with open(data / "sites.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    known = sorted({row["site_id"] for row in rows})
    if unknown := [site for site in sites if site not in known]:
        raise SystemExit(
            f"--sites {' '.join(unknown)}: no image in {data / 'sites.csv'}; its sites are "
            f"{', '.join(known)}"
        )
    names = sorted(row["image"] for row in rows if row["site_id"] in sites)
    missing = [name for name in names if not (data / "images" / name).is_file()]
    if len(missing) == len(names):
        raise SystemExit(
            f"{data / 'images'}: none of the {len(names)} images of sites {', '.join(sites)} "
            "is there (a copy of the training sites only?)"
        )
    if missing:
        logging.warning(
            "%d of the %d images of sites %s are not in %s, not scored: %s",
            len(missing),
            len(names),
            ", ".join(sites),
            data / "images",
            few(missing),
        )
    return [name for name in names if name not in missing]


def detector_and_threshold(args: argparse.Namespace) -> tuple[object, float, str]:
    """The detector, its operating threshold and where that came from."""
    from dwelltime.detector import Detector, build_detector, default_classes, load_detector
    from dwelltime.errors import WeightsError

    try:
        detector = load_detector(args.weights, device=args.device, precision=args.precision)
        threshold, source = shipped_threshold(args.weights)
    except WeightsError:
        if not args.random:
            raise
        classes = default_classes()
        detector = Detector(
            build_detector(num_classes=len(classes)), classes=classes, device=args.device
        )
        threshold, source = 0.5, "default 0.5: random weights, no model card"
    lower_score_floor(detector)
    return detector, threshold, source


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:  # a slice would drop images silently
        parser.error(f"--limit {args.limit}: give at least 1")
    if args.coarsen_to is not None and not args.coarsen_to > args.gsd:  # 0: ZeroDivisionError
        parser.error(
            f"--coarsen-to {args.coarsen_to:g}: give a GSD coarser than --gsd {args.gsd:g}"
        )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for needed in ("annotations.csv", "sites.csv", "images"):
        if not (args.data / needed).exists():
            raise SystemExit(f"{args.data / needed}: not found; --data takes the airbus_dev folder")
    try:
        if args.out is not None:  # before the work: a folder that cannot take it, earlier tables
            ensure_writable(evaluation_paths(args.out), overwrite=args.overwrite)
        boxes = read_airbus_csv(args.data / "annotations.csv")
    except OutputExistsError as exc:
        raise SystemExit(str(exc.with_switch("--overwrite"))) from None
    names = site_images(args.data, args.sites)[: args.limit]
    detector, threshold, source = detector_and_threshold(args)
    images = []
    for i, name in enumerate(names, start=1):
        logging.info("%d/%d %s", i, len(names), name)
        rgb, gsd = read_rgb(args.data / "images" / name), args.gsd
        truth = boxes.get(name, Objects.empty())
        if args.coarsen_to:
            rgb, gsd = coarse_copy(rgb, gsd, args.coarsen_to), args.coarsen_to
            truth = replace(truth, polygons=truth.polygons * (args.gsd / gsd))
        preds = predict_image(
            detector,
            rgb,
            gsd,
            tile_px=args.tile_size,
            overlap_px=args.overlap,
            batch_size=args.batch_size,
        )
        size = (rgb.shape[2], rgb.shape[1])  # (3, H, W)
        images.append(EvalImage(Path(name).stem, gsd, truth, preds, size_px=size))
    result = evaluate_images(
        images, score_threshold=threshold, threshold_source=source, axis_aligned=True
    )
    print(f"sites {', '.join(args.sites)}: {len(images)} images")
    print(format_evaluation(result))
    if args.out is not None:
        write_evaluation(result, args.out, overwrite=args.overwrite)


if __name__ == "__main__":
    try:
        main()
    except DwelltimeError as exc:  # a bad --weights, --device, input file…: one line
        raise SystemExit(str(exc)) from None
