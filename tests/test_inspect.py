"""python -m vthreads ps / pstree: another process's vthreads, through the
inspect socket (vthreads/_core/_inspect.py, vthreads/_ps.py).

Every child process gets its own XDG_RUNTIME_DIR (a tmp_path), so the
sockets of these tests are theirs alone; every subprocess has a timeout.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Two workers of a task group parked on a lock the main vthread holds; the
# main vthread waits for a line on stdin (in a to_thread helper) and ends.
SERVER = textwrap.dedent("""
    import sys, vthreads

    def worker(lock):
        with lock:
            pass

    def main():
        lock = vthreads.Lock()
        with lock:
            with vthreads.TaskGroup() as tg:
                ws = [tg.spawn(worker, lock, name=f"worker-{i}") for i in range(2)]
                while not all("LOCK_ACQUIRE" in repr(w) for w in ws):
                    vthreads.sleep(0.001)
                with vthreads.move_on_after(600):
                    print("ready", flush=True)
                    vthreads.to_thread(sys.stdin.readline)
                tg.cancel_scope.cancel()

    vthreads.run(main, carriers=1)
""")


def _env(tmp_path, **extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    env.pop("VTHREADS_INSPECT", None)
    env.update(extra)
    return env


class Child:
    """A child process running ``code``, stopped by a line on its stdin."""

    def __init__(self, tmp_path, code=SERVER, **env):
        self.tmp_path = tmp_path
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(tmp_path, **env))
        self.pid = self.proc.pid

    def ready(self):
        line = self.proc.stdout.readline()
        assert line == "ready\n", (line, self.stop())
        return self

    def stop(self, timeout=30):
        try:
            out, err = self.proc.communicate("\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def vthreads_cmd(tmp_path, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "vthreads", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=_env(tmp_path))


def sock_of(tmp_path, pid):
    return tmp_path / "vthreads" / f"{pid}.sock"


def test_ps_lists_the_vthreads_of_a_running_process(tmp_path):
    with Child(tmp_path).ready() as child:
        r = vthreads_cmd(tmp_path, "ps", child.pid)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split()[:5] == ["ID", "PARENT", "CARRIER", "STATE", "AGE"]
        rows = {line.split()[6]: line for line in lines[1:]}
        assert set(rows) == {"VThread-1", "worker-0", "worker-1"}, r.stdout
        for name in ("worker-0", "worker-1"):
            assert "parked" in rows[name] and "LOCK_ACQUIRE Lock" in rows[name]
            assert "<string>:5 worker" in rows[name], r.stdout
        assert "TO_THREAD" in rows["VThread-1"]
        main_id = rows["VThread-1"].split()[0]
        assert rows["worker-0"].split()[1] == main_id       # its parent
        # The deadline of the main vthread's move_on_after(600).
        assert 0 < float(rows["VThread-1"].split()[5].rstrip("s")) <= 600
        assert child.stop()[0] == 0


def test_ps_json_round_trips_the_dump(tmp_path):
    with Child(tmp_path).ready() as child:
        r = vthreads_cmd(tmp_path, "ps", child.pid, "--json")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert data["format"] == "vthreads-dump" and data["version"] == 1
        assert data["pid"] == child.pid
        vts = {v["name"]: v for v in data["vthreads"]}
        main = vts["VThread-1"]
        for name in ("worker-0", "worker-1"):
            w = vts[name]
            assert w["reason"] == "LOCK_ACQUIRE"
            assert w["waiting_on"]["type"] == "vthreads.Lock"
            assert w["parent"] == main["id"]
            assert w["taskgroup"]["owner"] == main["id"]
        assert vts["worker-0"]["waiting_on"]["id"] == vts["worker-1"]["waiting_on"]["id"]
        assert main["scopes"][0]["deadline_in"] > 0
        assert child.stop()[0] == 0


def test_pstree_shows_the_group_under_its_owner(tmp_path):
    with Child(tmp_path).ready() as child:
        r = vthreads_cmd(tmp_path, "pstree", child.pid)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == f"process {child.pid}"
        assert lines[1].startswith("└── VThread-1 (id ") and "TO_THREAD" in lines[1]
        assert lines[2].startswith("    └── TaskGroup 0x"), r.stdout
        assert lines[3].startswith("        ├── worker-0 (id ")
        assert lines[4].startswith("        └── worker-1 (id ")
        assert "LOCK_ACQUIRE Lock" in lines[4]
        assert len(lines) == 5, r.stdout
        assert child.stop()[0] == 0


def test_the_socket_is_owner_only_and_gone_after_exit(tmp_path):
    with Child(tmp_path).ready() as child:
        d = tmp_path / "vthreads"
        assert stat.S_IMODE(os.lstat(d).st_mode) == 0o700
        s = os.lstat(sock_of(tmp_path, child.pid))
        assert stat.S_ISSOCK(s.st_mode)
        assert stat.S_IMODE(s.st_mode) == 0o600
        assert s.st_uid == os.getuid()
        rc, out, err = child.stop()
        assert rc == 0, err
    assert not sock_of(tmp_path, child.pid).exists()
    assert list((tmp_path / "vthreads").iterdir()) == []


def _fails(r, *words):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_ps_of_a_process_that_does_not_exist(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(30)
    # Its pid is free now (and not reused so soon: pids go up).
    _fails(vthreads_cmd(tmp_path, "ps", p.pid), f"no process with pid {p.pid}")
    _fails(vthreads_cmd(tmp_path, "pstree", p.pid), "no process")


def test_ps_of_a_plain_python_process(tmp_path):
    code = "import sys; print('ready', flush=True); sys.stdin.readline()"
    with Child(tmp_path, code).ready() as child:
        _fails(vthreads_cmd(tmp_path, "ps", child.pid),
               f"process {child.pid} is not running vthreads")
        _fails(vthreads_cmd(tmp_path, "pstree", child.pid), "not running vthreads")


def test_ps_of_a_process_with_inspection_off(tmp_path):
    with Child(tmp_path, VTHREADS_INSPECT="0").ready() as child:
        assert not sock_of(tmp_path, child.pid).exists()
        _fails(vthreads_cmd(tmp_path, "ps", child.pid, "--json"),
               "inspection turned off", "VTHREADS_INSPECT=0")
        rc, out, err = child.stop()
        assert rc == 0, err
    assert not (tmp_path / "vthreads").exists()       # not even the directory


def test_ps_of_a_stale_socket(tmp_path):
    # A process that is alive but not listening where its socket is: the
    # socket of a killed process whose pid came back.
    code = "import sys; print('ready', flush=True); sys.stdin.readline()"
    with Child(tmp_path, code).ready() as child:
        d = tmp_path / "vthreads"
        d.mkdir(mode=0o700)
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(sock_of(tmp_path, child.pid)))
        s.close()               # the file stays; nobody listens
        _fails(vthreads_cmd(tmp_path, "ps", child.pid), "stale socket")


NOBODY = 65534


def test_ps_of_another_users_process(tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root, to start a process as another user")
    p = subprocess.Popen(["sleep", "60"], user=NOBODY, group=NOBODY)
    try:
        _fails(vthreads_cmd(tmp_path, "ps", p.pid),
               f"belongs to uid {NOBODY}", "only its own user")
    finally:
        p.kill()
        p.wait(30)


def test_the_process_answers_no_other_uid(tmp_path):
    # Past the permissions (opened up here, as a mistake would), the
    # process itself checks its peer: SO_PEERCRED says another uid, and it
    # closes without a byte.  Its own user is answered on the same socket.
    if os.getuid() != 0 or not hasattr(os, "fork"):
        pytest.skip("needs root, to connect as another user")
    import tempfile
    tmp_path = type(tmp_path)(tempfile.mkdtemp(prefix="vt-inspect-", dir="/tmp"))
    tmp_path.chmod(0o711)      # nobody may pass through (as under /tmp)
    with Child(tmp_path).ready() as child:
        path = str(sock_of(tmp_path, child.pid))
        os.chmod(tmp_path / "vthreads", 0o777)
        os.chmod(path, 0o777)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:                            # pragma: no cover - child
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(30)
                s.connect(path)
                try:        # closed at once: the send may find it gone
                    s.sendall(b"dump\n")
                    got = s.recv(1000)
                except (BrokenPipeError, ConnectionResetError):
                    got = b""
                os.write(wfd, b"empty" if got == b"" else b"answered")
            except BaseException as exc:
                os.write(wfd, repr(exc).encode()[:200])
            os._exit(0)
        os.close(wfd)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(rfd, "rb") as f:
            assert f.read() == b"empty"
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(30)
        s.connect(path)
        s.sendall(b"dump\n")
        assert s.recv(100).startswith(b"{")
        s.close()
        rc, out, err = child.stop()
        assert rc == 0, err
    os.rmdir(tmp_path / "vthreads")
    os.rmdir(tmp_path)


def test_a_directory_open_to_others_is_refused(tmp_path):
    d = tmp_path / "vthreads"
    d.mkdir()
    d.chmod(0o755)
    code = ("import warnings, vthreads\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    vthreads.run(lambda: None)\n"
            "print([str(x.message) for x in w])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "no inspect socket" in r.stdout and "open to others" in r.stdout, r.stdout
    assert list(d.iterdir()) == []


def test_no_socket_before_a_runtime_starts(tmp_path):
    code = ("import os, sys, vthreads\n"
            "d = os.path.join(os.environ['XDG_RUNTIME_DIR'], 'vthreads')\n"
            "print(os.path.exists(d))\n"
            "vthreads.run(lambda: print(os.listdir(d) == [f'{os.getpid()}.sock']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"], r.stdout


FORKER = textwrap.dedent("""
    import os, sys, vthreads
    from vthreads._core._inspect import current_path

    def main():
        parent_path = current_path()
        pid = os.fork()
        if pid == 0:
            # The child goes on with this carrier: its own socket, and
            # the parent's file untouched.
            mine = current_path()
            print(mine != parent_path, os.path.exists(mine),
                  os.path.exists(parent_path), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.path.exists(parent_path), flush=True)

    vthreads.run(main, carriers=1)
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_listens_on_its_own_pid(tmp_path):
    r = subprocess.run([sys.executable, "-c", FORKER], capture_output=True,
                       text=True, timeout=60, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True", "True", "True"], (r.stdout, r.stderr)


def test_ps_needs_a_pid(tmp_path):
    r = vthreads_cmd(tmp_path, "ps")
    assert r.returncode == 2 and "PID" in r.stderr, r.stderr
    r = vthreads_cmd(tmp_path, "pstree", "abc")
    assert r.returncode == 2 and "PID must be an int" in r.stderr, r.stderr


def test_a_script_named_ps_runs_by_its_path(tmp_path):
    (tmp_path / "ps").write_text("print('the script')\n")
    r = subprocess.run([sys.executable, "-m", "vthreads", "./ps"],
                       capture_output=True, text=True, timeout=60,
                       env=_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "the script\n", r.stderr
