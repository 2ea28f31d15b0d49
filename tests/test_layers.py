"""The import contract: layers import downwards only, and only one module
switches greenlets.  Read from the source, no imports executed."""

import ast
import importlib.util
import pathlib
import re

# The package under test, wherever it is installed (the source tree, or a
# wheel in a venv: .ci/run's wheel lanes); found without importing it.
PKG = pathlib.Path(importlib.util.find_spec("vthreads").origin).parent

# Lower number = lower layer.  A module may import only from its own layer
# or below, and from another layer only through that layer's package
# (``from .._core import block``), never one of its private modules
# (``from .._core._runtime import ...``): a package's __init__ is its
# layer's interface.  Every module of the package has a layer here.
LAYERS = {
    "_originals": 0,
    "_spot_c": 0,       # built from native/spot.c; imports nothing
    "_poller": 1,
    "_core": 2,
    "_sync": 3,
    "_io": 4,
    "monkey": 5,
    "_importhook": 5,
    # Integrations (vthreads/<library>.py, named in monkey.INTEGRATIONS,
    # and the gunicorn worker and the Celery pool, named by their users'
    # settings): guests above everything, using only the public API
    # (tested below).
    "psycopg": 6,
    "psycopg2": 6,
    "grpc": 6,
    "gunicorn": 6,
    "celery": 6,
    "__init__": 7,      # the public API
    "__main__": 8,      # python -m vthreads, and its ps / pstree client
    "_ps": 8,
    # vthreads.testing: its own runtimes on a mock clock (from _core), and
    # a pytest plugin that runs tests through the public API.
    "testing": 8,
}


def _is_module(parts):
    """Whether vthreads.<parts> is a module or package of the source."""
    p = PKG.joinpath(*parts) if parts else PKG
    return bool(parts) and (p.with_suffix(".py").is_file()
                            or (p / "__init__.py").is_file())


def _head(parts):
    return "__init__" if not parts else parts[0]


def _references(source, rel):
    """(module parts, line) for every vthreads module that the source at
    ``rel`` (its path inside the package, as parts) names: in an import, as
    an imported name that is a module, and through an alias's attributes
    (``import vthreads._core as c; c._runtime.x`` names _core._runtime)."""
    tree = ast.parse(source)
    here = list(rel[:-1])
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:
                base = here[: len(here) - (node.level - 1)]
                mod = base + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == "vthreads"
                                  or node.module.startswith("vthreads.")):
                mod = node.module.split(".")[1:]
            else:
                continue
            if mod:
                yield mod, node.lineno
            for a in node.names:
                if _is_module(mod + [a.name]):
                    yield mod + [a.name], node.lineno
                    aliases[a.asname or a.name] = mod + [a.name]
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] != "vthreads":
                    continue
                if len(parts) > 1:
                    yield parts[1:], node.lineno
                # "import vthreads.x" binds vthreads; "as n" binds vthreads.x
                aliases[a.asname or "vthreads"] = (
                    parts[1:] if a.asname else [])
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = []
        base = node
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in aliases:
            continue
        parts = list(aliases[base.id])
        for attr in chain:
            if not _is_module(parts + [attr]):
                break
            parts.append(attr)
        if parts != aliases[base.id]:
            yield parts, node.lineno


def _violations(source, rel):
    mine = rel[0][:-3] if len(rel) == 1 else rel[0]
    bad = []
    for parts, line in _references(source, rel):
        head = _head(parts)
        where = f"{'/'.join(rel)}:{line}"
        if LAYERS.get(head, 99) > LAYERS[mine]:
            bad.append(f"{where} imports {'.'.join(parts)} (a higher layer)")
        elif head != mine and len(parts) > 1:
            bad.append(f"{where} reaches into {'.'.join(parts)} (a private "
                       f"module of another layer: import from {head})")
    return bad


def _modules():
    return sorted(PKG.rglob("*.py"))


def test_every_module_has_a_layer():
    heads = {p.relative_to(PKG).parts[0] for p in _modules()}
    heads = {h[:-3] if h.endswith(".py") else h for h in heads}
    assert sorted(heads - set(LAYERS)) == []


def test_imports_flow_down_the_layers_through_each_layers_package():
    bad = []
    for path in _modules():
        bad += _violations(path.read_text(), path.relative_to(PKG).parts)
    assert bad == []


def test_the_layer_check_sees_private_modules_and_aliases():
    """The check above can fail: each of these is one violation."""
    cases = {
        ("_io", "_x.py"): [
            "from .._core._runtime import add_exit_hook",
            "from .._core import _mainthread",
            "from .. import _core as c\nc._runtime.add_exit_hook",
            "import vthreads._core._runtime as rt",
            "import vthreads\nvthreads._core._runtime.check_carriers",
            "from vthreads._core import _dump as d",
            "from .. import monkey",
        ],
        ("_core", "_x.py"): ["from .._sync import Lock",
                             "from .. import _io"],
    }
    for rel, sources in cases.items():
        for src in sources:
            assert len(_violations(src, rel)) >= 1, (rel, src)
    ok = ["from .._core import block, TIMEOUT", "from . import _timeouts",
          "from .. import _originals as _o\n_o.sleep",
          "import vthreads\nvthreads.spawn"]
    for src in ok:
        assert _violations(src, ("_io", "_x.py")) == [], src


def test_only_switch_module_switches_greenlets():
    hits = []
    for path in PKG.rglob("*.py"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\.switch\(", code) and '"""' not in code:
                hits.append(str(path.relative_to(PKG)))
    assert set(hits) == {"_core/_switch.py"}


def test_core_never_names_patchable_blocking_functions():
    """Below the patching layer, the real blocking functions come from
    vthreads._originals only."""
    pattern = re.compile(r"\b(time\.sleep|time\.monotonic|select\.(epoll|poll|select)"
                         r"|threading\.(Lock|Thread|Event|Condition)"
                         r"|_thread\.(allocate_lock|start_new_thread)"
                         r"|os\.(read|write)|socket\.socket)\b")
    bad = []
    for sub in ("_core", "_poller"):
        for path in (PKG / sub).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if pattern.search(code):
                    bad.append(f"{path.relative_to(PKG)}:{i}: {line.strip()}")
    assert bad == []


def test_integrations_use_only_the_public_api():
    """An integration imports ``vthreads`` (and the public
    ``vthreads.monkey``), never a private module; monkey names it without
    importing it (it imports its library)."""
    import vthreads.monkey
    bad = []
    for mod in vthreads.monkey.INTEGRATIONS.values():
        path = PKG / (mod.split(".", 1)[1] + ".py")
        assert LAYERS[path.stem] == 6, path
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names
                    if n.startswith(".") or (n.startswith("vthreads.")
                                             and n != "vthreads.monkey")]
    assert bad == []
