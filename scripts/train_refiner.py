"""Train the refiner on the detector's own candidates and ship it with the detector.

The detector's dense network is kept as it is (loaded from ``--base``, default the shipped
weights); only the :class:`dwelltime.detector.refine.TypeRefiner` is trained. The dense network
looks at rendered chips and, unless ``--synthetic-only``, at the Airbus training sites; every
candidate it reports down to a score of :data:`CANDIDATE_FLOOR` is cut as a nose-up crop at its
own centre and heading by the :func:`~dwelltime.detector.refine.nose_up_crops` the detector
uses. A candidate whose footprint overlaps a true aircraft with IoU >= 0.5 is an aircraft (on
chips, with the truth's type and size); one under IoU 0.1 with every aircraft is not; the
rest, and aircraft cut by the chip's edge, are left out. Chips are drawn at their source GSD
(log-uniform 0.3–3 m, half of them 1.5–3 m, where the false alarms are) over at least 192 m
and resampled to the model GSD, as the pipeline reads imagery.

Losses: type cross-entropy (aircraft with a type), smooth L1 of log length and span (synthetic
aircraft; a second task that makes the network look at the whole planform) and binary
cross-entropy of *aircraft* (every candidate). After training, the weight ``w`` of the
aircraft probability ``p`` in the score ``score^(1-w) * p^w`` is the one of
:data:`VERIFY_WEIGHTS` with the best AP50 on the validation chips (another seed), and goes in
the model card with the candidate floor. Candidates are mined once into ``--work-dir``
(reused when the same seed and sizes are asked again). Reproducible from ``--seed``; CPU or
CUDA.

    python scripts/train_refiner.py --continue       # the shipped refiner: 2-core CPU
    python scripts/train_refiner.py --chips 40 --val-chips 20 --epochs 1 --no-save  # check

``--continue`` starts from the refiner the base weights carry instead of a new one.
``--type-chips N`` adds, for types and sizes only, crops of every aircraft of N rendered chips
per ``--type-seeds`` seed, cut around the true centres and headings jittered by the detector's
own errors (the data the first refiner learnt its types from).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from dwelltime.detector import Detector
from dwelltime.detector.datasets import (
    BoxImage,
    add_airbus_options,
    add_small_share_option,
    airbus_images,
    check_airbus_option,
    small_share_note,
    synthetic_labels,
    type_indices,
)
from dwelltime.detector.decode import DecodeConfig
from dwelltime.detector.model import ModelConfig, OrientedCenterNet, parameter_count
from dwelltime.detector.pixels import resample_to_gsd
from dwelltime.detector.refine import (
    CROP_M,
    RefinerConfig,
    TypeRefiner,
    fuse_scores,
    log_size_target,
    nose_up_crops,
    size_from_log,
)
from dwelltime.detector.types import MAX_TYPING_GSD_M
from dwelltime.detector.weights import (
    add_models_dir_option,
    data_tag,
    default_weights,
    default_weights_note,
    hardware_name,
    read_card,
    save_weights,
    write_card_markdown,
)
from dwelltime.evaluation.dataset import coarse_copy
from dwelltime.evaluation.geometry import iou_matrix
from dwelltime.evaluation.metrics import Outcomes, average_precision
from dwelltime.evaluation.predict import predict_image
from dwelltime.footprints import box_corners, cross_boxes
from dwelltime.io import atomic_write
from dwelltime.regrid import read_rgb

log = logging.getLogger("train_refiner")
REPO = Path(__file__).resolve().parents[1]
#: Lowest dense score of a mined candidate, and the candidate floor the shipped detector
#: decodes down to when its refiner verifies (``DecodeConfig.candidate_threshold``).
CANDIDATE_FLOOR = 0.1
#: IoU with a true aircraft from which a candidate is one, and under which (with every true
#: aircraft) it is not.
IOU_AIRCRAFT, IOU_BACKGROUND = 0.5, 0.1
#: Share of chips drawn from the whole source GSD range (0.3–3 m); the rest from 1.5–3 m.
P_ANY_GSD = 0.5
#: Least ground width of a chip, metres; chips are 256 source pixels wide where that is more.
MIN_CHIP_M = 192.0
#: Candidate weights of the aircraft probability in the score.
VERIFY_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
#: ``--type-chips``: jitter of a true aircraft's crop centre (metres, per axis) and heading
#: (degrees), standard deviations, about the detector's own errors on held-out chips; and the
#: share of those chips drawn from typable imagery (source GSD 0.3–1.5 m), the rest 1.5–3 m.
CENTRE_JITTER_M, HEADING_JITTER_DEG = 0.5, 2.0
P_TYPABLE = 0.75
#: ``--type-chips``: side of those chips, pixels at the model GSD.
TRUTH_CHIP_PX = 384
#: Empty arrays of one candidate set, by field.
FIELDS: dict[str, tuple[tuple[int, ...], type]] = {
    "crops": ((0, 3, 128, 128), np.uint8),
    "aircraft": ((0,), np.int64),  # 1 aircraft, 0 not, -1 left out of training
    "truth_id": ((0,), np.int64),  # matched true aircraft (IoU >= 0.5), unique in the set
    "difficult": ((0,), bool),  # that aircraft is cut by the chip's edge or hidden
    "type_index": ((0,), np.int64),  # -1: no type supervision
    "size_m": ((0, 2), np.float64),  # NaN: no size supervision
    "source_gsd_m": ((0,), np.float64),
    "score": ((0,), np.float32),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--chips", type=int, default=3000, help="training chips")
    p.add_argument("--val-chips", type=int, default=600, help="validation chips (other seed)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--size-weight", type=float, default=5.0, help="weight of the size L1 loss")
    p.add_argument("--negatives", type=float, default=3.0, help="most non-aircraft per aircraft")
    p.add_argument(
        "--distill",
        type=float,
        default=1.0,
        help="with --continue: weight of keeping the base refiner's type answers on aircraft",
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=2, help="rendering processes")
    p.add_argument("--base", type=Path, default=None, help="detector weights (default: shipped)")
    p.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="fine-tune the refiner the base weights carry instead of training a new one",
    )
    add_airbus_options(p)
    p.add_argument(
        "--coarse-airbus",
        type=float,
        nargs="*",
        default=[],
        metavar="METRES",
        help="also mine the Airbus training images made coarse to each of these GSDs",
    )
    add_small_share_option(p)
    p.add_argument(
        "--type-chips",
        type=int,
        default=0,
        help="also learn types (not the aircraft output) from crops of every aircraft of this "
        "many chips per --type-seeds, cut at true centres and headings with the detector's "
        "errors (default 0: candidates only)",
    )
    p.add_argument("--type-seeds", type=int, nargs="+", default=[7], help="seeds of --type-chips")
    p.add_argument("--work-dir", type=Path, default=REPO / "cache" / "refiner")
    add_models_dir_option(p)
    p.add_argument("--no-save", action="store_true", help="do not write weights")
    args = p.parse_args(argv)
    check_airbus_option(p, args)
    return args


def render_source_chip(job: tuple[int, int, float]):
    """Chip ``index`` of ``seed``: the :class:`dwelltime.synth.Chip` drawn at its source GSD,
    ``small_share`` of its aircraft smaller than any catalog type."""
    from dwelltime.synth import render_chip

    seed, index, small_share = job
    rng = np.random.default_rng([seed, index])
    lo = 0.3 if rng.random() < P_ANY_GSD else MAX_TYPING_GSD_M
    gsd = float(np.exp(rng.uniform(np.log(lo), np.log(3.0))))
    size = round(max(MIN_CHIP_M, 256 * gsd) / gsd)
    return render_chip(rng, size_px=size, gsd_m=gsd, source_gsd_m=gsd, small_share=small_share)


def candidates(
    detector: Detector,
    image: np.ndarray,
    gsd_m: float,
    truth: np.ndarray,
    *,
    axis_aligned: bool = False,
    left_out: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The detector's candidates on ``image`` (3, H, W) uint8 of ``gsd_m`` m/px, as crops and
    labels against ``truth`` (T, 4, 2) footprints in its pixels, and the index of each
    candidate's best truth (-1 if under IoU 0.5). ``axis_aligned``: compare boxes enclosing
    the predicted fuselage and wing with truth boxes (labels drawn that way); ``left_out``
    (L, 4, 2): truth that must neither be found nor be missed (overlapping one leaves a
    candidate out)."""
    found = predict_image(detector, image, gsd_m)
    pred = cross_boxes(found.polygons) if axis_aligned else found.polygons
    iou = iou_matrix(pred, truth)
    best = iou.max(1, initial=0.0)
    index = np.where(best >= IOU_AIRCRAFT, iou.argmax(1) if len(truth) else -1, -1)
    near_left_out = iou_matrix(pred, np.zeros((0, 4, 2)) if left_out is None else left_out)
    background = (best < IOU_BACKGROUND) & (near_left_out.max(1, initial=0.0) < IOU_BACKGROUND)
    model = resample_to_gsd(np.ascontiguousarray(image.transpose(1, 2, 0)), gsd_m, detector.gsd_m)
    x = torch.from_numpy(np.ascontiguousarray(model.transpose(2, 0, 1))).float().div_(255)
    centre = found.polygons.mean(1) * (gsd_m / detector.gsd_m)
    refiner = detector.model.refiner
    crops = nose_up_crops(
        x,
        torch.tensor(centre[:, 0]),
        torch.tensor(centre[:, 1]),
        torch.tensor(found.heading_deg),
        gsd_m=detector.gsd_m,
        crop_m=refiner.config.crop_m if refiner else CROP_M,
    )
    n = len(found)
    return {
        "crops": uint8_crops(crops),
        "aircraft": np.where(index >= 0, 1, np.where(background, 0, -1)),
        "truth_id": index,
        "difficult": np.zeros(n, bool),
        "type_index": np.full(n, -1),
        "size_m": np.full((n, 2), np.nan),
        "source_gsd_m": np.full(n, gsd_m),
        "score": found.score,
    }, index


