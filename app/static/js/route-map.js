// A route's page (docs/surveys.md, Routes): its line through the good fixes, the poor fixes as grey rings
// (kept, not drawn into the line), its start and end, and the records made along it (found: a filled dot,
// searched and not found: a ring).
import { decorate, newMap } from "./mapkit.js";
import { addBasemap } from "./position.js";

const L = window.L;
const element = document.querySelector("[data-route-map]");

function draw() {
  const data = JSON.parse(document.getElementById("ias-route-map").textContent);
  const labels = data.labels;
  const map = newMap(L, element);
  // The view first: Leaflet draws nothing on a map that has none.
  const line = L.geoJSON(data.geometry, { style: { color: "#1f6f43", weight: 4, opacity: 0.9 } });
  const bounds = line.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
  else map.setView([0, 0], 2);
  line.addTo(map);
  addBasemap(L, map);
  decorate(L, map, [
    ["#1f6f43", labels.line],
    ["#888", labels.poor],
    ["#c0392b", labels.found],
  ]);
  // A segment across a pause (lunch, a drive to the next place) is drawn dashed: not walked, not measured.
  const coords = data.geometry ? data.geometry.coordinates : [];
  for (const i of data.gaps || []) {
    if (i + 1 >= coords.length) continue;
    L.polyline([[coords[i][1], coords[i][0]], [coords[i + 1][1], coords[i + 1][0]]], {
      color: "#fff", weight: 5, opacity: 1, dashArray: "2 8",
    }).bindTooltip(labels.gap).addTo(map);
  }
  element.dataset.gaps = String((data.gaps || []).length);
  let poor = 0;
  for (const point of data.points) {
    if (!point.poor) continue;
    poor += 1;
    L.circleMarker([point.lat, point.lon], { radius: 4, color: "#888", weight: 1.5, fillOpacity: 0 }).addTo(map);
  }
  const coordinates = data.geometry.coordinates;
  if (coordinates.length) {
    const [first, last] = [coordinates[0], coordinates[coordinates.length - 1]];
    L.circleMarker([first[1], first[0]], { radius: 6, color: "#fff", weight: 2, fillColor: "#1f6f43", fillOpacity: 1 })
      .bindTooltip(labels.start).addTo(map);
    L.circleMarker([last[1], last[0]], { radius: 6, color: "#1f6f43", weight: 3, fillColor: "#fff", fillOpacity: 1 })
      .bindTooltip(labels.end).addTo(map);
  }
  for (const record of data.records) {
    const style = record.detected
      ? { radius: 5, color: "#fff", weight: 1, fillColor: "#c0392b", fillOpacity: 1 }
      : { radius: 5, color: "#c0392b", weight: 2, fillOpacity: 0 };
    // As text: the label holds a species name (Leaflet takes a string as HTML).
    const label = document.createElement("span");
    label.textContent = record.label;
    L.circleMarker([record.latitude, record.longitude], style).bindTooltip(label).addTo(map);
  }
  element.dataset.poor = String(poor);
  element.dataset.records = String(data.records.length);
  element.dataset.loaded = "yes";
}

if (element && L) draw();
