// The record form (new observation, follow-up completion, edit): live GPS, the area outline, photos, and
// saving to the outbox first, so a record made with no signal is never lost. Its pickers (places, species)
// are record-pickers.js.
import * as outbox from "./outbox.js";
import * as savedState from "./saved-state.js";
import { syncNow } from "./app.js";
import { fieldData, t } from "./fielddata.js";
import { PositionWatcher, parseCoordinates, positionMap } from "./position.js";
import {
  PhotoList,
  isoFromInput,
  localInputValue,
  notStored,
  refusedMessage,
  showErrors,
  showResult,
} from "./forms.js";
import { checkObservation, explainRefusal } from "./checks.js";
import { AreaTool } from "./drawkit.js";
import { loadLeaflet } from "./mapkit.js";
import * as routeForm from "./route-form.js";
import {
  REMEMBERED,
  chooseSpecies,
  fillVillages,
  townshipChanged,
  initPickers,
  orderTownships,
  rememberPlace,
  renderSpeciesResults,
  showMetrics,
  speciesById,
} from "./record-pickers.js";

const form = document.querySelector("[data-record-form]");
const field = (name) => form.elements.namedItem(name);
let data = null;
let photos = null; // PhotoList
let area = null; // AreaTool: the outline drawn or walked (drawkit.js)

// --- position --------------------------------------------------------------------------------------

let watcher = null;
let mini = null;

function startPosition() {
  watcher = new PositionWatcher({
    limitM: data.gps_accuracy_limit_m,
    onChange: (w) => {
      const status = form.querySelector("[data-gps-status]");
      status.textContent = w.describe();
      status.className = ["good", "map", "typed", "kept"].includes(w.status) ? "" : "warning";
      form.dataset.gps = w.status;
      const coords = form.querySelector("[data-gps-coords]");
      coords.textContent = w.fix ? `${w.fix.latitude.toFixed(6)}, ${w.fix.longitude.toFixed(6)}` : "";
      form.querySelector("[data-gps-restart]").hidden = !["map", "typed", "kept"].includes(w.status);
      if (w.status === "denied" || w.status === "unavailable") form.querySelector("[data-typed-position]").open = true;
      if (mini) mini.show(w.fix);
      orderTownships(w.fix);
    },
  });
  // The small map comes when Leaflet has loaded, after the form works (mapkit.js): a slow phone can record
  // meanwhile. Without Leaflet (not kept offline yet) the form works without the map.
  const mapBox = form.querySelector("[data-position-map]");
  if (mapBox) {
    loadLeaflet(mapBox).then(() => {
      mini = positionMap(mapBox, watcher, data.district && data.district.bounds);
      if (mini && watcher.fix) mini.show(watcher.fix);
      mapBox.dataset.mapReady = "1";
    }, () => { mapBox.dataset.mapReady = "none"; });
  }
  form.querySelector("[data-gps-restart]").addEventListener("click", () => watcher.start());
  form.querySelector("[data-use-typed]").addEventListener("click", () => {
    const input = form.querySelector("[data-typed-coordinates]");
    const point = parseCoordinates(input.value);
    if (!point) {
      showErrors(form, t("typed_bad"), { latitude: [t("typed_bad")] });
      return;
    }
    showErrors(form, null, {});
    watcher.setTyped(point[0], point[1]);
  });
  watcher.start();
}

// --- the area outline --------------------------------------------------------------------------------

function startArea() {
  const box = form.querySelector("[data-area-tool]");
  if (!box) return;
  area = new AreaTool(box, {
    squareMetresPerMu: data.units.square_metres_per_mu,
    limitM: data.gps_accuracy_limit_m,
    where: () => (watcher && watcher.fix ? [watcher.fix.latitude, watcher.fix.longitude] : null),
    bounds: data.district && data.district.bounds,
    onChange: () => {
      edited = true;
    },
  });
}

// --- saving ----------------------------------------------------------------------------------------

function number(name) {
  const el = field(name);
  if (!el || el.closest("[hidden]") || el.value === "") return undefined;
  return Number(el.value);
}

// The record being filled in has its client_uuid from the moment the form opens (or from the outbox item
// reopened to be fixed): its photos are tied to it when chosen, and a second tap on Save sends the same one.
let recordId = null;
let reopened = null; // the outbox item being fixed, when the form was opened from the outbox
let saving = false;
let edited = true; // false from a save until the next change in the form

function newRecord() {
  recordId = outbox.newId();
  photos.recordId = recordId;
}

