"""Alarms delivered to people: an e-mail over SMTP to the addresses configured for the alarm's
kind, and a JSON POST to a webhook (a messenger bridge). One ``alarm_delivery`` row per
destination; a failure is retried with a doubling backoff up to ``alarms.max_attempts`` and is
visible on the health page meanwhile.

A message says what happened and where to look, never more: the kind, the subject (a camera or
request id), when, and the health page. Not the alarm's message (it may name a person) and
never footage.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage

from sqlmodel import Session, col, select

from appliance.alarms import open_alarms
from appliance.clock import Clock
from appliance.db import Database
from appliance.models import Alarm
from appliance.models.health import AlarmDelivery
from appliance.settings import AlarmsConfig, Settings

__all__ = [
    "KIND_TEXT",
    "Message",
    "backoff_s",
    "deliver_due",
    "enqueue_new",
    "message_for",
    "recipients_for",
    "send_email",
    "send_webhook",
]

# What each kind means, for people (Korean first: the clinic's language; then English).
KIND_TEXT: dict[str, tuple[str, str]] = {
    "storage_low": ("저장 공간 부족", "storage space is low"),
    "storage_pressure": (
        "저장 공간 압박: 오래된 영상을 앞당겨 파기함",
        "storage pressure: footage purged early",
    ),
    "storage_protected_full": (
        "보호된 영상만 남아 공간이 없음",
        "storage full of protected footage",
    ),
    "unknown_group": ("설정되지 않은 보관 그룹", "a camera's retention group is not configured"),
    "purge_failed": ("파기 실패", "a purge failed"),
    "integrity": ("저장 파일 무결성 문제", "damaged, missing or orphaned files"),
    "key_rotation_overdue": ("키 교체 지연", "the vault key rotation is overdue"),
    "keys_in_clear": ("개인 키가 암호 없이 저장됨", "private keys are stored without a passphrase"),
    "request_overdue": ("요청 통지 기한 경과", "a request's notice is overdue"),
    "request_due_soon": ("요청 통지 기한 임박", "a request's notice is due soon"),
    "privileged_account": ("새 관리자·책임자 계정", "a new officer or admin account"),
    "privileged_reset": (
        "관리자·책임자 비밀번호 재설정",
        "an officer's or admin's password was reset",
    ),
    "camera_down": ("카메라 녹화 중단", "a camera is not recording"),
    "vault_locked": ("금고 잠김: 영상 열람 불가", "the vault is locked: no viewing"),
    "request_new": ("기관의 새 요청", "a new request from an agency"),
    "ledger_integrity": ("기록부 검증 실패", "the ledger failed verification"),
}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    payload: dict[str, object]  # the webhook's JSON


def backoff_s(attempts: int, config: AlarmsConfig) -> float:
    """Seconds before attempt ``attempts + 1``: retry_base_s doubled per failure, capped."""
    return float(min(config.retry_base_s * 2 ** max(0, attempts - 1), config.retry_max_s))


def recipients_for(kind: str, config: AlarmsConfig) -> list[str]:
    """The addresses configured for ``kind`` (and for every kind, ``"*"``), each once."""
    wanted = [*config.email.recipients.get(kind, []), *config.email.recipients.get("*", [])]
    return list(dict.fromkeys(a.strip() for a in wanted if a.strip()))


def _local(ms: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def message_for(alarm: Alarm, settings: Settings) -> Message:
    """What is said about ``alarm``: kind, subject, time, site and where to look."""
    ko, en = KIND_TEXT.get(alarm.kind, (alarm.kind, alarm.kind))
    where = settings.alarms.page_url or "/health"
    when = _local(alarm.raised_ms, settings.zone)
    site = settings.site.name
    about = f" [{alarm.subject}]" if alarm.subject else ""
    body = (
        f"{site}: {ko}{about}\n발생: {when}\n확인: {where}\n\n"
        f"{site}: {en}{about}\nRaised: {when}\nLook at: {where}\n\n"
        "이 메일에는 개인정보나 영상이 없습니다. / This message carries no personal data or "
        "footage.\n"
    )
    return Message(
        subject=f"[{site}] {ko} / {en}{about}",
        body=body,
        payload={
            "site": site,
            "alarm_id": alarm.id,
            "kind": alarm.kind,
            "subject": alarm.subject,
            "raised_ms": alarm.raised_ms,
            "raised_at": when,
            "text_ko": ko,
            "text_en": en,
            "look_at": where,
        },
    )


def enqueue_new(session: Session, settings: Settings, now_ms: int) -> int:
    """A delivery row per destination for every open alarm that has none yet; the count."""
    config = settings.alarms
    queued = set(session.exec(select(col(AlarmDelivery.alarm_id)).distinct()).all())
    made = 0
    for alarm in open_alarms(session):
        if alarm.id is None or alarm.id in queued:
            continue
        targets: list[tuple[str, str]] = []
        if config.email.host:
            targets += [("email", address) for address in recipients_for(alarm.kind, config)]
        hook = config.webhook
        if hook.url and ("*" in hook.kinds or alarm.kind in hook.kinds):
            targets.append(("webhook", hook.url))
        for channel, target in targets:
            session.add(
                AlarmDelivery(
                    alarm_id=alarm.id,
                    channel=channel,
                    target=target[:500],
                    next_ms=now_ms,
                    created_ms=now_ms,
                )
            )
            made += 1
    session.flush()
    return made


def send_email(settings: Settings, to: str, message: Message) -> None:
    """One message over SMTP (STARTTLS when configured); raises on any failure."""
    config = settings.alarms.email
    mail = EmailMessage()
    mail["From"] = config.sender or f"appliance@{config.host}"
    mail["To"] = to
    mail["Subject"] = message.subject
    mail.set_content(message.body)
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(mail)


def send_webhook(settings: Settings, url: str, message: Message) -> None:
    """POST the message's JSON; any answer but 2xx raises."""
    data = json.dumps(message.payload, ensure_ascii=False).encode("utf-8")
    http_request = urllib.request.Request(  # noqa: S310 (http(s) only: checked in settings)
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    timeout = settings.alarms.webhook.timeout_s
    with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310
        if not 200 <= answer.status < 300:
            raise OSError(f"webhook answered {answer.status}")


Sender = Callable[[Settings, str, Message], None]
_SENDERS: dict[str, Sender] = {"email": send_email, "webhook": send_webhook}


def deliver_due(db: Database, clock: Clock, settings: Settings) -> tuple[int, int]:
    """Attempt every delivery due now; return (delivered, failed attempts).

    Sending happens outside any transaction (an SMTP timeout must not hold the database);
    each outcome is then written in its own short one.
    """
    config = settings.alarms
    due: list[tuple[int, str, str, int, Message]] = []
    with db.session() as session:
        for row in session.exec(
            select(AlarmDelivery).where(
                col(AlarmDelivery.delivered_ms).is_(None),
                col(AlarmDelivery.failed_ms).is_(None),
                col(AlarmDelivery.next_ms) <= clock.now_ms(),
            )
        ).all():
            alarm = session.get(Alarm, row.alarm_id)
            if row.id is not None and alarm is not None:
                due.append(
                    (row.id, row.channel, row.target, row.attempts, message_for(alarm, settings))
                )
    delivered = failed = 0
    for delivery_id, channel, target, attempts, message in due:
        error = ""
        try:
            _SENDERS[channel](settings, target, message)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with db.session() as session:
            stored = session.get(AlarmDelivery, delivery_id)
            if stored is None:
                continue
            now = clock.now_ms()
            stored.attempts = attempts + 1
            if not error:
                stored.delivered_ms, stored.last_error = now, ""
                delivered += 1
            else:
                failed += 1
                stored.last_error = error
                if stored.attempts >= config.max_attempts:
                    stored.failed_ms = now
                else:
                    stored.next_ms = now + int(backoff_s(stored.attempts, config) * 1000)
            session.add(stored)
    return delivered, failed
