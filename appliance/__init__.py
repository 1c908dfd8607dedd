"""The appliance's domain core: configuration, models, vault, retention, ledger, requests, CLI.

It depends on neither ``api`` nor ``recorder``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clinic-cctv-appliance")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
