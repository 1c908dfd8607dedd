"""Statutory minimum retention by camera location type (R-RET-2): the one table, with sources.

A camera whose location type has an entry here must be in a group whose retention can keep its
footage that long: the group's ``max_days`` must reach the minimum (else footage is destroyed
too early by the normal purge) and so must its ``min_days`` (else storage pressure may destroy
it early). ``appliance.settings`` refuses a configuration that breaks either, naming the camera,
the group and the entry's source. Location types without an entry carry no legal minimum.

Citations name the article; a site should check the current text of the law when it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["LEGAL_MINIMUMS", "LegalMinimum", "legal_minimum"]


@dataclass(frozen=True)
class LegalMinimum:
    """Footage of ``location_type`` cameras is kept at least ``min_days`` (``source`` says why)."""

    location_type: str  # a ``appliance.settings.LocationType`` value
    min_days: int
    source: str
    requirement: str  # the id in design/requirements.md

    def describe(self) -> str:
        """One line for error messages and documents."""
        return f"{self.min_days} days ({self.source}; {self.requirement})"


LEGAL_MINIMUMS: Mapping[str, LegalMinimum] = MappingProxyType(
    {
        entry.location_type: entry
        for entry in (
            LegalMinimum(
                location_type="daycare",
                min_days=60,
                source="Infant Care Act (영유아보육법) art. 15-4: CCTV footage of a daycare centre "
                "is kept at least 60 days; the clinic's policy art. 16.4.2 (어린이집의 경우 60일)",
                requirement="R-RET-2",
            ),
            LegalMinimum(
                location_type="operating_room",
                min_days=30,
                source="Medical Service Act (의료법) art. 38-2 and its enforcement rules: "
                "operating-room CCTV footage is kept at least 30 days",
                requirement="R-RET-2",
            ),
        )
    }
)


def legal_minimum(location_type: str) -> LegalMinimum | None:
    """The statutory minimum for cameras of ``location_type``, if the law sets one."""
    return LEGAL_MINIMUMS.get(location_type)
