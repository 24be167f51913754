"""Plain-language verdicts on pairs of populations (two-sample KS, with its power): is one design
space better than another, or the same, or are there not enough models to tell?

    >>> c = compare("A", [0.2, 0.3, 0.4], "B", [0.21, 0.31, 0.39], alpha=0.01)
    >>> c.significant
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsd.analysis.stats import (
    ALPHA,
    DIFFERENCE,
    POWER,
    check_fractions,
    ks,
    ks_models_needed,
    ks_power,
)
from dsd.errors import DsdError

EXPECTATIONS = ("same", "differ")


@dataclass(frozen=True)
class Comparison:
    """The KS test of two error populations, their medians and minima, and its ``power`` to see a
    KS difference of ``difference`` (``needed``: models a population for power ``POWER``)."""

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
    power: float = float("nan")
    needed: int = 0
    difference: float = DIFFERENCE

    @property
    def significant(self) -> bool:
        """Whether the KS p-value is below ``alpha``."""
        return self.pvalue < self.alpha

    @property
    def conclusive(self) -> bool:
        """Significant, or large enough (power >= POWER) for "no difference" to mean something."""
        return self.significant or self.power >= POWER

    @property
    def verdict(self) -> str:
        """``differ``, ``same`` or ``not enough models to tell``."""
        if self.significant:
            return "differ"
        return "same" if self.conclusive else "not enough models to tell"

    @property
    def better(self) -> str:
        """The population with the lower median error."""
        return self.a if self.median_a <= self.median_b else self.b

    @property
    def as_expected(self) -> bool | None:
        """Whether the test's outcome matches ``expect`` (None without an expectation)."""
        return None if self.expect is None else self.significant == (self.expect == "differ")

    def sentence(self) -> str:
        """The verdict in one sentence (with the numbers behind it, errors in percent)."""
        numbers = (
            f"median error {self.median_a:.1%} vs {self.median_b:.1%}, best {self.best_a:.1%} vs "
            f"{self.best_b:.1%}; KS D = {self.statistic:.2f}, p = {self.pvalue:.2g}, "
            f"{self.n_a} and {self.n_b} models"
        )
        return f"{self._verdict_text()} ({numbers}).{self._paper_note()}"

    def _verdict_text(self) -> str:
        """The verdict, with the power of a non-significant one."""
        if self.significant:
            worse = self.b if self.better == self.a else self.a
            return (
                f"{self.better} is better than {worse}: its models' errors are lower, and a "
                f"difference this large would arise by chance with probability p < {self.alpha:g}"
            )
        text = f"no significant difference between {self.a} and {self.b} (p >= {self.alpha:g})"
        power = f"power {self.power:.2f} to see a KS difference of {self.difference:g}"
        if self.conclusive:
            return f"{text}: the populations were large enough ({power}), so their EDFs differ by less than that, if at all"
        return (
            f"{text}, but not enough models to tell: {power} at these sizes; "
            f"{self.needed} models a population give power {POWER:g}"
        )

    def _paper_note(self) -> str:
        """The verdict set against the paper's, if expected."""
        if self.expect is None:
            return ""
        said = "differ" if self.expect == "differ" else "be as good as each other"
        if self.as_expected and self.conclusive:
            return f" This agrees with the paper, which found them to {said}."
        if not self.conclusive and self.expect == "same":
            return (
                f" The paper found them to {said}; these populations can neither confirm nor "
                "contradict it."
            )
        return f" Unlike the paper, which found them to {said}."


def compare(
    name_a: str,
    errors_a: Sequence[float],
    name_b: str,
    errors_b: Sequence[float],
    *,
    alpha: float = ALPHA,
    expect: str | None = None,
    difference: float = DIFFERENCE,
) -> Comparison:
    """KS-compare two populations' errors (fractions) at ``alpha`` (see :class:`Comparison`)."""
    if not 0 < alpha < 1:
        raise DsdError(f"alpha must be in (0, 1), got {alpha}")
    if expect is not None and expect not in EXPECTATIONS:
        raise DsdError(f"expectation {expect!r}: use one of {', '.join(EXPECTATIONS)}")
    a = check_fractions(errors_a, f"population {name_a}: errors")
    b = check_fractions(errors_b, f"population {name_b}: errors")
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
        power=ks_power(a.size, b.size, difference, alpha),
        needed=ks_models_needed(difference, alpha, POWER),
        difference=difference,
    )


def parse_pair(text: str) -> tuple[str, str, str | None]:
    """``A:B`` or ``A:B=same`` / ``A:B=differ`` -> (A, B, expectation or None)."""
    pair, _, expect = text.partition("=")
    a, sep, b = pair.partition(":")
    if not sep or not a or not b or (expect and expect not in EXPECTATIONS):
        raise DsdError(f"--pair {text!r}: expected A:B, A:B=same or A:B=differ")
    return a, b, expect or None
