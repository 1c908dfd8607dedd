"""The export package: signed, encrypted, verifiable; any flipped byte is caught."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey
from typer.testing import CliRunner

from appliance.cli import app
from appliance.errors import FootageCorrupt, ValidationFailed
from appliance.export import package as pkg
from appliance.export.package import (
    KDF_INTERACTIVE,
    build_package,
    fingerprint,
    generate_passphrase,
    open_package,
    read_header,
    store_package,
    unseal_vault_slot,
    verify_package,
)
from appliance.settings import Settings

PASS = "correct-horse-battery-staple"
VIDEO = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40  # stands for an MP4


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def vault() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="module")
def package(key: SigningKey, vault: PrivateKey) -> bytes:
    return build_package(
        {"request": {"id": 7}, "items": [{"file": "video/cam01.mp4", "camera_id": "cam01"}]},
        {"video/cam01.mp4": VIDEO},
        signing_key=key,
        passphrase=PASS,
        created_ms=1_772_323_200_000,
        package_id="p1",
        vault_public_key=("v1", bytes(vault.public_key)),
        kdf=KDF_INTERACTIVE,
        readme="검증 방법",
    )


def test_verifies_and_opens(package: bytes, key: SigningKey) -> None:
    report = verify_package(package, passphrase=PASS, verify_key=bytes(key.verify_key))
    assert report.ok, report.failed
    assert report.contents_checked
    names = [c.name for c in report.checks]
    for expected in (
        "format",
        "signer key",
        "package signature",
        "decryption",
        "archive",
        "manifest signature",
        "package id",
        "file video/cam01.mp4",
    ):
        assert expected in names
    contents = open_package(package, PASS)
    assert contents.files == {"video/cam01.mp4": VIDEO}
    assert contents.manifest["request"] == {"id": 7}
    assert (
        contents.manifest["files"]["video/cam01.mp4"]["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    )
    assert contents.manifest["package_id"] == "p1"


def test_without_passphrase_only_the_outer_signature_is_checked(package: bytes) -> None:
    report = verify_package(package)
    assert report.ok and not report.contents_checked
    assert [c.name for c in report.checks] == ["format", "package signature"]


def test_no_plaintext_in_the_package(package: bytes) -> None:
    assert b"ftyp" not in package
    assert b"cam01" not in package  # the manifest is inside the ciphertext
    assert bytes(range(64)) not in package


@pytest.mark.parametrize("where", ["header", "slot", "ciphertext", "last chunk", "signature"])
def test_one_flipped_byte_fails(package: bytes, where: str) -> None:
    header = read_header(package)
    start = len(pkg.MAGIC) + 4
    offset = {
        "header": start + 5,
        "slot": start + header.raw.index(b"wrapped_key") + 20,
        "ciphertext": start + len(header.raw) + 100,
        "last chunk": len(package) - 65,
        "signature": len(package) - 1,
    }[where]
    tampered = bytearray(package)
    tampered[offset] ^= 0x01
    report = verify_package(bytes(tampered), passphrase=PASS)
    assert not report.ok
    failed = {c.name for c in report.failed}
    assert failed & {"package signature", "format"}
    with pytest.raises(FootageCorrupt, match="altered after signing"):
        open_package(bytes(tampered), PASS)


def test_truncation_fails(package: bytes) -> None:
    report = verify_package(package[:-200], passphrase=PASS)
    assert not report.ok


def test_wrong_passphrase_and_wrong_signer(package: bytes) -> None:
    report = verify_package(package, passphrase="not the passphrase")
    assert [c.name for c in report.failed] == ["decryption"]
    other = SigningKey.generate()
    report = verify_package(package, verify_key=bytes(other.verify_key))
    assert [c.name for c in report.failed] == ["signer key"]


def _repack(package: bytes, key: SigningKey, edit: dict[str, bytes]) -> bytes:
    """An insider with the signing key and the content key rewrites the archive and re-signs
    the outer layer (but not the manifest): the inner checks must still catch it."""
    header = read_header(package)
    file_key = pkg._file_key(header, PASS)
    files = open_package(package, PASS).files
    with zipfile.ZipFile(
        io.BytesIO(pkg._decrypt(_ciphertext(package, header), file_key, header.raw))
    ) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members.update(edit)
    assert files
    body = pkg.MAGIC + struct.pack(">I", len(header.raw)) + header.raw
    body += pkg._encrypt(pkg._zip(members, 0), file_key, header.raw)
    return body + key.sign(pkg._PACKAGE_CONTEXT + body).signature


def _ciphertext(package: bytes, header: pkg.PackageHeader) -> bytes:
    return package[len(pkg.MAGIC) + 4 + len(header.raw) : -64]


def test_inner_checks_catch_a_swapped_video_and_an_edited_manifest(
    package: bytes, key: SigningKey
) -> None:
    swapped = _repack(package, key, {"video/cam01.mp4": VIDEO[:-1] + b"!"})
    report = verify_package(swapped, passphrase=PASS)
    assert [c.name for c in report.failed] == ["file video/cam01.mp4"]

    manifest = json.loads(open_package(package, PASS).manifest_bytes)
    manifest["request"]["id"] = 8
    edited = _repack(package, key, {"manifest.json": pkg.canonical_json(manifest)})
    report = verify_package(edited, passphrase=PASS)
    assert [c.name for c in report.failed] == ["manifest signature"]

    extra = _repack(package, key, {"video/extra.mp4": b"x"})
    report = verify_package(extra, passphrase=PASS)
    assert [c.name for c in report.failed] == ["file video/extra.mp4"]


class _Opener:
    def __init__(self, key: PrivateKey) -> None:
        self.key = key

    def open_segment_key(self, vault_key_id: str, sealed_key: bytes) -> bytes:
        assert vault_key_id == "v1"
        try:
            return bytes(SealedBox(self.key).decrypt(sealed_key))
        except CryptoError as exc:
            raise FootageCorrupt("does not open") from exc


def test_the_vault_slot_opens_with_the_vault_key(package: bytes, vault: PrivateKey) -> None:
    header = read_header(package)
    file_key = unseal_vault_slot(header, _Opener(vault))
    assert open_package(package, file_key=file_key).files["video/cam01.mp4"] == VIDEO
    with pytest.raises(FootageCorrupt, match="does not open"):
        unseal_vault_slot(header, _Opener(PrivateKey.generate()))


def test_build_refuses_bad_input(key: SigningKey) -> None:
    with pytest.raises(ValidationFailed, match="at least 12 characters"):
        build_package({}, {}, signing_key=key, passphrase="short", created_ms=0)
    with pytest.raises(ValidationFailed, match="bad member name"):
        build_package({}, {"../x.mp4": b""}, signing_key=key, passphrase=PASS, created_ms=0)


def test_generated_passphrases_and_fingerprints() -> None:
    first, second = generate_passphrase(), generate_passphrase()
    assert first != second and len(first) == 35 and first.count("-") == 5
    assert len(fingerprint(b"\x01" * 32)) == 24


def test_store_is_durable_private_and_never_overwrites(tmp_path: Path, package: bytes) -> None:
    path = store_package(tmp_path / "exports", "p1", package)
    assert path.read_bytes() == package
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["p1.cctvexp"]
    with pytest.raises(ValidationFailed, match="package p1 exists"):
        store_package(tmp_path / "exports", "p1", package)


def test_cli_verify_export(tmp_path: Path, package: bytes, key: SigningKey) -> None:
    path = tmp_path / "p1.cctvexp"
    path.write_bytes(package)
    runner = CliRunner()
    env = {"APPLIANCE_CONFIG": "", "COLUMNS": "200"}
    good = runner.invoke(app, ["verify-export", str(path), "--passphrase", PASS], env=env)
    assert good.exit_code == 0, good.output
    assert "package verified" in good.output and fingerprint(bytes(key.verify_key)) in good.output

    pinned = runner.invoke(
        app,
        ["verify-export", str(path), "--verify-key", bytes(key.verify_key).hex()],
        env=env,
    )
    assert pinned.exit_code == 0, pinned.output
    assert "contents not checked" in pinned.output

    tampered = bytearray(package)
    tampered[len(package) // 2] ^= 0x80
    path.write_bytes(bytes(tampered))
    bad = runner.invoke(app, ["verify-export", str(path), "--passphrase", PASS], env=env)
    assert bad.exit_code == 1
    assert "verification failed" in bad.output and "package signature" in bad.output
    assert "Traceback" not in bad.output

    missing = runner.invoke(app, ["verify-export", str(tmp_path / "nope")], env=env)
    assert missing.exit_code == 2


def test_cli_verify_export_pins_the_appliance_key(
    tmp_path: Path, settings: Settings, initialized: object, package: bytes
) -> None:
    path = tmp_path / "p1.cctvexp"
    path.write_bytes(package)
    config = tmp_path / "appliance.toml"
    config.write_text(_toml(settings))
    result = CliRunner().invoke(
        app, ["verify-export", str(path), "--config", str(config)], env={"COLUMNS": "200"}
    )
    # Signed by a key that is not this appliance's: the signer check fails.
    assert result.exit_code == 1
    assert "signer key" in result.output


def test_cli_unpack_export(tmp_path: Path, package: bytes) -> None:
    path = tmp_path / "p1.cctvexp"
    path.write_bytes(package)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["unpack-export", str(path), "--out", str(out), "--passphrase", PASS],
        env={"APPLIANCE_CONFIG": ""},
    )
    assert result.exit_code == 0, result.output
    assert (out / "cam01.mp4").read_bytes() == VIDEO
    assert json.loads((out / "manifest.json").read_bytes())["package_id"] == "p1"
    again = CliRunner().invoke(
        app,
        ["unpack-export", str(path), "--out", str(out), "--passphrase", "wrong passphrase!"],
        env={"APPLIANCE_CONFIG": ""},
    )
    assert again.exit_code == 1


def _toml(settings: Settings) -> str:
    site, storage = settings.site, settings.storage
    groups = "\n".join(
        f'[[groups]]\nname = "{g.name}"\nmin_days = {g.min_days}\nmax_days = {g.max_days}\n'
        for g in settings.groups
    )
    return (
        f'[site]\nname = "{site.name}"\n[site.officer]\nname = "{site.officer.name}"\n'
        f'department = "x"\ntitle = "x"\nphone = "x"\n'
        f'[storage]\ndata_dir = "{storage.data_dir}"\nkey_dir = "{storage.key_dir}"\n'
        f"min_free_bytes = 0\nalarm_free_bytes = 0\n{groups}"
    )


# -- SHA-256 for tools anyone has (issue 20) ------------------------------------------------


def _members(package: bytes) -> dict[str, bytes]:
    """The decrypted ZIP's members, read with zipfile (what any unzip tool gives)."""
    header = read_header(package)
    archive = pkg._decrypt(_ciphertext(package, header), pkg._file_key(header, PASS), header.raw)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _sha256sum_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def test_sha256sum_checks_an_extracted_package(tmp_path: Path, package: bytes) -> None:
    members = _members(package)
    assert set(members) == {
        "manifest.json", "manifest.sig", "README.txt", "SHA256SUMS", "video/cam01.mp4"
    }  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(pkg._zip(members, 0))) as z:
        z.extractall(tmp_path / "out")  # what a recipient's unzip tool does
    done = _sha256sum_check(tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    checked = sorted(line.rsplit(": ", 1)[0] for line in done.stdout.splitlines())
    assert checked == ["README.txt", "manifest.json", "manifest.sig", "video/cam01.mp4"]
    assert all(line.endswith(": OK") for line in done.stdout.splitlines())
    # The manifest (signed) gives the same SHA-256 for the video and the README.
    manifest = json.loads(members["manifest.json"])
    listed = pkg.parse_sha256sums(members["SHA256SUMS"])
    assert listed["video/cam01.mp4"] == manifest["files"]["video/cam01.mp4"]["sha256"]
    assert listed["README.txt"] == manifest["readme"]["sha256"]
    assert manifest["checksums"]["file"] == "SHA256SUMS"

    video = tmp_path / "out" / "video" / "cam01.mp4"
    video.write_bytes(video.read_bytes()[:-1] + b"?")
    failed = _sha256sum_check(tmp_path / "out")
    assert failed.returncode == 1 and "video/cam01.mp4: FAILED" in failed.stdout


def test_the_verifier_checks_sha256sums_and_the_readme(package: bytes, key: SigningKey) -> None:
    report = verify_package(package, passphrase=PASS)
    assert report.ok, report.failed
    names = [c.name for c in report.checks]
    assert "SHA256SUMS" in names and "file README.txt" in names
    assert report.sha256 == hashlib.sha256(package).hexdigest()
    assert set(report.members) == {
        "manifest.json", "manifest.sig", "README.txt", "SHA256SUMS", "video/cam01.mp4"
    }  # fmt: skip
    assert report.members["video/cam01.mp4"] == (len(VIDEO), hashlib.sha256(VIDEO).hexdigest())

    members = _members(package)
    lines = members["SHA256SUMS"].decode().splitlines()
    edited = "\n".join(("0" * 64) + line[64:] if "README" in line else line for line in lines)
    report = verify_package(_repack(package, key, {"SHA256SUMS": edited.encode()}), passphrase=PASS)
    assert [c.name for c in report.failed] == ["SHA256SUMS"]
    assert "README.txt: sha256 differs" in report.failed[0].detail

    report = verify_package(_repack(package, key, {"SHA256SUMS": b"not a list\n"}), passphrase=PASS)
    assert [c.name for c in report.failed] == ["SHA256SUMS"]

    report = verify_package(_repack(package, key, {"README.txt": b"other"}), passphrase=PASS)
    assert [c.name for c in report.failed] == ["file README.txt"]

    stripped = _strip(package, key, "SHA256SUMS")
    report = verify_package(stripped, passphrase=PASS)
    assert [c.name for c in report.failed] == ["SHA256SUMS"]
    assert "missing" in report.failed[0].detail


def _strip(package: bytes, key: SigningKey, name: str) -> bytes:
    """The package re-signed (outer layer) without member ``name``."""
    header = read_header(package)
    file_key = pkg._file_key(header, PASS)
    members = {n: b for n, b in _members(package).items() if n != name}
    body = pkg.MAGIC + struct.pack(">I", len(header.raw)) + header.raw
    body += pkg._encrypt(pkg._zip(members, 0), file_key, header.raw)
    return body + key.sign(pkg._PACKAGE_CONTEXT + body).signature


def test_a_package_made_before_sha256sums_still_verifies(key: SigningKey) -> None:
    """Packages made before issue 20 have no SHA256SUMS and no checksums entry: the manifest's
    video hashes stay the check, and nothing new is demanded of them."""
    manifest = {"format": pkg.FORMAT, "package_id": "old", "created_ms": 0,
                "signer_public_key": bytes(key.verify_key).hex(),
                "files": {"video/cam01.mp4": {"sha256": hashlib.sha256(VIDEO).hexdigest(),
                                              "bytes": len(VIDEO)}}}  # fmt: skip
    manifest_bytes = pkg.canonical_json(manifest)
    sig = key.sign(pkg._MANIFEST_CONTEXT + manifest_bytes).signature.hex().encode()
    members = {"manifest.json": manifest_bytes, "manifest.sig": sig, "README.txt": b"old",
               "video/cam01.mp4": VIDEO}  # fmt: skip
    file_key = pkg.new_file_key()
    header = pkg.canonical_json(
        {"format": pkg.FORMAT, "package_id": "old", "created_ms": 0, "cipher": "x",
         "chunk_bytes": pkg.CHUNK_BYTES, "signer_public_key": bytes(key.verify_key).hex(),
         "slots": []}
    )  # fmt: skip
    body = pkg.MAGIC + struct.pack(">I", len(header)) + header
    body += pkg._encrypt(pkg._zip(members, 0), file_key, header)
    old = body + key.sign(pkg._PACKAGE_CONTEXT + body).signature
    report = verify_package(old, file_key=file_key)
    assert report.ok, report.failed
    assert "SHA256SUMS" not in [c.name for c in report.checks]


def test_sha256sums_format_and_parse() -> None:
    text = pkg.format_sha256sums({"b.mp4": b"b", "a.txt": b"a"})
    assert text.decode().splitlines() == [
        f"{hashlib.sha256(b'a').hexdigest()}  a.txt",
        f"{hashlib.sha256(b'b').hexdigest()}  b.mp4",
    ]
    assert pkg.parse_sha256sums(text) == {
        "a.txt": hashlib.sha256(b"a").hexdigest(),
        "b.mp4": hashlib.sha256(b"b").hexdigest(),
    }
    binary = f"{'a' * 64} *video/x.mp4\n".encode()
    assert pkg.parse_sha256sums(binary) == {"video/x.mp4": "a" * 64}
    for bad in (
        b"xyz  a\n",
        f"{'A' * 64}  a\n".encode(),
        f"{'a' * 64}  a\n{'b' * 64}  a\n".encode(),
    ):
        with pytest.raises(FootageCorrupt):
            pkg.parse_sha256sums(bad)
    with pytest.raises(ValidationFailed):
        pkg.format_sha256sums({"../x": b""})
    assert pkg.flatten_sha256sums(binary) == f"{'a' * 64}  x.mp4\n".encode()


def test_unpack_export_writes_a_folder_sha256sum_checks(tmp_path: Path, package: bytes) -> None:
    path = tmp_path / "p1.cctvexp"
    path.write_bytes(package)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["unpack-export", str(path), "--out", str(out), "--passphrase", PASS],
        env={"APPLIANCE_CONFIG": "", "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt", "SHA256SUMS", "cam01.mp4", "manifest.json", "manifest.sig"
    ]  # fmt: skip
    done = _sha256sum_check(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{hashlib.sha256(VIDEO).hexdigest()}  cam01.mp4" in (out / "SHA256SUMS").read_text()
    # The package file's own SHA-256, as the hand-over record prints it.
    whole = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    verified = CliRunner().invoke(
        app, ["verify-export", str(path)], env={"APPLIANCE_CONFIG": "", "COLUMNS": "200"}
    )
    assert whole.stdout.split()[0] == hashlib.sha256(package).hexdigest()
    assert f"package SHA-256 {whole.stdout.split()[0]}" in verified.output
