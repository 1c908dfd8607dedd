// One request on the desk: each form is one call to the JSON API (/api/requests/{id}/...),
// with the CSRF token; on success the page is read again from the server. The footage
// timelines come from /api/timeline (recorded ranges and holds, no video).
"use strict";
import { api, csrfToken, refusal, show } from "/static/app.js";
import { formatTime, localDay, localToUtc } from "/static/requests_time.js";

const root = document.getElementById("request-root");
const ID = root.dataset.id;
const TZ = root.dataset.timezone;
const LANG = document.documentElement.lang;
const DAY_MS = 86_400_000;

function numbers(text) {
  return (text || "").split(/[\s,]+/).filter(Boolean).map(Number);
}

/** UTC ms of a datetime input; its exact stored time while unchanged (the input has seconds
 * only, and the stored range may not start on a whole second). */
function instant(input) {
  if (input.dataset.ms && input.value === input.defaultValue) return Number(input.dataset.ms);
  return localToUtc(TZ, input.value);
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

/** The API call of each form: [path, body]. */
const BUILDERS = {
  identity: (f) => ["identity", {
    id_document: f.id_document.value.trim(), checked_by: f.checked_by.value.trim(),
    note: f.note.value.trim(), consent_ref: f.consent_ref.value.trim(),
  }],
  decision: (f) => {
    const body = {
      decision: f.decision.value, reason: f.reason.value.trim(),
      ground: f.ground.value || null,
      approved_camera_ids: checked(f, "approved_camera_ids"),
      approved_start_ms: instant(f.approved_start),
      approved_end_ms: instant(f.approved_end),
      destruction_refs: numbers(f.destruction_refs.value),
      postponed_until_ms: localToUtc(TZ, f.postponed_until.value),
      fee_krw: Number(f.fee_krw.value || 0),
    };
    if (f.viewing) {
      body.viewing_ms = localToUtc(TZ, f.viewing.value);
      body.viewing_place = f.viewing_place.value.trim();
      body.officer = f.officer.value.trim();
    }
    if (body.decision === "refused") {
      body.approved_camera_ids = [];
      body.approved_start_ms = null;
      body.approved_end_ms = null;
    }
    return ["decision", body];
  },
  notices: (f) => ["notices", { channel: f.channel.value }],
  "existence-answered": () => ["existence-answered", undefined],
  deletion: () => ["deletion", undefined],
  fee: (f) => ["fee", { fee_krw: Number(f.fee_krw.value), note: f.note.value.trim() }],
  close: (f) => ["close", { note: f.note.value.trim() }],
  withdraw: (f) => ["close", { note: f.note.value.trim(), withdrawn: true }],
  "hold/narrow": (f) => ["hold/narrow", {
    camera_ids: checked(f, "camera_ids"),
    start_ms: instant(f.start), end_ms: instant(f.end),
    reason: f.reason.value.trim(),
  }],
  "hold/release": (f) => ["hold/release", { reason: f.reason.value.trim() }],
};

for (const form of document.querySelectorAll("form.desk-action")) {
  const error = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [path, body] = BUILDERS[form.dataset.action](form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const result = await api("POST", `/api/requests/${ID}/${path}`, body);
    button.disabled = false;
    if (!result.ok) {
      show(error, refusal(result));
      return;
    }
    window.location.reload();
  });
}

const upload = document.getElementById("upload-form");
if (upload) {
  const error = upload.querySelector(".form-error");
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(upload);
    const response = await fetch(`/api/requests/${ID}/documents`, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken, Accept: "application/json" },
    });
    if (!response.ok) {
      let detail = null;
      try { detail = await response.json(); } catch (err) { detail = null; }
      show(error, refusal({ ok: false, status: response.status, data: detail }));
      return;
    }
    window.location.reload();
  });
}

// ---- footage timelines: recorded ranges and holds around the asked range ----------------

const start = Number(root.dataset.start);
const end = Number(root.dataset.end);
const pad = Math.max(60_000, Math.round((end - start) * 0.15));
const view = [start - pad, end + pad];

function span(bar, cls, from, to) {
  const a = Math.max(from, view[0]);
  const b = Math.min(to, view[1]);
  if (b <= a) return;
  const el = document.createElement("div");
  el.className = `tl-span ${cls}`;
  el.style.left = `${((a - view[0]) / (view[1] - view[0])) * 100}%`;
  el.style.width = `${((b - a) / (view[1] - view[0])) * 100}%`;
  bar.append(el);
}

async function drawTimeline(box) {
  const bar = box.querySelector(".tl-bar");
  box.querySelector(".tl-from").textContent = formatTime(TZ, LANG, view[0]);
  box.querySelector(".tl-to").textContent = formatTime(TZ, LANG, view[1]);
  const days = new Set();
  for (let ms = view[0]; ms < view[1] + DAY_MS && days.size < 4; ms += DAY_MS) {
    days.add(localDay(TZ, Math.min(ms, view[1])));
  }
  for (const day of days) {
    const result = await api("GET", `/api/timeline/${encodeURIComponent(box.dataset.camera)}?day=${day}`);
    if (!result.ok || !result.data) continue;
    for (const r of result.data.recorded) span(bar, "rec", r.start_ms, r.end_ms);
    for (const h of result.data.holds) span(bar, "hold", h.start_ms, h.end_ms);
  }
  span(bar, "sel", start, end);
  bar.dataset.drawn = "true";
}

for (const box of document.querySelectorAll("#footage .timeline")) drawTimeline(box);
