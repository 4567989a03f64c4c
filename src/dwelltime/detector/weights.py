"""Detector weights as data: a ``.safetensors`` file and a JSON model card beside it.

The file is named ``<arch>_<data>-<sha8>.safetensors``; the card (same stem, ``.json``) holds
the classes, bands, model GSD, normalisation, network config, training recipe, metrics,
licence and the file's sha256, which is checked on every load. Never pickle.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dwelltime.detector.model import ModelConfig, OrientedCenterNet
from dwelltime.errors import WeightsError
from dwelltime.io import sha256_file

#: Version of the model-card layout this code reads and writes.
CARD_FORMAT = "dwelltime-detector/1"


def models_dir() -> Path:
    """The folder of the shipped weights: ``dwelltime/models`` in an installed package (the
    wheel carries the repository's ``models/`` there), else the repository's top-level
    ``models/`` (a checkout, an editable install)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "models"
    return installed if installed.is_dir() else package.parents[1] / "models"


def add_models_dir_option(parser: argparse.ArgumentParser) -> None:
    """A training script's ``--models-dir``: where its weights and card go, by default
    :func:`models_dir`, whose newest card is the detector dwelltime runs."""
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=models_dir(),
        help="where the weights and card go (default: the shipped models/, whose newest card "
        "is the detector dwelltime runs)",
    )


def data_tag(weights: Path) -> str:
    """The ``<data>`` part of a weights file named ``<arch>_<data>-<sha8>.safetensors``
    (``synth-airbus`` of ``ocnet-mnv3l_synth-airbus-aefdcb04.safetensors``)."""
    return Path(weights).stem.split("_", 1)[1].rsplit("-", 1)[0]


def hardware_name(device: torch.device, threads: int) -> str:
    """What a training run ran on, for the model card: the GPU's name, else the CPU and
    ``threads``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {threads} threads)"


def card_path(weights: Path) -> Path:
    """The model card of a weights file: same name, ``.json``."""
    return weights.with_suffix(".json")


def default_weights() -> Path:
    """The shipped weights: the newest card in :func:`models_dir` (by its ``created`` field)."""
    folder = models_dir()
    cards = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not cards:
        raise WeightsError(
            f"no detector weights found: looked for a model card *.json in {folder}; "
            "pass --weights PATH (weights=Path) or reinstall dwelltime"
        )
    newest = max(cards, key=lambda p: (_read_json(p).get("created", ""), p.name))
    return newest.with_suffix(".safetensors")


def default_weights_note(weights: Path) -> str | None:
    """What a training script says of the ``weights`` it just wrote when they are now
    :func:`default_weights`, the detector every command runs unless given others; None when
    they are not (written elsewhere)."""
    try:
        if default_weights().resolve() != Path(weights).resolve():
            return None
    except WeightsError:
        return None
    return (
        f"{Path(weights).name} is now the detector dwelltime runs by default (the newest card "
        f"in {Path(weights).parent}); move its .safetensors, .json and .md out of there to run "
        "the earlier weights again"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(
            f"{path}: unreadable model card ({exc}); restore it from the repository"
        ) from exc


def read_card(weights: Path) -> dict[str, Any]:
    """The model card of ``weights`` after checking the file exists and matches its sha256."""
    weights = Path(weights)
    card_file = card_path(weights)
    if not weights.is_file():
        raise WeightsError(f"{weights}: detector weights file not found; check the path")
    if not card_file.is_file():
        raise WeightsError(
            f"{weights}: model card {card_file.name} missing beside it; the card holds the "
            "classes and sha256 the weights need"
        )
    card = _read_json(card_file)
    if card.get("format") != CARD_FORMAT:
        raise WeightsError(
            f"{card_file}: card format {card.get('format')!r}, this dwelltime reads {CARD_FORMAT!r}"
        )
    actual = sha256_file(weights)
    if actual != card.get("sha256"):
        raise WeightsError(
            f"{weights}: sha256 {actual[:12]}… does not match the model card "
            f"({str(card.get('sha256'))[:12]}…): the file is corrupt or was replaced; "
            "download or copy it again"
        )
    return card


def load_model(weights: Path) -> tuple[OrientedCenterNet, dict[str, Any]]:
    """Build the network described by the card and load the checked weights into it."""
    card = read_card(weights)
    try:
        state = load_file(str(weights))
    except SafetensorError as exc:  # its card's sha256 is that of a broken file
        raise WeightsError(
            f"{weights}: not a readable .safetensors file ({exc}); copy the weights again "
            "with the card that came with them"
        ) from exc
    try:
        model = OrientedCenterNet(ModelConfig(**card["model"]))
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"{weights}: weights do not fit the network this dwelltime builds ({exc}); "
            "use weights made by the same dwelltime version"
        ) from exc
    return model, card


def save_weights(
    model: OrientedCenterNet, folder: Path, *, arch: str, data: str, card: dict[str, Any]
) -> Path:
    """Write ``<arch>_<data>-<sha8>.safetensors`` and its card into ``folder``; return the path.

    ``card``: everything but ``format``, ``model``, ``sha256`` and ``weights_file``, which are
    filled in here.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{arch}_{data}.tmp.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp), metadata={"format": CARD_FORMAT})
    sha = sha256_file(tmp)
    path = folder / f"{arch}_{data}-{sha[:8]}.safetensors"
    tmp.replace(path)
    full = {
        "format": CARD_FORMAT,
        **card,
        "arch": arch,
        "model": model.config.to_dict(),
        "weights_file": path.name,
        "sha256": sha,
    }
    _write_json(card_path(path), full)
    return path


