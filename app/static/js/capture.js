// The record form (new observation, follow-up completion): species picker, live GPS, photos, and saving
// to the outbox first, so a record made with no signal is never lost.
import * as outbox from "./outbox.js";
import { syncNow } from "./app.js";
import { fieldData, groupByCensusCategory, isZh, searchSpecies, t } from "./fielddata.js";
import { PositionWatcher, positionMap } from "./position.js";
import { PhotoList, SQUARE_METRES_PER_MU, isoFromInput, localInputValue, showErrors, showResult } from "./forms.js";
const REMEMBERED = ["township_code", "habitat", "place_name"];

const form = document.querySelector("[data-record-form]");
const field = (name) => form.elements.namedItem(name);
let data = null;
let photos = null; // PhotoList

// --- reference data ------------------------------------------------------------------------------

function fillSelects() {
  const townships = form.querySelector("[data-townships]");
  const fixed = townships.value;
  for (const tw of data.townships) {
    if (tw.code === fixed) continue;
    townships.append(new Option(tw.name_zh, tw.code));
  }
  const habitats = form.querySelector("[data-habitats]");
  const groups = new Map();
  for (const h of data.habitats) {
    const label = isZh() ? h.name_zh : h.name_en;
    if (h.level === 1) {
      const group = document.createElement("optgroup");
      group.label = label;
      group.append(new Option(label, h.code));
      groups.set(h.code, group);
      habitats.append(group);
    } else {
      (groups.get(h.parent) || habitats).append(new Option(label, h.code));
    }
  }
  for (const name of REMEMBERED) {
    const saved = localStorage.getItem(`ias:last:${name}`);
    if (saved && !field(name).value) field(name).value = saved;
  }
}

// --- species ---------------------------------------------------------------------------------------

function speciesById(id) {
  return data.species.find((s) => s.id === Number(id)) || null;
}

function showMetrics(species) {
  const metrics = new Set(species ? species.metrics : []);
  for (const label of form.querySelectorAll("[data-metric]")) {
    label.hidden = !metrics.has(label.dataset.metric);
    if (label.hidden) label.querySelector("input").value = "";
  }
  const hint = form.querySelector("[data-metrics-hint]");
  if (hint) hint.hidden = Boolean(species);
}

function chooseSpecies(species) {
  field("species_id").value = species ? String(species.id) : "";
  const chosen = form.querySelector("[data-species-chosen]");
  const search = form.querySelector("[data-species-search]");
  const results = form.querySelector("[data-species-results]");
  if (chosen) {
    chosen.hidden = !species;
    chosen.replaceChildren();
    if (species) {
      const name = document.createElement("strong");
      name.textContent = species.name_zh;
      const sci = document.createElement("em");
      sci.textContent = ` ${species.name_sci} `;
      const change = document.createElement("button");
      change.type = "button";
      change.className = "link";
      change.textContent = "✎";
      change.setAttribute("aria-label", "change");
      change.addEventListener("click", () => {
        chooseSpecies(null);
        search.focus();
      });
      chosen.append(name, sci, change);
    }
    search.closest("label").hidden = Boolean(species);
    results.hidden = Boolean(species);
  }
  showMetrics(species);
}

function renderSpeciesResults(query) {
  const results = form.querySelector("[data-species-results]");
  results.replaceChildren();
  if (!query.trim()) return;
  const found = searchSpecies(data.species, query);
  if (found.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t("no_species");
    results.append(li);
    return;
  }
  const groups = groupByCensusCategory(found, data.user.organization);
  for (const { code, species: members } of groups) {
    if (groups.length > 1) {
      const heading = document.createElement("li");
      heading.className = "group";
      heading.dataset.speciesGroup = code;
      heading.textContent = (data.census_categories || {})[code] || "—";
      results.append(heading);
    }
    for (const species of members) renderSpeciesOption(results, species);
  }
}

function renderSpeciesOption(results, species) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "item link wide";
  button.dataset.speciesOption = String(species.id);
  const title = document.createElement("div");
  title.className = "title";
  title.textContent = species.name_zh;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = [species.name_sci, ...species.aliases].join(" · ");
  button.append(title, meta);
  button.addEventListener("click", () => chooseSpecies(species));
  li.append(button);
  results.append(li);
}

// --- position --------------------------------------------------------------------------------------

let watcher = null;
let mini = null;

function startPosition() {
  watcher = new PositionWatcher({
    limitM: data.gps_accuracy_limit_m,
    onChange: (w) => {
      const status = form.querySelector("[data-gps-status]");
      status.textContent = w.describe();
      status.className = w.status === "good" || w.status === "map" ? "" : "warning";
      form.dataset.gps = w.status;
      const coords = form.querySelector("[data-gps-coords]");
      coords.textContent = w.fix ? `${w.fix.latitude.toFixed(6)}, ${w.fix.longitude.toFixed(6)}` : "";
      form.querySelector("[data-gps-restart]").hidden = w.status !== "map";
      if (mini) mini.show(w.fix);
    },
  });
  mini = positionMap(form.querySelector("[data-position-map]"), watcher, data.district && data.district.bounds);
  form.querySelector("[data-gps-restart]").addEventListener("click", () => watcher.start());
  watcher.start();
}

