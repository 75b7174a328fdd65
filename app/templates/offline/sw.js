// IAS Tracker service worker: keeps the app shell and the pages last seen, so the capture forms open with
// no signal. Records are never kept here: they wait in the IndexedDB outbox (outbox.js). After signing out
// with no signal, this worker holds every request of the site until the sign-out has reached the server.
"use strict";
const VERSION = {{ version|tojson }};
const SHELL_CACHE = "ias-shell-" + VERSION;
const PAGE_CACHE = "ias-pages";
const DATA_CACHE = "ias-data";
const SHELL = {{ shell|tojson }};
const OFFLINE_URL = {{ url_for("offline.offline_page")|tojson }};
// One bar of signal (the phone thinks it is online, nothing comes back): a page this phone has saved is shown
// if the network has not answered within CACHED_WAIT_MS; the network's answer, when it comes, refreshes the
// saved copy for next time. A page never saved is waited for longer before the offline page.
const CACHED_WAIT_MS = 1500;
const NETWORK_TIMEOUT_MS = 15000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("ias-shell-") && k !== SHELL_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("message", (event) => {
  // Sent by the sign-in page: the pages of the person who signed out must not be shown to the next one.
  if (event.data === "forget-pages") event.waitUntil(forgetPages());
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

function cacheable(response) {
  return response && response.ok && !response.redirected && response.type === "basic";
}

async function saved(cache, request) {
  // Vary: Cookie is set on every signed-in page; the cache holds this phone's own pages only.
  return (
    (await cache.match(request, { ignoreVary: true })) ||
    (await cache.match(request, { ignoreSearch: true, ignoreVary: true }))
  );
}

async function networkFirst(event, cacheName, fallbackUrl) {
  const request = event.request;
  const cache = await caches.open(cacheName);
  const network = fetch(request).then((response) => {
    if (cacheable(response)) return cache.put(request, response.clone()).then(() => response);
    return response;
  });
  // However the race ends, the network's answer is still stored when it arrives.
  event.waitUntil(network.catch(() => undefined));
  const copy = await saved(cache, request);
  try {
    return await withTimeout(network, copy ? CACHED_WAIT_MS : NETWORK_TIMEOUT_MS);
  } catch (error) {
    if (copy) return copy;
    const late = await saved(cache, request);
    if (late) return late;
    if (fallbackUrl) {
      const offline = await caches.match(fallbackUrl, { ignoreVary: true });
      if (offline) return offline;
    }
    throw error;
  }
}

// The field data (species, townships, methods) from the saved copy at once, refreshed behind it for next
// time; the app also refreshes it on every sync. Only a phone with no copy waits for the network.
async function savedThenRefreshed(event, cacheName) {
  const request = event.request;
  const cache = await caches.open(cacheName);
  const copy = await saved(cache, request);
  if (!copy) return networkFirst(event, cacheName);
  event.waitUntil(
    fetch(request)
      .then((response) => (cacheable(response) ? cache.put(request, response) : undefined))
      .catch(() => undefined),
  );
  return copy;
}

async function cacheFirst(request) {
  const saved = await caches.match(request, { ignoreVary: true });
  return saved || fetch(request);
}

// What this worker answers itself (a function giving the answer), or null: the network, untouched.
function ownAnswer(event, url) {
  const request = event.request;
  if (request.method !== "GET") return null;
  if (url.pathname.startsWith("/api/") || url.pathname === "/app/session.json" || url.pathname === "/sw.js") {
    return null; // always the network: the API and the session are never answered from a cache
  }
  if (request.mode === "navigate") return () => networkFirst(event, PAGE_CACHE, OFFLINE_URL);
  if (url.pathname === "/app/field-data.json") return () => savedThenRefreshed(event, DATA_CACHE);
  if (isAppFile(url)) return () => cacheFirst(request);
  return null;
}

function isAppFile(url) {
  return url.pathname.startsWith("/static/") || url.pathname.startsWith("/vendor/");
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return; // map tiles: the section "Offline basemap" below
  const answer = ownAnswer(event, url);
  // The app's own files carry nothing of anyone; every other request waits for a pending sign-out.
  if (signOutPending === false || isAppFile(url) || url.pathname === "/manifest.webmanifest") {
    if (answer) event.respondWith(answer());
    return;
  }
  event.respondWith(afterSignOut(event, answer));
});

// ---------------------------------------------------------------------------------------------------------
// Signing out on a shared phone (docs/architecture.md, "Signing out on a shared phone"). The page asks
// ("sign-out"); this worker marks the phone signed out (a mark in IndexedDB, written durably, so a worker
// restarted after the browser was closed still knows), forgets the person's pages and answers. From then
// on, every request of the site but the app's own files first sends the sign-out: it asks /app/session.json
// for a fresh CSRF token and POSTs /sign-out, until the server says nobody is signed in with this phone's
// cookie (401); only then does the request go. With no signal (or no answer in time) nothing reaches the
// server with that session: a page is answered with the "signed out on this phone" page, anything else
// with 401, marked WAITING_HEADER.
const SIGN_OUT_DB = "ias-sign-out";
const SIGN_OUT_STORE = "mark";
const SIGN_OUT_KEY = "pending";
const SIGN_OUT_URL = {{ url_for("accounts.sign_out")|tojson }};
const SIGNED_OUT_PAGE = {{ url_for("offline.signed_out_page")|tojson }};
const WAITING_HEADER = "X-IAS-Signed-Out";
const SIGN_OUT_WAIT_MS = 8000; // per request of the sign-out: one bar must not hold the phone for long
let signOutPending = null; // null until the mark is read
const markRead = withMark("readonly", (store) => store.get(SIGN_OUT_KEY))
  .then((mark) => { signOutPending = Boolean(mark); })
  .catch(() => { signOutPending = false; });
let delivering = null; // the sign-out being sent, shared by every request waiting for it

// Runs `work(store)` on the mark's store in one transaction, flushed to disk before it completes ("strict":
// a phone switched off right after signing out must still know when it is switched on).
function withMark(mode, work) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(SIGN_OUT_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(SIGN_OUT_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(SIGN_OUT_STORE, mode, { durability: "strict" });
      const request = work(tx.objectStore(SIGN_OUT_STORE));
      tx.oncomplete = () => { db.close(); resolve(request.result); };
      tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
    };
  });
}

