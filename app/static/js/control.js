// The control operation form: the method's own fields (from the cached catalogue), photos before and after,
// saved to the outbox first like every record.
import * as outbox from "./outbox.js";
import { syncNow } from "./app.js";
import { fieldData, isZh, t } from "./fielddata.js";
import { PhotoList, SQUARE_METRES_PER_MU, isoFromInput, localInputValue, showErrors, showResult } from "./forms.js";

const form = document.querySelector("[data-operation-form]");
const field = (name) => form.elements.namedItem(name);
let data = null;
let photos = null;

function siteChoice() {
  const select = form.querySelector("[data-site-select]");
  if (select) return select.selectedOptions[0] && select.value ? select.selectedOptions[0].dataset : null;
  return field("site_id").dataset;
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
    client_uuid: outbox.newId(),
    method: field("method").value,
    performed_at: isoFromInput(field("performed_at").value),
    details: {},
  };
  if (field("observation_id")) body.observation_id = Number(field("observation_id").value);
  else body.site_id = Number(field("site_id").value);
  const area = optionalNumber("area_mu");
  if (area !== undefined) body.area_m2 = Math.round(area * SQUARE_METRES_PER_MU * 100) / 100;
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

async function save(event) {
  event.preventDefault();
  showErrors(form, null, {});
  const site = siteChoice();
  if (!site) return showErrors(form, t("need_site"), { site_id: [t("need_site")] });
  if (!field("method").value) return showErrors(form, t("choose_method"), { method: [t("choose_method")] });
  if (!field("performed_at").value) return showErrors(form, t("date_missing"), { performed_at: [t("date_missing")] });
  const body = buildOperation();
  const method = data.methods.find((m) => m.code === body.method);
  const item = {
    id: body.client_uuid,
    userId: data.user.id,
    kind: "control",
    url: "/api/v1/control-operations",
    body,
    idFrom: null,
    photoUrl: "/api/v1/control-operations/{id}/photos",
    photos: photos.forOutbox(),
    label: `${t("control")} · ${method ? (isZh() ? method.name_zh : method.name_en) : body.method}`,
  };
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    await outbox.add(item);
    const report = await syncNow();
    const after = await outbox.get(item.id);
    if (after === undefined) {
      const sent = report && report.results[item.id];
      showResult(form, t("saved_sent"), sent && sent.site_id ? `/sites/${sent.site_id}` : null);
      photos.clear();
    } else if (after.state === outbox.STATES.REJECTED) {
      await outbox.remove(item.id);
      showErrors(form, `${t("rejected")} ${after.error.message}`, after.error.errors);
    } else {
      showResult(form, after.state === outbox.STATES.SIGN_IN ? t("saved_sign_in") : t("saved_pending"));
      photos.clear();
    }
  } finally {
    submit.disabled = false;
  }
}

async function start() {
  data = await fieldData();
  field("performed_at").value = localInputValue(new Date());
  photos = new PhotoList(form);
  renderMethods();
  const select = form.querySelector("[data-site-select]");
  if (select) select.addEventListener("change", renderMethods);
  field("method").addEventListener("change", renderMethodFields);
  form.addEventListener("submit", save);
  form.dataset.ready = "1";
}

start();
