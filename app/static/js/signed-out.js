// On the sign-in page (after signing out, or when a session ended without it): the pages the service worker
// saved belong to the person who left; forget them.
// The outbox stays (its records are not sent yet) and waits for its owner to sign in again.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.ready.then((registration) => {
    if (registration.active) registration.active.postMessage("forget-pages");
  });
}
if ("caches" in window) {
  caches.delete("ias-pages");
  caches.delete("ias-data");
}
localStorage.removeItem("ias:offline-ready"); // what was saved for them is gone with it
