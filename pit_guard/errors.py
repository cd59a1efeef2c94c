"""The one error type commands turn into exit code 2 with a message."""


class FatalError(RuntimeError):
    """A usage or environment error: the message says what to do. Never holds a secret."""
