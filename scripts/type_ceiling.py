"""The best type top-1 accuracy any classifier can reach on the synthetic chips.

Usage: python scripts/type_ceiling.py [--sigma 0.5 1.0 1.5 1.7 2.0 2.5] [--draws 4000]
       [--width-tolerance M] [--sweep-tolerance DEG] [--chips FOLDER ...] [--weights W]

The synthetic engine draws a type uniformly from the catalog and renders it from its catalog
row alone: length and span, and a look (engines, engine mount, wing position, tail, sweep,
fuselage width, military role) that sets every other part of the planform in proportion to
the size. Two types with the same look differ only in size, so telling them apart rests on the
measured length and span. This script plays an ideal observer that sees the look without error
and measures length and span with Gaussian noise of standard deviation σ (metres), and takes
the most likely type (uniform prior): Bayes-optimal top-1 accuracy, by Monte Carlo. It is an
upper bound for a real detector at that size precision (a real one also confuses looks).

By default fuselage widths that differ by centimetres count as different looks. Some catalog
types are drawn alike but for such a width (A319 3.95 m and B737 3.76 m wide, 33.8 and 33.6 m
long): ``--width-tolerance`` and ``--sweep-tolerance`` give an observer who cannot tell widths
(metres) or sweeps (degrees) that close apart, e.g. half a pixel of width at 0.5 m GSD
(``--width-tolerance 0.25 --sweep-tolerance 1``), and a lower, more realistic ceiling.

For reference, a median absolute error e of a Gaussian measurement is 0.674 σ: the shipped
detector's median length errors of 0.9–1.3 m at 0.3–1 m GSD are σ ≈ 1.3–2.0 m.
Prints the ceiling per σ and the groups of look-alike types. With ``--chips`` (folders of
``dwelltime synth chips``), also the detector's type top-1 on them and its *look* accuracy
(the predicted type has the true type's look): how much of its error is the look and how much
is size within a look.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dwelltime.catalog import AircraftType, load_catalog
from dwelltime.errors import DwelltimeError


def look(t: AircraftType) -> tuple[object, ...]:
    """What the renderer draws of a type besides its size (the planform's proportions and
    the paint's military odds follow from these): its discrete parts, then the sweep (degrees)
    and the fuselage width (metres)."""
    return (
        t.engines,
        t.engine_mount,
        t.wing_position,
        t.tail,
        "military" in t.role,
        "military transport" in t.role,
        round(t.sweep_deg, 1),
        round(t.fuselage_width_m, 2),
    )


def alike(
    a: AircraftType, b: AircraftType, width_tol_m: float = 0.0, sweep_tol_deg: float = 0.0
) -> bool:
    """Whether ``a`` and ``b`` look the same to an observer who cannot tell fuselage widths
    within ``width_tol_m`` metres or sweeps within ``sweep_tol_deg`` degrees apart (0, 0: the
    same :func:`look`)."""
    *parts_a, sweep_a, width_a = look(a)
    *parts_b, sweep_b, width_b = look(b)
    return (
        parts_a == parts_b
        and abs(sweep_a - sweep_b) <= sweep_tol_deg + 1e-9
        and abs(width_a - width_b) <= width_tol_m + 1e-9
    )


def ceiling(
    types: list[AircraftType],
    sigma_m: float,
    draws: int,
    seed: int = 0,
    width_tol_m: float = 0.0,
    sweep_tol_deg: float = 0.0,
) -> float:
    """Top-1 accuracy of the ideal observer at size noise ``sigma_m`` (metres), each type drawn
    ``draws`` times; looks compared by :func:`alike` with the tolerances."""
    rng = np.random.default_rng(seed)
    size = np.array([(t.length_m, t.wingspan_m) for t in types])
    hits = 0
    for i in range(len(types)):
        same = np.array([alike(types[i], t, width_tol_m, sweep_tol_deg) for t in types])
        measured = size[i] + rng.normal(0.0, sigma_m, (draws, 2))
        d2 = ((measured[:, None, :] - size[None, same, :]) ** 2).sum(-1)
        hits += int((np.flatnonzero(same)[d2.argmin(1)] == i).sum())
    return hits / (draws * len(types))


def detector_accuracy(
    folder: Path, weights: Path | None, width_tol_m: float = 0.0, sweep_tol_deg: float = 0.0
) -> tuple[int, float, float, float] | None:
    """(typed aircraft, type top-1, look accuracy, median length error m) of the detector on
    the labelled chips under ``folder``, at the shipped score threshold; looks compared by
    :func:`alike` with the tolerances. None when ``folder`` holds no labelled chips."""
    from dwelltime.detector import load_detector
    from dwelltime.evaluation.dataset import image_info, load_truth
    from dwelltime.evaluation.labels import find_labelled_images
    from dwelltime.evaluation.objects import EvalImage
    from dwelltime.evaluation.predict import lower_score_floor, predict_image, shipped_threshold
    from dwelltime.evaluation.summary import detection_metrics
    from dwelltime.regrid import read_rgb

    labelled = find_labelled_images(folder).images
    if not labelled:
        return None
    detector = load_detector(weights)
    lower_score_floor(detector)
    images = []
    for item in labelled:
        truth, gsd = load_truth(item, image_info(item.image), {})
        preds = predict_image(detector, read_rgb(item.image), gsd)
        images.append(EvalImage(item.image.stem, gsd, truth, preds))
    _, pairs = detection_metrics(images, shipped_threshold(weights)[0])
    typed = pairs[pairs["found"] & (pairs["type"] != "unknown")]
    catalog = load_catalog()
    same_look = [
        p in catalog and alike(catalog[p], catalog[t], width_tol_m, sweep_tol_deg)
        for t, p in zip(typed["type"], typed["pred_type"], strict=True)
    ]
    return (
        len(typed),
        float((typed["type"] == typed["pred_type"]).mean()),
        float(np.mean(same_look)),
        float(typed["length_err_m"].median()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sigma", type=float, nargs="+", default=[0.5, 1.0, 1.5, 1.7, 2.0, 2.5], help="metres"
    )
    parser.add_argument("--draws", type=int, default=4000, help="measurements per type")
    parser.add_argument(
        "--width-tolerance",
        type=float,
        default=0.0,
        help="fuselage widths this close (m) look alike",
    )
    parser.add_argument(
        "--sweep-tolerance", type=float, default=0.0, help="sweeps this close look alike, degrees"
    )
    parser.add_argument("--chips", type=Path, nargs="*", default=[], help="labelled chip folders")
    parser.add_argument("--weights", type=Path, default=None, help="detector (default: shipped)")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws {args.draws}: give at least 1")
    catalog = load_catalog()
    types = [catalog[k] for k in sorted(catalog)]
    tol = (args.width_tolerance, args.sweep_tolerance)
    print(f"{len(types)} catalog types, drawn uniformly as the chip renderer draws them")
    print(f"looks alike within {tol[0]:g} m of fuselage width and {tol[1]:g}° of sweep")
    print("size noise σ m   ceiling top-1")
    for sigma in args.sigma:
        print(f"{sigma:14.1f}   {ceiling(types, sigma, args.draws, 0, *tol):.3f}")
    groups: dict[tuple[object, ...], list[AircraftType]] = {}
    for t in types:
        groups.setdefault(look(t), []).append(t)
    print("\nlook-alike groups (same look, told apart by length × span only):")
    for members in groups.values():
        if len(members) > 1:
            print("  " + ", ".join(f"{t.icao} {t.length_m:g}×{t.wingspan_m:g} m" for t in members))
    if any(tol):
        pairs = [
            f"{a.icao}–{b.icao}"
            for i, a in enumerate(types)
            for b in types[i + 1 :]
            if look(a) != look(b) and alike(a, b, *tol)
        ]
        print("also alike within the tolerances: " + ", ".join(pairs))
    for folder in args.chips:
        accuracy = detector_accuracy(folder, args.weights, *tol)
        if accuracy is None:
            print(f"{folder}: no labelled chips (as `dwelltime synth chips` writes); skipped")
            continue
        n, top1, look_acc, length_err = accuracy
        print(
            f"{folder}: {n} typed aircraft, type top-1 {top1:.3f}, look accuracy {look_acc:.3f}, "
            f"median length error {length_err:.2f} m"
        )


if __name__ == "__main__":
    try:
        main()
    except DwelltimeError as exc:  # a bad --weights, --device, input file…: one line
        raise SystemExit(str(exc)) from None
