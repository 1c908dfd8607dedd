// Times on the request desk are entered and shown in the site's time zone, whatever the
// browser's zone (as on the viewing page).
"use strict";

function partsAt(zone, ms) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  return Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

function offsetAt(zone, ms) {
  const p = partsAt(zone, ms);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** UTC ms of a `datetime-local` value ("YYYY-MM-DDTHH:MM[:SS]") in the site's zone; null if empty. */
export function localToUtc(zone, value) {
  if (!value) return null;
  const [day, time = "00:00"] = value.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm, ss = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm, ss);
  const guess = wall - offsetAt(zone, wall);
  return wall - offsetAt(zone, guess);
}

/** The site-zone calendar day ("YYYY-MM-DD") of a UTC ms. */
export function localDay(zone, ms) {
  const p = partsAt(zone, ms);
  return `${p.year}-${p.month}-${p.day}`;
}

export function formatTime(zone, lang, ms) {
  return new Intl.DateTimeFormat(lang, {
    timeZone: zone, hourCycle: "h23", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).format(new Date(ms));
}
