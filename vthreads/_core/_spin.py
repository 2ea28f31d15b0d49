"""Spin briefly before sleeping, on free-threaded builds only.

A wait that ends within a few tens of microseconds is cheaper to watch
than to sleep through: waking a sleeping thread costs a futex wake and a
trip through the scheduler.  CPython's own locks spin like this (40
yields) before they park, but our parks do more work between the wake-up
and the response, so a ping-pong between a carrier and an OS thread
outlasts that spin and both sides ended up asleep on every hand-off.

With the GIL enabled, spinning only competes for the GIL with the thread
it waits for, so ``spins()`` is 0 there (and on one CPU).  The GIL is
asked each time: an extension module may turn it back on at import.

Threads: any; nothing here is shared.
"""

import os
import sys

SPINS = 200             # sched_yield()s, roughly 50-100 us on an idle CPU

spin_yield = os.sched_yield if hasattr(os, "sched_yield") else None
_gil_enabled = getattr(sys, "_is_gil_enabled", None)
MULTI_CPU = (os.cpu_count() or 1) > 1

# False where spins() would always be 0 (a build without
# sys._is_gil_enabled has the GIL for good; no sched_yield; one CPU), so
# a parker need not even ask: this is on every park.
CAN_SPIN = _gil_enabled is not None and spin_yield is not None and MULTI_CPU


def spins():
    """How many times a parker may yield before it sleeps (CAN_SPIN only)."""
    return 0 if _gil_enabled() else SPINS
