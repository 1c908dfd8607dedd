"""Bodies of the viewing routes (``api.routes.viewing``)."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api.deps import CameraField
from appliance.models.access import ViewingSession, ViewingSpan
from appliance.viewing import PurposeCategory, ViewKind

__all__ = [
    "PurposeChoice",
    "PurposeIn",
    "SpanOut",
    "ViewingIn",
    "ViewingOut",
    "viewing_out",
]


class PurposeIn(BaseModel):
    category: PurposeCategory | None = Field(default=None, description="From the fixed list.")
    text: str = Field(default="", max_length=1000, description="What happened, why it is needed.")
    request_id: str | None = Field(
        default=None, max_length=64, description="The request being handled, instead."
    )


class ViewingIn(BaseModel):
    kind: ViewKind
    cameras: list[CameraField] = Field(min_length=1, max_length=16)
    start_ms: int | None = Field(default=None, ge=0, le=2**53, description="Playback only.")
    end_ms: int | None = Field(default=None, ge=0, le=2**53, description="Playback only.")
    purpose: PurposeIn


class SpanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    camera_id: str
    start_ms: int
    end_ms: int | None
    began_ms: int
    finished_ms: int | None
    bytes_sent: int
    outcome: str


class ViewingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    kind: ViewKind
    cameras: list[str] = Field(validation_alias=AliasChoices("cameras", "camera_ids"))
    start_ms: int | None
    end_ms: int | None
    purpose_category: str
    purpose_text: str
    # The row calls it a reference: a footage request's id, when one is being handled.
    request_id: str | None = Field(validation_alias=AliasChoices("request_id", "request_ref"))
    opened_ms: int
    expires_ms: int
    ended_ms: int | None
    end_reason: str
    served_bytes: int
    spans: list[SpanOut] = Field(default_factory=list)


def viewing_out(viewing: ViewingSession, spans: list[ViewingSpan] | None = None) -> ViewingOut:
    out = ViewingOut.model_validate(viewing)
    out.spans = [SpanOut.model_validate(s) for s in spans or []]
    return out


class PurposeChoice(BaseModel):
    category: PurposeCategory
    label: str
    needs: str
