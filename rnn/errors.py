"""The library's errors for mistakes in the user's input or output: one line each, no traceback.

The CLI prints a `UserError` as one line and exits with status 1; the library raises it (or a
subclass that names the kind of input) and never imports the CLI.
"""


class UserError(Exception):
    """A mistake in the user's input or output: printed as one line, exit status 1."""


class OutputError(UserError):
    """A file or folder that cannot be written; the message names the path and why."""
