from __future__ import annotations

from benchmarks.report import replace_section


def test_sections_are_replaced_in_place_and_others_kept(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    replace_section(path, "Throughput", "old table")
    replace_section(path, "Soak", "soak table")
    replace_section(path, "Throughput", "new table")
    text = path.read_text()
    assert "old table" not in text and "new table" in text and "soak table" in text
    assert text.index("## Throughput") < text.index("## Soak")
