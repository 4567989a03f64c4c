"""Top-view planform of an aircraft type as polygons in metres.

Aircraft frame: ``x`` to starboard (right wing), ``y`` forward (towards the nose), origin at
the centre of the length × span rectangle, so the nose is at ``y = +length/2``, the tail end at
``y = -length/2`` and the wing tips at ``x = ±span/2``. Parts come in drawing order (lowest
first); each carries the height of its top surface above ground (metres) for cast shadows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from dwelltime.catalog import AircraftType

#: Colour keys a part can carry; the renderer maps each to a paint colour.
PART_KINDS = (
    "fuselage", "wing", "engine", "fin", "tailplane", "prop", "cheat", "intake", "window",
    "inlet", "flap",
)  # fmt: skip
#: Paint details that cast no shadow of their own (they lie on a larger part).
DETAIL_KINDS = ("prop", "cheat", "intake", "window", "inlet", "flap")


@dataclass(frozen=True)
class Part:
    """One planform polygon: ``xy`` (N, 2) metres in the aircraft frame."""

    kind: str
    xy: np.ndarray
    height_m: float
    opacity: float = 1.0


@dataclass(frozen=True)
class Fin:
    """The vertical fin seen edge-on from above, for its long cast shadow (metres)."""

    y_base: tuple[float, float]  # (front, rear) of the fin root, along the fuselage
    y_top: tuple[float, float]  # (front, rear) of the fin tip
    h_base: float
    h_top: float


@dataclass(frozen=True)
class Planform:
    parts: tuple[Part, ...]
    fin: Fin


def _mirror(xy: np.ndarray) -> np.ndarray:
    return (xy * np.array([-1.0, 1.0]))[::-1]


def _fuselage(t: AircraftType) -> np.ndarray:
    half_len, r = t.length_m / 2, t.fuselage_width_m / 2
    nose_start = half_len - t.nose_len_m
    tail_start = -half_len + t.tailcone_len_m
    end_r = r * (0.55 if t.engines == 3 and t.engine_mount == "rear fuselage" else 0.18)
    # pointed jet noses (power > 1 sharpens the tip), blunter turboprop/transport noses
    power = 0.42 if t.nose_len_m < 1.5 * t.fuselage_width_m else 0.55
    s = np.linspace(0.0, 1.0, 14)
    nose_y = nose_start + s * t.nose_len_m
    nose_x = r * (1.0 - s**2) ** power
    tail_y = tail_start - s * t.tailcone_len_m
    tail_x = r - (r - end_r) * s**1.6
    right = np.concatenate(
        [np.stack([tail_x[::-1], tail_y[::-1]], 1), np.stack([nose_x, nose_y], 1)]
    )
    return np.concatenate([right, _mirror(right)])


def _wing_edges(t: AircraftType, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leading and trailing edge ``y`` (metres) of the wing at span positions ``x`` ≥ 0."""
    semi = t.wingspan_m / 2
    root_le = t.length_m / 2 - t.wing_root_le_frac * t.length_m
    tan_sweep = np.tan(np.radians(t.sweep_deg))
    chord = t.root_chord_m * (1.0 - (1.0 - t.taper) * x / semi)
    qc = root_le - 0.25 * t.root_chord_m - x * tan_sweep
    return qc + 0.25 * chord, qc - 0.75 * chord


def _wing(t: AircraftType) -> np.ndarray:
    semi = t.wingspan_m / 2
    le_root, te_root = _wing_edges(t, np.array([0.0]))
    le_tip, te_tip = _wing_edges(t, np.array([semi]))
    pts = [(0.0, le_root[0]), (semi, le_tip[0]), (semi, te_tip[0])]
    if t.sweep_deg > 15:  # inboard trailing edge kink (Yehudi) of swept jet wings
        x_kink = 0.33 * semi
        _, te_kink = _wing_edges(t, np.array([x_kink]))
        pts += [(x_kink, te_kink[0]), (0.0, te_kink[0] - 0.3)]
    else:
        pts += [(0.0, te_root[0])]
    return np.array(pts)


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _pod(x: float, y_front: float, length: float, width: float) -> np.ndarray:
    """An engine nacelle centred on ``x``, intake at ``y_front``, tapering to the exhaust."""
    h = width / 2
    return np.array(
        [
            (x - 0.65 * h, y_front - length),
            (x + 0.65 * h, y_front - length),
            (x + h, y_front - 0.5 * length),
            (x + h, y_front - 0.08 * length),
            (x + 0.8 * h, y_front),
            (x - 0.8 * h, y_front),
            (x - h, y_front - 0.08 * length),
            (x - h, y_front - 0.5 * length),
        ]
    )


