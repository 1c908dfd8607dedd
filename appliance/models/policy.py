"""The published versions of the video-device operating policy (R-DOC-4; design/policy.md).

One row per publication: the text as published (Korean Markdown, annex included), its hash,
the diff against the previous version, and the announcement and effective dates (the effective
date at least 7 days after the announcement, policy art. 16.9). Rows are never changed.
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from appliance.models._base import ms_column

__all__ = ["PolicyVersion"]


class PolicyVersion(SQLModel, table=True):
    """One published version of the operating policy."""

    __tablename__ = "policy_version"

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, index=True)  # 1, 2, ... in publication order
    lang: str = Field(max_length=5)
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    diff: str = Field(sa_column=Column(Text, nullable=False))
    announced_on: str = Field(max_length=10)  # ISO date in the site's zone (공고일)
    effective_on: str = Field(max_length=10)  # ISO date (시행일자), >= announced_on + 7 days
    published_ms: int = ms_column()
    actor: str = Field(max_length=200)
