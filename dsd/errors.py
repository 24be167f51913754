"""Errors a user can act on: every layer raises :class:`DsdError` (or a subclass) for bad input;
the CLI prints it as one line and exits with code 2."""

from __future__ import annotations


class DsdError(Exception):
    """Bad input or an impossible request, explained in one line."""


class SpaceError(DsdError):
    """A design-space file or name is invalid (the message names file, key and what is allowed)."""


class DataError(DsdError):
    """A data set or a results/samples file is missing, unreadable or of the wrong schema."""
