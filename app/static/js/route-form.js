// The record form's part for survey campaigns (docs/surveys.md, Routes). While a route is walked the form
// says so, each record carries the route's client_uuid and campaign, and the route keeps recording GPS
// fixes on this page; with no route, the surveyor may choose a campaign the record is for. Either way the
// campaign's other target species can be recorded at the same point in the same save — found (with their
// figures) or searched and not found — each as a record of its own with its own client_uuid, through the
// outbox.
import * as outbox from "./outbox.js";
import * as store from "./route-store.js";
import { checkObservation } from "./checks.js";

let form = null;
let data = null;
let route = null;
let campaign = null; // the route's campaign, or the one chosen in the form
let words = {};
let recorder = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

// The route this form's records belong to (running or paused), or null.
export function activeRoute() {
  return route;
}

// What a new record carries for the route: its client_uuid and campaign.
export function fields(kind) {
  if (kind !== "observation") return {};
  if (route) return { route_uuid: route.id, campaign_id: route.campaign.id };
  return campaign ? { campaign_id: campaign.id } : {};
}

function targets() {
  const chosen = Number(form.elements.namedItem("species_id").value);
  return campaign ? campaign.species.filter((s) => s.id !== chosen) : [];
}

function metricsOf(species) {
  return data.metrics.filter((metric) => species.metrics.includes(metric.key));
}

function renderTargets() {
  const box = form.querySelector("[data-route-targets]");
  if (!box) return;
  const list = box.querySelector("[data-route-target-list]");
  const kept = new Map([...list.querySelectorAll("[data-target]")].map((row) => [row.dataset.target, row]));
  list.replaceChildren();
  for (const species of targets()) {
    const id = String(species.id);
    if (kept.has(id)) {
      list.append(kept.get(id));
      continue;
    }
    const choice = el("select", { "data-target-choice": id, name: `target-${id}` });
    choice.append(
      new Option(words.not_recorded, ""),
      new Option(words.found, "true"),
      new Option(words.not_found, "false"),
    );
    const figures = el("div", { className: "grid", hidden: true, "data-target-figures": id });
    for (const metric of metricsOf(species)) {
      const input = el("input", {
        type: "number",
        name: `target-${id}-${metric.input}`,
        step: "any",
        inputMode: metric.integer ? "numeric" : "decimal",
      });
      if (metric.min !== null && metric.min !== undefined) input.min = String(metric.min);
      figures.append(el("label", { "data-field": `target-${id}.${metric.field}` }, metric.label, input));
    }
    choice.addEventListener("change", () => {
      figures.hidden = choice.value !== "true";
    });
    const name = el("strong", {}, species.name_zh);
    list.append(el("li", { "data-target": id, "data-field": `target-${id}` }, el("label", {}, name, " ", choice), figures));
  }
  box.hidden = list.children.length === 0;
}

function banner() {
  const what = `${route.campaign.name}${route.unit ? ` · ${route.unit.name}` : ""}`;
  const back = el("a", { href: "/surveys/routes/new", className: "button" }, words.back);
  const note = el("p", { className: "card", "data-route-banner": route.id }, words.banner.replace("{what}", what), " ", back);
  form.prepend(note);
}

// No route running: the record may be for one of the user's campaigns (chosen here, or none).
function campaignChoice(campaigns) {
  const select = el("select", { name: "campaign_id", "data-record-campaign": "" });
  select.append(new Option(words.no_campaign, ""));
  for (const c of campaigns) select.append(new Option(c.name, String(c.id)));
  select.addEventListener("change", () => {
    campaign = campaigns.find((c) => c.id === Number(select.value)) || null;
    renderTargets();
  });
  form.prepend(el("label", { "data-field": "campaign_id" }, words.campaign, select));
}

function targetsPanel() {
  const box = el(
    "fieldset",
    { "data-route-targets": "", hidden: true },
    el("legend", {}, words.targets),
    el("p", { className: "hint" }, words.targets_hint),
    el("ul", { className: "items", "data-route-target-list": "" }),
  );
  const rest = el("button", { type: "button", className: "link", "data-route-rest-absent": "" }, words.rest_absent);
  rest.addEventListener("click", () => {
    for (const choice of box.querySelectorAll("[data-target-choice]")) {
      if (choice.value === "") choice.value = "false";
      choice.dispatchEvent(new Event("change"));
    }
  });
  box.append(rest);
  const detected = form.querySelector('[data-field="detected"]');
  detected.after(box);
}

// The extra records the targets panel asks for, made from the main record (same point, time, place):
// {records, errors} — errors by field ("target-<id>.<field>") when one of them would be refused.
export function targetRecords(main) {
  if (!campaign) return { records: [], errors: {} };
  const records = [];
  const errors = {};
  for (const choice of form.querySelectorAll("[data-target-choice]")) {
    if (choice.value === "") continue;
    const species = campaign.species.find((s) => s.id === Number(choice.dataset.targetChoice));
    if (!species || species.id === main.species_id) continue;
    const detected = choice.value === "true";
    const record = { client_uuid: outbox.newId(), species_id: species.id, detected };
    for (const name of [
      "observed_at", "latitude", "longitude", "accuracy_m", "altitude_m", "position_source", "township_code",
      "village_code", "place_name", "habitat", "campaign_id", "route_uuid",
    ]) {
      if (main[name] !== undefined) record[name] = main[name];
    }
    if (detected) {
      for (const metric of metricsOf(species)) {
        const input = form.elements.namedItem(`target-${species.id}-${metric.input}`);
        if (!input || input.value === "") continue;
        const value = Number(input.value);
        record[metric.field] = metric.scale === 1 ? value : Math.round(value * metric.scale * 100) / 100;
      }
    }
    const found = checkObservation(record, species, data.limits.observation, data.metrics, data);
    for (const [name, messages] of Object.entries(found)) errors[`target-${species.id}.${name}`] = messages;
    records.push({ record, species });
  }
  return { records, errors };
}

// A record saved along the route: a species found is not offered as an absence when the route stops.
export function noteSaved(record) {
  if (route && record.detected && record.route_uuid === route.id) store.notePresent(route.userId, record.species_id);
}

export function savedText(n) {
  return words.saved_n.replace("{n}", String(n));
}

export function reset() {
  if (!campaign) return;
  for (const choice of form.querySelectorAll("[data-target-choice]")) {
    choice.value = "";
    choice.dispatchEvent(new Event("change"));
  }
  for (const input of form.querySelectorAll('[data-target-figures] input')) input.value = "";
}

export async function init(recordForm, fieldData) {
  form = recordForm;
  data = fieldData;
  const wordsEl = document.getElementById("ias-route-form");
  if (!wordsEl || form.dataset.kind !== "observation") return;
  words = JSON.parse(wordsEl.textContent);
  const found = store.active(data.user.id);
  const campaigns = JSON.parse(document.getElementById("ias-route-campaigns")?.textContent || "[]");
  if (found && found.phase !== store.PHASES.STOPPED) {
    route = found;
    campaign = route.campaign;
    banner();
  } else if (campaigns.length) {
    campaignChoice(campaigns);
  } else {
    return;
  }
  targetsPanel();
  renderTargets();
  form.addEventListener("change", (event) => {
    if (event.target.name === "species_id") renderTargets();
  });
  new MutationObserver(renderTargets).observe(form.querySelector('[data-field="species_id"]'), {
    subtree: true,
    childList: true,
    attributes: true,
  });
  if (!route) return;
  // The route goes on recording while a record is made.
  const all = await store.points(route.id);
  recorder = new store.Recorder(route, all[all.length - 1]);
  recorder.start();
}
