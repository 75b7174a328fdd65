// Live position for the capture forms: watchPosition with high accuracy, the accuracy shown, a good fix
// taken automatically, a poor one kept only until a better one arrives, and a map to set it by hand.
import { t } from "./fielddata.js";
import { addOutlines, addScale, newMap } from "./mapkit.js";

export class PositionWatcher {
  constructor({ limitM, onChange }) {
    this.limitM = limitM;
    this.onChange = onChange;
    this.fix = null; // {latitude, longitude, accuracy_m, altitude_m, source}
    this.status = "waiting";
    this.watchId = null;
  }

  start() {
    this.stop();
    if (!("geolocation" in navigator)) {
      this.update("unavailable");
      return;
    }
    this.update(this.fix && this.fix.source === "gps" ? this.status : "waiting");
    this.watchId = navigator.geolocation.watchPosition(
      (p) => this.take(p),
      (error) => this.update(error.code === error.PERMISSION_DENIED ? "denied" : this.fix ? this.status : "unavailable"),
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
    );
  }

  stop() {
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
  }

  take(p) {
    const accuracy = p.coords.accuracy;
    const current = this.fix && this.fix.source === "gps" ? this.fix.accuracy_m : Infinity;
    // A fix within the limit always replaces the last (people walk); a poor one only a worse one.
    if (accuracy <= this.limitM || accuracy <= current) {
      this.fix = {
        latitude: p.coords.latitude,
        longitude: p.coords.longitude,
        accuracy_m: Math.round(accuracy * 10) / 10,
        altitude_m: p.coords.altitude === null ? null : Math.round(p.coords.altitude * 10) / 10,
        source: "gps",
      };
    }
    this.update(this.fix.accuracy_m <= this.limitM ? "good" : "poor");
  }

  setOnMap(latitude, longitude) {
    this.stop();
    this.fix = { latitude, longitude, accuracy_m: null, altitude_m: null, source: "map" };
    this.update("map");
  }

  // Coordinates typed in by hand (GPS denied): recorded as their own source, not as a map pick.
  setTyped(latitude, longitude) {
    this.stop();
    this.fix = { latitude, longitude, accuracy_m: null, altitude_m: null, source: "typed" };
    this.update("typed");
  }

  // A position that came with a saved record (reopened to be fixed): kept until GPS is asked for again.
  keep(fix) {
    this.stop();
    this.fix = fix;
    this.update("kept");
  }

  update(status) {
    this.status = status;
    this.onChange(this);
  }

  describe() {
    const m = this.fix && this.fix.accuracy_m !== null ? String(Math.round(this.fix.accuracy_m)) : "";
    return {
      waiting: t("gps_waiting"),
      good: t("gps_good").replace("{m}", m),
      poor: t("gps_poor").replace("{m}", m),
      denied: t("gps_denied"),
      unavailable: t("gps_unavailable"),
      map: t("gps_map"),
      typed: t("gps_typed"),
      kept: t("gps_kept"),
    }[this.status];
  }
}

// A basemap from the page's <meta name="ias-basemap"> (configured on the server), or none at all.
export function addBasemap(L, map) {
  const meta = document.querySelector('meta[name="ias-basemap"]');
  if (!meta || !meta.content) return;
  const layers = JSON.parse(meta.content);
  for (const layer of layers) {
    L.tileLayer(layer.url, {
      subdomains: layer.subdomains || "abc",
      maxZoom: layer.max_zoom || 18,
      attribution: layer.attribution || "",
    }).addTo(map);
  }
}

// A small map with a marker that can be dragged (or tapped into place) to correct the position.
export function positionMap(element, watcher, bounds) {
  const L = window.L;
  if (!L || !element) return null;
  const map = newMap(L, element, { zoomControl: true, attributionControl: true });
  addBasemap(L, map);
  // The form keeps its own GPS fix and accuracy circle; the outlines and a scale make the map readable.
  addOutlines(L, map);
  addScale(L, map);
  if (bounds) map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]]);
  const marker = L.marker([0, 0], { draggable: true, keyboard: true });
  const circle = L.circle([0, 0], { radius: 1, weight: 1 });
  let placed = false;
  const show = (fix) => {
    if (!fix) return;
    const at = [fix.latitude, fix.longitude];
    marker.setLatLng(at);
    circle.setLatLng(at).setRadius(fix.accuracy_m || 0);
    if (!placed) {
      marker.addTo(map);
      circle.addTo(map);
      map.setView(at, 17);
      placed = true;
    }
  };
  // A tap or a drag on the map only proposes a point; a confirming tap takes it, so a stray touch on the small
  // map never replaces a good GPS fix.
  const confirm = document.querySelector("[data-map-confirm]");
  const propose = (lat, lng) => {
    const at = [Number(lat.toFixed(7)), Number(lng.toFixed(7))];
    marker.setLatLng(at);
    if (!placed) {
      marker.addTo(map);
      placed = true;
    }
    if (!confirm) return watcher.setOnMap(at[0], at[1]);
    confirm.hidden = false;
    confirm.dataset.lat = String(at[0]);
    confirm.dataset.lng = String(at[1]);
    confirm.textContent = t("map_use_point").replace("{point}", `${at[0].toFixed(6)}, ${at[1].toFixed(6)}`);
    return undefined;
  };
  if (confirm) {
    confirm.addEventListener("click", () => {
      confirm.hidden = true;
      watcher.setOnMap(Number(confirm.dataset.lat), Number(confirm.dataset.lng));
    });
  }
  marker.on("dragend", () => {
    const p = marker.getLatLng();
    propose(p.lat, p.lng);
  });
  map.on("click", (event) => propose(event.latlng.lat, event.latlng.lng));
  const cancelProposal = () => {
    if (confirm) confirm.hidden = true;
    if (watcher.fix) show(watcher.fix);
  };
  return { map, show: (fix) => { if (!confirm || confirm.hidden) show(fix); }, cancelProposal };
}

// Typed coordinates, for when GPS is denied: "29.6712, 107.8034" or degrees, minutes and seconds
// ("29°40'16.3\"N 107°48'12.2\"E", "北纬29度40分16秒 东经107度48分12秒"). Returns [lat, lon] or null.
export function parseCoordinates(text) {
  const parts = String(text)
    .trim()
    .replace(/[，,;；]/g, " , ")
    .split(/\s*,\s*|(?<=[NSEW北南东西])\s+|\s+(?=[北南东西])/i)
    .map((p) => p.trim())
    .filter(Boolean);
  const values = [];
  let swapped = false;
  for (const part of parts) {
    const numbers = (part.match(/\d+(?:\.\d+)?/g) || []).map(Number);
    if (numbers.length === 0 || numbers.length > 3) return null;
    const [d, m = 0, s = 0] = numbers;
    if (m >= 60 || s >= 60) return null;
    let value = d + m / 60 + s / 3600;
    if (/[SW南西]|^-/i.test(part)) value = -value;
    if (/[EW东西]|经/i.test(part) && values.length === 0) swapped = true;
    values.push(value);
  }
  if (values.length !== 2) return null;
  // "107.80, 30.67": longitude first, as GIS software writes it; a first value beyond ±90 is no latitude.
  if (!swapped && Math.abs(values[0]) > 90 && Math.abs(values[1]) <= 90) swapped = true;
  const [lat, lon] = swapped ? [values[1], values[0]] : values;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [Math.round(lat * 1e7) / 1e7, Math.round(lon * 1e7) / 1e7];
}
