// Sign in through POST /api/auth/login; a TOTP field appears when the account needs one.
"use strict";
import { api, detailOf, show, t } from "/static/app.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const totpField = document.getElementById("totp-field");

function loginError(result) {
  if (result.status === 0) return t("error.network");
  const detail = detailOf(result.data);
  const locked = /^account locked for (\d+) s/.exec(detail);
  if (locked) return t("login.error.locked", { s: locked[1] });
  if (detail.startsWith("TOTP code required")) return t("login.error.totp_required");
  if (detail.startsWith("wrong TOTP")) return t("login.error.totp_wrong");
  if (detail.startsWith("agency")) return t("login.error.agency");
  return t("login.error.invalid");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const body = {
    username: form.username.value.trim(),
    password: form.password.value,
  };
  if (!body.username || !body.password) {
    show(error, t("login.error.invalid"));
    return;
  }
  if (!totpField.hidden && form.totp_code.value.trim()) body.totp_code = form.totp_code.value.trim();
  button.disabled = true;
  const result = await api("POST", "/api/auth/login", body);
  button.disabled = false;
  if (result.ok) {
    const next = form.dataset.next || "/";
    window.location.assign(result.data.user.must_change_password ? "/password" : next);
    return;
  }
  const detail = detailOf(result.data);
  if (detail.startsWith("TOTP code required") || detail.startsWith("wrong TOTP")) {
    totpField.hidden = false;
    form.totp_code.value = "";
    form.totp_code.focus();
  } else {
    form.password.value = "";
    form.password.focus();
  }
  show(error, loginError(result));
});
