"""The ideal observer of scripts/type_ceiling.py on the synthetic catalog."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from dwelltime.catalog import load_catalog


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


def test_widths_closer_than_the_tolerance_look_alike_and_lower_the_ceiling(script):
    ceiling = script("type_ceiling")
    catalog = load_catalog()
    a319, b737 = catalog["A319"], catalog["B737"]  # drawn alike but 3.95 and 3.76 m wide
    assert not ceiling.alike(a319, b737)
    assert ceiling.alike(a319, b737, width_tol_m=0.2)
    assert not ceiling.alike(a319, catalog["IL62"], width_tol_m=9.0, sweep_tol_deg=90.0)
    types = [catalog[k] for k in sorted(catalog)]
    exact = ceiling.ceiling(types, 1.5, draws=200)
    blurred = ceiling.ceiling(types, 1.5, draws=200, width_tol_m=0.25, sweep_tol_deg=1.0)
    assert blurred < exact - 0.03


def test_a_chips_folder_without_labelled_chips_is_one_line_and_skipped(
    script, tmp_path, monkeypatch, capsys
):
    ceiling = script("type_ceiling")
    (tmp_path / "empty").mkdir()
    argv = ["type_ceiling.py", "--draws", "5", "--sigma", "1", "--chips", str(tmp_path / "empty")]
    monkeypatch.setattr(sys, "argv", argv)
    ceiling.main()
    out = capsys.readouterr().out
    assert "ceiling top-1" in out  # the ceilings are still printed
    assert f"{tmp_path / 'empty'}: no labelled chips" in out.splitlines()[-1]


def test_no_draws_is_a_usage_error(script, monkeypatch, capsys):
    ceiling = script("type_ceiling")
    monkeypatch.setattr(sys, "argv", ["type_ceiling.py", "--draws", "0"])
    with pytest.raises(SystemExit) as refused:
        ceiling.main()
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("--draws 0: give at least 1")
