"""The video protection officer as a principal, for tests that call ``RequestService``."""

from __future__ import annotations

from appliance.access import Principal, Via
from appliance.models import Role

__all__ = ["AUDITOR", "OFFICER"]

OFFICER = Principal(user_id=1, username="officer1", role=Role.officer, via=Via.session)
AUDITOR = Principal(user_id=2, username="auditor1", role=Role.auditor, via=Via.session)
