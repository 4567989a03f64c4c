"""Batched inference: tiles in, aircraft footprints in map coordinates out."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from dwelltime.catalog import catalog_dimensions, load_catalog
from dwelltime.detector import int8
from dwelltime.detector.decode import DecodeConfig, TileDetections, decode
from dwelltime.detector.graphs import GraphedCall
from dwelltime.detector.merge import georeference, merge_overlaps, tile_seams
from dwelltime.detector.model import DenseNetwork, OrientedCenterNet, fused_for_inference
from dwelltime.detector.refine import fuse_scores, nose_up_crops
from dwelltime.detector.types import UNKNOWN, assign_types, size_class, size_sigma_m
from dwelltime.detector.weights import card_path, default_weights, load_model, read_card
from dwelltime.errors import SettingsError, WeightsError, error_text
from dwelltime.io import user_path
from dwelltime.precision import resolve_precision
from dwelltime.schema import DETECTION_COLUMNS, empty_frame

if TYPE_CHECKING:
    import geopandas as gpd

    from dwelltime.tiling import Tile

log = logging.getLogger(__name__)

K = TypeVar("K")

#: Extra columns :func:`detect_tiles` adds to DETECTION_COLUMNS.
EXTRA_COLUMNS: tuple[str, ...] = ("size_class", "size_sigma_m", "tile_index", "cut")


def default_classes() -> list[str]:
    """The catalog's ICAO designators in catalog order, then ``unknown``."""
    return [*load_catalog(), UNKNOWN]


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else as torch reads it.

    Raises :class:`~dwelltime.errors.SettingsError` for a device torch does not know, for
    CUDA on a machine where torch sees no CUDA GPU, and for any other device this torch
    cannot put a tensor on (``mps`` off Apple silicon, ``cuda:1`` on a one-GPU machine) or
    that holds no data (``meta``)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise SettingsError(f"device {device!r}: {exc}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"device {device!r}: torch sees no CUDA GPU here; use cpu or auto")
    if resolved.type == "meta":
        raise SettingsError(f"device {device!r} holds no data and computes nothing; use cpu")
    try:
        torch.empty(0, device=resolved)
    except (RuntimeError, AssertionError) as exc:  # Assertion: a backend not built in
        reason = str(exc).strip().splitlines()[0].split(". ")[0]  # torch's first sentence
        raise SettingsError(
            f"device {device!r}: not usable here ({reason}); use cpu or auto"
        ) from exc
    return resolved


#: Most pixels per forward pass on a CPU, by precision. In fp32 and bf16 larger passes are
#: slower per tile, their activations outgrowing the caches: on 2 threads, 9.5 tiles/s of 1024²
#: one at a time against 4.7 four at a time, and 38.6 / 34.4 / 20.8 tiles/s of 512² one, four
#: or eight at a time. In int8 (a quarter of the bytes) 512² tiles went 15 % faster four at a
#: time than one at a time (60-67 against 73-75 ms a tile), 1024² tiles the same one or two.
CPU_PASS_PIXELS: dict[str, int] = {"fp32": 512 * 512, "bf16": 512 * 512, "int8": 1024 * 1024}
#: The refiner looks at a tile batch's crops this many at a time at most; on CUDA each chunk is
#: padded to a power of two (at least 16), so it meets a handful of batch shapes, each run once
#: by :meth:`Detector.warm_up` (cuDNN's benchmark mode times its algorithms per new shape).
REFINER_CHUNK = 256


@dataclasses.dataclass(frozen=True)
class NetworkPass:
    """A batch the network was started on (:meth:`Detector.launch`). ``x``: the (B, 3, H', W')
    tiles as the network saw them ([0, 1], padded to a multiple of 32 pixels), on the
    device; ``size``: the tiles' (H, W) in pixels; ``geometry``, ``type_logits``: the
    network's outputs (the latter None without a dense type head); ``uploaded``, ``done``: on
    CUDA, events recorded after the tiles' copy to the device and after the network (None
    elsewhere)."""

    x: torch.Tensor
    size: tuple[int, int]
    geometry: torch.Tensor
    type_logits: torch.Tensor | None
    uploaded: torch.cuda.Event | None
    done: torch.cuda.Event | None

    def wait_for_upload(self) -> None:
        """Return once the tiles this pass was launched on are no longer needed (on CUDA:
        copied to the device; elsewhere at once): the caller may then overwrite them."""
        if self.uploaded is not None:
            self.uploaded.synchronize()


@dataclasses.dataclass(frozen=True)
class PostProcessor:
    """What turning tile predictions into map rows (:func:`detections_frame`) needs of a
    detector: its model GSD (metres/pixel), type classes and catalog dimensions (length,
    span in metres). Small and picklable, with no network: the batch job post-processes in
    other processes."""

    gsd_m: float
    classes: tuple[str, ...]
    dimensions: dict[str, tuple[float, float]]

    def assign_types(
        self,
        det: TileDetections,
        length_m: np.ndarray,
        span_m: np.ndarray,
        source_gsd_m: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(type, type_prob) from CNN probabilities and the size prior; see
        :func:`dwelltime.detector.types.assign_types`."""
        return assign_types(
            det.type_probs,
            length_m,
            span_m,
            self.classes,
            self.dimensions,
            source_gsd_m=source_gsd_m,
        )


class Detector:
    """A loaded network with what is needed to read its outputs.

    ``gsd_m``: model GSD (metres/pixel) the tiles must have; ``classes``: type classes, the last
    one ``unknown``; ``dimensions``: (length_m, wingspan_m) per class for the size prior.
    ``compiled``: run the network through ``torch.compile`` (fixed shapes: compiled at the
    first batch, then every smaller batch is padded to the largest seen, so a partial last
    batch costs no recompilation) and, on CUDA, replay the refiner from CUDA graphs
    (:mod:`dwelltime.detector.graphs`). Worth it for long GPU jobs (the network about 1.6×
    the tiles per second of 1024² tiles on an H100, after about half a minute of compiling).
    ``precision``: ``bf16`` runs the networks under bf16 autocast (decoding stays fp32),
    ``fp32`` in full precision, ``int8`` the dense network in int8 on a CPU
    (:mod:`dwelltime.detector.int8`; needs ``int8_calibration``, the model card's ``int8``);
    ``auto``: :func:`dwelltime.precision.resolve_precision`. ``source``: the weights file's
    name and sha256 (:func:`load_detector` sets them), for :meth:`describe`.
    """

    def __init__(
        self,
        model: OrientedCenterNet,
        *,
        classes: Sequence[str],
        gsd_m: float = 0.5,
        dimensions: dict[str, tuple[float, float]] | None = None,
        device: str = "auto",
        decode_config: DecodeConfig | None = None,
        compiled: bool = False,
        precision: str = "auto",
        int8_calibration: dict | None = None,
        source: dict[str, str] | None = None,
    ) -> None:
        if len(classes) != model.config.num_classes:
            raise ValueError(
                f"{len(classes)} class names for a network with {model.config.num_classes}"
            )
        decode_config = DecodeConfig() if decode_config is None else decode_config
        if decode_config.verify_weight > 0 and model.refiner is None:
            raise ValueError("verify_weight > 0 needs a network with a refiner")
        self.device = resolve_device(device)
        if self.device.type == "cuda":
            # tiles come in a few fixed shapes: let cuDNN time its algorithms once per shape
            torch.backends.cudnn.benchmark = True
        self.model = fused_for_inference(model).to(self.device, memory_format=torch.channels_last)
        self.classes = list(classes)
        self.gsd_m = gsd_m
        self.dimensions = catalog_dimensions() if dimensions is None else dimensions
        self.decode_config = decode_config
        self.precision = resolve_precision(
            precision, self.device, int8_problem=_int8_problem(compiled, int8_calibration)
        )
        self.network: torch.nn.Module = DenseNetwork(self.model)
        if self.precision == "int8":
            try:
                self.network = int8.shared_int8_network(
                    self.model, int8_calibration, (source or {}).get("sha256")
                )
            except ValueError as exc:
                if precision == "int8":
                    raise
                log.warning("Running the detector in fp32, not int8: %s", exc)
                self.precision = "fp32"
        elif compiled:
            self.network = torch.compile(self.network, dynamic=False)
        self.compiled = compiled
        self.source = dict(source or {})
        self._padded_batch = 0  # compiled: largest batch so far, the size every batch runs at
        self._streams: dict[str, torch.cuda.Stream] = {}  # CUDA: uploads, decoding and refining
        self._graphed_looks: dict[int, GraphedCall] = {}  # compiled, CUDA: refiner, by chunk size

    def __repr__(self) -> str:
        """Weights file, device, precision, model GSD (metres/pixel) and class count, e.g.
        ``<Detector ocnet-….safetensors on cpu, bf16, 0.5 m/px, 26 classes>``."""
        weights = self.source.get("weights", "network not loaded from a file")
        return (
            f"<Detector {weights} on {self.device}, {self.precision}, {self.gsd_m} m/px, "
            f"{len(self.classes)} classes>"
        )

    def describe(self) -> dict[str, object]:
        """What a result needs to say about the detector that made it: weights file and
        sha256 (when loaded from one), device, precision (in int8 also the engine whose
        kernels ran it, as their outputs differ within rounding), model GSD (metres/pixel) and
        the decoding settings (score threshold, verification weight)."""
        return _description(
            self.source, self.device, self.precision, self.gsd_m, self.decode_config
        )

    @property
    def stride(self) -> int:
        """Output stride in pixels."""
        return self.model.config.stride

    def predict(self, images: np.ndarray | torch.Tensor) -> list[TileDetections]:
        """Detect aircraft in a batch of (B, 3, H, W) uint8 RGB tiles at :attr:`gsd_m`
        (a numpy array, or a tensor: pinned CPU tensors are copied without blocking):
        :meth:`collect` of :meth:`launch`."""
        return self.collect(self.launch(images))

    def launch(self, images: np.ndarray | torch.Tensor) -> list[NetworkPass]:
        """Start the network on a batch of (B, 3, H, W) uint8 RGB tiles at :attr:`gsd_m`:
        one pass on CUDA, :data:`CPU_PASS_PIXELS` at a time on a CPU (each run now). On CUDA
        it returns while the tiles are copied to the device and the network runs: ``images``
        must stay as they are until :meth:`NetworkPass.wait_for_upload` (or
        :meth:`collect`). :meth:`collect` gives the detections."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W) uint8, got shape {tuple(images.shape)}")
        if not isinstance(images, torch.Tensor):
            images = torch.from_numpy(np.ascontiguousarray(images))
        h, w = images.shape[2:]
        step = len(images)
        if self.device.type == "cpu":
            step = max(1, CPU_PASS_PIXELS[self.precision] // (h * w))
        return [self._run_network(images[i : i + step]) for i in range(0, len(images), step)]

    def _run_network(self, images: torch.Tensor) -> NetworkPass:
        """One pass of :meth:`launch`: on CUDA queued on the current stream."""
        h, w = images.shape[2:]
        x, uploaded = self._upload(images)
        x = F.pad(x, (0, -w % 32, 0, -h % 32))
        batch = x.shape[0]
        if self.compiled:
            self._padded_batch = max(self._padded_batch, batch)
            x = torch.cat([x, x.new_zeros((self._padded_batch - batch, *x.shape[1:]))])
        x = x.float().div_(255.0).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            geometry, type_logits = self.network(x)
        done = _cuda_event(x.device)
        if type_logits is not None:
            type_logits = type_logits[:batch]
        return NetworkPass(x[:batch], (h, w), geometry[:batch], type_logits, uploaded, done)

    def _upload(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.cuda.Event | None]:
        """``images`` on the device. On CUDA also an event recorded after the copy, which
        runs on a stream of its own (beside the network on the batch before) and which the
        current stream waits for."""
        if self.device.type != "cuda":
            return images.to(self.device), None
        current = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self._stream("upload")):
            x = images.to(self.device, non_blocking=True)
            uploaded = _cuda_event(self.device)
        current.wait_event(uploaded)
        x.record_stream(current)  # not reused by the next upload before the network read it
        return x, uploaded

    def collect(self, passes: Sequence[NetworkPass]) -> list[TileDetections]:
        """The detections of a :meth:`launch`, one per tile: the network's outputs decoded
        and, with a refiner, refined. On CUDA this runs on a stream of its own, so that the
        network can meanwhile run on the next batch, launched before this call."""
        out = []
        for p in passes:
            with self._beside_the_network(p.done):
                dets = decode(
                    p.geometry, p.type_logits, stride=self.stride, config=self.decode_config
                )
                dets = [_inside(d, *p.size) for d in dets]
                out += self._refine(p.x, dets) if self.model.refiner else dets
        return out

    def _beside_the_network(
        self, done: torch.cuda.Event | None
    ) -> contextlib.AbstractContextManager:
        """On CUDA: this detector's side stream, made to wait for ``done`` (a pass's network);
        elsewhere nothing."""
        if done is None:
            return contextlib.nullcontext()
        stream = self._stream("collect")
        stream.wait_event(done)
        return torch.cuda.stream(stream)

    def _stream(self, role: str) -> torch.cuda.Stream:
        """This detector's CUDA stream for ``role`` (upload, collect), made on first use.
        Collecting runs at a higher priority than the network: its short kernels, each
        waited for by this thread, then take the GPU's free units before the next batch's
        long ones."""
        if role not in self._streams:
            priority = -1 if role == "collect" else 0
            self._streams[role] = torch.cuda.Stream(self.device, priority=priority)
        return self._streams[role]

    def _autocast(self, cache: bool = True) -> contextlib.AbstractContextManager:
        """bf16 autocast when :attr:`precision` is bf16, else nothing (fp32; int8 is in the
        network itself). ``cache``: keep the weights' casts for the context's length."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=cache)
        return contextlib.nullcontext()

    def _refine(self, x: torch.Tensor, dets: list[TileDetections]) -> list[TileDetections]:
        """Type probabilities of every detection from the refiner's look at its nose-up crop
        and that crop's mirror image (:meth:`~dwelltime.detector.refine.TypeRefiner.look`),
        and, with ``decode_config.verify_weight`` above 0, scores fused with its aircraft
        probability (detections under the score threshold dropped, the rest by score). ``x``:
        the (B, 3, H, W) [0, 1] tiles the detections were found in. Length and span stay the
        dense head's. The crops go through the refiner :data:`REFINER_CHUNK` at a time."""
        counts = [len(d) for d in dets]
        n = sum(counts)
        if not n:
            return [TileDetections.empty(len(self.classes)) for _ in dets]
        refiner = self.model.refiner
        where = np.concatenate(
            [np.stack([d.cx, d.cy, d.heading_deg, np.full(len(d), i)]) for i, d in enumerate(dets)],
            axis=1,
        )
        cx, cy, heading, tile = torch.from_numpy(where.astype(np.float32)).to(self.device)
        with torch.inference_mode(), self._autocast():
            crops = nose_up_crops(
                x,
                cx,
                cy,
                heading,
                tile=tile.long(),
                gsd_m=self.gsd_m,
                crop_m=refiner.config.crop_m,
                crop_px=refiner.config.crop_px,
            )
            looks = [self._look(crops[i : i + REFINER_CHUNK]) for i in range(0, n, REFINER_CHUNK)]
        probs = torch.cat([t for t, _ in looks]).float().softmax(1).cpu().numpy()
        cfg = self.decode_config
        score = np.concatenate([d.score for d in dets])
        if cfg.verify_weight > 0:
            p_aircraft = torch.cat([a for _, a in looks]).float().sigmoid().cpu().numpy()
            score = fuse_scores(score, p_aircraft, cfg.verify_weight)
        out = []
        for d, (a, b) in zip(dets, pairwise(np.cumsum([0, *counts])), strict=True):
            d = dataclasses.replace(d, type_probs=probs[a:b], score=score[a:b])
            keep = np.flatnonzero(d.score >= cfg.score_threshold)
            out.append(_select(d, keep[np.argsort(-d.score[keep], kind="stable")]))
        return out

    def _look(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The refiner's type logits (N, K) and aircraft logits (N,) of up to
        :data:`REFINER_CHUNK` crops; on CUDA run padded to a power of two (at least 16), and
        when :attr:`compiled` replayed from a CUDA graph per padded size (captured on first
        use: :meth:`warm_up` does it for every size)."""
        n = len(crops)
        look = self.model.refiner.look
        if self.device.type == "cuda":
            padded = max(16, 1 << (n - 1).bit_length())
            crops = torch.cat([crops, crops.new_zeros((padded - n, *crops.shape[1:]))])
            if self.compiled:
                if padded not in self._graphed_looks:
                    context = functools.partial(self._autocast, cache=False)
                    self._graphed_looks[padded] = GraphedCall(look, crops, context)
                look = self._graphed_looks[padded]
        logits, aircraft = look(crops)
        return logits[:n], aircraft[:n]

    def warm_up(self, batch: int, tile_px: int) -> None:
        """Run once, before a job's first scene, what its scenes will run: the network on
        ``batch`` blank tiles of ``tile_px`` pixels (compiling it when :attr:`network` is
        compiled; every smaller batch is then padded to this one) and, on CUDA, the refiner at
        each padded chunk size (capturing its CUDA graphs when compiled). On an H200 these
        first runs took about 10 s (cuDNN timing its algorithms for each new shape, kernels
        loaded on first use), which would otherwise land on the first scenes. An eager
        network on a CPU has nothing to warm: no-op."""
        cuda = self.device.type == "cuda"
        if not cuda and not self.compiled:
            return
        self.predict(np.zeros((batch, 3, tile_px, tile_px), np.uint8))
        if self.model.refiner is None or not cuda:
            return
        side = self.model.refiner.config.crop_px
        with torch.inference_mode(), self._autocast():
            for k in range(4, REFINER_CHUNK.bit_length()):
                self._look(torch.zeros((1 << k, 3, side, side), device=self.device))

    def post_processor(self) -> PostProcessor:
        """What :func:`detections_frame` needs of this detector, without the network."""
        return PostProcessor(self.gsd_m, tuple(self.classes), self.dimensions)


def _cuda_event(device: torch.device) -> torch.cuda.Event | None:
    """On CUDA, an event recorded now on the current stream; elsewhere None."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record()
    return event


def _description(
    source: dict[str, str],
    device: torch.device,
    precision: str,
    gsd_m: float,
    decode_config: DecodeConfig,
) -> dict[str, object]:
    """:meth:`Detector.describe` of these (``gsd_m`` in metres/pixel), also what
    :meth:`DetectorPlan.describe` foresees."""
    return {
        **source,
        "device": str(device),
        "precision": precision,
        **({"int8_kernels": int8.kernels()} if precision == "int8" else {}),
        "gsd_m": gsd_m,
        **dataclasses.asdict(decode_config),
    }


def _int8_problem(compiled: bool, calibration: dict | None) -> str | None:
    """Why the dense network cannot run in int8 here, or None."""
    if compiled:
        return "torch.compile runs the network in bf16 or fp32"
    if not calibration:
        return "the weights carry no int8 calibration (scripts/calibrate_int8.py adds one)"
    return int8.unavailable()


def _inside(det: TileDetections, h: int, w: int) -> TileDetections:
    keep = (det.cx >= 0) & (det.cx < w) & (det.cy >= 0) & (det.cy < h)
    return _select(det, keep)


def _select(det: TileDetections, keep: np.ndarray) -> TileDetections:
    return TileDetections(
        det.cx[keep],
        det.cy[keep],
        det.length_px[keep],
        det.span_px[keep],
        det.heading_deg[keep],
        det.type_probs[keep],
        det.score[keep],
    )


def load_detector(
    weights: Path | None = None,
    *,
    device: str = "auto",
    compiled: bool = False,
    precision: str = "auto",
) -> Detector:
    """The detector stored at ``weights`` (default: the shipped model in ``models/``);
    ``compiled``, ``precision``: see :class:`Detector`.

    Raises :class:`~dwelltime.errors.WeightsError` when the file or card is missing, the sha256
    does not match, the weights do not fit the network or the card lacks or mangles what the
    detector needs (classes, GSD, decoding settings); SettingsError for ``device`` or
    ``precision``.
    """
    path = default_weights() if weights is None else user_path(weights)
    model, card = load_model(path)
    try:
        dims = {k: tuple(v) for k, v in card.get("dimensions", {}).items()} or None
        return Detector(
            model,
            classes=card["classes"],
            gsd_m=float(card["gsd_m"]),
            dimensions=dims,
            device=device,
            decode_config=DecodeConfig(**card.get("decode", {})),
            compiled=compiled,
            precision=precision,
            int8_calibration=card.get("int8"),
            source={"weights": path.name, "sha256": card["sha256"]},
        )
    except SettingsError:
        raise
    except (KeyError, TypeError, ValueError) as exc:  # a card edited by hand, or of another code
        raise WeightsError(
            f"{path}: its model card {card_path(path).name} does not describe these weights "
            f"({error_text(exc)}); restore the card that came with them"
        ) from exc


@dataclasses.dataclass(frozen=True)
class DetectorPlan:
    """The detector :func:`load_detector` would load with these arguments (``weights`` None:
    the shipped model), described before it is loaded: a run whose every scene was committed
    by the same detection settings (``run --out`` started again) reuses them all and never
    builds the network (seconds and hundreds of MB). ``announce``, when given, is called
    with the description once :meth:`describe` has made it (the CLI prints its detector line)."""

    weights: Path | None = None
    device: str = "auto"
    precision: str = "auto"
    compiled: bool = False
    announce: Callable[[dict[str, object]], None] | None = dataclasses.field(
        default=None, compare=False
    )

    def describe(self) -> dict[str, object]:
        """What :meth:`Detector.describe` of the loaded detector will say, from the model card
        (checked against its sha256) and this machine (device, the precision ``auto``
        chooses), without building the network; raises as :func:`load_detector` does. Where
        int8 cannot be built after all, the loaded detector says fp32 (and warns)."""
        path = default_weights() if self.weights is None else user_path(self.weights)
        card = read_card(path)
        device = resolve_device(self.device)
        try:
            problem = _int8_problem(self.compiled, card.get("int8"))
            made = _description(
                {"weights": path.name, "sha256": card["sha256"]},
                device,
                resolve_precision(self.precision, device, int8_problem=problem),
                float(card["gsd_m"]),
                DecodeConfig(**card.get("decode", {})),
            )
        except SettingsError:
            raise
        except (KeyError, TypeError, ValueError):  # a mangled card: the WeightsError naming it
            self.load()
            raise
        if self.announce is not None:
            self.announce(made)
        return made

    def load(self) -> Detector:
        """:func:`load_detector` with these arguments."""
        return load_detector(
            self.weights, device=self.device, compiled=self.compiled, precision=self.precision
        )


def detect_tiles(
    tiles: Iterable[Tile],
    detector: Detector,
    *,
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
    source_gsd_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Detect aircraft in tiles and merge them across overlaps into one row per aircraft.

    Returns DETECTION_COLUMNS plus ``size_class`` (small/medium/large by max(length, span):
    < 30 m, < 50 m, larger), ``size_sigma_m`` (standard deviation of the measured length and
    span, metres, from the source GSD: :func:`~dwelltime.detector.types.size_sigma_m`),
    ``tile_index`` (tile the kept row came from) and ``cut`` (bool: the aircraft may reach
    beyond the pixels seen, so its length and span may be short:
    :func:`~dwelltime.detector.merge.georeference`), in the tiles' CRS. Detections whose centre
    falls on a masked pixel (``tile.valid`` False) are dropped. ``source_gsd_m``: GSD of the
    source imagery (metres); above 1.5 m ``type`` is ``unknown``. ``progress`` is called with
    the number of tiles finished after each batch.
    """
    pairs: list[tuple[Tile, TileDetections]] = []
    it = iter(tiles)
    while batch := list(islice(it, batch_size)):
        found = detector.predict(np.stack([t.image for t in batch]))
        pairs += zip([t.without_image() for t in batch], found, strict=True)  # pixels freed
        if progress is not None:
            progress(len(batch))
    return detections_frame(pairs, detector.post_processor(), source_gsd_m=source_gsd_m)


def predict_scenes(
    scenes: Iterable[tuple[K, torch.Tensor | str]], detector: Detector, *, batch_size: int = 8
) -> Iterator[tuple[K, list[TileDetections] | str]]:
    """Each scene's predictions, in order, for ``(key, tiles)`` items: ``tiles`` (T, 3, H, W)
    uint8, or the text of an error that kept the scene from being read (passed on). The tiles
    go through ``batch_size`` at a time, and the network is launched on each batch before the
    batch before it is collected: on CUDA the GPU runs it while this thread decodes and
    refines that batch, and while the caller goes on with the scene it got (the batch job
    hands it to a finisher). An item's tiles may be reused once the next item is asked for.
    An exception in a scene becomes its error text ("Type: message"); the others go on."""
    order: deque[_SceneInFlight] = deque()
    ahead: tuple[_SceneInFlight, list[NetworkPass] | None] | None = None
    for key, tiles in scenes:
        scene = _SceneInFlight(key, error=tiles if isinstance(tiles, str) else None)
        order.append(scene)
        launched: list[NetworkPass] = []
        for start in range(0, 0 if scene.error else len(tiles), batch_size):
            scene.batches += 1
            passes = None
            if scene.error is None:
                try:
                    passes = detector.launch(tiles[start : start + batch_size])
                    launched += passes
                except Exception as exc:
                    scene.error = error_text(exc)
            if ahead is not None:
                ahead[0].collect(detector, ahead[1])
            ahead = (scene, passes)
        yield from _finished(order)
        for p in launched:  # the scene's tiles are copied while the caller goes on
            p.wait_for_upload()
    if ahead is not None:
        ahead[0].collect(detector, ahead[1])
    yield from _finished(order)


@dataclasses.dataclass
class _SceneInFlight:
    """A scene of :func:`predict_scenes`: its predictions so far or its error text, and its
    batches launched and not yet collected."""

    key: object
    error: str | None = None
    predictions: list[TileDetections] = dataclasses.field(default_factory=list)
    batches: int = 0

    def collect(self, detector: Detector, passes: list[NetworkPass] | None) -> None:
        """Collect one of its batches (None: its launch failed)."""
        self.batches -= 1
        if self.error is None and passes is not None:
            try:
                self.predictions += detector.collect(passes)
            except Exception as exc:
                self.error = error_text(exc)


def _finished(order: deque[_SceneInFlight]) -> Iterator[tuple[object, list | str]]:
    """Take from the front of ``order`` the scenes with no batch left, as (key, result)."""
    while order and not order[0].batches:
        scene = order.popleft()
        yield scene.key, scene.predictions if scene.error is None else scene.error


def detections_frame(
    pairs: Sequence[tuple[Tile, TileDetections]],
    post: PostProcessor,
    source_gsd_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Tile predictions → one row per aircraft in map coordinates, merged across overlaps
    (``post``: the :meth:`~Detector.post_processor` of the detector that made them)."""
    import geopandas as gpd

    seams = np.zeros((len(pairs), 4), dtype=bool)
    scene_of = np.array([tile.scene_id for tile, _ in pairs], dtype=object)
    for scene in set(scene_of):
        mine = np.flatnonzero(scene_of == scene)
        tiles = [pairs[i][0] for i in mine]
        seams[mine] = tile_seams([t.transform for t in tiles], [t.valid.shape for t in tiles])
    parts = [
        _tile_rows(tile, det, post, source_gsd_m, seams[i])
        for i, (tile, det) in enumerate(pairs)
        if len(det)
    ]
    crs_seen = {tile.crs for tile, _ in pairs}
    if len(crs_seen) > 1:
        raise ValueError(f"tiles in several CRS {sorted(crs_seen)}: detect one airport at a time")
    crs = next(iter(crs_seen), None) or None  # "" (pixel frame) -> no CRS
    columns = [*DETECTION_COLUMNS, *EXTRA_COLUMNS]
    rows = [p for p in parts if len(p["score"])]
    if not rows:
        return empty_frame(tuple(columns), crs)
    data = {k: np.concatenate([p[k] for p in rows]) for k in rows[0]}
    frame = gpd.GeoDataFrame(
        {k: v for k, v in data.items() if k != "geometry"}, geometry=data["geometry"], crs=crs
    )
    frame = merge_overlaps(frame).sort_values(
        ["scene_id", "score"], ascending=[True, False], kind="stable"
    )
    n = frame.groupby("scene_id").cumcount() + 1
    frame["detection_id"] = frame["scene_id"].astype(str) + ":" + n.astype(str)
    frame["acquired"] = pd.to_datetime(frame["acquired"], utc=True)
    return frame[columns].reset_index(drop=True)


def _tile_rows(
    tile: Tile,
    det: TileDetections,
    post: PostProcessor,
    source_gsd_m: float | None,
    seams: np.ndarray,
) -> dict[str, np.ndarray]:
    valid = np.asarray(tile.valid, dtype=bool)
    h, w = valid.shape
    cols = np.clip(det.cx.astype(int), 0, w - 1)
    rows = np.clip(det.cy.astype(int), 0, h - 1)
    det = _select(det, valid[rows, cols])
    m = georeference(det, tile.transform, (h, w), post.gsd_m, seams, valid)
    types, probs = post.assign_types(det, m.length_m, m.span_m, source_gsd_m)
    n = len(det)
    return {
        "detection_id": np.full(n, "", dtype=object),
        "scene_id": np.full(n, tile.scene_id, dtype=object),
        "airport": np.full(n, tile.airport, dtype=object),
        "acquired": np.full(n, tile.acquired, dtype=object),
        "x": m.x,
        "y": m.y,
        "heading_deg": m.heading_deg,
        "length_m": m.length_m,
        "wingspan_m": m.span_m,
        "type": types,
        "type_prob": probs,
        "score": det.score.astype(float),
        "size_class": size_class(m.length_m, m.span_m),
        "size_sigma_m": np.full(n, size_sigma_m(source_gsd_m)),
        "tile_index": np.full(n, tile.index),
        "cut": m.cut,
        "edge_margin_px": m.edge_margin_px,
        "geometry": m.footprints,
    }
