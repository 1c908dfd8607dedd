"""``python -m appliance`` runs the CLI."""

from appliance.cli import app

app()
