"""An echo server in plain blocking code, one vthread per connection.

    python3 examples/echo_server.py [--port 8007] [--selftest N]

Without --selftest it serves until Ctrl-C.  With --selftest N it serves on
a free port, runs N concurrent clients against itself and exits 0 if every
echo came back intact.
"""

import argparse
import socket

import vthreads
import vthreads.monkey

vthreads.monkey.patch_socket()        # plain socket code below now parks


def handle(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def serve(listener):
    while True:
        conn, _ = listener.accept()
        vthreads.spawn(handle, conn)


def client(port, i):
    with socket.create_connection(("127.0.0.1", port)) as s:
        msg = f"hello {i}\n".encode() * 10
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            got += s.recv(65536)
        return got == msg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8007)
    ap.add_argument("--selftest", type=int, metavar="N")
    a = ap.parse_args()
    listener = socket.create_server(("127.0.0.1", 0 if a.selftest else a.port),
                                    backlog=1024)
    port = listener.getsockname()[1]
    if not a.selftest:
        print(f"echo server on 127.0.0.1:{port}")
        vthreads.run(serve, listener)
        return
    vthreads.spawn(serve, listener)
    ok = vthreads.run(lambda: all(vt.result() for vt in
                                  [vthreads.spawn(client, port, i) for i in range(a.selftest)]))
    print(f"{a.selftest} clients echoed: {'OK' if ok else 'FAILED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
