"""The error of a command used wrongly."""


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit code 2."""
