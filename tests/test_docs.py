"""The site's programs run and print what their pages show.

The convention, stated in docs/tutorial/index.md and docs/howto/index.md:

- A fenced python block with a file name for a title
  (```` ```python title="hello.py" ````) is a whole program.  Every such
  block of a page is saved under its name in one fresh directory, so a
  program can import or start another of the same page.
- A ```` ```console ```` block runs programs: each line ``$ python3 ...``
  is run there, with this checkout's vthreads on the path, and the lines
  after it, up to the next ``$`` line, are what it must print (stdout and
  stderr together).  ``...`` in them stands for any text, as in doctest.
- Every program on a page is run by a command of the page, or started by
  another program that is.
- A program that reads VTHREADS_PG_DSN or VTHREADS_REDIS_PORT needs that
  server: its commands are skipped when the variable is unset, as the
  integration tests are; a page whose programs import a library that is
  not installed (grpcio on the free-threaded build) is skipped too.

Blocks of other languages, and python blocks without a title, are prose.
The reference pages are checked too: every public name has an entry.
"""

import doctest
import importlib.util
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
PAGES = ["tutorial", "howto"]
SERVERS = ("VTHREADS_PG_DSN", "VTHREADS_REDIS_PORT")

# ```lang attrs ... ```, with the closing fence at the opening's indent.
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.M | re.S)
TITLE = re.compile(r'title="([^"]+)"')


def blocks(path):
    """(language, title or None, code) for each fenced block of a page."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in FENCE.finditer(text):
        info = m.group("info").strip()
        lang = info.split()[0] if info else ""
        title = TITLE.search(info)
        indent = len(m.group("indent"))
        body = "".join(line[indent:] + "\n"
                       for line in m.group("body").splitlines())
        out.append((lang, title.group(1) if title else None, body))
    return out


def page_programs(path):
    """The page's programs {name: code} and its commands [(cmd, expected)]."""
    programs, commands = {}, []
    for lang, title, code in blocks(path):
        if lang == "python" and title and title.endswith(".py"):
            assert title not in programs, f"{path}: two programs named {title}"
            programs[title] = code
        elif lang == "console":
            cmd = None
            for line in code.splitlines():
                if line.startswith("$ "):
                    if cmd is not None:
                        commands.append(cmd)
                    cmd = (line[2:], [])
                elif cmd is not None:
                    cmd[1].append(line)
            if cmd is not None:
                commands.append(cmd)
    return programs, [(c, "\n".join(lines)) for c, lines in commands]


def doc_pages():
    for sub in PAGES:
        for name in sorted(os.listdir(os.path.join(DOCS, sub))):
            if name.endswith(".md"):
                yield os.path.join(sub, name)


def cases():
    for page in doc_pages():
        programs, commands = page_programs(os.path.join(DOCS, page))
        for cmd, expected in commands:
            yield pytest.param(page, cmd, expected, id=f"{page}:{cmd}")


IMPORT = re.compile(r"^(?:import|from)\s+(\w+)", re.M)


def third_party_imports(programs):
    """Top-level modules the programs import that are neither the
    standard library's, vthreads, nor another program of the page."""
    local = {name[:-3] for name in programs} | {"vthreads"}
    return {m for code in programs.values() for m in IMPORT.findall(code)
            if m not in sys.stdlib_module_names and m not in local}


def run_command(page, cmd, tmp_path):
    programs, _ = page_programs(os.path.join(DOCS, page))
    for name, code in programs.items():
        (tmp_path / name).write_text(code)
    argv = shlex.split(cmd)
    assert argv[0] == "python3", f"{page}: only python3 commands run: {cmd!r}"
    script = next((a for a in argv[1:] if a.endswith(".py")), None)
    assert script in programs, f"{page}: {cmd!r} runs no program of the page"
    for var in SERVERS:
        if any(var in code for code in programs.values()) and not os.environ.get(var):
            pytest.skip(f"{var} is not set: no server for {page}")
    for name in sorted(third_party_imports(programs)):
        if importlib.util.find_spec(name) is None:
            # grpcio has no wheel for the free-threaded build, as
            # tests/test_grpc.py says; the page is run where it has one.
            pytest.skip(f"{name} is not installed for {sys.executable}")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT                # this checkout's vthreads
    env["PYTHONUNBUFFERED"] = "1"           # stdout and stderr in order
    if "grpc" in third_party_imports(programs):
        # grpcio's C core logs to stderr on its own now and then (a
        # "Got goaway" line as the channel and server close, about one
        # run in ten): its log, not the page's output.
        env["GRPC_VERBOSITY"] = "NONE"
    return subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)


