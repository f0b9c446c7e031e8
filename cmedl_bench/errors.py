"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class CmedlError(Exception):
    """A known, explainable failure (bad input, unknown plugin, broken dataset)."""


class PluginError(CmedlError):
    """A problem with plugin discovery or selection."""


class DatasetError(CmedlError):
    """A dataset folder that is missing, malformed or inconsistent."""
