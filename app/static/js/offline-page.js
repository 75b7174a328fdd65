// The page the service worker shows for a page not kept on this phone, with no connection. It offers the
// record form only when the phone keeps it: after someone signed out (forget.js) nothing is kept, and the
// button would only bring this page back.
const form = document.querySelector("a[data-offline-can-record]");
const kept = form && "caches" in window ? await caches.match(form.getAttribute("href"), { ignoreVary: true }) : true;
for (const el of document.querySelectorAll("[data-offline-can-record]")) el.hidden = !kept;
for (const el of document.querySelectorAll("[data-offline-cannot-record]")) el.hidden = Boolean(kept);
