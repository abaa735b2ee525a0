"""Drawing the synthetic junction: the static background, the signal head, road users, light and noise.

The background (road, markings, zebra, kerbs, buildings, the signal pole) is drawn once. Each
frame then gets the road users (shadows first, then far to near), the signal head with the lamp
of the current colour lit, the light of the moment (a slow exposure drift and a passing cloud by
day; street-light pools, glowing lamps and head/tail lights by night), sensor noise and a
timestamp overlay like a CCTV camera's.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.sample.vehicles import HEAD, Projected, by_depth
from pipeline.sample.world import (
    APPROACH_X,
    CROSS_Z,
    EXIT_X,
    FAR_Z,
    LANE_DIVIDER_X,
    SIGNAL_HEAD,
    SIGNAL_POLE,
    STOP_WIDTH,
    STOP_Z,
    ZEBRA_Z,
    Camera,
)

SHIFT = 4  # sub-pixel bits for cv2 polygons
LAMPS = {"red": (40, 30, 255), "yellow": (0, 175, 255), "green": (150, 255, 40)}
LAMP_OFF = {"red": (30, 28, 60), "yellow": (25, 45, 60), "green": (45, 55, 30)}
ROAD_X = (EXIT_X[0], APPROACH_X[1])
WHITE = (225, 228, 228)
YELLOW = (40, 190, 230)


def fill(img: np.ndarray, pts: np.ndarray | list, colour: tuple[int, ...]) -> None:
    """Anti-aliased filled polygon with sub-pixel corners."""
    arr = np.round(np.asarray(pts, dtype=np.float64) * (1 << SHIFT)).astype(np.int32)
    cv2.fillPoly(img, [arr], colour, cv2.LINE_AA, SHIFT)


class Painter:
    """Draws frames of the junction for one camera, by day or by night, with a seeded look."""

    def __init__(self, camera: Camera, night: bool, seed: int):
        self.cam = camera
        self.night = night
        self.seed = seed
        self.scale = camera.width / 640.0
        self.background = self._background()
        self.light_map = self._street_lights() if night else None

    # -- static background ------------------------------------------------------------------

    def _ground_quad(self, img: np.ndarray, x0: float, x1: float, z0: float, z1: float, colour) -> None:  # type: ignore[no-untyped-def]
        g = self.cam.ground
        fill(img, [g(x0, z0), g(x1, z0), g(x1, z1), g(x0, z1)], colour)

    def _wall(self, img: np.ndarray, a: tuple[float, float], b: tuple[float, float], height: float, colour,  # type: ignore[no-untyped-def]
              rng: np.random.Generator) -> None:
        """A building facade standing on the ground from (X, Z) a to b, with rows of windows."""
        p = self.cam.project
        fill(img, [p((a[0], 0, a[1])), p((b[0], 0, b[1])), p((b[0], height, b[1])), p((a[0], height, a[1]))], colour)
        cols, rows = max(1, int(math.hypot(b[0] - a[0], b[1] - a[1]) / 3.2)), max(1, int(height / 3.2))
        glass = (int(colour[0] * 0.45), int(colour[1] * 0.45), int(colour[2] * 0.5))
        for i in range(cols):
            for j in range(rows):
                if j == 0 and rng.random() < 0.6:
                    continue
                u0, u1 = (i + 0.25) / cols, (i + 0.75) / cols
                y0, y1 = (j + 0.3) * 3.2, (j + 0.8) * 3.2
                pts = [(a[0] + u * (b[0] - a[0]), y, a[1] + u * (b[1] - a[1])) for u, y in
                       ((u0, y0), (u1, y0), (u1, y1), (u0, y1))]
                lit = self.night and rng.random() < 0.35
                fill(img, [p(q) for q in pts], (90, 190, 235) if lit else glass)

    def _background(self) -> np.ndarray:
        cam, rng = self.cam, np.random.default_rng([self.seed, 7])
        h, w = cam.height, cam.width
        img = np.zeros((h, w, 3), np.uint8)
        sky_top, sky_low = np.array([200, 170, 140]), np.array([225, 215, 205])
        for v in range(h):
            img[v] = (sky_top + (sky_low - sky_top) * v / max(1, h - 1)).astype(np.uint8)
        self._ground_quad(img, -200, 200, cam.near_z - 4, 400, (120, 128, 130))  # pavements and yards
        asphalt = (92, 94, 96)
        self._ground_quad(img, ROAD_X[0], ROAD_X[1], cam.near_z - 4, FAR_Z, asphalt)
        self._ground_quad(img, -200, 200, CROSS_Z[0], CROSS_Z[1], asphalt)
        # kerbs
        for x in ROAD_X:
            for z0, z1 in ((cam.near_z - 4, CROSS_Z[0]), (CROSS_Z[1], FAR_Z)):
                self._ground_quad(img, x - 0.15, x + 0.15, z0, z1, (170, 175, 178))
        # buildings: along the near road, across the cross street, along the far road
        walls = [((-9.5, 2.0), (-9.5, CROSS_Z[0] - 0.5), 14.0), ((11.5, 2.0), (11.5, CROSS_Z[0] - 0.5), 12.0),
                 ((-90.0, CROSS_Z[0] - 0.5), (-9.5, CROSS_Z[0] - 0.5), 14.0),
                 ((11.5, CROSS_Z[0] - 0.5), (90.0, CROSS_Z[0] - 0.5), 12.0),
                 ((-90.0, CROSS_Z[1] + 2.5), (-9.5, CROSS_Z[1] + 2.5), 18.0),
                 ((11.5, CROSS_Z[1] + 2.5), (90.0, CROSS_Z[1] + 2.5), 21.0),
                 ((-9.5, FAR_Z), (-9.5, CROSS_Z[1] + 2.5), 16.0), ((11.5, CROSS_Z[1] + 2.5), (11.5, FAR_Z), 20.0),
                 ((-40.0, FAR_Z), (40.0, FAR_Z), 30.0)]
        palette = [(150, 170, 190), (120, 140, 170), (180, 185, 175), (110, 120, 140), (160, 150, 170)]
        for a, b, height in walls:
            self._wall(img, a, b, height, palette[int(rng.integers(len(palette)))], rng)
        # road markings
        for x in (-0.12, 0.12):  # double yellow centre line, solid up to the stop line
            self._ground_quad(img, x - 0.06, x + 0.06, cam.near_z - 4, STOP_Z - STOP_WIDTH / 2, YELLOW)
            self._ground_quad(img, x - 0.06, x + 0.06, CROSS_Z[1] + 4.0, FAR_Z, YELLOW)
        self._ground_quad(img, LANE_DIVIDER_X - 0.08, LANE_DIVIDER_X + 0.08, cam.near_z - 4,
                          STOP_Z - STOP_WIDTH / 2, WHITE)
        z = CROSS_Z[1] + 4.0
        while z < FAR_Z:  # dashed lane lines on the far road
            for x in (LANE_DIVIDER_X, -3.2):
                self._ground_quad(img, x - 0.08, x + 0.08, z, z + 3.0, WHITE)
            z += 9.0
        x = -60.0
        while x < 60.0:  # dashed centre line of the cross street
            if not ROAD_X[0] - 1 < x < ROAD_X[1] + 1:
                self._ground_quad(img, x, x + 3.0, sum(CROSS_Z) / 2 - 0.08, sum(CROSS_Z) / 2 + 0.08, WHITE)
            x += 8.0
        self._ground_quad(img, APPROACH_X[0] + 0.2, APPROACH_X[1], STOP_Z - STOP_WIDTH / 2, STOP_Z + STOP_WIDTH / 2,
                          WHITE)
        x = ROAD_X[0] + 0.3
        while x < ROAD_X[1] - 0.3:  # zebra crossing
            self._ground_quad(img, x, x + 0.5, ZEBRA_Z[0], ZEBRA_Z[1], WHITE)
            x += 1.0
        # worn asphalt: low-frequency blotches and fine grain, fixed for the clip
        blotch = cv2.resize(rng.normal(0, 6, (h // 16 + 1, w // 16 + 1)).astype(np.float32), (w, h))
        grain = rng.normal(0, 3, (h, w)).astype(np.float32)
        img = np.clip(img.astype(np.float32) + (blotch + grain)[..., None], 0, 255).astype(np.uint8)
        # the signal pole and its arm
        p = cam.project
        px, pz = SIGNAL_POLE
        r = 0.09
        fill(img, [p((px - r, 0, pz)), p((px + r, 0, pz)), p((px + r, SIGNAL_HEAD[2] + SIGNAL_HEAD[1] + 0.4, pz)),
                   p((px - r, SIGNAL_HEAD[2] + SIGNAL_HEAD[1] + 0.4, pz))], (95, 100, 100))
        return img

    def _street_lights(self) -> np.ndarray:
        """Per-pixel light at night: dim ambient plus pools under street lamps (float, ~0.2..1.3)."""
        cam = self.cam
        h, w = cam.height, cam.width
        light = np.full((h, w), 0.16, np.float32)
        vv, uu = np.mgrid[0:h, 0:w].astype(np.float32)
        for x, z in ((8.2, 9.0), (-7.5, 19.0), (8.2, 28.0), (-7.5, 40.0), (8.2, 55.0), (-7.5, 75.0)):
            cx, cy = cam.ground(x - math.copysign(2.5, x), z)
            distance = math.hypot(z, cam.height_m)
            radius = cam.focal * 3.5 / distance
            light += 0.75 * np.exp(-(((uu - cx) / (1.4 * radius)) ** 2 + ((vv - cy) / (0.6 * radius)) ** 2))
        return light

    # -- per frame ------------------------------------------------------------------------

    def frame(self, t: float, colour: str, users: list[Projected], frame_index: int) -> np.ndarray:
        """One frame at time `t` with the signal showing `colour`."""
        img = self.background.copy()
        self._shadows(img, users)
        glow = np.zeros_like(img)
        for u in by_depth(users):
            for poly in u.polygons:
                if poly.light and self.night:  # head lights glow white, tail lights red
                    c = (255, 250, 240) if poly.colour == HEAD else (90, 90, 255)
                    fill(img, poly.points, c)
                    fill(glow, poly.points, c)
                else:
                    fill(img, poly.points, poly.colour)
        img = self._light(img, t)
        self._signal(img, glow, colour)
        if self.night:
            sigma = 2.5 * self.scale
            halo = cv2.GaussianBlur(glow, (0, 0), sigma)
            img = cv2.add(img, cv2.addWeighted(halo, 1.6, glow, 0.3, 0))
        img = self._noise(img, frame_index)
        self._overlay(img, t)
        return img

    def _shadows(self, img: np.ndarray, users: list[Projected]) -> None:
        if self.night:
            return
        mask = np.zeros(img.shape[:2], np.uint8)
        for u in users:
            fill(mask, u.shadow + np.array([4.0, 2.0]) * self.scale, (255,))
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5 * self.scale)
        k = 1.0 - 0.45 * mask.astype(np.float32) / 255.0
        img[:] = (img.astype(np.float32) * k[..., None]).astype(np.uint8)

    def _light(self, img: np.ndarray, t: float) -> np.ndarray:
        if self.night:
            assert self.light_map is not None
            tint = np.array([0.8, 0.9, 1.05], np.float32)  # sodium-ish street light
            return np.clip(img.astype(np.float32) * self.light_map[..., None] * tint, 0, 255).astype(np.uint8)
        phase = (self.seed % 97) / 97.0 * 2 * math.pi
        gain = 1.0 + 0.08 * math.sin(2 * math.pi * t / 17.0 + phase)
        cloud_at = 5.0 + (self.seed % 11)  # a cloud passes, the exposure follows a little late
        gain -= 0.28 * math.exp(-(((t - cloud_at) % 40.0 - 3.0) / 2.2) ** 2)
        warm = 0.03 * math.sin(2 * math.pi * t / 29.0 + phase)
        gains = (gain * (1 - warm), gain, gain * (1 + warm))
        lut = np.stack([np.clip(np.arange(256) * g, 0, 255) for g in gains], axis=-1).astype(np.uint8)
        return cv2.LUT(img, lut.reshape(256, 1, 3))

    def _signal(self, img: np.ndarray, glow: np.ndarray, colour: str) -> None:
        """The 3-lamp head facing the camera: red on top, amber, green at the bottom."""
        p = self.cam.project
        w, h, bottom = SIGNAL_HEAD
        x, z = SIGNAL_POLE
        tl, br = p((x - w / 2, bottom + h, z)), p((x + w / 2, bottom, z))
        board = 0.12 * (br[0] - tl[0])
        fill(img, [(tl[0] - board, tl[1] - board), (br[0] + board, tl[1] - board), (br[0] + board, br[1] + board),
                   (tl[0] - board, br[1] + board)], (22, 22, 22))
        fill(img, [tl, (br[0], tl[1]), br, (tl[0], br[1])], (45, 45, 42))
        cx = (tl[0] + br[0]) / 2
        radius = 0.34 * (br[0] - tl[0])
        for i, name in enumerate(("red", "yellow", "green")):
            cy = tl[1] + (br[1] - tl[1]) * (i * 2 + 1) / 6
            centre = (int(round(cx * 16)), int(round(cy * 16)))
            r = int(round(radius * 16))
            if name == colour:
                lit = LAMPS[name]
                core = (255, 250, 245) if self.night else tuple(min(255, c + 70) for c in lit)
                cv2.circle(img, centre, r, lit, -1, cv2.LINE_AA, 4)
                cv2.circle(img, centre, int(r * 0.5), core, -1, cv2.LINE_AA, 4)
                cv2.circle(glow, centre, r, lit, -1, cv2.LINE_AA, 4)
            else:
                cv2.circle(img, centre, r, LAMP_OFF[name], -1, cv2.LINE_AA, 4)

    def _noise(self, img: np.ndarray, frame_index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 11, frame_index])
        sigma = 5.0 if self.night else 2.5
        noise = rng.normal(0.0, sigma, img.shape[:2]).astype(np.float32)
        colour_noise = rng.normal(0.0, sigma * 0.5, img.shape).astype(np.float32)
        return np.clip(img.astype(np.float32) + noise[..., None] + colour_noise, 0, 255).astype(np.uint8)

    def _overlay(self, img: np.ndarray, t: float) -> None:
        seconds = int(8 * 3600 + (20 * 3600 if self.night else 0) + 15 * 60 + t) % 86400
        stamp = f"2026-03-14 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}  CAM 07"
        size = 0.42 * self.scale
        org = (int(8 * self.scale), int(18 * self.scale))
        cv2.putText(img, stamp, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), max(1, int(3 * self.scale)),
                    cv2.LINE_AA)
        cv2.putText(img, stamp, org, cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), max(1, int(self.scale)),
                    cv2.LINE_AA)
