"""A real S3-compatible object store for the tests: OpenStack Swift with its s3api middleware.

``SwiftServer.start(tmp)`` writes a small all-in-one configuration (design/scale.md, "Object
store"): one device (a plain directory, ``mount_check = false``), three rings with one replica
(built by ``swift_aio.py`` with ``swift-ring-builder``'s library), memcached (tempauth keeps
its tokens there, S3 requests included), tempauth with one test account, s3api in the proxy
pipeline; then it runs ``tests/support/swift_aio.py`` (the four servers in one process, under
Debian's Python, where the ``swift`` packages are) on loopback ports and waits until S3 answers.
The tests use it through ``S3Store`` exactly as an appliance would use any S3 endpoint.

Swift keeps object metadata in extended attributes (``user.swift.metadata``): the device
directory must be on a file system with user xattrs (ext4, XFS, btrfs; tmpfs only since Linux
6.6). ``check_xattrs`` says so before anything starts, naming the directory.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.storage import S3Credentials, S3Store

__all__ = [
    "SWIFT_ACCESS_KEY",
    "SWIFT_SECRET_KEY",
    "SwiftServer",
    "check_xattrs",
    "new_store",
    "storage_section",
    "swift_available",
    "write_credentials",
]

SWIFT_PYTHON = "/usr/bin/python3"
SWIFT_ACCESS_KEY = "test:tester"  # tempauth account:user, the S3 access key id
SWIFT_SECRET_KEY = "testing"  # tempauth password, the S3 secret key
_LAUNCHER = Path(__file__).with_name("swift_aio.py")
_START_TIMEOUT_S = 30.0


def swift_available() -> bool:
    """True when Debian's swift packages are installed (scripts/setup.sh installs them)."""
    return shutil.which("swift-proxy-server") is not None and shutil.which("memcached") is not None


def check_xattrs(directory: Path) -> None:
    """Raise OSError naming ``directory`` if its file system refuses user xattrs."""
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.swift.probe", b"1")
    except OSError as exc:
        raise OSError(
            f"{directory}: user extended attributes are not supported here ({exc}); Swift "
            "needs them on its device directory: put it on ext4, XFS or btrfs"
        ) from exc
    finally:
        probe.unlink()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies (a killed pytest leaves no Swift)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SWIFT_CONF = """\
[swift-hash]
swift_hash_path_suffix = cctv-test-suffix
swift_hash_path_prefix = cctv-test-prefix

[storage-policy:0]
name = gold
default = yes

[swift-constraints]
"""

_COMMON = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
swift_dir = {conf}
devices = {devices}
mount_check = false
workers = 0
log_name = {name}
log_facility = LOG_LOCAL0
log_level = WARNING
log_address = /nonexistent
"""

_BACKEND = """\
[pipeline:main]
pipeline = {name}-server

[app:{name}-server]
use = egg:swift#{name}
"""

_PROXY = """\
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging listing_formats cache s3api tempauth copy dlo \
versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
conn_timeout = 5
node_timeout = 30

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false
check_bucket_owner = false

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:copy]
use = egg:swift#copy

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
"""


@dataclass
class SwiftServer:
    """A running all-in-one Swift; ``endpoint`` is its S3 (and Swift) URL."""

    root: Path
    endpoint: str
    process: subprocess.Popen[bytes]
    memcached: subprocess.Popen[bytes]

    @classmethod
    def start(cls, root: Path) -> SwiftServer:
        conf, devices = root / "etc", root / "srv"
        device = devices / "d1"
        device.mkdir(parents=True)
        conf.mkdir()
        check_xattrs(device)
        ports = {name: _free_port() for name in ("account", "container", "object", "proxy")}
        memcached_port = _free_port()
        (conf / "swift.conf").write_text(_SWIFT_CONF)
        for name, port in ports.items():
            text = _COMMON.format(port=port, conf=conf, devices=devices, name=name)
            if name == "proxy":
                text += _PROXY.format(memcached=memcached_port)
            else:
                text += _BACKEND.format(name=name)
            (conf / f"{name}-server.conf").write_text(text)
        log = (root / "swift.log").open("wb")
        memcached = subprocess.Popen(
            [
                *("memcached", "-l", "127.0.0.1", "-p", str(memcached_port)),
                *("-U", "0", "-m", "16", "-u", pwd.getpwuid(os.getuid()).pw_name),
            ],
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent,  # prctl only: safe in a forked child
        )
        process = subprocess.Popen(
            [SWIFT_PYTHON, "-P", str(_LAUNCHER), str(conf)],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=root,
            preexec_fn=_die_with_parent,  # prctl only: safe in a forked child
        )
        server = cls(
            root=root,
            endpoint=f"http://127.0.0.1:{ports['proxy']}",
            process=process,
            memcached=memcached,
        )
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            log = (self.root / "swift.log").read_text(errors="replace")
            raise RuntimeError(f"swift did not start: {line!r}\n{log[-4000:]}")
        host, port = self.endpoint.removeprefix("http://").split(":")
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        for process in (self.process, self.memcached):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


_buckets = 0


def new_store(server: SwiftServer) -> S3Store:
    """An ``S3Store`` on a fresh, empty bucket of ``server`` (one per test)."""
    global _buckets
    _buckets += 1
    store = S3Store(
        server.endpoint,
        f"t{os.getpid()}-{_buckets}",
        S3Credentials(SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY),
        timeout_s=10.0,
    )
    store.ensure_bucket()
    return store


def write_credentials(path: Path) -> Path:
    """The test account's S3 key as ``storage.object_credentials_file`` wants it (mode 0600)."""
    path.write_text(
        f'access_key_id = "{SWIFT_ACCESS_KEY}"\nsecret_access_key = "{SWIFT_SECRET_KEY}"\n'
    )
    path.chmod(0o600)
    return path


def storage_section(
    server: SwiftServer, store: S3Store, credentials: Path, **extra: Any
) -> dict[str, Any]:
    """The ``[storage]`` keys that put an appliance's segments in ``store``'s bucket (merge
    them into a config's ``storage`` table; ``extra``: e.g. ``local_copy``)."""
    return {
        "backend": "s3",
        "object_endpoint": server.endpoint,
        "object_bucket": store.bucket,
        "object_credentials_file": str(credentials),
        **extra,
    }
