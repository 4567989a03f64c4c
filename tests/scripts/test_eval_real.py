"""scripts/eval_real.py: its help says what it runs by default."""

from __future__ import annotations


def test_help_gives_each_setting_its_default(script):
    text = " ".join(script("eval_real").build_parser().format_help().split())
    for shown in ("(default: 512)", "(default: 128)", "(default: auto)", "S03", "(default: 0.5)"):
        assert shown in text
