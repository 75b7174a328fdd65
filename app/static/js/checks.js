// The server's checks, made on the phone before a record is queued, so the outbox never holds a record the
// server will refuse for its figures. They come from one description the server publishes in
// /app/field-data.json (`limits`: each field's range, whole-number and text-length rules, built from the
// API's own schemas; `methods[].fields`: what each control method requires), not from rules copied here.
import { t } from "./fielddata.js";

// `scale`: how many of the rule's units one of the form's makes (an area typed in 亩 is checked in m²), so the
// bounds are said in the unit the person typed.
function checkValue(errors, name, value, rule, scale = 1) {
  if (value === undefined || value === null || value === "") return;
  if (rule.max_length !== undefined) {
    if (String(value).length > rule.max_length) {
      (errors[name] ||= []).push(t("check_too_long").replace("{max}", rule.max_length));
    }
    return;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    (errors[name] ||= []).push(t("check_number"));
    return;
  }
  if (rule.integer && !Number.isInteger(value)) (errors[name] ||= []).push(t("check_integer"));
  const low = rule.min ?? null;
  const high = rule.max ?? null;
  if ((low !== null && value < low) || (high !== null && value > high)) {
    (errors[name] ||= []).push(outOfRange(low === null ? null : low / scale, high === null ? null : high / scale));
  }
}

// The range a value missed, in the unit it was typed in (to 2 decimals: 1 000 000 000 m² is 1500000 亩).
function outOfRange(low, high) {
  const shown = (bound) => String(Number(bound.toFixed(2)));
  if (low !== null && high !== null) return t("check_between").replace("{min}", shown(low)).replace("{max}", shown(high));
  if (low !== null) return t("check_at_least").replace("{min}", shown(low));
  return t("check_at_most").replace("{max}", shown(high));
}

// The record's time against the phone's clock, and its point against the district's box, as the server
// checks them (`data.record_checks` of the field data): a time too far ahead or too early, a point plainly
// outside (by more than the margin; nearer the edge the server decides, with the outline it may hold).
function checkTime(errors, name, iso, rules) {
  const at = Date.parse(iso);
  if (at > Date.now() + rules.max_ahead_s * 1000) (errors[name] ||= []).push(t("check_future"));
  else if (at < Date.parse(rules.earliest)) (errors[name] ||= []).push(t("check_too_early"));
}

function checkTimeAndPlace(errors, record, data) {
  const rules = data && data.record_checks;
  if (!rules) return;
  checkTime(errors, "observed_at", record.observed_at, rules);
  const box = data.district && data.district.bounds;
  const margin = rules.outside_margin_deg;
  if (!box || margin === null || (record.crs && record.crs !== "wgs84")) return;
  const [minLon, minLat, maxLon, maxLat] = box;
  const { longitude: lon, latitude: lat } = record;
  if (lon < minLon - margin || lon > maxLon + margin || lat < minLat - margin || lat > maxLat + margin) {
    const text = t("check_outside").replace("{point}", `${lat.toFixed(6)}, ${lon.toFixed(6)}`).replace("{district}", data.district.name);
    (errors.latitude ||= []).push(text);
  }
}

// {field: [message]} for a record (the body the API takes); empty when it may be queued. `metrics`: the
// survey-metric catalogue of the field data (app/metrics.py); `data`: the field data, for the time and place.
export function checkObservation(record, species, limits, metrics = [], data = null) {
  const errors = {};
  const scales = Object.fromEntries(metrics.map((metric) => [metric.field, metric.scale || 1]));
  for (const [name, rule] of Object.entries(limits)) checkValue(errors, name, record[name], rule, scales[name]);
  if (!species) (errors.species_id ||= []).push(t("choose_species"));
  checkTimeAndPlace(errors, record, data);
  if (record.detected === false) {
    for (const name of [...metrics.filter((metric) => metric.abundance).map((metric) => metric.field), "severity"]) {
      if (record[name] !== undefined && record[name] > 0) (errors[name] ||= []).push(t("check_absence"));
    }
  }
  return errors;
}

// {field: [message]} for a control operation; method fields are named `details.<name>` as the API names them.
// `data`: the field data, for the treated area's unit (typed in 亩, control.js: its bounds are said in 亩)
// and the treatment's time (as the server checks a record's, `record_checks`).
export function checkOperation(body, method, limits, data = null) {
  const errors = {};
  const perMu = data ? data.units.square_metres_per_mu : 1;
  for (const [name, rule] of Object.entries(limits)) {
    checkValue(errors, name, body[name], rule, name === "area_m2" ? perMu : 1);
  }
  if (data && data.record_checks && body.performed_at) checkTime(errors, "performed_at", body.performed_at, data.record_checks);
  if (!method) {
    (errors.method ||= []).push(t("choose_method"));
    return errors;
  }
  for (const spec of method.fields) {
    const key = `details.${spec.name}`;
    const value = body.details[spec.name];
    if (value === undefined || value === "") {
      if (spec.required) (errors[key] ||= []).push(t("check_required"));
      continue;
    }
    if (spec.type === "text") checkValue(errors, key, value, { max_length: 500 });
    else checkValue(errors, key, value, { min: spec.min, max: spec.max, integer: spec.type === "integer" });
  }
  return errors;
}

// The server's reasons for refusing an outbox item, in the user's language where the phone's own checks
// find the same field wrong (the server may answer in another language or with its own wording).
export function explainRefusal(item, data) {
  const server = item.error ? item.error.errors || {} : {};
  let local = {};
  if (item.kind === "control") {
    const method = data.methods.find((m) => m.code === item.body.method);
    local = checkOperation(item.body, method, data.limits.control_operation, data);
  } else if (["observation", "completion", "edit"].includes(item.kind)) {
    const record = item.record || (item.kind === "completion" ? item.body.observation : item.body);
    const species = data.species.find((s) => s.id === record.species_id);
    local = checkObservation(record, species, data.limits.observation, data.metrics, data);
  }
  const merged = {};
  for (const [key, messages] of Object.entries(server)) {
    const name = key.replace(/^observation\./, "");
    merged[name] = local[name] || messages;
  }
  return merged;
}
