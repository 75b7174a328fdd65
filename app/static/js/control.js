// The control operation form: the method's own fields (from the cached catalogue), photos before and after,
// saved to the outbox first like every record.
import * as outbox from "./outbox.js";
import * as savedState from "./saved-state.js";
import { syncNow } from "./app.js";
import { fieldData, isZh, t } from "./fielddata.js";
import {
  PhotoList,
  isoFromInput,
  localInputValue,
  notStored,
  refusedMessage,
  showErrors,
  showResult,
} from "./forms.js";
import { checkOperation, explainRefusal } from "./checks.js";
import { AreaTool } from "./drawkit.js";

const form = document.querySelector("[data-operation-form]");
const field = (name) => form.elements.namedItem(name);
let data = null;
let photos = null;
let outline = null; // AreaTool: the treated area's outline (drawkit.js)

function siteChoice() {
  const select = form.querySelector("[data-site-select]");
  if (select) return select.selectedOptions[0] && select.value ? select.selectedOptions[0].dataset : null;
  return field("site_id").dataset;
}

// A record made on this phone and still waiting in the outbox opens its site only when it reaches the server;
// it is offered as the site treated, so a site found offline can be treated offline. The operation waits in
// the outbox for that record and is sent with the record's id as its baseline.
const PENDING_PREFIX = "outbox:";

function pendingRecordChosen() {
  const select = form.querySelector("[data-site-select]");
  return select && select.value.startsWith(PENDING_PREFIX) ? select.value.slice(PENDING_PREFIX.length) : null;
}

async function offerWaitingRecords() {
  const select = form.querySelector("[data-site-select]");
  if (!select) return;
  const items = (await outbox.all()).filter(
    (i) => i.kind === "observation" && i.userId === data.user.id && i.body.detected !== false && i.state !== outbox.STATES.REJECTED,
  );
  if (items.length === 0) return;
  const group = document.createElement("optgroup");
  group.label = t("waiting_records");
  for (const item of items) {
    const species = data.species.find((s) => s.id === item.body.species_id);
    const when = outbox.itemTime(item).toLocaleString(document.documentElement.lang, { hour12: false });
    const name = species ? species.name_zh : "";
    const option = new Option([name, item.body.place_name, when].filter(Boolean).join(" · "), `${PENDING_PREFIX}${item.id}`);
    option.dataset.speciesGroup = species ? species.group : "";
    option.dataset.pendingRecord = item.id;
    group.append(option);
  }
  select.append(group);
}

function renderMethods() {
  const select = form.querySelector("[data-methods]");
  const current = select.value;
  const site = siteChoice();
  select.replaceChildren(new Option("—", ""));
  for (const m of data.methods) {
    if (site && !(m.applies_to.includes("*") || m.applies_to.includes(site.speciesGroup))) continue;
    select.append(new Option(isZh() ? m.name_zh : m.name_en, m.code));
  }
  select.value = [...select.options].some((o) => o.value === current) ? current : "";
  renderMethodFields();
}

function renderMethodFields() {
  const box = form.querySelector("[data-method-fields]");
  box.replaceChildren();
  const method = data.methods.find((m) => m.code === field("method").value);
  if (!method) return;
  for (const spec of method.fields) {
    const label = document.createElement("label");
    label.dataset.field = `details.${spec.name}`;
    const unit = spec.unit ? ` (${spec.unit})` : "";
    label.append(`${isZh() ? spec.label_zh : spec.label_en}${unit}${spec.required ? " *" : ""}`);
    const input = document.createElement("input");
    input.name = `details.${spec.name}`;
    input.dataset.type = spec.type;
    if (spec.type === "text") {
      input.type = "text";
      input.maxLength = 200;
    } else {
      input.type = "number";
      input.inputMode = spec.type === "integer" ? "numeric" : "decimal";
      input.step = spec.type === "integer" ? "1" : "any";
      if (spec.min !== null && spec.min !== undefined) input.min = String(spec.min);
      if (spec.max !== null && spec.max !== undefined) input.max = String(spec.max);
    }
    input.required = Boolean(spec.required);
    label.append(input);
    box.append(label);
  }
}

function optionalNumber(name) {
  const value = field(name).value;
  return value === "" ? undefined : Number(value);
}

function buildOperation() {
  const body = {
    client_uuid: operationId,
    method: field("method").value,
    performed_at: isoFromInput(field("performed_at").value),
    details: {},
  };
  const waiting = pendingRecordChosen();
  if (waiting) body.waiting_for = waiting; // taken out again before sending: see save()
  else if (field("observation_id")) body.observation_id = Number(field("observation_id").value);
  else body.site_id = Number(field("site_id").value);
  const area = optionalNumber("area_mu");
  if (area !== undefined) body.area_m2 = Math.round(area * data.units.square_metres_per_mu * 100) / 100;
  if (outline && outline.geometry) body.geometry = outline.geometry; // its area fills area_m2 when none is typed
  if (field("assignee_id") && field("assignee_id").value) body.assignee_id = Number(field("assignee_id").value);
  for (const name of ["labour_person_days", "cost_yuan"]) {
    const value = optionalNumber(name);
    if (value !== undefined) body[name] = value;
  }
  for (const name of ["team", "notes"]) {
    const value = field(name).value.trim();
    if (value) body[name] = value;
  }
  for (const input of form.querySelectorAll("[data-method-fields] input")) {
    if (input.value === "") continue;
    const key = input.name.slice("details.".length);
    body.details[key] = input.dataset.type === "text" ? input.value.trim() : Number(input.value);
  }
  return body;
}

