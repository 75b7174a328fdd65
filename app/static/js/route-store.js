// The route being walked, kept on the phone so that a reload, a closed tab or a dead battery loses nothing
// (docs/surveys.md, Routes). What the route is (its client_uuid, campaign, unit, start, pauses) sits in
// localStorage, which the record form reads at once; its GPS points go one by one into an IndexedDB
// database of their own ("ias-routes"), so recording a fix never rewrites the ones before it.

import * as idb from "./idb.js";

// One kept route a walker ("ias:route:active:<user id>"): on a shared phone the next person's walk never
// replaces the one the last person left (docs/architecture.md, "Signing out on a shared phone").
export const ACTIVE_PREFIX = "ias:route:active:";
const LEGACY = "ias:route:active"; // one key for everyone, before: moved to its walker's on first read
const DB_NAME = "ias-routes";
const STORE = "points";

export const PHASES = { RUNNING: "running", PAUSED: "paused", STOPPED: "stopped" };

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function moveLegacy() {
  const route = read(LEGACY);
  if (route && route.userId !== undefined && localStorage.getItem(ACTIVE_PREFIX + route.userId) === null) {
    localStorage.setItem(ACTIVE_PREFIX + route.userId, JSON.stringify(route));
  }
  localStorage.removeItem(LEGACY);
}

// The route of this user now walked (running or paused) or stopped and waiting for its absences; null.
export function active(userId) {
  if (localStorage.getItem(LEGACY) !== null) moveLegacy();
  if (userId === undefined || userId === null) return null;
  const route = read(ACTIVE_PREFIX + userId);
  return route && route.userId === userId ? route : null;
}

export function save(route) {
  localStorage.setItem(ACTIVE_PREFIX + route.userId, JSON.stringify(route));
}

export function clear(userId) {
  localStorage.removeItem(ACTIVE_PREFIX + userId);
}

// Whether any walker's route is kept on this phone (its points must stay).
export function anyKept() {
  return Object.keys(localStorage).some((key) => key === LEGACY || key.startsWith(ACTIVE_PREFIX));
}

// A record saved along the route: a species found is not offered as an absence when the route stops.
export function notePresent(userId, speciesId) {
  const route = active(userId);
  if (!route || route.present.includes(speciesId)) return;
  route.present.push(speciesId);
  save(route);
}

const openDb = idb.opener(DB_NAME, 1, (db) => {
  const store = db.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
  store.createIndex("route", "route");
});

const withStore = (mode, work) => idb.inTransaction(openDb, STORE, mode, work);

export async function addPoint(routeId, point) {
  await withStore("readwrite", (store) => store.add({ route: routeId, ...point }));
}

// The route's points in the order they were recorded: {t, lat, lon, accuracy_m}.
export async function points(routeId) {
  const rows = await withStore("readonly", (store) => store.index("route").getAll(routeId));
  rows.sort((a, b) => a.seq - b.seq);
  return rows.map(({ t, lat, lon, accuracy_m }) => ({ t, lat, lon, accuracy_m }));
}

export async function dropPoints(routeId) {
  const keys = await withStore("readonly", (store) => store.index("route").getAllKeys(routeId));
  await withStore("readwrite", (store) => {
    for (const key of keys) store.delete(key);
    return null;
  });
}

// --- measuring (the server measures again, geodesically; these are for the screen) ----------------

export function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.sqrt(h));
}

// The fixes the line is drawn through: those no worse than the limit (all of them when fewer than two are).
export function goodPoints(all, limitM) {
  const good = all.filter((p) => p.accuracy_m === null || p.accuracy_m === undefined || p.accuracy_m <= limitM);
  return good.length >= 2 ? good : all;
}

// --- pauses (docs/surveys.md, Routes: the moving time is the survey effort) ---------------------------

// The route's phase changed at `at` (ms): a pause opens when it is paused, closes when it runs again or
// stops. Routes begun before pauses were recorded have none.
export function notePhase(route, phase, at) {
  route.pauses = route.pauses || [];
  const open = route.pauses.length && route.pauses[route.pauses.length - 1].end === null;
  if (phase === PHASES.PAUSED && !open) route.pauses.push({ start: at, end: null });
  if (phase !== PHASES.PAUSED && open) route.pauses[route.pauses.length - 1].end = Math.max(at, route.pauses[route.pauses.length - 1].start);
  route.phase = phase;
}

