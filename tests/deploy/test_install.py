"""``deploy/install.sh`` into a temporary root (nothing outside it is touched): the user, the
dirs and their modes, the config from the example, the units (``systemd-analyze verify``), the
journald drop-in, the nginx site (``nginx -t``) and the local CA; a second run changes nothing
and overwrites no key, certificate or edited config."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.settings import load_settings
from tests.support.tls_proxy import NGINX, REPO, NginxProxy, install_into

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("systemd-sysusers") is None,
    reason="install.sh sets owners (root) and needs systemd's sysusers/tmpfiles",
)

UNITS = ("appliance.service", "appliance-backup.service", "appliance-backup.timer")


def _tree(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every path under root: its content digest (or link target), mode, owner and group."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            what = "-> " + os.readlink(path)
        elif path.is_file():
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = "dir"
        found[str(path.relative_to(root))] = (what, info.st_mode, info.st_uid, info.st_gid)
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _uid_gid(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


def test_install_into_a_root_twice(tmp_path: Path) -> None:
    root = tmp_path / "root"
    venv = Path(sys.prefix)
    args = ("--hostname", "cctv.clinic.lan", "--ip", "192.168.0.10",
            "--staff-listen", "192.168.0.10:443", "--agency-listen", "10.8.0.1:8443")  # fmt: skip
    first = install_into(root, venv, *args)
    assert "installed" in first.stdout and "created the CA" in first.stdout

    uid, gid = _uid_gid(root, "appliance")
    assert uid != 0 and gid != 0
    for path, mode, owner in (
        ("var/lib/appliance", 0o700, (uid, gid)),
        ("etc/appliance", 0o750, (0, gid)),
        ("etc/appliance/keys", 0o700, (uid, gid)),
        ("etc/appliance/tls", 0o700, (0, 0)),
        ("etc/appliance/appliance.toml", 0o640, (0, gid)),
        ("etc/appliance/tls/ca.key", 0o600, (0, 0)),
        ("etc/appliance/tls/server.key", 0o600, (0, 0)),
    ):
        info = (root / path).stat()
        assert (_mode(root / path), (info.st_uid, info.st_gid)) == (mode, owner), path

    # The config: the example, behind the proxy, and valid.
    config = root / "etc/appliance/appliance.toml"
    settings = load_settings(config)
    assert settings.server.behind_tls_proxy and settings.server.secure_cookie
    assert settings.server.host == "127.0.0.1" and settings.server.port == 8080
    # The units' writable paths are the config's data and key dirs.
    service = (root / "etc/systemd/system/appliance.service").read_text()
    assert f"ReadWritePaths={settings.storage.data_dir} {settings.storage.key_dir}" in service

    # The installed units are the shipped ones with the virtualenv's path, and verify.
    for unit in UNITS:
        shipped = (REPO / "deploy/systemd" / unit).read_text()
        installed = (root / "etc/systemd/system" / unit).read_text()
        assert installed == shipped.replace("/opt/appliance/venv", str(venv))
    verify = subprocess.run(
        ["systemd-analyze", "verify", *(str(root / "etc/systemd/system" / u) for u in UNITS)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    assert (root / "etc/systemd/journald.conf.d/appliance.conf").exists()

    # The certificate: signed by the CA, for the box's name and address.
    tls = root / "etc/appliance/tls"
    chain = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tls / "ca.crt"), str(tls / "server.crt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert chain.returncode == 0, chain.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tls / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:cctv.clinic.lan" in text and "IP Address:192.168.0.10" in text

    # The nginx site: the staff and agency listeners, and nginx accepts it.
    site = (root / "etc/nginx/sites-available/appliance.conf").read_text()
    assert "listen 192.168.0.10:443 ssl http2;" in site and "listen 10.8.0.1:8443 ssl" in site
    assert "server 127.0.0.1:8080;" in site and "@" not in site.replace("$", "")
    assert os.readlink(root / "etc/nginx/sites-enabled/appliance.conf") == (
        "/etc/nginx/sites-available/appliance.conf"
    )
    if Path(NGINX).exists():
        # Loopback stands in for the box's interfaces, which this machine does not have.
        site_here = site.replace("192.168.0.10:", "127.0.0.1:").replace("10.8.0.1:", "127.0.0.2:")
        (root / "etc/nginx/sites-available/appliance.conf").write_text(site_here)
        NginxProxy(root, tmp_path / "nginx").test_config()
        (root / "etc/nginx/sites-available/appliance.conf").write_text(site)

    # Again, after the administrator edited the config and `appliance init` made keys: nothing
    # changes, nothing is overwritten.
    config.write_text(config.read_text().replace("port = 8080", "port = 8081"))
    (root / "etc/appliance/keys/vault").mkdir()
    (root / "etc/appliance/keys/vault/current").write_bytes(b"a key")
    before = _tree(root)
    second = install_into(root, venv, *args)
    assert "keeping the existing" in second.stdout and "keeping the existing keys" in second.stdout
    assert _tree(root) == before


def test_make_ca_never_overwrites_a_key(tmp_path: Path) -> None:
    make_ca = str(REPO / "deploy/make-ca.sh")
    tls = tmp_path / "tls"
    subprocess.run([make_ca, "--dir", str(tls), "--name", "box"], check=True, capture_output=True)
    ca_key = (tls / "ca.key").read_bytes()
    (tls / "server.crt").unlink()  # a key without its certificate: refused, not replaced
    key = (tls / "server.key").read_bytes()
    refused = subprocess.run(
        [make_ca, "--dir", str(tls), "--name", "box"], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "refusing to overwrite" in refused.stderr
    assert (tls / "server.key").read_bytes() == key
    renewed = subprocess.run(
        [make_ca, "--dir", str(tls), "--name", "box", "--renew-server"], capture_output=True
    )
    assert renewed.returncode == 0
    assert (tls / "ca.key").read_bytes() == ca_key  # the same CA: PCs need no new import
    assert (tls / "server.key").read_bytes() != key


def test_the_ca_vouches_for_the_box_only(tmp_path: Path) -> None:
    """A certificate for another name, even one signed with the stolen ca.key, fails the name
    constraints (what browsers check too)."""
    tls = tmp_path / "tls"
    make_ca = str(REPO / "deploy/make-ca.sh")
    subprocess.run(
        [make_ca, "--dir", str(tls), "--name", "cctv.clinic.lan", "--ip", "192.168.0.10"],
        check=True, capture_output=True,
    )  # fmt: skip
    rogue = tmp_path / "rogue"
    rogue.mkdir()
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(rogue / "key"), "-subj", "/CN=bank.example",
         "-addext", "subjectAltName=DNS:bank.example", "-out", str(rogue / "csr")],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", str(rogue / "csr"), "-CA", str(tls / "ca.crt"),
         "-CAkey", str(tls / "ca.key"), "-CAcreateserial", "-CAserial", str(rogue / "srl"),
         "-copy_extensions", "copy", "-days", "30", "-out", str(rogue / "crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    verify = [
        "openssl", "verify", "-CAfile", str(tls / "ca.crt"), "-purpose", "sslserver"
    ]  # fmt: skip
    assert subprocess.run([*verify, str(tls / "server.crt")], capture_output=True).returncode == 0
    refused = subprocess.run([*verify, str(rogue / "crt")], capture_output=True, text=True)
    assert (
        refused.returncode != 0 and "permitted subtree violation" in refused.stdout + refused.stderr
    )
