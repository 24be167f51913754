"""Layer 2, design spaces: :class:`Space` (AnyNet or RegNet), its :class:`Constraints` and
:class:`Param` domains, the sampler, and space files (:func:`load_space`, :func:`write_space`)."""

from dsd.spaces.anynet import AnyNetSpace, draw_conditioned
from dsd.spaces.constraints import ORDERS, Allowed, Constraints
from dsd.spaces.loader import builtin_names, list_spaces, load_space, resolve, write_space
from dsd.spaces.params import Param
from dsd.spaces.regnet import RegNetSpace
from dsd.spaces.space import SampleStats, Space

__all__ = [
    "ORDERS",
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
