// The viewing page: open a purpose-bound session (ledger entry first, POST /api/viewing),
// play recorded (/media) or live (/live) fMP4 in <video>, draw the day's timeline, end it.
"use strict";
import { api, beforeSignout, refusal, show, t } from "/static/app.js";
import { liveUrl, playLive } from "/static/live.js";

const root = document.getElementById("view-root");

// ---- time in the site's zone (the browser's own zone may differ) ---------------------------

const TZ = root ? root.dataset.timezone : "UTC";
const LANG = document.documentElement.lang;

function partsAt(ms) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  return Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

function offsetAt(ms) {
  const p = partsAt(ms);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** UTC milliseconds of a wall-clock day and time in the site's zone. */
function zonedToUtc(day, time) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm, ss = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm, ss);
  const guess = wall - offsetAt(wall);
  return wall - offsetAt(guess);
}

function formatTime(ms, withDate = false, seconds = true) {
  const options = { timeZone: TZ, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat(LANG, options).format(new Date(ms));
}

function formatDuration(ms) {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

// ---- timeline --------------------------------------------------------------------------------

/** One bar per camera: recorded ranges, gaps and holds between `from` and `to`. */
class Timeline {
  constructor(cameraId, name) {
    this.cameraId = cameraId;
    this.name = name;
    this.data = null;
    this.window = null; // [from_ms, to_ms] shown
    this.selected = null; // the session's range
    this.onSeek = null;
    this.element = document.createElement("div");
    this.element.className = "timeline";
    this.element.dataset.camera = cameraId;
    this.label = document.createElement("p");
    this.label.className = "tl-label";
    this.bar = document.createElement("div");
    this.bar.className = "tl-bar";
    this.bar.setAttribute("role", "img");
    this.ticks = document.createElement("div");
    this.ticks.className = "tl-ticks";
    this.element.append(this.label, this.bar, this.ticks);
    this.bar.addEventListener("click", (event) => this.click(event));
  }

  async load(day) {
    const result = await api("GET", `/api/timeline/${encodeURIComponent(this.cameraId)}?day=${day}`);
    if (!result.ok) {
      this.data = null;
      this.label.textContent = `${this.name}: ${refusal(result)}`;
      this.bar.replaceChildren();
      return;
    }
    this.data = result.data;
    if (!this.window) this.window = [this.data.from_ms, this.data.to_ms];
    this.draw();
  }

  /** Whether anything was recorded inside [from, to]. */
  hasFootage(from, to) {
    return !!this.data && this.data.recorded.some((r) => r.end_ms > from && r.start_ms < to);
  }

  /** Where a stream asked to start at `ms` begins: footage before the first recording is
   * skipped, so time 0 of the video is the first recorded moment at or after `ms`. */
  firstFootage(ms) {
    const range = this.data && this.data.recorded.find((r) => r.end_ms > ms);
    return range ? Math.max(ms, range.start_ms) : ms;
  }

  span(cls, start, end, title) {
    const [w0, w1] = this.window;
    const a = Math.max(start, w0);
    const b = Math.min(end, w1);
    if (b <= a) return null;
    const el = document.createElement("div");
    el.className = `tl-span ${cls}`;
    el.style.left = `${((a - w0) / (w1 - w0)) * 100}%`;
    el.style.width = `${((b - a) / (w1 - w0)) * 100}%`;
    if (title) el.title = title;
    this.bar.append(el);
    return el;
  }

  draw() {
    if (!this.data || !this.window) return;
    const d = this.data;
    this.bar.replaceChildren();
    for (const g of d.gaps) this.span("gap", g.start_ms, g.end_ms, `${t("timeline.gap")}: ${g.reason}`);
    for (const r of d.recorded) {
      this.span("rec", r.start_ms, r.end_ms, `${t("timeline.recorded")} ${formatTime(r.start_ms)}–${formatTime(r.end_ms)}`);
    }
    for (const h of d.holds) this.span("hold", h.start_ms, h.end_ms, `${t("timeline.hold")}: ${h.reason} ${h.reference}`);
    if (this.selected) this.span("sel", this.selected[0], this.selected[1], t("timeline.selected"));
    this.head = document.createElement("div");
    this.head.className = "tl-head";
    this.head.hidden = true;
    this.bar.append(this.head);
    const summary = t("view.timeline_summary", {
      recorded: formatDuration(d.recorded_ms), gaps: d.gaps.length, holds: d.holds.length,
    });
    this.label.textContent = `${t("view.timeline_for", { camera: this.name, day: d.day })} · ${summary}`;
    this.bar.setAttribute("aria-label", `${this.label.textContent}`);
    const [w0, w1] = this.window;
    const short = w1 - w0 < 20 * 60 * 1000;
    this.ticks.replaceChildren(
      ...[0, 0.25, 0.5, 0.75, 1].map((f) => {
        const tick = document.createElement("span");
        tick.textContent = formatTime(w0 + f * (w1 - w0), false, short);
        return tick;
      }),
    );
  }

  /** Zoom to the session's range (with a little context) and mark it. */
  focus(from, to) {
    const pad = Math.max(5000, (to - from) * 0.05);
    this.selected = [from, to];
    this.window = [from - pad, to + pad];
    this.draw();
  }

  playhead(ms) {
    if (!this.head || !this.window) return;
    const [w0, w1] = this.window;
    this.head.hidden = ms < w0 || ms > w1;
    this.head.style.left = `${((ms - w0) / (w1 - w0)) * 100}%`;
  }

  click(event) {
    if (!this.onSeek || !this.window) return;
    const box = this.bar.getBoundingClientRect();
    const f = (event.clientX - box.left) / box.width;
    this.onSeek(this.window[0] + f * (this.window[1] - this.window[0]));
  }
}

// ---- the page --------------------------------------------------------------------------------

if (root) {
  const form = document.getElementById("view-form");
  const error = document.getElementById("view-error");
  const rangeFields = document.getElementById("range-fields");
  const timelines = document.getElementById("timelines");
  const videos = document.getElementById("videos");
  const panel = document.getElementById("viewing");
  const endButton = document.getElementById("end-viewing");
  let bars = new Map();
  let viewing = null;
  const liveStops = [];

  const chosenCameras = () =>
    [...form.querySelectorAll("input[name=camera]:checked")].map((el) => ({
      id: el.value,
      name: el.dataset.name,
    }));
  const mode = () => form.querySelector("input[name=mode]:checked").value;

  /** The range the form asks for, or null (live, or not a range yet). */
  function formRange() {
    const day = form.querySelector("#day").value;
    const from = form.querySelector("#from").value;
    const to = form.querySelector("#to").value;
    if (mode() !== "playback" || !day || !from || !to) return null;
    const range = [zonedToUtc(day, from), zonedToUtc(day, to)];
    return range[1] > range[0] ? range : null;
  }

  function drawTimelines() {
    if (viewing) return;
    const day = form.querySelector("#day").value;
    bars = new Map();
    timelines.replaceChildren();
    for (const camera of chosenCameras()) {
      const bar = new Timeline(camera.id, camera.name);
      bar.selected = formRange();
      bars.set(camera.id, bar);
      timelines.append(bar.element);
      if (day) bar.load(day);
    }
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "mode") rangeFields.hidden = mode() === "live";
    if (event.target.name === "camera" || event.target.id === "day") return drawTimelines();
    if (viewing) return;
    for (const bar of bars.values()) {
      bar.selected = formRange();
      bar.draw();
    }
  });
  drawTimelines();

  const OPEN_REASONS = [
    ["a purpose is required", "view.error.purpose_required"],
    ["the 'request' category needs", "view.error.purpose_required"],
    ["describe the purpose", "view.error.purpose_text"],
    ["end_ms must be after", "view.error.range"],
    ["the range starts in the future", "view.error.future"],
    [423, "view.error.vault"],
    [503, "view.error.ledger"],
  ];

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(error, "");
    const cameras = chosenCameras();
    if (!cameras.length) return show(error, t("view.error.no_camera"));
    const kind = mode();
    const requestId = form.querySelector("#request-id").value.trim();
    const category = form.querySelector("#category").value;
    const body = {
      kind,
      cameras: cameras.map((c) => c.id),
      purpose: {
        category: requestId ? null : category || null,
        text: form.querySelector("#purpose-text").value,
        request_id: requestId || null,
      },
    };
    if (kind === "playback") {
      const day = form.querySelector("#day").value;
      body.start_ms = zonedToUtc(day, form.querySelector("#from").value);
      body.end_ms = zonedToUtc(day, form.querySelector("#to").value);
      if (!(body.end_ms > body.start_ms)) return show(error, t("view.error.range"));
    }
    const button = document.getElementById("open-viewing");
    button.disabled = true;
    button.textContent = t("view.opening");
    const result = await api("POST", "/api/viewing", body);
    button.disabled = false;
    button.textContent = t("view.submit");
    if (!result.ok) return show(error, refusal(result, OPEN_REASONS));
    start(result.data, cameras);
  });

  function mediaUrl(id, cameraId, fromMs) {
    if (viewing.kind === "live") {
      return liveUrl(id, cameraId); // H.265 converted where the browser cannot play it
    }
    const from = fromMs === undefined ? "" : `&start_ms=${Math.round(fromMs)}`;
    return `/api/viewing/${id}/media?camera_id=${encodeURIComponent(cameraId)}${from}`;
  }

  /** The session is open (its ledger entry is written): show it and play. */
  function start(opened, cameras) {
    viewing = opened;
    form.hidden = true;
    panel.hidden = false;
    document.getElementById("viewing-heading").textContent = t("view.recorded", { id: opened.id });
    const purposeLabel = opened.request_id
      ? `${t("purpose.request")} [${opened.request_id}]`
      : t(`purpose.${opened.purpose_category}`);
    const facts = {
      "fact-user": root.dataset.user,
      "fact-purpose": opened.purpose_text ? `${purposeLabel}: ${opened.purpose_text}` : purposeLabel,
      "fact-opened": formatTime(opened.opened_ms, true),
      "fact-range": opened.kind === "live"
        ? t("view.live_range")
        : `${formatTime(opened.start_ms, true)} – ${formatTime(opened.end_ms)}`,
      "fact-expires": formatTime(opened.expires_ms, true, false),
    };
    for (const [id, text] of Object.entries(facts)) document.getElementById(id).textContent = text;
    videos.replaceChildren();
    playing.length = 0;
    videos.classList.toggle("many", cameras.length > 1);
    for (const camera of cameras) {
      const tile = document.createElement("figure");
      tile.className = "video-tile";
      const caption = document.createElement("figcaption");
      caption.textContent = camera.name;
      if (opened.kind === "live") {
        const badge = document.createElement("span");
        badge.className = "badge live";
        badge.textContent = t("view.live_badge");
        caption.append(" ", badge);
      }
      const video = document.createElement("video");
      video.id = `video-${camera.id}`;
      video.dataset.camera = camera.id;
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      video.controls = true;
      video.setAttribute("aria-label", camera.name);
      const problem = document.createElement("p");
      problem.className = "notice error";
      problem.setAttribute("role", "alert");
      problem.hidden = true;
      video.addEventListener("error", () => {
        if (!viewing || viewing.ended) return;
        const bar = bars.get(camera.id);
        const none = opened.kind === "playback" && bar && bar.data &&
          !bar.hasFootage(opened.start_ms, opened.end_ms);
        if (!none && retryAfterSwap(video)) return;
        show(problem, none ? `${camera.name}: ${t("view.error.no_footage")}` : t("view.error.video", { camera: camera.name }));
      });
      video.dataset.streamStart = String(opened.start_ms ?? 0);
      video.dataset.stream = mediaUrl(opened.id, camera.id);
      if (opened.kind === "live") {
        const reasons = { codec: "view.error.codec", not_live: "view.error.not_live" };
        const failed = (reason) => {
          if (viewing.ended) return;
          show(problem, t(reasons[reason] || "view.error.video", { camera: camera.name }));
        };
        liveStops.push(playLive(video, video.dataset.stream, failed));
      }
      tile.append(caption, video, problem);
      if (opened.kind !== "live") {
        tile.append(playHere(video, problem));
        if (playing.length < recordedLimit) play(video);
        else tile.classList.add("parked");
      }
      videos.append(tile);
      const bar = bars.get(camera.id);
      if (bar && opened.kind === "playback") {
        bar.focus(opened.start_ms, opened.end_ms);
        bar.onSeek = (ms) => seek(video, ms);
        video.addEventListener("timeupdate", () => {
          bar.playhead(bar.firstFootage(Number(video.dataset.streamStart)) + video.currentTime * 1000);
        });
      }
    }
    document.getElementById("seek-help").hidden = opened.kind !== "playback";
    endButton.focus();
  }

  function seek(video, ms) {
    if (!viewing || viewing.ended) return;
    const from = Math.min(Math.max(ms, viewing.start_ms), viewing.end_ms - 1000);
    video.dataset.streamStart = String(from);
    video.dataset.stream = mediaUrl(viewing.id, video.dataset.camera, from);
    play(video); // a new request: seeking
  }

  /* The box plays at most `recordedLimit` recordings per person at once (each is decrypted
   * and muxed on the box; viewing.recorded_streams_per_user): tiles past it wait behind a
   * "play here" button, which stops the tile that started playing first. */
  const recordedLimit = Math.max(1, Number(root.dataset.recordedLimit) || 4);
  const playing = [];

  function play(video) {
    const at = playing.indexOf(video);
    if (at >= 0) playing.splice(at, 1);
    while (playing.length >= recordedLimit) park(playing.shift());
    playing.push(video);
    video.dataset.retries = "0";
    video.closest(".video-tile").classList.remove("parked");
    video.src = video.dataset.stream;
  }

  /* A tile started by "play here" may ask before the box has noticed that the stopped tile
   * let its stream go (the slot frees when the server sees the disconnect): ask again a few
   * times, a second apart, before showing an error. */
  function retryAfterSwap(video) {
    const tries = Number(video.dataset.retries || 0);
    if (!viewing || viewing.kind !== "playback" || tries >= 5 || !playing.includes(video)) {
      return false;
    }
    video.dataset.retries = String(tries + 1);
    setTimeout(() => {
      if (viewing && !viewing.ended && playing.includes(video)) video.src = video.dataset.stream;
    }, 1000);
    return true;
  }

  function park(video) {
    video.removeAttribute("src");
    video.load(); // closes the request, which frees the box's slot
    const tile = video.closest(".video-tile");
    tile.classList.add("parked");
    for (const notice of tile.querySelectorAll(".notice.error")) notice.hidden = true;
  }

  function playHere(video, problem) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "play-here";
    button.textContent = t("view.play_here");
    const note = document.createElement("p");
    note.className = "muted small play-here-note";
    note.textContent = t("view.parked", { limit: recordedLimit });
    button.addEventListener("click", () => {
      problem.hidden = true;
      play(video);
    });
    const box = document.createElement("div");
    box.className = "parked-box";
    box.append(note, button);
    return box;
  }

  function stopVideos() {
    for (const stop of liveStops.splice(0)) stop();
    playing.length = 0;
    for (const video of videos.querySelectorAll("video")) {
      video.pause();
      video.removeAttribute("src"); // closes the stream, which records what was sent
      video.load();
    }
  }

  /** Wait (briefly) until the server has closed the streams the player let go, so that the
   * closing ledger entry lists the bytes each of them served. */
  async function settle(id) {
    for (let i = 0; i < 20; i++) {
      const result = await api("GET", `/api/viewing/${id}`);
      if (!result.ok || result.data.spans.every((s) => s.finished_ms !== null)) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  endButton.addEventListener("click", async () => {
    if (!viewing) return;
    endButton.disabled = true;
    endButton.textContent = t("view.ending");
    viewing.ended = true;
    stopVideos();
    await settle(viewing.id);
    const result = await api("POST", `/api/viewing/${viewing.id}/end`);
    endButton.textContent = t("view.end");
    if (!result.ok) {
      endButton.disabled = false;
      viewing.ended = false;
      return show(document.getElementById("ended"), refusal(result));
    }
    show(document.getElementById("ended"), t("view.ended"));
    endButton.hidden = true;
    document.getElementById("new-viewing").hidden = false;
  });

  // Leaving the page ends the session too (best effort; expiry ends it otherwise).
  const leave = () => {
    if (!viewing || viewing.ended) return;
    viewing.ended = true;
    stopVideos();
    fetch(`/api/viewing/${viewing.id}/end`, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
    });
  };
  window.addEventListener("pagehide", leave);
  beforeSignout.push(async () => {
    if (!viewing || viewing.ended) return;
    viewing.ended = true;
    stopVideos();
    await settle(viewing.id);
    await api("POST", `/api/viewing/${viewing.id}/end`);
  });
}
