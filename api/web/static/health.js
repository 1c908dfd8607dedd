// The health page: fetches /api/health/status every few seconds and redraws (no reload).
"use strict";

import { api, known, refusal, show, t } from "/static/app.js";

const REFRESH_MS = 5000;
const lang = document.documentElement.lang || "ko";
const el = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function when(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return t("health.seconds", { n: Math.round(seconds) });
  if (seconds < 5400) return t("health.minutes", { n: Math.round(seconds / 60) });
  if (seconds < 172800) return t("health.hours", { n: Math.round(seconds / 3600) });
  return t("health.days", { n: Math.round(seconds / 86400) });
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function label(prefix, value) {
  return known(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value;
}

function tile(id, text, tone) {
  const box = el(id);
  box.querySelector(".tile-value").textContent = text;
  box.classList.remove("bad", "warn", "good");
  if (tone) box.classList.add(tone);
}

function facts(list, pairs) {
  list.replaceChildren();
  for (const [name, value] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }
}

function drawCameras(data) {
  const rows = data.cameras.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.camera = c.id;
    if (c.down) tr.className = "down";
    let state = label("status", c.state);
    if (c.reason) state += ` — ${label("health.reason", c.reason)}`;
    if (c.state !== "recording" && c.since_ms) state += ` (${t("status.since", { time: when(c.since_ms) })})`;
    const stateCell = cell(state);
    stateCell.dataset.state = c.state;
    if (c.detail && c.state !== "recording") stateCell.title = c.detail;
    tr.append(
      cell(`${c.name} (${c.id}) · ${c.location}`),
      stateCell,
      cell(duration(c.since_last_segment_s), "num"),
      cell(c.bitrate_bps === null ? "—" : `${(c.bitrate_bps / 1000).toFixed(0)} kbit/s`, "num"),
      cell(c.fps === null ? "—" : c.fps.toFixed(1), "num"),
      cell(String(c.frames_dropped_today), "num"),
      cell(c.codec || "—"),
      cell(c.ingest),
    );
    return tr;
  });
  el("camera-rows").replaceChildren(...rows);
}

function drawStorage(data) {
  const s = data.storage;
  facts(el("storage-facts"), [
    [t("health.free"), `${bytes(s.free_bytes)} / ${bytes(s.total_bytes)}`],
    [t("health.stored"), bytes(s.stored_bytes)],
    [t("health.per_day"), bytes(s.bytes_per_day)],
    [t("health.days_fit"), s.days_fit === null ? "—" : t("health.days", { n: s.days_fit.toFixed(1) })],
    [t("health.purge_lag"), s.purge_lag_s > 0 ? duration(s.purge_lag_s) : t("health.none")],
    [t("health.holds"), String(s.holds_active)],
    [t("health.recorder_floor"), bytes(s.recorder_floor_bytes)],
  ]);
  el("group-rows").replaceChildren(
    ...s.groups.map((g) => {
      const tr = document.createElement("tr");
      if (g.over_retention) tr.className = "down";
      tr.append(
        cell(g.name),
        cell(t("health.retention_days", { min: g.min_days, max: g.max_days })),
        cell(g.oldest_age_days === null ? t("health.none") : t("health.days", { n: g.oldest_age_days.toFixed(1) })),
      );
      return tr;
    }),
  );
}

function drawNodes(data) {
  // Recorder nodes: shown only where several share the database (design/scale.md).
  el("nodes-card").hidden = data.nodes.length === 0;
  el("node-rows").replaceChildren(
    ...data.nodes.map((n) => {
      const tr = document.createElement("tr");
      tr.dataset.node = n.id;
      let state = n.live ? t("health.node_live") : n.stopped ? t("health.node_stopped") : t("health.node_down");
      if (n.below_floor) state += ` — ${t("health.node_below_floor")}`;
      if (!n.live && !n.stopped || n.below_floor) tr.className = "down";
      tr.append(
        cell(n.host ? `${n.id} (${n.host})` : n.id),
        cell(state),
        cell(duration(n.heartbeat_age_s), "num"),
        cell(String(n.cameras_held), "num"),
        cell(bytes(n.free_bytes), "num"),
        cell(bytes(n.floor_bytes), "num"),
      );
      return tr;
    }),
  );
}

function drawLedger(data) {
  const l = data.ledger;
  let verified = t("health.never");
  if (l.verified_ms !== null) {
    verified = `${l.verified_ok ? t("health.verified_ok") : t("health.verified_bad")} · ${when(l.verified_ms)}`;
  }
  facts(el("ledger-facts"), [
    [t("health.vault"), data.vault.unlocked ? t("health.vault_unlocked") : t("health.vault_locked")],
    [t("health.ledger_entries"), String(l.tip_seq)],
    [t("health.head_age"), l.head_age_s === null ? t("health.never") : duration(l.head_age_s)],
    [t("health.verified"), verified],
  ]);
}

