/* The handoff inbox, watched while a project is open: every few seconds GET /inbox, then tell
   the navigation badge, the page title and whoever subscribed (the inbox page) what is unread.
   Unread: a session waiting for a human, or one an operator holds, with activity after the
   moment an operator of this tab last opened it. A new unread session plays a short chime. */

import { api } from "./api.js";
import { store } from "./store.js";

const EVERY_MS = 2500;

export function isUnread(project, item) {
  const seen = store.seen(project, item.session.session_id);
  return !seen || new Date(item.session.last_at) > new Date(seen);
}

/** A short two-tone chime (Web Audio: no file to fetch, nothing for the CSP to allow). */
export function chime() {
  document.getElementById("shell").dataset.chimes = String(Number(document.getElementById("shell").dataset.chimes || 0) + 1);
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    const audio = chime.context || (chime.context = new Context());
    [880, 1320].forEach((frequency, n) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, audio.currentTime + n * 0.15);
      gain.gain.exponentialRampToValueAtTime(0.15, audio.currentTime + n * 0.15 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + n * 0.15 + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + n * 0.15);
      tone.stop(audio.currentTime + n * 0.15 + 0.3);
    });
  } catch { /* no audio here: the badge and the title still say it */ }
}

/** Watch `project`'s inbox; `onCount(n)` hears the number of unread sessions. */
export function watchInbox(project, onCount) {
  const listeners = new Set();
  let last = null;
  let known = null; // unread sessions at the previous poll (null: first poll, no chime)
  let stopped = false;
  async function poll() {
    try {
      const found = await api(`/admin/projects/${project}/inbox`);
      if (stopped) return;
      last = found.items || [];
      const unread = last.filter((item) => isUnread(project, item)).map((i) => `${i.session.session_id}@${i.session.last_at}`);
      if (known && unread.some((u) => !known.has(u))) chime();
      known = new Set(unread);
      onCount(unread.length);
      listeners.forEach((f) => f(last));
    } catch { /* the page shows the API's errors; the badge just waits for the next poll */ }
  }
  poll();
  const timer = setInterval(poll, EVERY_MS);
  return {
    project,
    subscribe(f) { listeners.add(f); if (last) f(last); return () => listeners.delete(f); },
    refresh: poll,
    stop() { stopped = true; clearInterval(timer); },
  };
}
