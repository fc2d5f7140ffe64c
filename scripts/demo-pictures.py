#!/usr/bin/env python3
"""Draws the demo catalog's product pictures: services/product/demo/pictures/<slug>.webp.

One picture per product of services/product/demo/catalog.json: 1200x900, lossy WebP, no metadata. Each is a
flat, vector-style illustration of the product on a studio backdrop (a soft vertical gradient in its
category's palette, a soft floor shadow), drawn with Pillow at twice the size and scaled down for smooth
edges. No randomness: the same Pillow (and libwebp) makes the same files.

To draw them again, after adding a product (give it a line in DRAWINGS) or changing a drawing:

    pip install pillow==13.0.0
    python3 scripts/demo-pictures.py            # all of them, in about a minute
    python3 scripts/demo-pictures.py headlamp   # only the ones named (by file name, without .webp)

It reads the products' names and categories from the catalog, so the two stay in step, and exits non-zero
if a product has no drawing. A picture's file name is the product's name in lower case, with each run of
other characters than letters and digits made one '-' ("Tea Cups, Set of Two" -> tea-cups-set-of-two.webp).

The pictures are the project's own work, made by this script, under the repository's licence (LICENSE).
"""
import json
import math
import re
import sys
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "services/product/demo/catalog.json"
OUT = ROOT / "services/product/demo/pictures"
W, H, S = 1200, 900, 2  # the picture's size; drawn S times larger, then scaled down
MAX_BYTES = 60_000

# Backdrop per category: top of the wall, behind the product, front of the floor.
PALETTES = {
    "tea-coffee": ("#d3dec5", "#f3f2e6", "#dcd5bd"),
    "cookware": ("#e6d3c4", "#f8f0e8", "#ddcab9"),
    "textiles": ("#e2d3dc", "#f7f0f3", "#d8c8d0"),
    "lighting": ("#323a4f", "#5a6380", "#2b3041"),
    "camping": ("#cadbe3", "#eef3f1", "#d6d1b8"),
    "garden": ("#cfe2c2", "#f1f6e7", "#cdd7b6"),
}


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- colours -------------------------------------------------------------------------------------------------

def rgb(c):
    return ImageColor.getrgb(c) if isinstance(c, str) else tuple(c)


def mix(a, b, t):
    a, b = rgb(a), rgb(b)
    return tuple(round(x + (y - x) * t) for x, y in zip(a[:3], b[:3]))


def lt(c, t=0.3):
    return mix(c, (255, 255, 255), t)


def dk(c, t=0.3):
    return mix(c, (0, 0, 0), t)


def alpha(c, a):
    return rgb(c)[:3] + (round(255 * a),)


def cyl(c, k=1.0):
    """Shading across a round body: shadow, highlight, colour, shadow."""
    return [dk(c, 0.30 * k), lt(c, 0.25 * k), c, dk(c, 0.12 * k), dk(c, 0.38 * k)]


def ramp(cols, pos=None, n=256):
    cols = [rgb(c)[:3] for c in cols]
    pos = pos or [i / (len(cols) - 1) for i in range(len(cols))]
    px = []
    for i in range(n):
        t = i / (n - 1)
        k = min(max(j for j in range(len(pos)) if pos[j] <= t), len(pos) - 2)
        px.append(mix(cols[k], cols[k + 1], min(1, (t - pos[k]) / (pos[k + 1] - pos[k]))))
    im = Image.new("RGB", (n, 1))
    im.putdata(px)
    return im


# --- geometry ------------------------------------------------------------------------------------------------

def rot(pts, cx, cy, deg):
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in pts]


def ell_pts(cx, cy, rx, ry, a0=0, a1=360, n=48):
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


def rr_pts(x0, y0, x1, y1, r):
    """A rounded rectangle as a polygon; r is one radius or (top-left, top-right, bottom-right, bottom-left)."""
    tl, tr, br, bl = r if isinstance(r, tuple) else (r,) * 4
    return (ell_pts(x0 + tl, y0 + tl, tl, tl, 180, 270, 8) + ell_pts(x1 - tr, y0 + tr, tr, tr, 270, 360, 8)
            + ell_pts(x1 - br, y1 - br, br, br, 0, 90, 8) + ell_pts(x0 + bl, y1 - bl, bl, bl, 90, 180, 8))


def spread(n, x0, y0, x1, y1):
    """n points spread evenly but irregularly over a box (the R2 sequence), with no randomness."""
    return [(x0 + (x1 - x0) * ((0.5 + i * 0.7548777) % 1), y0 + (y1 - y0) * ((0.5 + i * 0.5698403) % 1))
            for i in range(n)]


def bezier(a, b, c, d, n=24):
    return [tuple((1 - t) ** 3 * a[i] + 3 * t * (1 - t) ** 2 * b[i] + 3 * t * t * (1 - t) * c[i] + t ** 3 * d[i]
                  for i in (0, 1)) for t in (k / n for k in range(n + 1))]


