// Walking a 踏查 route (docs/surveys.md, Routes): start it for a campaign and unit, record GPS fixes
// (navigator.geolocation.watchPosition) with the screen kept on (Screen Wake Lock), pause, resume, stop;
// then confirm the campaign's target species not found along it, and put the route and those absences in
// the outbox, which sends them like any record. Everything is on the phone until then (route-store.js).
import * as outbox from "./outbox.js";
import * as store from "./route-store.js";
import { syncNow } from "./app.js";

const app = document.querySelector("[data-route-app]");
const config = JSON.parse(document.getElementById("ias-route-data").textContent);
const words = config.messages;
const limitM = Number(app.dataset.gpsLimit);
const $ = (selector) => app.querySelector(selector);
const say = (text, values = {}) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));

let route = null; // the active route (route-store.js), when there is one
let points = []; // its points, as recorded
let recorder = null; // store.Recorder while the route runs on this page
let wakeLock = null;

function show(section) {
  for (const name of ["setup", "walking", "absences", "done"]) {
    const el = $(`[data-route-${name}]`);
    if (el) el.hidden = name !== section;
  }
}

// --- setting up ------------------------------------------------------------------------------------

function campaign(id) {
  return config.campaigns.find((c) => c.id === Number(id)) || null;
}

function fillUnits() {
  const select = $("[data-route-unit]");
  const chosen = campaign($("[data-route-campaign]").value);
  select.replaceChildren(new Option("—", ""));
  for (const unit of chosen ? chosen.units : []) select.append(new Option(unit.name, String(unit.id)));
  const mine = chosen && chosen.units.find((u) => u.mine);
  if (mine) select.value = String(mine.id);
}

async function startRoute() {
  const chosen = campaign($("[data-route-campaign]").value);
  const unitId = Number($("[data-route-unit]").value) || null;
  const unit = chosen.units.find((u) => u.id === unitId) || null;
  route = {
    id: outbox.newId(),
    userId: config.user_id,
    campaign: { id: chosen.id, name: chosen.name, species: chosen.species },
    unit: unit ? { id: unit.id, name: unit.name } : null,
    startedAt: Date.now(),
    endedAt: null,
    phase: store.PHASES.RUNNING,
    present: [],
  };
  points = [];
  store.save(route);
  walking();
}

// --- recording ---------------------------------------------------------------------------------------

async function keepScreenOn() {
  const note = $("[data-route-wake]");
  if (!("wakeLock" in navigator)) {
    note.textContent = words.wake_off;
    note.className = "small warning";
    return;
  }
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    note.textContent = words.wake_on;
    note.className = "small";
  } catch {
    note.textContent = words.wake_off;
    note.className = "small warning";
  }
}

function releaseScreen() {
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
}

function onPoint(point, position) {
  points.push(point);
  $("[data-route-gps]").textContent = say(words.gps_fix, { m: Math.round(position.coords.accuracy) });
  showFigures();
}

function onGpsError(error) {
  $("[data-route-gps]").textContent = error.code === 1 ? words.gps_denied : words.gps_waiting;
}

function watch() {
  if (recorder) return;
  $("[data-route-gps]").textContent = words.gps_waiting;
  recorder = new store.Recorder(route, points[points.length - 1], onPoint);
  recorder.onError = onGpsError;
  recorder.start();
}

function unwatch() {
  if (recorder) recorder.stop();
  recorder = null;
}

function showFigures() {
  const end = route.endedAt || Date.now();
  const poor = points.filter((p) => p.accuracy_m !== null && p.accuracy_m > limitM).length;
  const effort = store.effortText(store.lengthM(points, limitM), (end - route.startedAt) / 1000, words);
  $("[data-route-figures]").textContent = say(words.figures, { n: points.length, poor, effort });
  app.dataset.points = String(points.length);
}

function walking() {
  show("walking");
  const unit = route.unit ? ` · ${route.unit.name}` : "";
  $("[data-route-title]").textContent = `${route.campaign.name}${unit}`;
  const running = route.phase === store.PHASES.RUNNING;
  $("[data-route-status]").textContent = running ? words.recording : words.paused;
  $("[data-route-pause]").hidden = !running;
  $("[data-route-resume]").hidden = running;
  app.dataset.phase = route.phase;
  showFigures();
  if (running) {
    watch();
    keepScreenOn();
  } else {
    unwatch();
    releaseScreen();
  }
}

function setPhase(phase) {
  route.phase = phase;
  store.save(route);
}

// --- stopping: absences and the outbox -------------------------------------------------------------

