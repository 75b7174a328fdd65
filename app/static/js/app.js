// Runs on every signed-in page: installs the service worker, keeps the outbox moving and shows its state.
import * as outbox from "./outbox.js";
import { fieldData, t } from "./fielddata.js";
import { fieldLabel, flatten } from "./forms.js";
import { explainRefusal } from "./checks.js";
import { SIGNED_OUT_CHANNEL, forgetPerson } from "./forget.js";

const SYNC_EVERY_MS = 60_000;

// Pages a surveyor may need with no signal, saved as soon as the app is opened with signal (the service
// worker also saves every page when it is visited).
const FIELD_PAGES = ["/", "/observations/new", "/control-operations/new", "/follow-ups", "/app/field-data.json"];
FIELD_PAGES.push("/surveys/routes/new"); // walking a route (route.js) starts with no signal too

const READY_KEY = "ias:offline-ready";
const REFRESH_EVERY_MS = 5 * 60_000; // pages already saved are fetched again at most this often

// Saves (or, on `refresh`, saves again) every page a surveyor may need with no signal: the capture forms,
// their field data, and my follow-ups and returned records listed on this page. The control form's list of
// sites and the follow-ups change as colleagues work, so a sync refreshes them. What was saved, and when,
// is kept for the "ready for offline use" line.
async function saveFieldPages({ refresh = false } = {}) {
  if (!("caches" in window)) return null;
  const pages = await caches.open("ias-pages");
  const data = await caches.open("ias-data");
  const known = JSON.parse(localStorage.getItem(READY_KEY) || "null");
  const own = [...document.querySelectorAll("[data-my-follow-ups] a, [data-my-returned] a, [data-my-survey-units] a")].map((a) =>
    a.getAttribute("href"),
  );
  // Off the home page, the follow-ups saved last time are refreshed instead.
  const followUps = document.querySelector("[data-outbox-list]") ? own : known?.followUps || [];
  const wanted = [...new Set([...FIELD_PAGES, ...followUps])];
  let saved = 0;
  let fetched = 0;
  for (const url of wanted) {
    const cache = url.endsWith(".json") ? data : pages;
    const have = await cache.match(url, { ignoreVary: true });
    if (have && !refresh && !followUps.includes(url)) {
      saved += 1;
      continue;
    }
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok && !response.redirected) {
        await cache.put(url, response);
        saved += 1;
        fetched += 1;
      } else if (have) saved += 1;
    } catch {
      return null; // offline: try again next time
    }
  }
  // "When" is the last time anything was fetched, not the last time the copies were looked at.
  const at = fetched === 0 && known ? known.at : Date.now();
  const state = { at, pages: saved, followUps, ...(await countSaved(pages, data)) };
  localStorage.setItem(READY_KEY, JSON.stringify(state));
  showOfflineState();
  return state;
}

// Species and sites in the saved copies (what the forms will offer with no signal).
async function countSaved(pages, data) {
  const counts = { species: 0, sites: 0 };
  try {
    const field = await data.match("/app/field-data.json", { ignoreVary: true });
    if (field) counts.species = (await field.json()).species.length;
    const control = await pages.match("/control-operations/new", { ignoreVary: true });
    if (control) {
      const html = new DOMParser().parseFromString(await control.text(), "text/html");
      counts.sites = html.querySelectorAll('[data-site-select] option:not([value=""])').length;
    }
  } catch {
    /* a copy that cannot be read is simply not counted */
  }
  return counts;
}

function showOfflineState() {
  const state = JSON.parse(localStorage.getItem(READY_KEY) || "null");
  for (const el of document.querySelectorAll("[data-offline-state]")) {
    if (!state) continue;
    const when = new Date(state.at).toLocaleString(document.documentElement.lang, { hour12: false });
    const visits = state.followUps.filter((u) => u.startsWith("/follow-ups/")).length;
    el.hidden = false;
    el.textContent = t("offline_ready")
      .replace("{pages}", state.pages)
      .replace("{species}", state.species)
      .replace("{sites}", state.sites)
      .replace("{follow_ups}", visits)
      .replace("{when}", when);
  }
}

let refreshing = false;

