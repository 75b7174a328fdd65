// The plot form (样地调查, docs/surveys.md): the plot's shape, size and habitat, then its quadrats added one by
// one, each with the species found and their figures; photos. Saved to the outbox first like every record,
// so a plot laid with no signal is sent when the network returns; the same client_uuid goes with every try.
import * as outbox from "./outbox.js";
import * as savedState from "./saved-state.js";
import { syncNow } from "./app.js";
import { fieldData, isZh } from "./fielddata.js";
import { PhotoList, isoFromInput, localInputValue, notStored, showErrors, showResult } from "./forms.js";

const form = document.querySelector("[data-plot-form]");
const field = (name) => form.elements.namedItem(name);
const messages = JSON.parse(document.getElementById("ias-plot-messages").textContent);
const say = (key) => messages[key] ?? key;
const SHAPES_WITH = { square: ["length"], rectangle: ["length", "width"], strip: ["length", "width"], circle: ["radius"] };

let data = null;
let photos = null;
let plotId = null;
let lastSaved = null;
let saving = false;
let reopened = null; // an outbox item the server refused, opened here to be fixed (?outbox=<id>)

function number(input) {
  return input.value === "" ? undefined : Number(input.value);
}

// --- the plot's size ---------------------------------------------------------------------------------

function showDimensions() {
  const wanted = SHAPES_WITH[field("shape").value] || [];
  for (const label of form.querySelectorAll("[data-dimension]")) {
    const shown = wanted.includes(label.dataset.dimension);
    label.hidden = !shown;
    if (!shown) label.querySelector("input").value = "";
  }
  showArea();
}

// The area as the server computes it (app/surveys/plots.py _area): side², length × width, or π r².
function plotArea() {
  const shape = field("shape").value;
  const length = number(field("length_m"));
  const width = number(field("width_m"));
  const radius = number(field("radius_m"));
  if (shape === "circle") return radius === undefined ? undefined : Math.PI * radius * radius;
  if (shape === "square") return length === undefined ? undefined : length * length;
  return length === undefined || width === undefined ? undefined : length * width;
}

function showArea() {
  const area = plotArea();
  const mu = area === undefined ? "" : ` (${(area / data.units.square_metres_per_mu).toFixed(2)} 亩)`;
  form.querySelector("[data-plot-area]").textContent = area === undefined ? "—" : `${Math.round(area * 100) / 100} m²${mu}`;
}

// --- quadrats and their species ------------------------------------------------------------------------

function speciesOptions(select, chosen) {
  select.replaceChildren(new Option("—", ""));
  const siteSpecies = Number(form.dataset.siteSpecies);
  const sorted = [...data.species].sort((a, b) => (b.id === siteSpecies) - (a.id === siteSpecies) || a.name_zh.localeCompare(b.name_zh, "zh"));
  for (const s of sorted) select.append(new Option(isZh() ? `${s.name_zh} ${s.name_sci}` : `${s.name_sci} ${s.name_zh}`, String(s.id)));
  if (chosen) select.value = String(chosen);
}

function renumber() {
  const quadrats = [...form.querySelectorAll("[data-quadrat]")];
  quadrats.forEach((q, i) => {
    for (const label of q.querySelectorAll(":scope > .grid > [data-part]")) label.dataset.field = `quadrats.${i}.${label.dataset.part}`;
    [...q.querySelectorAll("[data-record]")].forEach((r, j) => {
      for (const label of r.querySelectorAll("[data-part]")) label.dataset.field = `quadrats.${i}.records.${j}.${label.dataset.part}`;
    });
  });
  form.querySelector("[data-quadrat-count]").textContent = String(quadrats.length);
  form.querySelector("[data-add-quadrat]").disabled = quadrats.length >= Number(form.dataset.maxQuadrats);
}

function addRecord(quadrat, values = {}) {
  const list = quadrat.querySelector("[data-records]");
  if (list.children.length >= Number(form.dataset.maxSpecies)) return null;
  const record = document.querySelector("[data-record-template]").content.firstElementChild.cloneNode(true);
  // The first species of a quadrat is the site's own (the plot is laid where it was confirmed).
  speciesOptions(record.querySelector("[data-species]"), values.species_id ?? (list.children.length === 0 ? form.dataset.siteSpecies : null));
  for (const name of ["cover_pct", "density_per_m2", "height_cm", "count"]) {
    if (values[name] !== undefined && values[name] !== null) record.querySelector(`[name="${name}"]`).value = String(values[name]);
  }
  record.querySelector("[data-remove-record]").addEventListener("click", () => {
    record.remove();
    renumber();
  });
  list.append(record);
  renumber();
  return record;
}

