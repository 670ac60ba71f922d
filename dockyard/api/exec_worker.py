"""One exec, run for the API server in a process of its own.

:func:`dockyard.engine.execs.run_exec` becomes the exec'd process's subreaper,
waits for it and installs signal handlers, none of which a threaded server may
do; so the server starts ``python -m dockyard.api.exec_worker REQUEST`` with the
process's stdio (a pty for a tty, else pipes), and this module reports how it
ended in the result file named by the request.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    result_path = str(request["result"])
    if request.get("tty"):
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
        interactive=bool(request.get("interactive")),
        detach=bool(request.get("detach")),
        console_size=(int(size[0]), int(size[1])) if size else None,
        detach_keys=str(request.get("detach_keys") or ""),
    )
    result: dict[str, object] = {"ExitCode": 0, "Detached": False, "Error": ""}
    try:
        result["ExitCode"] = run_exec(engine, str(request["container"]), exec_request)
    except DetachedFromExec:
        result["Detached"] = True
    except (ExecStartFailed, DockyardError) as exc:
        result["ExitCode"] = exc.exit_code if isinstance(exc, ExecStartFailed) else 126
        result["Error"] = exc.message
        os.write(2, (exc.message + "\r\n" if exec_request.tty else exc.message + "\n").encode())
    finally:
        engine.close()
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
