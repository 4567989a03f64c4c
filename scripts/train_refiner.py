"""Train the type/size refiner on nose-up crops of rendered aircraft and ship it with the detector.

The detector's dense network is kept as it is (loaded from ``--base``, default the shipped
weights); only the :class:`dwelltime.detector.refine.TypeRefiner` is trained, on crops cut by the
same :func:`~dwelltime.detector.refine.nose_up_crops` the detector uses, around true centres
and headings jittered by about the detector's own errors. Real aircraft teach it real sizes:
crops of the Airbus sample's training sites around what the dense network finds there, each
supervised by its label box (the box enclosing the fuselage × wing cross of the refined
length and span at the detected heading; no type). Synthetic crops are rendered once into
``--work-dir`` (reused when the same ``--seed``/``--chips`` are asked again). The result is
written to ``--models-dir`` as new weights (dense network + refiner) with a model card that
keeps the base card's recipe and adds the refiner's. Reproducible from ``--seed``; CPU or CUDA.

    python scripts/train_refiner.py --chips 16000 --epochs 6      # 2-core CPU: ~50 min
    python scripts/train_refiner.py --chips 300 --val-chips 60 --epochs 1 --no-save  # check
    python scripts/train_refiner.py --synthetic-only ...   # no CC BY-NC-SA data
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from dwelltime.detector import default_classes
from dwelltime.detector.datasets import AIRBUS_VALIDATION_SITES, read_airbus, synthetic_labels
from dwelltime.detector.geometry import cross_half_extents
from dwelltime.detector.model import parameter_count
from dwelltime.detector.refine import (
    RefinerConfig,
    TypeRefiner,
    log_size_target,
    nose_up_crops,
    size_from_log,
)
from dwelltime.detector.types import MAX_TYPING_GSD_M
from dwelltime.detector.weights import default_weights, load_model, models_dir, save_weights

log = logging.getLogger("train_refiner")
REPO = Path(__file__).resolve().parents[1]
#: Model GSD of the crops' source chips (the detector's), metres/pixel.
GSD_M = 0.5
#: Jitter of the crop centre (metres, per axis) and heading (degrees), standard deviations:
#: about the detector's own errors on held-out chips.
CENTRE_JITTER_M, HEADING_JITTER_DEG = 0.5, 2.0
#: Share of chips rendered from typable imagery (source GSD 0.3–1.5 m); the rest 1.5–3 m.
P_TYPABLE = 0.75


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chips", type=int, default=16000, help="training chips (~3 aircraft each)")
    p.add_argument("--val-chips", type=int, default=600, help="validation chips (other seed)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--size-weight", type=float, default=5.0, help="weight of the size L1 loss")
    p.add_argument("--real-per-batch", type=int, default=32, help="real crops added to a batch")
    p.add_argument("--synthetic-only", action="store_true", help="no real (CC BY-NC-SA) data")
    p.add_argument("--airbus", type=Path, default=Path("/work/shared/data/real/airbus_dev"))
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=2, help="rendering processes")
    p.add_argument("--base", type=Path, default=None, help="detector weights (default: shipped)")
    p.add_argument("--work-dir", type=Path, default=REPO / "cache" / "refiner")
    p.add_argument("--models-dir", type=Path, default=models_dir())
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from the refiner in these weights (a further training stage of it)",
    )
    p.add_argument("--no-save", action="store_true", help="do not write weights")
    return p.parse_args(argv)


def render_crops(job: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Nose-up uint8 crops of every visible aircraft of ``n`` chips rendered from ``seed``."""
    from dwelltime.synth import render_chip

    seed, first, n = job
    torch.set_num_threads(1)
    classes = default_classes()
    out: dict[str, list] = {k: [] for k in ("crops", "type_index", "size_m", "source_gsd_m")}
    for i in range(first, first + n):
        rng = np.random.default_rng([seed, i])
        lo, hi = (0.3, MAX_TYPING_GSD_M) if rng.random() < P_TYPABLE else (MAX_TYPING_GSD_M, 3.0)
        source = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        chip = render_chip(rng, size_px=384, gsd_m=GSD_M, source_gsd_m=source)
        labels = synthetic_labels(chip, classes)
        n_ac = len(labels.cx)
        if n_ac == 0:
            continue
        jitter = rng.normal(0.0, CENTRE_JITTER_M / GSD_M, (2, n_ac))
        heading = labels.heading_deg + rng.normal(0.0, HEADING_JITTER_DEG, n_ac)
        image = torch.from_numpy(np.array(chip.image)).permute(2, 0, 1).float().div(255)
        crops = nose_up_crops(
            image,
            torch.from_numpy(labels.cx + jitter[0]),
            torch.from_numpy(labels.cy + jitter[1]),
            torch.from_numpy(heading),
            gsd_m=GSD_M,
        )
        out["crops"].append(crops.mul(255).round().to(torch.uint8).numpy())
        out["type_index"].append(labels.type_index)
        out["size_m"].append(np.stack([labels.length_px, labels.span_px], 1) * GSD_M)
        out["source_gsd_m"].append(np.full(n_ac, chip.source_gsd_m))
    return {k: np.concatenate(v) for k, v in out.items()}


