"""Upload and download throughput of a 50 MB file, and thumbnail time of a 12-megapixel photo.

    .venv/bin/python benchmarks/documents.py [--size-mb 50] [--runs 3]

Starts a real `agora serve` (gunicorn, one worker) on a throwaway instance, logs in over HTTP and
prints medians: upload and download in MB/s, a 1 MB Range request, and the thumbnail of a
4000 × 3000 JPEG the first time (made) and after (kept).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import tempfile
import time

from _client import AGORA, PASSWORD, Browser, free_port
from werkzeug.datastructures import FileStorage, MultiDict


def upload(browser: Browser, name: str, data: bytes) -> float:
    fields = MultiDict(
        [
            ("csrf_token", browser.token("/s/mesure/documents/")),
            ("on_conflict", "version"),
            ("files", FileStorage(io.BytesIO(data), filename=name)),
        ]
    )
    began = time.perf_counter()
    browser.post("/s/mesure/documents/upload", fields)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from PIL import Image

    instance = tempfile.mkdtemp(prefix="agora-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(AGORA_INSTANCE=instance, AGORA_MAX_UPLOAD_MB=str(args.size_mb + 10))
    run = lambda *a, **kw: subprocess.run([AGORA, *a], env=env, check=True, capture_output=True, text=True, **kw)  # noqa: E731
    run("init")
    run("user", "create", "mesure", "--password", PASSWORD)
    run("space", "create", "mesure", "--name", "Espace de mesure", "--admin", "mesure", "--quota", "100000")
    port = free_port()
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:
            if "Booting worker" in line:
                break
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.post(
            "/login",
            MultiDict([("csrf_token", browser.token("/login")), ("username", "mesure"), ("password", PASSWORD)]),
        )
        data = os.urandom(args.size_mb * 1024 * 1024)
        ups = [upload(browser, "film.bin", data) for _ in range(args.runs)]
        page = browser.get("/s/mesure/documents/").decode()
        document_id = re.search(r'/documents/(\d+)"[^>]*>film\.bin', page).group(1)
        downs = []
        for _ in range(args.runs):
            began = time.perf_counter()
            assert browser.drain(f"/s/mesure/documents/{document_id}/download") == len(data)
            downs.append(time.perf_counter() - began)
        ranges = []
        for n in range(args.runs * 3):
            began = time.perf_counter()
            start = n * 1024 * 1024
            browser.drain(
                f"/s/mesure/documents/{document_id}/download", {"Range": f"bytes={start}-{start + 1024 * 1024 - 1}"}
            )
            ranges.append(time.perf_counter() - began)

        photo = io.BytesIO()
        Image.effect_noise((4000, 3000), 60).convert("RGB").save(photo, "JPEG", quality=90)
        thumbs_first, thumbs_kept = [], []
        for n in range(args.runs):
            upload(browser, f"photo-{n}.jpg", photo.getvalue())
            page = browser.get("/s/mesure/documents/").decode()
            photo_id = re.search(rf'/documents/(\d+)"[^>]*>photo-{n}\.jpg', page).group(1)
            for bucket in (thumbs_first, thumbs_kept):
                began = time.perf_counter()
                browser.get(f"/s/mesure/documents/{photo_id}/thumbnail")
                bucket.append(time.perf_counter() - began)
    finally:
        server.terminate()
        server.communicate(timeout=30)

    mb = args.size_mb
    print(f"file: {mb} MB, {args.runs} runs, one gunicorn worker, loopback HTTP")
    print(f"upload:   median {statistics.median(ups):.2f} s  -> {mb / statistics.median(ups):.0f} MB/s")
    print(f"download: median {statistics.median(downs):.2f} s  -> {mb / statistics.median(downs):.0f} MB/s")
    print(f"range request of 1 MB: median {statistics.median(ranges) * 1000:.1f} ms")
    print(f"photo: 4000x3000 JPEG ({len(photo.getvalue()) / 1e6:.1f} MB)")
    print(f"thumbnail, first request (made): median {statistics.median(thumbs_first) * 1000:.0f} ms")
    print(f"thumbnail, later requests (kept): median {statistics.median(thumbs_kept) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
