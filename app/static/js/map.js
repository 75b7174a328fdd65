// The map page: sites (by status) or records (found / not found) from the signed-in API, over a
// configurable basemap or none. Data is fetched for the visible area only, so it stays light on a phone.
import { fieldData, t } from "./fielddata.js";
import { addBasemap } from "./position.js";

const L = window.L;
const COLOURS = {
  active: "#b00020", under_control: "#a15c00", cleared: "#1f6f43", reemerged: "#6a1b9a",
  found: "#b00020", not_found: "#1f6f43",
};
const LIMIT = 5000;

const filters = document.querySelector("[data-map-filters]");
const note = document.querySelector("[data-map-note]");
const map = L.map(document.querySelector("[data-map]"));
addBasemap(L, map);
const layer = L.layerGroup().addTo(map);

function query(extra) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(filters).entries()) {
    if (value && key !== "layer") params.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

function marker(lat, lon, colour, popup) {
  const m = L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.9 });
  m.bindPopup(popup);
  return m;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

async function load() {
  const kind = filters.elements.namedItem("layer").value;
  for (const option of filters.querySelectorAll("[data-map-status] option[data-for]")) {
    option.hidden = option.dataset.for !== kind;
  }
  const status = filters.elements.namedItem("status");
  if (status.selectedOptions[0] && status.selectedOptions[0].hidden) status.value = "";
  const b = map.getBounds();
  let count = 0;
  let total = 0;
  layer.clearLayers();
  if (kind === "sites") {
    const response = await fetch(`/api/v1/sites?${query({ per_page: 500 })}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    total = body.total;
    for (const s of body.items) {
      const popup = document.createElement("div");
      popup.append(link(`/sites/${s.id}`, `${s.species.name_zh} · ${s.code}`), document.createElement("br"), s.place_name || "");
      layer.addLayer(marker(s.latitude, s.longitude, COLOURS[s.status] || "#555", popup));
      count += 1;
    }
  } else {
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    const response = await fetch(`/api/v1/observations/geojson?${query({ per_page: LIMIT, bbox })}`, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const body = await response.json();
    total = body.total;
    for (const f of body.features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties;
      const popup = document.createElement("div");
      popup.append(link(`/observations/${f.id}`, `${p.species} · ${p.detected ? t("found") : t("not_found")}`),
        document.createElement("br"), p.observed_at.slice(0, 16).replace("T", " "));
      layer.addLayer(marker(lat, lon, p.detected ? COLOURS.found : COLOURS.not_found, popup));
      count += 1;
    }
  }
  document.querySelector("[data-map]").dataset.markers = String(count);
  note.textContent = count === 0 ? t("map_no_points") : count < total ? t("map_more").replace("{n}", count) : "";
}

async function start() {
  const data = await fieldData();
  const species = document.querySelector("[data-map-species]");
  for (const s of data.species) species.append(new Option(`${s.name_zh} ${s.name_sci}`, s.id));
  const [lat, lon] = window.location.hash.slice(1).split(",").map(Number);
  if (Number.isFinite(lat) && Number.isFinite(lon)) map.setView([lat, lon], 16);
  else if (data.district) {
    const [w, s, e, n] = data.district.bounds;
    map.fitBounds([[s, w], [n, e]]);
  } else map.setView([30.67, 107.8], 10);
  filters.addEventListener("change", load);
  map.on("moveend", () => {
    if (filters.elements.namedItem("layer").value === "observations") load();
  });
  await load();
  document.querySelector("[data-map]").dataset.ready = "1";
}

start();