def uint8_crops(crops: torch.Tensor) -> np.ndarray:
    """(N, 3, P, P) [0, 1] float crops as the uint8 array a candidate set stores."""
    return crops.mul(255).round().to(torch.uint8).numpy()


def chip_candidates(detector: Detector, chip, classes: list[str]) -> dict[str, np.ndarray]:
    """:func:`candidates` of a rendered chip, with the types and sizes of its aircraft; types
    are ``unknown`` above the typing GSD, and aircraft cut by the edge or hidden are left out."""
    labels = chip.labels
    truth = np.array([lab.polygon_px for lab in labels]).reshape(-1, 4, 2)
    image = np.ascontiguousarray(np.asarray(chip.image).transpose(2, 0, 1))
    found, index = candidates(detector, image, chip.gsd_m, truth)
    hit = index >= 0
    matched = [labels[i] for i in index[hit]]
    found["difficult"][hit] = [lab.difficult for lab in matched]
    found["aircraft"][hit & found["difficult"]] = -1
    found["type_index"][hit] = type_indices(chip, matched, classes)
    found["size_m"][hit] = np.array([(lab.length_m, lab.wingspan_m) for lab in matched]).reshape(
        -1, 2
    )
    return found


def airbus_candidates(
    detector: Detector, image: BoxImage, gsd_m: float = 0.5, coarse_gsd_m: float | None = None
) -> dict:
    """:func:`candidates` of one Airbus image (axis-aligned boxes; truncated aircraft left out),
    first made coarse (:func:`dwelltime.synth.degrade.coarsen`) when ``coarse_gsd_m`` is given."""
    rgb, scale = read_rgb(image.path), 1.0
    if coarse_gsd_m:
        rgb, scale = coarse_copy(rgb, gsd_m, coarse_gsd_m), gsd_m / coarse_gsd_m
        gsd_m = coarse_gsd_m
    found, _ = candidates(
        detector,
        rgb,
        gsd_m,
        box_corners(image.boxes * scale),
        axis_aligned=True,
        left_out=box_corners(image.truncated * scale),
    )
    return found


