// On the sign-in page (after signing out, or when a session ended without it) and on the page the service
// worker shows while a sign-out made with no signal waits for one: nobody is signed in on this phone, so
// what was kept for the person who left is forgotten (forget.js). The outbox stays (its records are not sent
// yet) and waits for its owner to sign in again; so does the saved basemap.
import { SIGNED_OUT_CHANNEL, forgetPerson } from "./forget.js";

// Whoever is signed in on this phone has left: every page a worker of an older version kept is dropped too.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.ready.then((registration) => {
    if (registration.active) registration.active.postMessage("forget-pages");
  });
}
// Other tabs still showing the last person's pages leave them for the sign-in page (app.js listens).
if ("BroadcastChannel" in window) new BroadcastChannel(SIGNED_OUT_CHANNEL).postMessage("signed-out");
forgetPerson()
  .catch((error) => console.warn("not everything was forgotten", error))
  .finally(() => {
    document.documentElement.dataset.forgotten = "1";
  });

// The sign-out waits for a signal (docs/architecture.md, "Signing out on a shared phone"). The worker sends
// it ahead of any request of this site; this page asks when the signal returns, when the worker says it has
// sent it, and every little while, and once the worker no longer answers "still waiting" itself, shows the
// real sign-in page.
const WAITING = "X-IAS-Signed-Out"; // sw.js: set on its own answers while the sign-out waits
const RETRY_EVERY_MS = 15_000;

async function askAgain() {
  try {
    const response = await fetch("/app/session.json", { credentials: "same-origin", cache: "no-store" });
    if (!response.headers.has(WAITING)) window.location.replace("/sign-in?signed_out=1");
  } catch {
    /* no signal yet */
  }
}

if (document.querySelector("[data-sign-out-waiting]")) {
  window.addEventListener("online", askAgain);
  setInterval(askAgain, RETRY_EVERY_MS);
  // The worker says when it has delivered the sign-out (sw.js), for a request of another tab or a sync.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data === "sign-out-sent") askAgain();
    });
    navigator.serviceWorker.startMessages();
  }
}
