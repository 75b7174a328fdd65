// What the recording forms share: local time inputs, field errors from the API, the result box, photos.
import { t } from "./fielddata.js";
import { preparePhoto } from "./photos.js";

export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// "2026-11-23T09:30" typed on the phone → an ISO time with offset (the phone's own zone).
export function isoFromInput(value) {
  const when = new Date(value);
  return Number.isNaN(when.getTime()) ? value : when.toISOString();
}

export function flatten(errors, prefix = "") {
  const out = {};
  for (const [key, value] of Object.entries(errors || {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(out, flatten(value, name));
    else out[name.replace(/^observation\./, "")] = [].concat(value);
  }
  return out;
}

// A field's key (from the API) as the form names it; method fields ("details.product") by their catalogue
// label when the page knows the methods.
export function fieldLabel(key, methods = []) {
  const name = key.replace(/^observation\./, "");
  const el = document.getElementById("ias-field-labels");
  const labels = el ? JSON.parse(el.textContent) : {};
  if (labels[name]) return labels[name];
  if (name.startsWith("details.")) {
    const spec = methods.flatMap((m) => m.fields).find((f) => f.name === name.slice("details.".length));
    if (spec) return document.documentElement.lang.startsWith("zh") ? spec.label_zh : spec.label_en;
  }
  return labels[name.split(".")[0]] || name;
}

// What to say when the server refused a record: with field reasons, they are shown beside the fields.
export function refusedMessage(error) {
  return error && Object.keys(error.errors || {}).length ? t("rejected_fix_below") : `${t("rejected")} ${error ? error.message : ""}`;
}

// The API's {"message", "errors": {field: [...]}} shown beside the fields it names.
export function showErrors(form, message, errors) {
  for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
  for (const el of form.querySelectorAll("[data-error-for]")) el.remove();
  const box = form.querySelector("[data-form-errors]");
  box.hidden = !message;
  box.textContent = message || "";
  for (const [name, messages] of Object.entries(flatten(errors))) {
    const target =
      form.querySelector(`[data-field="${name}"]`) || form.querySelector(`[data-field="${name.split(".")[0]}"]`);
    if (!target) {
      box.textContent += ` ${fieldLabel(name)}: ${messages.join(" ")}`;
      continue;
    }
    target.classList.add("invalid");
    const p = document.createElement("p");
    p.className = "field-errors";
    p.dataset.errorFor = name;
    p.textContent = messages.join(" ");
    target.append(p);
  }
  if (message) box.scrollIntoView({ block: "center" });
}

// The outbox could not store the record (the phone's storage is full, or the browser refused the write):
// nothing was saved, so the form keeps everything and says so, and the line about the record saved before
// is hidden, which would read as if this one were saved. Saving again once there is space stores it.
export function notStored(form, error) {
  console.warn("not stored in the outbox", error);
  form.querySelector("[data-form-result]").hidden = true;
  showErrors(form, t("not_stored"), {});
}

export function showResult(form, text, link) {
  const result = form.querySelector("[data-form-result]");
  result.hidden = false;
  result.replaceChildren(text);
  if (link) {
    const a = document.createElement("a");
    a.href = link;
    a.textContent = ` ${t("view_record")}`;
    result.append(a);
  }
}

// Photos picked with the form's camera / gallery inputs ([data-photos], optional data-stage). Each photo is
// tied, at the moment it is chosen, to the record the form is filling in (its client_uuid), so a photo still
// being made smaller when Save is tapped goes with that record and never with the next one. Save waits for
// `settled()`; each photo shows a thumbnail and its state (processing, ready, could not be read).
export class PhotoList {
  constructor(form) {
    this.form = form;
    this.recordId = null; // set by the form: the client_uuid of the record being filled in
    this.items = []; // [{key, recordId, blob, name, stage, state, thumb, error}]
    this.waiting = new Set(); // promises of photos still being prepared
    this.nextKey = 1;
    for (const input of form.querySelectorAll("[data-photos]")) {
      input.addEventListener("change", () => {
        for (const file of Array.from(input.files)) this.add(file, input.dataset.stage || null);
        input.value = "";
      });
    }
  }

  add(file, stage) {
    const item = {
      key: this.nextKey++,
      recordId: this.recordId,
      blob: null,
      name: file.name,
      stage,
      state: "processing",
      thumb: URL.createObjectURL(file),
      error: null,
    };
    this.items.push(item);
    this.render();
    const work = preparePhoto(file)
      .then((prepared) => {
        item.blob = prepared.blob;
        item.name = prepared.name;
        item.state = "ready";
      })
      .catch((error) => {
        item.state = "failed";
        item.error = String(error && error.message ? error.message : error);
      })
      .finally(() => {
        this.waiting.delete(work);
        this.render();
      });
    this.waiting.add(work);
  }

  get processing() {
    return this.items.some((p) => p.state === "processing");
  }

  // Resolves when no photo is being prepared (photos added meanwhile are waited for too).
  async settled() {
    while (this.waiting.size) await Promise.allSettled([...this.waiting]);
  }

  // Before Save queues a record: waits for its photos (saying so, never a disabled button with no
  // message) and answers false, with the reason shown, when one of them could not be read.
  async readyFor(recordId, submit) {
    if (this.processing) {
      submit.disabled = true;
      showResult(this.form, t("waiting_photos"));
      await this.settled();
    }
    if (this.items.some((p) => p.recordId === recordId && p.state === "failed")) {
      showErrors(this.form, t("photo_failed_remove"), { photos: [t("photo_failed_remove")] });
      return false;
    }
    return true;
  }

  // Photos that came with a record reopened from the outbox (already prepared).
  restore(photos, recordId) {
    for (const p of photos) {
      if (p.sent || !p.blob) continue;
      this.items.push({
        key: this.nextKey++,
        recordId,
        blob: p.blob,
        name: p.name,
        stage: p.stage || null,
        state: "ready",
        thumb: URL.createObjectURL(p.blob),
        error: null,
      });
    }
    this.render();
  }

  remove(item) {
    this.items = this.items.filter((p) => p !== item);
    URL.revokeObjectURL(item.thumb);
    this.render();
  }

  render() {
    const list = this.form.querySelector("[data-photo-list]");
    list.replaceChildren();
    for (const photo of this.items) {
      const li = document.createElement("li");
      li.className = "thumb";
      li.dataset.photo = photo.name;
      li.dataset.photoState = photo.state;
      const img = document.createElement("img");
      img.src = photo.thumb;
      img.alt = photo.name;
      const caption = document.createElement("span");
      caption.className = "small";
      const stage = photo.stage ? `${t(`stage_${photo.stage}`)} · ` : "";
      const state =
        photo.state === "processing"
          ? t("photo_processing")
          : photo.state === "failed"
            ? `${t("photo_too_big")} ${photo.error}`
            : `${Math.round(photo.blob.size / 1024)} KB`;
      caption.textContent = `${stage}${state}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "✕";
      remove.setAttribute("aria-label", t("remove_photo"));
      remove.addEventListener("click", () => this.remove(photo));
      li.append(img, caption, remove);
      list.append(li);
    }
  }

  // The photos of one record, ready to wait in the outbox with it.
  forOutbox(recordId) {
    return this.items
      .filter((p) => p.recordId === recordId && p.state === "ready")
      .map((p) => ({ blob: p.blob, name: p.name, stage: p.stage, sent: false }));
  }

  // After a save: the record's photos leave the form; the next record starts with none.
  clear() {
    for (const p of this.items) URL.revokeObjectURL(p.thumb);
    this.items = [];
    this.render();
  }
}
