"""The redaction test set: street scenes with faces and Chinese licence plates, and where they
are. Deterministic (a fixed seed): the same photos and the same truth on every machine, built
from the files in sources/ (README there: what they are and their licences).

    from bench.redaction.testset import scenes
    for scene in scenes(width=4000):      # 12-MP photos (4000 × 3000)
        scene.image, scene.faces, scene.plates   # PIL image; [x, y, w, h] boxes

Faces: the sample portraits image libraries ship (scikit-image's astronaut and camera,
Pillow's hopper), pasted at face heights from about 1.5 % to 16 % of the photo's height,
turned −20…20°, lighter and darker. Plates: 440 × 140 mm rendered blue (white characters),
yellow and new-energy green (black), 100–360 px wide at 4000 px, turned −8…8°, on cars of
several colours (blue ones included: the case colour localisation misses).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

SOURCES = Path(__file__).resolve().parent / "sources"
# Each portrait crop and its face box (x0, y0, x1, y1) in the crop, checked by eye.
PORTRAITS = {"astronaut": (61, 58, 150, 178), "camera": (52, 59, 108, 137),
             "hopper": (39, 23, 91, 77)}
PLATE_STYLES = {
    "blue": ((10, 60, 170), (255, 255, 255)),
    "yellow": ((245, 190, 0), (0, 0, 0)),
    "green": (None, (0, 0, 0)),  # a gradient, light green to white
}
CAR_COLOURS = [(235, 235, 235), (160, 160, 165), (30, 30, 35), (170, 30, 30), (20, 50, 140),
               (90, 60, 40)]
PROVINCES = "浙苏沪京粤川鲁皖"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
SEED = 20261207


@dataclass
class Scene:
    name: str
    image: Image.Image
    faces: list[list[int]] = field(default_factory=list)
    plates: list[list[int]] = field(default_factory=list)
    plate_colours: list[str] = field(default_factory=list)


def _font(size: int):
    for path in ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                 "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"):
        if Path(path).exists():
            return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size), False


def _texture(name: str, size: tuple[int, int]) -> Image.Image:
    tile = Image.open(SOURCES / f"{name}.jpg").convert("RGB")
    tile = tile.resize((tile.width * 2, tile.height * 2))
    out = Image.new("RGB", size)
    for x in range(0, size[0], tile.width):
        for y in range(0, size[1], tile.height):
            out.paste(tile, (x, y))
    return out


def _street(width: int, height: int, rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (width, height), (150, 190, 230))
    draw = ImageDraw.Draw(image)
    for y in range(int(height * 0.35)):  # the sky, lighter towards the horizon
        t = y / (height * 0.35)
        draw.line([(0, y), (width, y)], fill=(int(120 + 90 * t), int(170 + 60 * t), 235))
    x = 0
    while x < width:  # buildings
        w = rng.randint(width // 10, width // 4)
        top = rng.randint(int(height * 0.12), int(height * 0.35))
        wall = _texture("brick", (w, int(height * 0.6) - top))
        wall = ImageEnhance.Brightness(wall).enhance(rng.uniform(0.6, 1.2))
        image.paste(wall, (x, top))
        for wx in range(x + w // 10, x + w - w // 8, max(8, w // 5)):  # windows
            for wy in range(top + height // 30, int(height * 0.55), height // 12):
                draw.rectangle([wx, wy, wx + w // 10, wy + height // 25], fill=(60, 80, 100))
        x += w + rng.randint(0, width // 40)
    image.paste(_texture("gravel", (width, height - int(height * 0.6))), (0, int(height * 0.6)))
    grass = _texture("grass", (width, height // 30))
    image.paste(grass, (0, int(height * 0.6) - height // 60))
    return image


def _plate(colour: str, plate_width: int, rng: random.Random) -> Image.Image:
    plate_height = max(8, round(plate_width * 140 / 440))
    background, ink = PLATE_STYLES[colour]
    plate = Image.new("RGB", (plate_width, plate_height), background or (0, 0, 0))
    draw = ImageDraw.Draw(plate)
    if colour == "green":
        for x in range(plate_width):
            t = x / plate_width
            draw.line([(x, 0), (x, plate_height)],
                      fill=(int(120 + 110 * t), int(200 + 50 * t), int(120 + 110 * t)))
    if colour == "blue":
        inset = max(1, plate_height // 20)
        draw.rectangle([inset, inset, plate_width - inset - 1, plate_height - inset - 1],
                       outline=(255, 255, 255), width=max(1, plate_height // 30))
    font, cjk = _font(max(6, int(plate_height * 0.7)))
    number = "".join(rng.choice(LETTERS) for _ in range(6 if colour == "green" else 5))
    text = (rng.choice(PROVINCES) if cjk else "Z") + rng.choice("ABCDEFG") + "·" + number
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    scale_x = (plate_width * 0.9) / max(1, right - left)
    word = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(word).text((-left + 1, -top + 1), text, font=font, fill=255)
    word = word.resize((max(1, int(word.width * scale_x)), word.height))
    plate.paste(Image.new("RGB", word.size, ink), ((plate_width - word.width) // 2,
                                                  (plate_height - word.height) // 2), word)
    return plate


def _rotated_box(box, size, angle):
    """A box in an image of `size`, after rotating that image by `angle` with expand=True."""
    w, h = size
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    new_w = abs(w * cos) + abs(h * sin)
    new_h = abs(w * sin) + abs(h * cos)
    points = []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = x - w / 2, y - h / 2
        points.append((dx * cos + dy * sin + new_w / 2, -dx * sin + dy * cos + new_h / 2))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def scenes(width: int = 4000, count: int = 36) -> list[Scene]:
    height = width * 3 // 4
    unit = width / 4000
    rng = random.Random(SEED)
    face_heights = [60, 90, 130, 200, 300, 480]
    plate_widths = [100, 150, 220, 300, 360]
    made = []

    def free_spot(w, h, top):
        """A place for a w × h thing below `top` that covers nothing placed before."""
        for _ in range(40):
            x = rng.randint(0, max(0, width - w))
            y = rng.randint(top, max(top, height - h))
            if all(x + w <= a or a + c <= x or y + h <= b or b + d <= y
                   for a, b, c, d in taken):
                taken.append((x, y, w, h))
                return x, y
        return None

    for n in range(count):
        scene = Scene(f"scene-{n:02d}", _street(width, height, rng))
        draw = ImageDraw.Draw(scene.image)
        taken: list[tuple[int, int, int, int]] = []
        for _car in range(rng.choice([0, 1, 1, 2])):
            plate_width = round(rng.choice(plate_widths) * unit)
            car_w, car_h = int(plate_width * 4.2), int(plate_width * 1.6)
            spot = free_spot(car_w, car_h, int(height * 0.6))
            if spot is None:
                continue
            cx, cy = spot
            draw.rounded_rectangle([cx, cy, cx + car_w, cy + car_h], radius=car_h // 6,
                                   fill=rng.choice(CAR_COLOURS))
            colour = rng.choice(list(PLATE_STYLES))
            plate = _plate(colour, plate_width, rng)
            angle = rng.uniform(-8, 8)
            turned = plate.convert("RGBA").rotate(angle, expand=True, resample=Image.BICUBIC)
            px = cx + (car_w - turned.width) // 2
            py = cy + int(car_h * 0.55)
            scene.image.paste(turned, (px, py), turned)
            x0, y0, x1, y1 = _rotated_box((0, 0, plate.width, plate.height), plate.size, angle)
            scene.plates.append([round(px + x0), round(py + y0), round(x1 - x0), round(y1 - y0)])
            scene.plate_colours.append(colour)
        for _person in range(rng.choice([0, 1, 1, 2, 3])):
            name = rng.choice(list(PORTRAITS))
            portrait = Image.open(SOURCES / f"{name}.jpg").convert("RGB")
            face = PORTRAITS[name]
            target = rng.choice(face_heights) * unit
            factor = target / (face[3] - face[1])
            portrait = portrait.resize((max(1, round(portrait.width * factor)),
                                        max(1, round(portrait.height * factor))), Image.LANCZOS)
            portrait = ImageEnhance.Brightness(portrait).enhance(rng.uniform(0.65, 1.3))
            box = tuple(v * factor for v in face)
            angle = rng.choice([-20, -10, 0, 0, 10, 20])
            turned = portrait.convert("RGBA").rotate(angle, expand=True, resample=Image.BICUBIC)
            x0, y0, x1, y1 = _rotated_box(box, portrait.size, angle)
            spot = free_spot(turned.width, turned.height, int(height * 0.2))
            if turned.width >= width or turned.height >= height or spot is None:
                continue
            px, py = spot
            scene.image.paste(turned, (px, py), turned)
            # A face turned in its box is boxed by the turned corners: shrink that to the
            # face itself (the turned box of a square face is up to 1.4 × too big).
            shrink = (1 - 1 / (abs(math.cos(math.radians(angle))) +
                               abs(math.sin(math.radians(angle))))) / 2
            fw, fh = x1 - x0, y1 - y0
            scene.faces.append([round(px + x0 + fw * shrink), round(py + y0 + fh * shrink),
                                round(fw * (1 - 2 * shrink)), round(fh * (1 - 2 * shrink))])
        made.append(scene)
    return made
