"""Helpers shared by the ``flask`` commands."""

from __future__ import annotations

import sys

import click


def progress(label: str):
    """A progress-bar wrapper for an iterable, drawn on stderr (only the label when not a TTY)."""

    def wrap(iterable):
        items = list(iterable)
        with click.progressbar(items, label=label, file=sys.stderr) as bar:
            yield from bar

    return wrap
