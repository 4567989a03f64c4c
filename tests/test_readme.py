"""README.md: what a first-time user looks for is one click from the top, and the links work."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings outside code blocks: lower case, punctuation other
    than '-' and '_' dropped, spaces to '-'."""
    anchors, fenced = set(), False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        heading = re.match(r"#{1,6} (.+)", line)
        if heading and not fenced:
            text = re.sub(r"[^\w\- ]", "", heading[1].strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_the_commands_are_followed_by_links_to_what_users_look_for():
    text = README.read_text(encoding="utf-8")
    after_commands = text.split("| `dwelltime batch JOB.yaml` |")[1].split("\n\n", 2)[1]
    linked = set(re.findall(r"\]\(#([^)]+)\)", after_commands))
    wanted = {
        "outputs-and-reading-them-back",  # where outputs go, each column with units
        "airport-and-aprons",  # an airport of one's own
        "evidence-flight-logs-and-censoring-flags",  # flight logs, censoring flags
    }
    assert wanted <= linked
    assert sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - heading_anchors(text)) == []


def test_the_synthetic_benchmark_opens_with_the_command_of_the_figures_quoted():
    """The README's synthetic row points to eval_synth_by_gsd.md; its first command renders
    the chips the model card's figures were measured on (count and seed per GSD)."""
    root = README.parent
    card = next((root / "models").glob("*.md")).read_text(encoding="utf-8")
    chips, seed = re.search(r"on (\d+) chips per GSD \(seed (\d+)\)", card).groups()
    page = (root / "docs" / "benchmarks" / "eval_synth_by_gsd.md").read_text(encoding="utf-8")
    first = page.split("```")[1]
    assert f"-n {chips} " in first and f"--seed {seed} " in first
    assert "eval_synth_by_gsd.md" in README.read_text(encoding="utf-8")


def test_the_commands_table_shows_each_command_as_it_runs():
    """Each row of the README's commands table, copied as written, gets past the command's
    usage check: its required options are shown, and every option the row names is one the
    command takes."""
    import click

    from dwelltime.cli import main

    text = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `dwelltime (\S+)([^`]*)` \|(.*)\|$", text, re.M)
    assert len(rows) >= 9
    wrong = []
    for name, usage, what in rows:
        command = main.get_command(click.Context(main), name)
        commands = {name: command}
        if isinstance(command, click.Group):  # `synth series\|demo\|chips --out DIR`
            subcommands, usage = usage.split(maxsplit=1)
            commands = {
                f"{name} {sub}": command.get_command(click.Context(command), sub)
                for sub in subcommands.split("\\|")
            }
        for shown, command in commands.items():
            options = [p for p in command.params if isinstance(p, click.Option)]
            takes = {o for p in options for o in p.opts + p.secondary_opts}
            required = [p.opts[0] for p in options if p.required]
            named = set(re.findall(r"--[a-z][a-z0-9-]*", usage + what)) - {"--help"}
            wrong += [f"{shown}: {o} not shown" for o in required if o not in usage]
            wrong += [f"{shown}: no {o}" for o in sorted(named - takes)]
    assert wrong == []


def test_the_accuracy_table_quotes_the_model_card():
    """The README's detector rows quote the figures the model card (.json) measured: real
    Pléiades AP50/AP75/P/R/best F1, the same made 3 m, synthetic AP50 per GSD."""
    import json

    card = json.loads(next((README.parent / "models").glob("*.json")).read_text("utf-8"))
    measured = {e["what"].split(",")[0].split(":")[0]: e["measured"] for e in card["evaluation"]}
    real = re.match(
        r"([\d.]+) / ([\d.]+) \(P ([\d.]+), R ([\d.]+); best F1 ([\d.]+)\)",
        measured["real Pléiades aircraft"],
    )
    coarse = re.search(
        r"3 m: ([\d.]+) / ([\d.]+) \(P ([\d.]+), R ([\d.]+)\)",
        measured["real Pléiades aircraft as a coarse sensor sees them"],
    )
    synthetic = measured["synthetic held-out chips"].split(" on ")[0]
    at_3m = measured["AP50 at 3 m (type `unknown`"].split(" ")[0]
    text = README.read_text(encoding="utf-8")
    assert "AP50 {}, AP75 {}, P {}, R {}, best F1 {}".format(*real.groups()) in text
    assert "AP50 {}, AP75 {}, P {}, R {}".format(*coarse.groups()) in text
    assert f"AP50 {synthetic} / {at_3m};" in text