function closedPauses(route, end) {
  return (route.pauses || []).map((p) => ({ start: p.start, end: p.end === null ? Math.max(end, p.start) : p.end }));
}

// Seconds walked: from the start to `end` (ms) less the pauses.
export function movingSeconds(route, end) {
  const paused = closedPauses(route, end).reduce((sum, p) => sum + (Math.min(p.end, end) - p.start), 0);
  return Math.max(0, (end - route.startedAt - paused) / 1000);
}

// The pauses as the API takes them ([{started_at, ended_at}], ISO), inside the route's start and end.
export function pausesToSend(route) {
  const end = route.endedAt;
  return closedPauses(route, end).map((p) => ({
    started_at: new Date(Math.max(p.start, route.startedAt)).toISOString(),
    ended_at: new Date(Math.min(p.end, end)).toISOString(),
  }));
}

// True when a pause lies between two fixes: the straight line between them was not walked.
function acrossPause(a, b, pauses) {
  if (!pauses || !pauses.length) return false;
  const ta = Date.parse(a.t);
  const tb = Date.parse(b.t);
  return pauses.some((p) => p.start < tb && (p.end === null ? Infinity : p.end) > ta);
}

// The walked length: the line through the good fixes, without the segments across a pause.
export function lengthM(all, limitM, pauses = []) {
  const line = goodPoints(all, limitM);
  let total = 0;
  for (let i = 1; i < line.length; i += 1) {
    if (!acrossPause(line[i - 1], line[i], pauses)) total += metres(line[i - 1], line[i]);
  }
  return total;
}

// The point half way along the walked line: where a route's absences are placed (docs/surveys.md).
export function midpoint(all, limitM, pauses = []) {
  const line = goodPoints(all, limitM);
  const half = lengthM(all, limitM, pauses) / 2;
  let walked = 0;
  for (let i = 1; i < line.length; i += 1) {
    if (!acrossPause(line[i - 1], line[i], pauses)) walked += metres(line[i - 1], line[i]);
    if (walked >= half) return line[i];
  }
  return line[0];
}

// "2.3 km, 1 h 10 min" with the page's words for hours and minutes.
export function effortText(lengthMetres, seconds, words) {
  const minutes = Math.round(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const span = hours
    ? words.hours_minutes.replace("{h}", hours).replace("{m}", minutes % 60)
    : words.minutes.replace("{m}", minutes);
  const km = (lengthMetres / 1000).toFixed(1);
  return (words.effort || "{km} km, {span}").replace("{km}", km).replace("{span}", span);
}

// A fix closer than this to the last point is the surveyor standing still: not a new point, unless the
// last point is older than STILL_MS (the track keeps the time spent there).
const STILL_M = 1;
const STILL_MS = 60_000;

// Records the route's GPS fixes while it runs, on whichever page is open (the route page, or the record
// form opened from it): each new fix is stored at once. `last` is the last stored point (or null).
export class Recorder {
  constructor(route, last, onPoint) {
    this.route = route;
    this.last = last || null;
    this.onPoint = onPoint || (() => {});
    this.onError = () => {};
    this.watchId = null;
  }

  start() {
    if (this.watchId !== null || !("geolocation" in navigator)) return;
    this.watchId = navigator.geolocation.watchPosition(
      (position) => this.fix(position),
      (error) => this.onError(error),
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
    );
  }

  stop() {
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
  }

  async fix(position) {
    const route = active(this.route.userId);
    if (!route || route.id !== this.route.id || route.phase !== PHASES.RUNNING) return;
    // A fix older than the route (a cached one) or not newer than the last is not a new point; one taken
    // while paused and delivered after is where the walk resumed, at the resumption.
    const pauses = route.pauses || [];
    const resumed = pauses.length ? pauses[pauses.length - 1].end || 0 : 0;
    const at = Math.max(position.timestamp, route.startedAt, resumed);
    const { latitude, longitude, accuracy } = position.coords;
    const last = this.last;
    if (last && at <= Date.parse(last.t)) return;
    const still = last && metres(last, { lat: latitude, lon: longitude }) < STILL_M;
    if (still && at - Date.parse(last.t) < STILL_MS) return;
    const point = {
      t: new Date(at).toISOString(),
      lat: latitude,
      lon: longitude,
      accuracy_m: Number.isFinite(accuracy) ? Math.round(accuracy * 10) / 10 : null,
    };
    this.last = point;
    await addPoint(route.id, point);
    this.onPoint(point, position);
  }
}
