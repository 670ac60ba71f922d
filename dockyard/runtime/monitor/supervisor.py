"""The monitor's single-threaded poll loop.

State dir files (all JSON written atomically, tmp + rename):
  ``monitor.pid``  this process; ``pid`` the container's (the runtime's --pid-file);
  ``attach``       the attach socket (see :mod:`.protocol`);
  ``state.json``   ``{"MonitorPid","Pid","Status","RestartCount","StartedAt"}``;
  ``exit.json``    ``{"ExitCode","FinishedAt","OOMKilled","RestartCount"}`` (+``"Error"``);
                   written before the exit frame with ``"RuntimeDeleting": true``, then
                   again with ``"RuntimeDeleted"`` once the runtime's state is deleted
                   (the recorder unmounts and removes meanwhile, then waits for it);
  ``health.json``  Docker's ``State.Health``;
  ``no-restart``   created by the engine (or a NO_RESTART frame): do not restart.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import _socket
import errno
import os
import select
import struct
import time

from . import jsonlite, protocol
from .health import HealthConfig, HealthState
from .logs import LogWriter, open_writer
from .oci import OciError, OciRuntime, spawn, wait_status_code
from .options import Options
from .policy import Backoff, RestartPolicy
from .timefmt import rfc3339nano

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the monitor memory
if TYPE_CHECKING:
    from typing import Any


TIOCSWINSZ = 0x5414
HOLD_SECONDS = 5.0  # how long a held start waits for an attach client
CLIENT_BUFFER_LIMIT = 4 << 20
PROBE_OUTPUT_LIMIT = 8192
IN = select.POLLIN | select.POLLPRI
HUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def write_json(path: str, value: object) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(jsonlite.dumps(value))
    os.replace(tmp, path)


def _short_sock_path(state_dir: str, name: str) -> str:
    """A path for ``name`` in our cwd (the state dir) short enough for sun_path."""
    path = os.path.join(state_dir, name)
    return path if len(path) < 100 else f"/proc/{os.getpid()}/cwd/{name}"


RECORDER_WAIT = 10.0  # seconds an exit-recording client may take before the callback runs


class Client:
    __slots__ = ("out", "reader", "records_exit", "sock")

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.reader = protocol.FrameReader()
        self.out = bytearray()
        self.records_exit = False


class Supervisor:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.sd = opts.state_dir
        self.runtime = OciRuntime(
            opts.runtime,
            opts.runtime_root,
            log_path=os.path.join(self.sd, "runtime.log"),
            extra_args=opts.runtime_args,
        )
        self.policy = RestartPolicy.parse(opts.restart)
        self.backoff = Backoff()
        hc = HealthConfig(opts.healthcheck) if opts.healthcheck else None
        self.health_config = hc if hc is not None and not hc.disabled else None
        self.health: HealthState | None = None
        self.poller = select.poll()
        self.events: dict[int, int] = {}
        self.clients: dict[int, Client] = {}
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.stdin_close = False
        self.pty_master = -1
        self.pid = 0
        self.started_mono = 0.0
        self.started_at = ""
        self.restart_count = 0
        self.restart_at: float | None = None
        self.status = "created"
        self.held = opts.start_on_attach  # until an attacher's START frame (or HOLD_SECONDS)
        self.held_exit: int | None = None  # the container's wait status, ended while held
        self.hold_until: float | None = None
        self.no_restart = False
        self.done = False
        self.final_code = 0
        self.probe_pid = 0
        self.probe_fd = -1
        self.probe_out = bytearray()
        self.probe_start_ns = 0
        self.probe_deadline = 0.0
        self.next_probe: float | None = None
        self.abandoned: set[int] = set()
        self.log: LogWriter = open_writer(
            opts.log_driver, opts.log_opts, opts.log_dir or self.sd, opts.container_id
        )
        self.sync_fd = opts.sync_fd

    # -- fd bookkeeping ------------------------------------------------------
    def _watch(self, fd: int, mask: int) -> None:
        if fd in self.events:
            if self.events[fd] != mask:
                self.poller.modify(fd, mask)
        else:
            self.poller.register(fd, mask)
        self.events[fd] = mask

    def _unwatch(self, fd: int) -> None:
        if self.events.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def _stdin_mask(self, fd: int) -> int:
        mask = IN if fd in self.outputs else 0
        if fd == self.stdin_fd and self.stdin_buf:
            mask |= select.POLLOUT
        return mask

    # -- set-up --------------------------------------------------------------
    def run(self) -> int:
        os.makedirs(self.sd, exist_ok=True)
        os.chdir(self.sd)
        with open("monitor.pid", "w") as f:
            f.write(str(os.getpid()))
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake_fd = rfd
        _signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
        self._watch(rfd, IN)
        # a restarted container (docker start after an exit) reuses the state dir
        for stale in ("attach", "console.sock", "exit.json", "health.json", "no-restart", "pid"):
            try:  # noqa: SIM105 (contextlib costs memory)
                os.unlink(stale)
            except FileNotFoundError:
                pass
        self.listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.listener.bind("attach")
        self.listener.listen(16)
        self.listener.setblocking(False)
        self._watch(self.listener.fileno(), IN)
        try:
            self._create()
            if not self.held:
                self._start()
            elif not self.opts.tty:
                # Started at once (see _create); its output and its end wait for the
                # attacher instead (a pipe keeps the output). A tty container waits to
                # start: its first window size comes from the attacher.
                for fd in list(self.outputs):
                    self._unwatch(fd)
        except (OciError, OSError, ValueError) as e:
            self._fail(str(e))
            return 1
        self._report({"Pid": self.pid, "Status": self.status})
        # A held start waits for its attacher, but not forever: if the client that
        # asked for it died before attaching, the container starts anyway (it was
        # asked to run; Docker's daemon would have started it).
        self.hold_until = time.monotonic() + HOLD_SECONDS if self.held else None
        self._loop()
        return self.final_code

    def _report(self, value: dict[str, Any]) -> None:
        if self.sync_fd >= 0:
            try:  # noqa: SIM105 (contextlib costs memory)
                os.write(self.sync_fd, jsonlite.dumps(value).encode() + b"\n")
            except OSError:
                pass
            os.close(self.sync_fd)
            self.sync_fd = -1

    def _fail(self, message: str) -> None:
        """The runtime could not create or start the container: record, report, clean up."""
        code = 127 if "no such file" in message.lower() or "not found" in message else 128
        write_json(
            "exit.json",
            {
                "ExitCode": code,
                "FinishedAt": rfc3339nano(),
                "OOMKilled": False,
                "RestartCount": self.restart_count,
                "Error": message,
            },
        )
        self._set_status("exited")
        spawner_waits = self.sync_fd >= 0  # it records the failed start and cleans up
        self._report({"Error": message})
        try:  # noqa: SIM105 (contextlib costs memory)
            self.runtime.delete(self.opts.container_id, force=True)
        except (OciError, OSError):
            pass
        self._close_stdio()
        self.final_code = code
        self._finish(callback=not spawner_waits)

    def _set_status(self, status: str) -> None:
        self.status = status
        write_json(
            "state.json",
            {
                "MonitorPid": os.getpid(),
                "Pid": self.pid,
                "Status": status,
                "RestartCount": self.restart_count,
                "StartedAt": self.started_at,
            },
        )

    def _create(self) -> None:
        """Create the container; one without a tty is started too, by the runtime's
        ``run --detach`` (it starts at once anyway: one runtime call instead of two)."""
        pid_file = os.path.join(self.sd, "pid")
        if self.opts.tty:
            self._create_tty(pid_file)
        else:
            self._create_pipes(pid_file)
        with open(pid_file) as f:
            self.pid = int(f.read().strip())
        if self.opts.tty:
            self._set_status("created")
        else:
            self._mark_running()

    def _create_pipes(self, pid_file: str) -> None:
        child: list[int] = []
        try:
            if self.opts.stdin:
                r, w = os.pipe()
                child.append(r)
                os.set_blocking(w, False)
                self.stdin_fd = w
                self.stdin_close = False
                self._watch(w, 0)
            else:
                child.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            for stream in (protocol.STDOUT, protocol.STDERR):
                r, w = os.pipe()
                os.set_blocking(r, False)
                self.outputs[r] = stream
                self._watch(r, IN)
                child.append(w)
            self.runtime.create(
                self.opts.container_id,
                self.opts.bundle,
                pid_file=pid_file,
                stdin=child[0],
                stdout=child[1],
                stderr=child[2],
                start=True,
            )
        finally:
            for fd in child:
                os.close(fd)

    def _create_tty(self, pid_file: str) -> None:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.bind("console.sock")
            sock.listen(1)
            self.runtime.create(
                self.opts.container_id,
                self.opts.bundle,
                pid_file=pid_file,
                console_socket=_short_sock_path(self.sd, "console.sock"),
            )
            sock.settimeout(10)
            conn_fd, _ = sock._accept()  # type: ignore[attr-defined]
            conn_sock = _socket.socket(fileno=conn_fd)
            conn_sock.settimeout(10)
            _msg, ancdata, _flags, _addr = conn_sock.recvmsg(4096, _socket.CMSG_SPACE(4))
            conn_sock.close()
            fds = [
                struct.unpack("i", data[:4])[0]
                for level, kind, data in ancdata
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
            ]
            if not fds:
                raise OSError(errno.EPROTO, "the runtime sent no console fd")
        finally:
            sock.close()
            try:  # noqa: SIM105 (contextlib costs memory)
                os.unlink("console.sock")
            except FileNotFoundError:
                pass
        master = fds[0]
        os.set_inheritable(master, False)
        os.set_blocking(master, False)
        self.pty_master = master
        self.outputs[master] = protocol.STDOUT
        if self.opts.stdin:
            self.stdin_fd = master
        self._watch(master, IN)

    def _start(self) -> None:
        if self.status == "created":
            self.runtime.start(self.opts.container_id)
            self._mark_running()

    def _mark_running(self) -> None:
        self.started_mono = time.monotonic()
        self.started_at = rfc3339nano()
        self._set_status("running")
        if self.health_config is not None:
            self.health = HealthState(self.health_config, time.time_ns())
            write_json("health.json", self.health.to_json())
            self.next_probe = self.started_mono + self.health_config.interval

    def _release(self) -> None:
        """End the hold: start the container, or (started already) pass its output
        and its end on from now."""
        self.held = False
        if self.status == "created":
            try:
                self._start()
            except (OciError, OSError) as e:
                self._fail(str(e))
            return
        for fd in list(self.outputs):
            self._watch(fd, IN)
        if self.held_exit is not None:
            status, self.held_exit = self.held_exit, None
            self._container_exited(status)

    # -- the loop --------------------------------------------------------------
    def _timeout_ms(self) -> int:
        now = time.monotonic()
        times = [
            t for t in (self.restart_at, self.next_probe, self._hold_deadline()) if t is not None
        ]
        if self.probe_pid:
            times.append(self.probe_deadline)
        if not times:
            return -1
        return max(0, int((min(times) - now) * 1000) + 1)

    def _loop(self) -> None:
        while not self.done:
            for fd, ev in self.poller.poll(self._timeout_ms()):
                if fd == self.wake_fd:
                    try:  # noqa: SIM105 (contextlib costs memory)
                        os.read(fd, 512)
                    except BlockingIOError:
                        pass
                elif fd == self.listener.fileno():
                    self._accept()
                elif fd in self.clients:
                    self._client_event(fd, ev)
                elif fd == self.probe_fd:
                    self._probe_read()
                else:
                    if ev & (IN | HUP) and fd in self.outputs:
                        self._read_output(fd)
                    if ev & select.POLLOUT and fd == self.stdin_fd:
                        self._flush_stdin()
                    elif ev & (select.POLLERR | select.POLLNVAL) and fd == self.stdin_fd:
                        self._close_stdin()
            self._reap()
            self._timers()

    def _hold_deadline(self) -> float | None:
        return self.hold_until if self.held and not self.clients else None

    def _timers(self) -> None:
        now = time.monotonic()
        deadline = self._hold_deadline()
        if deadline is not None and now >= deadline:
            self._release()
            if self.done:
                return
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            try:
                self._create()
                self._start()
            except (OciError, OSError) as e:
                self._fail(str(e))
                return
        if self.probe_pid and now >= self.probe_deadline:
            self._probe_timeout()
        if self.next_probe is not None and now >= self.next_probe and not self.probe_pid:
            self._probe_start()

    # -- output and stdin --------------------------------------------------------
    def _read_output(self, fd: int) -> bool:
        """Read what ``fd`` has; False (and the fd closed) at EOF."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the pty's last slave closed
                raise
            data = b""
        if not data:
            self._close_output(fd)
            return False
        stream = self.outputs[fd]
        try:  # noqa: SIM105
            self.log.write(stream, data)
        except OSError:
            pass  # a full disk loses log lines, never the container's monitor
        self._broadcast(protocol.frame(stream, data))
        return True

    def _close_output(self, fd: int) -> None:
        self.outputs.pop(fd, None)
        if fd == self.stdin_fd:
            self.stdin_fd = -1
            self.stdin_buf.clear()
        if fd == self.pty_master:
            self.pty_master = -1
        self._unwatch(fd)
        os.close(fd)

    def _drain_outputs(self) -> None:
        for fd in list(self.outputs):
            while fd in self.outputs and self._read_output(fd):
                if fd in self.outputs and not self._readable(fd):
                    break

    @staticmethod
    def _readable(fd: int) -> bool:
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(0))

    def _flush_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        try:
            n = os.write(self.stdin_fd, self.stdin_buf)
            del self.stdin_buf[:n]
        except BlockingIOError:
            pass
        except OSError:  # EPIPE: the container closed its stdin
            self._close_stdin()
            return
        if not self.stdin_buf and self.stdin_close:
            self._close_stdin()
        elif self.stdin_fd >= 0:
            self._watch(self.stdin_fd, self._stdin_mask(self.stdin_fd))

    def _close_stdin(self) -> None:
        fd = self.stdin_fd
        if fd < 0:
            return
        self.stdin_fd = -1
        self.stdin_buf.clear()
        if fd == self.pty_master:
            self._watch(fd, self._stdin_mask(fd))
            return
        self._unwatch(fd)
        os.close(fd)

    def _close_stdio(self) -> None:
        if self.stdin_fd >= 0 and self.stdin_fd not in self.outputs:
            self._unwatch(self.stdin_fd)
            os.close(self.stdin_fd)
        self.stdin_fd = -1
        self.stdin_buf.clear()
        for fd in list(self.outputs):
            self._close_output(fd)

    # -- attach clients ------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                fd, _ = self.listener._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            sock = _socket.socket(fileno=fd)
            sock.setblocking(False)
            self.clients[fd] = Client(sock)
            self._watch(fd, IN)

    def _client_event(self, fd: int, ev: int) -> None:
        client = self.clients[fd]
        if ev & select.POLLOUT:
            self._send(fd, client)
        if fd not in self.clients or not ev & (IN | HUP):
            return
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        try:
            frames = client.reader.feed(data)
        except ValueError:
            self._drop(fd)
            return
        for stream, payload in frames:
            self._control(fd, stream, payload)
            if fd not in self.clients:
                return

    def _control(self, fd: int, stream: int, payload: bytes) -> None:
        if stream == protocol.STDIN:
            if not self.opts.stdin or self.stdin_fd < 0:
                return
            if payload:
                self.stdin_buf += payload
            elif self.opts.tty:
                self.stdin_buf += b"\x04"
            else:
                self.stdin_close = True
            self._flush_stdin()
        elif stream == protocol.RESIZE and len(payload) >= 4 and self.pty_master >= 0:
            rows, cols = struct.unpack(">HH", payload[:4])
            import fcntl  # only tty containers pay for it

            fcntl.ioctl(self.pty_master, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        elif stream == protocol.DETACH:
            self._drop(fd)
        elif stream == protocol.NO_RESTART:
            self.no_restart = True
        elif stream == protocol.RECORDS_EXIT:
            self.clients[fd].records_exit = True
        elif stream == protocol.START and self.held:
            self._release()

    def _broadcast(self, data: bytes) -> None:
        for fd, client in list(self.clients.items()):
            client.out += data
            if len(client.out) > CLIENT_BUFFER_LIMIT:
                self._drop(fd)  # too slow a reader: it loses its connection, not us our memory
            else:
                self._send(fd, client)

    def _send(self, fd: int, client: Client) -> None:
        try:
            n = client.sock.send(client.out)
            del client.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(fd)
            return
        self._watch(fd, IN | (select.POLLOUT if client.out else 0))

    def _drop(self, fd: int) -> None:
        client = self.clients.pop(fd, None)
        if client is not None:
            self._unwatch(fd)
            client.sock.close()

    # -- children --------------------------------------------------------------------
    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid and self.status in ("running", "created"):
                if self.held:
                    self.held_exit = status  # passed on with the output, once released
                else:
                    self._container_exited(status)
            elif pid == self.probe_pid:
                self._probe_done(status)
            else:
                self.abandoned.discard(pid)

    def _container_exited(self, status: int) -> None:
        code = wait_status_code(status)
        self._drain_outputs()
        try:  # noqa: SIM105
            self.log.flush_partial()
        except OSError:
            pass
        oom = self._oom_killed()
        self._probe_cancel()
        self.next_probe = None
        self._close_stdio()
        stopped = self.no_restart or os.path.exists("no-restart")
        restart = self.policy.should_restart(code, self.restart_count, stopped)
        if restart:
            self.restart_count += 1  # counted when decided, as dockerd counts it
        record = {
            "ExitCode": code,
            "FinishedAt": rfc3339nano(),
            "OOMKilled": oom,
            "RestartCount": self.restart_count,
        }
        if restart:  # the runtime's state must be gone before the container is created again
            record["RuntimeDeleted"] = self._delete_runtime()
        else:
            # Report first, then delete the runtime's state: whoever records the exit
            # (unmount, ``--rm``) works meanwhile and waits for "RuntimeDeleted" after.
            record["RuntimeDeleting"] = True
        write_json("exit.json", record)
        self._broadcast(
            protocol.frame(
                protocol.EXIT, jsonlite.dumps({"ExitCode": code, "Restarting": restart}).encode()
            )
        )
        self.final_code = code
        if restart:
            ran = time.monotonic() - self.started_mono
            self.restart_at = time.monotonic() + self.backoff.next(ran)
            self._set_status("restarting")
        else:
            del record["RuntimeDeleting"]
            record["RuntimeDeleted"] = self._delete_runtime()  # the recorder need not delete it
            self._set_status("exited")
            write_json("exit.json", record)  # last: the recorder removes this directory then
            self._finish()

    def _delete_runtime(self) -> bool:
        try:
            self.runtime.delete(self.opts.container_id, force=True)
        except (OciError, OSError):
            return False
        return True

    def _oom_killed(self) -> bool:
        path = self.opts.cgroup_path
        if path is None:
            try:
                with open(os.path.join(self.opts.bundle, "config.json")) as f:
                    spec = jsonlite.loads(f.read())
                path = spec.get("linux", {}).get("cgroupsPath")
            except (OSError, ValueError, AttributeError):
                return False
        if not isinstance(path, str) or not path or ":" in path:
            return False  # systemd-style paths: not looked up
        rel = path.lstrip("/")
        for file in (
            f"/sys/fs/cgroup/memory/{rel}/memory.oom_control",
            f"/sys/fs/cgroup/{rel}/memory.events",
            f"/sys/fs/cgroup/unified/{rel}/memory.events",
        ):
            try:
                with open(file) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
            except (OSError, ValueError):
                continue
        return False

    # -- health probes ----------------------------------------------------------------
    def _probe_start(self) -> None:
        hc = self.health_config
        assert hc is not None
        self.next_probe = None
        r, w = os.pipe()
        os.set_blocking(r, False)
        self.probe_start_ns = time.time_ns()
        try:
            argv = self.runtime.exec_argv(self.opts.container_id, hc.argv())
            self.probe_pid = spawn(argv, None, w, w)
        except (OciError, OSError, ValueError) as e:
            os.close(r)
            self._probe_record(-1, str(e))
            return
        finally:
            os.close(w)
        self.probe_fd = r
        self.probe_out.clear()
        self.probe_deadline = time.monotonic() + hc.timeout
        self._watch(r, IN)

    def _probe_read(self) -> None:
        try:
            data = os.read(self.probe_fd, 65536)
        except BlockingIOError:
            return
        if data:
            if len(self.probe_out) < PROBE_OUTPUT_LIMIT:
                self.probe_out += data[: PROBE_OUTPUT_LIMIT - len(self.probe_out)]
        else:
            self._unwatch(self.probe_fd)
            os.close(self.probe_fd)
            self.probe_fd = -1

    def _probe_done(self, status: int) -> None:
        while self.probe_fd >= 0 and self._readable(self.probe_fd):
            self._probe_read()
        self._probe_close()
        self.probe_pid = 0
        self._probe_record(
            wait_status_code(status), bytes(self.probe_out).decode("utf-8", "replace")
        )

    def _probe_close(self) -> None:
        if self.probe_fd >= 0:
            self._unwatch(self.probe_fd)
            os.close(self.probe_fd)
            self.probe_fd = -1

    def _probe_timeout(self) -> None:
        hc = self.health_config
        assert hc is not None
        self._probe_cancel()
        self._probe_record(-1, hc.timeout_message())

    def _probe_cancel(self) -> None:
        if self.probe_pid:
            try:  # noqa: SIM105 (contextlib costs memory)
                os.kill(self.probe_pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.abandoned.add(self.probe_pid)
            self.probe_pid = 0
        self._probe_close()

    def _probe_record(self, code: int, output: str) -> None:
        if self.health is None or self.health_config is None or self.status != "running":
            return
        self.health.record(self.probe_start_ns, time.time_ns(), code, output)
        write_json("health.json", self.health.to_json())
        self.next_probe = time.monotonic() + self.health_config.interval

    # -- the end --------------------------------------------------------------------------
    def _finish(self, callback: bool = True) -> None:
        self.done = True
        recorders = []
        for fd, client in list(self.clients.items()):
            if client.out:
                try:
                    client.sock.setblocking(True)
                    client.sock.settimeout(2)
                    client.sock.sendall(client.out)
                except OSError:
                    pass
            if client.records_exit:
                recorders.append(self.clients.pop(fd))
                self._unwatch(fd)
            else:
                self._drop(fd)
        recorded = self._wait_for_recorders(recorders)
        self.listener.close()
        try:  # noqa: SIM105 (contextlib costs memory)
            os.unlink("attach")
        except FileNotFoundError:
            pass
        self.log.close()
        if self.opts.cleanup_cmd and callback and not recorded:
            try:
                pid = spawn(self.opts.cleanup_cmd)
                while True:
                    try:
                        got, _ = os.waitpid(pid, 0)
                        if got == pid:
                            break
                    except ChildProcessError:
                        break
            except (OciError, OSError):
                pass
        if self.opts.remove:
            _rmtree(self.sd)

    def _wait_for_recorders(self, recorders: list[Client]) -> bool:
        """Wait (at most RECORDER_WAIT s) for the clients that record the exit
        themselves to hang up; True when the exit was recorded meanwhile (the
        engine removes the state directory when it records an exit)."""
        if not recorders:
            return False
        deadline = time.monotonic() + RECORDER_WAIT
        for client in recorders:
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    client.sock.setblocking(True)
                    client.sock.settimeout(left)
                    if not client.sock.recv(4096):
                        break
            except OSError:
                pass
            client.sock.close()
        return not os.path.exists(os.path.join(self.sd, "exit.json"))


def _rmtree(path: str) -> None:
    """``shutil.rmtree`` without importing shutil (and without following symlinks)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            try:  # noqa: SIM105 (contextlib costs memory)
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
    try:  # noqa: SIM105 (contextlib costs memory)
        os.rmdir(path)
    except OSError:
        pass
