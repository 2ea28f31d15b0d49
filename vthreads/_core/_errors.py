"""Exceptions of the core.

``Cancelled`` is a BaseException, as in trio: ``except Exception`` in user
code must not swallow a cancellation.  It is raised only at park points
(any blocking call of the library, or ``checkpoint()``).
"""


class Cancelled(BaseException):
    """Raised inside a task whose cancel scope (or whole vthread) was cancelled."""

    def __str__(self):
        return "cancelled" if not self.args else str(self.args[0])
