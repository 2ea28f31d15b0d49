"""The public API is typed: every public function and method has complete
annotations (mypy checks they are right: .ci/run), and the typed usage in
tests/typing/public_api.py runs."""

import inspect
import os
import sys

import pytest

import vthreads
import vthreads.monkey

HERE = os.path.dirname(os.path.abspath(__file__))

# Dunders only Python calls.
_SKIP = {"__repr__", "__del__", "__init_subclass__", "__class_getitem__"}


def _public_callables():
    for name in vthreads.__all__:
        obj = getattr(vthreads, name)
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            for klass in obj.__mro__:
                if not klass.__module__.startswith("vthreads"):
                    continue
                for attr, value in vars(klass).items():
                    if attr in _SKIP or (attr.startswith("_") and not (
                            attr.startswith("__") and attr.endswith("__"))):
                        continue
                    if isinstance(value, property):
                        for f in (value.fget, value.fset):
                            if f is not None:
                                yield f"{name}.{attr}", f
                    elif isinstance(value, (staticmethod, classmethod)):
                        yield f"{name}.{attr}", value.__func__
                    elif inspect.isfunction(value):
                        yield f"{name}.{attr}", value
        else:
            yield name, obj
    for name in dir(vthreads.monkey):
        obj = getattr(vthreads.monkey, name)
        if not name.startswith("_") and inspect.isfunction(obj) and \
                obj.__module__ == "vthreads.monkey":
            yield f"monkey.{name}", obj


PUBLIC = dict(_public_callables())


def test_the_walk_finds_the_public_api():
    for name in ("spawn", "VThread.result", "Queue.get", "Lock.acquire",
                 "CancelScope.deadline", "monkey.patch_all", "excepthook"):
        assert name in PUBLIC


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_callable_is_fully_annotated(name):
    sig = inspect.signature(PUBLIC[name])
    missing = [p.name for p in sig.parameters.values()
               if p.annotation is p.empty and p.name not in ("self", "cls")]
    if sig.return_annotation is sig.empty:
        missing.append("return")
    assert not missing, f"{name}{sig}: no annotation for {missing}"


def test_the_typed_usage_runs():
    sys.path.insert(0, os.path.join(HERE, "typing"))
    try:
        import public_api
    finally:
        sys.path.pop(0)
    # work(2, scale=3) + work(0..2) + the executor's work(1), and the
    # coroutine's 21 * 2 + barrier index 0
    assert public_api.run() == 6 + 3 + 1 + 42
