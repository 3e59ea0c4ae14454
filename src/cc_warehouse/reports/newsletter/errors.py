"""Why no newsletter could be made: the errors the newsletter package raises."""

from __future__ import annotations


class NewsletterError(Exception):
    pass


class NotEnoughData(NewsletterError):
    """The data do not yet reach a quarter with a rolling year behind it."""
