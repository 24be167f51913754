"""Layer 2, design spaces: what a *design space* is.

- :mod:`dsd.spaces.loader`: ``spaces/*.yaml`` files, ``extends:``, strict validation.
- :mod:`dsd.spaces.params`: parameter domains and their (vectorised) distributions.
- :mod:`dsd.spaces.space`: :class:`Space` with its exact :attr:`~Space.size` and the
  flop-matched sampler :meth:`~Space.sample`.
"""

from dsd.spaces.params import Param
from dsd.spaces.space import SCHEMA_VERSION, SampleStats, Space, list_spaces, load_space

__all__ = ["SCHEMA_VERSION", "Param", "SampleStats", "Space", "list_spaces", "load_space"]