function addQuadrat(values = null) {
  const list = form.querySelector("[data-quadrats]");
  const quadrat = document.querySelector("[data-quadrat-template]").content.firstElementChild.cloneNode(true);
  const numbers = [...list.querySelectorAll('[name="number"]')].map((i) => Number(i.value) || 0);
  quadrat.querySelector('[name="number"]').value = String(values ? values.number : Math.max(0, ...numbers) + 1);
  if (values) quadrat.querySelector('[name="size_m2"]').value = String(values.size_m2);
  quadrat.querySelector("[data-add-record]").addEventListener("click", () => {
    const record = addRecord(quadrat);
    if (record) record.querySelector("select").focus();
  });
  quadrat.querySelector("[data-remove-quadrat]").addEventListener("click", () => {
    quadrat.remove();
    renumber();
  });
  list.append(quadrat);
  if (values) for (const r of values.records || []) addRecord(quadrat, r);
  else addRecord(quadrat);
  renumber();
  return quadrat;
}

// --- saving ----------------------------------------------------------------------------------------

function buildPlot() {
  const body = {
    client_uuid: plotId,
    site_id: Number(form.dataset.siteId),
    surveyed_at: isoFromInput(field("surveyed_at").value),
    shape: field("shape").value,
    quadrats: [],
  };
  if (field("campaign_id") && field("campaign_id").value) body.campaign_id = Number(field("campaign_id").value);
  for (const name of ["length_m", "width_m", "radius_m"]) {
    const value = number(field(name));
    if (value !== undefined && !form.querySelector(`[data-field="${name}"]`).hidden) body[name] = value;
  }
  if (field("habitat").value) body.habitat = field("habitat").value;
  const notes = field("notes").value.trim();
  if (notes) body.notes = notes;
  for (const q of form.querySelectorAll("[data-quadrat]")) {
    const quadrat = { number: number(q.querySelector('[name="number"]')), size_m2: number(q.querySelector('[name="size_m2"]')), records: [] };
    for (const r of q.querySelectorAll("[data-record]")) {
      const record = { species_id: Number(r.querySelector("[data-species]").value) || null };
      for (const name of ["cover_pct", "density_per_m2", "height_cm", "count"]) {
        const value = number(r.querySelector(`[name="${name}"]`));
        if (value !== undefined) record[name] = value;
      }
      quadrat.records.push(record);
    }
    body.quadrats.push(quadrat);
  }
  return body;
}

// The server's message (app/surveys/schemas/plots.py, DENSITY_AGAINST_COUNT) with its figures filled in:
// %(density)g as Python writes it (six significant digits, no trailing zeros), %(count)d a whole number.
function densityAgainstCount(density, count) {
  const values = { density: String(Number(density.toPrecision(6))), count: String(count) };
  return say("density_against_count").replace(/%\((density|count)\)[gd]/g, (_match, name) => values[name]);
}

// The server's own rules (app/surveys/plots.py), checked on the phone so a plot saved offline is not refused
// later for something the form could see.
function checkPlot(body) {
  const errors = {};
  const add = (name, message) => (errors[name] = errors[name] || []).push(message);
  const area = plotArea();
  if (area === undefined || !(area > 0)) add(body.shape === "circle" ? "radius_m" : "length_m", say("need_dimensions"));
  if (!field("surveyed_at").value) add("surveyed_at", say("need_time"));
  if (body.quadrats.length === 0) add("quadrats", say("need_quadrat"));
  const numbers = new Set();
  let total = 0;
  body.quadrats.forEach((q, i) => {
    if (!(q.number >= 1) || !Number.isInteger(q.number)) add(`quadrats.${i}.number`, say("bad_number"));
    else if (numbers.has(q.number)) add(`quadrats.${i}.number`, say("duplicate_number"));
    numbers.add(q.number);
    if (!(q.size_m2 > 0)) add(`quadrats.${i}.size_m2`, say("bad_number"));
    else if (area !== undefined && q.size_m2 > area) add(`quadrats.${i}.size_m2`, say("too_large"));
    total += q.size_m2 || 0;
    const seen = new Set();
    q.records.forEach((r, j) => {
      const where = `quadrats.${i}.records.${j}`;
      if (!r.species_id) add(`${where}.species_id`, say("choose_species"));
      else if (seen.has(r.species_id)) add(`${where}.species_id`, say("duplicate_species"));
      seen.add(r.species_id);
      for (const name of ["cover_pct", "density_per_m2", "height_cm", "count"]) {
        if (r[name] === undefined) continue;
        if (!(r[name] >= 0) || (name === "count" && !Number.isInteger(r[name]))) add(`${where}.${name}`, say("bad_number"));
        else if (name === "cover_pct" && r[name] > 100) add(`${where}.${name}`, say("over_100"));
      }
      // A density of 0 with individuals counted, or a density with none counted (QuadratRecordArgs).
      const { density_per_m2: density, count } = r;
      if (density >= 0 && Number.isInteger(count) && count >= 0 && (density === 0) !== (count === 0)) {
        add(`${where}.density_per_m2`, densityAgainstCount(density, count));
      }
    });
  });
  if (area !== undefined && total > area + 1e-9 && !Object.keys(errors).some((k) => k.endsWith("size_m2"))) {
    add("quadrats", say("together_too_large"));
  }
  return errors;
}

