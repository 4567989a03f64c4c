"""Train the dwelltime aircraft detector on synthetic chips (+ real box-labelled crops).

Reproducible from ``--seed``; the run's arguments are stored in every checkpoint; ``--resume``
continues from ``<work-dir>/last.pt`` (state dicts only, in an ignored folder). The final
weights go to ``--models-dir`` as safetensors with a model card (never pickle). Runs on CPU
(``--threads``) or CUDA (bf16 autocast, channels-last) when available. The weights it writes
type and size aircraft with the dense head alone; ``scripts/train_refiner.py --base WEIGHTS``
then adds the refiner that the shipped weights carry (a second look at each aircraft).

    python scripts/train_detector.py --steps 1500 --batch-size 12       # CPU, ~40 min
    python scripts/train_detector.py --synthetic-only --steps 200 --no-save  # quick check
    python scripts/train_detector.py --init models/X.safetensors ...      # continue training X

``--init`` starts from existing weights (their dense network trains on, a refiner they carry
is kept unchanged), so a short GPU lease adds to earlier training instead of starting over.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from dwelltime.catalog import catalog_dimensions
from dwelltime.detector import (
    DecodeConfig,
    Detector,
    build_detector,
    default_classes,
    load_detector,
)
from dwelltime.detector.datasets import (
    AIRBUS_VALIDATION_SITES,
    COARSE_GSD_RANGE_M,
    ZOOM_OUT_RANGE,
    BoxCrops,
    Mixed,
    SyntheticChips,
    add_airbus_options,
    add_small_share_option,
    airbus_images,
    check_airbus_option,
    small_share_note,
    synthetic_labels,
)
from dwelltime.detector.losses import detector_loss
from dwelltime.detector.model import parameter_count
from dwelltime.detector.normalise import NORM_MEAN, NORM_STD
from dwelltime.detector.types import MAX_TYPING_GSD_M
from dwelltime.detector.weights import (
    add_models_dir_option,
    data_tag,
    default_weights_note,
    hardware_name,
    load_model,
    read_card,
    save_weights,
    write_card,
    write_card_markdown,
)

log = logging.getLogger("train_detector")
REPO = Path(__file__).resolve().parents[1]
AIRBUS_LICENCE = (
    "Trained in part on the Airbus Aircraft Detection sample (Pléiades imagery, CC BY-NC-SA "
    "4.0, (c) Airbus DS): these weights are an adaptation of that material and are therefore "
    "shared under CC BY-NC-SA 4.0 (attribution, non-commercial use only, same licence). "
    "Retrain with --synthetic-only for weights free of that restriction."
)
#: arguments echoed in the model card's training command
RECIPE_ARGS = (
    "seed",
    "steps",
    "batch_size",
    "size",
    "lr",
    "warmup",
    "stride",
    "p_real",
    "small_share",
    "coarse_real",
    "zoom_out_real",
    "max_minutes",
)
SYNTHETIC_LICENCE = "Apache-2.0 (trained only on dwelltime's own synthetic imagery)."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1500, help="optimiser steps (cosine schedule)")
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--size", type=int, default=384, help="training crop size, pixels")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--stride", type=int, default=4, choices=(4, 8))
    p.add_argument("--width-mult", type=float, default=1.0)
    p.add_argument("--fpn-channels", type=int, default=64)
    p.add_argument("--p-real", type=float, default=0.4, help="share of real crops per batch")
    p.add_argument(
        "--coarse-real",
        type=float,
        default=0.0,
        help="share of the real crops made to look as if taken at "
        f"{COARSE_GSD_RANGE_M[0]:g}-{COARSE_GSD_RANGE_M[1]:g} m (coarse sensors)",
    )
    p.add_argument(
        "--zoom-out-real",
        type=float,
        default=0.0,
        help="share of the real crops cut from a window "
        f"{ZOOM_OUT_RANGE[0]:g}-{ZOOM_OUT_RANGE[1]:g} times wider and shrunk, so their aircraft "
        "look business-jet sized",
    )
    add_airbus_options(p)
    add_small_share_option(p)
    p.add_argument("--workers", type=int, default=1, help="DataLoader workers")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--work-dir", type=Path, default=REPO / "cache" / "detector")
    add_models_dir_option(p)
    p.add_argument("--arch", default="ocnet-mnv3l")
    p.add_argument("--resume", action="store_true", help="continue from <work-dir>/last.pt")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="WEIGHTS",
        help="start from these weights (network config from their card; refiner kept frozen)",
    )
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--no-save", action="store_true", help="do not write final weights")
    p.add_argument(
        "--evaluate",
        type=Path,
        default=None,
        metavar="WEIGHTS",
        help="only evaluate these weights on the held-out data and update their model card",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop early (and save) after this much training wall time; recorded in the card",
    )
    args = p.parse_args(argv)
    check_airbus_option(p, args)
    return args


def make_loader(args: argparse.Namespace, classes: list[str], start_step: int) -> DataLoader:
    seed = args.seed * 1_000_003 + start_step  # a resumed run continues with a fresh stream
    synthetic = SyntheticChips(
        classes, seed=seed, size_px=args.size, stride=args.stride, small_share=args.small_share
    )
    real = None
    if not args.synthetic_only:
        train = airbus_images(args.airbus, validation=False)
        real = BoxCrops(
            train,
            seed=seed,
            size_px=args.size,
            stride=args.stride,
            coarse_share=args.coarse_real,
            zoom_out_share=args.zoom_out_real,
        )
    data = Mixed(synthetic, real, p_real=args.p_real, seed=seed)
    return DataLoader(
        data,
        batch_size=args.batch_size,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers else None,
    )


def initial_model(args: argparse.Namespace):
    """The network to train, its classes and the card of ``--init`` (None when built new)."""
    if args.init is None:
        classes = default_classes()
        model = build_detector(
            num_classes=len(classes),
            stride=args.stride,
            width_mult=args.width_mult,
            fpn_channels=args.fpn_channels,
        )
        return model, classes, None
    if args.synthetic_only and "airbus" in data_tag(args.init):
        raise SystemExit(f"--synthetic-only: {args.init.name} was trained on Airbus data already")
    model, card = load_model(args.init)
    args.stride = model.config.stride
    log.info("starting from %s (%s)", args.init.name, card["training"]["command"])
    return model, card["classes"], card


def lr_factor(step: int, elapsed_s: float, args: argparse.Namespace) -> float:
    """Linear warm-up, then cosine decay to 2 % over the run. The run's progress is the larger
    of step / --steps and elapsed / --max-minutes, so a run cut by its time limit still ends
    with a decayed learning rate (then the schedule depends on the machine's speed)."""
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    if args.max_minutes:
        progress = max(progress, elapsed_s / (60 * args.max_minutes))
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(args: argparse.Namespace) -> Path | None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, classes, init_card = initial_model(args)
    model = model.to(device, memory_format=torch.channels_last)
    trained = [p for n, p in model.named_parameters() if not n.startswith("refiner.")]
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.work_dir / "last.pt"
    step, elapsed, history = 0, 0.0, []
    if args.resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, elapsed, history = ckpt["step"], ckpt["elapsed_s"], json.loads(ckpt["history"])
        log.info("resumed from %s at step %d", ckpt_path, step)
    log.info("%s: %d parameters on %s", args.arch, parameter_count(model), device)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    loader = iter(make_loader(args, classes, step))
    model.train()
    start, running = time.time() - elapsed, {}
    while step < args.steps and not _out_of_time(start, args.max_minutes):
        waited = time.time()
        images, targets = next(loader)
        running["data_wait_s"] = running.get("data_wait_s", 0.0) + time.time() - waited
        x = images.to(device).float().div_(255).contiguous(memory_format=torch.channels_last)
        targets = {k: v.to(device) for k, v in targets.items()}
        with autocast:
            geometry, type_logits = model(x)
        terms = detector_loss(geometry, type_logits, targets)
        for group in opt.param_groups:
            group["lr"] = args.lr * lr_factor(step, time.time() - start, args)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        step += 1
        for k, v in terms.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        if step % args.log_every == 0 or step == args.steps:
            n = args.log_every if step % args.log_every == 0 else step % args.log_every
            mean = {k: round(v / n, 4) for k, v in running.items()}
            lr = opt.param_groups[0]["lr"]
            history.append(
                {"step": step, "elapsed_s": round(time.time() - start, 1), "lr": lr, **mean}
            )
            log.info("step %d/%d %.0fs %s", step, args.steps, time.time() - start, mean)
            running = {}
        if (
            step % args.checkpoint_every == 0
            or step == args.steps
            or _out_of_time(start, args.max_minutes)
        ):
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "elapsed_s": time.time() - start,
                    "args": json.dumps(vars(args), default=str),
                    "history": json.dumps(history),
                },
                ckpt_path,
            )
    wall_s = time.time() - start
    args.steps_done = step
    metrics = evaluate(Detector(model, classes=classes, device=str(device)), args)
    if args.no_save:
        return None
    return save(model, classes, args, metrics, history, wall_s, device, init_card)


