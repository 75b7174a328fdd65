// Runs on every signed-in page: installs the service worker, keeps the outbox moving and shows its state.
import * as outbox from "./outbox.js";
import { fieldData, t } from "./fielddata.js";
import { fieldLabel, flatten } from "./forms.js";
import { explainRefusal } from "./checks.js";

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
  // So are my returned records' edit forms: a verifier's "retake the photo" is met at the site.
  const followUps = [...document.querySelectorAll("[data-my-follow-ups] a, [data-my-returned] a")].map((a) =>
    a.getAttribute("href"),
  );
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

// Why the server refused an item, each field named by its label and, where the phone can tell, in the
// user's language; the server's own summary only when it named no field.
function reasonText(item, data) {
  const errors = data ? explainRefusal(item, data) : item.error.errors || {};
  const fields = Object.entries(flatten(errors))
    .map(([field, messages]) => `${fieldLabel(field, data ? data.methods : [])}: ${messages.flat().join(" ")}`)
    .join("; ");
  return fields ? `${t("rejected")} ${fields}` : `${t("rejected")} ${item.error.message}`;
}

function stateText(item) {
  if (item.id === outbox.sendingId) return t("state_sending");
  const text = t(`state_${item.state}`);
  if (item.state === outbox.STATES.PENDING && item.lastTry) {
    const at = new Date(item.lastTry.at).toLocaleTimeString(document.documentElement.lang, { hour12: false });
    return `${text} · ${t(`last_try_${item.lastTry.outcome}`).replace("{time}", at)}`;
  }
  return text;
}

function button(text, onClick, attr) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "link";
  b.textContent = text;
  if (attr) b.setAttribute(attr, "");
  b.addEventListener("click", onClick);
  return b;
}

// Where a refused record is corrected: its own form, opened with what was saved.
const FIX_PAGES = { observation: "/observations/new", control: "/control-operations/new" };

function renderList(items, userId, data) {
  const list = document.querySelector("[data-outbox-list]");
  if (!list) return;
  list.replaceChildren();
  const empty = document.querySelector("[data-outbox-empty]");
  if (empty) empty.hidden = items.length > 0;
  for (const item of items) {
    const li = document.createElement("li");
    li.dataset.outboxItem = item.id;
    li.dataset.state = item.id === outbox.sendingId ? "sending" : item.state;
    const box = document.createElement("div");
    box.className = "item";
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = describe(item);
    const meta = document.createElement("div");
    meta.className = "meta";
    const badge = document.createElement("span");
    const blocked = item.state === outbox.STATES.REJECTED || item.state === outbox.STATES.PHOTO_REFUSED;
    badge.className = `badge ${blocked ? "rejected" : "pending"}`;
    badge.textContent = stateText(item);
    meta.append(badge);
    if (item.userId !== userId) {
      meta.append(" ", t("other_user"));
    }
    if (item.state === outbox.STATES.REJECTED && item.error) {
      const why = document.createElement("div");
      why.className = "error";
      why.textContent = reasonText(item, data);
      meta.append(why);
      if (item.formUrl || FIX_PAGES[item.kind]) {
        const fix = document.createElement("a");
        fix.className = "button";
        fix.dataset.outboxFix = "";
        fix.href = `${item.formUrl || FIX_PAGES[item.kind]}?outbox=${encodeURIComponent(item.id)}`;
        fix.textContent = t("fix_in_form");
        meta.append(fix, " ");
      }
      meta.append(
        button(t("discard"), async () => {
          if (window.confirm(t("discard_confirm"))) await outbox.remove(item.id);
        }),
      );
    }
    if (item.state === outbox.STATES.PHOTO_REFUSED) {
      for (const photo of item.photos.filter((p) => p.error)) {
        const why = document.createElement("div");
        why.className = "error";
        why.dataset.photoRefused = "";
        why.textContent = `${t("photo_refused")} ${photo.name}: ${photo.error}`;
        meta.append(why);
      }
      meta.append(
        button(t("retry_photo"), async () => {
          await outbox.retryPhotos(item.id);
          syncNow();
        }, "data-retry-photo"),
        " ",
        button(t("drop_photo"), async () => {
          if (window.confirm(t("drop_photo_confirm"))) {
            await outbox.dropRefusedPhotos(item.id);
            syncNow();
          }
        }, "data-drop-photo"),
      );
    }
    box.append(title, meta);
    li.append(box);
    list.append(li);
  }
}

let lastReport = null;

// What the status line says: worked out from what is on the phone now, never from the last run alone,
// so "n waiting" and "everything is sent" are never shown together.
function statusText(items, report) {
  if (items.length === 0) return t("up_to_date");
  const parts = [];
  if (report && report.sent) parts.push(t("sent_n").replace("{n}", report.sent));
  const count = (state) => items.filter((i) => i.state === state).length;
  if (outbox.sendingId) parts.push(t("syncing"));
  else if (report && report.timeout) parts.push(t("no_answer_wait"));
  else if (report && report.offline) parts.push(t("offline_wait"));
  if (count(outbox.STATES.SIGN_IN) || (report && report.signIn)) parts.push(t("sign_in_again"));
  if (count(outbox.STATES.REJECTED)) parts.push(t("rejected_n").replace("{n}", count(outbox.STATES.REJECTED)));
  if (count(outbox.STATES.PHOTO_REFUSED)) {
    parts.push(t("photo_refused_n").replace("{n}", count(outbox.STATES.PHOTO_REFUSED)));
  }
  if (parts.length === 0) parts.push(t("waiting_n").replace("{n}", items.length));
  return parts.join(" ");
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
  const status = document.querySelector("[data-sync-status]");
  if (status) status.textContent = statusText(items, lastReport);
  let data = null;
  if (items.some((i) => i.error)) data = await fieldData().catch(() => null);
  renderList(items, userId, data);
}

async function syncNow() {
  try {
    lastReport = await outbox.sync();
  } catch (error) {
    console.error(error);
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
