// What the recording forms share: local time inputs, field errors from the API, the result box, photos.
import { t } from "./fielddata.js";
import { preparePhoto } from "./photos.js";

export const SQUARE_METRES_PER_MU = 2000 / 3;

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
      box.textContent += ` ${name}: ${messages.join(" ")}`;
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

// Photos picked in the form's file inputs ([data-photos], optional data-stage), made smaller when large.
export class PhotoList {
  constructor(form) {
    this.form = form;
    this.items = []; // [{blob, name, stage}]
    for (const input of form.querySelectorAll("[data-photos]")) {
      input.addEventListener("change", async () => {
        for (const file of Array.from(input.files)) {
          const prepared = await preparePhoto(file);
          this.items.push({ ...prepared, stage: input.dataset.stage || null });
        }
        input.value = "";
        this.render();
      });
    }
  }

  render() {
    const list = this.form.querySelector("[data-photo-list]");
    list.replaceChildren();
    this.items.forEach((photo, index) => {
      const li = document.createElement("li");
      const row = document.createElement("div");
      row.className = "item row";
      row.dataset.photo = photo.name;
      const kb = Math.round(photo.blob.size / 1024);
      row.append(`${photo.stage ? `[${photo.stage}] ` : ""}${photo.name} · ${kb} KB`);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "✕";
      remove.setAttribute("aria-label", "remove");
      remove.addEventListener("click", () => {
        this.items.splice(index, 1);
        this.render();
      });
      row.append(remove);
      li.append(row);
      list.append(li);
    });
  }

  forOutbox() {
    return this.items.map((p) => ({ blob: p.blob, name: p.name, stage: p.stage, sent: false }));
  }

  clear() {
    this.items = [];
    this.render();
  }
}
