"""Feeding the model: windows read, resampled and decoded in parallel worker processes.

A :class:`torch.utils.data.DataLoader` over :class:`SceneTiles` hands the main process one
:class:`ScenePayload` per scene (its coverage, its tiles' georeferencing, one uint8 image
tensor and the valid masks), so reading the next scenes overlaps with inference on this one.
A reader worker writes a scene's pixels into a slot of a :class:`TileRing`, shared memory
that the job's process made before the workers started and, on CUDA, registered as pinned
memory: nothing is copied on the way to the device but the upload itself, and the slot is
reused. A scene too large for a slot travels in a shared buffer of its own (pinned by the
DataLoader's pinning thread on CUDA). Masks travel as bits in shared memory, and not at all
for tiles that are valid throughout (most of them). Everything else is small and goes
through the pipe.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import geopandas as gpd
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from dwelltime.airports import Airport
from dwelltime.regrid import capped_cache
from dwelltime.scenes import Scene, as_scene_error
from dwelltime.tiling import Tile, TileSpec, apron_windows, iter_tiles, scene_coverage

log = logging.getLogger(__name__)

#: Scenes each reader worker may read ahead of the job (the DataLoader's prefetch factor).
READ_AHEAD = 2
#: Pixels of one :class:`TileRing` slot: 64 tiles of 1024² (201 MB).
RING_SLOT_PIXELS = 64 * 1024 * 1024


@dataclass
class ScenePayload:
    """One scene read by a worker. ``error`` is set (and the rest empty) when reading failed.

    ``tiles`` keep their georeferencing but an empty ``image`` and ``valid``: the pixels are
    in ``images``, a (T, 3, H, W) uint8 tensor, or, when ``slot`` is set, in that slot of the
    job's :class:`TileRing` (``images`` then empty until :meth:`TileRing.attach`); the masks
    of the tiles that have invalid pixels are in ``masks`` (one row of
    :func:`numpy.packbits` per such tile, in tile order; ``partial`` (T,) says which tiles).
    :meth:`full_tiles` puts the masks back.
    """

    scene: Scene
    coverage: gpd.GeoDataFrame | None
    tiles: list[Tile]
    images: torch.Tensor
    partial: torch.Tensor
    masks: torch.Tensor
    error: str | None = None
    slot: int | None = None

    def full_tiles(self) -> list[Tile]:
        """The tiles with their valid masks (a read-only all-True view where nothing is
        masked); images stay in ``images``."""
        shape = tuple(self.images.shape[2:])
        everywhere = np.broadcast_to(np.True_, shape)
        partial = self.partial.numpy()
        rows = np.cumsum(partial) - 1
        out = []
        for i, t in enumerate(self.tiles):
            valid = everywhere
            if partial[i]:
                bits = np.unpackbits(self.masks[rows[i]].numpy(), count=shape[0] * shape[1])
                valid = bits.view(bool).reshape(shape)
            out.append(dataclasses.replace(t, valid=valid))
        return out

    def without_pixels(self) -> ScenePayload:
        """This payload with an empty ``images`` (same tile size) but its masks: what the
        post-processing needs, light enough to send to another process."""
        empty = torch.empty((0, *self.images.shape[1:]), dtype=torch.uint8)  # not a view
        return dataclasses.replace(self, images=empty)

    def pin_memory(self) -> ScenePayload:
        """Called by the DataLoader (``pin_memory=True``) in its pinning thread; pixels in a
        ring slot are pinned already."""
        if self.slot is None:
            self.images = self.images.pin_memory()
        return self


class TileRing:
    """Pixel slots that reader workers fill and the job's process reads, reused scene after
    scene: ``slots`` × (:attr:`tiles`, 3, ``tile_px``, ``tile_px``) uint8 in shared memory,
    made before the DataLoader forks its workers (they inherit it), and a queue of the free
    slots. A worker takes a free slot for a scene whose tiles fit (:meth:`take`); the job's
    process reads the scene there (:meth:`attach`) and gives the slot back once the tiles are
    on the device (:meth:`release`). On CUDA :meth:`pin` registers the slots as pinned memory
    after the workers forked (CUDA may keep memory pinned before a fork from the children),
    so uploads read them directly. With at least ``READ_AHEAD × workers + 2`` slots a worker
    never waits for one that only a later scene could free.

    On an H200 box with 14 workers, scenes of 49 tiles of 1024² reached the GPU at 137 scenes
    a second through the ring, against 13 through fresh shared buffers pinned by the
    DataLoader's thread (page faults and a 154 MB copy per scene there;
    ``scripts/bench_transfer.py``)."""

    def __init__(self, slots: int, tile_px: int) -> None:
        self.tiles = max(1, RING_SLOT_PIXELS // tile_px**2)
        self.pixels = shared_uint8((slots, self.tiles, 3, tile_px, tile_px))
        self._free = multiprocessing.get_context("fork").Queue()
        for i in range(slots):
            self._free.put(i)
        self._owner = os.getpid()
        self._pinned = False

    def take(self, n: int) -> int | None:
        """In a worker: a free slot for ``n`` tiles, waiting for one; None when they do not
        fit (or there are none). Exits when the job's process is gone."""
        if not 0 < n <= self.tiles:
            return None
        while True:
            try:
                return self._free.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != self._owner:
                    raise SystemExit(1) from None

    def attach(self, payload: ScenePayload) -> ScenePayload:
        """The payload with its pixels, from its slot when it has one."""
        if payload.slot is None:
            return payload
        return dataclasses.replace(payload, images=self.pixels[payload.slot, : len(payload.tiles)])

    def release(self, slot: int | None) -> None:
        """Give a slot back (its tiles are on the device, or were inferred); None: none."""
        if slot is not None:
            self._free.put(slot)

    def pin(self) -> None:
        """Register the slots with CUDA as pinned memory; on failure (logged) uploads still
        work, without overlapping."""
        cudart = torch.cuda.cudart()
        err = cudart.cudaHostRegister(self.pixels.data_ptr(), self.pixels.numel(), 0)
        self._pinned = err == cudart.cudaError.success
        if not self._pinned:
            log.warning("could not pin the tile ring (%s): uploads will not overlap", err)

    def close(self) -> None:
        """Unregister the slots from CUDA (before the memory is freed)."""
        if self._pinned:
            torch.cuda.cudart().cudaHostUnregister(self.pixels.data_ptr())
            self._pinned = False