def quad(q, u, v):
    """The point at (u, v) in 0..1 of a four-cornered shape (top-left, top-right, bottom-right, bottom-left)."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = q
    top, bot = (ax + (bx - ax) * u, ay + (by - ay) * u), (dx + (cx - dx) * u, dy + (cy - dy) * u)
    return top[0] + (bot[0] - top[0]) * v, top[1] + (bot[1] - top[1]) * v


# --- the canvas: coordinates are in the final picture's pixels ---------------------------------------------------

class Pic:
    def __init__(self, palette, zoom=1.0, shift=0):
        top, mid, floor = palette
        self.floor, self.z, self.dx = rgb(floor), 1.0, 0
        back = ramp([top, mid, mid, floor], [0, 0.58, 0.7, 1]).transpose(Image.Transpose.TRANSPOSE)
        self.im = back.resize((W * S, H * S), Image.Resampling.BILINEAR)
        self.d = ImageDraw.Draw(self.im, "RGBA")
        self.glow(600, 400, 480, 330, "#ffffff", 0.35, 120)  # the studio light behind the product
        self.z, self.dx = zoom, shift  # drawings are made larger about the middle of the floor, and moved sideways

    def P(self, x, y):
        return (600 + (x + self.dx - 600) * self.z) * S, (712 + (y - 712) * self.z) * S

    def box(self, x0, y0, x1, y1):
        return [*self.P(x0, y0), *self.P(x1, y1)]

    def _shape(self, draw, box, fill, vert):
        if not isinstance(fill, list):
            draw(self.d, alpha(fill, 1) if len(rgb(fill)) == 3 else rgb(fill))
            return
        mask = Image.new("L", self.im.size, 0)
        draw(ImageDraw.Draw(mask), 255)
        x0, y0, x1, y1 = self.box(*box)
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(W * S, int(x1) + 2), min(H * S, int(y1) + 2)
        g = ramp(fill)
        g = g.transpose(Image.Transpose.TRANSPOSE) if vert else g
        self.im.paste(g.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR), (x0, y0),
                      mask.crop((x0, y0, x1, y1)))

    def rect(self, x0, y0, x1, y1, fill, r=0, vert=False):
        if isinstance(r, tuple):
            return self.poly(rr_pts(x0, y0, x1, y1, r), fill, vert)
        r = min(r, (x1 - x0) / 2, (y1 - y0) / 2) * self.z * S
        self._shape(lambda d, f: d.rounded_rectangle(self.box(x0, y0, x1, y1), int(r), fill=f),
                    (x0, y0, x1, y1), fill, vert)

    def ell(self, cx, cy, rx, ry, fill, vert=False):
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        self._shape(lambda d, f: d.ellipse(self.box(*box), fill=f), box, fill, vert)

    def chord(self, cx, cy, rx, ry, a0, a1, fill, vert=False):
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        self._shape(lambda d, f: d.chord(self.box(*box), a0, a1, fill=f), box, fill, vert)

    def poly(self, pts, fill, vert=False):
        box = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))
        self._shape(lambda d, f: d.polygon([self.P(x, y) for x, y in pts], fill=f), box, fill, vert)

    def line(self, pts, fill, w, caps=True):
        f = alpha(fill, 1) if len(rgb(fill)) == 3 else rgb(fill)
        see_through = f[3] < 255 and (caps or len(pts) > 2)  # drawn as one, or the overlaps would show darker
        mask = Image.new("L", self.im.size, 0) if see_through else None
        d, f2 = (ImageDraw.Draw(mask), f[3]) if see_through else (self.d, f)
        d.line([self.P(x, y) for x, y in pts], fill=f2, width=round(w * self.z * S), joint="curve")
        for x, y in (pts[0], pts[-1]) if caps else ():
            d.ellipse(self.box(x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=f2)
        if see_through:
            self.im.paste(f[:3], (0, 0, W * S, H * S), mask)

    def arc(self, cx, cy, rx, ry, a0, a1, fill, w):
        self.line(ell_pts(cx, cy, rx, ry, a0, a1, 64), fill, w)

    def _blur(self, shape, colour, a, blur):
        mask = Image.new("L", self.im.size, 0)
        shape(ImageDraw.Draw(mask), round(255 * a))
        mask = mask.filter(ImageFilter.GaussianBlur(blur * self.z * S))
        self.im.paste(rgb(colour)[:3], (0, 0, W * S, H * S), mask)

    def glow(self, cx, cy, rx, ry, colour, a, blur=None):
        self._blur(lambda d, f: d.ellipse(self.box(cx - rx, cy - ry, cx + rx, cy + ry), fill=f), colour, a,
                   blur or min(rx, ry) * 0.6)

    def shadow(self, cx, cy, rx, ry=None, a=0.5):
        """A contact shadow on the floor, and a wider, fainter one around it."""
        ry = ry or rx * 0.1
        col = dk(mix(self.floor, "#40304a", 0.25), 0.55)
        self.glow(cx, cy + ry * 0.3, rx * 1.25, ry * 2.2, col, a * 0.45, ry * 1.6)
        self.glow(cx, cy, rx, ry, col, a, ry * 0.5)

    def haze(self, pts, colour, a, blur):
        self._blur(lambda d, f: d.polygon([self.P(x, y) for x, y in pts], fill=f), colour, a, blur)

    def wall_shadow(self, pts, a=0.25, blur=22):
        self.haze(pts, dk(self.floor, 0.5), a, blur)

    def cylinder(self, cx, top, bot, rx, ry, col, top_col=None, k=1.0):
        self.ell(cx, bot, rx, ry, cyl(col, k))
        self.rect(cx - rx, top, cx + rx, bot, cyl(col, k))
        if top_col is not False:
            self.ell(cx, top, rx, ry, top_col or lt(col, 0.12))

    def save(self, path):
        im = self.im.resize((W, H), Image.Resampling.LANCZOS)
        for q in range(80, 40, -5):
            im.save(path, "WEBP", quality=q, method=6)
            if path.stat().st_size <= MAX_BYTES:
                return q
        sys.exit(f"{path.name}: over {MAX_BYTES} bytes even at quality 45")


HI = (255, 255, 255, 70)  # a highlight laid over a colour
LO = (0, 0, 0, 45)  # a shade laid over a colour


# --- little things on the floor and on labels -----------------------------------------------------------------

def leaf(p, cx, cy, l, w, ang, col, vein=True):
    p.poly(rot(ell_pts(cx, cy, l, w), cx, cy, ang), col)
    if vein:
        p.line(rot([(cx - l * 0.8, cy), (cx + l * 0.8, cy)], cx, cy, ang), dk(col, 0.25), max(1.5, w / 8))


def bean(p, cx, cy, ang, col):
    p.poly(rot(ell_pts(cx, cy, 15, 11), cx, cy, ang), [lt(col, 0.15), col, dk(col, 0.3)])
    p.line(rot([(cx - 11, cy - 2), (cx - 3, cy + 2), (cx + 4, cy - 2), (cx + 11, cy + 1)], cx, cy, ang),
           dk(col, 0.55), 3)


FLOOR_SPOTS = [(372, 748, 20), (430, 768, -35), (482, 744, 60), (735, 752, -10), (790, 770, 40), (842, 746, 75),
               (405, 790, 15), (800, 796, -60), (650, 786, 30)]


def scatter(p, kind, col):
    for i, (x, y, a) in enumerate(FLOOR_SPOTS):
        c = lt(col, 0.12) if i % 2 else col
        if kind == "leaves":
            leaf(p, x, y, 16, 6, a, c)
        elif kind == "beans":
            bean(p, x, y, a, c)
        elif kind == "rice":
            p.poly(rot(ell_pts(x, y, 8, 4.5), x, y, a), "#e9d7a8" if i % 3 else "#9a6a3a")
            leaf(p, x + 16, y - 6, 12, 4, a + 40, col, False)


def icon(p, kind, cx, cy, col, s=1.0):
    if kind == "leaf":
        leaf(p, cx, cy, 50 * s, 22 * s, -35, col)
    elif kind == "bean":
        for dx in (-28, 28):
            p.poly(rot(ell_pts(cx + dx, cy, 26, 38), cx + dx, cy, dx), col)
            p.line([(cx + dx - 4, cy - 30), (cx + dx + 6, cy), (cx + dx - 4, cy + 30)], dk(col, 0.5), 5)
    elif kind == "rice":
        for i, (dx, dy) in enumerate([(-30, -8), (0, -16), (30, -6), (-14, 14), (16, 14)]):
            p.poly(rot(ell_pts(cx + dx * s, cy + dy * s, 12 * s, 7 * s), cx + dx * s, cy + dy * s, 30 * i),
                   col if i % 2 else dk(col, 0.3))
    elif kind == "dot":
        p.ell(cx, cy, 34 * s, 34 * s, col)


# --- tea and coffee --------------------------------------------------------------------------------------------

def pouch(p, body, label, accent, mark, top="zip", floor="leaves", floor_col=None):
    p.shadow(600, 712, 190)
    p.rect(440, 205, 760, 712, cyl(body, 0.8), r=16)
    p.chord(600, 712, 160, 22, 180, 360, dk(body, 0.22))
    if top == "zip":
        p.rect(440, 205, 760, 245, dk(body, 0.12), r=8)
        for x in range(452, 752, 12):
            p.line([(x, 210), (x, 240)], LO, 2, False)
        p.line([(446, 272), (754, 272)], dk(body, 0.2), 4, False)
    else:  # folded over, held with a tin tie, and a valve
        p.rect(440, 205, 760, 285, cyl(dk(body, 0.1), 0.8), r=10)
        p.line([(438, 280), (762, 280)], dk(body, 0.35), 3, False)
        p.rect(420, 238, 780, 252, ["#b9b9b9", "#f2f2f2", "#9d9d9d"], r=5, vert=True)
        p.ell(600, 335, 22, 22, dk(body, 0.2))
        p.ell(600, 335, 12, 12, lt(body, 0.2))
    p.rect(478, 385, 722, 610, label, r=12)
    p.rect(478, 575, 722, 588, accent)
    icon(p, mark, 600, 480, accent)
    p.rect(470, 215, 492, 700, HI, r=10)
    scatter(p, floor, floor_col or accent)


def tin(p, body, lid, band, mark, mark_col, rx=120, h=320, floor=None, floor_col=None):
    top = 712 - h
    p.shadow(600, 712, rx * 1.2)
    p.cylinder(600, top + 70, 712, rx, rx * 0.22, body)
    p.rect(600 - rx, top + 150, 600 + rx, top + h * 0.8, cyl(band, 0.6))
    icon(p, mark, 600, top + (150 + h * 0.8) / 2, mark_col, 0.8 * rx / 120)
    p.cylinder(600, top, top + 78, rx + 5, rx * 0.22, lid, lt(lid, 0.2))
    p.rect(600 - rx * 0.62, top + 8, 600 - rx * 0.48, 705, HI, r=6)
    if floor == "powder":
        p.chord(790, 720, 80, 48, 180, 360, [lt(floor_col, 0.15), floor_col, dk(floor_col, 0.2)])
        p.line([(720, 690), (880, 650)], "#d8c29a", 10)
    elif floor:
        scatter(p, floor, floor_col)


def teapot(p, c):
    p.shadow(600, 718, 230)
    p.arc(600, 430, 160, 170, 195, 345, dk(c, 0.25), 18)
    for x0, x1 in ((445, 462), (755, 738)):
        p.line([(x0, 386), (x1, 446)], dk(c, 0.25), 14)
    p.poly([(440, 590), (345, 470), (322, 452), (336, 440), (366, 458), (470, 525)], cyl(c))
    p.ell(600, 565, 215, 158, cyl(c, 0.9))
    for row, y in enumerate(range(470, 690, 40)):
        for x in range(400 + (row % 2) * 20, 810, 40):
            if ((x - 600) / 200) ** 2 + ((y - 565) / 145) ** 2 < 0.8:
                p.ell(x + 2, y + 3, 9, 9, dk(c, 0.35))
                p.ell(x, y, 9, 9, lt(c, 0.14))
    p.ell(600, 418, 112, 30, dk(c, 0.3))
    p.ell(600, 412, 100, 24, lt(c, 0.1))
    p.ell(600, 398, 22, 16, dk(c, 0.2))
    p.glow(530, 500, 40, 60, "#ffffff", 0.18)


def glass_kettle(p, wood, lid):
    p.shadow(600, 716, 170)
    spout = bezier((470, 660), (370, 665), (390, 420), (285, 410))
    p.line(spout, "#a9b8bc", 22)
    p.line(spout, "#e9f0ef", 12)
    body = rr_pts(460, 400, 740, 716, (90, 90, 60, 60))
    p.poly(body, (235, 245, 245, 110))
    p.poly(rr_pts(466, 540, 734, 710, (6, 6, 54, 54)), (160, 205, 215, 110))
    p.line(body + body[:1], (90, 110, 115, 150), 4, False)
    p.rect(490, 430, 510, 690, (255, 255, 255, 150), r=10)
    p.line([(738, 450), (805, 450), (832, 500), (832, 620), (805, 668), (738, 668)], cyl(wood)[1], 24)
    p.line([(740, 448), (803, 448)], dk(wood, 0.2), 8)
    p.ell(600, 402, 110, 22, cyl(lid))
    p.chord(600, 402, 90, 36, 180, 360, cyl(lid))
    p.ell(600, 360, 26, 18, cyl(wood))


def dripper(p, c, cup):
    p.shadow(600, 716, 150)
    p.arc(700, 630, 44, 46, -80, 80, dk(cup, 0.1), 18)
    p.cylinder(600, 560, 712, 110, 20, cup, False)
    p.ell(600, 560, 112, 22, lt(cup, 0.1))
    p.ell(600, 552, 130, 24, cyl(dk(c, 0.05)))
    p.ell(600, 542, 128, 22, lt(c, 0.1))
    p.rect(575, 500, 625, 548, cyl(c))
    p.arc(705, 400, 44, 48, -90, 90, dk(c, 0.05), 20)
    p.poly([(445, 300), (755, 300), (632, 510), (568, 510)], cyl(c))
    for i in range(1, 8):
        x = 445 + 310 * i / 8
        p.line([(x, 318), (600 + (x - 600) * 0.2, 500)], (0, 0, 0, 22), 4, False)
    p.ell(600, 300, 155, 32, lt(c, 0.15))
    p.ell(600, 304, 138, 24, ["#4a2f22", "#6b4630", "#4a2f22"])


def grinder(p, steel, wood):
    p.shadow(600, 716, 130)
    p.cylinder(600, 560, 712, 100, 20, wood)
    p.cylinder(600, 300, 560, 100, 20, steel, False)
    for x in range(506, 700, 9):
        p.line([(x, 330), (x, 420)], (0, 0, 0, 35), 2, False)
    p.ell(600, 300, 100, 20, lt(steel, 0.15))
    p.rect(592, 230, 608, 300, cyl(steel))
    p.line([(600, 236), (690, 226), (790, 206)], dk(steel, 0.25), 16)
    p.rect(778, 160, 802, 210, cyl(dk(wood, 0.1)), r=4)
    p.ell(790, 160, 32, 26, cyl(wood))
    p.ell(600, 236, 18, 14, dk(steel, 0.2))


def yunomi(p, cx, base, w, h, col, glaze):
    top = base - h
    p.poly([(cx - w / 2, top), (cx + w / 2, top), (cx + w * 0.42, base - 10), (cx - w * 0.42, base - 10)], cyl(col))
    p.rect(cx - w * 0.36, base - 14, cx + w * 0.36, base, dk(col, 0.25), r=4)
    p.rect(cx - w / 2, top, cx + w / 2, top + h * 0.35, cyl(glaze))
    p.ell(cx, top, w / 2, w * 0.11, dk(glaze, 0.3))
    p.ell(cx, top + 6, w / 2 - 8, w * 0.08, "#b7b45a")
    p.ell(cx - w * 0.2, top + h * 0.55, 8, h * 0.25, (255, 255, 255, 40))


def cups(p, a, a_glaze, b, b_glaze):
    p.shadow(500, 700, 140)
    p.shadow(720, 730, 125)
    yunomi(p, 490, 700, 230, 290, a, a_glaze)
    yunomi(p, 725, 730, 205, 230, b, b_glaze)


# --- cookware ----------------------------------------------------------------------------------------------------

def frying_pan(p, c, handle):
    p.shadow(500, 640, 260, 36)
    p.line([(730, 560), (900, 520), (1010, 495)], dk(handle, 0.3), 34)
    p.line([(730, 556), (900, 516), (1010, 490)], handle, 24)
    p.ell(1000, 493, 9, 6, dk(handle, 0.4))
    p.ell(500, 575, 262, 100, cyl(dk(c, 0.15)))
    p.ell(500, 550, 262, 100, cyl(lt(c, 0.1)))
    p.ell(500, 558, 232, 84, [dk(c, 0.1), c, lt(c, 0.08)], vert=True)
    p.ell(430, 530, 90, 26, (255, 255, 255, 30))


def square_pan(p, c, inner, wood):
    p.shadow(520, 668, 250, 34)
    p.rect(690, 548, 800, 572, cyl("#9aa0a5"), r=6)
    p.rect(790, 544, 1000, 576, cyl(wood, 0.8), r=14)
    p.poly([(322, 618), (722, 618), (716, 668), (328, 668)], cyl(c))
    p.poly([(370, 490), (680, 490), (722, 618), (322, 618)], lt(c, 0.12))
    p.poly([(384, 500), (666, 500), (700, 606), (344, 606)], [lt(inner, 0.1), inner, dk(inner, 0.12)], vert=True)
    p.line([(370, 490), (680, 490)], lt(c, 0.35), 4, False)


def pot(p, body, w, h, lid, lid_h, knob, handles, bowl=False, cx=600, base=712):
    top = base - h
    p.shadow(cx, base, w * 0.55)
    if handles == "long":
        p.line([(cx + w / 2 - 10, top + 30), (cx + w / 2 + 220, top - 10)], dk(body, 0.25), 26)
        p.ell(cx + w / 2 + 205, top - 8, 9, 6, dk(body, 0.5))
    for side in (-1, 1) if handles == "side" else ():
        p.rect(cx + side * w / 2 - 30, top + 24, cx + side * w / 2 + 30, top + 64, cyl(dk(body, 0.1)), r=18)
        p.rect(cx + side * (w / 2 + 12) - 10, top + 36, cx + side * (w / 2 + 12) + 10, top + 52, (0, 0, 0, 70), r=6)
    for side in (-1, 1) if handles == "ears" else ():
        p.ell(cx + side * w / 2, top + 28, 34, 16, cyl(dk(body, 0.1)))
    if handles == "wire":
        p.arc(cx, top + 30, w / 2 + 26, 150, 196, 344, "#9aa0a5", 8)
    if bowl:
        p.chord(cx, top, w / 2, h, 0, 180, cyl(body))
    else:
        p.rect(cx - w / 2, top, cx + w / 2, base, cyl(body), r=(0, 0, w * 0.08, w * 0.08))
    p.rect(cx - w * 0.42, top + 10, cx - w * 0.35, base - 20, HI, r=6)
    p.ell(cx, top, w / 2 + 4, w * 0.05, dk(body, 0.2))
    if lid:
        p.chord(cx, top - 2, w / 2 - 4, lid_h, 180, 360, cyl(lid))
        p.ell(cx, top - 2, w / 2, w * 0.04, dk(lid, 0.12))
        p.ell(cx, top - lid_h - 8, 30, 18, cyl(knob))
        p.rect(cx - 16, top - lid_h - 8, cx + 16, top - lid_h + 12, cyl(knob))


def knife(p, steel, handle, ferrule):
    p.shadow(640, 690, 360, 20, 0.35)
    p.rect(770, 528, 810, 588, cyl(ferrule), r=4, vert=True)
    p.rect(800, 532, 1010, 584, cyl(handle), r=10, vert=True)
    blade = ([(770, 505), (430, 505)] + ell_pts(430, 600, 100, 95, 270, 180, 16)[1:]
             + [(400, 604), (600, 614), (770, 612)])
    p.poly(blade, [lt(steel, 0.25), steel, lt(steel, 0.4), dk(steel, 0.15)], vert=True)
    p.line([(440, 506), (770, 506)], dk(steel, 0.25), 4, False)
    for x in range(470, 740, 50):
        p.ell(x, 585, 12, 15, (0, 0, 0, 28))


def board(p, wood):
    p.shadow(600, 712, 190)
    p.rect(444, 232, 784, 712, dk(wood, 0.22), r=34)
    p.rect(430, 226, 770, 708, cyl(wood, 0.6), r=34)
    for i, x in enumerate(range(470, 740, 38)):
        p.line([(x, 250), (x + 10, 420), (x - 6, 560), (x + 8, 690)], (120, 80, 40, 30 + 10 * (i % 2)), 3, False)
    p.ell(600, 280, 24, 24, dk(wood, 0.35))
    p.ell(600, 276, 20, 20, dk(wood, 0.5))


def steamer(p, bamboo):
    p.shadow(600, 712, 230)
    for top in (560, 420):
        p.cylinder(600, top, top + 140, 230, 44, bamboo, False)
        for x in range(390, 820, 60):
            p.line([(x, top + 8), (x, top + 148)], dk(bamboo, 0.25), 6, False)
        p.rect(370, top + 118, 830, top + 140, cyl(dk(bamboo, 0.12)))
        p.line([(372, top + 10), (828, top + 10)], (255, 255, 255, 60), 5, False)
    lid = 420
    p.ell(600, lid, 232, 46, dk(bamboo, 0.15))
    p.ell(600, lid - 6, 218, 40, lt(bamboo, 0.12))
    for i in range(-9, 10):
        x = 600 + i * 22
        dy = 40 * math.sqrt(max(0, 1 - (i * 22 / 218) ** 2))
        p.line([(x, lid - 6 - dy), (x, lid - 6 + dy)], dk(bamboo, 0.18), 3, False)
    for j in range(-3, 4):
        y = lid - 6 + j * 10
        dx = 218 * math.sqrt(max(0, 1 - (j * 10 / 40) ** 2))
        p.line([(600 - dx, y), (600 + dx, y)], (255, 255, 255, 45), 3, False)


def spatulas(p, crock, colours):
    p.shadow(600, 712, 140)
    p.ell(600, 500, 110, 24, dk(crock, 0.5))
    for ang, col in zip((-20, 2, 22), colours):
        handle = rr_pts(588, 230, 612, 560, 12)
        head = rr_pts(548, 120, 652, 260, (34, 8, 20, 20))
        p.poly(rot(handle, 600, 560, ang), cyl(col))
        p.poly(rot(head, 600, 560, ang), cyl(col, 0.8))
    p.cylinder(600, 500, 712, 112, 24, crock, False)
    p.chord(600, 500, 112, 24, 0, 180, lt(crock, 0.15))


def mortar(p, stone, wood):
    p.shadow(600, 712, 200)
    p.chord(600, 480, 210, 220, 0, 180, cyl(stone))
    p.rect(520, 680, 680, 712, cyl(dk(stone, 0.15)), r=8)
    for i, (x, y) in enumerate(spread(60, 400, 520, 800, 690)):
        if ((x - 600) / 200) ** 2 + ((y - 480) / 210) ** 2 < 0.85:
            p.ell(x, y, 3, 3, (255, 255, 255, 70) if i % 2 else (0, 0, 0, 60))
    p.ell(600, 480, 212, 44, lt(stone, 0.15))
    p.ell(600, 484, 184, 34, [dk(stone, 0.5), dk(stone, 0.3)], vert=True)
    p.poly(rot(rr_pts(576, 190, 624, 500, (20, 20, 24, 24)), 600, 490, 32), cyl(wood))


# --- textiles -----------------------------------------------------------------------------------------------------

def folded(p, layers, pattern=None, pat=None):
    """A stack of folded cloth: layers are (colour, width, height, x offset), bottom first."""
    p.shadow(600, 712, max(l[1] for l in layers) * 0.55)
    y = 712
    for i, (col, w, h, dx) in enumerate(layers):
        x0, x1, top = 600 - w / 2 + dx, 600 + w / 2 + dx, y - h
        if i == len(layers) - 1:
            p.poly([(x0 + 40, top - 34), (x1 - 40, top - 34), (x1 - 10, top + 16), (x0 + 10, top + 16)],
                   [lt(col, 0.18), lt(col, 0.08)], vert=True)
        p.rect(x0, top, x1, y, [lt(col, 0.1), col, dk(col, 0.18)], r=min(h * 0.45, 34), vert=True)
        p.line([(x0 + 18, top + h * 0.5), (x1 - 18, top + h * 0.5)], (0, 0, 0, 22), 3, False)
        if pattern == "waffle":
            for gx in range(int(x0) + 20, int(x1) - 14, 16):
                p.line([(gx, top + 8), (gx, y - 8)], (0, 0, 0, 22), 3, False)
            for gy in range(int(top) + 12, int(y) - 6, 16):
                p.line([(x0 + 12, gy), (x1 - 12, gy)], (0, 0, 0, 22), 3, False)
        if pattern == "check":
            for gx in range(int(x0) + 48, int(x1) - 70, 72):
                p.rect(gx, top + 3, gx + 26, y - 3, alpha(pat, 0.3))
                p.line([(gx + 13, top + 3), (gx + 13, y - 3)], alpha(pat, 0.6), 4, False)
            p.rect(x0 + 6, top + h * 0.35, x1 - 6, top + h * 0.35 + 24, alpha(pat, 0.3))
            for fy in range(int(top) + 14, int(y) - 8, 9):
                p.line([(x1 - 4, fy), (x1 + 16, fy + 4)], dk(col, 0.1), 4, False)
        if pattern == "stripes" or (pattern == "stripe" and i == len(layers) - 1):
            stripe = pat[i] if isinstance(pat, list) else pat
            for sx in (x0 + 40, x0 + 62):
                p.rect(sx, top + 4, sx + 10, y - 4, stripe)
        y = top


def noren(p, cloth, motif, rod):
    p.wall_shadow([(350, 200), (870, 200), (870, 660), (350, 660)], 0.3, 26)
    for i in range(3):
        x0 = 345 + i * 172
        p.rect(x0, 180, x0 + 166, 640, [lt(cloth, 0.08), cloth, dk(cloth, 0.15)], r=4)
    p.ell(600, 430, 120, 120, motif)
    p.ell(600, 430, 80, 80, cloth)
    for x in (514, 686):
        p.rect(x - 5, 300, x + 5, 642, (0, 0, 0, 120))
    p.rect(345, 180, 855, 230, (0, 0, 0, 40))
    p.line([(315, 175), (885, 175)], rod, 18)
    for x in (308, 892):
        p.ell(x, 175, 16, 16, dk(rod, 0.2))


def pyjamas(p, c, trim):
    p.wall_shadow([(440, 250), (760, 250), (880, 440), (770, 800), (430, 800), (320, 440)], 0.25, 20)
    p.poly([(468, 600), (732, 600), (760, 790), (614, 790), (600, 690), (586, 790), (440, 790)], dk(c, 0.08))
    for x0 in (440, 614):
        p.line([(x0 + 4, 782), (x0 + 142, 782)], trim, 8, False)
    shirt = [(545, 230), (430, 258), (330, 430), (392, 462), (452, 372), (452, 690), (748, 690), (748, 372),
             (808, 462), (870, 430), (770, 258), (655, 230)]
    p.poly(shirt, [lt(c, 0.1), c, dk(c, 0.1)])
    p.line([(330, 430), (392, 462)], trim, 9)
    p.line([(870, 430), (808, 462)], trim, 9)
    p.line([(452, 690), (748, 690)], trim, 8, False)
    p.line([(600, 300), (600, 690)], (0, 0, 0, 40), 3, False)
    for y in (350, 430, 510, 590):
        p.ell(608, y, 8, 8, trim)
    p.poly([(545, 230), (600, 300), (560, 320), (520, 250)], lt(c, 0.15))
    p.poly([(655, 230), (600, 300), (640, 320), (680, 250)], lt(c, 0.15))
    p.line([(520, 250), (560, 320), (600, 300), (640, 320), (680, 250)], trim, 5)
    p.rect(490, 390, 560, 460, (0, 0, 0, 25), r=6)


def superellipse(cx, cy, rx, ry, n=3.0, k=96):
    pts = []
    for i in range(k):
        t = 2 * math.pi * i / k
        c, s = math.cos(t), math.sin(t)
        pts.append((cx + rx * math.copysign(abs(c) ** (2 / n), c), cy + ry * math.copysign(abs(s) ** (2 / n), s)))
    return pts


def puffy(cx, cy, rx, ry, bulge, n=16):
    """A rectangle whose sides bulge outwards, as a stuffed pillow's do."""
    corners = [(cx - rx, cy - ry), (cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry)]
    pts = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1]):
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        d = math.hypot(mx - cx, my - cy)
        qx, qy = mx + (mx - cx) / d * bulge * 2, my + (my - cy) / d * bulge * 2
        pts += [((1 - t) ** 2 * x0 + 2 * t * (1 - t) * qx + t * t * x1, (1 - t) ** 2 * y0 + 2 * t * (1 - t) * qy
                 + t * t * y1) for t in (i / n for i in range(n))]
    return pts


