// The area tool of the record and control-operation forms (docs/maps.md, "Drawing an area"): the outline of
// an infestation or of a treated patch (发生范围 / 防治范围), drawn on a map by taps or walked with GPS, kept in
// the record's `geometry` (GeoJSON, WGS-84) and its area shown live in 亩.
//
// Nothing heavy is loaded with the form: Leaflet (on the control form) and the drawing plugin (Leaflet-Geoman,
// served from node_modules at /vendor/geoman/) are fetched only when the surveyor opens the tool, so the form's
// first visit on a slow phone stays within its budget (docs/contract.md §5). The service worker keeps both
// with the app shell, so the tool also opens with no signal.

import { loadLeaflet, loadOnce, newMap } from "./mapkit.js";

// WGS-84 ellipsoid: the area shown while drawing is the polygon's on the ellipsoid (the server's figure, from
// pyproj's Geod, is the one stored; for a field the two agree to far better than 0.1 %).
const A = 6378137;
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const RAD = Math.PI / 180;

// The area in m² of a ring of [lat, lng] (closed or not), on a plane tangent to the ellipsoid at its mean
// latitude (east: the prime vertical's radius × cos φ; north: the meridian's radius).
export function ringAreaM2(points) {
  const ring = points.length > 1 && samePoint(points[0], points[points.length - 1]) ? points.slice(0, -1) : points;
  if (ring.length < 3) return 0;
  const lat0 = ring.reduce((sum, p) => sum + p[0], 0) / ring.length;
  const lon0 = ring[0][1];
  const s = Math.sin(lat0 * RAD);
  const w = Math.sqrt(1 - E2 * s * s);
  const east = ((A / w) * Math.cos(lat0 * RAD)) * RAD; // metres per degree of longitude
  const north = ((A * (1 - E2)) / (w * w * w)) * RAD; // metres per degree of latitude
  const xy = ring.map(([lat, lon]) => [(lon - lon0) * east, (lat - lat0) * north]);
  let twice = 0;
  for (let i = 0; i < xy.length; i += 1) {
    const [x1, y1] = xy[i];
    const [x2, y2] = xy[(i + 1) % xy.length];
    twice += x1 * y2 - x2 * y1;
  }
  return Math.abs(twice) / 2;
}

// Metres between two [lat, lng] points (short distances: the same tangent plane).
export function metresBetween(a, b) {
  const s = Math.sin(((a[0] + b[0]) / 2) * RAD);
  const w = Math.sqrt(1 - E2 * s * s);
  const dx = (b[1] - a[1]) * RAD * (A / w) * Math.cos(((a[0] + b[0]) / 2) * RAD);
  const dy = (b[0] - a[0]) * RAD * ((A * (1 - E2)) / (w * w * w));
  return Math.hypot(dx, dy);
}

function samePoint(a, b) {
  return a[0] === b[0] && a[1] === b[1];
}

// Whether a ring's edges cross one another (the server refuses such an outline: geometry, 422).
export function selfCrossing(points) {
  const n = points.length;
  if (n < 4) return false;
  const cross = (o, a, b) => (a[1] - o[1]) * (b[0] - o[0]) - (a[0] - o[0]) * (b[1] - o[1]);
  const meets = (p1, p2, q1, q2) => {
    const d1 = cross(q1, q2, p1);
    const d2 = cross(q1, q2, p2);
    const d3 = cross(p1, p2, q1);
    const d4 = cross(p1, p2, q2);
    return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
  };
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 2; j < n; j += 1) {
      if (i === 0 && j === n - 1) continue; // neighbours through the closing edge
      if (meets(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n])) return true;
    }
  }
  return false;
}

// [[lat, lng], …] (open ring) → a GeoJSON Polygon (lon, lat; closed), rounded to 7 decimals (about 1 cm).
export function toGeoJSON(points) {
  const ring = points.map(([lat, lon]) => [Math.round(lon * 1e7) / 1e7, Math.round(lat * 1e7) / 1e7]);
  ring.push([...ring[0]]);
  return { type: "Polygon", coordinates: [ring] };
}

function fromGeoJSON(geometry) {
  if (!geometry || !Array.isArray(geometry.coordinates)) return null;
  const outer = geometry.type === "MultiPolygon" ? geometry.coordinates[0]?.[0] : geometry.coordinates[0];
  if (!Array.isArray(outer) || outer.length < 4) return null;
  return outer.slice(0, -1).map(([lon, lat]) => [lat, lon]);
}

// --- loading the drawing plugin on demand (Leaflet itself: mapkit.js) ---------------------------------------