function buildRecord() {
  const detected = form.querySelector('input[name="detected"]:checked').value === "true";
  const fix = watcher.fix;
  const record = {
    client_uuid: recordId,
    species_id: Number(field("species_id").value),
    detected,
    observed_at: isoFromInput(field("observed_at").value),
    latitude: fix.latitude,
    longitude: fix.longitude,
    accuracy_m: fix.accuracy_m,
    altitude_m: fix.altitude_m,
    position_source: fix.source,
    township_code: field("township_code").value || undefined,
    village_code: field("village_code")?.value || undefined,
    place_name: field("place_name").value.trim() || undefined,
    habitat: field("habitat").value || undefined,
    notes: field("notes").value.trim() || undefined,
    geometry: area && area.geometry ? area.geometry : undefined,
  };
  // The survey metrics from the field data's catalogue (app/metrics.py); an absence measures no amount.
  for (const metric of data.metrics) {
    if (metric.abundance && !detected) continue;
    const value = number(metric.input);
    if (value === undefined) continue;
    record[metric.field] = metric.scale === 1 ? value : Math.round(value * metric.scale * 100) / 100;
  }
  if (detected && number("severity") !== undefined) record.severity = number("severity");
  Object.assign(record, routeForm.fields(form.dataset.kind)); // a route being walked (route-form.js)
  for (const key of Object.keys(record)) {
    if (record[key] === undefined || record[key] === null || Number.isNaN(record[key])) delete record[key];
  }
  return record;
}

function resetForNext() {
  for (const name of [...data.metrics.map((metric) => metric.input), "notes"]) {
    if (field(name)) field(name).value = "";
  }
  field("severity").value = "";
  field("observed_at").value = localInputValue(new Date());
  photos.clear();
  area?.clear();
  routeForm.reset();
  if (["map", "typed", "kept"].includes(watcher.status)) {
    // A position set by hand belongs to the record just saved: the next one needs its own.
    watcher.fix = null;
    watcher.start();
  }
  if (reopened) {
    reopened = null;
    history.replaceState(null, "", window.location.pathname);
  }
  newRecord();
}

// What the form says about the record it saved last, kept up to date as the outbox sends it.
let lastSaved = null; // {id, kind}

function showSavedState() {
  return savedState.showSavedState(form, lastSaved && lastSaved.id, {
    photoLink: (item) => (item.result ? `/observations/${item.result.id}` : null),
  });
}

async function save(event) {
  event.preventDefault();
  // A second tap while the first is being stored, or on a form not touched since it was saved: nothing new.
  if (saving || !edited) return;
  saving = true;
  const submit = form.querySelector('button[type="submit"]');
  try {
    showErrors(form, null, {});
    if (!field("species_id").value) return showErrors(form, t("choose_species"), { species_id: [t("choose_species")] });
    if (!watcher.fix) return showErrors(form, t("need_position"), { latitude: [t("need_position")] });
    if (!(await photos.readyFor(recordId, submit))) return;
    const record = buildRecord();
    const species = speciesById(record.species_id);
    const errors = checkObservation(record, species, data.limits.observation, data.metrics, data);
    if (Object.keys(errors).length) return showErrors(form, t("check_fix"), errors);
    // The campaign's other targets recorded at the same point, one record each (route-form.js).
    const targets = routeForm.targetRecords(record);
    if (Object.keys(targets.errors).length) return showErrors(form, t("check_fix"), targets.errors);
    const kind = form.dataset.kind;
    const what = { completion: t("completion"), edit: t("edit") }[kind] || t("observation");
    const label = `${what} · ${species ? species.name_zh : ""} · ${record.detected ? t("found") : t("not_found")}`;
    const item = {
      id: record.client_uuid,
      userId: data.user.id,
      kind,
      url: form.dataset.url,
      body: kind === "completion" ? { observation: record } : record,
      idFrom: kind === "completion" ? "observation_id" : null,
      photoUrl: "/api/v1/observations/{id}/photos",
      photos: photos.forOutbox(recordId),
      formUrl: window.location.pathname,
      label,
    };
    if (kind === "edit") {
      // The record exists: its changes go as one PATCH, its new photos to it, under an outbox id of their own.
      Object.assign(item, {
        method: "PATCH",
        body: changes(record),
        record,
        baseline,
        serverId: Number(form.dataset.url.split("/").pop()),
      });
    }
    for (const name of REMEMBERED) localStorage.setItem(`ias:last:${name}`, field(name).value);
    rememberPlace(kind !== "edit" && kind !== "completion");
    try {
      if (reopened) await outbox.replace({ ...reopened, ...item, createdAt: reopened.createdAt });
      else await outbox.add(item);
      routeForm.noteSaved(record);
      for (const { record: extra, species: other } of targets.records) {
        const found = extra.detected ? t("found") : t("not_found");
        await outbox.add({ ...item, id: extra.client_uuid, body: extra, photos: [], label: `${what} · ${other.name_zh} · ${found}` });
        routeForm.noteSaved(extra);
      }
    } catch (error) {
      return notStored(form, error);
    }
    // On the phone now: say so at once; sending happens behind it.
    lastSaved = { id: item.id, kind };
    showResult(form, targets.records.length ? routeForm.savedText(targets.records.length) : t("saved_local"));
    form.querySelector("[data-form-result]").dataset.state = "pending";
    if (kind === "completion" || kind === "edit") {
      submit.hidden = true; // a follow-up is completed once; an edit is sent once
    } else {
      resetForNext();
    }
    edited = false;
    syncNow();
  } finally {
    submit.disabled = false;
    saving = false;
  }
}

