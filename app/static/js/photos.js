// Photos are made smaller on the phone before they wait in the outbox, when they are large: a 12 MP
// photo is ~5 MB, which one bar of signal may never finish sending. The photo's EXIF block (time and GPS,
// which the server uses to corroborate the record) is carried over, with its orientation reset because
// the pixels are already turned upright.

const MAX_EDGE = 2560;
const MAX_BYTES = 2.5 * 1024 * 1024;
const QUALITY = 0.85;

function exifSegment(bytes) {
  // JPEG: FFD8, then segments FFxx + 2-byte length. APP1 "Exif\0\0" holds the EXIF block.
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker === 0xda || length < 2) break; // start of scan: no more metadata
    if (marker === 0xe1 && bytes[i + 4] === 0x45 && bytes[i + 5] === 0x78 && bytes[i + 6] === 0x69 && bytes[i + 7] === 0x66) {
      return bytes.slice(i, i + 2 + length);
    }
    i += 2 + length;
  }
  return null;
}

function resetOrientation(segment) {
  // segment: FFE1 len "Exif\0\0" then TIFF: byte order, 42, IFD0 offset; IFD0 entries of 12 bytes.
  const tiff = 10;
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  if (segment.length < tiff + 8) return;
  const little = view.getUint16(tiff) === 0x4949;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > segment.length) return;
  const count = view.getUint16(ifd, little);
  for (let n = 0; n < count; n++) {
    const entry = ifd + 2 + n * 12;
    if (entry + 12 > segment.length) return;
    if (view.getUint16(entry, little) === 0x0112) {
      view.setUint16(entry + 8, 1, little);
      return;
    }
  }
}

async function encode(bitmap, width, height) {
  if (typeof OffscreenCanvas !== "undefined") {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
    return canvas.convertToBlob({ type: "image/jpeg", quality: QUALITY });
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
}

// Returns {blob, name, resized}. Anything the browser cannot decode (HEIC on most phones, a file that is not
// an image) goes as it is: the server decides, and says why if it refuses.
export async function preparePhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { blob: file, name: file.name, resized: false };
  }
  const edge = Math.max(bitmap.width, bitmap.height);
  if (edge <= MAX_EDGE && file.size <= MAX_BYTES) {
    bitmap.close();
    return { blob: file, name: file.name, resized: false };
  }
  const scale = Math.min(1, MAX_EDGE / edge);
  const width = Math.round(bitmap.width * scale);
  const height = Math.round(bitmap.height * scale);
  const jpeg = await encode(bitmap, width, height);
  bitmap.close();
  if (!jpeg) return { blob: file, name: file.name, resized: false };
  const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  const exif = exifSegment(head);
  let blob = jpeg;
  if (exif) {
    resetOrientation(exif);
    const body = new Uint8Array(await jpeg.arrayBuffer());
    blob = new Blob([body.slice(0, 2), exif, body.slice(2)], { type: "image/jpeg" });
  }
  const name = file.name.replace(/\.[^.]+$/, "") + ".jpg";
  return { blob, name, resized: true };
}
