// The outbox: every record made on this phone waits here (IndexedDB) until the server has it.
//
// An item is {id: client_uuid, userId, kind, url, method (POST, or PATCH for an edit), body, record (the
// whole record an edit changes), formUrl (where it is fixed), photos: [{blob, name, stage, sent, error}], photoUrl,
// label, createdAt, state, error, serverId, lastTry: {at, outcome, failures}}. The record's client_uuid goes with every
// attempt, so a retry after a lost answer returns the same record instead of making a second one. Items leave
// the outbox only when the server has the record and every photo; one the server refuses stays, with the
// reason, until the person fixes it in the form or discards it; a photo the server refuses stays (the record
// is already there) until it is retried or dropped.
//
// Every request has a time limit: on "one bar" (the phone thinks it is online, nothing comes back) a send
// that hangs would hold every later item, so it is given up and tried again on the next sync.

import { t } from "./fielddata.js";
import * as idb from "./idb.js";

const DB_NAME = "ias-tracker";
export const SENT_IDS = "ias:sent-ids"; // client_uuid → server id of records sent from this phone (the latest few)
const SENT_IDS_KEPT = 200;
const STORE = "outbox";
const CHANGED = "ias:outbox-changed";

export const STATES = { PENDING: "pending", SIGN_IN: "sign_in", REJECTED: "rejected", PHOTO_REFUSED: "photo_refused" };

// How long one request may take before the phone stops waiting (ms). A photo is larger than a record.
export const TIMEOUTS = { session: 10_000, record: 20_000, photo: 90_000 };

// The item being sent right now (its id), so the list can say "sending" rather than "waiting".
export let sendingId = null;

const openDb = idb.opener(DB_NAME, 1, (db) => {
  const store = db.createObjectStore(STORE, { keyPath: "id" });
  store.createIndex("createdAt", "createdAt");
});

const withStore = (mode, work) => idb.inTransaction(openDb, STORE, mode, work);

// Every tab of the app shares the one outbox: what one tab adds, sends or removes is told to the others
// (BroadcastChannel), so their lists and "saved on this phone … sent" lines never show what is no longer so
// until their own next sync.
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("ias-outbox") : null;

tabs?.addEventListener("message", (event) => {
  if (event.data.sent) window.dispatchEvent(new CustomEvent("ias:sent", { detail: { item: event.data.sent } }));
  window.dispatchEvent(new CustomEvent(CHANGED));
});

function announce() {
  window.dispatchEvent(new CustomEvent(CHANGED));
  tabs?.postMessage({});
}

function announceSent(item) {
  window.dispatchEvent(new CustomEvent("ias:sent", { detail: { item } }));
  tabs?.postMessage({ sent: item });
}

export function onChange(callback) {
  window.addEventListener(CHANGED, callback);
}

// When what an item carries happened (a record's time, an operation's), as the surveyor set it; else when it
// was saved on the phone. The outbox lists name items by it.
export function itemTime(item) {
  const body = item.record || (item.body && (item.body.observation || item.body)) || {};
  return new Date(body.observed_at || body.performed_at || item.createdAt);
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function add(item) {
  const full = { state: STATES.PENDING, error: null, serverId: null, photos: [], createdAt: Date.now(), ...item };
  await withStore("readwrite", (store) => store.put(full));
  announce();
  return full;
}

export async function all() {
  const items = await withStore("readonly", (store) => store.getAll());
  return items.sort((a, b) => a.createdAt - b.createdAt);
}

export async function get(id) {
  return withStore("readonly", (store) => store.get(id));
}

async function put(item) {
  await withStore("readwrite", (store) => store.put(item));
  announce();
}

export async function remove(id) {
  await withStore("readwrite", (store) => store.delete(id));
  announce();
}

// --- sending -----------------------------------------------------------------------------------------

class Stop extends Error {} // the network or the session is gone: try again later
class ServerTrouble extends Error {} // the server answered this item with 5xx, 408 or 429: it waits a while

// After the server answered an item with trouble of its own, the item waits before it is sent again, longer
// each time (1, 2, 4 … 60 min), rather than being sent (a photo: uploaded whole, on one bar) at every sync,
// and the items behind it go meanwhile; "sync now" sends it at once.
const BACKOFF_MS = { first: 60_000, most: 60 * 60_000 };

function backedOff(item, now) {
  const last = item.lastTry;
  if (!last || last.outcome !== "server") return false;
  const wait = Math.min(BACKOFF_MS.first * 2 ** (last.failures - 1), BACKOFF_MS.most);
  const since = now - last.at;
  return since >= 0 && since < wait; // a phone clock turned back never holds an item
}

// fetch with a time limit: "timeout" when nothing came back in time, "offline" when the request failed.
async function timedFetch(url, options, ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await fetch(url, { credentials: "same-origin", cache: "no-store", ...options, signal: controller.signal });
  } catch {
    throw new Stop(controller.signal.aborted ? "timeout" : "offline");
  } finally {
    clearTimeout(timer);
  }
}

