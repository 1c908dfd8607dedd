// One account: profile and role (PATCH /api/users/{id}), state actions, camera grants, tokens.
"use strict";
import { api, refusal, show, t } from "/static/app.js";

const id = document.getElementById("account").dataset.userId;
const base = `/api/users/${id}`;
const message = document.getElementById("account-message");
const error = document.getElementById("account-error");

const KNOWN = [
  ["only the officer", "accounts.error.officer_only"],
  ["nobody", "accounts.reason.own_account"],
  ["this is the last enabled administrator", "accounts.error.last_admin"],
  ["an officer's or admin's second factor", "accounts.reason.privileged_console"],
  ["a grant to oneself", "accounts.reason.own_account"],
];

function done(result, text, reload = true) {
  if (!result.ok) {
    show(message, "");
    show(error, refusal(result, KNOWN));
    return false;
  }
  show(error, "");
  show(message, text);
  if (reload) window.setTimeout(() => window.location.reload(), 900);
  return true;
}

document.getElementById("profile-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const name of ["display_name", "department", "title", "phone", "email"]) {
    const input = form.querySelector(`#${name}`);
    if (!input.disabled && input.value !== input.defaultValue) body[name] = input.value.trim();
  }
  const role = form.querySelector("#role");
  if (role.value !== role.dataset.current) body.role = role.value;
  if (!Object.keys(body).length) return show(message, t("accounts.no_change"));
  done(await api("PATCH", base, body), t("accounts.saved"));
});

const ACTIONS = {
  disable: () => ({ body: { reason: document.getElementById("disable-reason").value.trim() } }),
  enable: () => ({}),
  unlock: () => ({}),
};

for (const button of document.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.dataset.action;
    if (action === "reset-password") {
      if (!window.confirm(t("accounts.confirm_reset"))) return;
      const result = await api("POST", `${base}/reset-password`);
      if (!done(result, t("accounts.reset_done"), false)) return;
      if (result.data.password) {
        document.getElementById("new-password-value").textContent = result.data.password;
        document.getElementById("new-password").hidden = false;
      } else {
        show(message, t("accounts.reset_console"));
      }
      return;
    }
    if (action === "remove-totp") {
      if (!window.confirm(t("accounts.confirm_remove_totp"))) return;
      done(await api("DELETE", `${base}/totp`), t("accounts.saved"));
      return;
    }
    if (action === "disable" && !window.confirm(t("accounts.confirm_disable"))) return;
    done(await api("POST", `${base}/${action}`, ACTIONS[action]().body), t("accounts.saved"));
  });
}

const grants = document.getElementById("grants-form");
if (grants) {
  grants.addEventListener("submit", async (event) => {
    event.preventDefault();
    const add = [];
    const revoke = [];
    for (const box of grants.querySelectorAll("input[name=camera]")) {
      const was = box.dataset.granted === "yes";
      if (box.checked && !was) add.push(box.value);
      if (!box.checked && was) revoke.push(box.value);
    }
    if (!add.length && !revoke.length) return show(message, t("accounts.no_change"));
    done(await api("POST", `${base}/grants`, { add, revoke }), t("accounts.grants_saved"));
  });
}

for (const button of document.querySelectorAll("button[data-revoke]")) {
  button.addEventListener("click", async () => {
    if (!window.confirm(t("accounts.confirm_revoke"))) return;
    done(await api("DELETE", `${base}/tokens/${button.dataset.revoke}`), t("accounts.saved"));
  });
}

const tokenForm = document.getElementById("token-form");
if (tokenForm) {
  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: tokenForm.querySelector("#token-name").value.trim(),
      ttl_days: Number(tokenForm.querySelector("#token-days").value),
      scopes: [...tokenForm.querySelectorAll("input[name=scope]:checked")].map((b) => b.value),
    };
    if (!body.name || !body.scopes.length) return show(error, t("accounts.error.token"));
    const result = await api("POST", `${base}/tokens`, body);
    if (!done(result, t("accounts.token_done"), false)) return;
    document.getElementById("token-value").textContent = result.data.token;
    document.getElementById("token-issued").hidden = false;
    tokenForm.reset();
  });
}
