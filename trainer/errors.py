"""One exception type for problems a user can fix; the CLI prints it as one line."""


class UserError(Exception):
    """Bad input, config or environment: the message says what and how to fix it."""