function newPlot() {
  plotId = outbox.newId();
  photos.recordId = plotId;
}

function clearForm() {
  form.querySelector("[data-quadrats]").replaceChildren();
  for (const name of ["length_m", "width_m", "radius_m", "notes"]) field(name).value = "";
  field("surveyed_at").value = localInputValue(new Date());
  photos.clear();
  newPlot();
  addQuadrat();
  showArea();
}

async function save(event) {
  event.preventDefault();
  if (saving) return;
  saving = true;
  const submit = form.querySelector('button[type="submit"]');
  try {
    showErrors(form, null, {});
    if (!(await photos.readyFor(plotId, submit))) return;
    const body = buildPlot();
    const errors = checkPlot(body);
    if (Object.keys(errors).length) return showErrors(form, say("check_fix"), errors);
    const item = {
      id: body.client_uuid,
      userId: data.user.id,
      kind: "plot",
      url: "/api/v1/plots",
      body,
      idFrom: null,
      photoUrl: "/api/v1/plots/{id}/photos",
      photos: photos.forOutbox(plotId),
      formUrl: window.location.pathname,
      label: `${say("plot")} · ${body.quadrats.length} × ${isZh() ? "样方" : "quadrats"}`,
    };
    try {
      if (reopened) await outbox.replace({ ...reopened, ...item, createdAt: reopened.createdAt });
      else await outbox.add(item);
    } catch (error) {
      return notStored(form, error);
    }
    reopened = null;
    lastSaved = item.id;
    showResult(form, say("saved_local"));
    form.querySelector("[data-form-result]").dataset.state = "pending";
    clearForm();
    syncNow();
  } finally {
    submit.disabled = false;
    saving = false;
  }
}

// The form has moved on to the next plot: a refused one opens again, filled, to be fixed (its link).
const showSavedState = () =>
  savedState.showSavedState(form, lastSaved, {
    photoLink: (item) => (item.result && item.result.id ? `/plots/${item.result.id}` : null),
  });

savedState.onSent(form, () => lastSaved, (item) => {
  showResult(form, say("saved_sent"));
  if (item.result && item.result.id) {
    const a = document.createElement("a");
    a.href = `/plots/${item.result.id}`;
    a.textContent = ` ${say("view_plot")}`;
    a.dataset.plotLink = "";
    form.querySelector("[data-form-result]").append(a);
  }
});

// Opened from the outbox to fix a plot the server refused: the same client_uuid, the form filled again.
async function reopen(id) {
  const item = await outbox.get(id);
  if (!item || item.kind !== "plot" || item.userId !== data.user.id) return;
  const body = item.body;
  field("surveyed_at").value = localInputValue(new Date(body.surveyed_at));
  field("shape").value = body.shape;
  showDimensions();
  for (const name of ["length_m", "width_m", "radius_m", "habitat", "notes", "campaign_id"]) {
    if (body[name] !== undefined && field(name)) field(name).value = String(body[name]);
  }
  form.querySelector("[data-quadrats]").replaceChildren();
  for (const quadrat of body.quadrats) addQuadrat(quadrat);
  showArea();
  reopened = item;
  plotId = item.id;
  photos.recordId = plotId;
  photos.restore(item.photos, plotId);
  if (item.error) showErrors(form, item.error.message, item.error.errors);
}

async function start() {
  data = await fieldData();
  const habitats = form.querySelector("[data-habitats]");
  for (const h of data.habitats) habitats.append(new Option(isZh() ? h.name_zh : h.name_en, h.code));
  field("surveyed_at").value = localInputValue(new Date());
  photos = new PhotoList(form);
  newPlot();
  field("shape").addEventListener("change", showDimensions);
  for (const name of ["length_m", "width_m", "radius_m"]) field(name).addEventListener("input", showArea);
  form.querySelector("[data-add-quadrat]").addEventListener("click", () => {
    const quadrat = addQuadrat();
    quadrat.scrollIntoView({ block: "center" });
  });
  form.addEventListener("submit", save);
  outbox.onChange(showSavedState);
  showDimensions();
  addQuadrat();
  const fromOutbox = new URLSearchParams(window.location.search).get("outbox");
  if (fromOutbox) await reopen(fromOutbox);
  form.dataset.ready = "1";
}

start();