// --- saving ----------------------------------------------------------------------------------------

function number(name) {
  const el = field(name);
  if (!el || el.closest("[hidden]") || el.value === "") return undefined;
  return Number(el.value);
}

function buildRecord() {
  const detected = form.querySelector('input[name="detected"]:checked').value === "true";
  const fix = watcher.fix;
  const record = {
    client_uuid: outbox.newId(),
    species_id: Number(field("species_id").value),
    detected,
    observed_at: isoFromInput(field("observed_at").value),
    latitude: fix.latitude,
    longitude: fix.longitude,
    accuracy_m: fix.accuracy_m,
    altitude_m: fix.altitude_m,
    position_source: fix.source,
    township_code: field("township_code").value || undefined,
    place_name: field("place_name").value.trim() || undefined,
    habitat: field("habitat").value || undefined,
    notes: field("notes").value.trim() || undefined,
  };
  const area = number("area_mu");
  if (area !== undefined) record.area_m2 = Math.round(area * SQUARE_METRES_PER_MU * 100) / 100;
  if (detected) {
    for (const name of ["cover_pct", "density_per_m2", "egg_masses_per_m2", "count", "severity"]) {
      const value = number(name);
      if (value !== undefined) record[name] = value;
    }
  }
  for (const key of Object.keys(record)) {
    if (record[key] === undefined || record[key] === null) delete record[key];
  }
  return record;
}

function resetForNext() {
  for (const name of ["cover_pct", "density_per_m2", "egg_masses_per_m2", "count", "area_mu", "notes"]) {
    if (field(name)) field(name).value = "";
  }
  field("severity").value = "";
  field("observed_at").value = localInputValue(new Date());
  photos.clear();
  if (watcher.status === "map") watcher.start();
}

async function save(event) {
  event.preventDefault();
  showErrors(form, null, {});
  if (!field("species_id").value) return showErrors(form, t("choose_species"), { species_id: [t("choose_species")] });
  if (!watcher.fix) return showErrors(form, t("need_position"), { latitude: [t("need_position")] });
  const record = buildRecord();
  const kind = form.dataset.kind;
  const species = speciesById(record.species_id);
  const label = `${kind === "completion" ? t("completion") : t("observation")} · ${species ? species.name_zh : ""}` +
    ` · ${record.detected ? t("found") : t("not_found")}`;
  const item = {
    id: record.client_uuid,
    userId: data.user.id,
    kind,
    url: form.dataset.url,
    body: kind === "completion" ? { observation: record } : record,
    idFrom: kind === "completion" ? "observation_id" : null,
    photoUrl: "/api/v1/observations/{id}/photos",
    photos: photos.forOutbox(),
    label,
  };
  for (const name of REMEMBERED) localStorage.setItem(`ias:last:${name}`, field(name).value);
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    await outbox.add(item);
    const report = await syncNow();
    const after = await outbox.get(item.id);
    if (after === undefined) {
      const done = form.dataset.doneUrl;
      if (done) {
        window.location.assign(done);
        return;
      }
      const sent = report && report.results[item.id];
      showResult(form, t("saved_sent"), sent ? `/observations/${sent.id}` : null);
      lastSent.set(item.id, true);
      resetForNext();
    } else if (after.state === outbox.STATES.REJECTED) {
      await outbox.remove(item.id); // the form still holds everything: correct it and save again
      showErrors(form, `${t("rejected")} ${after.error.message}`, after.error.errors);
    } else {
      showResult(form, after.state === outbox.STATES.SIGN_IN ? t("saved_sign_in") : t("saved_pending"));
      if (!form.dataset.doneUrl) resetForNext();
    }
  } finally {
    submit.disabled = false;
  }
}

const lastSent = new Map();

window.addEventListener("ias:sent", (event) => {
  const item = event.detail.item;
  const result = form.querySelector("[data-form-result]");
  if (item && item.result && result && !result.hidden && !lastSent.has(item.id) && item.kind !== "completion") {
    showResult(form, t("saved_sent"), `/observations/${item.result.id}`);
    lastSent.set(item.id, true);
  }
});

async function start() {
  data = await fieldData();
  fillSelects();
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
    if (event.target.name === "detected") {
      form.querySelector("[data-presence-only]").hidden = event.target.value !== "true";
    }
  });
  photos = new PhotoList(form);
  form.addEventListener("submit", save);
  startPosition();
  form.dataset.ready = "1";
}

start();