async function loadGeoman(box) {
  const L = await loadLeaflet(box);
  if (!L.PM) await Promise.all([loadOnce(box.dataset.geomanCss, "css"), loadOnce(box.dataset.geomanJs, "js")]);
  return L;
}

// --- walking the edge ----------------------------------------------------------------------------------------

// The rule for a walked outline's points (docs/maps.md): a fix is used only when its accuracy is within the
// form's GPS limit; one closer to the last used point than MIN_STEP_M (or its own accuracy) is the surveyor
// standing still and adds nothing; the outline closes by a tap, and a last point within CLOSE_M of the first
// (back at the start) is the start itself.
export const MIN_STEP_M = 3;
export const CLOSE_M = 15;

export class EdgeWalk {
  constructor({ limitM, onChange }) {
    this.limitM = limitM;
    this.onChange = onChange;
    this.points = []; // [lat, lng, accuracy]
    this.ignored = 0; // fixes too poor to use
    this.watchId = null;
    this.error = null;
  }

  get walking() {
    return this.watchId !== null;
  }

  start() {
    this.stop();
    this.points = [];
    this.ignored = 0;
    this.error = null;
    if (!("geolocation" in navigator)) {
      this.error = "unavailable";
      this.onChange(this);
      return;
    }
    this.watchId = navigator.geolocation.watchPosition(
      (p) => this.take(p.coords.latitude, p.coords.longitude, p.coords.accuracy),
      (e) => {
        this.error = e.code === e.PERMISSION_DENIED ? "denied" : "unavailable";
        this.onChange(this);
      },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
    );
    this.onChange(this);
  }

  take(lat, lng, accuracy) {
    this.error = null;
    if (!(accuracy <= this.limitM)) {
      this.ignored += 1;
    } else {
      const last = this.points[this.points.length - 1];
      if (!last || metresBetween(last, [lat, lng]) >= Math.max(MIN_STEP_M, accuracy)) {
        this.points.push([lat, lng, accuracy]);
      }
    }
    this.onChange(this);
  }

  undo() {
    this.points.pop();
    this.onChange(this);
  }

  // Back at the start: the last point is within CLOSE_M of the first after a walk of some length.
  get backAtStart() {
    if (this.points.length < 4) return false;
    return metresBetween(this.points[0], this.points[this.points.length - 1]) <= CLOSE_M;
  }

  // The closed outline's points ([lat, lng]), or null with fewer than 3.
  close() {
    this.stop();
    const ring = this.points.map(([lat, lng]) => [lat, lng]);
    if (this.backAtStart) ring.pop();
    return ring.length >= 3 ? ring : null;
  }

  stop() {
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
  }
}

// --- the tool ----------------------------------------------------------------------------------------------

const OUTLINE = { color: "#b00020", weight: 3, fillColor: "#b00020", fillOpacity: 0.2 };

// The area tool in its fieldset (templates: observations/_area_tool.html). `options`:
//   squareMetresPerMu: from the field data's units; limitM: the GPS accuracy limit;
//   where(): [lat, lng] to centre on (the form's GPS fix), or null; bounds: the district's [w, s, e, n];
//   onChange(tool): the outline changed (drawn, edited, walked or cleared).
export class AreaTool {
  constructor(box, options) {
    this.box = box;
    this.options = options;
    this.messages = JSON.parse(box.querySelector("[data-area-messages]").textContent);
    this.points = null; // the closed outline, [[lat, lng], …] (open ring), or null
    this.map = null;
    this.layer = null; // the outline on the map
    this.mode = null; // "draw" | "walk" | null
    this.walk = null;
    this.walkLine = null;
    this.working = null; // geoman's layer while drawing
    this.el = (name) => box.querySelector(`[data-area-${name}]`);
    this.el("draw").addEventListener("click", () => this.startDrawing());
    this.el("walk").addEventListener("click", () => this.startWalking());
    this.el("undo").addEventListener("click", () => this.undo());
    this.el("finish").addEventListener("click", () => this.finish());
    this.el("clear").addEventListener("click", () => this.clear());
    this.render();
  }

  m(key, values = {}) {
    let text = this.messages[key] ?? key;
    for (const [name, value] of Object.entries(values)) text = text.replace(`{${name}}`, value);
    return text;
  }

  get geometry() {
    return this.points ? toGeoJSON(this.points) : null;
  }

  get areaM2() {
    return this.points ? ringAreaM2(this.points) : null;
  }

  describeArea(areaM2) {
    const mu = areaM2 / this.options.squareMetresPerMu;
    return this.m("area", { mu: mu.toFixed(2), m2: Math.round(areaM2).toLocaleString("en-US") });
  }

