"""Errors that reach the user as one clear line and a non-zero exit code.

Raise `UserError` (or a subclass) for anything caused by the user's input:
a bad file, an unknown singer, a device that refuses a sample rate. The CLI
prints its message without a traceback; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line."""

    exit_code = 2


class AudioFileError(UserError):
    """An audio file that is missing, empty, unreadable or not finite."""


class ModelFileError(UserError):
    """A model file that is missing, truncated, of another version or corrupt."""


class ConfigError(UserError):
    """A config file with unknown keys, missing keys or wrong types."""