async function acknowledge(alarm, input, status) {
  const result = await api("POST", `/api/alarms/${alarm.id}/acknowledge`, { note: input.value });
  if (!result.ok) {
    show(status, refusal(result));
    return;
  }
  document.activeElement?.blur(); // done typing: let the list redraw
  document.dispatchEvent(new Event("alarms-changed"));
  refresh();
}

function drawAlarms(data) {
  const list = el("alarm-list");
  el("alarms-none").hidden = data.alarms.length > 0;
  // Keep a note being typed: redraw only when the alarms changed.
  const signature = JSON.stringify(data.alarms.map((a) => [a.id, a.acknowledged_ms, a.last_ms]));
  if (list.dataset.signature === signature) return;
  if (list.contains(document.activeElement)) return;
  if (list.dataset.signature !== undefined) document.dispatchEvent(new Event("alarms-changed")); // the header too
  list.dataset.signature = signature;
  list.replaceChildren(
    ...data.alarms.map((a) => {
      const li = document.createElement("li");
      li.dataset.alarm = String(a.id);
      li.dataset.kind = a.kind;
      if (a.acknowledged_by) li.className = "acked";
      const title = document.createElement("strong");
      title.textContent = label("alarm.kind", a.kind);
      const text = document.createElement("div");
      text.textContent = `${a.message} · ${when(a.raised_ms)}`;
      li.append(title, text);
      if (a.acknowledged_by) {
        const ack = document.createElement("div");
        ack.className = "small";
        ack.textContent = t("alarm.acknowledged", { who: a.acknowledged_by, note: a.note, time: when(a.acknowledged_ms) });
        li.append(ack);
      }
      if (data.can_acknowledge) {
        const form = document.createElement("form");
        const input = document.createElement("input");
        input.name = "note";
        input.required = true;
        input.maxLength = 1000;
        input.placeholder = t("alarm.note_placeholder");
        input.setAttribute("aria-label", t("alarm.note_label"));
        const button = document.createElement("button");
        button.type = "submit";
        button.textContent = t("alarm.acknowledge");
        const status = document.createElement("span");
        status.className = "error";
        status.hidden = true;
        form.append(input, button, status);
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          acknowledge(a, input, status);
        });
        li.append(form);
      }
      return li;
    }),
  );
}

function drawDeliveries(data) {
  el("deliveries").hidden = data.deliveries.length === 0;
  el("delivery-rows").replaceChildren(
    ...data.deliveries.map((d) => {
      const tr = document.createElement("tr");
      const state = d.failed_ms ? t("health.delivery_gave_up") : t("health.delivery_retry", { time: when(d.next_ms) });
      tr.append(cell(d.channel), cell(d.target), cell(String(d.attempts), "num"), cell(state), cell(d.last_error));
      return tr;
    }),
  );
}

function draw(data) {
  const down = data.cameras_down.length;
  tile("tile-cameras", `${data.cameras_recording} / ${data.cameras_total}`, down ? "bad" : data.cameras_recording === data.cameras_total ? "good" : "warn");
  const days = data.storage.days_fit;
  tile("tile-storage", days === null ? "—" : t("health.days", { n: days.toFixed(0) }), null);
  tile("tile-vault", data.vault.unlocked ? t("health.vault_unlocked") : t("health.vault_locked"), data.vault.unlocked ? "good" : "bad");
  const l = data.ledger;
  tile("tile-ledger", l.verified_ok === false ? t("health.verified_bad") : l.verified_ok ? t("health.verified_ok") : t("health.never"), l.verified_ok === false ? "bad" : l.verified_ok ? "good" : null);
  tile("tile-purge", data.storage.purge_lag_s > 0 ? duration(data.storage.purge_lag_s) : t("health.none"), data.storage.purge_lag_s > 120 ? "warn" : "good");
  tile("tile-alarms", String(data.alarms.length), data.alarms.length ? "bad" : "good");
  drawAlarms(data);
  drawDeliveries(data);
  drawCameras(data);
  drawStorage(data);
  drawNodes(data);
  drawLedger(data);
  el("health-updated").textContent = t("health.updated", { time: when(data.now_ms) });
}

async function refresh() {
  const result = await api("GET", "/api/health/status");
  if (!result.ok || !result.data) {
    show(el("health-error"), refusal(result));
    return;
  }
  show(el("health-error"), "");
  draw(result.data);
}

refresh();
setInterval(refresh, REFRESH_MS);