def pillow(p, c, piping):
    p.shadow(600, 690, 290, 26)
    shape = puffy(600, 540, 290, 130, 34)
    p.poly(shape, [lt(c, 0.18), c, dk(c, 0.22)], vert=True)
    p.line(shape + shape[:1], piping, 6, False)
    for (x, y), (dx, dy) in zip(((310, 410), (890, 410), (890, 670), (310, 670)), ((1, 1), (-1, 1), (-1, -1), (1, -1))):
        p.line([(x + dx * 14, y + dy * 10), (x + dx * 70, y + dy * 36)], (0, 0, 0, 30), 5)
    p.glow(560, 480, 170, 40, "#ffffff", 0.3)


def floor_cushion(p, c, tuft):
    p.shadow(600, 700, 320, 30)
    base = superellipse(600, 620, 320, 110, 3.4)
    top = superellipse(600, 560, 320, 110, 3.4)
    p.poly(base, dk(c, 0.25))
    p.rect(280, 560, 920, 620, cyl(dk(c, 0.1), 0.6))
    p.poly(top, [lt(c, 0.12), c], vert=True)
    for x, y in ((600, 560), (470, 530), (730, 530), (470, 590), (730, 590)):
        p.line([(x - 10, y - 6), (x + 10, y + 6)], tuft, 6)
        p.line([(x - 10, y + 6), (x + 10, y - 6)], tuft, 6)
    for x, y in ((285, 590), (915, 590)):
        p.line([(x, y), (x + (12 if x < 600 else -12), y + 40)], tuft, 8)


