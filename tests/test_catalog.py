"""The aircraft catalog: sourced facts, one variant per designator, derived traits marked."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest

from dwelltime.catalog import designator, load_catalog
from dwelltime.synth.planform import planform


def _csv_rows() -> list[dict[str, str]]:
    text = resources.files("dwelltime").joinpath("data", "aircraft_types.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_at_least_25_types_keyed_by_icao():
    catalog = load_catalog()
    assert len(catalog) >= 25
    assert all(key == t.icao for key, t in catalog.items())
    assert {"IL62", "T204", "IL76", "A148", "T154", "B738"} <= set(catalog)


def test_facts_come_from_the_csv_first_variant_per_designator():
    first: dict[str, dict[str, str]] = {}
    for row in _csv_rows():
        first.setdefault(row["icao"], row)
    for icao, t in load_catalog().items():
        row = first[icao]
        assert t.length_m == float(row["length_m"])
        assert t.wingspan_m == float(row["wingspan_m"])
        assert t.engines == int(row["engines"])
        assert t.tail == row["tail"]
    assert load_catalog()["T204"].name.startswith("Tupolev Tu-204-100")


def test_missing_sweep_is_derived_and_marked():
    catalog = load_catalog()
    assert "sweep_deg" in catalog["IL62"].derived  # blank in the CSV
    assert "sweep_deg" not in catalog["T154"].derived  # 35° in the CSV
    assert catalog["T154"].sweep_deg == 35.0
    assert catalog["AN24"].sweep_deg < 10  # straight turboprop wing


@pytest.mark.parametrize("icao", sorted(load_catalog()))
def test_planform_fits_the_length_by_span_rectangle(icao):
    t = load_catalog()[icao]
    pts = np.concatenate([p.xy for p in planform(t).parts])
    assert np.abs(pts[:, 0]).max() <= t.wingspan_m / 2 + 1e-6
    assert np.abs(pts[:, 1]).max() <= t.length_m / 2 + 1e-6
    # something reaches the nose, the tail end and both wing tips (within 0.5 m)
    assert pts[:, 1].max() > t.length_m / 2 - 0.5 and pts[:, 1].min() < -t.length_m / 2 + 0.5
    assert np.abs(pts[:, 0]).max() > t.wingspan_m / 2 - 0.5


def test_showcase_types_differ_in_layout():
    catalog = load_catalog()

    def engines(icao):
        return [p for p in planform(catalog[icao]).parts if p.kind == "engine"]

    def forward_most_engine(icao):  # y of the foremost engine intake, fraction of length
        t = catalog[icao]
        return max(p.xy[:, 1].max() for p in engines(icao)) / t.length_m

    assert len(engines("IL62")) == 4 and forward_most_engine("IL62") < -0.1  # rear pairs
    assert len(engines("T154")) == 2 and any(
        p.kind == "intake" for p in planform(catalog["T154"]).parts
    )
    assert len(engines("IL76")) == 4 and forward_most_engine("IL76") > 0  # under the wing
    assert len(engines("T204")) == 2 and forward_most_engine("T204") > 0
    assert len(engines("B738")) == 2 and len(engines("A148")) == 2
    kinds = [p.kind for p in planform(catalog["IL76"]).parts]
    assert kinds.index("wing") > kinds.index("fuselage")  # high wing drawn over the body
    kinds = [p.kind for p in planform(catalog["B738"]).parts]
    assert kinds.index("wing") < kinds.index("fuselage")  # low wing under the body
    tail = {
        i: next(p for p in planform(catalog[i]).parts if p.kind == "tailplane") for i in catalog
    }
    assert tail["IL62"].height_m > 10 > tail["B738"].height_m  # T-tail vs fuselage tailplane


def test_scaled_type_keeps_its_shape_at_another_length():
    il62 = load_catalog()["IL62"]
    small = il62.scaled(13.28, "unknown")
    k = 13.28 / il62.length_m
    assert small.icao == "unknown" and small.length_m == pytest.approx(13.28)
    for field in ("wingspan_m", "fuselage_width_m", "root_chord_m", "fin_height_m"):
        assert getattr(small, field) == pytest.approx(getattr(il62, field) * k)
    assert (small.sweep_deg, small.taper, small.wing_root_le_frac) == (
        il62.sweep_deg,
        il62.taper,
        il62.wing_root_le_frac,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IL62", "IL62"),
        ("Il-62", "IL62"),
        ("b 738", "B738"),
        ("Unknown", "unknown"),
        ("Ilyushin Il-62M", "IL62"),  # a flight tracker's name of the type
        ("Tupolev Tu-204-300", "T204"),  # another variant of one designator
        ("Il-62M", "IL62"),  # the model without its maker
        ("IL62M", "IL62"),
        ("Ilyushin Il-62", "IL62"),  # the maker before the designator
        ("ILYUSHIN IL-62", "IL62"),
        ("737-800", "B738"),
        ("IL62 (RA-86496)", "IL62"),  # FlightRadar24's aircraft: type (registration)
    ],
)
def test_designator_reads_what_users_write(text, expected):
    assert designator(text) == expected


def test_designator_of_a_type_the_catalog_lacks_names_close_ones():
    from dwelltime.errors import UnknownTypeError

    with pytest.raises(UnknownTypeError, match=r"did you mean IL76"):
        designator("IL-76MD")
    with pytest.raises(UnknownTypeError, match=r"the catalog holds \d+"):
        designator("ZZZZ")
    with pytest.raises(UnknownTypeError, match=r"^\['IL62'\] is not an aircraft type"):
        designator(["IL62"])  # type_filter=["IL62"] in a notebook, not a bare TypeError


def test_the_catalog_and_the_stages_using_it_load_neither_torch_nor_the_synthetic_engine(
    fresh_python,
):
    """The catalog is reference data of the whole product: importing it, or the stages that
    read types from it, loads no renderer or detector (a fresh interpreter to see it)."""
    code = (
        "import sys, dwelltime.catalog;"
        "light = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas'));"
        "import dwelltime.linking, dwelltime.flights, dwelltime.report;"
        "print(light, sorted(m for m in sys.modules"
        " if m == 'torch' or m.startswith('dwelltime.synth')))"
    )
    assert fresh_python(code) == ["[]", "[]"]
