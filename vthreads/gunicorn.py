"""A gunicorn worker that serves each connection in a vthread.

    gunicorn -k vthreads.gunicorn.Worker app:app

An integration, so a guest: it imports gunicorn (only when this module is
imported) and uses nothing of vthreads but its public API.  See
docs/integrations.md for how to run it and what it costs.

The worker process, after gunicorn forks it:

1. ``init_process`` patches everything (``vthreads.monkey.patch_all()``)
   before gunicorn loads the application, so the app and its libraries
   see the cooperative socket, time, threading and the rest.  With
   ``--preload`` the app was imported in the master, before any patching:
   the modules that kept references to blocking functions are named in a
   warning, and the fix is to patch in the master too (the first line of
   ``gunicorn.conf.py``).
2. ``run`` hands the main thread to ``vthreads.run``: the serving code is
   the main vthread, and gunicorn's signal handlers keep running in the
   main OS thread, as gunicorn installed them.  An exception a handler
   raises (``sys.exit`` in SIGQUIT/SIGINT's) is thrown into the main
   vthread, which is how "stop at once" stops.
3. One acceptor vthread per listening socket takes a slot of
   ``--worker-connections`` before each ``accept``, and one vthread per
   connection runs gunicorn's own HTTP loop (``AsyncWorker.handle``),
   keep-alive included.
4. The main vthread is the heartbeat: it calls ``notify`` every
   ``timeout / 2`` seconds (at most 1 s) until ``alive`` turns false, and
   does what the signal handlers only note (see ``handle_exit``).
5. SIGTERM (``alive = False``): the acceptors stop, idle keep-alive
   connections are closed, requests in flight get ``graceful_timeout`` to
   finish (less a margin, at most 1 s, since the master kills the worker
   when it is up), then whatever is left is cancelled.  The worker exits 0.

Per-request timeout: ``VTHREADS_REQUEST_TIMEOUT=seconds`` in the worker's
environment (``gunicorn -e VTHREADS_REQUEST_TIMEOUT=5`` or the real
environment) runs each request in a cancel scope with that deadline.  A
request that overruns it is cancelled at its next park and answered
``503 Service Unavailable``, or, if its response had begun, its
connection is closed.  gunicorn's own ``--timeout`` stays what it is: the
heartbeat after which the master kills a silent worker.

Threads: everything here runs in vthreads of the worker process, except
gunicorn's signal handlers, which run in the main OS thread and only set
``alive``, write to gunicorn's pipe or raise.
``_handlers`` and ``_idle`` are touched by vthreads of one runtime; with
more than one carrier they may run in parallel, so ``_lock`` guards them.
``_responses`` has one key per connection vthread, written and removed by
that vthread only (a dict is safe for that under free threading).
"""

import os
import socket
import sys
import warnings
from contextlib import contextmanager

from gunicorn import sock as _gsock
from gunicorn import util
from gunicorn.workers.base_async import AsyncWorker

import vthreads
import vthreads.monkey

__all__ = ["Worker"]

REQUEST_TIMEOUT_ENV = "VTHREADS_REQUEST_TIMEOUT"


def _request_timeout(environ):
    raw = environ.get(REQUEST_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{REQUEST_TIMEOUT_ENV} must be a number of "
                         f"seconds, not {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{REQUEST_TIMEOUT_ENV} must be a finite number "
                         f"of seconds >= 0, not {raw!r}")
    return value or None            # 0 turns it off


