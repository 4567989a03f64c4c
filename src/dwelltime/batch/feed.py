"""Feeding the model: windows read, resampled and decoded in parallel worker processes.

A :class:`torch.utils.data.DataLoader` over :class:`SceneTiles` hands the main process one
:class:`ScenePayload` per scene (its coverage, its tiles' georeferencing, one uint8 image
tensor, pinned when the detector runs on CUDA, and the valid masks), so reading the next
scenes overlaps with inference on this one. Pixels and masks travel as tensors that a reader
worker fills in shared memory, so torch hands them over without copying; masks travel as
bits, and not at all for tiles that are valid throughout (most of them). Everything else is
small and goes through the pipe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from dwelltime.airports import Airport
from dwelltime.scenes import Scene
from dwelltime.tiling import Tile, TileSpec, iter_tiles, scene_coverage


@dataclass
class ScenePayload:
    """One scene read by a worker. ``error`` is set (and the rest empty) when reading failed.

    ``tiles`` keep their georeferencing but an empty ``image`` and ``valid``: the pixels are
    in ``images``, a (T, 3, H, W) uint8 tensor, so the DataLoader can pin one buffer per scene;
    the masks of the tiles that have invalid pixels are in ``masks`` (one row of
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
        """Called by the DataLoader (``pin_memory=True``) in its pinning thread."""
        self.images = self.images.pin_memory()
        return self


class SceneTiles(IterableDataset):
    """The scenes of one or more airports, in order: ``sites`` holds (scenes, airport,
    aprons) per airport. Split between DataLoader workers (worker k reads k, k+n, …), and
    handed over in order, so one loader serves a whole batch job: its workers start once and
    read on from one airport into the next."""

    def __init__(
        self,
        sites: Sequence[tuple[Sequence[Scene], Airport, gpd.GeoDataFrame]],
        spec: TileSpec,
    ) -> None:
        self.items = [(scene, site, aprons) for scenes, site, aprons in sites for scene in scenes]
        self.spec = spec

    def __iter__(self) -> Iterator[ScenePayload]:
        info = get_worker_info()
        mine = self.items if info is None else self.items[info.id :: info.num_workers]
        for scene, site, aprons in mine:
            yield read_payload(scene, site, aprons, self.spec)


def read_payload(
    scene: Scene, site: Airport, aprons: gpd.GeoDataFrame, spec: TileSpec
) -> ScenePayload:
    """Coverage and tiles of one scene; a failure becomes the payload's ``error``."""
    from dwelltime.pipeline import as_scene_error

    try:
        coverage = scene_coverage(scene, site, aprons)
        tiles = list(iter_tiles(scene, site, aprons, spec))
    except Exception as exc:
        tiles, coverage, error = [], None, as_scene_error(scene, exc).reason
    else:
        error = None
    n, size = len(tiles), spec.size_px
    partial = torch.tensor([not t.valid.all() for t in tiles], dtype=torch.bool)
    images = _buffer((n, 3, size, size))
    masks = _buffer((int(partial.sum()), -(-size * size // 8)))
    for i, t in enumerate(tiles):
        images[i] = torch.from_numpy(t.image)
    for row, i in enumerate(partial.nonzero()[:, 0].tolist()):
        masks[row] = torch.from_numpy(np.packbits(tiles[i].valid))
    empty = (np.empty((3, 0, 0), np.uint8), np.empty((0, 0), bool))
    bare = [dataclasses.replace(t, image=empty[0], valid=empty[1]) for t in tiles]
    return ScenePayload(scene, coverage, bare, images, partial, masks, error)


def _buffer(shape: tuple[int, ...]) -> torch.Tensor:
    """A uint8 tensor, made in shared memory when made in a DataLoader worker (then handing
    it to the main process copies nothing). Made there directly, as the DataLoader's own
    collation does: ``share_memory_()`` would copy a fresh buffer into a second one, a quarter
    of a reader's time on 1024² tiles."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=torch.uint8)
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


def scene_loader(dataset: SceneTiles, *, workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader yielding one :class:`ScenePayload` at a time (no collation)."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers else None,
    )
