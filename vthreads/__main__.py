"""python -m vthreads [--carriers N] script.py args...
   python -m vthreads [--carriers N] -m module args...

Patches everything (``vthreads.monkey.patch_all()``), then runs the
program's main code in a vthread.  The exit code and the traceback are
what ``python script.py`` would give.
"""

import os
import runpy
import sys


def _usage(code=2):
    print(__doc__.strip().splitlines()[0].replace("python", "usage: python", 1),
          file=sys.stderr)
    sys.exit(code)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    carriers = None
    if argv[:1] == ["--carriers"]:
        if len(argv) < 2:
            _usage()
        try:
            carriers = int(argv[1])
        except ValueError:
            _usage()
        argv = argv[2:]
    if not argv or argv[0] in ("-h", "--help"):
        _usage(0 if argv else 2)
    module = None
    if argv[0] == "-m":
        if len(argv) < 2:
            _usage()
        module, argv = argv[1], argv[1:]
    import vthreads.monkey
    vthreads.monkey.patch_all()
    import vthreads
    sys.argv = argv
    if module is None:
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))

    def program():
        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(argv[0], run_name="__main__")

    try:
        vthreads.run(program, carriers=carriers)
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


if __name__ == "__main__":
    main()
