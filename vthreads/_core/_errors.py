"""Exceptions of the core.

``Cancelled`` is a BaseException, as in trio: ``except Exception`` in user
code must not swallow a cancellation.  It is raised only at park points
(any blocking call of the library, or ``checkpoint()``).
"""


class Cancelled(BaseException):
    """Raised inside a task whose cancel scope (or whole vthread) was cancelled."""

    def __str__(self):
        return "cancelled" if not self.args else str(self.args[0])


class DeadlockError(RuntimeError):
    """Raised by ``run()`` in its main vthread when every vthread of the
    runtime waits on the library's primitives and nothing can wake one.

    The message is the verdict and the ``dump()`` of the runtime at that
    moment; ``dump`` holds that text alone.  What is proven before it is
    raised: docs/design.md, "Deadlocks".
    """

    def __init__(self, message: str = "deadlock", dump: str = "") -> None:
        super().__init__(message)
        self.dump = dump
        """The ``vthreads.dump()`` text of the deadlocked runtime."""