def sock(p, x, y, c, accent):
    hx, hy = x + 70, y + 280  # the middle of the heel's curve
    shape = ([(x, y), (x + 130, y), (x + 130, y + 220)] + ell_pts(x + 250, y + 285, 70, 65, -90, 90, 16)
             + ell_pts(hx, hy, 70, 70, 90, 180, 12))
    p.poly(shape, cyl(c, 0.5), vert=True)
    p.poly([(x + 215, y + 220)] + ell_pts(x + 250, y + 285, 70, 65, -90, 90, 16) + [(x + 215, y + 350)], accent)
    p.poly(ell_pts(hx, hy, 70, 70, 60, 180, 12) + [(x, y + 250)] + ell_pts(hx + 34, hy - 34, 70, 70, 180, 60, 12),
           accent)
    p.rect(x, y, x + 130, y + 70, dk(c, 0.12))
    for lx in range(int(x) + 12, int(x) + 126, 13):
        p.line([(lx, y + 6), (lx, y + 64)], (0, 0, 0, 40), 3, False)


def socks(p, c, accent):
    p.shadow(640, 720, 260, 22)
    sock(p, 560, 290, dk(c, 0.2), dk(accent, 0.15))
    sock(p, 400, 370, c, accent)


def apron(p, c, strap):
    p.wall_shadow([(520, 180), (680, 180), (800, 440), (810, 780), (410, 780), (400, 440)], 0.25, 20)
    p.ell(600, 150, 14, 14, "#8a6a4a")
    p.line([(528, 262), (560, 170), (600, 152), (640, 170), (672, 262)], strap, 10, False)
    p.poly([(515, 255), (685, 255), (695, 400), (790, 432), (805, 770), (395, 770), (410, 432), (505, 400)],
           cyl(c, 0.5))
    p.line([(410, 440), (360, 500), (380, 600)], strap, 10)
    p.line([(790, 440), (845, 500), (826, 610)], strap, 10)
    p.rect(480, 540, 720, 660, dk(c, 0.08), r=6)
    p.line([(600, 540), (600, 660)], dk(c, 0.25), 3, False)
    p.line([(486, 548), (714, 548)], (255, 255, 255, 70), 3, False)


