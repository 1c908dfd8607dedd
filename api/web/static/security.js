// One's own two-step sign-in: enrol with the QR code drawn by the appliance, recovery codes.
"use strict";
import { api, refusal, show } from "/static/app.js";

const error = document.getElementById("security-error");
const KNOWN = [
  ["wrong TOTP code", "security.error.code"],
  ["a current TOTP code is required", "security.error.code"],
  [422, "security.error.code"],
];

function showCodes(codes) {
  const list = document.getElementById("recovery-codes");
  list.replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }),
  );
  document.getElementById("recovery").hidden = false;
  for (const form of document.querySelectorAll("form")) form.hidden = true;
}

const start = document.getElementById("totp-start");
if (start) {
  start.addEventListener("click", async () => {
    start.disabled = true;
    const result = await api("POST", "/api/auth/totp/setup");
    if (!result.ok) {
      start.disabled = false;
      return show(error, refusal(result, KNOWN));
    }
    document.getElementById("totp-qr").src = result.data.qr_png;
    document.getElementById("totp-secret").textContent = result.data.secret;
    document.getElementById("enrol").hidden = false;
    start.hidden = true;
    document.getElementById("totp-code").focus();
  });
}

function onCode(formId, inputId, url, after) {
  const form = document.getElementById(formId);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = document.getElementById(inputId).value.trim();
    if (!code) return show(error, refusal({ status: 422, data: null }, KNOWN));
    const result = await api("POST", url, { code });
    if (!result.ok) return show(error, refusal(result, KNOWN));
    show(error, "");
    after(result);
  });
}

onCode("confirm-form", "totp-code", "/api/auth/totp/confirm", (r) => showCodes(r.data.codes));
onCode("recovery-form", "recovery-code", "/api/auth/totp/recovery-codes", (r) =>
  showCodes(r.data.codes),
);
onCode("disable-form", "disable-code", "/api/auth/totp/disable", () => window.location.reload());
