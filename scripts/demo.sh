#!/usr/bin/env bash
# The demo: 30 simulated RTSP cameras on loopback, a throw-away data dir, the appliance running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/appliance demo "$@"
