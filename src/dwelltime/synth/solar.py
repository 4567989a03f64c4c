"""Sun position from time and place (NOAA low-precision formulae, ~0.5° accuracy)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dwelltime.synth.aircraft import Sun


def sun_position(t: pd.Timestamp, lat: float, lon: float) -> Sun:
    """Azimuth (degrees clockwise from north) and elevation of the sun at UTC time ``t``."""
    t = pd.Timestamp(t).tz_convert("UTC")
    day = t.day_of_year
    hour = t.hour + t.minute / 60 + t.second / 3600
    g = 2 * np.pi / 365 * (day - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * np.cos(g)
        - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g)
        - 0.040849 * np.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g)
    )
    solar_minutes = hour * 60 + eqtime + 4 * lon
    hour_angle = np.radians(solar_minutes / 4 - 180)
    phi = np.radians(lat)
    cos_zen = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    zen = np.arccos(np.clip(cos_zen, -1, 1))
    az = np.degrees(
        np.arctan2(
            np.sin(hour_angle), np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi)
        )
    )
    return Sun(
        azimuth_deg=float((az + 180) % 360), elevation_deg=float(max(90 - np.degrees(zen), 5.0))
    )
