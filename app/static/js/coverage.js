// A campaign's coverage on the map (docs/surveys.md, Coverage): each unit's outline filled by its status
// (covered / in progress / not started; overdue drawn with a heavier dashed edge), units without an outline
// by the points of their records, the routes walked as lines, and the records as small dots.
import { fieldData } from "./fielddata.js";
import { decorate, newMap } from "./mapkit.js";
import { addBasemap } from "./position.js";

const L = window.L;
const element = document.querySelector("[data-coverage-map]");
const note = document.querySelector("[data-coverage-map-note]");

function text(tag, value) {
  const el = document.createElement(tag);
  el.textContent = value;
  return el;
}

function unitPopup(p, labels) {
  const box = document.createElement("div");
  box.append(text("strong", p.name), document.createElement("br"));
  box.append(`${p.township} · ${labels[p.status]}${p.overdue ? ` · ${labels.overdue}` : ""}`);
  box.append(document.createElement("br"));
  box.append(`${labels.assignee}: ${p.assignee || "-"} · ${labels.due}: ${p.due_on || "-"}`);
  box.append(document.createElement("br"));
  box.append(`${labels.routes}: ${p.routes} · ${labels.records}: ${p.records}`);
  return box;
}

async function draw() {
  const colours = JSON.parse(element.dataset.colours);
  const labels = JSON.parse(element.dataset.labels);
  const routeColour = element.dataset.routeColour;
  const map = newMap(L, element);
  addBasemap(L, map);
  decorate(L, map, [
    [colours.covered, labels.covered],
    [colours.in_progress, labels.in_progress],
    [colours.not_started, labels.not_started],
    [routeColour, labels.route],
  ]);
  let body;
  try {
    const response = await fetch(element.dataset.url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    body = await response.json();
  } catch {
    note.textContent = labels.empty;
    element.dataset.loaded = "error";
    return;
  }
  const counts = { unit: 0, route: 0, record: 0 };
  const layer = L.geoJSON(body, {
    filter: (f) => f.geometry !== null,
    style: (f) => {
      const p = f.properties;
      if (p.kind === "route") return { color: routeColour, weight: 3, opacity: 0.9 };
      if (p.kind === "record") return { color: "#333", weight: 0, fillColor: "#333", fillOpacity: 0.8 };
      const colour = colours[p.status];
      return {
        color: colour, weight: p.overdue ? 3 : 1.5, dashArray: p.overdue ? "6 4" : null,
        fillColor: colour, fillOpacity: 0.35,
      };
    },
    pointToLayer: (f, latlng) => {
      const p = f.properties;
      if (p.kind === "record") {
        return L.circleMarker(latlng, { radius: 3, weight: 0, fillColor: "#333", fillOpacity: 0.8 });
      }
      const colour = colours[p.status];
      return L.circleMarker(latlng, { radius: 7, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.9 });
    },
    onEachFeature: (f, created) => {
      const p = f.properties;
      counts[p.kind] = (counts[p.kind] || 0) + 1;
      if (p.kind === "unit") created.bindPopup(() => unitPopup(p, labels));
      else if (p.kind === "route") {
        // As text: a surveyor's name is typed by people (Leaflet takes a string as HTML).
        created.bindPopup(() => text("span", `${labels.route}: ${p.surveyor} · ${(p.length_m / 1000).toFixed(2)} km`));
      }
    },
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [12, 12] });
  } else {
    note.textContent = labels.empty;
    try {
      const data = await fieldData();
      const [w, s, e, n] = data.district.bounds;
      map.fitBounds([[s, w], [n, e]]);
    } catch {
      map.setView([0, 0], 2);
    }
  }
  element.dataset.units = String(counts.unit);
  element.dataset.routes = String(counts.route);
  element.dataset.records = String(counts.record);
  element.dataset.loaded = "yes";
}

if (element && L) draw();
