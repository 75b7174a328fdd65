// What every map page draws besides its own points (docs/contract.md §2 Boundaries, §5): the loaded
// district, township and village outlines with their names (so a map with no basemap can be read), a scale
// bar, "my location" with its accuracy circle, and a legend.
import { t } from "./fielddata.js";

const OUTLINE_STYLE = {
  district: { color: "#222", weight: 2.5, fill: false },
  township: { color: "#555", weight: 1.2, dashArray: "6 4", fill: false },
  village: { color: "#888", weight: 0.8, dashArray: "2 3", fill: false },
};
// Township names from this zoom on (the district's zooms), village short names when zoomed in.
const TOWNSHIP_LABEL_ZOOM = 9;
const VILLAGE_LABEL_ZOOM = 13;

// The outlines, fetched again when the zoom crosses a band (the server simplifies per band and answers
// 304 from the browser's cache while the boundaries' version is unchanged).
// A Leaflet map on `element`, its own controls' titles (the zoom buttons) in the page's language.
export function newMap(L, element, options = {}) {
  Object.assign(L.Control.Zoom.prototype.options, { zoomInTitle: t("map_zoom_in"), zoomOutTitle: t("map_zoom_out") });
  return L.map(element, options);
}

export function addOutlines(L, map) {
  const pane = map.createPane("outlines");
  pane.style.zIndex = 350; // above tiles (200), below points (400)
  pane.style.pointerEvents = "none";
  const layer = L.geoJSON(null, {
    pane: "outlines",
    interactive: false,
    style: (f) => OUTLINE_STYLE[f.properties.level] || OUTLINE_STYLE.village,
  }).addTo(map);
  const labels = L.layerGroup().addTo(map);
  let features = [];
  let band = null;
  const bandOf = (z) => (z >= 14 ? 14 : z >= 12 ? 12 : z >= 10 ? 10 : z >= 8 ? 8 : 0);

  function drawLabels() {
    labels.clearLayers();
    const z = map.getZoom();
    const view = map.getBounds();
    for (const f of features) {
      const level = f.properties.level;
      const show = (level === "township" && z >= TOWNSHIP_LABEL_ZOOM && z < VILLAGE_LABEL_ZOOM + 2)
        || (level === "village" && z >= VILLAGE_LABEL_ZOOM);
      if (!show) continue;
      const [lon, lat] = f.properties.label;
      if (!view.contains([lat, lon])) continue;
      labels.addLayer(L.marker([lat, lon], {
        pane: "outlines",
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: `outline-label outline-${level}`, html: "", iconSize: null }),
      }).on("add", (e) => { e.target.getElement().textContent = f.properties.name; }));
    }
    map.getContainer().dataset.outlineLabels = String(labels.getLayers().length);
  }

  async function load() {
    const z = Math.round(map.getZoom());
    if (bandOf(z) === band) return drawLabels();
    band = bandOf(z);
    let body;
    try {
      const response = await fetch(`/api/v1/boundaries/outlines?zoom=${band}`, { credentials: "same-origin" });
      if (!response.ok) return undefined;
      body = await response.json();
    } catch {
      return undefined; // offline: the map works without its outlines
    }
    features = body.features;
    layer.clearLayers();
    layer.addData(body);
    map.getContainer().dataset.outlines = String(features.length);
    return drawLabels();
  }
  map.on("moveend", load);
  map.whenReady(load);
  return layer;
}

// A scale bar in metres.
export function addScale(L, map) {
  return L.control.scale({ imperial: false, maxWidth: 120 }).addTo(map);
}