async function session() {
  const response = await timedFetch("/app/session.json", {}, TIMEOUTS.session);
  if (response.status === 401) return null;
  if (!response.ok) throw new Stop(`session ${response.status}`);
  return response.json();
}

async function readError(response) {
  try {
    const body = await response.json();
    return { status: response.status, message: body.message || response.statusText, errors: body.errors || {} };
  } catch {
    return { status: response.status, message: response.statusText, errors: {} };
  }
}

async function send(url, options, ms) {
  return timedFetch(url, options, ms);
}

// An answer that means "not now": the session is gone (the item waits for a sign-in) or the server or
// network is struggling (try again later). Throws Stop; returns for answers the caller handles.
async function stopUnlessAnswered(response, item) {
  if (response.status === 401) {
    item.state = STATES.SIGN_IN;
    await put(item);
    throw new Stop("signed out");
  }
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    throw new ServerTrouble(`server ${response.status}`);
  }
}

function photoUrl(item) {
  return item.photoUrl.replace("{id}", String(item.serverId));
}

// The item's photos not sent yet; false when the server refused one (the item then waits, visibly).
async function sendPhotos(item, csrf) {
  for (const photo of item.photos) {
    if (photo.sent || photo.error) continue;
    const form = new FormData();
    form.append("file", photo.blob, photo.name || "photo.jpg");
    const url = photoUrl(item) + (photo.stage ? `?stage=${encodeURIComponent(photo.stage)}` : "");
    const response = await send(url, { method: "POST", headers: { "X-CSRFToken": csrf }, body: form }, TIMEOUTS.photo);
    await stopUnlessAnswered(response, item);
    if (!response.ok) {
      // The record is saved; the photo the server refused (not an image, too large) stays on the phone with
      // the reason, so the person sees it and can retry or drop it. Never reported as sent.
      photo.error = (await readError(response)).message;
      await put(item);
      continue;
    }
    photo.sent = true;
    photo.blob = null; // free the space on the phone
    await put(item);
  }
  if (item.photos.some((p) => p.error)) {
    item.state = STATES.PHOTO_REFUSED;
    await put(item);
    return false;
  }
  return true;
}

// The record (POST, or PATCH for an edit), answered or refused; false when refused.
async function sendRecord(item, csrf) {
  const response = await send(item.url, {
    method: item.method || "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(item.body),
  }, TIMEOUTS.record);
  await stopUnlessAnswered(response, item);
  if (!response.ok) {
    item.state = STATES.REJECTED;
    item.error = await readError(response);
    await put(item);
    return false;
  }
  const created = await response.json();
  if (item.method !== "PATCH") item.serverId = item.idFrom ? created[item.idFrom] : created.id;
  if (item.kind === "observation") rememberSent(item.id, created.id);
  item.patched = true;
  item.result = { id: created.id, site_id: created.site_id ?? null, observation_id: created.observation_id ?? null };
  item.state = STATES.PENDING;
  item.error = null;
  await put(item);
  return true;
}

// One item: the record, then each photo (an edit: its new photos first, so the verifier it notifies sees
// them). Returns true when the item is finished and removed.
async function sendItem(item, csrf) {
  if (item.method === "PATCH") {
    if (!(await sendPhotos(item, csrf))) return false;
    if (!item.patched && !(await sendRecord(item, csrf))) return false;
  } else {
    if (item.serverId === null && !(await sendRecord(item, csrf))) return false;
    if (!(await sendPhotos(item, csrf))) return false;
  }
  await remove(item.id);
  announceSent(item);
  return true;
}

function sentIds() {
  try {
    return JSON.parse(localStorage.getItem(SENT_IDS) || "{}");
  } catch {
    return {};
  }
}

function rememberSent(clientUuid, serverId) {
  const known = Object.entries(sentIds()).filter(([key]) => key !== clientUuid);
  known.push([clientUuid, serverId]);
  localStorage.setItem(SENT_IDS, JSON.stringify(Object.fromEntries(known.slice(-SENT_IDS_KEPT))));
}

// Signing out (forget.js): of the records sent from this phone, only those an unsent item still waits for
// are remembered (an operation made offline for a record sent since); the rest are the person's, forgotten.
export async function forgetSentIds() {
  const needed = new Set((await all()).map((item) => item.dependsOn).filter(Boolean));
  const kept = Object.entries(sentIds()).filter(([clientUuid]) => needed.has(clientUuid));
  if (kept.length) localStorage.setItem(SENT_IDS, JSON.stringify(Object.fromEntries(kept)));
  else localStorage.removeItem(SENT_IDS);
}

