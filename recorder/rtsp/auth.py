"""RTSP authentication: Basic, and HTTP Digest with MD5 (RFC 2617), as cameras ask for it.

Pure functions: the client (``recorder.rtsp.client``) keeps the chosen challenge and asks for
an ``Authorization`` header per request.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from recorder.status import FailReason, IngestError

__all__ = ["Challenge", "authorization", "choose_challenge", "digest_response", "parse_challenges"]

Challenge = tuple[str, dict[str, str]]  # scheme ("basic"/"digest"), its parameters
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def digest_response(
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str = "",
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The ``response`` of HTTP Digest authentication with MD5 (RFC 2617), as RTSP uses it."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


def parse_challenges(values: list[str]) -> dict[str, dict[str, str]]:
    """``WWW-Authenticate`` header values by lower-case scheme, with their parameters."""
    found: dict[str, dict[str, str]] = {}
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        params = {
            m.group(1).lower(): m.group(2) or m.group(3) or ""
            for m in _CHALLENGE_PARAM.finditer(rest)
        }
        found[scheme.lower()] = params
    return found


def choose_challenge(values: list[str]) -> Challenge:
    """Digest if the camera offers it, else Basic; IngestError (unauthorized) for neither."""
    challenges = parse_challenges(values)
    if "digest" in challenges:
        return "digest", challenges["digest"]
    if "basic" in challenges:
        return "basic", challenges["basic"]
    raise IngestError(FailReason.unauthorized, "the camera asks for an unknown authentication")


def authorization(
    challenge: Challenge, *, username: str, password: str, method: str, url: str
) -> str:
    """The ``Authorization`` header value for one request."""
    scheme, params = challenge
    if scheme == "basic":
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return f"Basic {token}"
    qop = "auth" if "auth" in params.get("qop", "").split(",") else ""
    cnonce = os.urandom(8).hex() if qop else ""
    response = digest_response(
        username=username,
        password=password,
        realm=params.get("realm", ""),
        nonce=params.get("nonce", ""),
        method=method,
        uri=url,
        qop=qop,
        nc="00000001",
        cnonce=cnonce,
    )
    fields = [
        f'username="{username}"',
        f'realm="{params.get("realm", "")}"',
        f'nonce="{params.get("nonce", "")}"',
        f'uri="{url}"',
        f'response="{response}"',
    ]
    if qop:
        fields += [f"qop={qop}", "nc=00000001", f'cnonce="{cnonce}"']
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)
