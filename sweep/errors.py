"""The one error type for bad input to any phasescape command."""


class UsageError(ValueError):
    """Bad input detected before any compute starts; the CLI prints it as one line and exits with status 2.

    The message names the field (spec key, option or file) and says how to fix it.
    """
