"""The native RTSP client's pure rules: which SDP video track is recorded (or why none is), and
which authentication answers a challenge. The session itself is tested in test_rtsp.py."""

from __future__ import annotations

import base64

import pytest

from recorder.rtsp.auth import authorization, choose_challenge, digest_response, parse_challenges
from recorder.rtsp.sdp import START_CODE, MediaDescription, choose_video, parameter_sets
from recorder.status import FailReason, IngestError


def _video(encoding: str, **fmtp: str) -> MediaDescription:
    return MediaDescription("video", 96, encoding, fmtp=dict(fmtp))


def test_the_first_h264_or_h265_video_track_is_chosen() -> None:
    audio = MediaDescription("audio", 97, "PCMU")
    jpeg, hevc = MediaDescription("video", 26, "JPEG"), _video("HEVC")
    assert choose_video([audio, jpeg, hevc]) == (hevc, "hevc")
    assert choose_video([_video("H264", **{"packetization-mode": "1"})])[1] == "h264"
    assert choose_video([_video("H265", **{"sprop-max-don-diff": "0"})])[1] == "hevc"


@pytest.mark.parametrize(
    ("media", "reason", "detail"),
    [
        ([], FailReason.no_video, "no video track"),
        ([MediaDescription("audio", 0, "PCMU")], FailReason.no_video, "no video track"),
        ([MediaDescription("video", 26, "JPEG")], FailReason.unsupported_codec, "JPEG"),
        ([MediaDescription("video", 96)], FailReason.unsupported_codec, "payload 96"),
        (
            [_video("H264", **{"packetization-mode": "2"})],
            FailReason.unsupported_codec,
            "packetization-mode 2",
        ),
        (
            [_video("H265", **{"sprop-max-don-diff": "2"})],
            FailReason.unsupported_codec,
            "decoding order numbers",
        ),
    ],
)
def test_what_is_refused_is_named(
    media: list[MediaDescription], reason: FailReason, detail: str
) -> None:
    with pytest.raises(IngestError, match=detail) as caught:
        choose_video(media)
    assert caught.value.reason is reason and not caught.value.use_ffmpeg


def test_parameter_sets_from_the_sdp_are_annex_b() -> None:
    sps, pps = b"\x67\x42\x00\x29", b"\x68\xce\x3c\x80"
    encoded = ",".join(base64.b64encode(x).decode().rstrip("=") for x in (sps, pps))
    h264 = _video("H264", **{"sprop-parameter-sets": encoded + ", "})  # (empty items skipped)
    assert parameter_sets(h264, "h264") == START_CODE + sps + START_CODE + pps
    vps = b"\x40\x01\x0c"
    hevc = _video("H265", **{"sprop-vps": base64.b64encode(vps).decode()})
    assert parameter_sets(hevc, "hevc") == START_CODE + vps
    assert parameter_sets(_video("H264"), "h264") == b""


def test_digest_is_preferred_to_basic() -> None:
    values = ['Basic realm="cam"', 'Digest realm="cam", nonce="n1", qop="auth,auth-int"']
    assert parse_challenges(values)["digest"] == {
        "realm": "cam", "nonce": "n1", "qop": "auth,auth-int"
    }  # fmt: skip
    assert choose_challenge(values) == ("digest", parse_challenges(values)["digest"])
    assert choose_challenge(values[:1]) == ("basic", {"realm": "cam"})
    with pytest.raises(IngestError) as caught:
        choose_challenge(['Bearer realm="cam"'])
    assert caught.value.reason is FailReason.unauthorized


def test_authorization_headers() -> None:
    basic = authorization(
        ("basic", {}), username="admin", password="p:w", method="DESCRIBE", url="rtsp://c/x"
    )
    assert basic == "Basic " + base64.b64encode(b"admin:p:w").decode()
    params = {"realm": "cam", "nonce": "n1", "opaque": "op"}
    digest = authorization(
        ("digest", params), username="admin", password="pw", method="SETUP", url="rtsp://c/x"
    )
    want = digest_response(
        username="admin", password="pw", realm="cam", nonce="n1", method="SETUP",
        uri="rtsp://c/x",
    )  # fmt: skip
    assert digest.startswith("Digest ") and f'response="{want}"' in digest
    assert 'opaque="op"' in digest and "qop=" not in digest and "pw" not in digest