// `force` (the "sync now" button, the signal coming back, something just sent): at once; otherwise at most
// every few minutes.
async function refreshFieldPages(force) {
  const known = JSON.parse(localStorage.getItem(READY_KEY) || "null");
  if (refreshing || navigator.onLine === false) return;
  if (!force && known && Date.now() - known.at < REFRESH_EVERY_MS) return;
  refreshing = true;
  try {
    await saveFieldPages({ refresh: true });
  } finally {
    refreshing = false;
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
    } catch {
      /* not granted: the outbox still works, it is just evictable */
    }
  }
}

function describe(item) {
  const when = outbox.itemTime(item).toLocaleString(document.documentElement.lang, { hour12: false });
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
  if (item.dependsOn && item.state === outbox.STATES.PENDING) return t("state_waits_record");
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
const FIX_PAGES = { observation: "/observations/new", control: "/control-operations/new", route: "/surveys/routes/new" };

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
  else if (report && (report.timeout || report.server)) parts.push(t("no_answer_wait"));
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

async function syncNow(event) {
  let force = event instanceof Event && (event.type === "click" || event.type === "online");
  try {
    lastReport = await outbox.sync({ force: event instanceof Event && event.type === "click" });
  } catch (error) {
    console.error(error);
  }
  await refresh();
  if (lastReport && lastReport.sent) force = true; // what was sent may have opened a site
  // With the server answering, what the phone keeps for offline use is brought up to date too.
  if (lastReport && !lastReport.offline && !lastReport.timeout && !lastReport.signIn && navigator.serviceWorker?.controller) {
    refreshFieldPages(force).catch((error) => console.warn("offline pages not refreshed", error));
  }
  return lastReport;
}

export { syncNow };

// Signing out keeps this phone's unsent records (they wait for their owner to sign in again, outbox.js), but
// the person is told first: a shared phone may go to someone else, and nothing is sent until they are back.
function warnBeforeSigningOut() {
  for (const form of document.querySelectorAll("[data-sign-out]")) {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.confirmed) return;
      event.preventDefault();
      const userId = Number(document.querySelector('meta[name="ias-user"]')?.content || 0);
      const unsent = (await outbox.all().catch(() => [])).filter((item) => item.userId === userId).length;
      if (unsent && !window.confirm(t("sign_out_unsent").replace("{n}", unsent))) return;
      await signOut(form);
    });
  }
}

// Signing out works with no signal too (docs/architecture.md, "Signing out on a shared phone"): the service
// worker marks this phone signed out at once and sends the sign-out itself ahead of anything else this site
// is asked for, now or when the signal returns; until then it answers every request "nobody is signed in".
// The phone forgets the person (forget.js) and shows the sign-in page. Without a worker in charge of the
// page (an old browser, the first visit), the plain form is sent, which needs the signal.
const WORKER_ANSWER_MS = 5_000;

function askWorker(worker, message) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), WORKER_ANSWER_MS);
    channel.port1.onmessage = () => {
      clearTimeout(timer);
      resolve(true);
    };
    worker.postMessage(message, [channel.port2]);
  });
}

async function signOut(form) {
  const worker = navigator.serviceWorker?.controller;
  if (worker && (await askWorker(worker, "sign-out"))) {
    // Best effort: a browser with background sync wakes the worker for it when the signal returns, even
    // with the app closed; the worker sends the sign-out before any request of the app in any case.
    navigator.serviceWorker.ready
      .then((registration) => registration.sync?.register("ias-sign-out"))
      .catch(() => undefined);
    await forgetPerson().catch((error) => console.warn("not everything was forgotten", error));
    window.location.replace("/sign-in?signed_out=1");
    return;
  }
  form.dataset.confirmed = "1";
  form.requestSubmit();
}

function start() {
  registerServiceWorker();
  keepStorage();
  outbox.onChange(refresh);
  showOfflineState();
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
  warnBeforeSigningOut();
  // Signed out in another tab (or the session ended there): this one leaves the person's page too.
  if ("BroadcastChannel" in window) {
    new BroadcastChannel(SIGNED_OUT_CHANNEL).addEventListener("message", (event) => {
      if (event.data === "signed-out") window.location.replace("/sign-in?signed_out=1");
    });
  }
  document.documentElement.dataset.appReady = "1";
}

start();
