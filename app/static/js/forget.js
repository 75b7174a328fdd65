// What the phone forgets of a person when they sign out or their session ends, so the next person on a
// shared phone is never shown it (docs/architecture.md, "Signing out on a shared phone", has the table of
// every key and why it is kept or forgotten). Forgotten unless listed here as kept:
// - the outbox (IndexedDB "ias-tracker"): unsent records, kept for their owner's next sign-in (outbox.js);
// - the routes being walked ("ias:route:active:<user id>" and their points, IndexedDB "ias-routes"):
//   unsent records in the making, kept for their walkers like the outbox (one key a walker, route-store.js);
// - of "ias:sent-ids", the ids an unsent item still waits for (outbox.forgetSentIds);
// - saved basemap tiles ("ias-tiles-*" caches): map imagery of a township, the station's, not a person's.
import * as outbox from "./outbox.js";
import * as routes from "./route-store.js";

const KEPT_KEYS = new Set([outbox.SENT_IDS]);
const kept = (key) => KEPT_KEYS.has(key) || key === "ias:route:active" || key.startsWith(routes.ACTIVE_PREFIX);
// The service worker's copies of the person's pages and field data (sw.js, PAGE_CACHE and DATA_CACHE).
const PERSONAL_CACHES = ["ias-pages", "ias-data"];

// Told by the sign-in page (signed-out.js) to every tab of the app: nobody is signed in here any more.
export const SIGNED_OUT_CHANNEL = "ias-signed-out";

export async function forgetPerson() {
  if ("caches" in window) await Promise.all(PERSONAL_CACHES.map((name) => caches.delete(name)));
  // Everything a form kept for the next record (last township, habitat, place name), what was saved for
  // offline use, and whatever a later module keeps, unless it is listed above.
  for (const key of Object.keys(localStorage)) {
    if (!kept(key)) localStorage.removeItem(key);
  }
  sessionStorage.clear();
  await outbox.forgetSentIds().catch((error) => console.warn("sent ids not pruned", error));
  // With no route being walked, no route's points are left to keep (a route ends by dropping them).
  if (!routes.anyKept() && "indexedDB" in window) indexedDB.deleteDatabase("ias-routes");
}
