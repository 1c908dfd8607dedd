// The request desk's list: tell the officer at once when a request arrives (an agency's,
// through its API) while the list is open. The list itself is rendered by the server.
"use strict";
import { api, t } from "/static/app.js";

const notice = document.getElementById("arrived-notice");
const newest = Number(notice?.dataset.newest || 0);
const POLL_MS = 10_000;

async function poll() {
  const result = await api("GET", "/api/requests?open_only=true");
  if (!result.ok || !Array.isArray(result.data)) return;
  const arrived = result.data.filter((r) => r.id > newest);
  if (!arrived.length) return;
  notice.replaceChildren(document.createTextNode(t("desk.arrived", { n: arrived.length }) + " "));
  for (const r of arrived) {
    const link = document.createElement("a");
    link.href = `/requests/${r.id}`;
    link.textContent = `#${r.id} ${r.requester_org || r.requester_name}`;
    notice.append(link, " ");
  }
  const reload = document.createElement("a");
  reload.href = window.location.pathname + window.location.search;
  reload.textContent = t("desk.reload");
  reload.id = "arrived-reload";
  notice.append(reload);
  notice.hidden = false;
}

if (notice) window.setInterval(poll, POLL_MS);