def assert_output(got, expected):
    checker = doctest.OutputChecker()
    want = expected.strip() + "\n"
    assert checker.check_output(want, got.strip() + "\n", doctest.ELLIPSIS), \
        f"the page shows:\n{want}\nthe program printed:\n{got}"


@pytest.mark.parametrize("page,cmd,expected", list(cases()))
def test_page_command(page, cmd, expected, tmp_path):
    r = run_command(page, cmd, tmp_path)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}:\n{r.stdout}"
    if expected.strip():
        assert_output(r.stdout, expected)


@pytest.mark.parametrize("page", list(doc_pages()))
def test_every_program_runs(page):
    """A program no command reaches would be prose that looks tested."""
    programs, commands = page_programs(os.path.join(DOCS, page))
    run = {a for cmd, _ in commands for a in shlex.split(cmd) if a.endswith(".py")}
    for name, code in programs.items():
        started = name in run or any(
            re.search(rf"\b{re.escape(name[:-3])}\b", other)
            for n, other in programs.items() if n in run and n != name)
        assert started, f"{page}: {name} is never run"


def test_the_tutorial_has_programs():
    """The harness found something: an empty parse must not pass."""
    found = [c for c in cases() if c.values[0].startswith("tutorial/")]
    assert len(found) >= 6


def test_output_check_can_fail():
    assert_output("a 1.5 s\nb\n", "a ... s\nb")
    with pytest.raises(AssertionError):
        assert_output("a\nc\n", "a\nb")


def reference_entries():
    names = set()
    for name in os.listdir(os.path.join(DOCS, "reference")):
        text = open(os.path.join(DOCS, "reference", name), encoding="utf-8").read()
        names.update(re.findall(r"^::: *([\w.]+)", text, re.M))
    return names


def test_reference_covers_every_public_name():
    import vthreads
    import vthreads.monkey
    entries = reference_entries()
    missing = [f"vthreads.{n}" for n in vthreads.__all__
               if f"vthreads.{n}" not in entries]
    monkey = [n for n, v in vars(vthreads.monkey).items()
              if callable(v) and not n.startswith("_")
              and getattr(v, "__module__", None) == "vthreads.monkey"]
    missing += [f"vthreads.monkey.{n}" for n in monkey
                if f"vthreads.monkey.{n}" not in entries
                and "vthreads.monkey" not in entries]
    for name in ("vthreads.gunicorn.Worker", "vthreads.celery.TaskPool"):
        if name not in entries:
            missing.append(name)
    assert not missing, f"no reference entry for {missing}"


def test_every_public_name_has_a_docstring():
    """The reference is made from the docstrings: a bare entry is a gap."""
    import inspect
    import vthreads
    import vthreads.monkey
    bare = []
    objs = [(f"vthreads.{n}", getattr(vthreads, n)) for n in vthreads.__all__]
    objs += [(f"vthreads.monkey.{n}", v) for n, v in vars(vthreads.monkey).items()
             if inspect.isfunction(v) and not n.startswith("_")
             and v.__module__ == "vthreads.monkey"]
    for name, obj in objs:
        if not getattr(obj, "__module__", "").startswith("vthreads"):
            continue        # the stdlib's own (Empty, BrokenBarrierError)
        if not (obj.__doc__ or "").strip():
            bare.append(name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            fn = value.fget if isinstance(value, property) else \
                getattr(value, "__func__", value)
            if inspect.isfunction(fn) and not (fn.__doc__ or "").strip():
                bare.append(f"{name}.{attr}")
    assert not bare, f"no docstring: {bare}"
