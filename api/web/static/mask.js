// The mask editor: sample frames of the approved scope (seen through a viewing session opened
// for the request, recorded in the ledger first), rectangles drawn per time span, the
// requester's exemption, a masked preview, the package and its hand-over.
"use strict";

import { api, beforeSignout, csrfToken, refusal, show, t } from "./app.js";

const page = document.getElementById("mask-page");
const requestId = page.dataset.request;
const zone = page.dataset.timezone;
const base = `/api/requests/${requestId}`;

const status = document.getElementById("mask-status");
const cameraSelect = document.getElementById("mask-camera");
const facesBox = document.getElementById("mask-faces");
const peopleBox = document.getElementById("mask-people");
const methodSelect = document.getElementById("mask-method");
const strip = document.getElementById("mask-strip");
const stage = document.getElementById("mask-stage");
const image = document.getElementById("mask-image");
const overlay = document.getElementById("mask-overlay");
const spanText = document.getElementById("mask-span");
const wholeBox = document.getElementById("mask-whole");
const regionList = document.getElementById("mask-regions");
const noRegions = document.getElementById("mask-no-regions");
const previewButton = document.getElementById("mask-preview");
const video = document.getElementById("mask-video");
const buildButton = document.getElementById("mask-build");
const progress = document.getElementById("mask-progress");
const progressText = document.getElementById("mask-progress-text");
const passphrase = document.getElementById("mask-passphrase");

const STILLS = 6;
const PREVIEW_S = 3;
const MIN_SIDE = 0.01; // a drag shorter than this is a click, not a rectangle

const state = {
  scope: null, // {viewing_id, camera_ids, start_ms, end_ms}
  stills: [],
  current: -1,
  regions: [], // officer rectangles: {camera_id, x, y, w, h, start_ms, end_ms, label}
  exemptions: [], // the requester's area, shown as recorded
  ended: false,
};

const clock = new Intl.DateTimeFormat(document.documentElement.lang === "ko" ? "ko-KR" : "en-GB", {
  timeZone: zone,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 1,
  hour12: false,
});
const when = (ms) => clock.format(new Date(ms));

function say(kind, text) {
  status.className = kind ? `notice ${kind}` : "notice";
  show(status, text);
}

function round4(value) {
  return Math.round(value * 10000) / 10000;
}

/** A rectangle in normalised coordinates, inside the frame (what the API accepts). */
function normalised(x0, y0, x1, y1) {
  const clamp = (v) => Math.min(Math.max(v, 0), 1);
  const left = round4(clamp(Math.min(x0, x1)));
  const top = round4(clamp(Math.min(y0, y1)));
  const w = round4(Math.min(clamp(Math.max(x0, x1)) - left, 1 - left));
  const h = round4(Math.min(clamp(Math.max(y0, y1)) - top, 1 - top));
  return { x: Math.min(left, 0.9999), y: Math.min(top, 0.9999), w, h };
}

function span() {
  const still = state.stills[state.current];
  if (!still || wholeBox.checked) return { start_ms: null, end_ms: null };
  return { start_ms: still.span_start_ms, end_ms: still.span_end_ms };
}

function applies(region, still) {
  if (region.camera_id !== still.camera_id) return false;
  const after = region.start_ms === null || region.start_ms < still.span_end_ms;
  const before = region.end_ms === null || region.end_ms > still.span_start_ms;
  return after && before;
}

function spanLabel(region) {
  if (region.start_ms === null) return t("mask.span_whole");
  return t("mask.span", { from: when(region.start_ms), to: when(region.end_ms) });
}

function box(rect, kind) {
  const element = document.createElement("div");
  element.className = `box box-${kind}`;
  element.style.left = `${rect.x * 100}%`;
  element.style.top = `${rect.y * 100}%`;
  element.style.width = `${rect.w * 100}%`;
  element.style.height = `${rect.h * 100}%`;
  return element;
}

function sameRect(a, b) {
  return Math.abs(a.x - b.x) < 1e-3 && Math.abs(a.y - b.y) < 1e-3 && Math.abs(a.w - b.w) < 1e-3;
}

function drawOverlay() {
  overlay.replaceChildren();
  const still = state.stills[state.current];
  if (!still) return;
  for (const found of still.detections) {
    const exempt = state.exemptions.find((e) => applies(e, still) && sameRect(e, found));
    const element = box(found, exempt ? "exempt" : "detected");
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "box-toggle";
    toggle.textContent = exempt ? t("mask.unexempt") : t("mask.exempt");
    toggle.addEventListener("pointerdown", (event) => event.stopPropagation());
    toggle.addEventListener("click", () => {
      if (exempt) {
        state.exemptions.splice(state.exemptions.indexOf(exempt), 1);
      } else {
        const rect = normalised(found.x, found.y, found.x + found.w, found.y + found.h);
        state.exemptions.push({
          camera_id: still.camera_id, ...rect, ...span(), label: t("mask.requester_label"),
        });
      }
      refresh();
    });
    element.append(toggle);
    overlay.append(element);
  }
  for (const region of state.regions) {
    if (applies(region, still)) overlay.append(box(region, "officer"));
  }
  for (const region of state.exemptions) {
    if (applies(region, still) && !still.detections.some((d) => sameRect(d, region))) {
      overlay.append(box(region, "exempt"));
    }
  }
}

