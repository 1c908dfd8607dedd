// Live view through Media Source Extensions: the chunked fMP4 of /api/viewing/{id}/live is
// appended as it arrives, and playback is kept close to the newest picture. A plain
// <video src> buffers seconds before it plays and cannot jump ahead without a new request.
"use strict";

const MAX_LAG_S = 1.0; // further behind than this: jump to just before the newest picture
const KEEP_S = 20; // buffer kept behind the playhead
const REOPEN_MS = 1000; // a stream that ends (parameter change) is reopened after this

/** The codecs string of an fMP4 init segment ('avc1.64001f'), or null if not there yet. */
export function codecOf(bytes) {
  for (let i = 4; i + 8 <= bytes.length; i++) {
    // "avcC" then configurationVersion, profile, compatibility, level
    if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
      const hex = (b) => b.toString(16).padStart(2, "0");
      return `avc1.${hex(bytes[i + 5])}${hex(bytes[i + 6])}${hex(bytes[i + 7])}`;
    }
    if (bytes[i] === 0x68 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
      return i + 17 <= bytes.length ? hvc1Of(bytes.subarray(i + 4, i + 17)) : null;
    }
  }
  return null;
}

/** The RFC 6381 codecs string of an hvcC record's first 13 bytes ('hvc1.1.6.L93.B0'). */
function hvc1Of(c) {
  const space = ["", "A", "B", "C"][c[1] >> 6];
  const tier = c[1] & 0x20 ? "H" : "L";
  let compat = 0; // the 32 compatibility flags, bit-reversed
  for (let bit = 0; bit < 32; bit++) {
    if (c[2 + (bit >> 3)] & (0x80 >> (bit & 7))) compat |= 1 << bit;
  }
  const constraints = Array.from(c.subarray(6, 12));
  while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [`hvc1.${space}${c[1] & 0x1f}`, (compat >>> 0).toString(16).toUpperCase(), `${tier}${c[12]}`];
  return [...parts, ...constraints.map((b) => b.toString(16).toUpperCase())].join(".");
}

/** Whether this browser plays H.265 in Media Source Extensions (Debian's Chromium does not):
 * if not, the server converts an H.265 camera's live view to H.264 for it. */
export function canPlayH265() {
  return typeof MediaSource !== "undefined" &&
    MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"');
}

/** The live stream's URL for this browser: H.265 passed through only where it plays. */
export function liveUrl(viewingId, cameraId) {
  const base = `/api/viewing/${viewingId}/live?camera_id=${encodeURIComponent(cameraId)}`;
  return canPlayH265() ? `${base}&transcode=false` : base;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Play `url` live in `video`; `onError(reason)` is told when it cannot. Returns stop(). */
export function playLive(video, url, onError) {
  let stopped = false;
  let controller = null;
  let timer = null;
  let source = null;

  async function open() {
    if (stopped) return;
    controller = new AbortController();
    source = new MediaSource();
    const objectUrl = URL.createObjectURL(source);
    video.src = objectUrl;
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    URL.revokeObjectURL(objectUrl);
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", signal: controller.signal });
    } catch (err) {
      if (!stopped) onError("network");
      return;
    }
    if (!response.ok) {
      onError(response.status === 404 ? "not_live" : `http ${response.status}`);
      return;
    }
    const reader = response.body.getReader();
    let buffer = null;
    let started = false;
    let head = new Uint8Array(0);
    const queue = [];
    const pump = () => {
      if (!buffer || buffer.updating || !queue.length || source.readyState !== "open") return;
      try {
        buffer.appendBuffer(queue.shift());
      } catch (err) {
        if (err.name === "QuotaExceededError") trim(0);
        else onError("append");
      }
    };
    /** Drop what lies more than `keep` seconds behind the playhead; true if it started. */
    const trim = (keep) => {
      if (buffer.updating || !buffer.buffered.length) return false;
      const from = buffer.buffered.start(0);
      const to = video.currentTime - keep;
      if (to - from <= 1) return false;
      buffer.remove(from, to);
      return true;
    };
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        break; // aborted (stopped) or the connection dropped
      }
      if (chunk.done || stopped) break;
      if (!buffer) {
        head = concat(head, chunk.value);
        const codec = codecOf(head);
        if (!codec) continue;
        const type = `video/mp4; codecs="${codec}"`;
        if (!MediaSource.isTypeSupported(type)) {
          onError("codec");
          controller.abort();
          return;
        }
        buffer = source.addSourceBuffer(type);
        buffer.mode = "segments";
        buffer.addEventListener("updateend", () => {
          const b = video.buffered;
          if (!started && b.length) {
            started = true;
            video.currentTime = b.start(0);
            video.play().catch(() => {});
          } else if (b.length && !video.paused && b.end(b.length - 1) - video.currentTime > MAX_LAG_S) {
            video.currentTime = b.end(b.length - 1) - 0.3;
          }
          if (b.length && video.currentTime - b.start(0) > 2 * KEEP_S && trim(KEEP_S)) return;
          pump();
        });
        queue.push(head);
      } else {
        queue.push(chunk.value);
      }
      pump();
    }
    if (!stopped) timer = setTimeout(open, REOPEN_MS); // the server ended it: reopen
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort(); // closes the stream, which records what was sent
    video.pause();
    video.removeAttribute("src");
    video.load();
  };
}
