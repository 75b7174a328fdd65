// IAS Tracker service worker: keeps the app shell and the pages last seen, so the capture forms open with
// no signal. Records themselves never pass through here: they wait in the IndexedDB outbox (outbox.js).
"use strict";
const VERSION = {{ version|tojson }};
const SHELL_CACHE = "ias-shell-" + VERSION;
const PAGE_CACHE = "ias-pages";
const DATA_CACHE = "ias-data";
const SHELL = {{ shell|tojson }};
const OFFLINE_URL = {{ url_for("offline.offline_page")|tojson }};
const NETWORK_TIMEOUT_MS = 6000; // one bar of signal: fall back to the saved page rather than wait

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

async function networkFirst(request, cacheName, fallbackUrl) {
  const cache = await caches.open(cacheName);
  try {
    const response = await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
    if (cacheable(response)) {
      cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    // Vary: Cookie is set on every signed-in page; the cache holds this phone's own pages only.
    const saved =
      (await cache.match(request, { ignoreVary: true })) ||
      (await cache.match(request, { ignoreSearch: true, ignoreVary: true }));
    if (saved) return saved;
    if (fallbackUrl) {
      const offline = await caches.match(fallbackUrl, { ignoreVary: true });
      if (offline) return offline;
    }
    throw error;
  }
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
    event.respondWith(networkFirst(request, PAGE_CACHE, OFFLINE_URL));
  } else if (url.pathname === "/app/field-data.json") {
    event.respondWith(networkFirst(request, DATA_CACHE));
  } else if (url.pathname.startsWith("/static/") || url.pathname.startsWith("/vendor/")) {
    event.respondWith(cacheFirst(request));
  }
});
