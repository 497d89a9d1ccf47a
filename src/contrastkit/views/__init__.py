"""View generators: callables ``views(batch, generator) -> list of views`` (see each module)."""

from .image import ImageViews

__all__ = ["ImageViews"]