function forgetPages() {
  return Promise.all([caches.delete(PAGE_CACHE), caches.delete(DATA_CACHE)]);
}

async function markSignedOut() {
  await withMark("readwrite", (store) => store.put({ at: Date.now() }, SIGN_OUT_KEY));
  signOutPending = true;
  await forgetPages();
}

async function sendSignOut() {
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const who = await withTimeout(
        fetch("/app/session.json", { credentials: "same-origin", cache: "no-store" }), SIGN_OUT_WAIT_MS);
      if (who.status === 401) { // nobody is signed in with this cookie any more: done
        await withMark("readwrite", (store) => store.delete(SIGN_OUT_KEY));
        signOutPending = false;
        await forgetPages(); // again: a browser closed at once may not have kept their deletion
        await tellPagesSignedOut();
        return true;
      }
      if (!who.ok) return false;
      const { csrf_token: csrfToken } = await who.json();
      await withTimeout(fetch(SIGN_OUT_URL, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual",
        body: new URLSearchParams({ csrf_token: csrfToken }),
      }), SIGN_OUT_WAIT_MS);
    }
  } catch {
    /* no signal, or no answer in time: the next request tries again */
  }
  return false;
}

// The pages showing "signed out on this phone" (static/js/signed-out.js) move on to the sign-in page at once,
// whichever request or background sync delivered the sign-out, rather than at their next retry.
async function tellPagesSignedOut() {
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage("sign-out-sent");
}

function signOutSent() {
  if (!delivering) delivering = sendSignOut().finally(() => { delivering = null; });
  return delivering;
}

async function afterSignOut(event, answer) {
  await markRead;
  if (signOutPending && !(await signOutSent())) {
    if (event.request.mode === "navigate") {
      const page = await caches.match(SIGNED_OUT_PAGE, { ignoreVary: true });
      if (page) return page;
    }
    return new Response(JSON.stringify({ signed_in: false }), {
      status: 401, headers: { "Content-Type": "application/json", [WAITING_HEADER]: "1" },
    });
  }
  return answer ? answer() : fetch(event.request);
}

self.addEventListener("message", (event) => {
  if (event.data === "sign-out") {
    event.waitUntil(markSignedOut().then(() => event.ports[0] && event.ports[0].postMessage("signed-out")));
  }
});

// Background sync, where the browser has it: woken when the signal returns, even with the app closed.
self.addEventListener("sync", (event) => {
  if (event.tag !== "ias-sign-out") return;
  event.waitUntil(markRead.then(() => (signOutPending ? signOutSent() : true)).then((sent) => {
    if (!sent) throw new Error("sign-out not sent yet"); // the browser tries again later
  }));
});

// ---------------------------------------------------------------------------------------------------------
// Offline basemap (docs/maps.md, "Offline basemap"). The map page's "save for offline use" (static/js/tiles.js)
// keeps a township's tiles in caches named "ias-tiles-<area>", under the URLs Leaflet asks for. A map tile
// (an image from another origin: the page's CSP allows only the basemap's tile hosts) is answered from those
// caches, saved or not online, so a saved area costs no data and shows with no signal; anything else goes to
// the tile server as it would without this worker. With no area saved, tile requests are not touched at all.
const TILE_CACHE_PREFIX = "ias-tiles-";
let tileCaches = null; // the saved areas' cache names; null until read
let tileCachesRead = readTileCaches();

function readTileCaches() {
  return caches.keys()
    .then((keys) => { tileCaches = keys.filter((k) => k.startsWith(TILE_CACHE_PREFIX)); })
    .catch(() => { tileCaches = []; });
}

self.addEventListener("message", (event) => {
  if (event.data === "tiles-changed") { // tiles.js saved or deleted an area
    tileCachesRead = readTileCaches();
    event.waitUntil(tileCachesRead);
  }
});

async function savedTile(request) {
  await tileCachesRead;
  for (const name of tileCaches) {
    const cache = await caches.open(name);
    const hit = await cache.match(request.url, { ignoreVary: true });
    if (hit) return hit;
  }
  return fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || request.destination !== "image") return;
  if (new URL(request.url).origin === self.location.origin) return;
  if (tileCaches !== null && tileCaches.length === 0) return; // nothing saved: the network, untouched
  event.respondWith(savedTile(request));
});
