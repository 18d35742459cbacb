"""Exceptions raised by vi_core for bad input.

Every error vi_core raises on purpose is a ``VIError`` (a ``ValueError``) whose message is one
line that names the problem, so the CLI and the page can show it as is.
"""


class VIError(ValueError):
    """Bad input to vi_core: the message says what is wrong and, where possible, how to fix it."""


class TargetError(VIError):
    """A target density is unknown, or a custom one is broken (syntax, shape, NaN, edge mass...)."""


class FamilyError(VIError):
    """A family id is unknown, or parameters do not fit the family (wrong size, NaN, out of
    range)."""


class OptimizerError(VIError):
    """An optimizer id is unknown or its settings are invalid."""
