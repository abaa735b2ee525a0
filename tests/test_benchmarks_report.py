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


def test_paired_runs_report_the_median_run_and_the_ratio_range(monkeypatch):
    from benchmarks import throughput

    walls = iter([10.0, 11.0, 12.0, 10.0, 9.0, 10.5])  # bare, process, bare, process, ...
    rss = iter([900.0, 1000.0, 950.0, 1100.0, 920.0, 1050.0])

    def fake_child(mode, **kwargs):
        return {"mode": mode, "wall_s": next(walls), "rss_mb": next(rss), "others_cpu": 0.01, "frames": 100}

    monkeypatch.setattr(throughput, "run_child", fake_child)
    bare, proc, spread = throughput.paired(3, "v.mp4", "s.yaml", "w.onnx")
    assert bare["mode"] == "bare" and proc["mode"] == "process"
    assert bare["wall_s"] == 10.0 and proc["wall_s"] == 10.5  # medians of (10, 12, 9) and (11, 10, 10.5)
    assert bare["rss_mb"] == 950.0 and proc["rss_mb"] == 1100.0  # the peak over the runs
    assert spread == " (0.86-1.20)"  # 9/10.5 and 12/10
