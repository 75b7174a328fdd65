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
export function searchSpecies(species, query, limit = 12) {
  const q = normalize(query);
  if (!q) return species.slice(0, limit);
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
  scored.sort((a, b) => a[0] - b[0]);
  return scored.slice(0, limit).map(([, s]) => s);
}