class Worker(AsyncWorker):
    """gunicorn worker class: a vthread per connection.

    ``gunicorn -k vthreads.gunicorn.Worker app:app``.  The worker patches
    everything before it loads the app; ``--worker-connections`` bounds
    the connections in flight.  ``VTHREADS_REQUEST_TIMEOUT=seconds`` in
    its environment gives each request a cancel scope with that deadline:
    an overrun request is cancelled at its next park and answered 503.
    SIGTERM drains (requests in flight get ``--graceful-timeout``, then
    are cancelled); SIGQUIT and SIGINT stop at once.  gunicorn calls its
    methods; an application never does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._request_timeout = None
        self._lock = None
        self._handlers = set()      # the connections' vthreads
        self._idle = set()          # their keep-alive waits' scopes
        self._responses = {}        # vthread -> its current Response

    # -- start-up -------------------------------------------------------

    def init_process(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            vthreads.monkey.patch_all()
        for w in caught:
            self.log.warning("vthreads: %s", w.message)
        if self.cfg.preload_app and caught:
            self.log.warning(
                "vthreads: with --preload the application was imported "
                "before this worker patched the standard library; patch in "
                "the master as well, with 'import vthreads.monkey; "
                "vthreads.monkey.patch_all()' as the first lines of the "
                "gunicorn config file")
        # Everything below is created after patching: the cooperative
        # primitives, and sockets the poller can wait on.
        import threading
        self._lock = threading.Lock()
        self._request_timeout = _request_timeout(os.environ)
        self.sockets = [socket.socket(s.FAMILY, socket.SOCK_STREAM,
                                      fileno=s.sock.detach())
                        for s in self.sockets]
        super().init_process()

    def init_signals(self):
        super().init_signals()
        # gunicorn points the signal wake-up fd at its own pipe, which only
        # its sync worker reads.  vthreads.run() needs the wake-up fd so
        # that a signal taken by a carrier thread still wakes the waiting
        # main thread, whose handlers must run.
        import signal
        signal.set_wakeup_fd(-1)

    # A Python signal handler runs in the main thread between any two
    # bytecodes, also in the middle of vthreads' own code that waits there
    # in run(), holding its locks: a handler that took a vthreads lock
    # (Event.set, spawn) could deadlock against the very code it
    # interrupted.  So the handlers only set ``alive`` and write a byte to
    # gunicorn's wake-up pipe, which the heartbeat vthread reads; or raise.

    def handle_exit(self, sig, frame):
        # SIGTERM: the graceful stop.
        self.alive = False
        self._wake(b"t")

    def handle_usr1(self, sig, frame):
        self._wake(b"u")            # reopen the logs, in the heartbeat

    def handle_quit(self, sig, frame):
        # SIGQUIT, SIGINT: as gunicorn's, minus its sleep in the handler.
        self.alive = False
        self.cfg.worker_int(self)
        sys.exit(0)

    def _wake(self, byte):
        try:
            os.write(self.PIPE[1], byte)
        except OSError:         # full: the heartbeat has bytes to read anyway
            pass

    # -- the main loop --------------------------------------------------

    def run(self):
        vthreads.run(self._serve)

    def _serve(self):
        slots = vthreads.BoundedSemaphore(self.worker_connections)
        acceptors = [vthreads.spawn(self._accept_loop, listener, slots,
                                    name=f"gunicorn-accept-{i}")
                     for i, listener in enumerate(self.sockets)]
        try:
            self._heartbeat()
            self._stop_accepting(acceptors)
            self._drain()
        finally:
            # Also the way out of SIGQUIT/SIGINT's sys.exit(), thrown in
            # here: stop at once.
            self._stop_accepting(acceptors)
            self._cancel_connections()

    def _stop_accepting(self, acceptors):
        for vt in acceptors:
            vt.cancel()
        for vt in acceptors:
            vt.join()
        for listener in self.sockets:
            util.close(listener)

    def _heartbeat(self):
        interval = max(0.05, min(1.0, self.timeout / 2))
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
                break
            try:
                vthreads.wait_readable(self.PIPE[0], timeout=interval)
            except TimeoutError:
                continue
            try:
                got = os.read(self.PIPE[0], 4096)
            except BlockingIOError:
                continue
            if b"u" in got:
                self.log.reopen_files()

    def _accept_loop(self, listener, slots):
        while self.alive:
            slots.acquire()
            try:
                client, addr = listener.accept()
            except BaseException:
                slots.release()
                raise
            vt = vthreads.spawn(self._connection, listener, client, addr,
                                slots, name="gunicorn-connection")
            with self._lock:
                if not vt.done():
                    self._handlers.add(vt)

    def _connection(self, listener, client, addr, slots):
        try:
            client.setblocking(True)
            if self.cfg.is_ssl:
                client = _gsock.ssl_wrap_socket(client, self.cfg)
            self.handle(listener, client, addr)
        except vthreads.Cancelled:
            util.close(client)      # cancelled at shutdown
        finally:
            slots.release()
            with self._lock:
                self._handlers.discard(vthreads.current())

    def _drain(self):
        """Close idle keep-alive connections, give the requests in flight
        ``graceful_timeout`` to finish, then cancel what is left."""
        with self._lock:
            idle = list(self._idle)
            handlers = list(self._handlers)
        for scope in idle:
            scope.cancel()
        # The master kills the worker graceful_timeout after its SIGTERM:
        # stop waiting a little before, to cancel and exit on our own.
        grace = self.cfg.graceful_timeout
        with vthreads.move_on_after(max(0.0, grace - min(1.0, grace / 4))):
            for vt in handlers:
                while not vt.done():
                    self.notify()
                    vt.join(1.0)
        if any(not vt.done() for vt in handlers):
            self.log.warning("Worker graceful timeout (pid:%s)", self.pid)

    def _cancel_connections(self):
        with self._lock:
            left = list(self._handlers)
        for vt in left:
            vt.cancel()
        for vt in left:
            vt.join(1.0)

    # -- what AsyncWorker.handle calls ----------------------------------

    @contextmanager
    def timeout_ctx(self):
        """The wait for a keep-alive connection's next request: at most
        ``keepalive`` seconds, and cut short by a graceful stop (a request
        left as None ends the connection)."""
        scope = vthreads.move_on_after(self.cfg.keepalive)
        with self._lock:
            self._idle.add(scope)
        try:
            if not self.alive:
                scope.cancel()
            with scope:
                yield
        finally:
            with self._lock:
                self._idle.discard(scope)

    def handle_error(self, req, client, addr, exc):
        # AsyncWorker.handle sends every BaseException here, to be answered
        # 500; a cancelled connection is not an error of the application.
        if isinstance(exc, vthreads.Cancelled):
            raise exc
        super().handle_error(req, client, addr, exc)

    def load_wsgi(self):
        super().load_wsgi()
        if self._request_timeout is None:
            return
        app = self.wsgi
        responses = self._responses

        def wsgi(environ, start_response):
            # start_response is the Response's bound method: remember the
            # Response, so a request timeout knows whether it had begun.
            responses[vthreads.current()] = getattr(
                start_response, "__self__", None)
            return app(environ, start_response)

        self.wsgi = wsgi

    def handle_request(self, listener_name, req, sock, addr):
        if self._request_timeout is None:
            return super().handle_request(listener_name, req, sock, addr)
        me = vthreads.current()
        try:
            with vthreads.move_on_after(self._request_timeout) as scope:
                return super().handle_request(listener_name, req, sock,
                                              addr)
        finally:
            resp = self._responses.pop(me, None)
        assert scope.cancelled_caught
        self.log.warning("Request timed out after %gs: %s %s",
                         self._request_timeout, req.method, req.uri)
        if resp is not None and resp.headers_sent:
            try:             # half a response went out: end it there
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            util.write_error(sock, 503, "Service Unavailable",
                             "The request timed out")
        raise StopIteration()       # AsyncWorker.handle closes the socket

