"""The one exception type users see.

Every error caused by bad input or a missing resource is raised as ``EffconvError`` with a message
that names the problem and the fix; the CLI prints it as one line, without a traceback.
"""


class EffconvError(ValueError):
    """A user-facing error: the message says what is wrong and how to fix it."""