def write_card(weights: Path, card: dict[str, Any]) -> None:
    """Replace the model card of ``weights`` (``card`` as :func:`read_card` gives it, changed):
    the JSON, then the markdown made from it."""
    _write_json(card_path(weights), card)
    write_card_markdown(weights)


def _write_json(path: Path, card: dict[str, Any]) -> None:
    """A model card's JSON, indented, non-ASCII text as it is (Pléiades, ², ×)."""
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def _refiner_phrase(decode: dict[str, Any]) -> str:
    """What the refiner does, for the card's first line, from the card's ``decode`` settings."""
    phrase = " with a refiner (MobileNetV3-Small on nose-up crops) for type"
    w = decode.get("verify_weight", 0.0)
    if w > 0:
        floor = decode.get("candidate_threshold")
        phrase += (
            f" and to verify candidates (score = peak^{1 - w:g} × p(aircraft)^{w:g}, peaks "
            f"from {floor:g})"
        )
    return phrase


def write_card_markdown(weights: Path) -> Path:
    """Write the short human-readable model card (``.md``) of ``weights`` from its JSON card:
    what the network is, how it was trained (and what it continues), the refiner, data,
    measured figures against their targets, licence, architecture, speed, limitations.
    Sections the card lacks are left out."""
    card = _read_json(card_path(weights))
    training, refiner = card.get("training", {}), card.get("refiner")
    lines = [
        f"# {Path(weights).name}",
        "",
        f"Oriented aircraft detector (CenterNet-style, MobileNetV3-Large + FPN, stride "
        f"{card['model']['stride']})"
        + (_refiner_phrase(card.get("decode", {})) if refiner else "")
        + f", {card.get('parameters', 0):,} parameters, input RGB uint8 at {card['gsd_m']} "
        f"m/px. Outputs centre, length, span, heading (0-360°) and type over "
        f"{len(card['classes'])} classes (catalog + unknown).",
    ]
    if training:
        lines += ["", f"Trained: {_run(training)}."]
    if "continues" in card:
        earlier = card["continues"]
        lines += [
            "",
            f"That run continues `{earlier['weights']}`, trained by {_run(earlier)} "
            f"({earlier['total_wall_time_s'] / 60:.1f} min of training in all).",
        ]
    if refiner:
        more = f"; continuing {_run(refiner['continues'])}" if "continues" in refiner else ""
        data = f", on {refiner['data']}" if "data" in refiner else ""
        lines += ["", f"Refiner: {_run(refiner)}{data}{more}."]
    if "data" in training:
        lines += ["", f"Data: {training['data']}."]
    if "evaluation" in card:
        lines += ["", "Measured (held out), against the targets:", ""]
        lines += ["| what | measured | target |", "|---|---|---|"]
        lines += [f"| {e['what']} | {e['measured']} | {e['target']} |" for e in card["evaluation"]]
    if "metrics" in card:
        metrics = json.dumps(card["metrics"], indent=2)
        lines += ["", "Held-out metrics of the training script:", "", "```", metrics, "```"]
    for key, title in (("licence", "Licence"), ("architecture_choice", "Architecture")):
        if key in card:
            lines += ["", f"{title}: {card[key]}"]
    if "speed" in card:
        lines += ["", "Speed:", "", "```", json.dumps(card["speed"], indent=2), "```"]
    if "int8" in card:
        lines += ["", f"int8 (CPU): calibrated by {_run(card['int8'])}, on {card['int8']['data']}."]
    if "limitations" in card:
        lines += ["", f"Limitations: {card['limitations']}"]
    lines += ["", f"sha256: `{card['sha256']}`", ""]
    path = Path(weights).with_suffix(".md")
    path.write_text("\n".join(lines))
    return path


def _run(run: dict[str, Any]) -> str:
    """A training run of a card: "`command` on hardware in N min", as far as recorded."""
    text = f"`{run['command']}`"
    if "hardware" in run:
        text += f" on {run['hardware']}"
    if "wall_time_s" in run:
        text += f" in {run['wall_time_s'] / 60:.1f} min"
    return text
