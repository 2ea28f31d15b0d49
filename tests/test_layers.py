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
# or below.
LAYERS = {
    "_originals": 0,
    "_spot_c": 0,       # built from native/spot.c; imports nothing
    "_poller": 1,
    "_core": 2,
    "_sync": 3,
    "_io": 4,
    "monkey": 5,
    "_importhook": 5,
    # Integrations (vthreads/<library>.py, named in monkey.INTEGRATIONS):
    # guests above everything, using only the public API (tested below).
    "psycopg": 6,
    "psycopg2": 6,
    "grpc": 6,
}


def _layer_of(path):
    rel = path.relative_to(PKG).parts
    head = rel[0][:-3] if rel[0].endswith(".py") else rel[0]
    return LAYERS.get(head, 99)


def _imported_layers(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            # Resolve the relative import to a top-level vthreads module.
            here = path.relative_to(PKG).parts[:-1]
            base = here[: len(here) - (node.level - 1)]
            target = list(base) + (node.module.split(".") if node.module else [])
            if target:
                yield target[0], LAYERS.get(target[0], 99), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module \
                and node.module.startswith("vthreads"):
            parts = node.module.split(".")
            if len(parts) > 1:
                yield parts[1], LAYERS.get(parts[1], 99), node.lineno


def test_imports_flow_down_the_layers():
    bad = []
    for path in PKG.rglob("*.py"):
        mine = _layer_of(path)
        for name, layer, line in _imported_layers(path):
            if layer > mine:
                bad.append(f"{path.relative_to(PKG)}:{line} imports {name}")
    assert bad == []


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
