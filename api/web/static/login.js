// Sign in through POST /api/auth/login, with the TOTP code when the account has one.
"use strict";
import { api, detailOf, show, t } from "/static/app.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function loginError(result) {
  if (result.status === 0) return t("error.network");
  // Every refused sign-in reads the same (the server tells nobody which part was wrong);
  // only a throttled or busy server is told apart, since that is about this computer.
  if (result.status === 429) {
    const wait = /try again in (\d+) s/.exec(detailOf(result.data));
    return t("login.error.throttled", { s: wait ? wait[1] : "60" });
  }
  if (result.status === 503) return t("login.error.busy");
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
  if (form.totp_code.value.trim()) body.totp_code = form.totp_code.value.trim();
  button.disabled = true;
  const result = await api("POST", "/api/auth/login", body);
  button.disabled = false;
  if (result.ok) {
    const next = form.dataset.next || "/";
    window.location.assign(result.data.user.must_change_password ? "/password" : next);
    return;
  }
  form.password.value = "";
  form.totp_code.value = "";
  form.password.focus();
  show(error, loginError(result));
});
