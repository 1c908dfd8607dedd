// Receipt at the desk: POST /api/requests (its footage is held at once), then each document
// to /api/requests/{id}/documents (kept encrypted); then the request's page.
"use strict";
import { api, csrfToken, refusal, show, t } from "/static/app.js";
import { localToUtc } from "/static/requests_time.js";

const form = document.getElementById("receipt-form");
const error = document.getElementById("receipt-error");
const TZ = form.dataset.timezone;

async function upload(id, file, kind) {
  const data = new FormData();
  data.append("kind", kind);
  data.append("file", file);
  const response = await fetch(`/api/requests/${id}/documents`, {
    method: "POST", body: data, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken, Accept: "application/json" },
  });
  if (response.ok) return null;
  let detail = null;
  try { detail = await response.json(); } catch (err) { detail = null; }
  return refusal({ ok: false, status: response.status, data: detail });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const cameras = [...form.querySelectorAll('input[name="camera_ids"]:checked')].map((i) => i.value);
  if (!cameras.length) {
    show(error, t("desk.new.no_cameras"));
    return;
  }
  let purpose = form.purpose.value.trim();
  if (form.police_told.checked) purpose = `${purpose} [${t("desk.new.police_told_mark")}]`.trim();
  const body = {
    channel: form.channel.value,
    kind: form.kind.value,
    requester_kind: form.requester_kind.value,
    requester_name: form.requester_name.value.trim(),
    requester_org: form.requester_org.value.trim(),
    requester_contact: form.requester_contact.value.trim(),
    requester_language: form.requester_language.value,
    letter_reference: form.letter_reference.value.trim(),
    legal_basis: form.legal_basis.value.trim(),
    subject_description: form.subject_description.value.trim(),
    purpose,
    camera_ids: cameras,
    start_ms: localToUtc(TZ, form.start.value),
    end_ms: localToUtc(TZ, form.end.value),
  };
  const received = localToUtc(TZ, form.received.value);
  if (received !== null) body.received_ms = received;
  const button = document.getElementById("receipt-submit");
  button.disabled = true;
  const result = await api("POST", "/api/requests", body);
  if (!result.ok || !result.data) {
    button.disabled = false;
    show(error, refusal(result));
    return;
  }
  const id = result.data.id;
  const idFile = document.getElementById("file-id").files[0];
  const letterFile = document.getElementById("file-letter").files[0];
  const problems = [];
  if (idFile) problems.push(await upload(id, idFile, "id_copy"));
  if (letterFile) problems.push(await upload(id, letterFile, document.getElementById("letter-kind").value));
  const failed = problems.filter(Boolean);
  if (failed.length) {
    // The request exists (and its footage is held): say so, and go on to its page.
    show(error, t("desk.new.upload_failed", { id, detail: failed.join("; ") }));
    button.disabled = false;
    return;
  }
  window.location.assign(`/requests/${id}`);
});
