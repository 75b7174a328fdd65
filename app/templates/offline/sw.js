// IAS Tracker service worker: keeps the app shell and the pages last seen, so the capture forms open with
// no signal. Records themselves never pass through here: they wait in the IndexedDB outbox (outbox.js).
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
  if (event.data === "forget-pages") {
    event.waitUntil(Promise.all([caches.delete(PAGE_CACHE), caches.delete(DATA_CACHE)]));
  }
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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/app/session.json" || url.pathname === "/sw.js") {
    return; // always the network: the API and the session are never answered from a cache
  }
  if (request.mode === "navigate") {
    event.respondWith(networkFirst(event, PAGE_CACHE, OFFLINE_URL));
  } else if (url.pathname === "/app/field-data.json") {
    event.respondWith(savedThenRefreshed(event, DATA_CACHE));
  } else if (url.pathname.startsWith("/static/") || url.pathname.startsWith("/vendor/")) {
    event.respondWith(cacheFirst(request));
  }
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
