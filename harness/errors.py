"""Errors a person can read: a config or input problem is one line, ``convbench: error: ...``, and exit 2.

No traceback unless asked (``-v`` on the command line or ``HYDRA_FULL_ERROR=1``).  Hydra's
own errors (an unknown key, a wrong type, a missing config file) are re-raised to us
instead of printed by Hydra, so they read the same; an error inside a job is kept until
Hydra has returned (so Hydra adds no lines of its own) and printed then.  Errors that are
not a config or input problem (a bug) keep their traceback.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

_errors: list[BaseException] = []
_reporting: list[bool] = []     # exit_on_error runs in this process: it will print what kept() keeps


def command(*args: str) -> str:
    """The command a user types to go on: the interpreter they ran (relative when inside the project)."""
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(Path.cwd())
    except ValueError:
        pass
    return " ".join([str(exe), *args])


def _verbose() -> bool:
    return os.environ.get("CONVBENCH_VERBOSE") == "1"


def one_line(err: BaseException) -> str:
    """The error and its cause (OmegaConf's message, with the key it is about), on one line."""
    parts = []
    while err is not None and len(parts) < 3:
        text = " ".join(str(err).split())
        text = text.split(" full_key:")[0].split(" object_type=")[0].split(" reference_type=")[0]
        full_key = getattr(err, "full_key", None)
        if full_key and full_key not in text:
            text += f" (key {full_key})"
        if text and text not in " ".join(parts):
            parts.append(text)
        err = err.__cause__ or err.__context__
    return ": ".join(parts)


def kept(expected: tuple[type[BaseException], ...]):
    """Decorate a Hydra task: an ``expected`` error is kept for :func:`exit_on_error` instead of raised."""
    def decorate(task):
        @functools.wraps(task)
        def run(*args, **kwargs):
            try:
                return task(*args, **kwargs)
            except expected as err:
                if _verbose():
                    raise
                if not _reporting:       # a launcher's job process (submitit, joblib): say it and fail the job
                    print(f"convbench: error: {one_line(err)}", file=sys.stderr)
                    raise
                _errors.append(err)
                return None
        return run
    return decorate


def exit_on_error(main, expected: tuple[type[BaseException], ...]) -> None:
    """Run ``main()``; ``expected`` errors become one line on stderr and exit 2, Ctrl-C exits 130."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1" or "-v" in sys.argv:
        os.environ["CONVBENCH_VERBOSE"] = "1"
    if "-v" in sys.argv:
        sys.argv.remove("-v")
    os.environ["HYDRA_FULL_ERROR"] = "1"    # Hydra then re-raises its errors instead of printing them
    _reporting.append(True)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)                       # the harness has said what is on disk and how to finish
    except expected as err:
        if _verbose():
            raise
        _errors.append(err)
    for err in _errors:
        print(f"convbench: error: {one_line(err)} (-v for the traceback)", file=sys.stderr)
    if _errors:
        sys.exit(2)
