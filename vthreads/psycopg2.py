"""psycopg2 under vthreads: a wait callback that parks.

psycopg2 blocks in libpq unless a wait callback is installed
(``psycopg2.extensions.set_wait_callback``, the hook psycogreen uses for
gevent).  With one, psycopg2 runs every connect and query on a
non-blocking connection and calls the callback whenever it would wait;
the callback polls the connection and, between polls, parks the vthread
with ``vthreads.wait_readable`` / ``wait_writable`` -- or blocks the OS
thread it runs in, for plain threads.

Cancellation: ``vthreads.Cancelled`` raised while a query runs asks the
server to cancel it (``conn.cancel()``, as psycopg2 documents for other
threads), then propagates -- so cancel scopes and their deadlines work as
everywhere else.  psycopg2 closes a connection whose wait callback raised
(its own rule, and it knows no other way back to a known state): a pool
(SQLAlchemy's, psycopg2.pool) replaces it; a connection of one's own must
be opened again.  (psycogreen instead swallows Ctrl-C and lets the query
fail with QueryCanceledError; a cancel scope could not catch that.)

What still blocks the carrier: the cancel request itself (libpq's
PQcancel, one loopback round trip), and name resolution inside libpq when
a host name, not an address, is given.

Threads: the callback is process-wide; it runs in whatever thread or
vthread uses a connection, and touches only that connection.
"""

from typing import Any

import psycopg2
from psycopg2 import extensions

import vthreads

_WAITS = {extensions.POLL_READ: vthreads.wait_readable,
          extensions.POLL_WRITE: vthreads.wait_writable}
_patched: list[Any] = []            # [the callback psycopg2 had], while patched


def _poll(conn):
    """Poll ``conn`` until its operation is done, parking between polls."""
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        wait = _WAITS.get(state)
        if wait is None:
            raise psycopg2.OperationalError(f"bad state from poll: {state}")
        wait(conn.fileno())


def wait_callback(conn, cursor=None):
    """psycopg2's wait callback: park until ``conn``'s operation is done."""
    try:
        _poll(conn)
    except vthreads.Cancelled:
        # psycopg2 closes a connection whose callback raised; the server
        # would run the query on to its end, so cancel it first.
        if conn.info.transaction_status == extensions.TRANSACTION_STATUS_ACTIVE:
            try:
                conn.cancel()
            except psycopg2.Error:
                pass            # gone already: nothing runs
        raise


def patch():
    """Install the wait callback (idempotent)."""
    if not _patched:
        _patched.append(extensions.get_wait_callback())
        extensions.set_wait_callback(wait_callback)


def unpatch():
    """Put back the callback psycopg2 had (normally none)."""
    if _patched:
        extensions.set_wait_callback(_patched.pop())
