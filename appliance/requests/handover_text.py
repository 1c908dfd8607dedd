"""The hand-over record as plain text, Korean or English (``appliance requests
handover-record``): the same facts as the desk's printable page, for a console, a text file or a
printer without a browser. The page's labels live in ``api/web/i18n/*.handover.json``; these
are the console's (the domain cannot read the web's tables)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from appliance.requests.handover import HandoverRecord

__all__ = ["LABELS", "record_text"]

LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "개인영상정보 사본 인수확인서",
        "request": "요청 번호",
        "letter": "공문 번호",
        "received": "접수 일시",
        "requester": "요청인",
        "recipient": "수령인",
        "handed": "인도 일시",
        "handed_blank": "____년 __월 __일 __:__ (수기 기재)",
        "form": "인도 방법",
        "scope": "제공 범위",
        "cameras": "카메라",
        "range": "기간",
        "masking": "마스킹",
        "method": "방법",
        "pixelate": "모자이크(픽셀화)",
        "gaussian": "흐림 처리(가우시안)",
        "fill": "단색 채움",
        "auto": "자동 검출",
        "faces": "얼굴",
        "people": "사람 전신",
        "none": "없음",
        "boxes": "가린 영역 수 (프레임별): 얼굴 {face}, 사람 {person}, 지정 영역 {officer}",
        "regions": "담당자 지정 영역 {regions}개, 요청인 본인 제외 영역 {exemptions}개",
        "frames": "프레임 {masked} / {frames}에 마스킹 적용",
        "by": "작성자 {by} · 승인 {approved}",
        "files": "파일 (크기, SHA-256)",
        "package": "패키지 파일",
        "bytes": "바이트",
        "signer": "서명 검증키 지문 (ed25519)",
        "basis": "법적 근거",
        "check": "확인 방법: sha256sum {package} 의 값이 위와 같은지, 압축을 푼 폴더에서 "
        "sha256sum -c SHA256SUMS 가 모두 OK 인지 확인하십시오.",
        "statement": "위 파일을 위와 같이 인도하고 인수하였음을 확인합니다.",
        "officer": "인도자 (영상정보 보호책임자 또는 담당자)",
        "receiver": "인수자",
        "sign": "성명: ____________________  서명: ____________________  일시: ______________",
        "printed": "출력 {time} · {by} · 반출 {export}",
    },
    "en": {
        "title": "Hand-over record of a CCTV footage copy",
        "request": "Request no.",
        "letter": "Letter ref.",
        "received": "Received",
        "requester": "Requester",
        "recipient": "Recipient",
        "handed": "Handed over",
        "handed_blank": "____-__-__ __:__ (write by hand)",
        "form": "Method",
        "scope": "Scope",
        "cameras": "Cameras",
        "range": "Time range",
        "masking": "Masking",
        "method": "Method",
        "pixelate": "pixelation (mosaic)",
        "gaussian": "Gaussian blur",
        "fill": "solid fill",
        "auto": "Detected automatically",
        "faces": "faces",
        "people": "whole people",
        "none": "none",
        "boxes": "Boxes obscured (per frame): faces {face}, people {person}, drawn {officer}",
        "regions": "{regions} area(s) drawn by the officer, {exemptions} exempted (the "
        "requester's own)",
        "frames": "Masking applied on {masked} of {frames} frames",
        "by": "Made by {by} · approved by {approved}",
        "files": "Files (size, SHA-256)",
        "package": "package file",
        "bytes": "bytes",
        "signer": "Signing key fingerprint (ed25519)",
        "basis": "Statutory basis",
        "check": "To check: sha256sum {package} must print the value above, and "
        "sha256sum -c SHA256SUMS in the unpacked folder must report OK for every file.",
        "statement": "The files above were handed over and received as stated.",
        "officer": "Handed over by (video protection officer or staff)",
        "receiver": "Received by",
        "sign": "Name: ____________________  Signature: ____________________  Date: __________",
        "printed": "Printed {time} · {by} · export {export}",
    },
}


def _when(ms: int | None, zone: ZoneInfo) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=zone).strftime("%Y-%m-%d %H:%M:%S")


def record_text(record: HandoverRecord, lang: str, zone: ZoneInfo) -> str:
    """The record as text lines (UTF-8), labels in ``lang`` ("ko" or "en")."""
    t = LABELS["en" if lang == "en" else "ko"]
    m = record.masking
    auto = [t[k] for k, on in (("faces", m.faces), ("people", m.people)) if on]
    methods = ", ".join(t.get(x, x) for x in m.method.split(", ") if x) or t["none"]
    lines = [
        f"{record.site_name} · {t['title']}",
        "=" * 72,
        f"{t['request']}: {record.number} (#{record.request_id}, {record.kind})",
        f"{t['received']}: {_when(record.received_ms, zone)}",
    ]
    if record.letter_reference:
        lines.append(f"{t['letter']}: {record.letter_reference}")
    lines += [
        f"{t['requester']}: {record.requester}",
        f"{t['recipient']}: {record.recipient}",
        f"{t['handed']}: {_when(record.handed_over_ms, zone) or t['handed_blank']}"
        + (f" · {t['form']}: {record.form}" if record.form else ""),
        "",
        f"[{t['scope']}]",
        f"{t['cameras']}: "
        + ", ".join(
            f"{c.name} ({c.camera_id}{', ' + c.location if c.location else ''})"
            for c in record.cameras
        ),
        f"{t['range']}: {_when(record.from_ms, zone)} ~ {_when(record.to_ms, zone)} ({zone.key})",
        "",
        f"[{t['masking']}]",
        f"{t['method']}: {methods} · {t['auto']}: {', '.join(auto) or t['none']}",
        t["boxes"].format(face=m.face_boxes, person=m.person_boxes, officer=m.officer_boxes),
        t["regions"].format(regions=m.officer_regions, exemptions=m.exemptions),
        t["frames"].format(masked=m.frames_masked, frames=m.frames),
        t["by"].format(by=m.masked_by, approved=m.approved_by or "-"),
        "",
        f"[{t['files']}]",
    ]
    for f in record.files:
        note = f" ({t['package']})" if f.package else (f" ({f.camera_id})" if f.camera_id else "")
        lines.append(f"{f.name}{note}  {f.size_bytes:,} {t['bytes']}")
        lines.append(f"  SHA-256 {f.sha256}")
    lines += [
        "",
        f"{t['signer']}: {record.signer_fingerprint}",
        f"  {record.signer_public_key}",
        "",
        f"[{t['basis']}]",
        *(f"- {b.en if lang == 'en' else b.ko}" for b in record.basis),
        "",
        t["check"].format(package=record.package.name),
        "",
        t["statement"],
        "",
        f"{t['officer']}",
        f"  {t['sign']}",
        f"{t['receiver']}",
        f"  {t['sign']}",
        "",
        t["printed"].format(
            time=_when(record.printed_ms, zone), by=record.printed_by, export=record.export_id
        ),
    ]
    return "\n".join(lines) + "\n"