def evaluate(detector: Detector, args: argparse.Namespace) -> dict[str, dict]:
    """Held-out metrics: synthetic chips, and the Airbus validation sites unless
    ``--synthetic-only``."""
    metrics = {"synthetic_val": evaluate_synthetic(detector, args.seed)}
    if not args.synthetic_only:
        if all(i.path.is_file() for i in airbus_images(args.airbus, validation=True)):
            metrics["airbus_val"] = evaluate_airbus(detector, args.airbus)
        else:  # a GPU lease carries the training sites only: evaluate later with --evaluate
            log.warning("Airbus validation images missing under %s: not evaluated", args.airbus)
    log.info("held-out metrics: %s", json.dumps(metrics))
    return metrics


def update_card_metrics(weights: Path, args: argparse.Namespace) -> None:
    """Re-evaluate saved weights and write the metrics into their model card (.json, .md)."""
    torch.set_num_threads(args.threads)
    card = read_card(weights)
    args.synthetic_only = "airbus" not in card["training"]["data"].lower()
    card["metrics"] = evaluate(load_detector(weights), args)
    write_card(weights, card)


def _out_of_time(start: float, max_minutes: float | None) -> bool:
    return max_minutes is not None and time.time() - start > 60 * max_minutes


def evaluate_synthetic(detector: Detector, seed: int, n: int = 40) -> dict[str, float]:
    """Recall/precision (centre within a quarter length), heading, size and type errors on
    fixed held-out chips rendered at 0.3–1.2 m source GSD."""
    from dwelltime.synth import render_chip

    rng = np.random.default_rng([seed, 999])
    tp = fp = fn = 0
    head_err, len_err, span_err, type_ok = [], [], [], []
    for _ in range(n):
        chip = render_chip(
            rng,
            size_px=512,
            source_gsd_m=float(rng.uniform(0.3, 1.2)),
            n_aircraft=(1, 6),
            cloud_probability=0.0,
        )
        det = detector.predict(chip.image.transpose(2, 0, 1)[None])[0]
        truth = synthetic_labels(chip, detector.classes)
        used = np.zeros(len(det), dtype=bool)
        gsd = chip.gsd_m
        types, _ = detector.post_processor().assign_types(
            det, det.length_px * gsd, det.span_px * gsd, chip.source_gsd_m
        )
        for i in range(len(truth.cx)):
            d = np.hypot(det.cx - truth.cx[i], det.cy - truth.cy[i])
            d[used] = np.inf
            j = int(np.argmin(d)) if len(d) else -1
            if j < 0 or d[j] > 0.25 * truth.length_px[i]:
                fn += 1
                continue
            used[j] = True
            tp += 1
            diff = (det.heading_deg[j] - truth.heading_deg[i] + 180) % 360 - 180
            head_err.append(abs(diff))
            len_err.append(abs(det.length_px[j] - truth.length_px[i]) * gsd)
            span_err.append(abs(det.span_px[j] - truth.span_px[i]) * gsd)
            type_ok.append(types[j] == detector.classes[truth.type_index[i]])
        fp += int((~used).sum())
    return {
        "chips": n,
        "recall": tp / max(tp + fn, 1),
        "precision": tp / max(tp + fp, 1),
        "heading_median_abs_err_deg": float(np.median(head_err)) if head_err else None,
        "heading_within_20deg": float(np.mean(np.array(head_err) < 20)) if head_err else 0.0,
        "length_median_abs_err_m": float(np.median(len_err)) if len_err else None,
        "span_median_abs_err_m": float(np.median(span_err)) if span_err else None,
        "type_top1": float(np.mean(type_ok)) if type_ok else 0.0,
        "type_top1_note": f"source GSD <= {MAX_TYPING_GSD_M} m, with size prior",
    }