def _inlet(x: float, y_front: float, length: float, width: float) -> np.ndarray:
    """The dark intake lip at the front of a jet nacelle."""
    return _rect(x - 0.38 * width, x + 0.38 * width, y_front - 0.09 * length, y_front)


def _flap(t: AircraftType) -> np.ndarray:
    """The trailing-edge flap band of the starboard wing (outboard of the fuselage)."""
    x = np.linspace(t.fuselage_width_m / 2, 0.75 * t.wingspan_m / 2, 6)
    le, te = _wing_edges(t, x)
    if t.sweep_deg > 15:  # inboard of the kink the trailing edge is straight
        x_kink = 0.33 * t.wingspan_m / 2
        te = np.where(x < x_kink, _wing_edges(t, np.array([x_kink]))[1][0], te)
    depth = 0.22 * (le - te)
    return np.concatenate([np.stack([x, te + depth], 1), np.stack([x, te + 0.05], 1)[::-1]])


def _tailplane(t: AircraftType) -> np.ndarray:
    half_len, semi = t.length_m / 2, t.tailplane_span_m / 2
    root_chord = (0.085 if t.is_jet else 0.1) * t.length_m
    tip_chord = 0.45 * root_chord
    sweep_back = semi * np.tan(np.radians(min(t.sweep_deg + 6, 42) if t.is_jet else 8))
    # the tip trailing edge may reach, not pass, the tail end (the label rectangle is the length)
    latest = -half_len + 0.1 + sweep_back + tip_chord - root_chord
    if t.tail == "T-tail":  # on top of the swept fin: tips reach back to the tail end
        root_te = max(latest, -half_len + 0.02 * t.length_m)
    else:
        root_te = max(latest, -half_len + 0.05 * t.length_m)
    tip_le = root_te + root_chord - sweep_back
    tip_te = max(tip_le - tip_chord, -half_len + 0.05)
    right = np.array([(0.0, root_te + root_chord), (semi, tip_le), (semi, tip_te), (0.0, root_te)])
    return np.concatenate([right, _mirror(right)])


