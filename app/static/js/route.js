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
  for (const name of ["setup", "walking", "absences", "refused", "done"]) {
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
    pauses: [], // [{start, end}] in ms; end null while paused
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

// data-watching says whether the page is following the phone's position: "yes" while the route runs,
// "no" once paused (no GPS watch, so a move then reaches nothing here and records nothing).
function watch() {
  if (recorder) return;
  $("[data-route-gps]").textContent = words.gps_waiting;
  recorder = new store.Recorder(route, points[points.length - 1], onPoint);
  recorder.onError = onGpsError;
  recorder.start();
  app.dataset.watching = "yes";
}

function unwatch() {
  if (recorder) recorder.stop();
  recorder = null;
  app.dataset.watching = "no";
}

function showFigures() {
  const end = route.endedAt || Date.now();
  const poor = points.filter((p) => p.accuracy_m !== null && p.accuracy_m > limitM).length;
  const effort = store.effortText(
    store.lengthM(points, limitM, route.pauses),
    store.movingSeconds(route, end),
    words,
  );
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
  store.notePhase(route, phase, Date.now());
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
  store.notePhase(route, store.PHASES.STOPPED, route.endedAt);
  store.save(route);
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
  const lengthM = store.lengthM(all, limitM, route.pauses);
  const effort = store.effortText(lengthM, store.movingSeconds(route, route.endedAt), words);
  const body = {
    client_uuid: route.id,
    campaign_id: route.campaign.id,
    started_at: new Date(route.startedAt).toISOString(),
    ended_at: ended,
    points: all,
    pauses: store.pausesToSend(route),
  };
  if (route.unit) body.unit_id = route.unit.id;
  const title = `${words.route_label} · ${route.campaign.name}${route.unit ? ` · ${route.unit.name}` : ""}`;
  // The route and its absences are stored together or not at all: should the phone refuse a write (its
  // storage full), what this attempt stored is taken back, the route stays as walked, and the surveyor
  // is told; Finish tapped again stores each once.
  const stored = [];
  let ticked;
  try {
    await outbox.add({
      id: route.id,
      userId: route.userId,
      kind: "route",
      url: "/api/v1/routes",
      body,
      photoUrl: null,
      formUrl: "/surveys/routes/new", // a refused route is shown there (?outbox=<id>): see refusedStep
      label: `${title} · ${effort}`,
    });
    stored.push(route.id);
    // Each absence is a record of its own (its own client_uuid, idempotent), at the point half way along
    // the route, linked to the route by its UUID: it goes through the outbox like any record, so it
    // survives offline exactly as the route does (docs/surveys.md).
    const at = store.midpoint(all, limitM, route.pauses);
    ticked = [...app.querySelectorAll("[data-absent-species]:checked")].map((box) => Number(box.value));
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
      stored.push(record.client_uuid);
    }
  } catch (error) {
    console.warn("route not stored in the outbox", error);
    for (const id of stored) await outbox.remove(id).catch(() => undefined);
    errors.textContent = words.not_stored;
    errors.hidden = false;
    return;
  }
  await store.dropPoints(route.id);
  store.clear(route.userId);
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
  store.clear(route.userId);
  route = null;
  show("setup");
  app.dataset.phase = "";
}

// --- a route the server refused ----------------------------------------------------------------------
// Nothing walked is lost: the route stays in the outbox (with every point) until the server accepts it or
// the surveyor deletes it. Here the refused points are listed with the server's reasons; the route can be
// sent again without them (the same client_uuid: nothing was stored, so it is no clash; the points left
// out are counted in `dropped_point_count`), or downloaded as GeoJSON first.

let refused = null; // the outbox item shown

function refusedPoints(item) {
  const byIndex = new Map();
  const other = [];
  for (const [key, messages] of Object.entries((item.error && item.error.errors) || {})) {
    const match = /^points\.(\d+)\.(\w+)$/.exec(key);
    if (match) {
      const index = Number(match[1]);
      if (!byIndex.has(index)) byIndex.set(index, []);
      byIndex.get(index).push(...messages);
    } else if (key === "points" && byIndex.size) {
      other.push({ key, messages, more: true });
    } else other.push({ key, messages, more: false });
  }
  return { byIndex, other };
}

function timeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString("zh-CN", { hour12: false });
}

