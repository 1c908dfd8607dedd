"""nginx in front of a test appliance, from the site ``deploy/install.sh --root`` rendered, run
unprivileged-style on loopback ports with its own prefix (no system nginx, no port below 1024)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["NGINX", "NginxProxy", "install_into"]

NGINX = "/usr/sbin/nginx"
REPO = Path(__file__).resolve().parents[2]


def install_into(root: Path, venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/install.sh --root root --venv venv ARGS``; fail with its output."""
    done = subprocess.run(
        [str(REPO / "deploy" / "install.sh"), "--root", str(root), "--venv", str(venv), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


class NginxProxy:
    """The installed site of ``root`` served by nginx from ``prefix`` until ``stop``.

    The site names its files as on the target system (/etc/appliance/tls/...); here they are
    read from ``root`` instead. Nothing else of the site is changed.
    """

    def __init__(self, root: Path, prefix: Path) -> None:
        self.prefix = prefix
        (prefix / "logs").mkdir(parents=True)
        shutil.copytree(root / "etc/nginx/snippets", prefix / "snippets")
        site = (root / "etc/nginx/sites-available/appliance.conf").read_text(encoding="utf-8")
        self.site = site
        (prefix / "appliance.conf").write_text(
            site.replace("/etc/appliance/tls/", f"{root}/etc/appliance/tls/"), encoding="utf-8"
        )
        (prefix / "nginx.conf").write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/logs/error.log info;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    access_log off;\n"
            "    include appliance.conf;\n"
            "}\n",
            encoding="utf-8",
        )
        self._cmd = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                     "-e", str(prefix / "logs" / "error.log")]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def test_config(self) -> str:
        done = subprocess.run([*self._cmd, "-t"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stderr

    def start(self, ports: list[int]) -> None:
        self.proc = subprocess.Popen(self._cmd)
        deadline = time.monotonic() + 15
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError as exc:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise AssertionError(f"nginx is not on {port}: {self.errors()}") from exc
                    time.sleep(0.05)

    def errors(self) -> str:
        log = self.prefix / "logs" / "error.log"
        return log.read_text(encoding="utf-8") if log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
