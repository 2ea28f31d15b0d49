"""python -m vthreads ps PID [--json] | pstree PID: another process's vthreads.

The client side of the inspect listener (``_core/_inspect.py``): it
connects to the socket of process PID in this user's directory, asks for
the dump and prints it as a table (``ps``), a tree by parent and task group
(``pstree``), or the JSON itself (``ps --json``).  Every way of not getting
an answer -- no such process, another user's, one without vthreads or with
``VTHREADS_INSPECT=0``, a stale socket, no answer in time -- is one line
on stderr and exit status 1, never a traceback; a bad argument is
argparse's status 2.

Threads: the main thread of the ``python -m vthreads`` process; no
runtime is started here.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

from vthreads._core import DUMP_FORMAT as FORMAT, DUMP_VERSION as VERSION
from vthreads._core import socket_path

COMMANDS = ("ps", "pstree")


class InspectError(Exception):
    """Why process PID could not be asked; the message is for people."""


def _owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _inspect_off(pid):
    """True if PID was started with VTHREADS_INSPECT=0 (Linux, best effort)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return False
    for item in env:
        if item.startswith(b"VTHREADS_INSPECT="):
            value = item.split(b"=", 1)[1].strip().lower()
            return value in (b"0", b"off", b"no", b"false")
    return False


