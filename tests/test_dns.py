"""Name resolution runs on the helper threads, never on a carrier."""

import socket as std
import threading
import time

import vthreads
from vthreads._io import _dns, create_connection, create_server


def test_results_match_the_system_resolver():
    assert _dns.getaddrinfo("localhost", 80, 0, std.SOCK_STREAM) == \
        std.getaddrinfo("localhost", 80, 0, std.SOCK_STREAM)
    assert vthreads.spawn(_dns.gethostbyname, "localhost").result(10) == \
        std.gethostbyname("localhost")
    assert _dns.gethostbyname_ex("localhost")[0] == std.gethostbyname_ex("localhost")[0]
    assert _dns.getnameinfo(("127.0.0.1", 80), std.NI_NUMERICHOST) == \
        std.getnameinfo(("127.0.0.1", 80), std.NI_NUMERICHOST)


def test_slow_resolver_does_not_stall_the_carrier(one_carrier):
    real = _dns._resolver["getaddrinfo"]
    threads = []

    def slow_getaddrinfo(*args):
        threads.append(threading.get_ident())
        time.sleep(0.2)                        # a slow DNS server
        return real(*args)

    _dns._resolver["getaddrinfo"] = slow_getaddrinfo
    trace = []
    try:
        def lookup():
            _dns.getaddrinfo("localhost", 80)
            trace.append("resolved")

        def ticker():
            for i in range(3):
                trace.append(f"tick {i}")
                vthreads.sleep(0.01)

        def main():
            a, b = vthreads.spawn(lookup), vthreads.spawn(ticker)
            a.join()
            b.join()
            return threading.get_ident()

        carrier = vthreads.run(main)
    finally:
        _dns._resolver["getaddrinfo"] = real
    assert trace == ["tick 0", "tick 1", "tick 2", "resolved"]
    assert threads and carrier not in threads


def test_connect_by_host_name_resolves_off_the_carrier():
    srv = create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    calls = []
    real = _dns._resolver["getaddrinfo"]

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    _dns._resolver["getaddrinfo"] = counting
    try:
        def client():
            with create_connection(("localhost", port), timeout=5) as s:
                c2 = vthreads._io.socket()
                with c2:
                    c2.connect(("localhost", port))     # resolved by us too
                return s.getpeername()[1]
        acc = vthreads.spawn(lambda: [srv.accept() for _ in range(2)])
        assert vthreads.spawn(client).result(10) == port
        acc.result(10)
    finally:
        _dns._resolver["getaddrinfo"] = real
        srv.close()
    assert calls.count("localhost") == 2