function listRegions() {
  regionList.replaceChildren();
  const all = [
    ...state.regions.map((r) => ["officer", r, state.regions]),
    ...state.exemptions.map((r) => ["exempt", r, state.exemptions]),
  ];
  for (const [kind, region, owner] of all) {
    const item = document.createElement("li");
    item.className = `region region-${kind}`;
    const text = document.createElement("span");
    text.textContent = t(kind === "officer" ? "mask.region_officer" : "mask.region_exempt", {
      camera: region.camera_id,
      span: spanLabel(region),
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary small";
    remove.textContent = t("mask.remove");
    remove.addEventListener("click", () => {
      owner.splice(owner.indexOf(region), 1);
      refresh();
    });
    item.append(text, " ", remove);
    regionList.append(item);
  }
  noRegions.hidden = all.length > 0;
}

function refresh() {
  drawOverlay();
  listRegions();
}

function select(index) {
  state.current = index;
  const still = state.stills[index];
  image.src = still.image;
  stage.hidden = false;
  stage.style.aspectRatio = `${still.width} / ${still.height}`;
  spanText.textContent = t("mask.span_of_frame", {
    at: when(still.t_ms),
    from: when(still.span_start_ms),
    to: when(still.span_end_ms),
  });
  for (const [i, item] of [...strip.children].entries()) {
    item.querySelector("button").setAttribute("aria-pressed", String(i === index));
  }
  previewButton.disabled = false;
  refresh();
}

function renderStrip() {
  strip.replaceChildren();
  for (const [index, still] of state.stills.entries()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "frame";
    button.setAttribute("aria-pressed", "false");
    const thumb = document.createElement("img");
    thumb.src = still.image;
    thumb.alt = t("mask.frame_alt", { at: when(still.t_ms) });
    const caption = document.createElement("span");
    caption.textContent = `${when(still.t_ms)} · ${t("mask.found", { n: still.detections.length })}`;
    button.append(thumb, caption);
    button.addEventListener("click", () => select(index));
    item.append(button);
    strip.append(item);
  }
}

async function loadStills() {
  say("", t("mask.loading"));
  const result = await api("POST", `${base}/mask/stills`, {
    viewing_id: state.scope.viewing_id,
    camera_id: cameraSelect.value,
    count: STILLS,
    faces: facesBox.checked,
    people: peopleBox.checked,
  });
  if (!result.ok || !Array.isArray(result.data)) {
    say("error", refusal(result));
    return;
  }
  state.stills = result.data;
  renderStrip();
  if (state.stills.length) select(0);
  say("", "");
  buildButton.disabled = false;
}

// Drawing: press, drag, release on the frame; the rectangle holds for this frame's span.
let drag = null;
function point(event) {
  const bounds = overlay.getBoundingClientRect();
  return [(event.clientX - bounds.left) / bounds.width, (event.clientY - bounds.top) / bounds.height];
}
overlay?.addEventListener("pointerdown", (event) => {
  if (state.current < 0 || event.button !== 0) return;
  event.preventDefault();
  overlay.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  drag = { x, y, element: box({ x, y, w: 0, h: 0 }, "drawing") };
  overlay.append(drag.element);
});
overlay?.addEventListener("pointermove", (event) => {
  if (!drag) return;
  const [x, y] = point(event);
  const rect = normalised(drag.x, drag.y, x, y);
  Object.assign(drag.element.style, {
    left: `${rect.x * 100}%`, top: `${rect.y * 100}%`,
    width: `${rect.w * 100}%`, height: `${rect.h * 100}%`,
  });
});
overlay?.addEventListener("pointerup", (event) => {
  if (!drag) return;
  const [x, y] = point(event);
  const rect = normalised(drag.x, drag.y, x, y);
  drag = null;
  if (rect.w >= MIN_SIDE && rect.h >= MIN_SIDE) {
    const still = state.stills[state.current];
    state.regions.push({ camera_id: still.camera_id, ...rect, ...span(), label: "" });
  }
  refresh();
});

function plan() {
  return {
    regions: state.regions,
    exemptions: state.exemptions,
    faces: facesBox.checked,
    people: peopleBox.checked,
    method: methodSelect.value,
  };
}

previewButton?.addEventListener("click", async () => {
  const still = state.stills[state.current];
  if (!still) return;
  previewButton.disabled = true;
  say("", t("mask.previewing"));
  const response = await fetch(`${base}/mask/preview`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
    body: JSON.stringify({
      viewing_id: state.scope.viewing_id,
      camera_id: still.camera_id,
      start_ms: still.span_start_ms,
      seconds: PREVIEW_S,
      ...plan(),
    }),
  }).catch(() => null);
  previewButton.disabled = false;
  if (!response || !response.ok) {
    const data = response ? await response.json().catch(() => null) : null;
    say("error", refusal({ ok: false, status: response ? response.status : 0, data }));
    return;
  }
  if (video.src) URL.revokeObjectURL(video.src);
  video.src = URL.createObjectURL(await response.blob());
  video.hidden = false;
  video.play().catch(() => {});
  say("ok", t("mask.previewed"));
});

/**
 * Build the package and report progress. The one place that knows how: today one
 * synchronous call (the spinner runs until it answers); a queued job (202, job id, progress)
 * replaces only this function.
 */
/** Queue the package (202 + job), then follow the job until it is built or fails; the
 * passphrase comes only with the 202, the package facts with the finished job. */
async function buildPackage(body, onProgress) {
  onProgress(null);
  const queued = await api("POST", `${base}/exports`, body);
  if (!queued.ok || !queued.data) throw queued;
  const { job, passphrase } = queued.data;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const polled = await api("GET", `${base}/exports/jobs/${job.id}`);
    if (!polled.ok || !polled.data) throw polled;
    const state = polled.data;
    onProgress(state.progress);
    if (state.state === "failed") throw { status: 409, ok: false, data: { detail: state.error } };
    if (state.state === "done" && state.export) {
      return { ...state.export, passphrase, signer_fingerprint: state.signer_fingerprint };
    }
  }
}