def render_truth_crops(job: tuple[int, int, int, list[str], float]) -> dict[str, np.ndarray]:
    """Nose-up crops of every visible aircraft of ``n`` chips rendered from ``seed`` (chips
    ``first`` to ``first + n - 1``) at the model GSD ``gsd`` from their source GSD, around
    centres and headings jittered by :data:`CENTRE_JITTER_M` and :data:`HEADING_JITTER_DEG`,
    with their types (indices into ``classes``; ``unknown`` above the typing GSD) and sizes
    (metres). They are all aircraft but are left out of the aircraft loss (``aircraft`` -1):
    they are no candidates of the dense network."""
    from dwelltime.synth import render_chip

    seed, first, n, classes, gsd = job
    parts = [empty_set()]
    for i in range(first, first + n):
        rng = np.random.default_rng([seed, i])
        lo, hi = (0.3, MAX_TYPING_GSD_M) if rng.random() < P_TYPABLE else (MAX_TYPING_GSD_M, 3.0)
        source = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        chip = render_chip(rng, size_px=TRUTH_CHIP_PX, gsd_m=gsd, source_gsd_m=source)
        labels = synthetic_labels(chip, classes)
        k = len(labels.cx)
        if k == 0:
            continue
        jitter = rng.normal(0.0, CENTRE_JITTER_M / gsd, (2, k))
        heading = labels.heading_deg + rng.normal(0.0, HEADING_JITTER_DEG, k)
        image = torch.from_numpy(np.array(chip.image)).permute(2, 0, 1).float().div(255)
        crops = nose_up_crops(
            image,
            torch.from_numpy(labels.cx + jitter[0]),
            torch.from_numpy(labels.cy + jitter[1]),
            torch.from_numpy(heading),
            gsd_m=gsd,
        )
        part = empty_set(k)
        part["crops"] = uint8_crops(crops)
        part["type_index"] = labels.type_index
        part["size_m"] = np.stack([labels.length_px, labels.span_px], 1) * gsd
        part["source_gsd_m"] = np.full(k, chip.source_gsd_m)
        parts.append(part)
    return join(parts)


