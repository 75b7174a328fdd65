// Runs on every signed-in page: installs the service worker, keeps the outbox moving and shows its state.
import * as outbox from "./outbox.js";
import { t } from "./fielddata.js";

const SYNC_EVERY_MS = 60_000;

// Pages a surveyor may need with no signal, saved as soon as the app is opened with signal (the service
// worker also saves every page when it is visited).
const FIELD_PAGES = ["/", "/observations/new", "/control-operations/new", "/follow-ups", "/app/field-data.json"];

async function saveFieldPages() {
  if (!("caches" in window)) return;
  const pages = await caches.open("ias-pages");
  const data = await caches.open("ias-data");
  // My follow-ups listed on the home page are saved afresh each time: the re-inspection form must open
  // at the site, where there is often no signal.
  const followUps = [...document.querySelectorAll("[data-my-follow-ups] a")].map((a) => a.getAttribute("href"));
  const wanted = [...FIELD_PAGES.map((url) => [url, false]), ...followUps.map((url) => [url, true])];
  for (const [url, refresh] of wanted) {
    const cache = url.endsWith(".json") ? data : pages;
    if (!refresh && (await cache.match(url, { ignoreVary: true }))) continue;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && !response.redirected) await cache.put(url, response);
    } catch (error) {
      return; // offline: try again next time
    }
  }
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register("/sw.js", { scope: "/" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => saveFieldPages())
    .then(() => {
      document.documentElement.dataset.offlineReady = "1";
    })
    .catch((error) => {
      console.warn("service worker not installed", error);
    });
}

async function keepStorage() {
  // Ask the browser not to evict the outbox when the phone runs short of space.
  if (navigator.storage && navigator.storage.persist) {
    try {
      await navigator.storage.persist();
    } catch (error) {
      /* not granted: the outbox still works, it is just evictable */
    }
  }
}

function describe(item) {
  const when = new Date(item.createdAt).toLocaleString(document.documentElement.lang, { hour12: false });
  const photos = item.photos.length ? ` · ${t("photos")}: ${item.photos.filter((p) => !p.sent).length}` : "";
  return `${item.label || item.kind} · ${when}${photos}`;
}

function renderList(items, userId) {
  const list = document.querySelector("[data-outbox-list]");
  if (!list) return;
  list.replaceChildren();
  const empty = document.querySelector("[data-outbox-empty]");
  if (empty) empty.hidden = items.length > 0;
  for (const item of items) {
    const li = document.createElement("li");
    li.dataset.outboxItem = item.id;
    li.dataset.state = item.state;
    const box = document.createElement("div");
    box.className = "item";
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = describe(item);
    const meta = document.createElement("div");
    meta.className = "meta";
    const badge = document.createElement("span");
    badge.className = `badge ${item.state === outbox.STATES.REJECTED ? "rejected" : "pending"}`;
    badge.textContent = t(`state_${item.state}`);
    meta.append(badge);
    if (item.userId !== userId) {
      meta.append(" ", t("other_user"));
    }
    if (item.error) {
      const why = document.createElement("div");
      why.className = "error";
      const fields = Object.entries(item.error.errors || {})
        .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
        .join("; ");
      why.textContent = `${item.error.message}${fields ? ` (${fields})` : ""}`;
      meta.append(why);
      const discard = document.createElement("button");
      discard.type = "button";
      discard.className = "link";
      discard.textContent = t("discard");
      discard.addEventListener("click", async () => {
        if (window.confirm(t("discard_confirm"))) await outbox.remove(item.id);
      });
      meta.append(discard);
    }
    box.append(title, meta);
    li.append(box);
    list.append(li);
  }
}

async function refresh() {
  const items = await outbox.all();
  const userId = Number(document.querySelector('meta[name="ias-user"]')?.content || 0);
  const badge = document.querySelector("[data-outbox-badge]");
  if (badge) {
    badge.hidden = items.length === 0;
    badge.querySelector("[data-outbox-count]").textContent = String(items.length);
    badge.classList.toggle("blocked", items.some((i) => i.state !== outbox.STATES.PENDING));
  }
  for (const el of document.querySelectorAll("[data-outbox-count-text]")) el.textContent = String(items.length);
  const signIn = document.querySelector("[data-outbox-sign-in]");
  if (signIn) signIn.hidden = !items.some((i) => i.state === outbox.STATES.SIGN_IN);
  renderList(items, userId);
}

let lastReport = null;

async function syncNow() {
  const status = document.querySelector("[data-sync-status]");
  if (status) status.textContent = t("syncing");
  try {
    lastReport = await outbox.sync();
  } catch (error) {
    console.error(error);
  }
  if (status && lastReport) {
    const parts = [];
    if (lastReport.sent) parts.push(t("sent_n").replace("{n}", lastReport.sent));
    if (lastReport.offline) parts.push(t("offline_wait"));
    if (lastReport.signIn) parts.push(t("sign_in_again"));
    status.textContent = parts.join(" ") || t("up_to_date");
  }
  await refresh();
  return lastReport;
}

export { syncNow };

function start() {
  registerServiceWorker();
  keepStorage();
  outbox.onChange(refresh);
  refresh();
  syncNow();
  window.addEventListener("online", syncNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") syncNow();
  });
  setInterval(syncNow, SYNC_EVERY_MS);
  for (const button of document.querySelectorAll("[data-sync-now]")) {
    button.addEventListener("click", syncNow);
  }
  document.documentElement.dataset.appReady = "1";
}

start();
