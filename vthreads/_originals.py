"""The real blocking functions, captured once, at import.

Rule: code below the patching layer never looks up a stdlib name that
monkeypatching may replace.  It takes the original from here.  This module
imports nothing from vthreads and is imported before anything is patched
(``vthreads.monkey`` imports ``vthreads`` first), so every name below is the
interpreter's own.

Threads: read-only after import; any thread may use it.
"""

import _thread
import os
import select
import signal
import selectors
import socket
import sys
import threading
import time
from typing import Any

monotonic = time.monotonic
sleep = time.sleep

allocate_lock = _thread.allocate_lock
RLock = _thread.RLock
TIMEOUT_MAX = _thread.TIMEOUT_MAX
thread_count = _thread._count
interrupt_main = _thread.interrupt_main
register_at_fork = os.register_at_fork
set_blocking = os.set_blocking
get_ident = _thread.get_ident
get_native_id = _thread.get_native_id
Thread = threading.Thread
enumerate_threads = threading.enumerate
main_thread_ident = threading.main_thread().ident
signal_signal = signal.signal
signal_set_wakeup_fd = signal.set_wakeup_fd
signal_getsignal = signal.getsignal
valid_signals = signal.valid_signals
SIG_DFL = signal.SIG_DFL
SIG_IGN = signal.SIG_IGN
default_int_handler = signal.default_int_handler
raise_signal = signal.raise_signal
signal_pause = getattr(signal, "pause", None)
pidfd_send_signal = getattr(signal, "pidfd_send_signal", None)
pthread_kill = getattr(signal, "pthread_kill", None)
pthread_getcpuclockid = getattr(time, "pthread_getcpuclockid", None)
clock_gettime = getattr(time, "clock_gettime", None)
Condition = threading.Condition
ThreadLocal = _thread._local
# Runs before threading joins non-daemon threads at exit (concurrent.futures
# uses the same hook).  Absent on very old Pythons; we require 3.11+.
register_atexit = threading._register_atexit  # type: ignore[attr-defined]

epoll = getattr(select, "epoll", None)
EPOLLIN = getattr(select, "EPOLLIN", 0x001)
EPOLLOUT = getattr(select, "EPOLLOUT", 0x004)
EPOLLPRI = getattr(select, "EPOLLPRI", 0x002)
EPOLLERR = getattr(select, "EPOLLERR", 0x008)
EPOLLHUP = getattr(select, "EPOLLHUP", 0x010)
EPOLLONESHOT = getattr(select, "EPOLLONESHOT", 1 << 30)
EPOLLET = getattr(select, "EPOLLET", 1 << 31)
EPOLLRDHUP = getattr(select, "EPOLLRDHUP", 0x2000)
poll = getattr(select, "poll", None)
POLLIN = getattr(select, "POLLIN", 0x001)
POLLOUT = getattr(select, "POLLOUT", 0x004)
POLLERR = getattr(select, "POLLERR", 0x008)
POLLHUP = getattr(select, "POLLHUP", 0x010)
POLLNVAL = getattr(select, "POLLNVAL", 0x020)
POLLPRI = getattr(select, "POLLPRI", 0x002)
POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
DefaultSelector = selectors.DefaultSelector
# Any: a base class below when present (the type checker sees Linux).
PollSelector: Any = getattr(selectors, "PollSelector", None)
EpollSelector: Any = getattr(selectors, "EpollSelector", None)
SelectSelector = selectors.SelectSelector

eventfd = getattr(os, "eventfd", None)
eventfd_read = getattr(os, "eventfd_read", None)
eventfd_write = getattr(os, "eventfd_write", None)
EFD_NONBLOCK = getattr(os, "EFD_NONBLOCK", 0)
EFD_CLOEXEC = getattr(os, "EFD_CLOEXEC", 0)
os_read = os.read
os_write = os.write
import fcntl as _fcntl   # noqa: E402 (POSIX, as everything here)
fcntl = _fcntl.fcntl
F_GETFL = _fcntl.F_GETFL
O_ACCMODE = os.O_ACCMODE
O_RDONLY = os.O_RDONLY
O_WRONLY = os.O_WRONLY
waitpid = os.waitpid
pidfd_open = getattr(os, "pidfd_open", None)
WNOHANG = os.WNOHANG
os_close = os.close
os_open = os.open
pread = os.pread
os_pipe = os.pipe
socketpair = socket.socketpair
socket_class = socket.socket
create_server = socket.create_server
getaddrinfo = socket.getaddrinfo
gethostbyname = socket.gethostbyname
gethostbyname_ex = socket.gethostbyname_ex
gethostbyaddr = socket.gethostbyaddr
getnameinfo = socket.getnameinfo
inet_pton = socket.inet_pton
getdefaulttimeout = socket.getdefaulttimeout


def gil_enabled():
    """True unless this is a free-threaded build running with the GIL off."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else probe()
