"""Feeding the model: windows read, resampled and decoded in parallel worker processes.

A :class:`torch.utils.data.DataLoader` over :class:`SceneTiles` hands the main process one
:class:`ScenePayload` per scene (its coverage, its tiles' georeferencing, one uint8 image
tensor, pinned when the detector runs on CUDA, and one tensor of valid masks), so reading the
next scenes overlaps with inference on this one. Pixels and masks travel as tensors, which
torch passes through shared memory; everything else is small and goes through the pipe.
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
    in ``images``, a (T, 3, H, W) uint8 tensor, so the DataLoader can pin one buffer per scene,
    and the masks in ``valid``, (T, H, W) bool; :meth:`full_tiles` puts the masks back.
    """

    scene: Scene
    coverage: gpd.GeoDataFrame | None
    tiles: list[Tile]
    images: torch.Tensor
    valid: torch.Tensor
    error: str | None = None

    def full_tiles(self) -> list[Tile]:
        """The tiles with their valid masks (views of ``valid``; images stay in ``images``)."""
        masks = self.valid.numpy()
        return [dataclasses.replace(t, valid=masks[i]) for i, t in enumerate(self.tiles)]

    def pin_memory(self) -> ScenePayload:
        """Called by the DataLoader (``pin_memory=True``) in its pinning thread."""
        self.images = self.images.pin_memory()
        return self


class SceneTiles(IterableDataset):
    """Scenes of one airport, split between DataLoader workers (worker k reads k, k+n, …)."""

    def __init__(
        self, scenes: Sequence[Scene], site: Airport, aprons: gpd.GeoDataFrame, spec: TileSpec
    ) -> None:
        self.scenes, self.site, self.aprons, self.spec = list(scenes), site, aprons, spec

    def __iter__(self) -> Iterator[ScenePayload]:
        info = get_worker_info()
        mine = self.scenes if info is None else self.scenes[info.id :: info.num_workers]
        for scene in mine:
            yield read_payload(scene, self.site, self.aprons, self.spec)


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
    images = torch.empty((n, 3, size, size), dtype=torch.uint8)
    valid = torch.empty((n, size, size), dtype=torch.bool)
    for i, t in enumerate(tiles):
        images[i] = torch.from_numpy(t.image)
        valid[i] = torch.from_numpy(np.asarray(t.valid, dtype=bool))
    empty = (np.empty((3, 0, 0), np.uint8), np.empty((0, 0), bool))
    bare = [dataclasses.replace(t, image=empty[0], valid=empty[1]) for t in tiles]
    return ScenePayload(scene, coverage, bare, images, valid, error)


def scene_loader(dataset: SceneTiles, *, workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader yielding one :class:`ScenePayload` at a time (no collation)."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers else None,
    )
