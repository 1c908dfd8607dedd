// The on-site viewing room: record the viewing (officer, witness, place, the masked copy
// shown) through the requests API, then play that copy, decrypted in memory by the appliance.
"use strict";

import { api, refusal, show, t } from "./app.js";

const room = document.getElementById("viewing-room");
const base = `/api/requests/${room.dataset.request}`;
const form = document.getElementById("room-start");
const status = document.getElementById("room-status");
const player = document.getElementById("room-player");
const video = document.getElementById("room-video");
const cameraSelect = document.getElementById("room-camera");

function say(kind, text) {
  status.className = kind ? `notice ${kind}` : "notice";
  show(status, text);
}

function chosen() {
  return form.querySelector('input[name="room-copy"]:checked');
}

async function play(exportId, index) {
  say("", t("room.opening"));
  const response = await fetch(`${base}/viewing-room/${encodeURIComponent(exportId)}/video?index=${index}`, {
    credentials: "same-origin",
  }).catch(() => null);
  if (!response || !response.ok) {
    const data = response ? await response.json().catch(() => null) : null;
    say("error", refusal({ ok: false, status: response ? response.status : 0, data }));
    return;
  }
  if (video.src) URL.revokeObjectURL(video.src);
  video.src = URL.createObjectURL(await response.blob());
  player.hidden = false;
  say("ok", t("room.playing"));
  video.play().catch(() => {});
}

function showCopy(input) {
  cameraSelect.replaceChildren(
    ...input.dataset.cameras.split("|").map((name, index) => new Option(name, String(index))),
  );
  cameraSelect.onchange = () => play(input.value, Number(cameraSelect.value));
  form.hidden = true;
  return play(input.value, 0);
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = chosen();
    if (!input) return;
    const button = document.getElementById("room-start-button");
    button.disabled = true;
    const result = await api("POST", `${base}/onsite-viewing`, {
      officer_present: document.getElementById("room-officer").value.trim(),
      witness: document.getElementById("room-witness").value.trim(),
      place: document.getElementById("room-place").value.trim(),
      export_id: input.value,
    });
    button.disabled = false;
    if (!result.ok) {
      say("error", refusal(result));
      return;
    }
    await showCopy(input);
  });
  document.getElementById("room-replay")?.addEventListener("click", () => {
    const input = chosen();
    if (input) showCopy(input);
  });
  document.getElementById("room-fullscreen").addEventListener("click", () => {
    document.getElementById("room-screen").requestFullscreen?.().catch(() => {});
  });
}
