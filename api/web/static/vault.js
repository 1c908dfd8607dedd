// Unlock the vault with the passphrase through POST /api/vault/unlock.
"use strict";
import { api, detailOf, refusal, show, t } from "/static/app.js";

const form = document.getElementById("vault-form");
const error = document.getElementById("vault-error");

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector("#passphrase");
    if (!input.value) return show(error, t("vault.error.empty"));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const result = await api("POST", "/api/vault/unlock", { passphrase: input.value });
    button.disabled = false;
    input.value = "";
    if (result.ok) {
      form.hidden = true;
      show(error, "");
      document.getElementById("vault-state").hidden = true;
      document.getElementById("vault-done").hidden = false;
      return;
    }
    if (result.status === 429) {
      const wait = /try again in (\d+) s/.exec(detailOf(result.data));
      return show(error, t("vault.error.throttled", { s: wait ? wait[1] : "900" }));
    }
    show(
      error,
      refusal(result, [
        ["wrong vault passphrase", "vault.error.wrong"],
        ["the vault passphrase is accepted only", "vault.refused_channel"],
      ]),
    );
  });
}
