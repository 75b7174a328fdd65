// The map page: sites (by status) or records (found / not found) from the signed-in API, over a
// configurable basemap or none. Data is fetched for the visible area only, so it stays light on a phone.
import { fieldData, t } from "./fielddata.js";
import { decorate, newMap } from "./mapkit.js";
import { addBasemap } from "./position.js";

const L = window.L;
const COLOURS = {
  active: "#b00020", under_control: "#a15c00", cleared: "#1f6f43", reemerged: "#6a1b9a",
  found: "#b00020", not_found: "#1f6f43",
};
// Records: one colour per species, given in the order the species appear on this page and kept as the map
// moves, so the first ten species seen all differ; a record that found it is a filled dot, an absence
// (searched, not found) a ring. Tableau 10, whose colours stay apart for most colour-blind readers.
const SPECIES_COLOURS = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
  "#ff9da7", "#bab0ac"];
const speciesColours = new Map(); // species id → colour
function speciesColour(id) {
  const key = String(id);
  if (!speciesColours.has(key)) speciesColours.set(key, SPECIES_COLOURS[speciesColours.size % SPECIES_COLOURS.length]);
  return speciesColours.get(key);
}
let squareMetresPerMu = 666.67; // from the field data
const areaText = (m2) => t("map_area").replace("{mu}", (m2 / squareMetresPerMu).toFixed(2));

const filters = document.querySelector("[data-map-filters]");
const note = document.querySelector("[data-map-note]");
const map = newMap(L, document.querySelector("[data-map]"));
addBasemap(L, map);
const layer = L.layerGroup().addTo(map);
const legend = decorate(L, map, []);

