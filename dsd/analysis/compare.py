"""Plain-language verdicts on pairs of populations: is one design space better than another?

The paper's question about a refinement is whether the refined space's error distribution is
the same as its parent's or better. :func:`compare` answers it for a pair of populations with
the two-sample KS test (:func:`dsd.analysis.stats.ks`) at a chosen significance level, and
:meth:`Comparison.sentence` says the answer in one sentence a newcomer can read, optionally set
against what the paper found (``expect="same"`` or ``"differ"``).

Example::

    >>> c = compare("A", [0.2, 0.3, 0.4], "B", [0.21, 0.31, 0.39], alpha=0.01)
    >>> c.significant
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsd.analysis.stats import ks
from dsd.errors import DsdError

EXPECTATIONS = ("same", "differ")


@dataclass(frozen=True)
class Comparison:
    """The KS test of two error populations ``a`` and ``b`` and their medians and minima."""

    a: str
    b: str
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    best_a: float
    best_b: float
    statistic: float
    pvalue: float
    alpha: float
    expect: str | None = None

    @property
    def significant(self) -> bool:
        """Whether the KS p-value is below ``alpha``."""
        return self.pvalue < self.alpha

    @property
    def better(self) -> str:
        """The population with the lower median error."""
        return self.a if self.median_a <= self.median_b else self.b

    @property
    def as_expected(self) -> bool | None:
        """Whether the verdict matches ``expect`` (None without an expectation)."""
        if self.expect is None:
            return None
        return self.significant == (self.expect == "differ")

    def sentence(self) -> str:
        """The verdict in one sentence (with the numbers behind it)."""
        numbers = (
            f"median error {self.median_a:.1%} vs {self.median_b:.1%}, best {self.best_a:.1%} vs "
            f"{self.best_b:.1%}; KS D = {self.statistic:.2f}, p = {self.pvalue:.2g}, "
            f"{self.n_a} and {self.n_b} models"
        )
        if self.significant:
            worse = self.b if self.better == self.a else self.a
            verdict = (
                f"{self.better} is better than {worse}: its models' errors are lower, and a "
                f"difference this large would arise by chance with probability p < {self.alpha:g}"
            )
        else:
            verdict = (
                f"no significant difference between {self.a} and {self.b} "
                f"(p >= {self.alpha:g}): the data do not show either space to be better"
            )
        note = ""
        if self.expect is not None:
            said = "differ" if self.expect == "differ" else "be as good as each other"
            note = (
                f" This agrees with the paper, which found them to {said}."
                if self.as_expected
                else f" Unlike the paper, which found them to {said}."
            )
        return f"{verdict} ({numbers}).{note}"


def compare(
    name_a: str,
    errors_a: Sequence[float],
    name_b: str,
    errors_b: Sequence[float],
    *,
    alpha: float = 0.01,
    expect: str | None = None,
) -> Comparison:
    """KS-compare two populations' errors at significance ``alpha`` (see :class:`Comparison`)."""
    if not 0 < alpha < 1:
        raise DsdError(f"alpha must be in (0, 1), got {alpha}")
    if expect is not None and expect not in EXPECTATIONS:
        raise DsdError(f"expectation {expect!r}: use one of {', '.join(EXPECTATIONS)}")
    a = np.asarray(errors_a, dtype=float)
    b = np.asarray(errors_b, dtype=float)
    for name, x in ((name_a, a), (name_b, b)):
        if x.size < 2 or not np.isfinite(x).all():
            raise DsdError(f"population {name}: need at least 2 finite errors, got {x.size}")
    r = ks(a, b)
    return Comparison(
        a=name_a,
        b=name_b,
        n_a=int(a.size),
        n_b=int(b.size),
        median_a=float(np.median(a)),
        median_b=float(np.median(b)),
        best_a=float(a.min()),
        best_b=float(b.min()),
        statistic=float(r.statistic),
        pvalue=float(r.pvalue),
        alpha=alpha,
        expect=expect,
    )


def parse_pair(text: str) -> tuple[str, str, str | None]:
    """``A:B`` or ``A:B=same`` / ``A:B=differ`` -> (A, B, expectation or None)."""
    pair, _, expect = text.partition("=")
    a, sep, b = pair.partition(":")
    if not sep or not a or not b or (expect and expect not in EXPECTATIONS):
        raise DsdError(f"--pair {text!r}: expected A:B, A:B=same or A:B=differ")
    return a, b, expect or None
