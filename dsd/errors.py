"""Errors a user can act on.

Every layer raises :class:`DsdError` (or a subclass) for bad input: a malformed space file, an
unknown model name, a corrupt results file. The CLI turns it into one line on stderr and exit
code 2; from Python it is an ordinary exception whose message names the problem.
"""

from __future__ import annotations


class DsdError(Exception):
    """Bad input or an impossible request, explained in one line."""


class SpaceError(DsdError):
    """A design-space file or name is invalid (the message names file, key and what is allowed)."""


class DataError(DsdError):
    """A data set or a results/samples file is missing, unreadable or of the wrong schema."""