# --- lighting -------------------------------------------------------------------------------------------------------

WARM = (255, 214, 150)


def pendant(p, paper):
    p.glow(600, 420, 330, 330, WARM, 0.45)
    p.line([(600, 0), (600, 230)], "#22252e", 6, False)
    p.ell(600, 420, 200, 195, [dk(paper, 0.1), lt(paper, 0.5), "#fff8ea", lt(paper, 0.3), dk(paper, 0.15)])
    for y in range(250, 610, 24):
        rx = 200 * math.sqrt(max(0, 1 - ((y - 420) / 195) ** 2))
        p.arc(600, y, rx, 7, 0, 180, (140, 110, 70, 60), 3)
    p.rect(575, 218, 625, 236, "#2a2d36", r=4)


def table_lamp(p, brass, shade):
    p.shadow(600, 712, 150)
    p.glow(600, 480, 200, 100, WARM, 0.4)
    p.chord(600, 712, 120, 50, 180, 360, cyl(brass))
    p.rect(590, 430, 610, 690, cyl(brass))
    p.poly([(480, 240), (720, 240), (790, 440), (410, 440)], [shade, lt(shade, 0.5), lt(shade, 0.2), shade])
    p.ell(600, 440, 190, 20, "#fff1d0")
    p.ell(600, 240, 120, 12, dk(shade, 0.2))


def bulb(p, glass, base):
    p.glow(600, 380, 270, 270, WARM, 0.55)
    p.shadow(600, 712, 80)
    p.poly(ell_pts(600, 380, 190, 190, -240, 60) + [(655, 596), (545, 596)], alpha(glass, 0.45))
    p.line([(580, 590), (570, 410)], (160, 140, 110, 160), 4, False)
    p.line([(620, 590), (630, 410)], (160, 140, 110, 160), 4, False)
    p.line([(570, 410), (585, 300), (600, 410), (615, 300), (630, 410)], (255, 220, 150, 120), 16, False)
    p.line([(570, 410), (585, 300), (600, 410), (615, 300), (630, 410)], "#fffbe8", 6, False)
    p.ell(520, 320, 40, 80, (255, 255, 255, 60))
    for i, y in enumerate(range(590, 690, 20)):
        p.rect(540, y, 660, y + 22, cyl(base if i % 2 else dk(base, 0.15)), r=10)
    p.chord(600, 690, 40, 30, 0, 180, "#2b2b2b")


def lantern(p, body, light):
    p.glow(600, 470, 230, 200, WARM, 0.45)
    p.shadow(600, 712, 150)
    p.cylinder(600, 660, 712, 130, 24, body)
    p.rect(480, 360, 720, 665, [dk(light, 0.1), "#fff6e0", light, dk(light, 0.15)])
    for x in (480, 720):
        p.rect(x - 8, 360, x + 8, 665, cyl(body))
    p.chord(600, 360, 130, 70, 180, 360, cyl(body))
    p.ell(600, 360, 134, 22, dk(body, 0.25))
    p.arc(600, 300, 90, 90, 200, 340, "#6b4b33", 16)


def sconce(p, ceramic):
    p.haze([(545, 330), (655, 330), (790, 30), (410, 30)], WARM, 0.5, 30)
    p.haze([(555, 560), (645, 560), (740, 800), (460, 800)], WARM, 0.3, 30)
    p.wall_shadow(rr_pts(545, 335, 690, 585, 12), 0.4, 12)
    p.rect(525, 325, 675, 565, cyl(ceramic, 0.8), r=12)
    p.ell(600, 327, 73, 13, "#fff3da")


def candles(p, wax):
    p.shadow(520, 712, 110)
    p.shadow(700, 712, 100)
    for cx, top, rx in ((515, 330, 95), (705, 480, 85)):
        p.glow(cx, top - 60, 90, 110, WARM, 0.5)
        p.cylinder(cx, top, 712, rx, rx * 0.2, wax)
        for y in range(top + 30, 700, 34):
            p.line([(cx - rx + 6, y), (cx + rx - 6, y)], (0, 0, 0, 18), 3, False)
        p.ell(cx, top, rx, rx * 0.2, lt(wax, 0.2))
        p.line([(cx, top), (cx, top - 24)], "#3a2a20", 4, False)
        p.poly(ell_pts(cx, top - 50, 16, 36), "#ffc861")
        p.poly(ell_pts(cx, top - 44, 8, 22), "#fff8df")


def floor_lamp(p, wood, shade):
    p.glow(600, 200, 260, 160, WARM, 0.45)
    p.shadow(600, 716, 150)
    p.line([(600, 470), (612, 700)], dk(wood, 0.3), 12)
    p.line([(600, 470), (470, 716)], wood, 14)
    p.line([(600, 470), (730, 716)], wood, 14)
    p.rect(592, 250, 608, 480, cyl("#3a3a3a"))
    p.rect(470, 100, 730, 270, [shade, lt(shade, 0.55), lt(shade, 0.3), shade])
    p.ell(600, 270, 130, 14, "#fff1d0")
    p.ell(600, 100, 130, 12, dk(shade, 0.15))


def reading_light(p, c):
    p.poly([(650, 372), (790, 372), (960, 712), (520, 712)], (255, 225, 170, 40))
    p.glow(740, 716, 190, 30, WARM, 0.45)
    p.shadow(430, 712, 110)
    p.chord(430, 712, 110, 40, 180, 360, cyl(c))
    p.line([(430, 680), (380, 420)], c, 18)
    p.line([(380, 420), (700, 262)], c, 18)
    p.ell(380, 420, 22, 22, dk(c, 0.3))
    p.ell(430, 680, 20, 20, dk(c, 0.3))
    p.poly([(690, 250), (750, 250), (800, 372), (640, 372)], cyl(c))
    p.ell(720, 250, 30, 8, dk(c, 0.2))
    p.ell(720, 372, 80, 16, "#fff5dc")


