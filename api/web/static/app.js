// Shared by every page: translations, the CSRF token, JSON calls to the API, sign-out.
"use strict";

const TABLE = JSON.parse(document.getElementById("i18n").textContent);

/** Whether the table has `key` (for keys built from a value, e.g. an alarm kind). */
export function known(key) {
  return TABLE[key] !== undefined;
}

/** The text of `key` in the page's language, with {name} placeholders filled. */
export function t(key, params = {}) {
  let text = TABLE[key];
  if (text === undefined) {
    console.error("missing translation", key);
    return key;
  }
  for (const [name, value] of Object.entries(params)) {
    text = text.replaceAll("{" + name + "}", String(value));
  }
  return text;
}

export const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

/** Call the JSON API; returns {ok, status, data} (data: the parsed body or null). */
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken && method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  const text = await response.text(); // a 204 has no body, whatever its content type says
  if (text && (response.headers.get("content-type") || "").includes("application/json")) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      data = null;
    }
  }
  return { ok: response.ok, status: response.status, data };
}

/** The API's reason as one line (a string, or pydantic's list of field errors). */
export function detailOf(data) {
  if (!data) return "";
  if (typeof data.detail === "string") return data.detail;
  if (Array.isArray(data.detail)) {
    return data.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return "";
}

/** A refusal in the page's language: known reasons get their own text. */
export function refusal(result, known = []) {
  if (result.status === 0) return t("error.network");
  if (result.status === 401 && !known.some(([p]) => detailOf(result.data).startsWith(p))) {
    return t("error.session");
  }
  const detail = detailOf(result.data);
  for (const [prefix, key] of known) {
    if (typeof prefix === "number" ? result.status === prefix : detail.startsWith(prefix)) {
      return t(key);
    }
  }
  return t("error.refused", { detail: detail || String(result.status) });
}

export function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

/** Work a page must finish before signing out (e.g. ending an open viewing session). */
export const beforeSignout = [];

const signout = document.getElementById("signout");
if (signout) {
  signout.addEventListener("click", async () => {
    signout.disabled = true;
    for (const task of beforeSignout) await task();
    await api("POST", "/api/auth/logout");
    window.location.assign("/login?signed_out=true");
  });
}

// The open alarms in the header (only rendered for the roles that act on them): refreshed.
const headerAlarms = document.getElementById("header-alarms");
async function refreshAlarms() {
  const result = await api("GET", "/api/alarms");
  if (!result.ok || !result.data) return;
  const open = result.data.alarms;
  headerAlarms.replaceChildren();
  headerAlarms.hidden = open.length === 0;
  if (!open.length) return;
  const link = document.createElement("a");
  link.href = "/health#alarms-heading";
  link.className = open.every((a) => a.acknowledged_by) ? "acked" : "";
  link.textContent = t("alarm.header", { count: open.length });
  const kinds = document.createElement("span");
  kinds.className = "kinds";
  const names = [...new Set(open.map((a) => (known(`alarm.kind.${a.kind}`) ? t(`alarm.kind.${a.kind}`) : a.kind)))];
  kinds.textContent = names.join(", ");
  link.append(kinds);
  headerAlarms.append(link);
}
if (headerAlarms) {
  refreshAlarms();
  setInterval(refreshAlarms, 15000);
  document.addEventListener("alarms-changed", refreshAlarms);
}
