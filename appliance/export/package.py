"""The export package: one file, encrypted, signed twice (design/export.md has the layout).

One module because it is one file format: building, opening and verifying a package share its
layout, key slots and signature prefixes and must change together (hence its length).

::

    magic "CCTVEXP1"  |  u32 header length  |  header JSON (public: ids, key slots, signer)
    secretstream(XChaCha20-Poly1305) of a stored ZIP: manifest.json, manifest.sig, README.txt,
        SHA256SUMS, video/*.mp4
    ed25519 signature (64 bytes) over everything before it

The outer signature lets anyone check a package without opening it (chain of custody); the
inner signature over the manifest, which lists every MP4's (and the README's) SHA-256, still
proves origin after the recipient has unpacked it. ``SHA256SUMS`` lists every other member in
the format of coreutils' ``sha256sum``, so ``sha256sum -c SHA256SUMS`` checks an unpacked copy
with tools anyone has (police and courts record SHA-256 with digital evidence). The content
key is wrapped by an argon2id-derived key from the transport passphrase and, optionally,
sealed to the vault public key so the appliance can re-open its own packages. Plaintext exists
only in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash
from nacl.public import PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from appliance.errors import FootageCorrupt, NotFound, ValidationFailed
from appliance.media.sealing import SegmentKeyOpener

__all__ = [
    "FORMAT",
    "KDF_INTERACTIVE",
    "KDF_MODERATE",
    "SHA256SUMS",
    "Check",
    "KdfLimits",
    "PackageContents",
    "PackageHeader",
    "VerifyReport",
    "build_package",
    "canonical_json",
    "fingerprint",
    "flatten_sha256sums",
    "format_sha256sums",
    "generate_passphrase",
    "new_file_key",
    "open_package",
    "parse_sha256sums",
    "read_header",
    "store_package",
    "unseal_vault_slot",
    "verify_package",
]

FORMAT = "clinic-cctv-export/1"
MAGIC = b"CCTVEXP1"
SIGNATURE_BYTES = 64
CHUNK_BYTES = 1 << 20
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
README = "README.txt"
SHA256SUMS = "SHA256SUMS"
_HEX64 = frozenset("0123456789abcdef")
# Domain separation: the ledger's signing key also signs ledger heads; these prefixes make a
# package or manifest signature meaningless as anything else.
_PACKAGE_CONTEXT = b"clinic-cctv-export/1 package\x00"
_MANIFEST_CONTEXT = b"clinic-cctv-export/1 manifest\x00"
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read over the phone


@dataclass(frozen=True)
class KdfLimits:
    opslimit: int
    memlimit: int


KDF_MODERATE = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
)
KDF_INTERACTIVE = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
)


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(public_key: bytes) -> str:
    """A short, readable fingerprint of a verify key, printed on notices for comparison."""
    digest = hashlib.sha256(public_key).hexdigest()[:20]
    return "-".join(digest[i : i + 4] for i in range(0, 20, 4))


def format_sha256sums(files: Mapping[str, bytes]) -> bytes:
    """``sha256sum``'s output for ``files`` (name -> bytes), one "<hex>  <name>" line each, in
    name order: what ``sha256sum -c`` reads."""
    for name in files:
        if "\n" in name or "\\" in name or name.startswith("/") or ".." in name:
            raise ValidationFailed(f"bad member name {name!r}")
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode()


def parse_sha256sums(text: bytes) -> dict[str, str]:
    """name -> SHA-256 hex from a ``SHA256SUMS`` file (text or binary mode lines); a malformed
    line or a name listed twice is FootageCorrupt."""
    listed: dict[str, str] = {}
    try:
        lines = text.decode().splitlines()
    except UnicodeDecodeError as exc:
        raise FootageCorrupt("SHA256SUMS is not UTF-8") from exc
    for number, line in enumerate(lines, 1):
        digest, sep, name = line.partition(" ")
        if name[:1] in ("*", " "):  # binary ("*", sha256sum -b) or text mode (" ")
            name = name[1:]
        if not sep or not name or len(digest) != 64 or not set(digest) <= _HEX64:
            raise FootageCorrupt(f"SHA256SUMS line {number} is malformed")
        if name in listed:
            raise FootageCorrupt(f"SHA256SUMS lists {name} twice")
        listed[name] = digest
    return listed


def flatten_sha256sums(text: bytes) -> bytes:
    """The same list naming each file without its folder (``unpack-export`` writes the videos
    flat, so ``sha256sum -c`` runs in the folder it wrote)."""
    listed = parse_sha256sums(text)
    return "".join(f"{d}  {Path(n).name}\n" for n, d in sorted(listed.items())).encode()


def generate_passphrase(groups: int = 6, group_len: int = 5) -> str:
    """A random transport passphrase (about 148 bits for 6 x 5), shown once, never stored."""
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(group_len)) for _ in range(groups)
    )


@dataclass(frozen=True)
class PackageHeader:
    """The public part of a package; authenticated by the outer signature and bound to the
    ciphertext as associated data of its first chunk."""

    raw: bytes
    fields: dict[str, Any]

    @property
    def package_id(self) -> str:
        return str(self.fields["package_id"])

    @property
    def signer_public_key(self) -> bytes:
        return bytes.fromhex(self.fields["signer_public_key"])

    def slot(self, kind: str) -> dict[str, Any] | None:
        for slot in self.fields.get("slots", []):
            if slot.get("kind") == kind:
                return dict(slot)
        return None


@dataclass(frozen=True)
class PackageContents:
    header: PackageHeader
    manifest: dict[str, Any]
    manifest_bytes: bytes
    files: dict[str, bytes]  # the videos
    #: The other members but the manifest: manifest.sig, README.txt, SHA256SUMS (if present).
    extras: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    """Each check that was run; ``ok`` only if every one passed."""

    checks: list[Check] = field(default_factory=list)
    header: PackageHeader | None = None
    manifest: dict[str, Any] | None = None
    contents_checked: bool = False
    manifest_bytes: bytes | None = None
    files: dict[str, bytes] | None = None  # only with keep_files: plaintext, in memory
    extras: dict[str, bytes] | None = None  # only with keep_files: the non-video members
    #: SHA-256 of the package file itself (what a recipient notes on receipt).
    sha256: str = ""
    #: Every archive member's (size in bytes, SHA-256), once the contents were read.
    members: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and bool(self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def _zip(files: Mapping[str, bytes], created_ms: int) -> bytes:
    moment = datetime.fromtimestamp(created_ms / 1000, tz=UTC)
    stamp = (
        max(moment.year, 1980),
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )
    buffer = io.BytesIO()
    # Stored, not deflated: H.264 does not compress, and stored members open everywhere.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()


def _encrypt(plaintext: bytes, key: bytes, associated: bytes) -> bytes:
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    out = [sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)]
    chunks = [plaintext[i : i + CHUNK_BYTES] for i in range(0, len(plaintext), CHUNK_BYTES)] or [
        b""
    ]
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        tag = (
            sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if last
            else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
            state, chunk, associated if index == 0 else None, tag
        )
        out.append(struct.pack(">I", len(sealed)))
        out.append(sealed)
    return b"".join(out)


def _decrypt(ciphertext: bytes, key: bytes, associated: bytes) -> bytes:
    header_len = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
    if len(ciphertext) < header_len:
        raise FootageCorrupt("ciphertext is truncated")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, ciphertext[:header_len], key)
    pos, parts, first = header_len, [], True
    while pos < len(ciphertext):
        if pos + 4 > len(ciphertext):
            raise FootageCorrupt("ciphertext chunk length is truncated")
        (size,) = struct.unpack(">I", ciphertext[pos : pos + 4])
        pos += 4
        chunk = ciphertext[pos : pos + size]
        if len(chunk) != size:
            raise FootageCorrupt("ciphertext chunk is truncated")
        pos += size
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                state, chunk, associated if first else None
            )
        except nacl.exceptions.CryptoError as exc:
            raise FootageCorrupt("a ciphertext chunk failed authentication") from exc
        first = False
        parts.append(plain)
        if tag == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            if pos != len(ciphertext):
                raise FootageCorrupt("data after the final chunk")
            return b"".join(parts)
    raise FootageCorrupt("the final chunk is missing (truncated package)")


def _passphrase_key(passphrase: str, salt: bytes, limits: KdfLimits) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            SecretBox.KEY_SIZE,
            passphrase.encode(),
            salt,
            opslimit=limits.opslimit,
            memlimit=limits.memlimit,
        )
    )


def new_file_key() -> bytes:
    """A random content key for ``build_package``."""
    return bytes(sodium.crypto_secretstream_xchacha20poly1305_keygen())


def build_package(
    manifest: Mapping[str, Any],
    videos: Mapping[str, bytes],
    *,
    signing_key: SigningKey,
    passphrase: str,
    created_ms: int,
    package_id: str | None = None,
    vault_public_key: tuple[str, bytes] | None = None,
    kdf: KdfLimits = KDF_MODERATE,
    readme: str = "",
    file_key: bytes | None = None,
) -> bytes:
    """Sign ``manifest`` (with the files' SHA-256 added), zip it with the videos and a
    ``SHA256SUMS`` of every other member, encrypt, sign.

    ``videos`` maps member names (``video/....mp4``) to MP4 bytes; the manifest gains
    ``format``, ``package_id``, ``created_ms``, ``signer_public_key``, ``files``, ``readme``
    (the README's SHA-256 and size, when there is one) and ``checksums`` (naming SHA256SUMS,
    so a package stripped of it fails verification).
    ``file_key`` (``new_file_key()``) lets the caller keep its own sealed copy of the content
    key instead of a ``vault_public_key`` slot in the header; by default a fresh one is drawn.
    """
    if len(passphrase) < 12:
        raise ValidationFailed("a transport passphrase needs at least 12 characters")
    for name in videos:
        if not name.startswith("video/") or name.count("/") != 1 or ".." in name:
            raise ValidationFailed(f"bad member name {name!r}")
    package_id = package_id or secrets.token_hex(16)
    verify_hex = bytes(signing_key.verify_key).hex()
    full = dict(manifest)
    full.update(
        format=FORMAT,
        package_id=package_id,
        created_ms=created_ms,
        signer_public_key=verify_hex,
        files={
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(videos.items())
        },
        checksums={"file": SHA256SUMS, "algorithm": "sha256", "format": "sha256sum"},
    )
    readme_bytes = readme.encode()
    if readme:
        full["readme"] = {
            "file": README,
            "sha256": hashlib.sha256(readme_bytes).hexdigest(),
            "bytes": len(readme_bytes),
        }
    manifest_bytes = canonical_json(full)
    manifest_sig = signing_key.sign(_MANIFEST_CONTEXT + manifest_bytes).signature
    members: dict[str, bytes] = {
        MANIFEST: manifest_bytes,
        MANIFEST_SIG: manifest_sig.hex().encode(),
    }
    if readme:
        members[README] = readme_bytes
    members.update(sorted(videos.items()))
    # Last, over everything above: `sha256sum -c SHA256SUMS` in the unpacked folder.
    members[SHA256SUMS] = format_sha256sums(members)
    archive = _zip(members, created_ms)

    if file_key is None:
        file_key = new_file_key()
    salt = os.urandom(nacl.pwhash.argon2id.SALTBYTES)
    slots: list[dict[str, Any]] = [
        {
            "kind": "passphrase",
            "kdf": "argon2id13",
            "salt": salt.hex(),
            "opslimit": kdf.opslimit,
            "memlimit": kdf.memlimit,
            "wrapped_key": SecretBox(_passphrase_key(passphrase, salt, kdf))
            .encrypt(file_key)
            .hex(),
        }
    ]
    if vault_public_key is not None:
        key_id, public = vault_public_key
        sealed = SealedBox(PublicKey(public)).encrypt(file_key)
        slots.append({"kind": "vault", "key_id": key_id, "sealed_key": sealed.hex()})
    header = canonical_json(
        {
            "format": FORMAT,
            "package_id": package_id,
            "created_ms": created_ms,
            "cipher": "xchacha20poly1305-secretstream",
            "chunk_bytes": CHUNK_BYTES,
            "signer_public_key": verify_hex,
            "slots": slots,
        }
    )
    body = MAGIC + struct.pack(">I", len(header)) + header + _encrypt(archive, file_key, header)
    return body + signing_key.sign(_PACKAGE_CONTEXT + body).signature


def _split(data: bytes) -> tuple[PackageHeader, bytes, bytes, bytes]:
    """(header, ciphertext, signed body, signature) or FootageCorrupt for a malformed file."""
    if len(data) < len(MAGIC) + 4 + SIGNATURE_BYTES or not data.startswith(MAGIC):
        raise FootageCorrupt("not an export package (bad magic or too short)")
    (header_len,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if start + header_len > len(data) - SIGNATURE_BYTES:
        raise FootageCorrupt("header length runs past the end")
    raw = data[start : start + header_len]
    try:
        fields = json.loads(raw)
        if not isinstance(fields, dict) or fields.get("format") != FORMAT:
            raise ValueError("unknown format")
        bytes.fromhex(fields["signer_public_key"])
        str(fields["package_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FootageCorrupt(f"header is not readable: {exc}") from exc
    body = data[:-SIGNATURE_BYTES]
    return PackageHeader(raw, fields), body[start + header_len :], body, data[-SIGNATURE_BYTES:]


def read_header(data: bytes) -> PackageHeader:
    return _split(data)[0]


def _file_key(header: PackageHeader, passphrase: str) -> bytes:
    slot = header.slot("passphrase")
    if slot is None:
        raise NotFound("the package has no passphrase slot")
    try:
        limits = KdfLimits(int(slot["opslimit"]), int(slot["memlimit"]))
        key = _passphrase_key(passphrase, bytes.fromhex(slot["salt"]), limits)
        return bytes(SecretBox(key).decrypt(bytes.fromhex(slot["wrapped_key"])))
    except nacl.exceptions.CryptoError as exc:
        raise FootageCorrupt("wrong passphrase, or the key slot was altered") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise FootageCorrupt(f"passphrase slot is malformed: {exc}") from exc


def unseal_vault_slot(header: PackageHeader, opener: SegmentKeyOpener) -> bytes:
    """The content key from the vault slot; ``opener`` is the unlocked vault."""
    slot = header.slot("vault")
    if slot is None:
        raise NotFound("the package has no vault slot")
    try:
        return opener.open_segment_key(str(slot["key_id"]), bytes.fromhex(slot["sealed_key"]))
    except (KeyError, ValueError) as exc:
        raise FootageCorrupt(f"the vault slot is malformed: {exc}") from exc


def _unzip(archive: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as handle:
            names = handle.namelist()
            if len(set(names)) != len(names):
                raise FootageCorrupt("duplicate archive member")
            return {name: handle.read(name) for name in names}
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FootageCorrupt(f"archive is unreadable: {exc}") from exc


def open_package(
    data: bytes, passphrase: str | None = None, *, file_key: bytes | None = None
) -> PackageContents:
    """Decrypt in memory and check everything; raise FootageCorrupt at the first failure."""
    report = verify_package(data, passphrase=passphrase, file_key=file_key, keep_files=True)
    if not report.ok or not report.contents_checked:
        failed = report.failed
        raise FootageCorrupt(
            "; ".join(f"{c.name}: {c.detail}" for c in failed) or "contents not checked"
        )
    assert report.header and report.manifest and report.manifest_bytes and report.files is not None
    return PackageContents(
        report.header, report.manifest, report.manifest_bytes, report.files, report.extras or {}
    )


def verify_package(
    data: bytes,
    *,
    passphrase: str | None = None,
    verify_key: bytes | None = None,
    file_key: bytes | None = None,
    keep_files: bool = False,
) -> VerifyReport:
    """Check the outer signature (and, with a key, the contents); never raises on bad data.

    Without ``verify_key`` the signer is the key named in the header: the report then proves
    integrity, and origin only once the fingerprint is compared with the appliance's.
    """
    report = VerifyReport(sha256=hashlib.sha256(data).hexdigest())
    try:
        header, ciphertext, body, signature = _split(data)
    except FootageCorrupt as exc:
        report.add("format", False, str(exc))
        return report
    report.header = header
    report.add("format", True, f"package {header.package_id}")
    signer = header.signer_public_key
    if verify_key is not None:
        report.add(
            "signer key",
            signer == verify_key,
            f"signed by {fingerprint(signer)}, expected {fingerprint(verify_key)}",
        )
    try:
        VerifyKey(signer).verify(_PACKAGE_CONTEXT + body, signature)
        report.add("package signature", True, f"ed25519 by {fingerprint(signer)}")
    except (nacl.exceptions.BadSignatureError, ValueError):
        report.add("package signature", False, "the file was altered after signing")
    if passphrase is None and file_key is None:
        return report
    try:
        key = file_key if file_key is not None else _file_key(header, passphrase or "")
        archive = _decrypt(ciphertext, key, header.raw)
        report.add("decryption", True)
    except (FootageCorrupt, NotFound) as exc:
        report.add("decryption", False, str(exc))
        return report
    try:
        files = _unzip(archive)
    except FootageCorrupt as exc:
        report.add("archive", False, str(exc))
        return report
    report.contents_checked = True
    report.members = {n: (len(b), hashlib.sha256(b).hexdigest()) for n, b in files.items()}
    manifest_bytes = files.pop(MANIFEST, None)
    sig_hex = files.pop(MANIFEST_SIG, None)
    extras = {n: files.pop(n) for n in (README, SHA256SUMS) if n in files}
    if sig_hex is not None:
        extras[MANIFEST_SIG] = sig_hex
    if manifest_bytes is None or sig_hex is None:
        report.add("archive", False, "manifest.json or manifest.sig is missing")
        return report
    report.add("archive", True, f"{len(files)} video file(s)")
    try:
        VerifyKey(signer).verify(
            _MANIFEST_CONTEXT + manifest_bytes, bytes.fromhex(sig_hex.decode())
        )
        report.add("manifest signature", True)
    except (nacl.exceptions.BadSignatureError, ValueError, UnicodeDecodeError):
        report.add("manifest signature", False, "manifest.json does not match its signature")
    try:
        manifest = json.loads(manifest_bytes)
        listed: dict[str, dict[str, Any]] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        report.add("manifest", False, f"unreadable: {exc}")
        return report
    report.manifest = manifest
    report.add(
        "package id",
        manifest.get("package_id") == header.package_id
        and manifest.get("signer_public_key") == signer.hex(),
        "manifest and header name the same package and signer",
    )
    for name in sorted(set(listed) | set(files)):
        if name not in files:
            report.add(f"file {name}", False, "listed in the manifest but missing")
        elif name not in listed:
            report.add(f"file {name}", False, "present but not listed in the manifest")
        else:
            digest = report.members[name][1]
            report.add(
                f"file {name}",
                digest == listed[name].get("sha256"),
                f"sha256 {digest}",
            )
    _check_readme(report, manifest, extras)
    _check_sums(report, manifest, extras)
    if keep_files:
        report.manifest_bytes = manifest_bytes
        report.files = files
        report.extras = extras
    return report


def _check_readme(report: VerifyReport, manifest: dict[str, Any], extras: dict[str, bytes]) -> None:
    """The README against the manifest's ``readme`` entry (packages since SHA256SUMS)."""
    entry = manifest.get("readme")
    if not isinstance(entry, dict):
        return
    name = f"file {README}"
    if README not in extras:
        report.add(name, False, "listed in the manifest but missing")
        return
    digest = report.members[README][1]
    report.add(name, digest == entry.get("sha256"), f"sha256 {digest}")


def _check_sums(report: VerifyReport, manifest: dict[str, Any], extras: dict[str, bytes]) -> None:
    """``SHA256SUMS`` names every other member with its SHA-256 (what ``sha256sum -c`` checks).

    A member another check already failed (a video against the manifest, manifest.json and
    manifest.sig against the signature) is not reported again here: each altered member is
    named once, by the first check that catches it.
    """
    declared = isinstance(manifest.get("checksums"), dict)
    if SHA256SUMS not in extras:
        if declared:
            report.add(SHA256SUMS, False, "named by the manifest but missing")
        return  # a package made before SHA256SUMS: the manifest's hashes are the check
    failed = {c.name.removeprefix("file ") for c in report.failed}
    if "manifest signature" in failed:
        failed |= {MANIFEST, MANIFEST_SIG}
    try:
        listed = parse_sha256sums(extras[SHA256SUMS])
    except FootageCorrupt as exc:
        report.add(SHA256SUMS, False, str(exc))
        return
    problems = []
    for name in sorted((set(listed) | set(report.members)) - {SHA256SUMS}):
        if name in failed:
            continue
        if name not in report.members:
            problems.append(f"{name}: listed but missing")
        elif name not in listed:
            problems.append(f"{name}: not listed")
        elif listed[name] != report.members[name][1]:
            problems.append(f"{name}: sha256 differs")
    report.add(
        SHA256SUMS,
        not problems,
        "; ".join(problems) or f"{len(listed)} file(s), as sha256sum -c checks them",
    )


def store_package(directory: Path, package_id: str, data: bytes) -> Path:
    """Write a package durably (temp name, fsync, rename, fsync dir); it is ciphertext."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = directory / f"{package_id}.cctvexp"
    if final.exists():
        raise ValidationFailed(f"package {package_id} exists")
    tmp = directory / f".{package_id}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final
