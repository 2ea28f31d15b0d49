"""An HTTP/1.1 server with h11, in plain blocking code.

    python3 examples/http_server.py [--port 8080] [--selftest N]

Each connection is a vthread running h11's state machine over a blocking
socket, with keep-alive.  --selftest N makes N keep-alive clients send 5
requests each to the server and checks every response.
"""

import argparse
import socket

import h11

import vthreads
import vthreads.monkey

vthreads.monkey.patch_socket()

BODY = b"Hello, world!\n"


def handle(conn):
    h = h11.Connection(h11.SERVER)
    with conn:
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                h.receive_data(data)
                if not data and h.their_state is not h11.DONE:
                    return
                continue
            if isinstance(event, h11.Request):
                continue
            if isinstance(event, h11.EndOfMessage):
                headers = [("content-type", "text/plain"),
                           ("content-length", str(len(BODY)))]
                conn.sendall(h.send(h11.Response(status_code=200, headers=headers)))
                conn.sendall(h.send(h11.Data(data=BODY)))
                conn.sendall(h.send(h11.EndOfMessage()))
                if h.our_state is h11.MUST_CLOSE:
                    return
                h.start_next_cycle()
                continue
            if isinstance(event, h11.ConnectionClosed):
                return


def serve(listener):
    while True:
        conn, _ = listener.accept()
        vthreads.spawn(handle, conn)


def client(port, requests):
    h = h11.Connection(h11.CLIENT)
    bodies = []
    with socket.create_connection(("127.0.0.1", port)) as s:
        for _ in range(requests):
            s.sendall(h.send(h11.Request(method="GET", target="/",
                                         headers=[("host", "localhost")])))
            s.sendall(h.send(h11.EndOfMessage()))
            body = b""
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(s.recv(65536))
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            bodies.append(body)
            h.start_next_cycle()
    return bodies == [BODY] * requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--selftest", type=int, metavar="N")
    a = ap.parse_args()
    listener = socket.create_server(("127.0.0.1", 0 if a.selftest else a.port),
                                    backlog=1024)
    port = listener.getsockname()[1]
    if not a.selftest:
        print(f"h11 server on http://127.0.0.1:{port}/")
        vthreads.run(serve, listener)
        return
    vthreads.spawn(serve, listener)
    ok = vthreads.run(lambda: all(vt.result() for vt in
                                  [vthreads.spawn(client, port, 5) for _ in range(a.selftest)]))
    print(f"{a.selftest} keep-alive clients x 5 requests: {'OK' if ok else 'FAILED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
