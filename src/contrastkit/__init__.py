"""contrastkit: exact, memory-lean contrastive learning.

Subpackages: :mod:`contrastkit.engine` (pair statistics), :mod:`contrastkit.losses` (the objective
catalogue), :mod:`contrastkit.evaluate`, :mod:`contrastkit.scale`, :mod:`contrastkit.train`.
Importing the package has no side effects and needs no optional dependency.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
