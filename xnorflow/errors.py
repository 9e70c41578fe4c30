"""The one error type users see: a single line naming the problem and the fix."""


class XnorflowError(Exception):
    """A user-facing error; the CLI prints it as one line and exits non-zero."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class FlowStopped(XnorflowError):
    """The flow went as far as this machine or design allows (a missing tool, a design over the board, a Vivado run
    that failed or missed timing): what it wrote is kept, its logs and reports included."""
