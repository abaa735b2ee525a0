"""When a video was recorded: the wall-clock time of its frame 0, and where that time came from.

A violation's time is this start plus the seconds into the video; the source (operator, container,
file name, on-screen clock, stream clock, or unknown) is stored with every record, because a fine
rests on it. See `recorded.py` for the order in which sources are tried, `osd.py` for the camera's
burnt-in clock, and `site.py` for the scene keys that say where a camera is and in which zone.
"""

from pipeline.timing.recorded import RecordedTime, TimeError, TimeSource, parse_operator_time, resolve_recorded_time

__all__ = ["RecordedTime", "TimeError", "TimeSource", "parse_operator_time", "resolve_recorded_time"]
