// What a form says about the item it saved last, kept up to date as the outbox sends it: the record form
// (capture.js), the control form (control.js) and the plot form (plot.js) alike. Waiting, sending, waiting
// for a sign-in, refused (with a link to fix it in the form, same client_uuid), sent with a photo refused;
// "sent" comes from the outbox's "ias:sent" event (onSent).
import * as outbox from "./outbox.js";
import { t } from "./fielddata.js";
import { refusedMessage, showResult } from "./forms.js";

// `photoLink(item)`: where the saved thing is, once sent (a photo refused: the rest is on the server).
export async function showSavedState(form, id, { photoLink = () => null } = {}) {
  if (!id) return;
  const item = await outbox.get(id);
  if (item === undefined) return; // sent: "ias:sent" says so
  const result = form.querySelector("[data-form-result]");
  result.dataset.state = item.id === outbox.sendingId ? "sending" : item.state;
  if (item.state === outbox.STATES.REJECTED) {
    showResult(form, refusedMessage(item.error), null);
    const fix = document.createElement("a");
    fix.className = "button";
    fix.href = `${window.location.pathname}?outbox=${encodeURIComponent(item.id)}`;
    fix.textContent = t("fix_in_form");
    fix.dataset.outboxFix = "";
    result.append(" ", fix);
  } else if (item.state === outbox.STATES.PHOTO_REFUSED) {
    const refused = item.photos.filter((p) => p.error).map((p) => `${p.name}: ${p.error}`).join("; ");
    showResult(form, `${t("sent_photo_refused")} ${refused}`, photoLink(item));
  } else if (item.state === outbox.STATES.SIGN_IN) {
    showResult(form, t("saved_sign_in"));
  } else {
    showResult(form, item.id === outbox.sendingId ? `${t("saved_local")} ${t("syncing")}` : t("saved_local"));
  }
}

// `callback(item)` when the outbox has sent the item `savedId()` names; the form's result says "sent".
export function onSent(form, savedId, callback) {
  window.addEventListener("ias:sent", (event) => {
    const item = event.detail.item;
    if (!item || item.id !== savedId()) return;
    form.querySelector("[data-form-result]").dataset.state = "sent";
    callback(item);
  });
}