def string_lights(p, bulb):
    for y0, sag, x0, x1 in ((160, 180, 180, 1020), (420, 160, 140, 1060)):
        pts = [(x, y0 + sag * (1 - ((x - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2)) for x in range(x0, x1 + 1, 20)]
        p.line(pts, "#2b2f38", 4)
        for x, y in pts[2:-1:4]:
            p.glow(x, y + 40, 40, 40, WARM, 0.5, 20)
            p.rect(x - 7, y, x + 7, y + 20, "#3a3d45", r=3)
            p.ell(x, y + 40, 16, 22, [bulb, "#fffbe6", bulb])


def candle_holder(p, iron, wax):
    p.glow(600, 200, 100, 120, WARM, 0.5)
    p.shadow(600, 712, 120)
    p.chord(600, 712, 120, 30, 180, 360, cyl(iron))
    p.rect(588, 420, 612, 700, cyl(iron))
    for y in (520, 620):
        p.ell(600, y, 26, 16, cyl(iron))
    p.ell(600, 420, 90, 18, cyl(iron))
    p.rect(572, 260, 628, 416, cyl(wax))
    p.ell(600, 260, 28, 8, lt(wax, 0.2))
    p.line([(600, 260), (600, 240)], "#3a2a20", 4, False)
    p.poly(ell_pts(600, 212, 14, 32), "#ffc861")
    p.poly(ell_pts(600, 218, 7, 18), "#fff8df")


# --- camping ----------------------------------------------------------------------------------------------------------

def mug(p, metal, tint):
    p.shadow(580, 712, 170)
    p.line([(700, 470), (790, 480), (800, 590), (700, 600)], dk(metal, 0.2), 12)
    p.cylinder(580, 380, 712, 135, 28, metal, False)
    for i, y in enumerate(range(560, 712, 16)):
        p.rect(445, y, 715, y + 16, alpha(tint, 0.03 * i))
    p.chord(580, 712, 135, 28, 0, 180, alpha(tint, 0.27))
    p.ell(580, 380, 138, 30, lt(metal, 0.25))
    p.ell(580, 384, 124, 22, [dk(metal, 0.45), dk(metal, 0.25)], vert=True)


def sleeping_bag(p, c, lining):
    p.shadow(610, 676, 390, 30)
    half = lambda x: 90 - 34 * ((x - 320) / 600) ** 1.3  # half the bag's width, seen from above at a slant
    for dy, col in ((44, cyl(dk(c, 0.25))), (0, [lt(c, 0.15), c, dk(c, 0.12)])):
        top = [(x, 560 - half(x) + dy) for x in range(320, 921, 20)]
        bot = [(x, 560 + half(x) + dy) for x in range(920, 319, -20)]
        p.poly(top + ell_pts(920, 560 + dy, 50, 56, -90, 90, 12) + bot + ell_pts(320, 560 + dy, 150, 90, 90, 270, 16),
               col, vert=True)
    for x in range(430, 900, 58):
        p.line([(x, 562 - half(x)), (x + 14, 560), (x, 558 + half(x))], dk(c, 0.22), 5, False)
        p.line([(x + 8, 566 - half(x)), (x + 22, 560), (x + 8, 554 + half(x))], (255, 255, 255, 40), 4, False)
    p.line([(x, 560 + half(x) - 8) for x in range(330, 900, 20)], dk(c, 0.45), 4, False)
    p.ell(305, 560, 100, 66, dk(c, 0.18))
    p.ell(300, 560, 76, 48, [dk(lining, 0.2), lining], vert=True)
    p.line([(230, 600), (215, 630)], "#2b2b2b", 4)


def tent(p, fly, door):
    p.shadow(600, 712, 360, 26)
    p.line([(340, 620), (200, 712)], (60, 60, 60, 150), 3, False)
    p.line([(860, 620), (1000, 712)], (60, 60, 60, 150), 3, False)
    p.chord(600, 712, 320, 340, 180, 360, cyl(fly, 0.8))
    p.chord(600, 712, 150, 250, 180, 360, cyl(door))
    p.arc(600, 712, 150, 250, 200, 340, lt(door, 0.3), 5)
    p.arc(600, 712, 320, 340, 190, 350, dk(fly, 0.25), 6)
    p.arc(600, 712, 240, 330, 200, 340, (0, 0, 0, 40), 5)
    p.rect(270, 706, 930, 716, dk(fly, 0.4))


def stove(p, canister, band):
    p.shadow(600, 712, 160)
    p.cylinder(600, 560, 712, 140, 28, canister, False)
    p.rect(460, 610, 740, 650, cyl(band))
    p.chord(600, 562, 140, 60, 180, 360, cyl(canister))
    p.rect(575, 455, 625, 515, cyl("#c9a64a"))
    p.line([(625, 485), (700, 500), (720, 470)], "#9aa0a5", 6)
    for dx in (-90, 90):
        p.line([(600, 440), (600 + dx, 420)], "#7c8389", 10)
    p.line([(600, 440), (600, 395)], "#6c7379", 10)
    p.ell(600, 448, 60, 18, cyl("#8a9096"))
    for dx in (-40, -20, 0, 20, 40):
        p.poly(ell_pts(600 + dx, 418, 9, 24), (80, 140, 255, 150))
        p.poly(ell_pts(600 + dx, 424, 4, 14), (210, 235, 255, 200))


def chair(p, fabric, frame):
    p.shadow(600, 716, 230)
    p.line([(440, 250), (430, 716)], frame, 12)
    p.line([(760, 250), (770, 716)], frame, 12)
    p.poly([(440, 250), (760, 250), (760, 470), (600, 490), (440, 470)], cyl(fabric, 0.6))
    p.line([(450, 716), (750, 500)], dk(frame, 0.3), 10)
    p.line([(750, 716), (450, 500)], frame, 10)
    p.poly([(420, 500), (780, 500), (760, 560), (600, 590), (440, 560)], dk(fabric, 0.1))
    for x in (420, 780):
        p.line([(x + (20 if x < 600 else -20), 440), (x, 510)], frame, 10)
    p.line([(430, 440), (400, 440)], frame, 10)
    p.line([(770, 440), (820, 440)], frame, 10)
    p.cylinder(830, 440, 500, 34, 10, dk(fabric, 0.2))


def headlamp(p, strap, case):
    p.shadow(600, 690, 280, 24)
    p.arc(600, 560, 260, 120, 180, 360, dk(strap, 0.3), 40)
    p.arc(600, 560, 260, 120, 0, 180, strap, 40)
    for x in range(380, 830, 36):
        y = 560 + 120 * math.sqrt(max(0, 1 - ((x - 600) / 260) ** 2))
        p.line([(x, y - 10), (x, y + 10)], (0, 0, 0, 40), 3, False)
    p.glow(600, 640, 90, 90, "#fff3c4", 0.6)
    p.rect(500, 570, 700, 710, cyl(case), r=30)
    p.ell(600, 640, 50, 50, "#d8dadc")
    p.ell(600, 640, 40, 40, ["#fff7d6", "#ffffff", "#ffe9a8"])
    p.rect(660, 560, 690, 575, "#e05a3a", r=4)


def bottle(p, c, cap):
    p.shadow(600, 716, 120)
    p.cylinder(600, 300, 716, 100, 20, c, False)
    p.rect(500, 640, 700, 716, cyl("#c4c9cd"), r=(0, 0, 16, 16))
    p.chord(600, 302, 100, 70, 180, 360, cyl(c))
    p.rect(540, 190, 660, 250, cyl(cap), r=10)
    p.arc(600, 190, 34, 40, 180, 360, cap, 14)
    p.rect(530, 330, 550, 620, HI, r=10)


def cook_set(p, pot_c, cup):
    pot(p, pot_c, 300, 230, pot_c, 40, "#e07a3a", "wire", cx=540)
    p.shadow(800, 726, 90)
    p.cylinder(800, 610, 726, 80, 16, cup, False)
    p.ell(800, 610, 82, 18, dk(cup, 0.35))
    p.line([(880, 630), (930, 640), (930, 690), (880, 700)], dk(cup, 0.1), 10)


def sleeping_pad(p, c, strap):
    p.shadow(590, 712, 270, 26)
    p.rect(350, 470, 830, 712, [dk(c, 0.2), lt(c, 0.2), c, dk(c, 0.3)], vert=True)
    p.ell(830, 591, 60, 121, dk(c, 0.15))
    for r in (100, 75, 50, 25):
        p.arc(830, 591, r * 0.5, r, -90, 90, dk(c, 0.45), 4)
    p.ell(350, 591, 60, 121, [dk(c, 0.25), c], vert=True)
    for x in (470, 710):
        p.rect(x, 466, x + 34, 716, cyl(strap))
    p.rect(870, 580, 900, 602, "#2b2b2b", r=4)


def multi_tool(p, steel, grip):
    p.shadow(600, 690, 320, 20, 0.35)
    knife_blade = [(460, 555), (250, 555), (200, 575), (250, 590), (460, 592)]
    p.poly(rot(knife_blade, 470, 573, 28), [lt(steel, 0.3), steel], vert=True)
    saw = [(460, 560), (270, 560)] + [(270 + i * 19, 590 - (i % 2) * 10) for i in range(11)]
    p.poly(rot(saw, 470, 573, -22), dk(steel, 0.05))
    p.rect(440, 540, 820, 608, cyl(steel), r=30, vert=True)
    p.rect(500, 552, 760, 596, cyl(grip), r=18, vert=True)
    for x in (470, 790):
        p.ell(x, 574, 12, 12, dk(steel, 0.35))


# --- garden ---------------------------------------------------------------------------------------------------------

def shears(p, steel, grip_a, grip_b):
    p.shadow(600, 680, 300, 22, 0.35)
    cx, cy, a = 520, 430, 32
    blades = ([(cx + 10, cy - 20), (cx - 120, cy - 42), (cx - 205, cy - 22), (cx - 232, cy + 4), (cx - 150, cy + 4),
               (cx, cy + 14)], [(cx + 10, cy + 14), (cx - 150, cy + 14), (cx - 190, cy - 2), (cx - 150, cy - 14),
                                (cx, cy - 14)])
    for ang, grip, blade in ((-10, grip_a, blades[0]), (10, grip_b, blades[1])):
        handle = [(cx, cy - 18), (cx + 150, cy - 24), (cx + 400, cy - 12), (cx + 400, cy + 20), (cx, cy + 18)]
        p.poly(rot(handle, cx, cy, a + ang), cyl(steel), vert=True)
        p.poly(rot(rr_pts(cx + 160, cy - 26, cx + 410, cy + 24, 22), cx, cy, a + ang), cyl(grip), vert=True)
        p.poly(rot(blade, cx, cy, a - ang * 1.2), [lt(steel, 0.4), steel, dk(steel, 0.2)], vert=True)
    spring = [(cx + 60 + i * 12, cy + (-12 if i % 2 else 12)) for i in range(9)]
    p.line(rot(spring, cx, cy, a), dk(steel, 0.2), 4, False)
    p.ell(cx, cy, 20, 20, dk(steel, 0.3))
    p.ell(cx, cy, 9, 9, lt(steel, 0.3))


def watering_can(p, c, rose):
    p.shadow(560, 712, 220)
    p.line([(650, 650), (760, 520), (880, 350)], dk(c, 0.15), 30)
    p.poly(rot(ell_pts(896, 330, 22, 52), 896, 330, 34), cyl(rose))
    p.arc(500, 420, 140, 150, 180, 360, dk(c, 0.1), 26)
    p.cylinder(540, 420, 712, 160, 34, c, False)
    for y in (470, 650):
        p.rect(380, y, 700, y + 14, dk(c, 0.15))
    p.ell(540, 420, 160, 34, lt(c, 0.2))
    p.ell(500, 416, 70, 16, dk(c, 0.45))


def raised_bed(p, wood, soil):
    p.shadow(640, 712, 330, 26)
    front, side = (340, 520, 820, 712), [(820, 520), (940, 450), (940, 640), (820, 712)]
    p.poly([(340, 520), (460, 450), (940, 450), (820, 520)], dk(wood, 0.15))
    p.poly([(360, 512), (468, 462), (922, 462), (812, 512)], [dk(soil, 0.2), soil], vert=True)
    for i, (x, y) in enumerate([(450, 492), (540, 480), (630, 492), (720, 480), (800, 490), (560, 500), (860, 474)]):
        p.line([(x, y), (x, y - 24)], "#4f8a3a", 4, False)
        leaf(p, x - 14, y - 30, 16, 8, -25, "#6fae4a", False)
        leaf(p, x + 14, y - 30, 16, 8, 25, "#5b9a40", False)
    p.rect(*front, cyl(wood, 0.5))
    p.poly(side, dk(wood, 0.2))
    for y in (584, 648):
        p.line([(340, y), (820, y)], dk(wood, 0.35), 4, False)
        p.line([(820, y), (940, y - 70)], dk(wood, 0.45), 4, False)
    p.line([(340, 520), (820, 520), (940, 450)], lt(wood, 0.3), 6, False)


def hori_hori(p, steel, wood):
    p.shadow(600, 690, 320, 20, 0.35)
    cx, cy, a = 600, 470, -28
    blade = [(cx - 40, cy - 38), (cx + 260, cy - 30), (cx + 330, cy)]
    blade += [(cx + 260 - i * 28, cy + 30 + (i % 2) * 8) for i in range(11)]
    p.poly(rot(blade, cx, cy, a), [lt(steel, 0.3), steel, dk(steel, 0.2)], vert=True)
    p.line(rot([(cx - 20, cy), (cx + 250, cy)], cx, cy, a), dk(steel, 0.25), 6, False)
    p.poly(rot(rr_pts(cx - 80, cy - 34, cx - 30, cy + 34, 6), cx, cy, a), cyl("#9c9c9c"), vert=True)
    p.poly(rot(rr_pts(cx - 320, cy - 30, cx - 70, cy + 30, 24), cx, cy, a), cyl(wood), vert=True)
    p.poly(rot(rr_pts(cx - 310, cy - 6, cx - 290, cy + 6, 6), cx, cy, a), dk(wood, 0.5))


def seed_tray(p, tray, soil):
    p.shadow(600, 712, 320, 26)
    q = [(370, 500), (830, 500), (900, 650), (300, 650)]
    p.poly(q, dk(tray, 0.2))
    p.poly([(300, 650), (900, 650), (892, 712), (308, 712)], cyl(tray, 0.6))
    rows, cols = 3, 6
    for r in range(rows):
        for c in range(cols):
            cell = [quad(q, (c + u) / cols, (r + v) / rows) for u, v in ((0.1, 0.12), (0.9, 0.12), (0.9, 0.88),
                                                                          (0.1, 0.88))]
            p.poly(cell, [dk(soil, 0.2), soil], vert=True)
    for r in range(rows):
        for c in range(cols):
            x, y = quad(q, (c + 0.5) / cols, (r + 0.5) / rows)
            h = 26 + ((r * 7 + c * 5) % 4) * 10
            p.line([(x, y), (x, y - h)], "#5c9a3e", 5, False)
            leaf(p, x - 13, y - h - 4, 15, 8, -25, "#78b84e", False)
            leaf(p, x + 13, y - h - 4, 15, 8, 25, "#6aa845", False)


def glove(p, cx, cy, ang, c, cuff):
    parts = [(rr_pts(cx - 80, cy - 110, cx + 80, cy + 80, 40), c)]
    for i, (dx, ln) in enumerate(((-58, 120), (-20, 150), (20, 140), (58, 110))):
        parts.append((rr_pts(cx + dx - 19, cy - 90 - ln, cx + dx + 19, cy - 60, 19), dk(c, 0.04 * (i % 2))))
    parts.append((rot(rr_pts(cx - 130, cy - 70, cx - 40, cy - 30, 20), cx - 60, cy - 40, -40), c))
    parts.append((rr_pts(cx - 88, cy + 60, cx + 88, cy + 170, 14), cuff))
    for pts, col in parts:
        p.poly(rot(pts, cx, cy, ang), [lt(col, 0.1), col, dk(col, 0.15)])
    p.line(rot([(cx - 88, cy + 90), (cx + 88, cy + 90)], cx, cy, ang), (0, 0, 0, 40), 4, False)


def gloves(p, c, cuff):
    p.shadow(600, 712, 280, 22)
    glove(p, 500, 500, -14, dk(c, 0.12), dk(cuff, 0.12))
    glove(p, 700, 530, 12, c, cuff)


def planter(p, clay, plant):
    p.shadow(600, 716, 190)
    p.ell(600, 712, 170, 22, cyl(dk(clay, 0.1)))
    for i, ang in enumerate(range(-80, 81, 20)):
        ln = 120 + (i % 3) * 30
        x, y = 600 + ln * math.sin(math.radians(ang)), 430 - ln * math.cos(math.radians(ang)) * 0.9
        leaf(p, (600 + x) / 2, (430 + y) / 2, ln / 2 + 10, 26, ang - 90, mix(plant, "#2f5d2a", (i % 3) / 3))
    p.poly([(460, 480), (740, 480), (700, 700), (500, 700)], cyl(clay))
    p.rect(445, 430, 755, 490, cyl(lt(clay, 0.05)), r=6)
    p.ell(600, 432, 150, 16, "#4a3426")


def compost_bin(p, c):
    p.shadow(600, 712, 200)
    p.poly([(470, 290), (730, 290), (770, 712), (430, 712)], cyl(c, 0.8))
    for y in range(340, 520, 40):
        for x in (520, 600, 680):
            p.rect(x - 28, y, x + 28, y + 10, dk(c, 0.4), r=5)
    p.rect(500, 580, 700, 690, lt(c, 0.08), r=8)
    p.rect(570, 600, 630, 614, dk(c, 0.4), r=6)
    p.poly([(450, 290), (750, 290), (730, 250), (470, 250)], cyl(lt(c, 0.1)))
    p.rect(570, 236, 630, 252, dk(c, 0.35), r=6)


def bird_feeder(p, wood, roof, seed):
    p.line([(600, 0), (600, 170)], "#6c7379", 5, False)
    p.arc(600, 180, 14, 14, 180, 540, "#6c7379", 5)
    p.cylinder(600, 260, 590, 80, 16, (225, 235, 235), False)
    for i, (x, y) in enumerate(spread(170, 530, 290, 670, 585)):
        p.ell(x, y, 8, 6, seed if i % 3 else dk(seed, 0.3))
    p.rect(528, 270, 548, 580, (255, 255, 255, 110), r=8)
    p.cylinder(600, 590, 620, 120, 24, wood)
    for side in (-1, 1):
        p.line([(600 + side * 80, 560), (600 + side * 150, 560)], dk(wood, 0.2), 8)
        p.ell(600 + side * 70, 540, 14, 14, dk(seed, 0.5))
    p.poly([(440, 280), (600, 190), (760, 280)], cyl(roof))
    p.poly([(440, 280), (760, 280), (760, 292), (440, 292)], dk(roof, 0.3))
    p.wall_shadow([(460, 620), (740, 620), (760, 660), (440, 660)], 0.15, 30)


def hose(p, c, fitting):
    p.shadow(600, 700, 320, 28)
    p.line([(820, 660), (900, 720), (980, 730)], c, 26)
    p.rect(970, 714, 1050, 746, cyl(fitting), r=6, vert=True)
    for i in range(6):
        cy, rx, ry = 640 - i * 26, 290 - i * 4, 110 - i * 2
        p.arc(600, cy, rx, ry, 180, 360, dk(c, 0.2), 26)
    for i in range(6):
        cy, rx, ry = 640 - i * 26, 290 - i * 4, 110 - i * 2
        p.arc(600, cy, rx, ry, 0, 180, c, 26)
        p.arc(600, cy - 6, rx, ry, 20, 160, (255, 255, 255, 40), 6)
    for x, y in ((380, 700), (500, 740), (700, 735), (820, 690)):
        p.poly(ell_pts(x, y + 30, 11, 15), (90, 160, 220, 170))
        p.ell(x - 3, y + 25, 3, 4, (255, 255, 255, 150))


# --- which drawing for which product ----------------------------------------------------------------------------------

DRAWINGS = {
    "sencha-green-tea": (pouch, dict(body="#5f8f4e", label="#f1ecd8", accent="#4f7f3e", mark="leaf")),
    "hojicha-roasted-tea": (tin, dict(body="#8a4b2f", lid="#2e2622", band="#efe2c9", mark="leaf", mark_col="#8a4b2f",
                                      floor="leaves", floor_col="#7a4a2a")),
    "genmaicha": (pouch, dict(body="#c9a96e", label="#f6efdc", accent="#7c9a55", mark="rice", floor="rice")),
    "ceremonial-matcha": (tin, dict(body="#3f7d3a", lid="#c9a24a", band="#f3ecd6", mark="dot", mark_col="#6aa84f",
                                    rx=105, h=230, floor="powder", floor_col="#7fb04e")),
    "single-origin-coffee-beans": (pouch, dict(body="#b88b5a", label="#3d2b22", accent="#c98e4c", mark="bean",
                                               top="fold", floor="beans", floor_col="#5a3522")),
    "cast-iron-teapot": (teapot, dict(c="#34403f")),
    "glass-pour-over-kettle": (glass_kettle, dict(wood="#9a6a44", lid="#c9cdd1")),
    "ceramic-coffee-dripper": (dripper, dict(c="#ece5d8", cup="#5f8797")),
    "hand-coffee-grinder": (grinder, dict(steel="#b9bec4", wood="#8a5a3b", zoom=1.1)),
    "tea-cups-set-of-two": (cups, dict(a="#d8cfc0", a_glaze="#7ea3a8", b="#7a5a48", b_glaze="#c8763f")),
    "carbon-steel-frying-pan": (frying_pan, dict(c="#3b3f46", handle="#6d737a", shift=-25)),
    "donabe-clay-pot": (pot, dict(body="#5a3e33", w=440, h=170, lid="#d9cbb0", lid_h=150, knob="#5a3e33",
                                  handles="ears", bowl=True)),
    "santoku-knife": (knife, dict(steel="#b8c0c8", handle="#c9a77c", ferrule="#2b2b2b", zoom=1.3, shift=-70)),
    "hinoki-cutting-board": (board, dict(wood="#e8d2a6")),
    "stainless-steel-saucepan": (pot, dict(body="#c3c8cd", w=320, h=220, lid="#d0d4d8", lid_h=46, knob="#2f2f2f",
                                           handles="long", cx=540, shift=-50)),
    "tamagoyaki-pan": (square_pan, dict(c="#c0713f", inner="#c9ccd0", wood="#b58a5a", shift=-60)),
    "bamboo-steamer": (steamer, dict(bamboo="#d8b878")),
    "silicone-spatula-set": (spatulas, dict(crock="#5d7380", colours=("#e07a5f", "#81b29a", "#f2c46d"))),
    "enamelled-dutch-oven": (pot, dict(body="#c2452d", w=430, h=200, lid="#c2452d", lid_h=85, knob="#b7bcc1",
                                       handles="side")),
    "mortar-and-pestle": (mortar, dict(stone="#7d8085", wood="#8f6a4a")),
    "linen-duvet-cover": (folded, dict(layers=[("#cbbca8", 540, 96, 0), ("#d3c5b2", 540, 96, 0),
                                               ("#ddd1c0", 530, 92, 0)])),
    "waffle-bath-towel": (folded, dict(layers=[("#9fb8c8", 460, 84, 0), ("#a7bfce", 460, 84, 0),
                                               ("#aec5d3", 450, 82, 0)], pattern="waffle")),
    "wool-throw-blanket": (folded, dict(layers=[("#a23b3b", 500, 96, 0), ("#a8403f", 500, 96, 0),
                                                ("#ad4544", 490, 94, 0)], pattern="check", pat="#2e2a2a")),
    "cotton-noren-curtain": (noren, dict(cloth="#2d3f6b", motif="#f1ede4", rod="#8a6a4a")),
    "gauze-pyjama-set": (pyjamas, dict(c="#b9c9dc", trim="#2e3f63")),
    "buckwheat-pillow": (pillow, dict(c="#8ea58a", piping="#5d735a")),
    "linen-tea-towels-set-of-three": (folded, dict(layers=[("#efe8dc", 400, 60, -40), ("#ebe3d5", 400, 60, 30),
                                                           ("#f3ede2", 400, 60, -10)], pattern="stripes",
                                                   pat=["#3f6fa0", "#b8483c", "#5c8a4a"])),
    "floor-cushion": (floor_cushion, dict(c="#c07a4f", tuft="#f2e6d4")),
    "merino-wool-socks": (socks, dict(c="#8c8f96", accent="#d9a441")),
    "organic-cotton-apron": (apron, dict(c="#c9a45c", strap="#6b5234")),
    "paper-pendant-lamp": (pendant, dict(paper="#f1dfbd", zoom=1.1)),
    "brass-table-lamp": (table_lamp, dict(brass="#c9a24a", shade="#e9dfcd")),
    "led-filament-bulb": (bulb, dict(glass="#f3c27a", base="#b8a06a")),
    "rechargeable-lantern": (lantern, dict(body="#2f4a3d", light="#ffd590")),
    "ceramic-wall-sconce": (sconce, dict(ceramic="#e9e4da", zoom=1.45)),
    "beeswax-candles-pair": (candles, dict(wax="#e0a93b")),
    "floor-lamp-with-linen-shade": (floor_lamp, dict(wood="#a77b52", shade="#e2d6c0", zoom=1.0)),
    "reading-light": (reading_light, dict(c="#d9a441", shift=-40)),
    "string-lights": (string_lights, dict(bulb="#ffd27a", zoom=1.0)),
    "candle-holder": (candle_holder, dict(iron="#2b2b2e", wax="#f4ecdc")),
    "titanium-camping-mug": (mug, dict(metal="#a9adb3", tint="#6a6fb8")),
    "down-sleeping-bag": (sleeping_bag, dict(c="#b8433a", lining="#3a3f46", shift=30)),
    "two-person-tent": (tent, dict(fly="#4f7d5a", door="#36593f")),
    "camp-stove": (stove, dict(canister="#2c5d8f", band="#e6b33c")),
    "folding-camp-chair": (chair, dict(fabric="#305f7a", frame="#2b2b2b")),
    "headlamp": (headlamp, dict(strap="#d9482b", case="#3a3d42")),
    "insulated-water-bottle": (bottle, dict(c="#2f6b5d", cap="#2b2b2b")),
    "camp-cook-set": (cook_set, dict(pot_c="#8a7a66", cup="#5e6b73", shift=-60)),
    "sleeping-pad": (sleeping_pad, dict(c="#2f8f8a", strap="#2b2b2b")),
    "multi-tool": (multi_tool, dict(steel="#b7bdc3", grip="#2b2b2b", zoom=1.35, shift=90)),
    "japanese-garden-shears": (shears, dict(steel="#b9c0c6", grip_a="#b23a2e", grip_b="#2e2e30")),
    "watering-can": (watering_can, dict(c="#8fa3ad", rose="#c9a24a", shift=-50)),
    "cedar-raised-bed": (raised_bed, dict(wood="#b06a3f", soil="#5a4030")),
    "hori-hori-garden-knife": (hori_hori, dict(steel="#aeb6bc", wood="#7a4f31", zoom=1.3)),
    "seed-starter-kit": (seed_tray, dict(tray="#2f3a33", soil="#6a4b35")),
    "garden-gloves": (gloves, dict(c="#e0b35c", cuff="#4d6b50")),
    "terracotta-planter": (planter, dict(clay="#c66b44", plant="#5a9a48")),
    "compost-bin": (compost_bin, dict(c="#2f4f3a")),
    "bird-feeder": (bird_feeder, dict(wood="#a2683e", roof="#5a7d8c", seed="#c9a46a")),
    "soaker-hose": (hose, dict(c="#3a3330", fitting="#c9a24a", zoom=1.1, shift=-60)),
}


def main():
    products = json.loads(CATALOG.read_text(encoding="utf-8"))["products"]
    missing = [p["name"] for p in products if slug(p["name"]) not in DRAWINGS]
    if missing:
        sys.exit("no drawing for: " + ", ".join(missing))
    unknown = [p["category"] for p in products if p["category"].split("/")[-1] not in PALETTES]
    if unknown:
        sys.exit("no backdrop for the categories: " + ", ".join(unknown))
    only = set(sys.argv[1:])  # slugs, to draw a few while working on them
    if only - {slug(p["name"]) for p in products}:
        sys.exit("no such product: " + ", ".join(sorted(only - {slug(p["name"]) for p in products})))
    OUT.mkdir(exist_ok=True)
    for product in products:
        name = slug(product["name"])
        if only and name not in only:
            continue
        draw, args = DRAWINGS[name]
        args = dict(args)
        pic = Pic(PALETTES[product["category"].split("/")[-1]], args.pop("zoom", 1.2), args.pop("shift", 0))
        draw(pic, **args)
        path = OUT / f"{name}.webp"
        quality = pic.save(path)
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes  quality {quality}")
    stale = {f.stem for f in OUT.glob("*.webp")} - {slug(p["name"]) for p in products}
    for name in sorted(stale):
        print(f"warning: {name}.webp is no product's picture", file=sys.stderr)


if __name__ == "__main__":
    main()
