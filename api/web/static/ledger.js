// The ledger page: verify the chain and sign a head through the JSON API.
"use strict";

import { api, refusal, show, t } from "./app.js";

const verifyButton = document.getElementById("verify");
const verifyResult = document.getElementById("verify-result");
const headText = document.getElementById("head-text");
const headJson = document.getElementById("head-json");
const signButton = document.getElementById("sign-head");
const signResult = document.getElementById("sign-result");

function outcome(element, kind, text) {
  element.className = kind ? `notice ${kind}` : "notice";
  show(element, text);
}

verifyButton.addEventListener("click", async () => {
  verifyButton.disabled = true;
  outcome(verifyResult, "", t("ledger.verifying"));
  const result = await api("GET", "/api/ledger/verify");
  verifyButton.disabled = false;
  if (!result.ok || !result.data) {
    outcome(verifyResult, "error", refusal(result, [[409, "ledger.verify_busy"]]));
    return;
  }
  const report = result.data;
  if (report.ok) {
    outcome(
      verifyResult,
      "ok",
      t("ledger.verified", {
        first: report.start_seq + 1,
        last: report.last_seq,
        count: report.entries_checked,
        heads: report.heads_checked,
      }),
    );
  } else {
    outcome(
      verifyResult,
      "error",
      t("ledger.tampered", {
        seq: report.first_bad_seq ?? "?",
        problem: report.problem || "",
      }),
    );
  }
});

if (signButton) {
  signButton.addEventListener("click", async () => {
    signButton.disabled = true;
    const result = await api("POST", "/api/ledger/heads");
    signButton.disabled = false;
    if (!result.ok || !result.data) {
      outcome(signResult, "error", refusal(result));
      return;
    }
    headText.textContent = result.data.text;
    headJson.download = `ledger-head-${result.data.seq}.json`;
    headJson.hidden = false;
    outcome(signResult, "ok", t("ledger.signed", { seq: result.data.seq }));
  });
}
