"""The only functions that switch greenlets.

``grep -n '\\.switch(' vthreads/`` finds this file and nothing else.  The
carrier's hub enters vthreads with ``enter``; a vthread leaves -- to park
or to yield -- with ``leave``, which hands the carrier straight to the next
ready vthread when there is one (one switch instead of two through the
hub).  When there is none, it sleeps right there (``doze_in_place``), and
if the wake-up is its own it goes on without a switch; else it switches to
what became ready, or to the hub.  Cancellation and wake-ups never switch:
they fire a ticket, and the woken vthread is switched to by these two.

Threads: a carrier's own thread only.  A greenlet can never be switched to
from another OS thread; everything here runs on the thread that owns both
greenlets.
"""

from greenlet import _greenlet, greenlet, getcurrent

from .. import _originals as _o

# greenlet frees the greenlets of an OS thread that ended from a pending
# call in the main thread (see _mainthread._reap_deadline).  When a dead
# thread's main greenlet looks pinned, it first scans every object with
# gc.get_referrers ("optional cleanup").  With the GIL disabled, that scan
# races with the threads still running and crashed the interpreter
# (greenlet 3.5.6, CPython 3.13t, threads ending while others run); without
# it, such a rare pinned main greenlet just stays allocated.
if not _o.gil_enabled():
    _greenlet.enable_optional_cleanup(False)

__all__ = ["VGreenlet", "KeptGreenlet", "enter", "leave", "rest", "getcurrent"]


class VGreenlet(greenlet):
    """A vthread's greenlet; ``vt`` points back at its VThread handle."""

    __slots__ = ("vt",)


class KeptGreenlet(VGreenlet):
    """A greenlet that runs vthread after vthread on one carrier
    (``_carrier``'s kept greenlets): ``carrier`` is that carrier."""

    __slots__ = ("carrier",)


def rest(carrier):
    """A kept greenlet whose vthread finished -> the hub, as if it had
    ended; it goes on from here when the hub enters it with its next
    vthread."""
    carrier.hub.switch()


def enter(g):
    """Hub -> vthread ``g``.  Returns when something switches back to the hub."""
    g.switch()


def leave(carrier):
    """Current vthread -> the carrier's next ready vthread, or its hub.

    The current vthread must already be recorded wherever its wake-up will
    come from (a ticket, the run queue); picking itself returns at once.
    """
    g = carrier.pick()
    if g is None and not carrier.runq:
        # Nothing is ready: sleep here rather than in the hub, and if the
        # wake-up is our own, carry on without switching at all.
        carrier.doze_in_place()
        g = carrier.pick()
        if g is getcurrent():
            return
    if g is None:
        carrier.hub.switch()
    else:
        g.switch()