  async openMap(withPlugin) {
    this.status(this.m("loading"));
    this.box.dataset.areaLoading = "1";
    let L;
    try {
      L = withPlugin ? await loadGeoman(this.box) : await loadLeaflet(this.box);
    } catch {
      this.status(this.m("load_failed"), true);
      return null;
    } finally {
      delete this.box.dataset.areaLoading;
    }
    const element = this.el("map");
    element.hidden = false;
    if (!this.map) {
      this.map = newMap(L, element, { zoomControl: true, attributionControl: true });
      const { addBasemap } = await import("./position.js");
      const { addOutlines, addScale } = await import("./mapkit.js");
      addBasemap(L, this.map);
      addOutlines(L, this.map);
      addScale(L, this.map);
      const here = this.options.where && this.options.where();
      const b = this.options.bounds;
      if (here) this.map.setView(here, 18);
      else if (this.points) this.map.fitBounds(L.latLngBounds(this.points), { maxZoom: 18 });
      else if (b) this.map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
      else this.map.setView([30.67, 107.8], 10);
      // No fix from the form (the control form has none): the phone's own position, where it is given.
      // Moved here, not by locate's setView (its locationfound fires while an animated move still runs):
      // data-area-located is set on the moveend that leaves the map's centre on the phone (within a pixel),
      // so a tap after it lands there. The zoom is Leaflet's own (the fix's accuracy circle), at most 18.
      if (!here && !this.points) {
        const map = this.map;
        map.once("locationfound", ({ latlng, bounds }) => {
          const arrived = () => {
            if (map.latLngToContainerPoint(latlng).distanceTo(map.getSize().divideBy(2)) > 1) return;
            map.off("moveend", arrived);
            this.box.dataset.areaLocated = "1";
          };
          map.on("moveend", arrived);
          map.setView(latlng, Math.min(map.getBoundsZoom(bounds), 18));
        });
        map.locate({ setView: false, enableHighAccuracy: true, timeout: 30_000 });
      }
      if (here) L.circleMarker(here, { radius: 5, color: "#1a73e8", weight: 2, interactive: false }).addTo(this.map);
    }
    this.map.invalidateSize();
    if (withPlugin && this.map.pm) this.map.pm.setLang(document.documentElement.lang.startsWith("zh") ? "zh" : "en");
    return L;
  }

  async startDrawing() {
    this.stopWalking();
    const L = await this.openMap(true);
    if (!L) return;
    this.removeOutline();
    this.points = null;
    this.mode = "draw";
    const map = this.map;
    map.off("pm:drawstart").off("pm:create");
    map.on("pm:drawstart", ({ workingLayer }) => {
      this.working = workingLayer;
      workingLayer.on("pm:change", () => this.render());
    });
    map.on("pm:create", ({ layer }) => {
      this.working = null;
      this.mode = null;
      const ring = layer.getLatLngs()[0].map((p) => [p.lat, p.lng]);
      map.removeLayer(layer);
      this.setOutline(ring);
      this.changed();
    });
    map.pm.enableDraw("Polygon", {
      snappable: false,
      allowSelfIntersection: false,
      tooltips: false,
      continueDrawing: false,
      templineStyle: { color: OUTLINE.color },
      hintlineStyle: { color: OUTLINE.color, dashArray: [5, 5] },
      pathOptions: OUTLINE,
    });
    this.status(this.m("draw_hint"));
    this.render();
  }

  async startWalking() {
    if (this.map && this.map.pm) this.map.pm.disableDraw();
    const L = await this.openMap(false);
    if (!L) return;
    this.removeOutline();
    this.points = null;
    this.mode = "walk";
    this.walkLine = L.polyline([], { color: OUTLINE.color, weight: 3, dashArray: "6 4" }).addTo(this.map);
    this.walk = new EdgeWalk({ limitM: this.options.limitM, onChange: () => this.walked() });
    this.walk.start();
    this.changed();
  }

  walked() {
    const walk = this.walk;
    if (!walk) return;
    const latlngs = walk.points.map(([lat, lng]) => [lat, lng]);
    this.walkLine.setLatLngs(latlngs);
    if (latlngs.length) this.map.panTo(latlngs[latlngs.length - 1], { animate: false });
    this.box.dataset.walkPoints = String(walk.points.length);
    this.box.dataset.walkIgnored = String(walk.ignored);
    if (walk.error) this.status(this.m(walk.error === "denied" ? "gps_denied" : "gps_unavailable"), true);
    else {
      const parts = [this.m("walk_points", { n: walk.points.length })];
      if (walk.ignored) parts.push(this.m("walk_ignored", { n: walk.ignored, m: this.options.limitM }));
      if (walk.backAtStart) parts.push(this.m("walk_back"));
      this.status(parts.join(" "));
    }
    this.render();
  }

