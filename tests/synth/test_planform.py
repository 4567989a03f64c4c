"""Planforms: every part of every catalog type is of a kind the renderer paints."""

from __future__ import annotations

import numpy as np

from dwelltime.catalog import load_catalog
from dwelltime.synth.aircraft import random_paint
from dwelltime.synth.planform import DETAIL_KINDS, PART_KINDS, planform


def test_every_part_kind_is_known_and_painted():
    assert set(DETAIL_KINDS) <= set(PART_KINDS)
    rng = np.random.default_rng(0)
    for t in load_catalog().values():
        kinds = {p.kind for p in planform(t).parts}
        assert kinds <= set(PART_KINDS), t.icao
        assert set(random_paint(rng, t)) == set(PART_KINDS), t.icao
