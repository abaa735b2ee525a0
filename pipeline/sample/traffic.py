"""Who drives where in the synthetic junction: the signal plan, the road users and their motion.

Every road user follows a path (a lane, possibly with a lane change) at a speed set by a simple
car-following model: it keeps its desired speed, brakes for the vehicle ahead in its lane and,
if it obeys the signal, for the stop line on yellow (when it can stop) and red. The scenario puts
the offences in on purpose, once per signal cycle: a car changing lanes across the solid lane
divider on green, a motorbike riding up the exit carriageway against its direction, and road
users that cross the stop line well into red. Background traffic is scheduled so that it never
breaks a rule by accident (the truth is computed from the motion anyway, so it would be counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.sample.world import CROSS_LANES_Z, CROSS_Z, LANE_X, STOP_WIDTH, STOP_Z

DT = 0.02  # simulation step, seconds
WARMUP_S = 12.0  # traffic runs this long before the first frame, so the road is not empty at the start
DESPAWN_FAR_Z = 130.0
EXIT_SPAWN_Z = 110.0
CROSS_SPAWN_X = 26.0


@dataclass(frozen=True)
class SignalPlan:
    """Fixed-time cycle starting on green at t = 0."""

    green_s: float = 6.0
    yellow_s: float = 2.0
    red_s: float = 8.0

    @property
    def cycle_s(self) -> float:
        return self.green_s + self.yellow_s + self.red_s

    def colour_at(self, t: float) -> str:
        phase = t % self.cycle_s
        if phase < self.green_s:
            return "green"
        return "yellow" if phase < self.green_s + self.yellow_s else "red"

    def red_start(self, cycle: int) -> float:
        return cycle * self.cycle_s + self.green_s + self.yellow_s

    def next_change(self, t: float) -> float:
        base = math.floor(t / self.cycle_s) * self.cycle_s
        for edge in (self.green_s, self.green_s + self.yellow_s, self.cycle_s):
            if base + edge > t + 1e-9:
                return base + edge
        return base + self.cycle_s


@dataclass(frozen=True)
class Look:
    """Size and colours of a road user (metres, BGR)."""

    kind: str  # car, bus, motorcycle
    length: float
    width: float
    body: tuple[int, int, int]
    accent: tuple[int, int, int]
    rider: tuple[int, int, int] = (0, 0, 0)
    helmet: tuple[int, int, int] = (0, 0, 0)


CAR_COLOURS = [
    (235, 235, 232), (190, 192, 195), (40, 40, 44), (35, 35, 170), (150, 90, 30), (90, 95, 100),
    (60, 90, 40), (150, 180, 205), (30, 60, 120), (200, 200, 180), (20, 130, 200), (110, 40, 90),
]
BUS_COLOURS = [((40, 200, 235), (30, 30, 190)), ((240, 240, 235), (60, 140, 40)), ((60, 150, 60), (235, 235, 235))]
BIKE_COLOURS = [(30, 30, 30), (30, 30, 160), (150, 60, 20), (200, 200, 200), (20, 20, 90), (60, 60, 60)]
CLOTHES = [(40, 40, 40), (200, 120, 40), (60, 60, 200), (220, 220, 220), (40, 140, 40), (120, 60, 140),
           (30, 80, 160), (180, 180, 60), (90, 70, 50)]
HELMETS = [(240, 240, 240), (30, 30, 30), (30, 30, 200), (200, 140, 30), (40, 180, 230), (180, 60, 180)]


def random_look(rng: np.random.Generator, kind: str) -> Look:
    """A road user of `kind` with sizes and colours drawn from `rng`."""
    def pick(options):  # type: ignore[no-untyped-def]
        return options[int(rng.integers(len(options)))]

    if kind == "car":
        return Look("car", float(rng.uniform(3.9, 4.8)), float(rng.uniform(1.68, 1.86)), pick(CAR_COLOURS),
                    pick(CAR_COLOURS))
    if kind == "bus":
        body, accent = pick(BUS_COLOURS)
        return Look("bus", float(rng.uniform(9.5, 11.5)), 2.5, body, accent)
    return Look("motorcycle", float(rng.uniform(1.75, 1.95)), 0.68, pick(BIKE_COLOURS), pick(BIKE_COLOURS),
                pick(CLOTHES), pick(HELMETS))


@dataclass
class Agent:
    """One road user and its state. `s` is the position of its centre along its route."""

    id: int
    look: Look
    route: str  # up: +Z (towards the junction), down: -Z, right: +X, left: -X
    lane: str  # vehicles in the same lane follow each other
    x: float  # lateral position: X for up/down routes, Z for the cross street
    spawn_t: float
    s: float
    v: float
    v_des: float
    obeys: bool = True
    shift: tuple[float, float, float] | None = None  # lane change: (s_from, s_to, new lateral position)
    role: str = "background"
    active: bool = False
    gone: bool = False
    committed: bool = False  # decided to go through on yellow
    stopping: bool = False

    def lateral(self, s: float | None = None) -> float:
        s = self.s if s is None else s
        if self.shift is None:
            return self.x
        s0, s1, x1 = self.shift
        u = min(1.0, max(0.0, (s - s0) / (s1 - s0)))
        u = u * u * (3 - 2 * u)
        return self.x + (x1 - self.x) * u

    def ground(self, s: float | None = None) -> tuple[float, float]:
        """(X, Z) of the centre on the road."""
        s = self.s if s is None else s
        lat = self.lateral(s)
        return {"up": (lat, s), "down": (lat, -s), "right": (s, lat), "left": (-s, lat)}[self.route]

    def heading(self) -> tuple[float, float]:
        """Unit direction of travel on the road (dX, dZ)."""
        a, b = self.ground(self.s - 0.25), self.ground(self.s + 0.25)
        dx, dz = b[0] - a[0], b[1] - a[1]
        n = math.hypot(dx, dz)
        return dx / n, dz / n

    @property
    def front(self) -> float:
        return self.s + self.look.length / 2

    @property
    def rear(self) -> float:
        return self.s - self.look.length / 2


@dataclass
class Traffic:
    """The scenario of one clip and its simulation; `advance_to(t)` moves everyone to time t.

    The simulation runs on a fixed grid of DT steps from `start` (times between grid points round
    to the nearest one), so the state at a time does not depend on which frames were asked for.
    """

    plan: SignalPlan
    agents: list[Agent] = field(default_factory=list)
    start: float = -WARMUP_S
    steps: int = 0

    @property
    def t(self) -> float:
        return self.start + self.steps * DT

    def advance_to(self, t: float) -> None:
        target = round((t - self.start) / DT)
        while self.steps < target:
            self._step(DT)
            self.steps += 1

    def visible(self) -> list[Agent]:
        return [a for a in self.agents if a.active and not a.gone]

    def _step(self, dt: float) -> None:
        now = self.t
        for a in self.agents:
            if not a.active and not a.gone and now >= a.spawn_t and self._room_to_spawn(a):
                a.active = True
        lanes: dict[str, list[Agent]] = {}
        for a in self.visible():
            lanes.setdefault(a.lane, []).append(a)
        for members in lanes.values():
            members.sort(key=lambda a: -a.s)
            for i, a in enumerate(members):
                leader = members[i - 1] if i > 0 else None
                self._move(a, leader, now, dt)
        for a in self.visible():
            if a.route == "up" and a.s > DESPAWN_FAR_Z or a.route == "down" and a.rear > -2.0 or (
                a.route in ("right", "left") and a.s > CROSS_SPAWN_X + 8
            ):
                a.gone = True

    def _room_to_spawn(self, a: Agent) -> bool:
        others = [b for b in self.visible() if b.lane == a.lane]
        return all(b.rear - a.front > 2.0 for b in others if b.s >= a.s)

    def _stop_target(self, a: Agent, now: float) -> float | None:
        """Where the front must stop for the signal, or None."""
        if a.route != "up" or not a.obeys or a.committed:
            return None
        line = STOP_Z - STOP_WIDTH / 2 - 0.4
        if a.front > line + 0.1:
            a.committed = True
            return None
        colour = self.plan.colour_at(now)
        if colour == "green":
            a.stopping = False
            return None
        if not a.stopping:
            to_line = line - a.front
            can_stop = to_line > a.v * a.v / (2 * 6.0)
            clears = a.v > 0.5 and (STOP_Z - a.rear) / a.v < self.plan.next_change(now) - now - 0.5
            if colour == "yellow" and clears or not can_stop:
                a.committed = True
                return None
            a.stopping = True
        return line

    def _move(self, a: Agent, leader: Agent | None, now: float, dt: float) -> None:
        limit = math.inf
        target = self._stop_target(a, now)
        if target is not None:
            limit = target
        if leader is not None:
            limit = min(limit, leader.rear - (1.2 if a.look.kind == "motorcycle" else 2.0))
        gap = limit - a.front
        v_safe = math.sqrt(2 * 3.5 * max(gap, 0.0)) if math.isfinite(gap) else math.inf
        v_target = min(a.v_des, v_safe)
        if a.v < v_target:
            a.v = min(v_target, a.v + 2.5 * dt)
        else:
            a.v = max(v_target, a.v - 7.0 * dt)
        a.s += a.v * dt
        if math.isfinite(limit) and a.front > limit and gap >= 0:
            a.s = limit - a.look.length / 2  # never run into the car ahead or over a line it stops for
            a.v = 0.0


class ScenarioBuilder:
    """Builds the road users of a clip of `seconds` from a seed (see module docstring)."""

    def __init__(self, seed: int, seconds: float, near_z: float, plan: SignalPlan | None = None):
        self.rng = np.random.default_rng(seed)
        self.seconds = seconds
        self.near_z = near_z
        self.plan = plan or SignalPlan()
        self.agents: list[Agent] = []
        self.reserved: list[tuple[str, float, float]] = []  # (lane, from, to): no background then
        self.runners: list[tuple[float, float, float, float]] = []  # (X, time the rear crosses, speed, length)

    def build(self) -> Traffic:
        plan = self.plan
        cycles = math.ceil(self.seconds / plan.cycle_s) + 1
        for k in range(cycles):
            self._offences(k)
        for lane in ("A", "B"):
            self._approach_background(lane)
        for lane in ("E1", "E2"):
            self._exit_background(lane)
        self._cross_background()
        self.agents.sort(key=lambda a: a.spawn_t)
        for i, a in enumerate(self.agents):
            a.id = i + 1
        return Traffic(plan, self.agents)

    def _add(self, look: Look, route: str, lane: str, x: float, spawn_t: float, s: float, v: float, **kw) -> Agent:
        agent = Agent(0, look, route, lane, x, spawn_t, s, v, v, **kw)
        self.agents.append(agent)
        return agent

    def _spawn_s(self, look: Look) -> float:
        return self.near_z - look.length / 2 - 1.5

    def _offences(self, k: int) -> None:
        plan, rng = self.plan, self.rng
        t0 = k * plan.cycle_s
        # a car changes lanes across the solid lane divider, on green
        look = random_look(rng, "car")
        v = float(rng.uniform(6.0, 7.0))
        s0 = self._spawn_s(look)
        start = t0 + 0.4 + float(rng.uniform(0.0, 0.4))
        shift_from = self.near_z + 2.0
        self._add(look, "up", "A", LANE_X["A"], start, s0, v, role="solid_line",
                  shift=(shift_from, shift_from + 5.5, LANE_X["B"]))
        self.reserved += [("B", start - 4.0, start + 5.0), ("A", start - 1.0, start + 2.5)]
        # a motorbike rides up the exit carriageway, against its direction
        look = random_look(rng, "motorcycle")
        v = float(rng.uniform(4.3, 5.0))
        start = t0 + 1.2 + float(rng.uniform(0.0, 0.6))
        self._add(look, "up", "W", LANE_X["W"], start, self._spawn_s(look), v, role="wrong_way", obeys=False)
        # two road users cross the stop line well into red
        red = plan.red_start(k)
        kinds = ["motorcycle", ["car", "motorcycle", "bus"][k % 3]]
        for i, (kind, after) in enumerate(zip(kinds, (2.0, 5.0), strict=True)):
            look = random_look(rng, kind)
            v = float(rng.uniform(7.0, 8.5))
            crossing = red + after + float(rng.uniform(-0.3, 0.3))
            s0 = self._spawn_s(look)
            spawn = crossing - (STOP_Z + look.length / 2 - s0) / v
            x = LANE_X["B"] + (0.5 if kind == "motorcycle" and i == 0 else 0.0)
            self._add(look, "up", "B", x, spawn, s0, v, role="red_light", obeys=False)
            self.reserved.append(("B", spawn - 6.0, crossing + 1.0))
            self.runners.append((x, crossing, v, look.length))

    def _meets_runner(self, route: str, z: float, spawn: float, v: float, length: float) -> bool:
        """Would a cross-street road user pass where a red-light runner is, when it is there?"""
        for x, crossing, rv, rl in self.runners:
            # runner's centre: STOP_Z + rl / 2 + rv * (t - crossing); it covers lane z during [a, b]
            reach = rl / 2 + 1.5
            a = crossing + (z - STOP_Z - rl / 2 - reach) / rv
            b = crossing + (z - STOP_Z - rl / 2 + reach) / rv
            # this road user's centre: -CROSS_SPAWN_X + v * (t - spawn) along its route
            along = x if route == "right" else -x
            c = spawn + (along + CROSS_SPAWN_X - length / 2 - 1.5) / v
            d = spawn + (along + CROSS_SPAWN_X + length / 2 + 1.5) / v
            if a < d and c < b:
                return True
        return False

    def _free(self, lane: str, t: float) -> bool:
        return not any(lane == ln and a <= t <= b for ln, a, b in self.reserved)

    def _approach_background(self, lane: str) -> None:
        rng, plan = self.rng, self.plan
        t = -WARMUP_S + float(rng.uniform(0.0, 1.5))
        while t < self.seconds:
            kind = str(rng.choice(["car", "motorcycle", "bus"], p=[0.45, 0.45, 0.10]))
            look = random_look(rng, kind)
            v = float(rng.uniform(6.0, 8.0)) if kind != "bus" else float(rng.uniform(5.5, 6.5))
            s0 = self._spawn_s(look)
            clear_at = t + (STOP_Z + look.length / 2 - s0) / v + 0.8
            cycle_start = math.floor(t / plan.cycle_s) * plan.cycle_s
            in_green = clear_at < cycle_start + plan.green_s - 0.3
            late_in_red = t - cycle_start > plan.green_s + plan.yellow_s + 3.0  # keeps the queue short
            if kind == "bus" and lane == "B":
                kind = "car"
                look = random_look(rng, kind)
            if self._free(lane, t) and (lane == "A" and not late_in_red or in_green):
                self._add(look, "up", lane, LANE_X[lane] + float(rng.uniform(-0.3, 0.3)), t, s0, v)
                t += look.length / v
            t += float(rng.exponential(2.2 if lane == "A" else 2.8)) + 0.6

    def _exit_background(self, lane: str) -> None:
        rng, plan = self.rng, self.plan
        t = -WARMUP_S - 12.0 + float(rng.uniform(0.0, 2.0))
        while t < self.seconds:
            kind = str(rng.choice(["car", "motorcycle"], p=[0.55, 0.45]))  # a bus here would hide the approach
            look = random_look(rng, kind)
            v = float(rng.uniform(6.5, 8.0))
            # through the cross street only while our approach has green or yellow (theirs too)
            enter = t + (EXIT_SPAWN_Z - CROSS_Z[1] - look.length) / v
            leave = t + (EXIT_SPAWN_Z - CROSS_Z[0] + look.length) / v
            c = math.floor(enter / plan.cycle_s) * plan.cycle_s
            ok = enter >= c + 0.3 and leave <= c + plan.green_s + plan.yellow_s - 0.3
            if ok:
                self._add(look, "down", lane, LANE_X[lane], t, -EXIT_SPAWN_Z, v)
                t += look.length / v + 0.8
            t += float(rng.uniform(0.4, 2.5))

    def _cross_background(self) -> None:
        rng, plan = self.rng, self.plan
        for route, z in (("right", CROSS_LANES_Z[0]), ("left", CROSS_LANES_Z[1])):
            t = -WARMUP_S + float(rng.uniform(0.0, 1.0))
            while t < self.seconds:
                kind = str(rng.choice(["car", "motorcycle", "bus"], p=[0.5, 0.4, 0.1]))
                look = random_look(rng, kind)
                v = float(rng.uniform(7.0, 9.0))
                enter = t + (CROSS_SPAWN_X - 9.0 - look.length) / v  # reaches the road edges (|X| < 9)
                leave = t + (CROSS_SPAWN_X + 9.0 + look.length) / v
                c = plan.red_start(math.floor((enter - plan.green_s - plan.yellow_s) / plan.cycle_s))
                ok = enter >= c + 0.4 and leave <= c + plan.red_s - 0.6
                if ok and not self._meets_runner(route, z, t, v, look.length):
                    self._add(look, route, "C" + route, z + float(rng.uniform(-0.3, 0.3)), t, -CROSS_SPAWN_X, v,
                              obeys=False)
                    t += look.length / v + 0.6
                t += float(rng.uniform(0.3, 1.5))