// The operation being filled in has its client_uuid from the moment the form opens: a second tap on Save,
// or a retry, sends the same operation and the server keeps one (with one set of follow-ups).
let operationId = null;
let reopened = null;
let saving = false;
let edited = true; // false from a save until the next change in the form
let lastSaved = null;

function newOperation() {
  operationId = outbox.newId();
  photos.recordId = operationId;
}

function clearForm() {
  for (const name of ["area_mu", "labour_person_days", "cost_yuan", "notes"]) field(name).value = "";
  for (const input of form.querySelectorAll("[data-method-fields] input")) input.value = "";
  field("performed_at").value = localInputValue(new Date());
  photos.clear();
  outline?.clear();
  if (reopened) {
    reopened = null;
    history.replaceState(null, "", window.location.pathname);
  }
  newOperation();
}

async function save(event) {
  event.preventDefault();
  // A second tap while the first is being stored, or on a form not touched since it was saved: nothing new.
  if (saving || !edited) return;
  saving = true;
  const submit = form.querySelector('button[type="submit"]');
  try {
    showErrors(form, null, {});
    const site = siteChoice();
    if (!site) return showErrors(form, t("need_site"), { site_id: [t("need_site")] });
    if (!field("method").value) return showErrors(form, t("choose_method"), { method: [t("choose_method")] });
    if (!field("performed_at").value) return showErrors(form, t("date_missing"), { performed_at: [t("date_missing")] });
    if (!(await photos.readyFor(operationId, submit))) return;
    const body = buildOperation();
    const dependsOn = body.waiting_for || null;
    delete body.waiting_for;
    const method = data.methods.find((m) => m.code === body.method);
    const errors = checkOperation(body, method, data.limits.control_operation, data);
    if (Object.keys(errors).length) return showErrors(form, t("check_fix"), errors);
    const item = {
      id: body.client_uuid,
      userId: data.user.id,
      kind: "control",
      url: "/api/v1/control-operations",
      body,
      idFrom: null,
      photoUrl: "/api/v1/control-operations/{id}/photos",
      photos: photos.forOutbox(operationId),
      formUrl: window.location.pathname,
      dependsOn,
      label: `${t("control")} · ${method ? (isZh() ? method.name_zh : method.name_en) : body.method}`,
    };
    try {
      if (reopened) await outbox.replace({ ...reopened, ...item, createdAt: reopened.createdAt });
      else await outbox.add(item);
    } catch (error) {
      return notStored(form, error);
    }
    lastSaved = item.id;
    showResult(form, t("saved_local"));
    form.querySelector("[data-form-result]").dataset.state = "pending";
    clearForm();
    edited = false;
    syncNow();
  } finally {
    submit.disabled = false;
    saving = false;
  }
}

const showSavedState = () => savedState.showSavedState(form, lastSaved);

savedState.onSent(form, () => lastSaved, (item) => {
  showResult(form, t("saved_sent"), item.result && item.result.site_id ? `/sites/${item.result.site_id}` : null);
});

// Opened from the outbox (?outbox=<id>) to fix an operation the server refused.
async function reopen(id) {
  const item = await outbox.get(id);
  if (!item || item.kind !== "control" || item.userId !== data.user.id) return;
  const body = item.body;
  const select = form.querySelector("[data-site-select]");
  if (select && (body.site_id || item.dependsOn)) {
    select.value = item.dependsOn ? `${PENDING_PREFIX}${item.dependsOn}` : String(body.site_id);
    renderMethods();
  }
  field("method").value = body.method;
  renderMethodFields();
  for (const [key, value] of Object.entries(body.details || {})) {
    const input = form.elements.namedItem(`details.${key}`);
    if (input) input.value = String(value);
  }
  field("performed_at").value = localInputValue(new Date(body.performed_at));
  if (body.area_m2 !== undefined) field("area_mu").value = String(Math.round((body.area_m2 / data.units.square_metres_per_mu) * 100) / 100);
  for (const name of ["labour_person_days", "cost_yuan", "team", "notes"]) {
    if (body[name] !== undefined) field(name).value = String(body[name]);
  }
  outline?.set(body.geometry);
  reopened = item;
  operationId = item.id;
  photos.recordId = operationId;
  photos.restore(item.photos, operationId);
  if (item.error) showErrors(form, refusedMessage(item.error), explainRefusal(item, data));
}

async function start() {
  data = await fieldData();
  field("performed_at").value = localInputValue(new Date());
  photos = new PhotoList(form);
  newOperation();
  const box = form.querySelector("[data-area-tool]");
  if (box) {
    outline = new AreaTool(box, {
      squareMetresPerMu: data.units.square_metres_per_mu,
      limitM: data.gps_accuracy_limit_m,
      where: () => null,
      bounds: data.district && data.district.bounds,
      onChange: () => {
        edited = true;
      },
    });
  }
  await offerWaitingRecords();
  renderMethods();
  const select = form.querySelector("[data-site-select]");
  if (select) select.addEventListener("change", renderMethods);
  field("method").addEventListener("change", renderMethodFields);
  form.addEventListener("submit", save);
  for (const type of ["input", "change"]) form.addEventListener(type, () => { edited = true; });
  outbox.onChange(showSavedState);
  const fromOutbox = new URLSearchParams(window.location.search).get("outbox");
  if (fromOutbox) await reopen(fromOutbox);
  form.dataset.ready = "1";
}

start();
