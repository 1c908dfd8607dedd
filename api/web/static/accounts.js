// The accounts list: create an account through POST /api/users (a generated password, shown once).
"use strict";
import { api, refusal, show, t } from "/static/app.js";

const form = document.getElementById("create-form");
const error = document.getElementById("create-error");

const KNOWN = [
  ["only the officer", "accounts.error.officer_only"],
  [409, "accounts.error.exists"],
];

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  show(error, "");
  const field = (name) => form.querySelector(`#${name}`).value.trim();
  const body = {
    username: field("username"),
    display_name: field("display_name"),
    role: form.querySelector("#role").value,
    department: field("department"),
    title: field("title"),
    phone: field("phone"),
    email: field("email"),
  };
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/.test(body.username)) {
    return show(error, t("accounts.error.username"));
  }
  if (!body.display_name) return show(error, t("accounts.error.name"));
  if (!body.role) return show(error, t("accounts.error.officer_only"));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const result = await api("POST", "/api/users", body);
  button.disabled = false;
  if (!result.ok) return show(error, refusal(result, KNOWN));
  const user = result.data.user;
  document.getElementById("created-text").textContent = t("accounts.created_text", {
    username: user.username,
    role: t("role." + user.role),
  });
  document.getElementById("created-password").textContent = result.data.generated_password;
  document.getElementById("created-link").href = `/accounts/${user.id}`;
  document.getElementById("created").hidden = false;
  form.reset();
});
