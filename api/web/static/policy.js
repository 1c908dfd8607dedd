// The policy page: publishing a version (the rest is server-rendered).
"use strict";

import { api, t } from "/static/app.js";

const form = document.getElementById("publish-form");
if (form) {
  const input = document.getElementById("effective");
  const error = document.getElementById("publish-error");
  // The earliest date (7 days on, in the site's zone) comes from the server as min/value.
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!window.confirm(t("policy.confirm", { date: input.value }))) return;
    const result = await api("POST", "/api/policy/publish", { effective: input.value || null });
    if (result.ok) {
      window.location.reload();
    } else {
      error.textContent = (result.data && result.data.detail) || t("policy.publish_failed");
      error.hidden = false;
    }
  });
}