class SceneTiles(IterableDataset):
    """The scenes of one or more airports, in order: ``sites`` holds (scenes, airport,
    aprons) per airport. Split between DataLoader workers (worker k reads k, k+n, …), and
    handed over in order, so one loader serves a whole batch job: its workers start once and
    read on from one airport into the next."""

    def __init__(
        self,
        sites: Sequence[tuple[Sequence[Scene], Airport, gpd.GeoDataFrame]],
        spec: TileSpec,
        ring: TileRing | None = None,
    ) -> None:
        self.items = [(scene, site, aprons) for scenes, site, aprons in sites for scene in scenes]
        self.spec, self.ring = spec, ring

    def __iter__(self) -> Iterator[ScenePayload]:
        info = get_worker_info()
        mine = self.items if info is None else self.items[info.id :: info.num_workers]
        with capped_cache():  # each reader process its own GDAL cache: bounded
            for scene, site, aprons in mine:
                yield read_payload(scene, site, aprons, self.spec, self.ring)


def read_payload(
    scene: Scene,
    site: Airport,
    aprons: gpd.GeoDataFrame,
    spec: TileSpec,
    ring: TileRing | None = None,
) -> ScenePayload:
    """Coverage and tiles of one scene, the pixels in a slot of ``ring`` when the windows read
    (:func:`~dwelltime.tiling.apron_windows`) fit one, else in a buffer for as many; each
    tile's pixels are copied there as it is read, so a scene is never held twice. A failure
    becomes the payload's ``error``."""
    size, slot = spec.size_px, None
    none = torch.empty((0, 3, size, size), dtype=torch.uint8)
    empty = (np.empty((3, 0, 0), np.uint8), np.empty((0, 0), bool))
    tiles: list[Tile] = []
    bits: list[tuple[int, np.ndarray]] = []  # (tile, its packed valid mask) of partial tiles
    try:
        coverage = scene_coverage(scene, site, aprons)
        most = len(apron_windows(scene, site, aprons, spec))  # tiles iter_tiles may yield
        slot = ring.take(most) if ring is not None else None
        images = (
            ring.pixels[slot]
            if ring is not None and slot is not None
            else _buffer((most, *none.shape[1:]))
        )
        for i, t in enumerate(iter_tiles(scene, site, aprons, spec)):
            images[i] = torch.from_numpy(t.image)
            if not t.valid.all():
                bits.append((i, np.packbits(t.valid)))
            tiles.append(dataclasses.replace(t, image=empty[0], valid=empty[1]))
    except Exception as exc:
        tiles, bits, coverage, error = [], [], None, as_scene_error(scene, exc).reason
    else:
        error = None
    if ring is not None and not tiles:  # a slot holds tiles only
        ring.release(slot)
        slot = None
    partial = torch.zeros(len(tiles), dtype=torch.bool)
    masks = _buffer((len(bits), -(-size * size // 8)))
    for row, (i, packed) in enumerate(bits):
        partial[i] = True
        masks[row] = torch.from_numpy(packed)
    # in the ring, the pixels stay there: only the slot's number travels
    images = images[: len(tiles)] if tiles and slot is None else none
    return ScenePayload(scene, coverage, tiles, images, partial, masks, error, slot)


def _ring(slots: int, tile_px: int) -> TileRing | None:
    """A :class:`TileRing`, or None (logged) when shared memory cannot hold it (a small
    ``/dev/shm``, as in containers): then each scene travels in buffers of its own."""
    try:
        return TileRing(slots, tile_px)
    except RuntimeError as exc:
        log.warning(
            "no tile ring of %d slots (%s): scenes travel in buffers of their own", slots, exc
        )
        return None


def _buffer(shape: tuple[int, ...]) -> torch.Tensor:
    """A uint8 tensor, made in shared memory when made in a DataLoader worker (then handing
    it to the main process copies nothing)."""
    return (
        shared_uint8(shape)
        if get_worker_info() is not None
        else torch.empty(shape, dtype=torch.uint8)
    )


def shared_uint8(shape: tuple[int, ...]) -> torch.Tensor:
    """A uint8 tensor made in shared memory directly, as the DataLoader's own collation does
    (``share_memory_()`` would copy a fresh buffer into a second one: a quarter of a reader's
    time on 1024² tiles)."""
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


def scene_loader(dataset: IterableDataset, *, workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader yielding one item of ``dataset`` (a :class:`SceneTiles`: one
    :class:`ScenePayload`) at a time, no collation, each worker :data:`READ_AHEAD` items
    ahead; its workers are forked (a :class:`TileRing` reaches them so)."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=READ_AHEAD if workers else None,
        multiprocessing_context="fork" if workers else None,
    )


def reader_count(workers: int, scenes: int) -> int:
    """The reader processes to start for ``workers`` asked: at most one per CPU this process
    may run on (more only compete for the cores, each with its share of the ring's shared
    memory; a warning says so) and one per scene to read."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if workers > cpus:
        log.warning(
            "workers: %d reader processes asked for, on %d CPUs: at most %d started",
            workers,
            cpus,
            cpus,
        )
    return min(workers, cpus, scenes)


class JobFeed:
    """A batch job's scenes to do, read ahead from the moment it is made (so the readers read
    while the network warms up) by one DataLoader for the whole job: ``sites`` holds
    (scenes, airport, aprons) per airport, in job order. With ``workers``, pixels travel
    through a :class:`TileRing` (when shared memory holds one), pinned when ``cuda``. A
    context manager: at its end the readers stop and the ring is unpinned. ``workers`` is
    capped by :func:`reader_count`."""

    def __init__(
        self,
        sites: Sequence[tuple[Sequence[Scene], Airport, gpd.GeoDataFrame]],
        spec: TileSpec,
        *,
        workers: int,
        cuda: bool,
    ) -> None:
        dataset = SceneTiles(sites, spec)
        workers = reader_count(workers, len(dataset.items))
        self.ring = _ring(READ_AHEAD * workers + 2, spec.size_px) if workers else None
        dataset.ring = self.ring
        loader = scene_loader(dataset, workers=workers, pin_memory=cuda)
        self._payloads = iter(loader)  # the workers fork, and start reading, now
        if self.ring is not None and cuda:
            self.ring.pin()

    def next_scenes(self, n: int) -> Iterator[ScenePayload]:
        """The next ``n`` payloads with their pixels. A payload's ring slot is given back when
        the next one is asked for: its tiles must be on the device, or inferred, by then."""
        for payload in islice(self._payloads, n):
            if self.ring is None:
                yield payload
                continue
            yield self.ring.attach(payload)
            self.ring.release(payload.slot)

    def __enter__(self) -> JobFeed:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            next(self._payloads, None)  # at its end the loader stops its readers
        self._payloads = iter(())  # cut short: dropping the loader's iterator stops them
        if self.ring is not None:
            self.ring.close()