def evaluate_airbus(detector: Detector, root: Path, iou: float = 0.5) -> dict[str, float]:
    """AP50 and precision / recall / F1 of the boxes enclosing the predicted aircraft (cross
    model) on the held-out Airbus sites, whole 2560² images in one pass, at the detector's
    operating threshold and at the best-F1 threshold; matched and scored by
    :mod:`dwelltime.evaluation.metrics` as ``scripts/eval_real.py`` does."""
    from PIL import Image

    from dwelltime.evaluation.geometry import iou_matrix
    from dwelltime.evaluation.metrics import (
        Outcomes,
        average_precision,
        best_f1,
        match,
        operating_point,
    )
    from dwelltime.footprints import box_corners, clip_boxes, cross_boxes, footprint_corners

    operating = detector.decode_config
    detector.decode_config = dataclasses.replace(
        operating, score_threshold=0.05, max_detections=500
    )
    images = airbus_images(root, validation=True)
    parts = []
    for item in images:
        pixels = np.asarray(Image.open(item.path).convert("RGB")).transpose(2, 0, 1)
        det = detector.predict(pixels[None])[0]
        frame = pixels.shape[2], pixels.shape[1]
        corners = footprint_corners(det.cx, det.cy, det.length_px, det.span_px, det.heading_deg)
        pred = clip_boxes(cross_boxes(corners), *frame)
        truth = clip_boxes(box_corners(np.concatenate([item.boxes, item.truncated])), *frame)
        cut = np.arange(len(truth)) >= len(item.boxes)  # truncated: neither found nor missed
        matching = match(iou_matrix(pred, truth), det.score, iou_threshold=iou, difficult=cut)
        parts.append((det.score, matching, len(item.boxes)))
    detector.decode_config = operating
    outcomes = Outcomes.pool(parts)
    at = operating_point(outcomes, operating.score_threshold)
    f1, f1_threshold = best_f1(outcomes)
    return {
        "images": len(images),
        "aircraft": outcomes.n_truth,
        "ap50": round(average_precision(outcomes), 4),
        "score_threshold": operating.score_threshold,
        **{k: round(float(at[k]), 4) for k in ("precision", "recall", "f1")},
        "best_f1": round(f1, 4),
        "best_f1_threshold": round(f1_threshold, 4),
        "sites": ",".join(AIRBUS_VALIDATION_SITES),
        "note": "IoU 0.5 of the box enclosing the predicted footprint (fuselage x wing cross), "
        "cut to the image, with the annotated box; whole images at 0.5 m, truncated aircraft "
        "ignored; VOC all-point AP",
    }