function absencesStep() {
  show("absences");
  app.dataset.phase = route.phase;
  const list = $("[data-route-absent-list]");
  list.replaceChildren();
  const missing = route.campaign.species.filter((s) => !route.present.includes(s.id));
  for (const species of missing) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = String(species.id);
    box.dataset.absentSpecies = String(species.id);
    const name = document.createElement("span");
    name.textContent = ` ${species.name_zh} `;
    const sci = document.createElement("em");
    sci.textContent = species.name_sci;
    label.append(box, name, sci);
    li.append(label);
    list.append(li);
  }
  if (missing.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = words.none_left;
    list.append(li);
  }
}

async function stopRoute() {
  unwatch();
  releaseScreen();
  route.endedAt = Math.max(Date.now(), points.length ? Date.parse(points[points.length - 1].t) : 0);
  setPhase(store.PHASES.STOPPED);
  absencesStep();
}

async function finish() {
  const errors = $("[data-route-errors]");
  errors.hidden = true;
  const all = await store.points(route.id);
  if (all.length < 2) {
    errors.textContent = words.too_few;
    errors.hidden = false;
    return;
  }
  const ended = new Date(route.endedAt).toISOString();
  const lengthM = store.lengthM(all, limitM);
  const effort = store.effortText(lengthM, (route.endedAt - route.startedAt) / 1000, words);
  const body = {
    client_uuid: route.id,
    campaign_id: route.campaign.id,
    started_at: new Date(route.startedAt).toISOString(),
    ended_at: ended,
    points: all,
  };
  if (route.unit) body.unit_id = route.unit.id;
  const title = `${words.route_label} · ${route.campaign.name}${route.unit ? ` · ${route.unit.name}` : ""}`;
  await outbox.add({
    id: route.id,
    userId: route.userId,
    kind: "route",
    url: "/api/v1/routes",
    body,
    photoUrl: null,
    label: `${title} · ${effort}`,
  });
  // Each absence is a record of its own (its own client_uuid, idempotent), at the point half way along
  // the route, linked to the route by its UUID: it goes through the outbox like any record, so it
  // survives offline exactly as the route does (docs/surveys.md).
  const at = store.midpoint(all, limitM);
  const ticked = [...app.querySelectorAll("[data-absent-species]:checked")].map((box) => Number(box.value));
  for (const speciesId of ticked) {
    const species = route.campaign.species.find((s) => s.id === speciesId);
    const record = {
      client_uuid: outbox.newId(),
      species_id: speciesId,
      detected: false,
      observed_at: ended,
      latitude: at.lat,
      longitude: at.lon,
      position_source: "gps",
      campaign_id: route.campaign.id,
      route_uuid: route.id,
      notes: say(words.absence_note, { effort }),
    };
    if (at.accuracy_m !== null && at.accuracy_m !== undefined) record.accuracy_m = at.accuracy_m;
    await outbox.add({
      id: record.client_uuid,
      userId: route.userId,
      kind: "observation",
      url: "/api/v1/observations",
      body: record,
      photoUrl: "/api/v1/observations/{id}/photos",
      formUrl: "/observations/new",
      label: `${species ? species.name_zh : speciesId} · ${words.absence_label} · ${title}`,
    });
  }
  await store.dropPoints(route.id);
  store.clear();
  route = null;
  show("done");
  const done = $("[data-route-done]");
  done.textContent = say(words.saved, { n: ticked.length });
  app.dataset.phase = "saved";
  syncNow();
}

async function discard() {
  if (!window.confirm(words.discard_confirm)) return;
  unwatch();
  releaseScreen();
  await store.dropPoints(route.id);
  store.clear();
  route = null;
  show("setup");
  app.dataset.phase = "";
}

// --- starting the page -----------------------------------------------------------------------------

async function start() {
  const campaignSelect = $("[data-route-campaign]");
  if (campaignSelect) {
    // Opened from a campaign's page (?campaign=<id>): that campaign is chosen.
    const asked = new URLSearchParams(window.location.search).get("campaign");
    if (asked && campaign(asked)) campaignSelect.value = asked;
    campaignSelect.addEventListener("change", fillUnits);
    fillUnits();
    $("[data-route-start]").addEventListener("click", startRoute);
  }
  $("[data-route-pause]").addEventListener("click", () => {
    setPhase(store.PHASES.PAUSED);
    walking();
  });
  $("[data-route-resume]").addEventListener("click", () => {
    setPhase(store.PHASES.RUNNING);
    walking();
  });
  $("[data-route-stop]").addEventListener("click", stopRoute);
  $("[data-route-finish]").addEventListener("click", finish);
  $("[data-route-discard]").addEventListener("click", discard);
  // The screen lock is released when the page is hidden; taken again when it comes back.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && route && route.phase === store.PHASES.RUNNING) keepScreenOn();
  });
  // A route walked before a reload or a closed tab carries on where it was.
  route = store.active(config.user_id);
  if (route) {
    points = await store.points(route.id);
    if (route.phase === store.PHASES.STOPPED) absencesStep();
    else walking();
  } else {
    show("setup");
  }
  app.dataset.ready = "1";
}

start();