function query(extra) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(filters).entries()) {
    if (value && key !== "layer") params.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

const LIST_LIMIT = 200; // items listed beside the map; the map shows the server's clusters or points
const list = document.querySelector("[data-map-list]");
const listNote = document.querySelector("[data-map-list-note]");
const listCount = document.querySelector("[data-map-list-count]");
const markers = new Map(); // list key ("sites:12", "observations:40") → marker
let selected = null; // the key of the item picked from the list, kept while the layer is reloaded
let rebuilding = false;
let loads = 0; // loads drawn (tests wait for the next one)
let generation = 0; // a load superseded by a newer one (filters or map moved again) draws nothing

function marker(key, lat, lon, colour, popup, hollow = false) {
  const style = hollow
    ? { radius: 6, color: colour, weight: 3, fillColor: "#fff", fillOpacity: 0.9 }
    : { radius: 7, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.9 };
  const m = L.circleMarker([lat, lon], style);
  m.bindPopup(popup);
  m.on("popupopen", () => mark(key));
  markers.set(key, m);
  return m;
}

// A cluster of records: its count in a circle sized by it, ringed by its share found (red) and not found
// (green); a tap zooms in on it.
function cluster(feature) {
  const [lon, lat] = feature.geometry.coordinates;
  const { count } = feature.properties;
  const found = feature.properties.found ?? count;
  const size = count >= 1000 ? 44 : count >= 100 ? 36 : count >= 10 ? 30 : 24;
  const share = Math.round((found / count) * 100);
  const m = L.marker([lat, lon], {
    icon: L.divIcon({ className: "map-cluster", html: "", iconSize: [size, size] }),
    keyboard: true,
    title: t("map_cluster_split").replace("{n}", count).replace("{found}", found).replace("{absent}", count - found),
  });
  m.on("add", () => {
    const el = m.getElement();
    el.textContent = count >= 10000 ? `${Math.round(count / 1000)}k` : String(count);
    // Set through the CSSOM (the page's CSP allows no inline style attribute).
    el.style.background = `radial-gradient(circle, #5a3a10 58%, transparent 60%), conic-gradient(${COLOURS.found} 0 ${share}%, ${COLOURS.not_found} ${share}% 100%)`;
    el.dataset.count = String(count);
    el.dataset.found = String(found);
  });
  m.on("click", () => map.setView([lat, lon], Math.min(map.getZoom() + 2, 18)));
  return m;
}

// The legend: for records, the colour of each species shown (or chosen), found and not found, the clusters'
// share; for sites, their statuses; the area outlines when some are drawn; the boundaries.
function legendRows(kind, species, areas) {
  const outlines = areas ? [["area", t("map_area_legend")]] : [];
  if (kind === "sites") {
    return Object.keys(COLOURS).filter((k) => k !== "found" && k !== "not_found")
      .map((status) => [COLOURS[status], statusLabel("sites", status)])
      .concat(outlines, [["outline", t("map_outlines")]]);
  }
  const rows = [...species].map(([id, name]) => [speciesColour(id), name]);
  return rows.concat([["found", t("map_found_dot")], ["hollow", t("map_absent_ring")],
    ["cluster", t("map_cluster_share")], ...outlines, ["outline", t("map_outlines")]]);
}

// An area outline (发生范围) with its area in 亩 in its popup, under the points.
function areaLayer(geometry, colour, title, areaM2) {
  const popup = document.createElement("div");
  const name = document.createElement("strong");
  name.textContent = title;
  popup.append(name, document.createElement("br"), areaText(areaM2));
  const shape = L.geoJSON(geometry, { style: { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15 } });
  shape.bindPopup(popup);
  return shape;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

// The name a status has in the filter's own options (already in the reader's language).
function statusLabel(kind, value) {
  const option = filters.querySelector(`[data-map-status] option[data-for="${kind}"][value="${value}"]`);
  return option ? option.textContent : value;
}

function mark(key) {
  for (const item of list.querySelectorAll("[aria-current]")) item.removeAttribute("aria-current");
  const item = list.querySelector(`[data-key="${key}"]`);
  if (item) item.setAttribute("aria-current", "true");
}

// One list item: a button that centres the map on the point and opens its popup, its key facts and a link.
function listItem(key, lat, lon, title, facts, href, colour) {
  const li = document.createElement("li");
  li.dataset.key = key;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "map-item";
  button.dataset.mapItem = key;
  const dot = document.createElement("i");
  dot.style.background = colour;
  dot.setAttribute("aria-hidden", "true");
  button.append(dot, title);
  button.addEventListener("click", () => {
    selected = key;
    map.setView([lat, lon], Math.max(map.getZoom(), 15));
    const m = markers.get(key);
    if (m) m.openPopup();
  });
  const p = document.createElement("p");
  p.className = "muted small";
  p.textContent = facts.filter(Boolean).join(" · ");
  const open = link(href, t("map_open"));
  open.className = "small";
  li.append(button, p, open);
  return li;
}

async function load() {
  const kind = filters.elements.namedItem("layer").value;
  for (const option of filters.querySelectorAll("[data-map-status] option[data-for]")) {
    option.hidden = option.dataset.for !== kind;
  }
  const status = filters.elements.namedItem("status");
  if (status.selectedOptions[0] && status.selectedOptions[0].hidden) status.value = "";
  const b = map.getBounds();
  const current = ++generation;
  const points = []; // [key, lat, lon, colour, popup, title, facts, href, hollow]
  const shapes = []; // area outlines
  const shownSpecies = new Map(); // id → name, for the legend
  let total; // set by either branch below
  let clusters = []; // records aggregated by the server: [lon, lat] and {count, found}
  if (kind === "sites") {
    // No signal: the points stay as they were (the basemap saved for offline use still shows).
    const response = await fetch(`/api/v1/sites?${query({ per_page: 500 })}`, { credentials: "same-origin" })
      .catch(() => null);
    if (!response || !response.ok || current !== generation) return;
    const body = await response.json();
    if (current !== generation) return;
    total = body.total;
    for (const s of body.items) {
      const title = `${s.species.name_zh} · ${s.code}`;
      const popup = document.createElement("div");
      popup.append(link(`/sites/${s.id}`, title), document.createElement("br"), s.place_name || "");
      const facts = [statusLabel("sites", s.status), s.township_name, s.place_name,
        s.last_observed_at ? s.last_observed_at.slice(0, 10) : ""];
      points.push([`sites:${s.id}`, s.latitude, s.longitude, COLOURS[s.status] || "#555", popup, title, facts,
        `/sites/${s.id}`]);
      if (s.extent && s.extent_area_m2) {
        shapes.push(areaLayer(s.extent, COLOURS[s.status] || "#555", title, s.extent_area_m2));
      }
    }
  } else {
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    // Aggregated on the server (docs/contract.md §5): clusters with counts, points only when zoomed in.
    const zoom = Math.round(map.getZoom());
    const response = await fetch(`/api/v1/map/observations?${query({ bbox, zoom })}`, {
      credentials: "same-origin",
    }).catch(() => null);
    if (!response || !response.ok || current !== generation) return;
    const body = await response.json();
    if (current !== generation) return;
    total = body.total;
    if (body.kind === "clusters") {
      clusters = body.features;
      const chosen = filters.elements.namedItem("species_id");
      if (chosen.value) shownSpecies.set(chosen.value, chosen.selectedOptions[0].textContent);
    } else {
      for (const f of body.features) {
        const [lon, lat] = f.geometry.coordinates;
        const p = f.properties;
        const title = `${p.species} · ${p.detected ? t("found") : t("not_found")}`;
        const when = p.observed_at.slice(0, 16).replace("T", " ");
        const popup = document.createElement("div");
        popup.append(link(`/observations/${f.id}`, title), document.createElement("br"), when);
        const facts = [when, statusLabel("observations", p.status),
          p.severity ? t("map_severity").replace("{n}", p.severity) : ""];
        const colour = speciesColour(p.species_id);
        shownSpecies.set(p.species_id, p.species);
        if (p.area_m2 !== undefined) {
          popup.append(document.createElement("br"), areaText(p.area_m2));
          facts.push(areaText(p.area_m2));
          shapes.push(areaLayer(p.outline, colour, title, p.area_m2));
        }
        points.push([`observations:${f.id}`, lat, lon, colour, popup, title, facts, `/observations/${f.id}`,
          !p.detected]);
      }
    }
  }
  rebuilding = true;
  layer.clearLayers();
  markers.clear();
  rebuilding = false;
  for (const c of clusters) layer.addLayer(cluster(c));
  for (const shape of shapes) layer.addLayer(shape);
  const items = [];
  for (const [key, lat, lon, colour, popup, title, facts, href, hollow] of points) {
    layer.addLayer(marker(key, lat, lon, colour, popup, hollow));
    if (items.length < LIST_LIMIT) items.push(listItem(key, lat, lon, title, facts, href, colour));
  }
  list.replaceChildren(...items);
  const count = points.length;
  document.querySelector("[data-map]").dataset.markers = String(count);
  document.querySelector("[data-map]").dataset.clusters = String(clusters.length);
  document.querySelector("[data-map]").dataset.areas = String(shapes.length);
  document.querySelector("[data-map]").dataset.loads = String(++loads);
  legend.update(legendRows(kind, shownSpecies, shapes.length > 0));
  list.dataset.items = String(items.length);
  listCount.textContent = count ? `(${count})` : "";
  note.textContent = clusters.length ? t("map_clustered").replace("{n}", total)
    : count === 0 ? t("map_no_points") : count < total ? t("map_more").replace("{n}", count) : "";
  listNote.textContent = items.length < count
    ? t("map_list_more").replace("{n}", items.length).replace("{total}", total) : "";
  // The item picked from the list keeps its popup when the records in view are reloaded around it.
  if (selected && markers.has(selected)) markers.get(selected).openPopup();
  else selected = null;
}

async function start() {
  const data = await fieldData();
  squareMetresPerMu = data.units.square_metres_per_mu;
  const species = document.querySelector("[data-map-species]");
  for (const s of data.species) species.append(new Option(`${s.name_zh} ${s.name_sci}`, s.id));
  const [lat, lon] = window.location.hash.slice(1).split(",").map(Number);
  if (Number.isFinite(lat) && Number.isFinite(lon)) map.setView([lat, lon], 16);
  else if (data.district) {
    const [w, s, e, n] = data.district.bounds;
    map.fitBounds([[s, w], [n, e]]);
  } else map.setView([30.67, 107.8], 10);
  filters.addEventListener("change", () => {
    selected = null;
    load();
  });
  map.on("popupclose", () => {
    if (rebuilding) return;
    selected = null;
    mark(null);
  });
  map.on("moveend", () => {
    if (filters.elements.namedItem("layer").value === "observations") load();
  });
  await load();
  document.querySelector("[data-map]").dataset.ready = "1";
}

start();
