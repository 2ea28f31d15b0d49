"""A line-based chat server built on channels.

    python3 examples/chat_server.py [--port 8008] [--selftest N]

Every connection has a reader vthread that sends lines into one shared
``broadcast`` channel and a writer vthread fed by its own channel; one
hub vthread fans each line out.  --selftest N connects N clients, has each
say hello, and checks that every client heard every hello.
"""

import argparse
import socket

import vthreads
import vthreads.monkey

vthreads.monkey.patch_socket()


class Chat:
    def __init__(self):
        self.broadcast = vthreads.Channel(64)
        self.members = {}                     # conn -> its own Channel
        self.lock = vthreads.Lock()

    def hub(self):
        for line in self.broadcast:
            with self.lock:
                outboxes = list(self.members.values())
            for out in outboxes:
                try:
                    out.send_nowait(line)
                except (BlockingIOError, vthreads.ChannelClosed):
                    pass                      # a slow or leaving member

    def join(self, conn):
        out = vthreads.Channel(256)
        with self.lock:
            self.members[conn] = out
        writer = vthreads.spawn(self.writer, conn, out)
        try:
            for line in conn.makefile("rb"):
                self.broadcast.send(line)
        finally:
            with self.lock:
                del self.members[conn]
            out.close()
            writer.join()
            conn.close()

    @staticmethod
    def writer(conn, out):
        for line in out:
            try:
                conn.sendall(line)
            except OSError:
                return


def serve(listener, chat):
    vthreads.spawn(chat.hub)
    while True:
        conn, _ = listener.accept()
        vthreads.spawn(chat.join, conn)


def selftest(port, n):
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    vthreads.sleep(0.1)                       # everyone has joined
    for i, c in enumerate(conns):
        c.sendall(b"hello from %d\n" % i)
    expected = {b"hello from %d\n" % i for i in range(n)}

    def hear(c):
        f = c.makefile("rb")
        got = {f.readline() for _ in range(n)}
        return got == expected

    ok = all(vt.result(30) for vt in [vthreads.spawn(hear, c) for c in conns])
    for c in conns:
        c.close()
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8008)
    ap.add_argument("--selftest", type=int, metavar="N")
    a = ap.parse_args()
    listener = socket.create_server(("127.0.0.1", 0 if a.selftest else a.port),
                                    backlog=1024)
    port = listener.getsockname()[1]
    chat = Chat()
    if not a.selftest:
        print(f"chat on 127.0.0.1:{port} (try: nc 127.0.0.1 {port})")
        vthreads.run(serve, listener, chat)
        return
    vthreads.spawn(serve, listener, chat)
    ok = vthreads.run(selftest, port, a.selftest)
    print(f"{a.selftest} chatters all heard each other: {'OK' if ok else 'FAILED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
