"""python -m vthreads [--carriers N] script.py args...
   python -m vthreads [--carriers N] -m module args...
   python -m vthreads ps PID [--json] | pstree PID

``ps`` and ``pstree`` as the first argument show another process's
vthreads (``_ps.py``); a script literally named ``ps`` or ``pstree`` is
run as ``./ps`` (a path), as the command name wins.

Patches everything (``vthreads.monkey.patch_all()``), then runs the
program's main code in a vthread.  Exit codes, error messages and the
traceback are what ``python script.py`` (``python -m module``) would give:
2 for a bad option or a script that cannot be opened, 1 for a module that
cannot be found or an uncaught exception, death by SIGINT for an uncaught
KeyboardInterrupt.

Options end at the script name or at ``-m module``, as the interpreter's
do: everything after belongs to the program.
"""

import argparse
import os
import sys

from vthreads._core import check_carriers

# The environment variables vthreads reads, for --help.
ENVIRONMENT = {
    "VTHREADS_CARRIERS": "carrier count when --carriers is not given "
                         "(default: usable CPUs when the GIL is off, else 1)",
    "VTHREADS_MONITOR_THRESHOLD": "seconds a carrier may run one vthread "
                                  "without parking before the monitor logs "
                                  "it to the vthreads.monitor logger "
                                  "(default 0.1; 0 turns it off)",
    "VTHREADS_MAX_CARRIERS": "the most carriers at once, the extra ones "
                             "included that start while every carrier is "
                             "blocked (default 256)",
    "VTHREADS_DUMP_SIGNAL": "a signal (USR2, SIGUSR2 or a number) that "
                            "writes vthreads.dump() of the running program "
                            "(default: none)",
    "VTHREADS_DUMP_FILE": "where that dump is appended (default: stderr)",
    "VTHREADS_INSPECT": "0 turns off the socket that python -m vthreads "
                        "ps/pstree asks (default: on)",
}


def _carrier_count(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"carriers must be an int, not {text!r}") from None
    try:
        return check_carriers(n)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser():
    width = max(map(len, ENVIRONMENT)) + 2
    env = "\n".join(f"  {name:<{width}}{text}"
                     for name, text in ENVIRONMENT.items())
    p = argparse.ArgumentParser(
        prog="python -m vthreads",
        usage="%(prog)s [-h] [--carriers N] (script.py | -m module) [args ...]\n"
              "       %(prog)s ps PID [--json] | pstree PID",
        description="Patch the stdlib (vthreads.monkey.patch_all()) and run "
                    "a Python program's main code in a vthread.",
        epilog="commands:\n"
               "  ps PID [--json]       a table of the vthreads of running "
               "process PID\n"
               "  pstree PID            the same as a tree, by parent and "
               "task group\n"
               "  (a script named ps or pstree: give its path, ./ps)\n\n"
               "environment variables:\n" + env,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--carriers", type=_carrier_count, metavar="N",
                   help="number of carrier OS threads")
    # REMAINDER: what follows the module name or the script is the
    # program's, options included, untouched.
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER,
                   help="module args...: run a library module as a script, "
                        "as python -m does")
    p.add_argument("program", nargs=argparse.REMAINDER,
                   metavar="script.py args",
                   help="the program to run, and its arguments")
    return p


def _parse(argv):
    p = _parser()
    ns = None
    i = next((i for i, a in enumerate(argv)
              if a.startswith("-m") and a != "-m"), None)
    if i is not None:
        # -mMODULE, if it ends our options: argparse would give the module
        # only its name and go on parsing, where python passes the rest on.
        ns = p.parse_args(argv[:i])
        if ns.module is None and not ns.program:
            ns.module = [argv[i][2:]] + argv[i + 1:]
        else:
            ns = None               # an argument of the program's
    if ns is None:
        ns = p.parse_args(argv)
    if ns.module is not None:
        if not ns.module:
            p.error("argument -m: expected a module name")
        if ns.program:
            p.error("give a script or -m module, not both")
    elif not ns.program:
        p.error("a script or -m module is required")
    return ns


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("ps", "pstree"):
        from vthreads import _ps
        sys.exit(_ps.main(argv))
    ns = _parse(argv)
    if ns.module is None:
        argv = ns.program
        _check_script(argv[0])
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    else:
        argv = ns.module
    import vthreads.monkey
    vthreads.monkey.patch_all()
    import vthreads
    sys.argv = argv

    def program():
        if ns.module is not None:
            _run_module(argv[0])
        else:
            import runpy
            runpy.run_path(argv[0], run_name="__main__")

    try:
        vthreads.run(program, carriers=ns.carriers)
    except SystemExit:
        raise
    except BaseException:
        # Print as the interpreter would: from the program's own first
        # frame, without ours, vthreads' re-raise or runpy's on top.
        etype, exc, tb = sys.exc_info()
        here = os.path.dirname(os.path.abspath(__file__)) + os.sep
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if not (name.startswith(here) or "runpy" in name):
                break
            tb = tb.tb_next
        exc.__traceback__ = tb      # the hook prints the exception's own
        sys.excepthook(etype, exc, tb)
        if isinstance(exc, KeyboardInterrupt):
            # As the interpreter does: die of SIGINT, so the parent sees it.
            import signal
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        sys.exit(1)


def _check_script(path):
    """The interpreter's message and status for a script it cannot open.
    (A directory or zip file is runpy's, as for python.)"""
    if os.path.isdir(path):
        return
    try:
        open(path, "rb").close()
    except OSError as exc:
        prog = (getattr(sys, "orig_argv", None) or [sys.executable])[0]
        print(f"{prog}: can't open file {os.path.abspath(path)!r}: "
              f"[Errno {exc.errno}] {exc.strerror}", file=sys.stderr)
        sys.exit(2)


def _run_module(name):
    """Run module ``name`` as ``python -m`` does -- runpy's own entry for
    it, which prints "No module named ..." and exits 1 when the module
    cannot be found -- in a fresh ``__main__`` module, as the program's
    main module."""
    import runpy
    import types
    ours = sys.modules["__main__"]      # this module: keep it alive
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        runpy._run_module_as_main(name)
    finally:
        sys.modules["__main__"] = ours


if __name__ == "__main__":
    main()
