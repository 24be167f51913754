"""Layer 2, design spaces: what a *design space* is.

- :mod:`dsd.spaces.space`: :class:`Space`, the interface (parameters, constraints, exact size,
  what a refinement may constrain) and the flop-matched sampler :meth:`~Space.sample`.
- :mod:`dsd.spaces.anynet`, :mod:`dsd.spaces.regnet`: its two kinds, :class:`AnyNetSpace`
  (per-stage parameters) and :class:`RegNetSpace` (generated stages).
- :mod:`dsd.spaces.constraints`: :class:`Constraints`, one value that loads, validates, merges,
  counts and writes the constraints of a space.
- :mod:`dsd.spaces.params`: :class:`Param`, parameter domains and their (vectorised) distributions.
- :mod:`dsd.spaces.loader`: space files: :func:`load_space` (``extends:``, strict validation),
  :func:`write_space`, :func:`list_spaces`.
"""

from dsd.spaces.anynet import AnyNetSpace, draw_conditioned
from dsd.spaces.constraints import Allowed, Constraints
from dsd.spaces.loader import builtin_names, list_spaces, load_space, resolve, write_space
from dsd.spaces.params import Param
from dsd.spaces.regnet import RegNetSpace
from dsd.spaces.space import SampleStats, Space

__all__ = [
    "Allowed",
    "AnyNetSpace",
    "Constraints",
    "Param",
    "RegNetSpace",
    "SampleStats",
    "Space",
    "builtin_names",
    "draw_conditioned",
    "list_spaces",
    "load_space",
    "resolve",
    "write_space",
]