// "My location": a button that asks the browser for the position and shows it with its accuracy circle.
export function addLocate(L, map) {
  const dot = L.circleMarker([0, 0], { radius: 6, color: "#fff", weight: 2, fillColor: "#1a73e8", fillOpacity: 1 });
  const circle = L.circle([0, 0], { radius: 1, color: "#1a73e8", weight: 1, fillOpacity: 0.12 });
  const Locate = L.Control.extend({
    options: { position: "topleft" },
    onAdd() {
      const box = L.DomUtil.create("div", "leaflet-bar");
      const button = L.DomUtil.create("a", "map-locate", box);
      button.href = "#";
      button.role = "button";
      button.title = t("map_my_location");
      button.setAttribute("aria-label", t("map_my_location"));
      button.dataset.mapLocate = "";
      button.textContent = "◎";
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(button, "click", (e) => {
        L.DomEvent.preventDefault(e);
        map.locate({ setView: true, maxZoom: 16, enableHighAccuracy: true, timeout: 30000 });
      });
      return box;
    },
  });
  map.on("locationfound", (e) => {
    dot.setLatLng(e.latlng).addTo(map);
    circle.setLatLng(e.latlng).setRadius(e.accuracy).addTo(map);
    dot.bindTooltip(t("map_accuracy").replace("{m}", String(Math.round(e.accuracy))));
    map.getContainer().dataset.located = String(Math.round(e.accuracy));
  });
  map.on("locationerror", () => {
    map.getContainer().dataset.located = "error";
    map.attributionControl?.setPrefix(t("map_location_unavailable"));
  });
  return new Locate().addTo(map);
}

// A legend: rows of [colour, label] (a filled dot each), or a kind instead of a colour: "cluster" (the
// counts), "outline" (boundaries), "found" (a filled dot), "hollow" (a ring: not found), "area" (an outline).
export function addLegend(L, map, rows) {
  const Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd() {
      const box = L.DomUtil.create("div", "map-legend");
      box.dataset.mapLegend = "";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", t("map_legend"));
      this.box = box;
      this.update(rows);
      return box;
    },
    update(next) {
      const title = document.createElement("strong");
      title.textContent = t("map_legend");
      const items = next.map(([colour, label]) => {
        const row = document.createElement("div");
        const swatch = document.createElement("i");
        swatch.setAttribute("aria-hidden", "true");
        if (colour === "cluster") swatch.className = "map-legend-cluster";
        else if (colour === "outline") swatch.className = "map-legend-outline";
        else if (colour === "found") swatch.className = "map-legend-found"; // a filled dot
        else if (colour === "hollow") swatch.className = "map-legend-hollow"; // a ring: searched, not found
        else if (colour === "area") swatch.className = "map-legend-area"; // an area outline
        else {
          swatch.style.background = colour;
          row.dataset.legendColour = colour;
        }
        row.append(swatch, label);
        return row;
      });
      this.box.replaceChildren(title, ...items);
    },
  });
  return new Legend().addTo(map);
}

// Everything above, for a page's map.
export function decorate(L, map, legendRows) {
  addOutlines(L, map);
  addScale(L, map);
  addLocate(L, map);
  return legendRows ? addLegend(L, map, legendRows) : null;
}

// --- loading Leaflet on demand ----------------------------------------------------------------------------
// A form with a map loads Leaflet (and a tool its plugin) after the form itself works, not before: on a slow
// phone Leaflet is a third of a first visit's bytes (docs/contract.md §5, the form usable within 4 s). The
// element names the files (`data-leaflet-js`, `data-leaflet-css`); the service worker keeps them with the
// app shell, so the map also comes with no signal.

const loaded = new Map(); // url → Promise

export function loadOnce(url, kind) {
  if (!loaded.has(url)) {
    loaded.set(url, new Promise((resolve, reject) => {
      const el = document.createElement(kind === "css" ? "link" : "script");
      if (kind === "css") {
        el.rel = "stylesheet";
        el.href = url;
      } else {
        el.src = url;
        el.async = false;
      }
      el.addEventListener("load", () => resolve());
      el.addEventListener("error", () => {
        loaded.delete(url);
        el.remove();
        reject(new Error(url));
      });
      document.head.append(el);
    }));
  }
  return loaded.get(url);
}

export async function loadLeaflet(box) {
  if (!window.L) await Promise.all([loadOnce(box.dataset.leafletCss, "css"), loadOnce(box.dataset.leafletJs, "js")]);
  return window.L;
}
