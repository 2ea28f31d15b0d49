"""vthreads' own OS threads: the carriers and the to_thread helpers.

They are the runtime's, not the program's: with threads patched,
``threading.enumerate()`` and ``active_count()`` leave them out, as they
list the program's vthreads (``_io/_threading.py``).  They are real
threads of the stdlib's own class (``_originals.Thread``), in threading's
registry of OS threads like any other; this class tells them apart there.

Threads: any thread may make one.
"""

from .. import _originals as _o

__all__ = ["OwnThread"]


class OwnThread(_o.Thread):
    """A daemon OS thread that belongs to vthreads itself."""

    def __init__(self, target, name):
        super().__init__(target=target, name=name, daemon=True)
