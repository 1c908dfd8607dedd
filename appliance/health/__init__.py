"""The appliance's health (issue 15; design/health.md): the status the health page, its JSON
and ``/metrics`` show (``status.health_status``), the checks that raise and clear alarms
(``checks``), alarm acknowledgements (``alarm_views``), ledger verification results
(``verification``), the recorder's day counters (``counters``), delivery of alarms to people by
e-mail and webhook (``delivery``), the Prometheus exposition (``metrics``) and the ``health``
daemon (``daemon``).

Status only, never video: nothing here opens a segment's key.
"""

from __future__ import annotations

from appliance.health.alarm_views import AlarmView, acknowledge_alarm, alarm_views
from appliance.health.cameras import CameraHealth
from appliance.health.status import HealthStatus, health_status

__all__ = [
    "AlarmView",
    "CameraHealth",
    "HealthStatus",
    "acknowledge_alarm",
    "alarm_views",
    "health_status",
]
