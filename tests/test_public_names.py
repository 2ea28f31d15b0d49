"""What users see of vthreads' objects: names, paths and generics.

Walks ``vthreads.__all__`` and every replacement in ``monkey.TABLES``:
adding a name to either is enough to have it checked here.
"""

import importlib
import pickle
import textwrap
import traceback

import pytest

import vthreads
import vthreads.monkey as monkey
from conftest import run_script


def _replacements():
    """(label, stdlib original, replacement) for every patch-table entry;
    the originals are looked up without patching this process."""
    for table, names in monkey.TABLES.items():
        modname = table.split(" ", 1)[0]
        for name, new in names.items():
            yield (f"{modname}.{name}", monkey.get_original(modname, name),
                   new)


def _public():
    """(name, object) for every name of ``vthreads.__all__``."""
    return [(name, getattr(vthreads, name)) for name in vthreads.__all__]


def _found_at_its_path(obj):
    owner = importlib.import_module(obj.__module__)
    for part in obj.__qualname__.split("."):
        owner = getattr(owner, part, None)
    return owner is obj


def _private_parts(qualname):
    return [p for p in qualname.split(".") if p.startswith("_")]


# --- generics ---------------------------------------------------------------

def test_replacements_are_generic_exactly_where_the_stdlib_is():
    checked = []
    for label, orig, new in _replacements():
        if not isinstance(orig, type):
            continue
        generic = hasattr(orig, "__class_getitem__")
        assert hasattr(new, "__class_getitem__") == generic, label
        if generic:
            alias = new[int]
            assert type(alias) is type(orig[int]), label
            assert alias.__origin__ is new and alias.__args__ == (int,), label
            checked.append(label)
    # The walk reached the classes this test exists for.
    assert {"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue",
            "queue.SimpleQueue"} <= set(checked), checked


def test_executor_futures_are_generic_like_concurrent_futures():
    import concurrent.futures as cf
    with vthreads.VThreadPoolExecutor() as ex:
        f = ex.submit(lambda: 1)
        assert f.result(10) == 1
    assert isinstance(f, cf.Future)
    assert type(f)[int].__origin__ is type(f)


def test_user_code_subclasses_the_patched_generic_queues():
    # psycopg_pool does exactly this at import: class Queue(queue.Queue[T]).
    r = run_script(textwrap.dedent("""
        import vthreads.monkey; vthreads.monkey.patch_all()
        import queue, typing, vthreads
        T = typing.TypeVar("T")

        class Q(queue.Queue[T]):
            pass

        class S(queue.SimpleQueue[T]):
            pass

        class P(queue.PriorityQueue[tuple[int, str]]):
            pass

        def main():
            q = Q[int](maxsize=1)
            q.put(1)
            s = S()
            s.put(2)
            p = P()
            p.put((3, "c"))
            return q.get(timeout=5), s.get(timeout=5), p.get(timeout=5)

        assert issubclass(Q, vthreads.Queue) and issubclass(S, vthreads.SimpleQueue)
        assert typing.get_origin(queue.LifoQueue[int]) is vthreads.LifoQueue
        print(vthreads.run(main))
    """), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 2, (3, 'c'))"


# --- names ------------------------------------------------------------------

def test_public_names_show_the_public_path():
    for name, obj in _public():
        if not obj.__module__.startswith("vthreads"):
            # The stdlib's own object, re-exported (queue.Empty, ...).
            assert _found_at_its_path(obj), name
            continue
        assert not _private_parts(obj.__qualname__), (name, obj.__qualname__)
        assert obj.__name__ == obj.__qualname__.rsplit(".", 1)[-1], name
        assert _found_at_its_path(obj), (name, obj.__module__, obj.__qualname__)
        if obj.__qualname__ == name:
            assert obj.__module__ == "vthreads", (name, obj.__module__)


def test_replacements_have_the_stdlib_names_and_a_true_path():
    for label, orig, new in _replacements():
        assert _found_at_its_path(new), (label, new.__module__, new.__qualname__)
        if not new.__module__.startswith("vthreads"):
            # The stdlib's own object (_queue.Empty, which a fresh copy of
            # _queue is given back): nothing of ours to name.
            continue
        # A public stdlib name is never stood in for by a private one.
        if not _private_parts(getattr(orig, "__qualname__", "x")):
            assert not _private_parts(new.__qualname__), (label, new.__qualname__)
        if getattr(vthreads, new.__name__, None) is new:
            assert new.__module__ == "vthreads", label


def test_exceptions_show_their_public_path_in_tracebacks_and_pickles():
    checked = []
    for name, obj in _public():
        if not (isinstance(obj, type) and issubclass(obj, BaseException)):
            continue
        exc = obj("x")
        line = traceback.format_exception_only(exc)[-1]
        if obj.__module__.startswith("vthreads"):
            assert obj.__module__ == "vthreads", name
            assert line.startswith(f"vthreads.{name}:"), line
        assert type(pickle.loads(pickle.dumps(exc))) is obj, name
        checked.append(name)
    assert {"Cancelled", "ShutDown", "ChannelClosed",
            "BusyResourceError"} <= set(checked), checked


def test_shutdown_is_named_shutdown():
    assert vthreads.ShutDown.__name__ == "ShutDown"
    assert vthreads.ShutDown.__qualname__ == "ShutDown"
    q = vthreads.Queue()
    q.shutdown()
    with pytest.raises(vthreads.ShutDown) as info:
        q.put(1)
    text = "".join(traceback.format_exception(info.value))
    assert "_ShutDown" not in text and "ShutDown" in text


def test_reprs_say_vthreads_not_a_private_module():
    objs = [vthreads.fail_after(1), vthreads.fail_at(1e9),
            vthreads.VThreadPoolExecutor(),
            vthreads.ExceptHookArgs(ValueError("x"), None),
            vthreads.CancelScope(), vthreads.TaskGroup()]
    for obj in objs:
        r = repr(obj)
        assert "vthreads._" not in r and "._" not in r, r
        assert not r.startswith("<_"), r
    for cls in (vthreads.Queue, vthreads.Cancelled, vthreads.VThread):
        assert repr(cls) == f"<class 'vthreads.{cls.__name__}'>"
    assert repr(vthreads.Queue[int]) == "vthreads.Queue[int]"

