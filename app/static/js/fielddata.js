// Reference data for the forms (species, townships, habitats, control methods) and translated strings.
// The service worker keeps the last copy of /app/field-data.json, so this works with no signal.

let messages = null;

export function t(key) {
  if (messages === null) {
    const el = document.getElementById("ias-messages");
    messages = el ? JSON.parse(el.textContent) : {};
  }
  return messages[key] ?? key;
}

let cached = null;

export async function fieldData() {
  if (cached) return cached;
  const response = await fetch("/app/field-data.json", { credentials: "same-origin" });
  if (!response.ok) throw new Error(`field data: ${response.status}`);
  cached = await response.json();
  return cached;
}

export function isZh() {
  return document.documentElement.lang.startsWith("zh");
}

// Lower case, no spaces or tone marks: "Fu Shou Luo" and "fushouluo" and "FSL" compare alike.
export function normalize(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/\s+/g, "");
}

// Best match first: exact Chinese/scientific name, then prefixes, then any substring of a name form
// (Chinese name, aliases, pinyin, pinyin initials, scientific name, synonyms).
// Ties go to the species on the user's bureau's own district list (district_first).
export function searchSpecies(species, query, limit = 12) {
  const q = normalize(query);
  const local = (s) => (s.district_first ? 0 : 1);
  if (!q) return [...species].sort((a, b) => local(a) - local(b)).slice(0, limit);
  const scored = [];
  for (const s of species) {
    const forms = [s.name_zh, s.name_sci, ...s.aliases, ...s.terms].map(normalize);
    let best = Infinity;
    for (const [i, form] of forms.entries()) {
      const rank = form === q ? 0 : form.startsWith(q) ? 1 : form.includes(q) ? 2 : Infinity;
      best = Math.min(best, rank * 10 + (i < 2 ? 0 : 1));
    }
    if (best < Infinity) scored.push([best, s]);
  }
  scored.sort((a, b) => a[0] - b[0] || local(a[1]) - local(b[1]));
  return scored.slice(0, limit).map(([, s]) => s);
}

// The found species grouped by census category (for the user's bureau's census when the species has
// one there), groups in the order of their best match: [{ code, species: [...] }].
export function groupByCensusCategory(found, bureau) {
  const prefix = bureau === "agriculture" ? "ag_" : bureau === "forestry" ? "fg_" : "";
  const groups = new Map();
  for (const s of found) {
    const categories = s.census_categories || [];
    const code = categories.find((c) => prefix && c.startsWith(prefix)) || categories[0] || "";
    if (!groups.has(code)) groups.set(code, []);
    groups.get(code).push(s);
  }
  return [...groups].map(([code, species]) => ({ code, species }));
}
