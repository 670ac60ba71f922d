"""One exec, run for the API server in a process of its own.

:func:`dockyard.engine.execs.run_exec` becomes the exec'd process's subreaper,
waits for it and installs signal handlers, none of which a threaded server may
do; so the server starts ``python -m dockyard.api.exec_worker REQUEST`` with the
process's stdio (a pty for a tty, else pipes), and this module reports how it
ended in the result file named by the request.

A detached exec (``Detach: true``) is waited for here too, with /dev/null for its
stdio: the worker writes the process's pid as one JSON line on stdout (the server
answers the start request then) and waits for its end, so that
``GET /exec/{id}/json`` can tell the exit code.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import sys
import tempfile
import threading


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    result_path = str(request["result"])
    # the engine's job directory (and the runtime's pid file) goes next to the result,
    # where the server and _announce_pid look for it
    work_dir = os.path.dirname(result_path)
    tempfile.tempdir = work_dir
    detach = bool(request.get("detach"))
    if request.get("tty") and not detach:
        import fcntl
        import termios

        fcntl.ioctl(1, termios.TIOCSCTTY, 0)  # so that resizes reach us as SIGWINCH
    from dockyard.config import Options
    from dockyard.engine import Engine
    from dockyard.engine.execs import DetachedFromExec, ExecRequest, ExecStartFailed, run_exec
    from dockyard.errors import DockyardError

    engine = Engine(Options(**request["options"]))
    size = request.get("console_size")
    exec_request = ExecRequest(
        cmd=list(request["cmd"]),
        env=list(request.get("env") or []),
        user=str(request.get("user") or ""),
        workdir=str(request.get("workdir") or ""),
        privileged=bool(request.get("privileged")),
        tty=bool(request.get("tty")),
        interactive=bool(request.get("interactive")) and not detach,
        detach=False,  # a detached exec is waited for here, with no stdio
        console_size=(int(size[0]), int(size[1])) if size else None,
        detach_keys=str(request.get("detach_keys") or ""),
    )
    null = os.open(os.devnull, os.O_RDWR)
    stdio = (null, null, null) if detach else (0, 1, 2)
    started = threading.Event()
    if detach:
        threading.Thread(target=_announce_pid, args=(work_dir, started), daemon=True).start()
    result: dict[str, object] = {"ExitCode": 0, "Detached": False, "Error": ""}
    try:
        result["ExitCode"] = run_exec(engine, str(request["container"]), exec_request, stdio)
    except DetachedFromExec:
        result["Detached"] = True
    except (ExecStartFailed, DockyardError) as exc:
        result["ExitCode"] = exc.exit_code if isinstance(exc, ExecStartFailed) else 126
        result["Error"] = exc.message
        message = exc.message + ("\r\n" if exec_request.tty else "\n")
        if not detach:  # a detached exec's error reaches the server in the result
            os.write(2, message.encode())
    finally:
        started.set()
        engine.close()
        os.close(null)
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, result_path)
    return 0


def _announce_pid(work_dir: str, done: threading.Event) -> None:
    """Tell the server (one JSON line on stdout) the exec'd process's pid once it
    runs, or nothing when the exec ends or fails first; then close stdout."""
    pid = 0
    while not done.is_set() and not (pid := exec_pid(work_dir)):
        done.wait(0.005)
    with contextlib.suppress(OSError):
        if pid:
            os.write(1, json.dumps({"Pid": pid}).encode() + b"\n")
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # the server's pipe closes; fd 1 stays taken
        os.close(null)


def exec_pid(work_dir: str) -> int:
    """The exec'd process's pid once the runtime has started it (0 before): from the
    pid file the runtime writes (atomically) in the engine's job directory, which the
    worker makes inside ``work_dir``."""
    for path in glob.glob(os.path.join(glob.escape(work_dir), "dockyard-exec-*", "pid")):
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
