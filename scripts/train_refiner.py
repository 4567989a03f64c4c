"""Train the type refiner on nose-up crops of rendered aircraft and ship it with the detector.

The detector's dense network is kept as it is (loaded from ``--base``, default the shipped
weights); only the :class:`dwelltime.detector.refine.TypeRefiner` is trained, on crops cut by the
same :func:`~dwelltime.detector.refine.nose_up_crops` the detector uses, around true centres
and headings jittered by about the detector's own errors: type cross-entropy, plus length and
span (L1 of their logs) as a second task that makes the network look at the whole planform.
Crops are rendered once into ``--work-dir`` (reused when the same ``--seed``/``--chips`` are
asked again). The result is written to ``--models-dir`` as new weights (dense network +
refiner) with a model card that keeps the base card and adds the refiner's recipe and
validation. Reproducible from ``--seed``; CPU or CUDA.

    python scripts/train_refiner.py                 # the shipped refiner: 2-core CPU, ~28 min
    python scripts/train_refiner.py --chips 300 --val-chips 60 --epochs 1 --no-save  # check
    python scripts/train_refiner.py --continue --seed 8 --lr 0.001 --epochs 4   # fine-tune

``--continue`` starts from the refiner the base weights carry instead of a new one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dwelltime.detector.datasets import synthetic_labels
from dwelltime.detector.model import parameter_count
from dwelltime.detector.refine import (
    CROP_PX,
    RefinerConfig,
    TypeRefiner,
    log_size_target,
    nose_up_crops,
    size_from_log,
)
from dwelltime.detector.types import MAX_TYPING_GSD_M
from dwelltime.detector.weights import (
    data_tag,
    default_weights,
    hardware_name,
    load_model,
    models_dir,
    save_weights,
    write_card_markdown,
)
from dwelltime.io import atomic_write

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
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--chips", type=int, default=24000, help="training chips (~2.4 aircraft each)")
    p.add_argument("--val-chips", type=int, default=800, help="validation chips (other seed)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--size-weight", type=float, default=5.0, help="weight of the size L1 loss")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=2, help="rendering processes")
    p.add_argument("--base", type=Path, default=None, help="detector weights (default: shipped)")
    p.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="fine-tune the refiner the base weights carry instead of training a new one",
    )
    p.add_argument("--work-dir", type=Path, default=REPO / "cache" / "refiner")
    p.add_argument("--models-dir", type=Path, default=models_dir())
    p.add_argument("--no-save", action="store_true", help="do not write weights")
    return p.parse_args(argv)


def render_crops(job: tuple[int, int, int, list[str]]) -> dict[str, np.ndarray]:
    """Nose-up uint8 crops of every visible aircraft of ``n`` chips rendered from ``seed``
    (chips ``first`` to ``first + n - 1``), with type indices into ``classes``."""
    from dwelltime.synth import render_chip

    seed, first, n, classes = job
    out: dict[str, list] = {
        "crops": [np.zeros((0, 3, CROP_PX, CROP_PX), np.uint8)],
        "type_index": [np.zeros(0, np.int64)],
        "size_m": [np.zeros((0, 2))],
        "source_gsd_m": [np.zeros(0)],
    }
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
    with atomic_write(path) as tmp:
        np.savez(tmp, **data)
    return data


def crop_set(seed: int, chips: int, workers: int, classes: list[str]) -> dict[str, np.ndarray]:
    """Crops of every aircraft of ``chips`` chips rendered from ``seed`` (``workers`` processes)."""
    t0 = time.time()
    step = 100
    jobs = [(seed, i, min(step, chips - i), classes) for i in range(0, chips, step)]
    with Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        parts = pool.map(render_crops, jobs)
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    log.info(
        "rendered %d crops from %d chips in %.0f s", len(data["crops"]), chips, time.time() - t0
    )
    return data


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


def loss_terms(refiner: TypeRefiner, x, types, size_m, size_weight: float):
    """Total, type cross-entropy and size L1 (of log sizes) of one batch."""
    logits, log_size = refiner(x)
    target = log_size_target(size_m[:, 0].float(), size_m[:, 1].float())
    ce = F.cross_entropy(logits.float(), types)
    l1 = F.smooth_l1_loss(log_size.float(), target, beta=0.05)
    return ce + size_weight * l1, ce, l1


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


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = args.base or default_weights()
    model, card = load_model(base)
    work = args.work_dir
    train_set = cached(
        work / f"crops_seed{args.seed}_chips{args.chips}.npz",
        lambda: crop_set(args.seed, args.chips, args.workers, card["classes"]),
    )
    val_seed = args.seed + 1_000_003
    val_set = cached(
        work / f"crops_seed{val_seed}_chips{args.val_chips}.npz",
        lambda: crop_set(val_seed, args.val_chips, args.workers, card["classes"]),
    )
    log.info(
        "%d training crops, %d validation crops", len(train_set["crops"]), len(val_set["crops"])
    )
    if args.continue_ and model.refiner is None:
        raise SystemExit(f"--continue: {base.name} carries no refiner")
    refiner = model.refiner if args.continue_ else TypeRefiner(RefinerConfig(len(card["classes"])))
    refiner = refiner.to(device)
    opt = torch.optim.AdamW(refiner.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    rng = np.random.default_rng(args.seed)
    n = len(train_set["crops"])
    steps = args.epochs * math.ceil(n / args.batch_size)
    step, history, t0 = 0, [], time.time()
    for epoch in range(args.epochs):
        refiner.train()
        running = np.zeros(3)
        order, flip = rng.permutation(n), rng.random(n) < 0.5
        for x, types, size_m in batches(train_set, order, args.batch_size, flip):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            terms = loss_terms(
                refiner, x.to(device), types.to(device), size_m.to(device), args.size_weight
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
                **{k: round(v, 4) for k, v in metrics.items()},
            }
        )
        log.info("epoch %d: %s", epoch + 1, json.dumps(history[-1]))
    if not args.no_save:
        recipe = describe_run(args, history, time.time() - t0, device)
        if args.continue_:
            earlier = card["refiner"]
            recipe["continues"] = {k: earlier[k] for k in ("command", "hardware", "wall_time_s")}
        save(model, refiner.cpu(), card, base, args.models_dir, recipe)


def describe_run(args, history, wall_s, device) -> dict:
    """The model card's record of this training run: command, hardware, data, results."""
    hardware = hardware_name(device, args.threads)
    recipe = ("seed", "chips", "epochs", "batch_size", "lr", "size_weight")
    flags = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in recipe]
    flags += ["--continue"] if args.continue_ else []
    return {
        "command": "python scripts/train_refiner.py " + " ".join(flags),
        "hardware": hardware,
        "wall_time_s": round(wall_s, 1),
        "data": f"nose-up crops of dwelltime.synth.render_chip aircraft ({args.chips} chips of "
        f"384 px at {GSD_M} m; source GSD 0.3-1.5 m for {P_TYPABLE:.0%} of chips, else 1.5-3 m; "
        f"centre jitter {CENTRE_JITTER_M} m, heading jitter {HEADING_JITTER_DEG} deg)",
        "validation": history[-1],
        "history": history,
    }


def save(model, refiner, card, base: Path, folder: Path, recipe: dict) -> Path:
    """The base network with the refiner attached, as new weights with an updated card."""
    model.config = dataclasses.replace(model.config, refiner=True)
    model.refiner = refiner
    new_card = {k: v for k, v in card.items() if k not in ("format", "model", "sha256")}
    new_card["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new_card["parameters"] = parameter_count(model)
    new_card["refiner"] = {
        "config": refiner.config.to_dict(),
        "base_weights": base.name,
        **recipe,
    }
    path = save_weights(model, folder, arch=card["arch"], data=data_tag(base), card=new_card)
    write_card_markdown(path)
    log.info("wrote %s", path)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(parse_args())