def fetch(pid: int, timeout: float = 1.0) -> dict:
    """The dump of process ``pid``, as data; InspectError if there is none.
    ``timeout``: how long the process may wait for its carriers."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise InspectError(f"no process with pid {pid}") from None
    except PermissionError:
        raise InspectError(f"process {pid} belongs to another user: only "
                           f"its own user may inspect it") from None
    owner = _owner(pid)
    if owner is not None and owner != os.getuid():
        raise InspectError(f"process {pid} belongs to uid {owner}, not to "
                           f"you (uid {os.getuid()}): only its own user may "
                           f"inspect it")
    path = socket_path(pid)
    if not os.path.exists(path):
        if _inspect_off(pid):
            raise InspectError(f"process {pid} runs with inspection turned "
                               f"off (VTHREADS_INSPECT=0)")
        raise InspectError(
            f"process {pid} is not running vthreads (no socket {path}); a "
            f"vthreads process listens once its runtime has started, unless "
            f"VTHREADS_INSPECT=0")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout + 10.0)
    try:
        try:
            s.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            raise InspectError(
                f"process {pid} does not listen on {path}: a stale socket, "
                f"left by an earlier process that was killed") from None
        s.sendall(f"dump {timeout}\n".encode())
        chunks = []
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        raise InspectError(f"process {pid} did not answer within "
                           f"{timeout + 10.0:g} s") from None
    except OSError as exc:
        raise InspectError(f"process {pid}: {exc.strerror or exc}") from None
    finally:
        s.close()
    raw = b"".join(chunks)
    if not raw:
        raise InspectError(f"process {pid} closed the connection without "
                           f"answering (it answers only its own user)")
    try:
        data = json.loads(raw)
    except ValueError:
        raise InspectError(f"process {pid} sent something that is not a "
                           f"vthreads dump") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InspectError(f"process {pid} sent something that is not a "
                           f"vthreads dump: {raw[:80]!r}")
    if data.get("version") != VERSION:
        raise InspectError(f"process {pid} speaks dump version "
                           f"{data.get('version')}, this vthreads {VERSION}")
    return data


# --- rendering ----------------------------------------------------------------

def _where(stack):
    """The innermost frame outside vthreads itself, as file:line function."""
    if not stack:
        return ""
    mine = [f for f in stack if f"{os.sep}vthreads{os.sep}_" not in f["file"]]
    f = (mine or stack)[-1]
    return f"{os.path.basename(f['file'])}:{f['line']} {f['function']}"


def _waiting(r):
    if r["state"] != "parked":
        return ""
    obj = r["waiting_on"]
    what = r["reason"] or "?"
    if obj is not None:
        what += " " + obj["type"].rsplit(".", 1)[-1]
    return what


def _age(seconds):
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _nearest_deadline(r):
    ins = [s["deadline_in"] for s in r["scopes"] if s["deadline_in"] is not None]
    return f"{min(ins):.1f}s" if ins else ""


def _blocked_lines(data):
    out = []
    for c in data["carriers"]:
        if c.get("blocked"):
            out.append(f"carrier {c['index']} is BLOCKED: no return to its "
                       f"hub in {data['timeout']}s; it is running "
                       f"{_where(c.get('stack')) or '(unknown)'}; its "
                       f"vthreads are not listed")
    if not data["running"]:
        out.append("no runtime is running")
    return out


def format_ps(data: dict) -> str:
    """A table of the vthreads of a dump, one line each."""
    head = ("ID", "PARENT", "CARRIER", "STATE", "AGE", "DEADLINE", "NAME",
            "WAITING ON", "WHERE")
    rows = [head]
    for r in sorted(data["vthreads"], key=lambda r: r["id"]):
        rows.append((str(r["id"]), str(r["parent"] or "-"),
                     str(r["carrier"]), r["state"], _age(r["age"]),
                     _nearest_deadline(r) or "-", r["name"],
                     _waiting(r) or "-", _where(r["stack"]) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  "
             + row[-1] for row in rows]
    lines = [line.rstrip() for line in lines]
    return "\n".join(lines + _blocked_lines(data)) + "\n"


def _label(r):
    text = f"{r['name']} (id {r['id']}) {r['state']}"
    waiting = _waiting(r)
    if waiting:
        text += f" on {waiting}"
    where = _where(r["stack"])
    if where:
        text += f"  [{where}]"
    return text


def format_pstree(data: dict) -> str:
    """The vthreads of a dump as a tree: each under the vthread that
    spawned it, task-group children under their group."""
    recs = {r["id"]: r for r in data["vthreads"]}
    kids: dict[int | None, list] = {}
    for r in sorted(recs.values(), key=lambda r: r["id"]):
        p = r["parent"] if r["parent"] in recs else None
        kids.setdefault(p, []).append(r)
    lines = [f"process {data['pid']}"]

    def node(r, prefix, last):
        lines.append(prefix + ("└── " if last else "├── ") + _label(r))
        sub = prefix + ("    " if last else "│   ")
        entries: list = []          # ("vt", record) or ("group", id, [records])
        groups: dict[int, list] = {}
        for k in kids.get(r["id"], ()):
            g = k["taskgroup"]
            if g is not None and g["owner"] == r["id"]:
                if g["id"] not in groups:
                    groups[g["id"]] = []
                    entries.append(("group", g["id"], groups[g["id"]]))
                groups[g["id"]].append(k)
            else:
                entries.append(("vt", k))
        for i, e in enumerate(entries):
            end = i == len(entries) - 1
            if e[0] == "vt":
                node(e[1], sub, end)
                continue
            lines.append(sub + ("└── " if end else "├── ")
                         + f"TaskGroup 0x{e[1]:x}")
            members = e[2]
            for j, k in enumerate(members):
                node(k, sub + ("    " if end else "│   "),
                     j == len(members) - 1)

    roots = kids.get(None, [])
    for i, r in enumerate(roots):
        node(r, "", i == len(roots) - 1)
    return "\n".join(lines + _blocked_lines(data)) + "\n"


# --- the command ----------------------------------------------------------------

def _pid(text):
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"PID must be an int, not {text!r}") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"PID must be positive, not {pid}")
    return pid


def _seconds(text):
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"timeout must be a number, not {text!r}") from None
    if not 0 <= t <= 30:
        raise argparse.ArgumentTypeError(
            f"timeout must be between 0 and 30 seconds, not {text}")
    return t


def _parser(command):
    what = ("a table of the vthreads" if command == "ps"
            else "a tree of the vthreads, by parent and task group")
    p = argparse.ArgumentParser(
        prog=f"python -m vthreads {command}",
        description=f"Show {what} of another running process of yours "
                    f"(its runtime must have started; VTHREADS_INSPECT=0 "
                    f"turns this off).")
    p.add_argument("pid", type=_pid, metavar="PID")
    if command == "ps":
        p.add_argument("--json", action="store_true",
                       help="print the dump as JSON (the shape of "
                            "vthreads.dump(format='json'))")
    p.add_argument("--timeout", type=_seconds, default=1.0, metavar="SECONDS",
                   help="how long the process waits for its carriers "
                        "(default 1.0)")
    return p


def main(argv: list[str]) -> int:
    """``argv`` starts with the command, ``ps`` or ``pstree``."""
    command, args = argv[0], argv[1:]
    ns = _parser(command).parse_args(args)
    try:
        data = fetch(ns.pid, ns.timeout)
    except InspectError as exc:
        print(f"python -m vthreads {command}: {exc}", file=sys.stderr)
        return 1
    if command == "pstree":
        out = format_pstree(data)
    elif ns.json:
        out = json.dumps(data, indent=1) + "\n"
    else:
        out = format_ps(data)
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0
