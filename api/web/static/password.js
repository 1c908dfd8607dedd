// Change one's own password through POST /api/auth/password.
"use strict";
import { api, refusal, show, t } from "/static/app.js";

const form = document.getElementById("password-form");
const error = document.getElementById("password-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = form.querySelector("#current").value;
  const next = form.querySelector("#new").value;
  if (next.length < 12) return show(error, t("password.error.short"));
  if (next !== form.querySelector("#confirm").value) return show(error, t("password.error.mismatch"));
  const result = await api("POST", "/api/auth/password", {
    current_password: current,
    new_password: next,
  });
  if (result.ok) {
    window.location.assign("/");
    return;
  }
  show(
    error,
    refusal(result, [
      ["the current password is wrong", "password.error.current"],
      ["the new password must differ", "password.error.same"],
      ["password must have at least", "password.error.short"],
    ]),
  );
});
