"""The library's errors for mistakes in the user's input or output: one line each, no traceback.

The CLI prints a `UserError` as one line and exits with status 1 (2 for a `UsageError`); the
library raises it (or a subclass that names the kind of input) and never imports the CLI.
"""


class UserError(Exception):
    """A mistake in the user's input or output: printed as one line, exit status 1."""


class UsageError(UserError):
    """Options that cannot go together (or a flag that would do nothing): exit status 2, as
    argparse gives for a bad value, raised before any work."""


class OutputError(UserError):
    """A file or folder that cannot be written; the message names the path and why."""


class ResourceError(UserError):
    """A run that would need more memory (or time) than allowed; the message gives the
    estimate, the limit and how to change it."""


class InitError(UsageError, ValueError):
    """An initialisation that is unknown, does not fit the cell, or lacks its T_max: a usage
    error (exit status 2), and a ValueError for library callers."""


class ClusterError(UserError):
    """A Dask cluster that cannot be used: unreachable, without workers, running another
    rnn-lab, or losing one job's workers again and again; the message names the address."""


class ClusterAddressError(ClusterError, UsageError):
    """A scheduler address that is not one (an unknown scheme, no port): exit status 2."""
