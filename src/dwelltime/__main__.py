"""``python -m dwelltime`` runs the command-line interface."""

from dwelltime.cli import main

main()
