"""The one-shot wake-up ticket: who wakes a parked task, exactly once.

Every park creates a Ticket holding its task.  Anything that may end the
park -- a waker, a timer, the poller, a canceller, the parked task itself on
timeout -- *claims* the ticket first.  Exactly one claim succeeds; the
others learn they lost and must act accordingly (a waker that loses passes
its wake-up on to the next waiter, so nothing is lost).

Guard: the claim is ``list.pop()`` on a one-element list.  That is a single
operation on a builtin list, serialised by the GIL on ordinary builds and by
the list's per-object lock on free-threaded builds, so exactly one pop
succeeds and every other raises IndexError.  ``value`` is written only by the
winner, before it resumes the task; the resume goes through a lock or the
owner thread, which publishes the write to the task.

Threads: any.
"""

from .. import _originals as _o

class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


# Values a ticket can carry besides a waker's own payload.  Unique objects,
# so no payload (a queue item, say) can ever be mistaken for one.
TIMEOUT = _Sentinel("TIMEOUT")        # the park's deadline passed
INTERRUPT = _Sentinel("INTERRUPT")    # a canceller poked the task


class Ready:
    """What an fd wait's ticket carries when an fd it waits on is ready:
    ``events``, the poller's ``READ | WRITE | HUP | ERR`` for it.  Its own
    class, so block() tells it from any other waker's value without
    guessing from a type (a waker may fire an int).  One shared instance
    per value (``READY``): never changed."""
    __slots__ = ("events",)

    def __init__(self, events):
        self.events = events

    def __repr__(self):
        return f"Ready({self.events})"


READY = tuple(Ready(bits) for bits in range(16))


class Ticket(list):
    __slots__ = ("value", "lock")   # lock: how an OS-thread parker sleeps

    def fire(self, value=None):
        """Claim the ticket and resume its task with ``value``.

        Returns False if somebody else claimed it first.
        """
        try:
            task = self.pop()
        except IndexError:
            return False
        self.value = value
        task._resume(self)
        return True

    def claim(self):
        """Claim without resuming yet: the task, or None if already claimed.

        The claimer must then call ``deliver`` exactly once, or at least
        set ``value`` (``block`` waits for the value of a ticket it could
        not retract).  For a waker that has to decide what to deliver only
        after it won.
        """
        try:
            return self.pop()
        except IndexError:
            return None

    def deliver(self, task, value):
        self.value = value
        task._resume(self)

    def await_value(self):
        """Wait for the value of a ticket somebody else claimed.

        The claimer writes it a few bytecodes after its claim, maybe on
        another thread; a parker that finds its ticket claimed without being
        resumed through its lock or spot waits here.  The real sleep: this
        thread must not park.
        """
        while not hasattr(self, "value"):
            _o.sleep(0)

    def retract(self, value):
        """Claim the ticket from the parked task's own side, without a resume."""
        try:
            self.pop()
        except IndexError:
            return False
        self.value = value
        return True

    def __repr__(self):
        return f"<Ticket {'pending' if self else 'claimed'}>"