def empty_set(n: int = 0) -> dict[str, np.ndarray]:
    """A candidate set of ``n`` crops with nothing known: zero pixels, aircraft -1 (left out),
    no truth, type or size."""
    out = {k: np.zeros((n, *shape[1:]), dtype) for k, (shape, dtype) in FIELDS.items()}
    out["aircraft"][:] = out["truth_id"][:] = out["type_index"][:] = -1
    out["size_m"][:] = np.nan
    return out


def truth_crop_set(seed: int, chips: int, workers: int, classes: list[str], gsd_m: float) -> dict:
    """:func:`render_truth_crops` of ``chips`` chips from ``seed`` at the model GSD ``gsd_m``, in
    ``workers`` processes."""
    t0 = time.time()
    step = 100
    jobs = [(seed, i, min(step, chips - i), classes, gsd_m) for i in range(0, chips, step)]
    with Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        parts = pool.map(render_truth_crops, jobs)
    data = join(parts)
    log.info("%d aircraft crops from %d chips in %.0f s", len(data["score"]), chips,
             time.time() - t0)  # fmt: skip
    return data


def concatenate(parts: list[dict[str, np.ndarray]], truth: list[int], truth_gsd_m: list) -> dict:
    """One candidate set of per-image ``parts`` whose images hold ``truth`` true aircraft each:
    truth ids made unique across images; ``truth_gsd_m``: the source GSD of every true aircraft
    that counts in AP (not difficult)."""
    out = {k: [v] for k, v in empty_set().items()}
    first = 0
    for part, count in zip(parts, truth, strict=True):
        for k in FIELDS:
            out[k].append(part[k])
        out["truth_id"][-1] = np.where(part["truth_id"] >= 0, part["truth_id"] + first, -1)
        first += count
    data = {k: np.concatenate(v) for k, v in out.items()}
    return {**data, "truth_gsd_m": np.asarray(truth_gsd_m, float)}


def synthetic_set(
    detector: Detector, seed: int, chips: int, workers: int, small_share: float = 0.0
) -> dict:
    """Candidates of ``chips`` chips rendered from ``seed`` (in ``workers`` processes)."""
    t0 = time.time()
    parts, truth, truth_gsd = [], [], []
    jobs = [(seed, i, small_share) for i in range(chips)]
    with Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for chip in pool.imap(render_source_chip, jobs, chunksize=8):
            parts.append(chip_candidates(detector, chip, detector.classes))
            truth.append(len(chip.labels))
            truth_gsd += [chip.gsd_m for lab in chip.labels if not lab.difficult]
    data = concatenate(parts, truth, truth_gsd)
    log.info("%d candidates on %d chips in %.0f s", len(data["score"]), chips, time.time() - t0)
    return data


