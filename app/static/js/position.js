// Live position for the capture forms: watchPosition with high accuracy, the accuracy shown, a good fix
// taken automatically, a poor one kept only until a better one arrives, and a map to set it by hand.
import { t } from "./fielddata.js";

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
  const map = L.map(element, { zoomControl: true, attributionControl: true });
  addBasemap(L, map);
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
  marker.on("dragend", () => {
    const p = marker.getLatLng();
    watcher.setOnMap(Number(p.lat.toFixed(7)), Number(p.lng.toFixed(7)));
  });
  map.on("click", (event) => watcher.setOnMap(Number(event.latlng.lat.toFixed(7)), Number(event.latlng.lng.toFixed(7))));
  return { map, show };
}
