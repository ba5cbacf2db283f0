"""Real processes for the operations tests: `manage.py serve` instances and a TCP proxy we can cut."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on now, chosen by the kernel: parallel test workers (and other people's runs
    on the same machine) never get the same one, as they would with fixed numbers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class TcpProxy:
    """A loopback TCP forwarder. ``cut()`` refuses new connections and drops open ones, the way a
    stopped database server looks to its clients; ``restore()`` listens again on the same port."""

    def __init__(self, listen_port: int, target: tuple[str, int]):
        self.port = listen_port
        self.target = target
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                with self._lock:
                    self._conns.discard(sock)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=2)
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()

    stop = cut


class Instance:
    """One `manage.py serve` process (gunicorn + supervisor) with its logs in files."""

    def __init__(self, name: str, port: int, env: dict, workdir: Path, args: tuple[str, ...] = ()):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self.env = env
        self.args = args
        self.process: subprocess.Popen | None = None

    def start(self) -> Instance:
        assert port_is_free(self.port), f"port {self.port} is taken"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{self.port}", *self.args],
            cwd=REPO,
            env=self.env,
            stdout=self.stdout_path.open("wb"),
            stderr=self.stderr_path.open("wb"),
            start_new_session=True,  # so teardown can end the whole group if a test fails
        )
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/ready/", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def log_lines(self) -> list[dict]:
        """Every stderr line parsed as JSON (fails the test on a line that is not)."""
        lines = []
        for number, raw in enumerate(self.stderr_path.read_text().splitlines(), 1):
            if raw.strip():
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    raise AssertionError(f"{self.name} stderr line {number} is not JSON: {raw!r}") from None
        return lines

    def child_pids(self) -> set[int]:
        """The gunicorn master and worker pids the logs announced."""
        pids = set()
        for line in self.log_lines():
            message = line.get("message", "")
            if message.startswith("started web (pid "):
                pids.add(int(message.split("pid ")[1].rstrip(")")))
            elif message.startswith("Booting worker with pid: "):
                pids.add(int(message.rsplit(" ", 1)[1]))
        return pids

    def kill(self) -> None:
        """Teardown after a failure: end the supervisor and every child it announced."""
        if self.process is None:
            return
        try:
            children = self.child_pids()
        except (AssertionError, OSError):
            children = set()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