def airbus_set(
    detector: Detector, root: Path, gsd_m: float = 0.5, coarse_gsd_m: float | None = None
) -> dict:
    """Candidates on the Airbus images of the training sites (not the validation sites), made
    coarse first when ``coarse_gsd_m`` is given."""
    t0 = time.time()
    images = airbus_images(root, validation=False)
    parts = [airbus_candidates(detector, image, gsd_m, coarse_gsd_m) for image in images]
    truth = [len(image.boxes) for image in images]
    data = concatenate(parts, truth, [coarse_gsd_m or gsd_m] * sum(truth))
    log.info("%d candidates on %d Airbus images in %.0f s", len(data["score"]), len(images),
             time.time() - t0)  # fmt: skip
    return data


def cached(path: Path, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays saved at ``path`` (``.npz``), made and saved (write then rename) if absent."""
    if path.exists():
        with np.load(path) as f:
            return dict(f)
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        np.savez(tmp, **data)
    return data


def training_set(sets: list[dict], negatives: float, rng: np.random.Generator) -> dict:
    """The candidates of ``sets`` that train: aircraft and at most ``negatives`` times as many
    non-aircraft of each set (drawn at random)."""
    parts = []
    for data in sets:
        yes, no = np.flatnonzero(data["aircraft"] == 1), np.flatnonzero(data["aircraft"] == 0)
        no = rng.choice(no, min(len(no), math.ceil(negatives * len(yes))), replace=False)
        keep = np.sort(np.concatenate([yes, no]))
        parts.append({k: data[k][keep] for k in FIELDS})
    return join(parts)


def join(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One candidate set of the crops of ``parts``, in order."""
    return {k: np.concatenate([p[k] for p in parts]) for k in FIELDS}


def batches(data: dict, order: np.ndarray, size: int, flip: np.ndarray | None) -> Iterator:
    """(crops float [0, 1], type_index, size_m, aircraft) tensors in ``order``; ``flip``:
    mirror left–right (the planform is symmetric, the sun moves)."""
    for start in range(0, len(order), size):
        idx = np.sort(order[start : start + size])
        x = torch.from_numpy(data["crops"][idx]).float().div_(255)
        if flip is not None:
            f = torch.from_numpy(flip[idx])
            x[f] = x[f].flip(-1)
        yield (
            x,
            torch.from_numpy(data["type_index"][idx]),
            torch.from_numpy(data["size_m"][idx]).float(),
            torch.from_numpy(data["aircraft"][idx]).float(),
        )


def loss_terms(refiner: TypeRefiner, x, types, size_m, aircraft, args, teacher=None):
    """Total, type cross-entropy, size L1 (of log sizes), aircraft BCE (crops with ``aircraft``
    0 or 1) and type distillation (KL from ``teacher``'s type probabilities on the aircraft,
    weighted ``args.distill``) of one batch; a term with nothing to learn in the batch is 0."""
    logits, log_size, aircraft_logit = refiner(x)
    zero = logits.sum() * 0
    typed, sized, yes = types >= 0, ~size_m[:, 0].isnan(), aircraft > 0.5
    ce = F.cross_entropy(logits[typed].float(), types[typed]) if typed.any() else zero
    target = log_size_target(size_m[sized, 0], size_m[sized, 1])
    l1 = F.smooth_l1_loss(log_size[sized].float(), target, beta=0.05) if sized.any() else zero
    judged = aircraft >= 0
    bce = (
        F.binary_cross_entropy_with_logits(aircraft_logit[judged].float(), aircraft[judged])
        if judged.any()
        else zero
    )
    kl = zero
    if teacher is not None and yes.any():
        with torch.no_grad():
            taught = teacher(x[yes])[0].float().log_softmax(1)
        learnt = logits[yes].float().log_softmax(1)
        kl = F.kl_div(learnt, taught, log_target=True, reduction="batchmean")
    total = ce + args.size_weight * l1 + bce + args.distill * kl
    return total, ce, l1, bce, kl


def train_mode(refiner: TypeRefiner, *, frozen_norms: bool) -> None:
    """Training mode; ``frozen_norms``: BatchNorm layers keep the statistics they have (a
    fine-tune on candidates, most of them not aircraft, must not shift what the types rest on)."""
    refiner.train()
    if frozen_norms:
        for m in refiner.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()


@torch.inference_mode()
def predict_crops(refiner: TypeRefiner, data: dict, batch: int) -> dict[str, np.ndarray]:
    """The refiner's type, sizes (metres) and aircraft probability of every crop of ``data``."""
    refiner.eval()
    out: dict[str, list] = {"type": [], "size_m": [], "p_aircraft": []}
    for x, *_ in batches(data, np.arange(len(data["score"])), batch, None):
        logits, log_size, aircraft_logit = refiner(x)
        out["type"].append(logits.argmax(1).numpy())
        out["size_m"].append(size_from_log(log_size).numpy())
        out["p_aircraft"].append(aircraft_logit.sigmoid().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def ap50(data: dict, score: np.ndarray, gsd_range: tuple[float, float] = (0.0, np.inf)) -> float:
    """AP50 of the candidates of ``data`` ranked by ``score``, as ``dwelltime evaluate`` matches
    (best score first, one candidate per true aircraft), over the images of source GSD in
    ``gsd_range`` (metres, lower bound excluded)."""
    lo, hi = gsd_range
    keep = (data["source_gsd_m"] > lo) & (data["source_gsd_m"] <= hi)
    truth_id, difficult, score = data["truth_id"][keep], data["difficult"][keep], score[keep]
    tp, taken = np.zeros(len(score), bool), set()
    for p in np.argsort(-score, kind="stable"):
        t = int(truth_id[p])
        if t >= 0 and not difficult[p] and t not in taken:
            tp[p] = True
            taken.add(t)
    n_truth = int(((data["truth_gsd_m"] > lo) & (data["truth_gsd_m"] <= hi)).sum())
    return average_precision(Outcomes(score, tp, (truth_id >= 0) & difficult, n_truth))


def validate(refiner: TypeRefiner, data: dict, batch: int) -> dict[str, float]:
    """Type top-1 and median size errors (metres) of the validation aircraft by source GSD,
    the aircraft probability's separation, and AP50 of each :data:`VERIFY_WEIGHTS`."""
    pred = predict_crops(refiner, data, batch)
    gsd, aircraft = data["source_gsd_m"], data["aircraft"]
    typed = (aircraft == 1) & (data["type_index"] >= 0)
    right = pred["type"] == data["type_index"]
    fine, typable = typed & (gsd <= 0.6), typed & (gsd <= MAX_TYPING_GSD_M)
    err = np.abs(pred["size_m"] - data["size_m"])
    out = {
        "aircraft": int((aircraft == 1).sum()),
        "not_aircraft": int((aircraft == 0).sum()),
        "type_top1_le_0.6m": float(right[fine].mean()),
        "type_top1_le_1.5m": float(right[typable].mean()),
        "length_median_abs_err_m_le_0.6m": float(np.median(err[fine, 0])),
        "aircraft_accuracy": float(
            ((pred["p_aircraft"] >= 0.5) == (aircraft == 1))[aircraft >= 0].mean()
        ),
    }
    for w in VERIFY_WEIGHTS:
        fused = fuse_scores(data["score"], pred["p_aircraft"], w)
        out[f"ap50_w{w}"] = ap50(data, fused)
        out[f"ap50_coarse_w{w}"] = ap50(data, fused, (MAX_TYPING_GSD_M, np.inf))
    return out


def load_base(path: Path):
    """The base weights' network and card (sha256 checked). A refiner from before its aircraft
    output (K + 2 outputs) gets that output with zero weights: p = 0.5 until trained."""
    card = read_card(path)
    state = load_file(str(path))
    k = len(card["classes"])
    for name in ("refiner.net.classifier.3.weight", "refiner.net.classifier.3.bias"):
        t = state.get(name)
        if t is not None and t.shape[0] == k + 2:
            state[name] = torch.cat([t, t.new_zeros((1, *t.shape[1:]))])
    model = OrientedCenterNet(ModelConfig(**card["model"]))
    model.load_state_dict(state, strict=True)
    return model, card


def mined_sets(
    args: argparse.Namespace, model, card, device: torch.device
) -> tuple[list[dict], dict]:
    """Training candidate sets (chips, and Airbus unless ``--synthetic-only``) and the
    validation chips' candidates, mined by the base's dense network on ``device`` (cached in
    ``--work-dir``)."""
    detector = Detector(
        model, classes=card["classes"], gsd_m=card["gsd_m"], device=str(device),
        decode_config=DecodeConfig(score_threshold=CANDIDATE_FLOOR),
    )  # fmt: skip
    tag = f"{Path(args.base).stem}_floor{CANDIDATE_FLOOR}"
    chips = f"_small{args.small_share:g}" if args.small_share else ""
    work = args.work_dir
    sets = [
        cached(
            work / f"candidates_{tag}_seed{args.seed}_chips{args.chips}{chips}.npz",
            lambda: synthetic_set(detector, args.seed, args.chips, args.workers, args.small_share),
        )
    ]
    if not args.synthetic_only:
        sets.append(
            cached(work / f"candidates_{tag}_airbus.npz", lambda: airbus_set(detector, args.airbus))
        )
        for g in args.coarse_airbus:
            sets.append(
                cached(
                    work / f"candidates_{tag}_airbus_{g:g}m.npz",
                    lambda g=g: airbus_set(detector, args.airbus, coarse_gsd_m=g),
                )
            )
    val_seed = args.seed + 1_000_003
    val = cached(
        work / f"candidates_{tag}_seed{val_seed}_chips{args.val_chips}{chips}.npz",
        lambda: synthetic_set(detector, val_seed, args.val_chips, args.workers, args.small_share),
    )
    return sets, val


def type_sets(args: argparse.Namespace, card: dict) -> list[dict]:
    """With ``--type-chips``, :func:`truth_crop_set` of each of ``--type-seeds`` (cached in
    ``--work-dir``)."""
    return [
        cached(
            args.work_dir / f"crops_seed{seed}_chips{args.type_chips}.npz",
            lambda seed=seed: truth_crop_set(
                seed, args.type_chips, args.workers, card["classes"], card["gsd_m"]
            ),
        )
        for seed in (args.type_seeds if args.type_chips else [])
    ]


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.base = args.base or default_weights()
    if args.synthetic_only and "airbus" in data_tag(args.base):
        raise SystemExit(f"--synthetic-only: {args.base.name} was trained on Airbus data already")
    model, card = load_base(args.base)
    if args.continue_ and model.refiner is None:
        raise SystemExit(f"--continue: {args.base.name} carries no refiner")
    sets, val_set = mined_sets(args, model, card, device)
    rng = np.random.default_rng(args.seed)
    train_set = join([training_set(sets, args.negatives, rng), *type_sets(args, card)])
    n = len(train_set["score"])
    log.info("%d training candidates (%d aircraft), %d validation candidates", n,
             int((train_set["aircraft"] == 1).sum()), len(val_set["score"]))  # fmt: skip
    if n == 0:
        raise SystemExit("no training candidates: the base network found nothing to learn from")
    refiner = model.refiner if args.continue_ else TypeRefiner(RefinerConfig(len(card["classes"])))
    refiner = refiner.to(device)
    teacher = copy.deepcopy(refiner).eval() if args.continue_ and args.distill > 0 else None
    opt = torch.optim.AdamW(refiner.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = args.epochs * math.ceil(n / args.batch_size)
    step, history, t0 = 0, [], time.time()
    for epoch in range(args.epochs):
        train_mode(refiner, frozen_norms=args.continue_)
        running = np.zeros(5)
        order, flip = rng.permutation(n), rng.random(n) < 0.5
        for batch in batches(train_set, order, args.batch_size, flip):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            terms = loss_terms(refiner, *(t.to(device) for t in batch), args, teacher)
            opt.zero_grad(set_to_none=True)
            terms[0].backward()
            opt.step()
            running += [float(t.detach()) for t in terms]
            step += 1
        mean = running / math.ceil(n / args.batch_size)
        metrics = validate(refiner.cpu(), val_set, 256)
        refiner.to(device)
        history.append(
            {
                "epoch": epoch + 1,
                "elapsed_s": round(time.time() - t0, 1),
                **dict(
                    zip(
                        ("loss", "type_ce", "size_l1", "aircraft_bce", "type_kl"),
                        np.round(mean, 4).tolist(),
                        strict=True,
                    )
                ),
                **{k: round(v, 4) for k, v in metrics.items()},
            }
        )
        log.info("epoch %d: %s", epoch + 1, json.dumps(history[-1]))
    weight = max(VERIFY_WEIGHTS, key=lambda w: history[-1][f"ap50_w{w}"])
    log.info("verify weight %s (validation AP50 %.4f)", weight, history[-1][f"ap50_w{weight}"])
    if not args.no_save:
        recipe = describe_run(args, history, time.time() - t0, device)
        if args.continue_:
            earlier = card["refiner"]
            recipe["continues"] = {k: earlier[k] for k in ("command", "hardware", "wall_time_s")}
        decode = {**card.get("decode", {}), "verify_weight": weight,
                  "candidate_threshold": CANDIDATE_FLOOR}  # fmt: skip
        save(model, refiner.cpu(), {**card, "decode": decode}, args, recipe)


def describe_run(args, history, wall_s, device) -> dict:
    """The model card's record of this training run: command, hardware, data, results."""
    hardware = hardware_name(device, args.threads)
    recipe = ("seed", "chips", "epochs", "batch_size", "lr", "size_weight", "negatives", "distill")
    recipe += ("small_share",) if args.small_share else ()
    recipe += ("type_chips",) if args.type_chips else ()
    flags = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in recipe]
    flags += [f"--type-seeds {' '.join(map(str, args.type_seeds))}"] if args.type_chips else []
    flags += ["--synthetic-only"] if args.synthetic_only else []
    flags += ["--continue"] if args.continue_ else []
    coarse = "" if args.synthetic_only else " ".join(f"{g:g}" for g in args.coarse_airbus)
    flags += [f"--coarse-airbus {coarse}"] if coarse else []
    real = "" if args.synthetic_only else " and on the Airbus training sites' images"
    real += f" (also made {coarse} m)" if coarse else ""
    small = small_share_note(args.small_share)
    truth = (
        f"; types also from crops of every aircraft of {args.type_chips} chips per seed "
        f"{', '.join(map(str, args.type_seeds))} at true centres and headings jittered by "
        f"{CENTRE_JITTER_M} m and {HEADING_JITTER_DEG} deg ({P_TYPABLE:.0%} at source GSD "
        f"0.3-{MAX_TYPING_GSD_M:g} m)"
        if args.type_chips
        else ""
    )
    return {
        "command": "python scripts/train_refiner.py " + " ".join(flags),
        "hardware": hardware,
        "wall_time_s": round(wall_s, 1),
        "data": f"nose-up crops of the base network's candidates (dense score >= "
        f"{CANDIDATE_FLOOR}) on {args.chips} dwelltime.synth.render_chip chips drawn at their "
        f"source GSD (0.3-3 m, half of them 1.5-3 m{small}){real}; aircraft: IoU >= {IOU_AIRCRAFT} "
        f"with a true one, not: IoU < {IOU_BACKGROUND} with all, at most {args.negatives} "
        f"non-aircraft per aircraft{truth}",
        "validation": history[-1],
        "history": history,
    }


def save(model, refiner, card, args: argparse.Namespace, recipe: dict) -> Path:
    """The base network with the refiner attached, as new weights with an updated card."""
    model.config = dataclasses.replace(model.config, refiner=True)
    model.refiner = refiner
    # the int8 calibration belongs to the base weights: scripts/calibrate_int8.py makes a new one
    drop = ("format", "model", "sha256", "int8")
    new_card = {k: v for k, v in card.items() if k not in drop}
    new_card["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new_card["parameters"] = parameter_count(model)
    new_card["refiner"] = {
        "config": refiner.config.to_dict(),
        "base_weights": args.base.name,
        **recipe,
    }
    data = data_tag(args.base)
    path = save_weights(model, args.models_dir, arch=card["arch"], data=data, card=new_card)
    write_card_markdown(path)
    log.info("wrote %s", path)
    if note := default_weights_note(path):
        log.warning(note)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(parse_args())
