"""One road user per rider: merge a person with the two-wheeler under them.

COCO-trained detectors often report a motorbike rider as a `person` box and the bike as a
separate `motorcycle` box (or miss the bike entirely). Rules reason about vehicles, so a
person sitting on a detected two-wheeler is folded into it (the box becomes their union and
the anchor stays at the wheels), and two heavily overlapping persons (a passenger behind the
rider) become one.
"""

from __future__ import annotations

from detector.types import Box, Detection

TWO_WHEELERS = frozenset({"motorcycle", "bicycle"})


def _union_box(a: Box, b: Box) -> Box:
    return Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))


def _rides(person: Box, bike: Box) -> bool:
    """A rider's box overlaps the bike and sits on or above it, roughly centred over it."""
    if person.area == 0 or person.intersection(bike) < 0.2 * person.area:
        return False
    centre = (person.x1 + person.x2) / 2
    return bike.x1 <= centre <= bike.x2 and person.y1 <= bike.y1 + 0.5 * bike.height


def merge_riders(detections: list[Detection], passenger_overlap: float = 0.5) -> list[Detection]:
    """Fold riders into their two-wheelers, and passengers into their rider.

    Args:
        detections: one frame's detections (tracked or not).
        passenger_overlap: intersection over the smaller box above which two persons are one.
    """
    bikes = [d for d in detections if d.label in TWO_WHEELERS]
    # older tracks first, so the same person of a rider/passenger pair is kept frame after frame
    persons = sorted(
        (d for d in detections if d.label == "person"),
        key=lambda d: (d.track_id is None, d.track_id or 0, -d.confidence),
    )
    others = [d for d in detections if d.label not in TWO_WHEELERS and d.label != "person"]
    merged_bikes = {id(b): b for b in bikes}
    kept_persons: list[Detection] = []
    for person in persons:
        bike = next((b for b in bikes if _rides(person.box, b.box)), None)
        if bike is not None:
            current = merged_bikes[id(bike)]
            merged_bikes[id(bike)] = Detection(
                _union_box(current.box, person.box), current.label, current.confidence, current.track_id
            )
            continue
        if any(_is_passenger(person.box, k.box, passenger_overlap) for k in kept_persons):
            continue  # a passenger behind a rider already kept
        kept_persons.append(person)
    return others + list(merged_bikes.values()) + kept_persons


def _is_passenger(a: Box, b: Box, overlap: float) -> bool:
    """Two person boxes overlapping by more than `overlap` of the smaller one."""
    return a.share_of_smaller(b) > overlap
