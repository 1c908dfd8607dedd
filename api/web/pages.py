"""What every server-rendered page shares: the language, the renderer, the page guard.

``page_guard(*roles_or_permissions)`` is ``require(...)`` for pages: a ``RoleGuard`` (so
``check_routes`` and the authorization sweep see it) that answers a browser with a redirect
(to /login, to /password, or home) where an API client gets the usual 401/403. ``LangDep``
is the language of a page (``?lang=``, then the cookie, then Accept-Language); ``render``
fills a template with what every page shows (site name, who is signed in, the CSRF token,
the translations) and sends it with the pages' security headers. The page routers
(``api.routes.pages``, ``api.routes.ledger_pages``) import them from here, not from each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials

from api.security import COOKIE_NAME, RoleGuard, admitted_roles, authenticate, get_access
from api.web.i18n import LANG_COOKIE, LANGUAGES, choose_language, translations
from api.web.render import templates
from appliance.access import AccessService, Permission, Principal
from appliance.context import AppContext
from appliance.errors import AuthenticationFailed
from appliance.models import Role

__all__ = [
    "Lang",
    "LangDep",
    "LangQuery",
    "PageGuard",
    "page_guard",
    "page_language",
    "redirect",
    "render",
]

_LANG_COOKIE_S = 365 * 24 * 3600
# Scripts, styles and media only from this origin; nothing may frame the viewer.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _wants_html(http_request: Request) -> bool:
    return "text/html" in http_request.headers.get("accept", "")


def redirect(location: str) -> HTTPException:
    return HTTPException(status_code=303, detail="see other", headers={"Location": location})


def _bearer(http_request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, _, value = http_request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=value.strip())
    return None


class PageGuard(RoleGuard):
    """``require(...)`` for pages: a browser is sent to sign in instead of shown JSON."""

    def __call__(  # type: ignore[override]
        self, http_request: Request, access: Annotated[AccessService, Depends(get_access)]
    ) -> Principal:
        html = _wants_html(http_request)
        try:
            principal = authenticate(
                http_request,
                access,
                cookie=http_request.cookies.get(COOKIE_NAME),
                bearer=_bearer(http_request),
            )
        except AuthenticationFailed:
            if html:
                here = http_request.url.path + (
                    f"?{http_request.url.query}" if http_request.url.query else ""
                )
                raise redirect(f"/login?next={quote(here, safe='')}") from None
            raise
        if html and principal.must_change_password and not self.allow_password_change:
            raise redirect("/password")
        if html and principal.role not in self.roles and principal.can(Permission.staff_pages):
            raise redirect("/?denied=1")  # home admits every staff role: no loop
        return RoleGuard.__call__(self, principal)  # the API's own checks, unchanged

    def __repr__(self) -> str:
        return "page_" + super().__repr__()


def page_guard(*admitted: Role | Permission, allow_password_change: bool = False) -> PageGuard:
    """``require`` for a page: the roles named or holding a permission named."""
    return PageGuard(admitted_roles(admitted), (), allow_password_change)


LangQuery = Annotated[str | None, Query(max_length=5, description="Switch language: ko or en.")]


@dataclass(frozen=True)
class Lang:
    code: str
    switched: bool  # chosen by ?lang= now: remember it in a cookie


def page_language(http_request: Request, lang: LangQuery = None) -> Lang:
    chosen = choose_language(
        lang, http_request.cookies.get(LANG_COOKIE), http_request.headers.get("accept-language")
    )
    return Lang(chosen, lang == chosen)


LangDep = Annotated[Lang, Depends(page_language)]


def _translator(table: dict[str, str]) -> Callable[..., str]:
    def t(key: str, **params: object) -> str:
        text = table[key]  # a missing key is a bug: fail loudly (tests check the tables)
        for name, value in params.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return t


def render(
    http_request: Request,
    name: str,
    lang: Lang,
    ctx: AppContext,
    access: AccessService,
    principal: Principal | None,
    **context: Any,
) -> HTMLResponse:
    table = translations(lang.code)
    other = next(code for code in LANGUAGES if code != lang.code)
    params = {k: v for k, v in http_request.query_params.items() if k not in ("lang", "denied")}
    params["lang"] = other
    response = templates.TemplateResponse(
        http_request,
        name,
        {
            "lang": lang.code,
            "other_lang": other,
            "switch_href": f"{http_request.url.path}?{urlencode(params)}",
            "t": _translator(table),
            "table": table,
            "site_name": ctx.settings.site.name,
            "principal": principal,
            "can_view": principal is not None and principal.can(Permission.view_footage),
            "can_read_ledger": principal is not None and principal.can(Permission.read_ledger),
            "csrf_token": (access.csrf_token_for(principal) if principal else None) or "",
            **context,
        },
        headers=_SECURITY_HEADERS,
    )
    if lang.switched:
        response.set_cookie(
            LANG_COOKIE,
            lang.code,
            max_age=_LANG_COOKIE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=ctx.settings.server.secure_cookie,
        )
    return response