buildButton?.addEventListener("click", async () => {
  buildButton.disabled = true;
  progress.hidden = false;
  document.getElementById("mask-built").hidden = true;
  const body = plan();
  if (passphrase.value) body.passphrase = passphrase.value;
  try {
    const made = await buildPackage(body, (fraction) => {
      progressText.textContent =
        fraction === null ? t("mask.building") : t("mask.progress", { pct: Math.round(fraction * 100) });
    });
    document.getElementById("mask-built-text").textContent = t("mask.built", {
      id: made.id.slice(0, 12), frames: made.frames, boxes: made.masked_boxes,
    });
    document.getElementById("mask-built-passphrase").textContent = made.passphrase;
    document.getElementById("mask-built-fingerprint").textContent = made.signer_fingerprint;
    document.getElementById("mask-built").hidden = false;
    addCopy(made);
    say("ok", t("mask.built_status"));
  } catch (result) {
    say("error", refusal(result));
  } finally {
    progress.hidden = true;
    buildButton.disabled = false;
  }
});

function addCopy(made) {
  document.getElementById("mask-copies-empty")?.remove();
  const item = document.createElement("li");
  item.dataset.export = made.id;
  item.textContent = `${made.id.slice(0, 12)} · ${t("mask.copy_facts", {
    frames: made.frames, boxes: made.masked_boxes,
  })}`;
  document.getElementById("mask-copies").prepend(item);
  const choice = document.getElementById("handover-export");
  if (choice) {
    choice.prepend(new Option(made.id.slice(0, 12), made.id, true, true));
    document.getElementById("handover-submit").disabled = false;
  }
}

const handover = document.getElementById("handover");
if (handover) {
  handover.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = document.getElementById("handover-submit");
    const result = document.getElementById("handover-result");
    submit.disabled = true;
    const answer = await api("POST", `${base}/handover`, {
      export_id: document.getElementById("handover-export").value,
      recipient: document.getElementById("handover-recipient").value.trim(),
      form: document.getElementById("handover-form").value.trim(),
    });
    submit.disabled = false;
    result.className = answer.ok ? "notice ok full" : "notice error full";
    show(result, answer.ok ? t("mask.handed_over") : refusal(answer));
  });
}

async function endViewing(keepalive) {
  if (!state.scope || state.ended) return;
  state.ended = true;
  await fetch(`/api/viewing/${state.scope.viewing_id}/end`, {
    method: "POST",
    credentials: "same-origin",
    keepalive,
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken },
  }).catch(() => {});
}
beforeSignout.push(() => endViewing(false));
window.addEventListener("pagehide", () => endViewing(true));

async function start() {
  const opened = await api("POST", `${base}/mask/viewing`);
  if (!opened.ok || !opened.data) {
    say("error", refusal(opened));
    return;
  }
  state.scope = opened.data;
  await loadStills();
}

if (!page.dataset.refused) {
  cameraSelect.addEventListener("change", loadStills);
  facesBox.addEventListener("change", loadStills);
  peopleBox.addEventListener("change", loadStills);
  start();
}