  stopWalking() {
    if (this.walk) this.walk.stop();
    this.walk = null;
    if (this.walkLine) this.walkLine.remove();
    this.walkLine = null;
  }

  undo() {
    if (this.mode === "walk" && this.walk) this.walk.undo();
    else if (this.mode === "draw" && this.map && this.map.pm) {
      this.map.pm.Draw.Polygon._removeLastVertex();
      // Undoing the only corner ends the plugin's drawing: start it again, with no corner.
      if (!this.map.pm.globalDrawModeEnabled()) this.startDrawing();
      else this.render();
    }
  }

  finish() {
    if (this.mode === "walk" && this.walk) {
      const ring = this.walk.close();
      if (!ring) {
        this.status(this.m("too_few"), true);
        return;
      }
      if (selfCrossing(ring)) {
        this.walk.start(); // nothing usable: walk again
        this.status(this.m("crossing"), true);
        return;
      }
      this.stopWalking();
      this.mode = null;
      this.setOutline(ring);
      this.changed();
    } else if (this.mode === "draw" && this.map && this.map.pm) {
      if (this.drawingPoints().length < 3) {
        this.status(this.m("too_few"), true);
        return;
      }
      this.map.pm.Draw.Polygon._finishShape(); // fires pm:create
    }
  }

  clear() {
    this.stopWalking();
    if (this.map && this.map.pm) this.map.pm.disableDraw();
    this.working = null;
    this.mode = null;
    this.removeOutline();
    this.points = null;
    this.status("");
    this.changed();
  }

  // An outline that came with a saved record (reopened or edited): shown on the tool's map at once (Leaflet
  // only; its corners can be dragged once the plugin is loaded by "重新画" or was loaded already).
  set(geometry) {
    this.clear();
    const ring = fromGeoJSON(geometry);
    if (!ring) return;
    this.points = ring;
    this.render();
    this.openMap(false).then((L) => {
      if (L && this.points === ring) this.setOutline(ring, "kept");
    });
  }

  drawingPoints() {
    if (!this.working) return [];
    return this.working.getLatLngs().map((p) => [p.lat, p.lng]);
  }

  // The closed outline on the map; `message`: what the status says ("kept" for one that came with a record).
  setOutline(ring, message = "closed") {
    const L = window.L;
    this.removeOutline();
    this.points = ring;
    this.layer = L.polygon(ring, OUTLINE).addTo(this.map);
    this.layer.bindPopup(() => this.describeArea(this.areaM2));
    this.map.fitBounds(this.layer.getBounds(), { maxZoom: 19, padding: [16, 16] });
    if (this.layer.pm) {
      // Drawn or walked, the outline's corners can then be dragged into place.
      this.layer.pm.enable({ allowSelfIntersection: false, snappable: false });
      this.layer.on("pm:edit pm:vertexremoved pm:markerdragend", () => {
        this.points = this.layer.getLatLngs()[0].map((p) => [p.lat, p.lng]);
        this.changed();
      });
    }
    this.status(this.m(message === "closed" && !this.layer.pm ? "walk_closed" : message));
  }

  removeOutline() {
    if (this.layer) this.layer.remove();
    this.layer = null;
  }

  status(text, warning = false) {
    const el = this.el("status");
    el.textContent = text;
    el.className = warning ? "warning" : "";
  }

  changed() {
    this.render();
    if (this.options.onChange) this.options.onChange(this);
  }

  render() {
    const drawing = this.mode === "draw" ? this.drawingPoints() : [];
    const walking = this.mode === "walk" && this.walk ? this.walk.points.map(([lat, lng]) => [lat, lng]) : [];
    const live = this.points || (drawing.length ? drawing : walking);
    const area = live.length >= 3 ? ringAreaM2(live) : null;
    const size = this.el("size");
    size.textContent = area === null ? "" : (this.points ? "" : `${this.m("so_far")} `) + this.describeArea(area);
    this.box.dataset.areaMu = area === null ? "" : (area / this.options.squareMetresPerMu).toFixed(2);
    this.box.dataset.areaState = this.points ? "closed" : this.mode || "none";
    this.el("controls").hidden = !this.mode && !this.points;
    this.el("undo").hidden = !this.mode;
    this.el("finish").hidden = !this.mode;
    this.el("finish").textContent = this.m(this.mode === "walk" ? "walk_close" : "draw_close");
    this.el("draw").textContent = this.m(this.points || this.mode === "draw" ? "draw_again" : "draw");
  }
}
