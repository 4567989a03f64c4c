"""The ideal observer of scripts/type_ceiling.py on the synthetic catalog."""

from __future__ import annotations

import dataclasses

import pytest

from dwelltime.synth.catalog import load_catalog


def test_only_identical_look_alikes_are_confused_with_exact_sizes(script):
    ceiling = script("type_ceiling")
    types = [load_catalog()[k] for k in sorted(load_catalog())]
    twins = {
        t.icao
        for t in types
        for u in types
        if u is not t
        and (u.length_m, u.wingspan_m, ceiling.look(u))
        == (t.length_m, t.wingspan_m, ceiling.look(t))
    }
    assert twins == {"AT72", "AT76"}  # same look, same length and span
    # one of the pair is always taken for the other: half of those two is lost
    assert ceiling.ceiling(types, 0.01, draws=200) == pytest.approx(1 - 1 / len(types), abs=1e-3)
    assert ceiling.ceiling(types, 2.5, draws=200) < ceiling.ceiling(types, 0.5, draws=200)


def test_different_looks_are_never_confused(script):
    ceiling = script("type_ceiling")
    a = load_catalog()["B738"]
    b = dataclasses.replace(a, icao="XB38", engines=4)  # same size, another look
    assert ceiling.ceiling([a, b], 5.0, draws=100) == 1.0
