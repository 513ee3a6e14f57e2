"""The one error type of tapliance.net: a one-line message plus the exit code the CLI should use."""

from __future__ import annotations

BAD_INPUT = 2  # the config or the host state makes the plan impossible; nothing was touched
RUNTIME = 1  # the kernel refused a change mid-way; what this call did was rolled back


class NetError(RuntimeError):  # a RuntimeError so callers catching those (the daemon) report it
    """A host-setup failure, already formatted as one line ``OBJECT: problem``.

    ``exit_code`` is 2 for bad input or a conflict found before anything changed, 1 for a runtime failure.
    """

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