def _engines(t: AircraftType, wing_h: float) -> tuple[list[Part], list[Part]]:
    """Engine parts drawn (below the wing, above the wing)."""
    fw, length, semi = t.fuselage_width_m, t.length_m, t.wingspan_m / 2
    below: list[Part] = []
    above: list[Part] = []
    if t.engine_mount == "rear fuselage":
        pod_w, pod_l = 0.5 * fw, 0.15 * length
        y_front = -length / 2 + 0.27 * length
        h = 0.8 * fw + 1.5
        per_side = 2 if t.engines == 4 else 1
        for i in range(per_side):
            x = fw / 2 + pod_w / 2 + 0.15 + i * (pod_w + 0.1)
            for sign in (1, -1):
                above.append(Part("engine", _pod(sign * x, y_front, pod_l, pod_w), h))
                above.append(Part("inlet", _inlet(sign * x, y_front, pod_l, pod_w), h))
        if t.engines == 3:  # centre engine: S-duct intake on top of the rear fuselage
            y0 = -length / 2 + 0.24 * length
            above.append(
                Part("intake", _rect(-0.28 * fw, 0.28 * fw, y0 - 0.06 * length, y0), h + 0.6)
            )
        return below, above
    turboprop = t.engine_mount == "turboprop wing"
    if t.engines == 2:
        stations = [0.27 if turboprop else 0.34]
    else:
        stations = [0.28, 0.56] if turboprop else [0.36, 0.66]
    if t.engine_mount == "wing (over-wing)":
        stations = [(fw / 2 + 0.35 * fw + 0.3) / semi]
    for frac in stations:
        x = frac * semi
        le, _ = _wing_edges(t, np.array([x]))
        if turboprop:
            pod_w, pod_l = 0.38 * fw, 0.24 * length
            y_front = le[0] + 0.42 * pod_l
            prop_d = min(0.14 * t.wingspan_m, 2 * (x - fw / 2) - 0.4)
            for sign in (1, -1):
                above.append(Part("engine", _pod(sign * x, y_front, pod_l, pod_w), wing_h + 0.8))
                prop = _rect(
                    sign * x - prop_d / 2, sign * x + prop_d / 2, y_front + 0.1, y_front + 0.5
                )
                above.append(Part("prop", prop, wing_h + 0.5, opacity=0.45))
        else:
            pod_w = (0.55 if t.engines == 2 else 0.45) * fw
            pod_l = (0.13 if t.engines == 2 else 0.12) * length
            over = t.engine_mount == "wing (over-wing)"
            # pylon-hung pods reach well ahead of the leading edge (most on 4-engined types)
            y_front = le[0] + (0.75 if over or t.engines == 4 else 0.55) * pod_l
            for sign in (1, -1):
                h = wing_h + (1.2 if over else -1.0)
                pod = Part("engine", _pod(sign * x, y_front, pod_l, pod_w), h)
                inlet = Part("inlet", _inlet(sign * x, y_front, pod_l, pod_w), h)
                (above if over else below).extend([pod, inlet])
    return below, above


@cache
def planform(t: AircraftType) -> Planform:
    """Polygons of ``t`` seen from above, in drawing order."""
    fw, length = t.fuselage_width_m, t.length_m
    body_h = fw + (0.8 if t.wing_position == "high" else 1.4)
    wing_h = body_h - 0.3 if t.wing_position == "high" else 2.6
    wing_r = _wing(t)
    flap_r = _flap(t)
    wings = [
        Part("wing", wing_r, wing_h),
        Part("wing", _mirror(wing_r), wing_h),
        Part("flap", flap_r, wing_h),
        Part("flap", _mirror(flap_r), wing_h),
    ]
    below, above = _engines(t, wing_h)
    fuselage = Part("fuselage", _fuselage(t), body_h)
    r = fw / 2
    cheat = [
        Part(
            "cheat",
            _rect(
                s * r * 0.78,
                s * r * 0.93,
                -length / 2 + t.tailcone_len_m,
                length / 2 - t.nose_len_m * 0.7,
            ),
            body_h,
        )
        for s in (1, -1)
    ]
    fin_root = (-length / 2 + 0.24 * length, -length / 2 + 0.02 * length)
    fin_tip = (-length / 2 + 0.08 * length, -length / 2 + 0.005 * length)
    fin_w = max(0.12 * fw, 0.3)
    fin = Part("fin", _rect(-fin_w, fin_w, fin_root[1], fin_root[0]), body_h + 0.5)
    tailplane = Part(
        "tailplane", _tailplane(t), t.fin_height_m if t.tail == "T-tail" else body_h - 0.8
    )
    parts: list[Part] = [*below]
    if t.wing_position != "high":
        parts += wings
    if t.tail != "T-tail":
        parts.append(tailplane)
    y_ws = length / 2 - 0.42 * t.nose_len_m
    windscreen = Part(
        "window", _rect(-0.3 * fw, 0.3 * fw, y_ws - 0.12 * t.nose_len_m, y_ws), body_h
    )
    parts += [fuselage, *cheat, windscreen]
    if t.wing_position == "high":
        parts += wings
    parts += [fin, *above]
    if t.tail == "T-tail":
        parts.append(tailplane)
    return Planform(
        parts=tuple(parts),
        fin=Fin(y_base=fin_root, y_top=fin_tip, h_base=body_h, h_top=t.fin_height_m),
    )
