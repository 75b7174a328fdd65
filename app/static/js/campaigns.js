// Survey campaigns (docs/surveys.md, Campaigns): the plan form's species search and "every village"
// ticks, and the small map of "my survey units" on the home page. The form works without this script
// (species typed by name, villages ticked one by one); the map needs the outlines drawn into the page,
// which the home page's saved copy keeps for use with no signal.
import { fieldData, searchSpecies } from "./fielddata.js";
import { newMap } from "./mapkit.js";
import { addBasemap } from "./position.js";

// --- the plan form --------------------------------------------------------------------------------

function chosenIds(list) {
  return new Set([...list.querySelectorAll('input[name="species_id"]')].map((el) => el.value));
}

function addChip(list, s) {
  if (chosenIds(list).has(String(s.id))) return;
  const li = document.createElement("li");
  const label = document.createElement("label");
  label.className = "chip";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.name = "species_id";
  box.value = String(s.id);
  box.checked = true;
  const latin = document.createElement("em");
  latin.textContent = s.name_sci;
  label.append(box, ` ${s.name_zh} `, latin);
  li.append(label);
  list.append(li);
}

async function speciesPicker(form) {
  const picker = form.querySelector("[data-species-picker]");
  if (!picker) return;
  let data;
  try {
    data = await fieldData();
  } catch {
    return; // no field data (never loaded, no signal): names are typed instead
  }
  const search = picker.querySelector("[data-species-search]");
  const results = picker.querySelector("[data-species-results]");
  const chosen = picker.querySelector("[data-species-chosen]");
  picker.querySelector("[data-species-search-label]").hidden = false;
  const show = () => {
    results.replaceChildren();
    const query = search.value.trim();
    if (!query) return;
    for (const s of searchSpecies(data.species, query, 8)) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "item";
      button.dataset.speciesId = String(s.id);
      button.textContent = `${s.name_zh} ${s.name_sci}`;
      button.addEventListener("click", () => {
        addChip(chosen, s);
        search.value = "";
        results.replaceChildren();
        search.focus();
      });
      li.append(button);
      results.append(li);
    }
  };
  search.addEventListener("input", show);
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter picks the best match instead of sending the form
    results.querySelector("button")?.click();
  });
}

function villageTicks(form) {
  for (const all of form.querySelectorAll("[data-all-villages]")) {
    const details = all.closest("details");
    all.addEventListener("change", () => {
      for (const box of details.querySelectorAll('.village-list input[name="pick_unit"]')) box.checked = all.checked;
    });
  }
}

const form = document.querySelector("[data-campaign-form]");
if (form) {
  villageTicks(form);
  speciesPicker(form);
}

// --- my survey units on the home page -------------------------------------------------------------

function myUnitsMap() {
  const element = document.querySelector("[data-my-units-map]");
  const source = document.getElementById("my-units-outlines");
  const L = window.L;
  if (!element || !source || !L) return;
  const outlines = JSON.parse(source.textContent);
  if (!outlines.features.length) return;
  element.hidden = false;
  const map = newMap(L, element, { zoomControl: true, attributionControl: false, scrollWheelZoom: false });
  addBasemap(L, map);
  const layer = L.geoJSON(outlines, {
    style: { color: "#2e7d32", weight: 2, fillOpacity: 0.12 },
    // As text: a unit's name comes from the bureau's data (Leaflet takes a string as HTML).
    onEachFeature: (feature, shape) => {
      const name = document.createElement("span");
      name.textContent = feature.properties.name;
      shape.bindTooltip(name, { permanent: true, direction: "center", className: "outline-label" });
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  element.dataset.unitOutlines = String(outlines.features.length);
}

myUnitsMap();
