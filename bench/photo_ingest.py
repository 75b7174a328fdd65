"""Photo ingest against bare Pillow, on a 12-megapixel phone-like JPEG (contract §5 budget: at most 1.3×).

The photo is made in memory (4000×3000, smooth gradients under sensor-like noise, so that it
compresses like a photograph: ~5 MB at quality 92) with the EXIF a phone writes (orientation 6,
time, GPS) and an embedded sRGB profile, as many Android phones do.

The baseline is the least anyone could do with Pillow: decode all of it, resize to fit 1600 px,
resize that to fit 320 px, save both as JPEG (Lanczos, quality 85, as ours). `process_photo` does
that and more: sniffing, limits, EXIF, colour management, orientation. Runs are interleaved
(alternating which goes first) so that drifts in machine load hit both alike; medians are reported.

    .venv/bin/python bench/photo_ingest.py [--runs 15] [--json bench/results/photo_ingest.jsonl] [--check]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import PIL  # noqa: TID251 - a benchmark of Pillow itself
from PIL import Image, ImageCms, TiffImagePlugin  # noqa: TID251

from app.photos.processing import process_photo

BUDGET = 1.3
WIDTH, HEIGHT = 4000, 3000


def make_photo() -> bytes:
    size = (WIDTH, HEIGHT)
    smooth = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    # Noise at two scales: fine grain, and blotches like foliage.
    grain = Image.merge("RGB", [Image.effect_noise(size, sigma) for sigma in (40, 45, 50)])
    blotches = Image.effect_noise((WIDTH // 16, HEIGHT // 16), 64).resize(size, Image.Resampling.BICUBIC)
    textured = Image.blend(smooth, Image.merge("RGB", (blotches, blotches, blotches)), 0.3)
    image = Image.blend(textured, grain, 0.3)

    exif = Image.Exif()
    exif[0x0112] = 6  # held upright: stored sideways
    exif[0x0132] = "2024:05:01 10:12:13"
    exif.get_ifd(0x8769).update({0x9003: "2024:05:01 10:12:13", 0x9011: "+08:00"})
    rational = TiffImagePlugin.IFDRational
    exif.get_ifd(0x8825).update(
        {
            1: "N",
            2: (rational(30, 1), rational(40, 1), rational(1234, 100)),
            3: "E",
            4: (rational(107, 1), rational(48, 1), rational(5678, 100)),
            5: b"\x00",
            6: rational(4555, 10),
        }
    )
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif.tobytes(), icc_profile=srgb)
    return buffer.getvalue()


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    scale = min(1.0, longest / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def baseline(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()
    display = image.resize(_fit(image.size, 1600), Image.Resampling.LANCZOS)
    thumbnail = display.resize(_fit(display.size, 320), Image.Resampling.LANCZOS)
    for derivative in (display, thumbnail):
        derivative.save(io.BytesIO(), "JPEG", quality=85)


def ours(data: bytes) -> None:
    process_photo(data, max_bytes=50 * 1024 * 1024, max_pixels=50_000_000, local_tz=ZoneInfo("Asia/Shanghai"))


def _timed(function: Callable[[bytes], None], data: bytes) -> float:
    start = time.perf_counter()
    function(data)
    return (time.perf_counter() - start) * 1000


def measure(data: bytes, runs: int) -> tuple[list[float], list[float]]:
    baseline(data), ours(data)  # warm up: plugin imports, profile and transform caches
    base_ms: list[float] = []
    ours_ms: list[float] = []
    for run in range(runs):
        pair = ((baseline, base_ms), (ours, ours_ms))
        for function, times in pair if run % 2 == 0 else reversed(pair):
            times.append(_timed(function, data))
    return base_ms, ours_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each (default 15)")
    parser.add_argument("--json", type=Path, help="append the result as one JSON line to this file")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is above {BUDGET}")
    args = parser.parse_args()

    data = make_photo()
    base_ms, ours_ms = measure(data, args.runs)
    base, mine = statistics.median(base_ms), statistics.median(ours_ms)
    ratio = mine / base
    print(f"input: {WIDTH}×{HEIGHT} JPEG, {len(data) / 1e6:.1f} MB; {args.runs} interleaved runs each")
    print(f"bare Pillow    median {base:7.1f} ms   best {min(base_ms):7.1f} ms")
    print(f"process_photo  median {mine:7.1f} ms   best {min(ours_ms):7.1f} ms")
    print(f"ratio {ratio:.2f} (budget {BUDGET})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "bench": "photo_ingest",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "machine": platform.machine(),
            "input_bytes": len(data),
            "runs": args.runs,
            "baseline_ms": round(base, 1),
            "ours_ms": round(mine, 1),
            "ratio": round(ratio, 3),
            "budget": BUDGET,
        }
        with args.json.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
    return 1 if args.check and ratio > BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
