// The outbox: every record made on this phone waits here (IndexedDB) until the server has it.
//
// An item is {id: client_uuid, userId, kind, url, body, photos: [{blob, name, stage, sent}], photoUrl,
// label, createdAt, state, error, serverId}. The record's client_uuid goes with every attempt, so a retry
// after a lost answer returns the same record instead of making a second one. Items leave the outbox only
// when the server has the record and every photo; one the server refuses stays, with the reason, until the
// person discards it.

const DB_NAME = "ias-tracker";
const STORE = "outbox";
const CHANGED = "ias:outbox-changed";

export const STATES = { PENDING: "pending", SIGN_IN: "sign_in", REJECTED: "rejected" };

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "id" });
      store.createIndex("createdAt", "createdAt");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

function announce() {
  window.dispatchEvent(new CustomEvent(CHANGED));
}

export function onChange(callback) {
  window.addEventListener(CHANGED, callback);
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

async function session() {
  let response;
  try {
    response = await fetch("/app/session.json", { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new Stop("offline");
  }
  if (response.status === 401) return null;
  if (!response.ok) throw new Stop(`session ${response.status}`);
  return response.json();
}

async function readError(response) {
  try {
    const body = await response.json();
    return { status: response.status, message: body.message || response.statusText, errors: body.errors || {} };
  } catch (error) {
    return { status: response.status, message: response.statusText, errors: {} };
  }
}

async function send(url, options) {
  try {
    return await fetch(url, { credentials: "same-origin", cache: "no-store", ...options });
  } catch (error) {
    throw new Stop("offline");
  }
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
    throw new Stop(`server ${response.status}`);
  }
}

function photoUrl(item) {
  return item.photoUrl.replace("{id}", String(item.serverId));
}

// One item: the record, then each photo. Returns true when the item is finished and removed.
async function sendItem(item, csrf) {
  if (item.serverId === null) {
    const response = await send(item.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(item.body),
    });
    await stopUnlessAnswered(response, item);
    if (!response.ok) {
      item.state = STATES.REJECTED;
      item.error = await readError(response);
      await put(item);
      return false;
    }
    const created = await response.json();
    item.serverId = item.idFrom ? created[item.idFrom] : created.id;
    item.result = { id: created.id, site_id: created.site_id ?? null, observation_id: created.observation_id ?? null };
    item.state = STATES.PENDING;
    item.error = null;
    await put(item);
  }
  for (const photo of item.photos) {
    if (photo.sent) continue;
    const form = new FormData();
    form.append("file", photo.blob, photo.name || "photo.jpg");
    const url = photoUrl(item) + (photo.stage ? `?stage=${encodeURIComponent(photo.stage)}` : "");
    const response = await send(url, { method: "POST", headers: { "X-CSRFToken": csrf }, body: form });
    await stopUnlessAnswered(response, item);
    if (!response.ok) {
      // The record is saved; a photo the server cannot take (not an image, too large) is reported, not retried.
      photo.error = (await readError(response)).message;
    }
    photo.sent = true;
    photo.blob = null; // free the space on the phone
    await put(item);
  }
  const photoErrors = item.photos.filter((p) => p.error).map((p) => `${p.name}: ${p.error}`);
  await remove(item.id);
  window.dispatchEvent(new CustomEvent("ias:sent", { detail: { item, photoErrors } }));
  return true;
}

let running = null;

// Send everything that can be sent now. Safe to call often: one run at a time per page, and the server
// de-duplicates by client_uuid if two pages send the same item.
export function sync() {
  // A run already going may have read the outbox before the caller's item was added: run again after it.
  if (running) return running.then(() => sync());
  running = (async () => {
    const report = { sent: 0, rejected: 0, signIn: false, offline: false, results: {} };
    try {
      const items = (await all()).filter((i) => i.state !== STATES.REJECTED);
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
        if (await sendItem(item, who.csrf_token)) {
          report.sent += 1;
          report.results[item.id] = item.result;
        } else report.rejected += 1;
      }
    } catch (error) {
      if (error instanceof Stop) report.offline = error.message !== "signed out";
      if (error instanceof Stop && error.message === "signed out") report.signIn = true;
      if (!(error instanceof Stop)) throw error;
    } finally {
      running = null;
    }
    return report;
  })();
  return running;
}