window.addEventListener("ias:sent", (event) => {
  const item = event.detail.item;
  if (!item || !lastSaved || item.id !== lastSaved.id) return;
  const done = form.dataset.doneUrl;
  if (done) {
    window.location.assign(done);
    return;
  }
  form.querySelector("[data-form-result]").dataset.state = "sent";
  showResult(form, t("saved_sent"), item.result ? `/observations/${item.result.id}` : null);
});

// The form filled with a saved record (API field names); the position is kept as saved until GPS is asked for.
function fillFrom(record) {
  const species = speciesById(record.species_id);
  if (form.querySelector("[data-species-search]")) chooseSpecies(species);
  const detected = form.querySelector(`input[name="detected"][value="${record.detected === false ? "false" : "true"}"]`);
  detected.checked = true;
  form.querySelector("[data-presence-only]").hidden = record.detected === false;
  field("observed_at").value = localInputValue(new Date(record.observed_at));
  for (const name of ["township_code", "place_name", "habitat", "notes"]) field(name).value = record[name] ?? "";
  rememberPlace(false);
  fillVillages();
  if (field("village_code")) field("village_code").value = record.village_code ?? "";
  for (const metric of data.metrics) {
    const value = record[metric.field];
    if (!field(metric.input)) continue;
    if (value === undefined || value === null) field(metric.input).value = "";
    else field(metric.input).value = metric.scale === 1 ? value : String(Math.round((value / metric.scale) * 100) / 100);
  }
  field("severity").value = record.severity ?? "";
  area?.set(record.geometry);
  watcher.keep({
    latitude: record.latitude,
    longitude: record.longitude,
    accuracy_m: record.accuracy_m ?? null,
    altitude_m: record.altitude_m ?? null,
    source: record.position_source || "gps",
  });
}

// Opened from the outbox (?outbox=<id>) to fix a record the server refused: the form filled with what was
// saved, the server's reasons beside the fields, the same client_uuid and photos.
async function reopen(id) {
  const item = await outbox.get(id);
  if (!item || item.kind !== form.dataset.kind || item.userId !== data.user.id) return;
  reopened = item;
  recordId = item.id;
  photos.recordId = recordId;
  fillFrom(item.record || (item.kind === "completion" ? item.body.observation : item.body));
  if (item.kind === "edit") baseline = item.baseline;
  photos.restore(item.photos, recordId);
  if (item.error) showErrors(form, refusedMessage(item.error), explainRefusal(item, data));
}

// An edit sends only what changed (so an untouched area in 亩 or a severity worked out by the server is not
// overwritten); with nothing changed but photos, the notes go as they are, which sends the record back.
let baseline = null;

function changes(record) {
  const body = {};
  for (const key of new Set([...Object.keys(baseline), ...Object.keys(record)])) {
    if (key === "client_uuid") continue;
    if (JSON.stringify(record[key]) !== JSON.stringify(baseline[key])) body[key] = record[key] ?? null;
  }
  if (Object.keys(body).length === 0) body.notes = record.notes ?? null;
  return body;
}

function startEdit() {
  fillFrom(JSON.parse(document.getElementById("ias-record").textContent));
  baseline = buildRecord();
}

async function start() {
  data = await fieldData();
  initPickers(form, data);
  field("observed_at").value = localInputValue(new Date());
  const search = form.querySelector("[data-species-search]");
  if (search) {
    search.addEventListener("input", () => renderSpeciesResults(search.value));
    renderSpeciesResults("");
    chooseSpecies(null);
  } else {
    showMetrics(speciesById(field("species_id").value));
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "township_code") townshipChanged();
    if (event.target.name === "detected") {
      form.querySelector("[data-presence-only]").hidden = event.target.value !== "true";
    }
  });
  photos = new PhotoList(form);
  newRecord();
  form.addEventListener("submit", save);
  for (const type of ["input", "change"]) form.addEventListener(type, () => { edited = true; });
  startPosition();
  startArea();
  await routeForm.init(form, data);
  outbox.onChange(showSavedState);
  const fromOutbox = new URLSearchParams(window.location.search).get("outbox");
  if (fromOutbox) await reopen(fromOutbox);
  else if (form.dataset.kind === "edit") startEdit();
  form.dataset.ready = "1";
}

start();
