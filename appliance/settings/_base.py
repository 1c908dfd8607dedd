"""The settings' shared vocabulary: the id pattern, location types, disclosure rules and the
section base class."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["CONFIG_ENV", "FORBIDDEN_LOCATION_TYPES", "ID_PATTERN", "Disclosure", "LocationType"]

CONFIG_ENV = "APPLIANCE_CONFIG"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class LocationType(StrEnum):
    """What a camera looks at. The last four are places PIPA art. 25(2) forbids (R-REC-2)."""

    lobby = "lobby"
    reception = "reception"
    waiting_room = "waiting_room"
    corridor = "corridor"
    consultation = "consultation"
    treatment = "treatment"
    recovery = "recovery"
    operating_room = "operating_room"
    pharmacy = "pharmacy"
    office = "office"
    server_room = "server_room"
    storage_room = "storage_room"
    stairs = "stairs"
    elevator = "elevator"
    entrance = "entrance"
    parking = "parking"
    outdoor = "outdoor"
    daycare = "daycare"
    other = "other"
    toilet = "toilet"
    bath = "bath"
    sauna = "sauna"
    changing_room = "changing_room"


FORBIDDEN_LOCATION_TYPES = frozenset(
    {LocationType.toilet, LocationType.bath, LocationType.sauna, LocationType.changing_room}
)


class Disclosure(StrEnum):
    """Who footage of a group may be disclosed to.

    ``standard``: the data subject and their representatives, police and agencies (PIPA 35).
    ``operating_room``: only investigators/courts, the medical dispute mediation agency, or with
    every data subject's consent (Medical Service Act 38-2, R-REQ-9).
    """

    standard = "standard"
    operating_room = "operating_room"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