function refusedStep(item) {
  refused = item;
  show("refused");
  app.dataset.phase = "refused";
  const { byIndex, other } = refusedPoints(item);
  $("[data-route-refused-title]").textContent = item.label || "";
  $("[data-route-refused-why]").textContent = (item.error && item.error.message) || "";
  const list = $("[data-route-refused-list]");
  list.replaceChildren();
  const sent = item.body.points;
  for (const [index, messages] of [...byIndex.entries()].sort((a, b) => a[0] - b[0])) {
    const point = sent[index] || {};
    const li = document.createElement("li");
    li.dataset.refusedPoint = String(index);
    li.textContent = say(words.refused_point, {
      n: index + 1,
      t: timeText(point.t),
      lat: Number(point.lat).toFixed(5),
      lon: Number(point.lon).toFixed(5),
      why: [...new Set(messages)].join(" "),
    });
    list.append(li);
  }
  for (const { key, messages, more } of other) {
    const li = document.createElement("li");
    li.dataset.refusedField = key;
    li.textContent = more ? messages.join(" ") : `${key}: ${messages.join(" ")}`;
    list.append(li);
  }
  // Leaving points out mends a route refused for its points only (and leaves at least two).
  const fixable = byIndex.size > 0 && other.every((o) => o.more) && sent.length - byIndex.size >= 2;
  const resend = $("[data-route-resend]");
  resend.hidden = !fixable;
  resend.textContent = say(words.resend, { n: byIndex.size });
  const note = $("[data-route-refused-note]");
  note.textContent = fixable ? words.resend_hint : words.not_fixable;
  if (item.state !== outbox.STATES.REJECTED) note.textContent = words.refused_waiting;
  if (item.state !== outbox.STATES.REJECTED) resend.hidden = true;
}

async function resendWithout() {
  const item = await outbox.get(refused.id);
  if (!item) return;
  const { byIndex } = refusedPoints(item);
  const kept = item.body.points.filter((_, i) => !byIndex.has(i));
  const body = {
    ...item.body,
    points: kept,
    dropped_point_count: (item.body.dropped_point_count || 0) + byIndex.size,
  };
  await outbox.replace({ ...item, body });
  refused = await outbox.get(item.id);
  refusedStep(refused);
  $("[data-route-refused-note]").textContent = say(words.resent, { n: byIndex.size });
  syncNow();
}

// The raw track as a GeoJSON FeatureCollection: the line through every point sent, with the times,
// accuracies and what the server said, and each refused point as a Point with its reasons.
function downloadTrack() {
  const item = refused;
  const sent = item.body.points;
  const { byIndex } = refusedPoints(item);
  const coordinates = sent.map((p) => [Number(p.lon), Number(p.lat)]);
  const collection = {
    type: "FeatureCollection",
    features: [
      {
        type: "Feature",
        geometry: { type: "LineString", coordinates },
        properties: {
          client_uuid: item.body.client_uuid,
          campaign_id: item.body.campaign_id,
          unit_id: item.body.unit_id ?? null,
          started_at: item.body.started_at,
          ended_at: item.body.ended_at,
          pauses: item.body.pauses || [],
          crs: item.body.crs || "wgs84",
          times: sent.map((p) => p.t),
          accuracies_m: sent.map((p) => p.accuracy_m ?? null),
          label: item.label,
          refused: item.error ? item.error.message : null,
        },
      },
      ...[...byIndex.entries()].map(([index, messages]) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: coordinates[index] },
        properties: { index, t: sent[index].t, accuracy_m: sent[index].accuracy_m ?? null, refused: messages },
      })),
    ],
  };
  const blob = new Blob([JSON.stringify(collection, null, 1)], { type: "application/geo+json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `route-${item.body.client_uuid}.geojson`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function deleteRefused() {
  if (!window.confirm(words.delete_confirm)) return;
  await outbox.remove(refused.id);
  refused = null;
  window.location.assign(window.location.pathname);
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
  $("[data-route-resend]").addEventListener("click", resendWithout);
  $("[data-route-download]").addEventListener("click", downloadTrack);
  $("[data-route-delete]").addEventListener("click", deleteRefused);
  outbox.onChange(async () => {
    if (!refused) return;
    const item = await outbox.get(refused.id);
    if (item) refusedStep(item);
    else {
      show("done");
      $("[data-route-done]").textContent = words.resent_accepted;
      app.dataset.phase = "accepted";
    }
  });
  // The screen lock is released when the page is hidden; taken again when it comes back.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && route && route.phase === store.PHASES.RUNNING) keepScreenOn();
  });
  // Opened from the outbox (?outbox=<id>): a route the server refused.
  const fromOutbox = new URLSearchParams(window.location.search).get("outbox");
  const item = fromOutbox ? await outbox.get(fromOutbox) : null;
  // A route walked before a reload or a closed tab carries on where it was.
  route = store.active(config.user_id);
  if (item && item.kind === "route") {
    refusedStep(item);
    if (route && route.phase === store.PHASES.RUNNING) {
      points = await store.points(route.id);
      watch(); // a route being walked keeps recording while the refused one is seen to
    }
  } else if (fromOutbox) {
    show("done");
    $("[data-route-done]").textContent = words.outbox_gone;
  } else if (route) {
    points = await store.points(route.id);
    if (route.phase === store.PHASES.STOPPED) absencesStep();
    else walking();
  } else {
    show("setup");
  }
  app.dataset.ready = "1";
}

start();
