"""A TLS echo server and clients, certificates made with trustme.

    python3 examples/tls_echo.py [--clients N]

Makes a throwaway CA and a certificate for "localhost", serves TLS echo
with one vthread per connection, runs N TLS clients against it and exits
0 if every echo came back intact.
"""

import argparse
import socket
import ssl

import trustme

import vthreads
import vthreads.monkey

vthreads.monkey.patch_socket()
vthreads.monkey.patch_ssl()      # every SSLContext now wraps cooperatively


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    n = ap.parse_args().clients
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = listener.getsockname()[1]

    def handle(raw):
        with server_ctx.wrap_socket(raw, server_side=True) as conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def serve():
        while True:
            raw, _ = listener.accept()
            vthreads.spawn(handle, raw)

    def client(i):
        raw = socket.create_connection(("127.0.0.1", port))
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as s:
            msg = f"secret {i}".encode()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(100)
            return got == msg and s.version() is not None

    vthreads.spawn(serve)
    ok = vthreads.run(lambda: all(vt.result() for vt in
                                  [vthreads.spawn(client, i) for i in range(n)]))
    print(f"{n} TLS clients echoed: {'OK' if ok else 'FAILED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
