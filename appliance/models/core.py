"""Cameras (mirrored from the configuration) and staff accounts."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from appliance.models._base import ms_column

__all__ = ["Camera", "Role", "User"]


class Role(StrEnum):
    """What an account may do (deny by default: a route names the roles it admits)."""

    admin = "admin"  # configuration and accounts; no footage unless also granted
    officer = "officer"  # video protection officer: requests, holds, supervised viewing
    viewer = "viewer"  # listed access-rights holder: views the cameras granted to them
    auditor = "auditor"  # reads ledgers, sees no video
    agency = "agency"  # external API client (police, court, agency): its own requests only


class Camera(SQLModel, table=True):
    """A camera as configured; kept after removal from the config so old footage stays named."""

    id: str = Field(primary_key=True, max_length=63)
    name: str = Field(max_length=200)
    location: str = Field(max_length=500)
    location_type: str = Field(max_length=40)
    group_name: str = Field(max_length=63, index=True)
    enabled: bool = True
    in_config: bool = True  # false once removed from the configuration
    created_ms: int = ms_column()
    updated_ms: int = ms_column()


class User(SQLModel, table=True):
    """A person (or an agency's API client) with access; the rows behind annex 1 (R-DOC-3)."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    department: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)  # argon2id (libsodium's pwhash string)
    totp_secret: str | None = Field(default=None, max_length=64)
    failed_logins: int = 0
    locked_until_ms: int = Field(default=0, sa_type=BigInteger)
    must_change_password: bool = False
    disabled: bool = False
    created_ms: int = ms_column()
    updated_ms: int = ms_column()
