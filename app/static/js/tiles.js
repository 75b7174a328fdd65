// Offline basemap (docs/maps.md, "Offline basemap"): save a township's map tiles in the browser's Cache
// Storage, list and delete them. The service worker (sw.js, savedTile) answers the maps' tile requests from
// these caches, so the map and the record form show the basemap with no signal.
//
// One cache per saved area ("ias-tiles-<area code>"), holding its tiles under the very URLs Leaflet asks
// for, and a small description of the save (META). Deleting an area deletes its cache, which frees the space.

export const TILE_CACHE_PREFIX = "ias-tiles-";
const META = "/app/offline-tiles/saved"; // the key of an area's description inside its cache (never fetched)

const messagesEl = document.getElementById("tiles-messages");
const MESSAGES = messagesEl ? JSON.parse(messagesEl.textContent) : {};

function t(key, values = {}) {
  let text = MESSAGES[key] ?? key;
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

// A size as people read it: KB below a megabyte, MB with one decimal above.
export function size(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// The URL Leaflet's L.TileLayer asks for (getTileUrl): the same subdomain for the same tile, so the saved copy
// is found whichever way the map reaches it.
export function tileUrl(layer, z, x, y) {
  const subdomains = layer.subdomains || "";
  const s = subdomains.length ? subdomains[Math.abs(x + y) % subdomains.length] : "";
  // {r}: Leaflet asks a high-density screen for "@2x" tiles; the phone that saves is the phone that shows.
  const values = { s, z, x, y, "-y": 2 ** z - 1 - y, r: (window.devicePixelRatio || 1) > 1 ? "@2x" : "" };
  return layer.url.replace(/\{ *([\w-]+) *\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

export function planUrls(plan, layers) {
  const urls = [];
  for (const [zoom, rows] of Object.entries(plan.rows)) {
    const z = Number(zoom);
    for (const [y, first, last] of rows) {
      for (let x = first; x <= last; x += 1) {
        for (const layer of layers) urls.push(tileUrl(layer, z, x, y));
      }
    }
  }
  return urls;
}

function cacheName(code) {
  return TILE_CACHE_PREFIX + code;
}

function tellServiceWorker() {
  if (!("serviceWorker" in navigator)) return Promise.resolve();
  return navigator.serviceWorker.ready
    .then((registration) => registration.active && registration.active.postMessage("tiles-changed"))
    .catch(() => undefined);
}

// Every saved area's description, by name.
export async function savedAreas() {
  if (!("caches" in window)) return [];
  const names = (await caches.keys()).filter((name) => name.startsWith(TILE_CACHE_PREFIX));
  const areas = [];
  for (const name of names) {
    const cache = await caches.open(name);
    const meta = await cache.match(META);
    if (meta) areas.push(await meta.json());
  }
  return areas.sort((a, b) => a.name.localeCompare(b.name, "zh-CN"));
}

export async function deleteArea(code) {
  await caches.delete(cacheName(code));
  await tellServiceWorker();
}

// Fetch `urls` into the area's cache, `concurrency` at a time, reporting each one done. Saving an area again
// replaces what was kept for it. Resolves with {saved, failed, bytes, stopped, full}.
export async function saveArea({ area, plan, urls, concurrency, onProgress, shouldStop }) {
  // Ask the browser to keep this site's storage under pressure: saved maps are what the surveyor relies on
  // in the valley, not a cache to be evicted. (Chromium grants it to installed or often used sites.)
  if (navigator.storage && navigator.storage.persist) await navigator.storage.persist().catch(() => false);
  await caches.delete(cacheName(area.code));
  const cache = await caches.open(cacheName(area.code));
  let next = 0;
  let done = 0;
  const result = { saved: 0, failed: 0, bytes: 0, stopped: false, full: false };
  async function worker() {
    while (next < urls.length && !result.stopped && !result.full) {
      if (shouldStop()) {
        result.stopped = true;
        break;
      }
      const url = urls[next];
      next += 1;
      try {
        const response = await fetch(url, { mode: "cors", credentials: "omit" });
        if (!response.ok) throw new Error(String(response.status));
        const blob = await response.blob();
        const type = response.headers.get("Content-Type") || "image/png";
        await cache.put(url, new Response(blob, { headers: { "Content-Type": type } }));
        result.saved += 1;
        result.bytes += blob.size;
      } catch (error) {
        if (error && error.name === "QuotaExceededError") result.full = true;
        else result.failed += 1;
      }
      done += 1;
      onProgress(done, urls.length);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  const meta = {
    code: area.code,
    name: area.name,
    min_zoom: plan.min_zoom,
    max_zoom: plan.max_zoom,
    tiles: result.saved,
    bytes: result.bytes,
    saved_at: new Date().toISOString(),
  };
  await cache.put(META, new Response(JSON.stringify(meta), { headers: { "Content-Type": "application/json" } }));
  await tellServiceWorker();
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// The page (/map/offline)

const form = document.querySelector("[data-tiles-form]");
const savedList = document.querySelector("[data-tiles-saved]");
const none = document.querySelector("[data-tiles-none]");

function when(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang || "zh-CN", {
    timeZone: "Asia/Shanghai", dateStyle: "short", timeStyle: "short",
  });
}

async function showSaved() {
  if (!savedList) return;
  const areas = await savedAreas();
  savedList.replaceChildren(
    ...areas.map((area) => {
      const li = document.createElement("li");
      li.dataset.tilesArea = area.code;
      const item = document.createElement("div");
      item.className = "item row";
      const text = document.createElement("div");
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = area.name;
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = t("saved_item", {
        from: area.min_zoom, to: area.max_zoom, n: area.tiles, size: size(area.bytes), when: when(area.saved_at),
      });
      text.append(title, meta);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger";
      remove.textContent = t("delete");
      remove.dataset.tilesDelete = area.code;
      remove.addEventListener("click", async () => {
        if (!window.confirm(t("delete_confirm", { name: area.name }))) return;
        await deleteArea(area.code);
        status(t("deleted", { name: area.name }));
        await showSaved();
      });
      item.append(text, remove);
      li.append(item);
      return li;
    }),
  );
  if (none) none.hidden = areas.length > 0;
  document.body.dataset.tilesSaved = String(areas.length);
}

let estimate = null; // the server's answer for the chosen area
let stopRequested = false;

function status(text) {
  const total = document.querySelector("[data-tiles-total]");
  if (total) total.textContent = text;
}

function showError(text) {
  const el = form.querySelector("[data-tiles-error]");
  el.textContent = text || "";
  el.hidden = !text;
}

function chosenZooms() {
  return [Number(form.elements.min_zoom.value), Number(form.elements.max_zoom.value)];
}

function showTotal() {
  if (!estimate) return status("");
  const [from, to] = chosenZooms();
  const rows = estimate.zooms.filter((row) => row.zoom >= from && row.zoom <= to);
  const requests = rows.reduce((sum, row) => sum + row.requests, 0);
  const bytes = rows.reduce((sum, row) => sum + row.bytes, 0);
  const last = estimate.zooms.length ? estimate.zooms[estimate.zooms.length - 1].zoom : -1;
  // The server estimates up to the first zoom over the cap: a range beyond it is over the cap, uncounted.
  if (to > last || requests > estimate.cap) {
    form.dataset.requests = "over";
    return status(t("over_cap", { cap: estimate.cap }));
  }
  form.dataset.requests = String(requests);
  status(from <= to ? t("total", { from, to, n: requests, size: size(bytes) }) : "");
}

async function loadEstimate() {
  estimate = null;
  showError("");
  const table = form.querySelector("[data-tiles-estimate]");
  const source = form.querySelector("[data-tiles-source]");
  const code = form.elements.area.value;
  table.hidden = true;
  source.textContent = "";
  status("");
  delete form.dataset.estimate;
  if (!code) return;
  let response;
  try {
    response = await fetch(`${form.dataset.endpoint}?area=${encodeURIComponent(code)}`, { credentials: "same-origin" });
  } catch {
    showError(t("no_connection"));
    return;
  }
  const body = await response.json();
  if (!response.ok) {
    showError(body.message);
    return;
  }
  if (form.elements.area.value !== code) return; // another area was chosen meanwhile
  estimate = body;
  source.textContent = t(`source_${body.area.source}`);
  form.querySelector("[data-tiles-estimate-rows]").replaceChildren(
    ...body.zooms.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.zoom = String(row.zoom);
      for (const value of [row.zoom, row.requests, size(row.bytes)]) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.append(td);
      }
      return tr;
    }),
  );
  table.hidden = false;
  form.dataset.estimate = code;
  showTotal();
}

async function save(event) {
  event.preventDefault();
  showError("");
  const code = form.elements.area.value;
  if (!code) return;
  if (!("caches" in window)) return showError(t("no_storage"));
  if (!navigator.onLine) return showError(t("no_connection"));
  const [from, to] = chosenZooms();
  const params = new URLSearchParams({ area: code, min_zoom: String(from), max_zoom: String(to) });
  let response;
  try {
    response = await fetch(`${form.dataset.endpoint}?${params}`, { credentials: "same-origin" });
  } catch {
    return showError(t("no_connection"));
  }
  const body = await response.json();
  if (!response.ok) {
    form.dataset.state = "refused";
    const errors = body.errors || {};
    return showError((errors.max_zoom || errors.min_zoom || errors.area || [body.message])[0]);
  }
  const urls = planUrls(body.plan, body.layers);
  const button = form.querySelector("[data-tiles-save]");
  const cancel = form.querySelector("[data-tiles-cancel]");
  const progress = form.querySelector("[data-tiles-progress]");
  const bar = form.querySelector("[data-tiles-bar]");
  const text = form.querySelector("[data-tiles-progress-text]");
  stopRequested = false;
  button.disabled = true;
  cancel.hidden = false;
  progress.hidden = false;
  form.dataset.state = "saving";
  const onProgress = (done, total) => {
    bar.value = total ? done / total : 1;
    text.textContent = t("progress", { done, n: total });
    form.dataset.done = String(done);
  };
  onProgress(0, urls.length);
  const result = await saveArea({
    area: body.area, plan: body.plan, urls, concurrency: body.concurrency, onProgress,
    shouldStop: () => stopRequested,
  });
  button.disabled = false;
  cancel.hidden = true;
  const notes = [];
  if (result.stopped) notes.push(t("stopped"));
  else notes.push(t("saved", { name: body.area.name, from, to }));
  if (result.failed) notes.push(t("failed_some", { n: result.failed }));
  if (result.full) notes.push(t("full"));
  status(notes.join(" "));
  form.dataset.state = result.stopped ? "stopped" : "saved";
  await showSaved();
}

if (form) {
  form.elements.area.addEventListener("change", loadEstimate);
  form.elements.min_zoom.addEventListener("change", showTotal);
  form.elements.max_zoom.addEventListener("change", showTotal);
  form.addEventListener("submit", save);
  form.querySelector("[data-tiles-cancel]").addEventListener("click", () => {
    stopRequested = true;
  });
}
if (savedList) {
  showSaved().then(() => {
    document.body.dataset.tilesReady = "1";
  });
}
