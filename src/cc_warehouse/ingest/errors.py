"""The loader's exceptions, shared by discovery, the raw zone and the run."""


class LoadError(Exception):
    """The run stopped; nothing it did was committed."""


class ValidationFailed(LoadError):
    """The load was committed, but its validation could not be completed."""
