// What the phone forgets of a person when they sign out or their session ends, so the next person on a
// shared phone is never shown it (docs/architecture.md, "Signing out on a shared phone", has the table of
// every key and why it is kept or forgotten). Forgotten unless listed here as kept:
// - the outbox (IndexedDB "ias-tracker"): unsent records, kept for their owner's next sign-in (outbox.js);
// - the route being walked ("ias:route:active" and its points, IndexedDB "ias-routes"): an unsent record
//   in the making, kept for its walker like the outbox (route-store.js reads only its own walker's);
// - of "ias:sent-ids", the ids an unsent item still waits for (outbox.forgetSentIds);
// - saved basemap tiles ("ias-tiles-*" caches): map imagery of a township, the station's, not a person's.
import * as outbox from "./outbox.js";

const ROUTE_KEY = "ias:route:active"; // route-store.js
const KEPT_KEYS = new Set([ROUTE_KEY, outbox.SENT_IDS]);
// The service worker's copies of the person's pages and field data (sw.js, PAGE_CACHE and DATA_CACHE).
const PERSONAL_CACHES = ["ias-pages", "ias-data"];

// Told by the sign-in page (signed-out.js) to every tab of the app: nobody is signed in here any more.
export const SIGNED_OUT_CHANNEL = "ias-signed-out";

export async function forgetPerson() {
  if ("caches" in window) await Promise.all(PERSONAL_CACHES.map((name) => caches.delete(name)));
  // Everything a form kept for the next record (last township, habitat, place name), what was saved for
  // offline use, and whatever a later module keeps, unless it is listed above.
  for (const key of Object.keys(localStorage)) {
    if (!KEPT_KEYS.has(key)) localStorage.removeItem(key);
  }
  sessionStorage.clear();
  await outbox.forgetSentIds().catch((error) => console.warn("sent ids not pruned", error));
  // With no route being walked, no route's points are left to keep (a route ends by dropping them).
  if (localStorage.getItem(ROUTE_KEY) === null && "indexedDB" in window) indexedDB.deleteDatabase("ias-routes");
}
