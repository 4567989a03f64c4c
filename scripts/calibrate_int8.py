"""Calibrate the detector's int8 network (CPU) and store it in the model card.

Runs the BatchNorm-folded dense network with activation observers (torch's ``x86`` histogram
observers) over ``--chips`` chips of 512² pixels at the model GSD, drawn as the real imagery
the detector will see: random crops of the Airbus training sites (never the validation sites;
a third of them made to look coarser, as 1-3 m imagery resampled to the model GSD does), or
rendered chips (:class:`dwelltime.detector.datasets.SyntheticChips`) with ``--synthetic-only``
or when the Airbus folder is missing. The quantisation scale and zero point of every
activation go in the card under ``int8`` (:mod:`dwelltime.detector.int8`), with this
command; the weights file is not touched. Reproducible from ``--seed``.

    python scripts/calibrate_int8.py                     # the shipped weights
    python scripts/calibrate_int8.py --weights models/other.safetensors --chips 16
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from pathlib import Path

import torch

from dwelltime.detector.datasets import (
    BoxCrops,
    SyntheticChips,
    add_airbus_options,
    airbus_images,
)
from dwelltime.detector.int8 import calibrate, unavailable
from dwelltime.detector.model import fused_for_inference
from dwelltime.detector.weights import default_weights, hardware_name, load_model, write_card
from dwelltime.errors import DwelltimeError

log = logging.getLogger("calibrate_int8")

#: Share of the real crops made to look coarser (:func:`dwelltime.detector.datasets.coarser_look`).
COARSE_SHARE = 1 / 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="default: the shipped ones")
    parser.add_argument("--chips", type=int, default=48, help="chips of 512² pixels")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    add_airbus_options(parser)
    return parser


def chips(
    args: argparse.Namespace, classes: list[str], size_px: int
) -> tuple[BoxCrops | SyntheticChips, str]:
    """The calibration chips (samples whose first item is a uint8 (3, H, W) image) and what
    they are, for the card."""
    what = f"{args.chips} chips of {size_px}² px at 0.5 m: "
    if not args.synthetic_only and (args.airbus / "annotations.csv").is_file():
        images = airbus_images(args.airbus, validation=False)
        crops = BoxCrops(images, seed=args.seed, size_px=size_px, coarse_share=COARSE_SHARE)
        return crops, what + (
            f"crops of the Airbus training sites' images ({COARSE_SHARE:.0%} made to look like "
            "1-3 m imagery)"
        )
    if not args.synthetic_only:
        log.warning("Airbus images missing under %s: rendered chips only", args.airbus)
    return SyntheticChips(classes, seed=args.seed, size_px=size_px), what + "dwelltime.synth chips"


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    problem = unavailable()
    if problem:
        raise SystemExit(f"cannot calibrate int8: {problem}")
    torch.set_num_threads(args.threads)
    weights = default_weights() if args.weights is None else args.weights
    model, card = load_model(weights)
    data, what = chips(args, card["classes"], size_px=512)
    images = torch.stack([image for image, _ in itertools.islice(data, args.chips)])
    batches = (b.float().div_(255.0) for b in images.split(args.batch_size))
    start = time.time()
    calibration = calibrate(fused_for_inference(model), batches)
    flags = f"--chips {args.chips} --seed {args.seed}" + (
        " --synthetic-only" if args.synthetic_only else ""
    )
    card["int8"] = {
        "command": f"python scripts/calibrate_int8.py {flags}",
        "hardware": hardware_name(torch.device("cpu"), args.threads),
        "wall_time_s": round(time.time() - start, 1),
        "data": what,
        **calibration,
    }
    write_card(weights, card)
    log.info("%s: %d activations calibrated", weights.name, len(calibration["activations"]))
    return weights


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        main()
    except DwelltimeError as exc:  # a bad --weights, --device, input file…: one line
        raise SystemExit(str(exc)) from None
