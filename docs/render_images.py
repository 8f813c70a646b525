"""Remake the README's pictures of the Laguna report from a demo folder (``migdata demo``).

- ``docs/report.png``: the report on screen, its first lines and the map and sorted bars of its
  cities and municipalities (the other sections left out), 640 px wide;
- ``docs/report_print.png``: pages 1, 5 and 6 of the report printed on A4 (print CSS), side by side.

Needs a Chromium-family browser (headless), ``pdftoppm`` (poppler-utils), Pillow and
BeautifulSoup (installed with matplotlib and nbconvert).

Usage:
    migdata demo --out demo-out
    python docs/render_images.py demo-out
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PRINTED_PAGES = (1, 5, 6)


def browser(profile: Path, *args: str) -> None:
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if exe is None:
        sys.exit("no Chromium-family browser found")
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={profile}", *args], check=True, capture_output=True)


def small_png(image, path: Path) -> None:
    """256 colours without dithering: the map's classes keep their own colours."""
    from PIL import Image

    image.quantize(colors=256, method=Image.MEDIANCUT, dither=Image.NONE).save(path, optimize=True)


def screen_excerpt(html: str, tmp: Path) -> None:
    import bs4
    from PIL import Image, ImageOps

    soup = bs4.BeautifulSoup(html, "html.parser")
    cells = soup.select("div.jp-Cell")
    title = next(c for c in cells if c.find("h1"))
    maps = next(c for c in cells if any(i.get("alt", "").startswith("Map:") for i in c.find_all("img")))
    for c in cells:
        if c is not title and c is not maps:
            c.decompose()
    for img in maps.find_all("img")[2:]:        # the first map and its bars
        img.decompose()
    page = tmp / "excerpt.html"
    page.write_text(str(soup), encoding="utf-8")
    shot = tmp / "excerpt.png"
    browser(tmp / "profile", "--window-size=900,3000", f"--screenshot={shot}", page.as_uri())
    im = Image.open(shot).convert("RGB")
    box = ImageOps.invert(im.convert("L")).point(lambda v: 255 if v > 8 else 0).getbbox()
    im = im.crop((0, max(box[1] - 25, 0), im.width, min(box[3] + 25, im.height)))
    small_png(im.resize((640, round(im.height * 640 / im.width)), Image.LANCZOS), DOCS / "report.png")


def printed_pages(html: str, tmp: Path) -> None:
    from PIL import Image, ImageDraw

    page = tmp / "a4.html"
    page.write_text(html.replace("</head>", "<style>@page { size: A4; }</style></head>", 1), encoding="utf-8")
    pdf = tmp / "a4.pdf"
    browser(tmp / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    pages = []
    for n in PRINTED_PAGES:
        subprocess.run(["pdftoppm", "-r", "72", "-f", str(n), "-l", str(n), "-png", "-singlefile", str(pdf),
                        str(tmp / f"p{n}")], check=True)
        pages.append(Image.open(tmp / f"p{n}.png").convert("RGB"))
    w, h = pages[0].size
    gap = 16
    sheet = Image.new("RGB", (len(pages) * (w + gap) + gap, h + 2 * gap), "#d9d9d9")
    for i, p in enumerate(pages):
        x = gap + i * (w + gap)
        sheet.paste(p, (x, gap))
        ImageDraw.Draw(sheet).rectangle((x - 1, gap - 1, x + w, gap + h), outline="#888888")
    small_png(sheet, DOCS / "report_print.png")


def main(demo_dir: str) -> None:
    html = (Path(demo_dir) / "report_laguna.html").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="migdata-docs-") as t:
        screen_excerpt(html, Path(t))
        printed_pages(html, Path(t))
    for name in ("report.png", "report_print.png"):
        print(f"wrote docs/{name} ({(DOCS / name).stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "migdata-demo")