def cached(path: Path, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays saved at ``path`` (``.npz``), made and saved (write then rename) if absent."""
    if path.exists():
        with np.load(path) as f:
            return dict(f)
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **data)
    tmp.replace(path)
    return data


def crop_set(seed: int, chips: int, workers: int) -> dict[str, np.ndarray]:
    """Crops of every aircraft of ``chips`` chips rendered from ``seed`` (``workers`` processes)."""
    t0 = time.time()
    step = 100
    jobs = [(seed, first, min(step, chips - first)) for first in range(0, chips, step)]
    with Pool(workers) as pool:
        parts = pool.map(render_crops, jobs)
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    log.info(
        "rendered %d crops from %d chips in %.0f s", len(data["crops"]), chips, time.time() - t0
    )
    return data


def real_crops(
    root: Path, base: Path, sites: set[str] | None, exclude: set[str]
) -> dict[str, np.ndarray]:
    """Nose-up crops of the real Airbus aircraft that the dense network of ``base`` finds (its
    cross box overlaps a label box by IoU ≥ 0.5), at the detected centre and heading, with the
    label box's width and height in metres. ``sites``: only these (None: all but ``exclude``)."""
    from dwelltime.detector import load_detector
    from dwelltime.evaluation.dataset import read_rgb
    from dwelltime.evaluation.predict import predict_image
    from dwelltime.footprints import cross_boxes

    detector = load_detector(base, device="cpu")
    detector.model.refiner = None  # the dense network's own detections
    out: dict[str, list] = {k: [] for k in ("crops", "box_m", "heading_deg", "dense_size_m")}
    for item in read_airbus(root):
        if item.site in exclude or (sites is not None and item.site not in sites):
            continue
        image = read_rgb(item.path)
        pred = predict_image(detector, image, GSD_M)
        if not len(pred) or not len(item.boxes):
            continue
        corners = cross_boxes(pred.polygons)
        xyxy = np.concatenate([corners.min(1), corners.max(1)], 1)
        iou = box_iou(torch.from_numpy(xyxy), torch.from_numpy(item.boxes)).numpy()
        label, best = iou.argmax(1), iou.max(1)
        keep = best >= 0.5
        centre = pred.polygons.mean(1)[keep]
        crops = nose_up_crops(
            torch.from_numpy(image).float().div(255),
            torch.from_numpy(centre[:, 0]),
            torch.from_numpy(centre[:, 1]),
            torch.from_numpy(pred.heading_deg[keep]),
            gsd_m=GSD_M,
        )
        box = item.boxes[label[keep]]
        out["crops"].append(crops.mul(255).round().to(torch.uint8).numpy())
        out["box_m"].append((box[:, 2:] - box[:, :2]) * GSD_M)
        out["heading_deg"].append(pred.heading_deg[keep])
        out["dense_size_m"].append(np.stack([pred.length_m[keep], pred.span_m[keep]], 1))
    return {k: np.concatenate(v) for k, v in out.items()}


def batches(data: dict[str, np.ndarray], order: np.ndarray, size: int, flip: np.ndarray | None):
    """(crops float [0, 1], type_index, size_m) tensors in ``order``; ``flip``: mirror left–right
    (a mirrored scene is still a scene: the planform is symmetric, the sun moves)."""
    for start in range(0, len(order), size):
        idx = np.sort(order[start : start + size])
        x = torch.from_numpy(data["crops"][idx]).float().div_(255)
        if flip is not None:
            f = torch.from_numpy(flip[idx])
            x[f] = x[f].flip(-1)
        yield x, torch.from_numpy(data["type_index"][idx]), torch.from_numpy(data["size_m"][idx])


def box_error(log_size: torch.Tensor, heading_deg: torch.Tensor, box_m: torch.Tensor):
    """(N,) |log| ratios, summed over width and height, of the box enclosing the fuselage ×
    wing cross of the refined size at ``heading_deg`` to the label box ``box_m`` (metres)."""
    size = size_from_log(log_size.float())
    rad = torch.deg2rad(heading_deg.float())
    half_w, half_h = cross_half_extents(size[:, 0], size[:, 1], rad.sin(), rad.cos())
    return (torch.log(2 * half_w) - box_m[:, 0].log()).abs() + (
        torch.log(2 * half_h) - box_m[:, 1].log()
    ).abs()


def loss_terms(refiner: TypeRefiner, x, types, size_m, real, args: argparse.Namespace):
    """Total, type cross-entropy, size L1 (synthetic) and box error (real) of one batch;
    ``real``: None or (crops, heading_deg, box_m) appended to the batch."""
    n = len(x)
    if real is not None:
        x = torch.cat([x, real[0]])
    logits, log_size = refiner(x)
    target = log_size_target(size_m[:, 0].float(), size_m[:, 1].float())
    ce = F.cross_entropy(logits[:n].float(), types)
    l1 = F.smooth_l1_loss(log_size[:n].float(), target, beta=0.05)
    box = box_error(log_size[n:], *real[1:]).mean() if real is not None else l1 * 0
    return ce + args.size_weight * (l1 + box), ce, l1, box


@torch.inference_mode()
def validate(refiner: TypeRefiner, data: dict[str, np.ndarray], batch: int) -> dict[str, float]:
    """Type top-1 of the crop alone (by source GSD) and median size errors (metres)."""
    refiner.eval()
    preds, sizes = [], []
    for x, _, _ in batches(data, np.arange(len(data["crops"])), batch, None):
        logits, log_size = refiner(x)
        preds.append(logits.argmax(1).numpy())
        sizes.append(size_from_log(log_size).numpy())
    pred, size = np.concatenate(preds), np.concatenate(sizes)
    err = np.abs(size - data["size_m"])
    gsd, right = data["source_gsd_m"], pred == data["type_index"]
    fine, typable = gsd <= 0.6, gsd <= MAX_TYPING_GSD_M
    return {
        "crops": len(pred),
        "type_top1_le_0.6m": float(right[fine].mean()),
        "type_top1_le_1.5m": float(right[typable].mean()),
        "length_median_abs_err_m_le_0.6m": float(np.median(err[fine, 0])),
        "span_median_abs_err_m_le_0.6m": float(np.median(err[fine, 1])),
        "length_median_abs_err_m": float(np.median(err[:, 0])),
        "span_median_abs_err_m": float(np.median(err[:, 1])),
    }


@torch.inference_mode()
def validate_real(refiner: TypeRefiner, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Median box error (:func:`box_error`) on crops of the real validation sites."""
    refiner.eval()
    _, log_size = refiner(torch.from_numpy(data["crops"]).float().div(255))
    err = box_error(
        log_size, torch.from_numpy(data["heading_deg"]), torch.from_numpy(data["box_m"])
    )
    return {
        "real_val_crops": len(err),
        "real_val_box_err_median": round(float(err.median()), 4),
    }


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = args.base or default_weights()
    model, card = load_model(base)
    work = args.work_dir
    train_set = cached(
        work / f"crops_seed{args.seed}_chips{args.chips}.npz",
        lambda: crop_set(args.seed, args.chips, args.workers),
    )
    val_seed = args.seed + 1_000_003
    val_set = cached(
        work / f"crops_seed{val_seed}_chips{args.val_chips}.npz",
        lambda: crop_set(val_seed, args.val_chips, args.workers),
    )
    log.info(
        "%d training crops, %d validation crops", len(train_set["crops"]), len(val_set["crops"])
    )
    real_set = real_val = None
    if not args.synthetic_only:
        val_sites = set(AIRBUS_VALIDATION_SITES)
        tag = base.stem.rsplit("-", 1)[1]
        real_set = cached(
            work / f"real_train_{tag}.npz", lambda: real_crops(args.airbus, base, None, val_sites)
        )
        real_val = cached(
            work / f"real_val_{tag}.npz", lambda: real_crops(args.airbus, base, val_sites, set())
        )
        dense = box_error(
            log_size_target(*torch.from_numpy(real_val["dense_size_m"]).float().T),
            torch.from_numpy(real_val["heading_deg"]),
            torch.from_numpy(real_val["box_m"]),
        )
        log.info("real validation: the dense network's own box error, median %.4f", dense.median())
        log.info(
            "%d real training crops, %d real validation crops",
            len(real_set["crops"]),
            len(real_val["crops"]),
        )
    refiner = TypeRefiner(RefinerConfig(len(card["classes"])))
    earlier: list[dict] = []
    if args.init is not None:
        init_model, init_card = load_model(args.init)
        refiner.load_state_dict(init_model.refiner.state_dict())
        earlier = init_card["refiner"]["stages"]
    refiner.to(device)
    opt = torch.optim.AdamW(refiner.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    rng = np.random.default_rng(args.seed)
    n = len(train_set["crops"])
    steps = args.epochs * math.ceil(n / args.batch_size)
    step, history, t0 = 0, [], time.time()
    for epoch in range(args.epochs):
        refiner.train()
        running = np.zeros(4)
        order, flip = rng.permutation(n), rng.random(n) < 0.5
        for x, types, size_m in batches(train_set, order, args.batch_size, flip):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            real = None
            if real_set is not None:
                pick = rng.integers(len(real_set["crops"]), size=args.real_per_batch)
                crops = torch.from_numpy(real_set["crops"][pick]).float().div_(255)
                mirror = torch.from_numpy(rng.random(len(pick)) < 0.5)
                crops[mirror] = crops[mirror].flip(-1)  # the box loss is mirror-blind
                real = tuple(
                    t.to(device)
                    for t in (
                        crops,
                        torch.from_numpy(real_set["heading_deg"][pick]),
                        torch.from_numpy(real_set["box_m"][pick]).float(),
                    )
                )
            terms = loss_terms(
                refiner, x.to(device), types.to(device), size_m.to(device), real, args
            )
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
                "loss": round(mean[0], 4),
                "type_ce": round(mean[1], 4),
                "size_l1": round(mean[2], 4),
                "real_box_err": round(mean[3], 4),
                **{k: round(v, 4) for k, v in metrics.items()},
                **({} if real_val is None else validate_real(refiner.cpu(), real_val)),
            }
        )
        log.info("epoch %d: %s", epoch + 1, json.dumps(history[-1]))
    if not args.no_save:
        stage = describe_stage(args, history, time.time() - t0, device)
        save(model, refiner.cpu(), card, base, args.models_dir, [*earlier, stage])


def describe_stage(args, history, wall_s, device) -> dict:
    """The model card's record of this training run: command, hardware, data, results."""
    hardware = (
        torch.cuda.get_device_name(0)
        if device.type == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {args.threads} threads)"
    )
    recipe = ("seed", "chips", "epochs", "batch_size", "lr", "size_weight", "real_per_batch")
    flags = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in recipe]
    flags += ["--synthetic-only"] if args.synthetic_only else []
    flags += [f"--init {args.init.name}"] if args.init else []
    real = (
        ""
        if args.synthetic_only
        else f" + {args.real_per_batch} real crops per batch around the dense network's "
        "detections of the Airbus sample's aircraft (box-supervised; sites "
        f"{','.join(AIRBUS_VALIDATION_SITES)} held out)"
    )
    return {
        "command": "python scripts/train_refiner.py " + " ".join(flags),
        "hardware": hardware,
        "wall_time_s": round(wall_s, 1),
        "data": f"nose-up crops of dwelltime.synth.render_chip aircraft ({args.chips} chips of "
        f"384 px at {GSD_M} m; source GSD 0.3-1.5 m for {P_TYPABLE:.0%} of chips, else 1.5-3 m; "
        f"centre jitter {CENTRE_JITTER_M} m, heading jitter {HEADING_JITTER_DEG} deg)" + real,
        "validation": history[-1],
        "history": history,
    }


def save(model, refiner, card, base: Path, folder: Path, stages: list[dict]) -> Path:
    """The base network with the refiner attached, as new weights with an updated card
    (``stages``: the refiner's training runs, first to last)."""
    model.config = dataclasses.replace(model.config, refiner=True)
    model.refiner = refiner
    new_card = {k: v for k, v in card.items() if k not in ("format", "model", "sha256")}
    new_card["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new_card["parameters"] = parameter_count(model)
    new_card["refiner"] = {
        "config": refiner.config.to_dict(),
        "base_weights": base.name,
        "stages": stages,
    }
    path = save_weights(model, folder, arch=card["arch"], data=_data_tag(base), card=new_card)
    log.info("wrote %s", path)
    return path


def _data_tag(weights: Path) -> str:
    """``synth-airbus`` of ``ocnet-mnv3l_synth-airbus-54c50e81.safetensors``."""
    return weights.stem.split("_", 1)[1].rsplit("-", 1)[0]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(parse_args())