def save(model, classes, args, metrics, history, wall_s, device, init_card=None) -> Path:
    data = "synth" if args.synthetic_only else "synth-airbus"
    hardware = hardware_name(device, args.threads)
    card = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "classes": classes,
        "dimensions": {k: list(v) for k, v in catalog_dimensions().items()},
        "bands": ["red", "green", "blue"],
        "gsd_m": 0.5,
        "input": {
            "dtype": "uint8",
            "scale": 1 / 255,
            "mean": NORM_MEAN,
            "std": NORM_STD,
            "layout": "(B, 3, H, W), H and W padded to a multiple of 32",
        },
        "decode": vars(DecodeConfig()),
        "parameters": parameter_count(model),
        "training": {
            "command": "python scripts/train_detector.py "
            + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k in RECIPE_ARGS
            )
            + (" --synthetic-only" if args.synthetic_only else "")
            + (f" --init {args.init.name}" if args.init else "")
            + (" (resumed with --resume)" if args.resume else ""),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "hardware": hardware,
            "wall_time_s": round(wall_s, 1),
            "data": "dwelltime.synth.render_chip chips (source GSD 0.3-3 m log-uniform"
            + small_share_note(args.small_share)
            + ")"
            + (
                ""
                if args.synthetic_only
                else f" + Airbus aircraft sample crops (box-supervised, p={args.p_real}, "
                f"sites {','.join(AIRBUS_VALIDATION_SITES)} held out"
                + (
                    f"; {args.coarse_real:.0%} of them made to look "
                    f"{COARSE_GSD_RANGE_M[0]:g}-{COARSE_GSD_RANGE_M[1]:g} m"
                    if args.coarse_real
                    else ""
                )
                + (
                    f"; {args.zoom_out_real:.0%} of them shrunk "
                    f"{ZOOM_OUT_RANGE[0]:g}-{ZOOM_OUT_RANGE[1]:g}x"
                    if args.zoom_out_real
                    else ""
                )
                + ")"
            ),
            "final_losses": history[-1] if history else {},
            "history": history,
        },
        "metrics": metrics,
        "licence": SYNTHETIC_LICENCE if args.synthetic_only else AIRBUS_LICENCE,
        "limitations": f"Small model trained from scratch on {hardware} for "
        f"{wall_s / 60:.1f} min; types are only given for source GSD <= 1.5 m and rely on the "
        "size prior.",
    }
    if init_card is not None:
        card.update(continued_card(init_card, wall_s, hardware))
        card["training"]["total_wall_time_s"] = card["continues"]["total_wall_time_s"]
    path = save_weights(model, args.models_dir, arch=args.arch, data=data, card=card)
    write_card_markdown(path)
    log.info("wrote %s", path)
    if note := default_weights_note(path):
        log.warning(note)
    return path


def continued_card(init: dict, wall_s: float, hardware: str) -> dict:
    """Card entries of a run started with ``--init``: the earlier training it continues, and
    what it keeps of the earlier weights (refiner, architecture notes, speed)."""
    earlier = init["training"]
    total_s = earlier.get("total_wall_time_s", earlier["wall_time_s"]) + wall_s
    kept = {k: init[k] for k in ("refiner", "architecture_choice", "speed") if k in init}
    return {
        **kept,
        "continues": {
            "weights": init["weights_file"],
            "command": earlier["command"],
            "hardware": earlier["hardware"],
            "wall_time_s": earlier["wall_time_s"],
            "total_wall_time_s": round(total_s, 1),
        },
        "limitations": f"Small model trained from scratch for {total_s / 60:.1f} min in all "
        f"(continued on {hardware}); types are only given for source GSD <= 1.5 m and rely on "
        "the size prior.",
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    arguments = parse_args()
    if arguments.evaluate is not None:
        update_card_metrics(arguments.evaluate, arguments)
    else:
        train(arguments)
