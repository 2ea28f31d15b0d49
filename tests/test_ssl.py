"""The cooperative SSLSocket, with certificates from trustme."""

import ssl

import pytest

import vthreads
from vthreads._io import SSLContext, create_connection, create_server
from conftest import run_in

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def contexts():
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server)
    client = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client)
    return server, client


def tls_echo_server(server_ctx):
    srv = create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                raw, _ = srv.accept()
            except OSError:
                return
            vthreads.spawn(handle, raw)

    def handle(raw):
        with server_ctx.wrap_socket(raw, server_side=True) as s:
            f = s.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    return
                s.sendall(line.upper())

    vthreads.spawn(serve)
    return srv, srv.getsockname()[1]


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_tls_echo_handshake_read_write_makefile(contexts, where):
    server_ctx, client_ctx = contexts
    srv, port = tls_echo_server(server_ctx)
    try:
        def client():
            raw = create_connection(("127.0.0.1", port), timeout=10)
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as s:
                assert isinstance(s, vthreads._io.SSLSocket)
                out = []
                for i in range(20):
                    s.sendall(b"line %d\n" % i)
                    got = b""
                    while not got.endswith(b"\n"):
                        got += s.recv(100)
                    out.append(got)
                return out
        assert run_in(where, client) == [b"LINE %d\n" % i for i in range(20)]
    finally:
        srv.close()


def test_many_tls_clients_concurrently(contexts, two_carriers):
    server_ctx, client_ctx = contexts
    srv, port = tls_echo_server(server_ctx)

    def client(i):
        raw = create_connection(("127.0.0.1", port), timeout=30)
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"hello %d\n" % i)
            got = b""
            while not got.endswith(b"\n"):
                got += s.recv(100)
            return got

    try:
        vts = [vthreads.spawn(client, i) for i in range(50)]
        assert [v.result(60) for v in vts] == [b"HELLO %d\n" % i for i in range(50)]
    finally:
        srv.close()


def test_tls_read_timeout_and_cancel(contexts):
    server_ctx, client_ctx = contexts
    srv = create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def silent_server():
        raw, _ = srv.accept()
        s = server_ctx.wrap_socket(raw, server_side=True)
        vthreads.sleep(5)          # says nothing after the handshake
        s.close()

    vthreads.spawn(silent_server)
    raw = create_connection(("127.0.0.1", port), timeout=10)
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.settimeout(0.05)
        with pytest.raises(TimeoutError):
            s.recv(10)
        s.settimeout(None)
        with vthreads.move_on_after(0.05) as scope:
            s.recv(10)
        assert scope.cancelled_caught
    srv.close()


def test_unwrap_back_to_plain_text(contexts):
    server_ctx, client_ctx = contexts
    srv = create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def server():
        raw, _ = srv.accept()
        s = server_ctx.wrap_socket(raw, server_side=True)
        assert s.recv(100) == b"bye tls"
        plain = s.unwrap()
        plain.sendall(b"plain again")
        plain.close()

    sv = vthreads.spawn(server)
    raw = create_connection(("127.0.0.1", port), timeout=10)
    s = client_ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"bye tls")
    plain = vthreads.spawn(s.unwrap).result(10)
    got = b""
    while len(got) < 11:
        got += plain.recv(100)
    assert got == b"plain again"
    plain.close()
    sv.result(10)
    srv.close()