// An item made for a record still in the outbox (an operation on a site found offline): false while that
// record waits; then the record's server id is put in its place. Refused when the record is gone unsent.
async function resolveDependency(item) {
  if (!item.dependsOn) return true;
  const record = await get(item.dependsOn);
  if (record && record.serverId === null) return false;
  const id = record ? record.serverId : sentIds()[item.dependsOn];
  if (id === undefined) {
    item.state = STATES.REJECTED;
    item.error = { status: 0, message: t("record_gone"), errors: { site_id: [t("record_gone")] } };
  } else {
    item.body.observation_id = id;
    item.dependsOn = null;
  }
  await put(item);
  return item.state !== STATES.REJECTED;
}

// A refused photo tried again (the person may have freed space on the server side or it was transient).
export async function retryPhotos(id) {
  const item = await get(id);
  if (!item) return;
  for (const photo of item.photos) photo.error = null;
  item.state = STATES.PENDING;
  await put(item);
}

// A refused photo given up: the record (already on the server) is finished without it.
export async function dropRefusedPhotos(id) {
  const item = await get(id);
  if (!item) return;
  item.photos = item.photos.filter((p) => !p.error);
  item.state = STATES.PENDING;
  await put(item);
}

// A refused record corrected in the form: the same client_uuid, new content, sent again.
export async function replace(item) {
  await put({ ...item, state: STATES.PENDING, error: null, lastTry: null });
}

async function noteTry(item, outcome) {
  const failures = outcome === "server" && item.lastTry?.outcome === "server" ? item.lastTry.failures + 1 : 1;
  item.lastTry = { at: Date.now(), outcome, failures };
  await put(item);
}

let running = null;

// One run at a time on the whole phone, not just in this page: two tabs (or a tab reopened while the old one
// still sends) would each read the outbox and send the same items, uploading every photo twice on one bar,
// and one could write back an item the other had just finished. The lock is the browser's (Web Locks), so a
// tab closed or killed mid-run frees it; a browser without it keeps the per-page guard alone.
const SYNC_LOCK = "ias-outbox-sync";

function oneAtATime(run) {
  if (!navigator.locks) return run();
  return navigator.locks.request(SYNC_LOCK, run);
}

// Send everything that can be sent now. Safe to call often: one run at a time on the phone (the outbox is
// read once the run has its turn, so it never sends what another tab has just sent), and the server
// de-duplicates by client_uuid should a browser without Web Locks send an item twice.
// `force` ("sync now"): items waiting after the server's trouble are sent too.
export function sync({ force = false } = {}) {
  // A run already going may have read the outbox before the caller's item was added: run again after it.
  if (running) return running.then(() => sync({ force }));
  running = oneAtATime(async () => {
    const report = { sent: 0, rejected: 0, signIn: false, offline: false, timeout: false, server: false, results: {} };
    let current = null;
    try {
      const items = (await all()).filter((i) => i.state !== STATES.REJECTED && i.state !== STATES.PHOTO_REFUSED);
      if (items.length === 0) return report;
      if (navigator.onLine === false) {
        report.offline = true;
        return report;
      }
      const who = await session();
      if (who === null) {
        report.signIn = true;
        for (const item of items) {
          if (item.state !== STATES.SIGN_IN) {
            item.state = STATES.SIGN_IN;
            await put(item);
          }
        }
        return report;
      }
      for (const item of items) {
        if (item.userId !== who.user_id) continue; // someone else's: waits for them to sign in
        if (!force && backedOff(item, Date.now())) {
          report.server = true;
          continue;
        }
        if (!(await resolveDependency(item))) continue;
        current = item;
        sendingId = item.id;
        announce();
        try {
          if (await sendItem(item, who.csrf_token)) {
            report.sent += 1;
            report.results[item.id] = item.result;
          } else report.rejected += 1;
        } catch (error) {
          if (!(error instanceof ServerTrouble)) throw error;
          report.server = true;
          if (await get(item.id)) await noteTry(item, "server");
        }
      }
    } catch (error) {
      if (!(error instanceof Stop)) throw error;
      if (error.message === "signed out") report.signIn = true;
      else if (error.message === "timeout") report.timeout = true;
      else report.offline = true;
      if (current && error.message !== "signed out" && (await get(current.id))) {
        await noteTry(current, error.message === "timeout" ? "timeout" : "offline");
      }
    } finally {
      running = null;
      sendingId = null;
      announce();
    }
    return report;
  });
  return running;
}
