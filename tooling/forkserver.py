"""Start `source-declarative-manifest` commands as processes forked from one that has imported it.

Every start of the stock runtime spends about two seconds of CPU importing airbyte-cdk before it
reads its arguments; the test suite starts it hundreds of times, on two runtimes. A fork server is
a process of the runtime's own venv that imports the runtime's entry point once and then forks a
child per command. The child is a process of its own, as the console script's would be: its own
arguments, working directory, environment, stdin (/dev/null), stdout and stderr, exit code and
signals; it runs the same `run()` the console script calls, then exits as the interpreter would
(non-daemon threads joined, atexit handlers, streams flushed). What differs from a fresh start is
only what happened before `run()`: the imports, done once in the server, before any command's
environment was set (airbyte-cdk reads its environment variables when a command runs, not at
import).

Used by the tests (tests/conftest.py); the main job, the benchmark and the platform tests start
the console script itself (tooling/runtime.py).

The server side runs in the runtime's venv (`python -I forkserver.py SOCKET`) and needs only the
standard library and airbyte-cdk. A client sends one request per connection over a Unix
SOCK_SEQPACKET socket: a JSON object (argv, cwd, env) with the child's stdout and stderr file
descriptors attached (SCM_RIGHTS); the server answers the child's pid, then its exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_MAX_MESSAGE = 1 << 20


# The server: runs in the runtime's venv.


def serve(socket_path: str) -> None:
    from airbyte_cdk.cli.source_declarative_manifest import run  # the console script's target

    _import_what_a_command_imports()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(socket_path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")  # EOF: the client has gone
    children: dict[int, socket.socket] = {}  # pid -> the connection that waits for its exit
    # SIGCHLD only wakes the select below; children are reaped there.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector.register(wake_read, selectors.EVENT_READ, "child")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not os.read(sys.stdin.fileno(), 1):
                    for pid in children:
                        _kill(pid)
                    return
            elif key.data == "child":
                os.read(wake_read, 4096)
            elif key.data == "accept":
                connection, _ = listener.accept()
                pid = _fork_command(connection, run, [listener, connection], wake_read)
                if pid is not None:
                    children[pid] = connection
        _reap(children)


def _import_what_a_command_imports() -> None:
    """Import, before forking, the modules a `read` imports lazily once it has started."""
    for module in (
        "airbyte_cdk.sources.declarative.concurrent_declarative_source",
        "airbyte_cdk.sources.declarative.parsers.model_to_component_factory",
        "airbyte_cdk.sources.declarative.yaml_declarative_source",
        "airbyte_cdk.entrypoint",
    ):
        # ImportError: a module one of the supported versions does not have.
        with contextlib.suppress(ImportError):
            __import__(module)


def _fork_command(connection, run, inherited: list, wake_read: int) -> int | None:
    message, fds, _, _ = socket.recv_fds(connection, _MAX_MESSAGE, 2)
    if len(fds) != 2:
        for fd in fds:
            os.close(fd)
        connection.close()
        return None
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:  # the child
        for sock in inherited:
            sock.close()
        os.close(wake_read)
        _run_command(run, request, stdout_fd=fds[0], stderr_fd=fds[1])  # never returns
    for fd in fds:
        os.close(fd)
    connection.send(json.dumps({"pid": pid}).encode())
    return pid


def _run_command(run, request: dict, stdout_fd: int, stderr_fd: int) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        # The handlers a fresh interpreter has (it ignores SIGPIPE, as the server does).
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        for fd in (devnull, stdout_fd, stderr_fd):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # found again from the command's TMPDIR, as a fresh start does
        sys.argv = list(request["argv"])
        code = _exit_code(run)
    finally:
        # What the interpreter does at exit: join non-daemon threads, run atexit, flush.
        try:
            threading._shutdown()
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


def _exit_code(run) -> int:
    """The exit code `sys.exit(run())` gives the console script, as the interpreter computes it."""
    try:
        result = run()
        raise SystemExit(result)
    except SystemExit as exit:
        if exit.code is None:
            return 0
        if isinstance(exit.code, int):
            return exit.code & 0xFF
        print(exit.code, file=sys.stderr)
        return 1
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            try:
                code = os.waitstatus_to_exitcode(status)
                connection.send(json.dumps({"returncode": code}).encode())
            except OSError:
                pass
            connection.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# The client: runs in the tests' process.


class ForkServer:
    """One fork server for one runtime (`.../bin/source-declarative-manifest`), started on first
    use and stopped when this process exits (its stdin closes)."""

    def __init__(self, executable: Path) -> None:
        self.executable = Path(executable)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._socket_path: str | None = None

    def popen(self, args: list[str], *, stderr, env: dict[str, str], cwd) -> ForkedProcess:
        """Like subprocess.Popen(args, stdout=PIPE, stderr=stderr, text=True, env, cwd)."""
        assert Path(args[0]) == self.executable, args[0]
        socket_path = self._start()
        read_end, write_end = os.pipe()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(socket_path)
            request = {"argv": [str(arg) for arg in args], "cwd": str(cwd), "env": dict(env)}
            socket.send_fds(
                connection, [json.dumps(request).encode()], [write_end, stderr.fileno()]
            )
        finally:
            os.close(write_end)
        answer = connection.recv(_MAX_MESSAGE)
        if not answer:
            os.close(read_end)
            connection.close()
            raise RuntimeError(f"the fork server of {self.executable} did not start the command")
        # Text as Popen(text=True) reads it: the locale's encoding, universal newlines.
        stdout = os.fdopen(read_end, "r")
        return ForkedProcess(args, json.loads(answer)["pid"], stdout, connection)

    def close(self) -> None:
        """Stop the server (a command still running is killed)."""
        with self._lock:
            if self._process is not None:
                self._process.stdin.close()
                self._process.wait(timeout=30)
                self._process = None

    def _start(self) -> str:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                folder = tempfile.mkdtemp(prefix="configcat-forkserver-")
                self._socket_path = os.path.join(folder, "socket")
                python = self.executable.parent / "python"
                self._process = subprocess.Popen(
                    [str(python), "-I", __file__, self._socket_path],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                if self._process.stdout.readline() != "ready\n":
                    raise RuntimeError(f"the fork server of {self.executable} did not start")
            return self._socket_path


class ForkedProcess:
    """The part of subprocess.Popen that tooling.runtime uses, for a forked command."""

    def __init__(self, args, pid: int, stdout, connection: socket.socket) -> None:
        self.args = args
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        if self.returncode is None:
            self._connection.setblocking(False)
            try:
                self._receive_exit()
            except BlockingIOError:
                pass
            finally:
                if self.returncode is None:
                    self._connection.setblocking(True)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._connection.setblocking(True)
            self._receive_exit()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            _kill(self.pid)

    def _receive_exit(self) -> None:
        answer = self._connection.recv(_MAX_MESSAGE)
        if not answer:
            raise RuntimeError(f"the fork server lost command {self.pid}")
        self.returncode = json.loads(answer)["returncode"]
        self._connection.close()


if __name__ == "__main__":
    serve(sys.argv[1])
