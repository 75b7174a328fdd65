// The record form's pickers (capture.js): the township, village and habitat lists, the townships ordered by
// where the phone is, and the species search with the figures the chosen species takes.
import { groupByCensusCategory, isZh, searchSpecies, t } from "./fielddata.js";

// Remembered from the last record saved on this phone (capture.js stores them when it saves).
export const REMEMBERED = ["township_code", "habitat", "place_name"];

let form = null;
let data = null; // the field data (fielddata.js)
const field = (name) => form.elements.namedItem(name);

// The pickers of `recordForm`, filled from the field data.
export function initPickers(recordForm, fieldData) {
  form = recordForm;
  data = fieldData;
  fillSelects();
}

// --- reference data ------------------------------------------------------------------------------

function fillSelects() {
  const townships = form.querySelector("[data-townships]");
  const fixed = townships.value;
  // Which hint is true here: without township boundaries the server can take a township only from a site nearby.
  const hint = data.township_from_position === false ? "sites" : "position";
  for (const span of form.querySelectorAll("[data-township-hint]")) span.hidden = span.dataset.townshipHint !== hint;
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
    if (saved && !field(name).value) {
      field(name).value = saved;
      if (name === "place_name") rememberedPlace = { place: saved, township: field("township_code").value };
    }
  }
  fillVillages();
}

// The place name the form was given from the last record, with that record's township (null: none given).
let rememberedPlace = null;

// The form now holds a record's own place (`false`: one reopened or being edited, kept whatever the township)
// or the one just saved, which the next record starts from (`true`).
export function rememberPlace(carriedOver) {
  const place = field("place_name").value;
  rememberedPlace = carriedOver && place ? { place, township: field("township_code").value } : null;
}

// Another township chosen: its villages; and a place name remembered from a record in another township (a
// field, a village group there) is not this one's, so it goes unless the surveyor has typed over it. The
// habitat stays: a paddy is a paddy in any township.
export function townshipChanged() {
  fillVillages();
  const place = field("place_name");
  if (!rememberedPlace || place.value !== rememberedPlace.place) return;
  if (field("township_code").value !== rememberedPlace.township) place.value = "";
}

// The chosen township's villages (村/社区) by their short names; the picker shows once a township has some.
export function fillVillages() {
  const select = form.querySelector("[data-villages]");
  if (!select) return;
  const chosen = select.value;
  select.length = 1;
  for (const v of data.villages || []) {
    if (v.township_code === field("township_code").value) select.append(new Option(v.short_name, v.code));
  }
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
  select.closest("label").hidden = select.length === 1;
}

// Nearest township first, from where the phone is (each township's point is where the district's sites in it
// are); the distance is shown. The choice, if any, is kept.
let orderedAt = null;

function kmBetween(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const x = (lon2 - lon1) * rad * Math.cos(((lat1 + lat2) / 2) * rad);
  const y = (lat2 - lat1) * rad;
  return Math.sqrt(x * x + y * y) * 6371;
}

export function orderTownships(fix) {
  if (!fix || (orderedAt && kmBetween(orderedAt.latitude, orderedAt.longitude, fix.latitude, fix.longitude) < 0.5)) return;
  orderedAt = fix;
  const select = form.querySelector("[data-townships]");
  const chosen = select.value;
  const byCode = new Map(data.townships.map((tw) => [tw.code, tw]));
  const options = [...select.options].slice(1);
  const distance = (option) => {
    const tw = byCode.get(option.value);
    return tw && tw.lat !== null ? kmBetween(fix.latitude, fix.longitude, tw.lat, tw.lon) : Infinity;
  };
  options.sort((a, b) => distance(a) - distance(b) || a.value.localeCompare(b.value));
  for (const option of options) {
    const tw = byCode.get(option.value);
    const km = distance(option);
    if (tw) option.textContent = km === Infinity ? tw.name_zh : `${tw.name_zh} · ${km.toFixed(1)} km`;
    select.append(option);
  }
  select.value = chosen;
}

// --- species ---------------------------------------------------------------------------------------

export function speciesById(id) {
  return data.species.find((s) => s.id === Number(id)) || null;
}

export function showMetrics(species) {
  const metrics = new Set(species ? species.metrics : []);
  for (const label of form.querySelectorAll("[data-metric]")) {
    label.hidden = !metrics.has(label.dataset.metric);
    if (label.hidden) label.querySelector("input").value = "";
  }
  const hint = form.querySelector("[data-metrics-hint]");
  if (hint) hint.hidden = Boolean(species);
}

export function chooseSpecies(species) {
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
      change.setAttribute("aria-label", t("change_species"));
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

export function renderSpeciesResults(query) {
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
