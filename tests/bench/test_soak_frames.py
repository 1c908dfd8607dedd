"""The soak's frame accounting (bench/soak_frames.py): what counts as lost, what a cut or the
restart explains."""

from __future__ import annotations

from bench.soak_frames import Event, SegmentFacts, frame_figures

T0 = 1_800_000_000_000
STEP = 3600  # one frame at 25 fps in a 1/90000 time base


def _segment(
    sid: int, run: int, first_frame: int, frames: int, *, lost_inside: int = 0, camera: str = "c1"
) -> SegmentFacts:
    """``frames`` frames from frame number ``first_frame`` (40 ms apart) of run ``run``."""
    last = first_frame + frames - 1 + lost_inside
    return SegmentFacts(
        id=sid, camera_id=camera, run_id=run, start_ms=T0 + first_frame * 40,
        end_ms=T0 + last * 40, frames=frames, first_wall_ms=T0 + first_frame * 40,
        last_wall_ms=T0 + last * 40, first_dts=first_frame * STEP, last_dts=last * STEP,
        step=STEP, lost_inside=lost_inside,
    )  # fmt: skip


def test_a_continuous_run_loses_nothing_and_a_step_between_segments_does() -> None:
    whole = {1: _segment(1, 1, 0, 250), 2: _segment(2, 1, 250, 250)}
    assert frame_figures(whole, []).lost == 0
    skipped = {1: _segment(1, 1, 0, 250), 2: _segment(2, 1, 253, 250, lost_inside=2)}
    figures = frame_figures(skipped, [])
    assert figures.lost_inside_runs == 3 + 2
    assert figures.frames == 500


def test_a_cut_explains_its_gap_and_a_late_run_end_before_it_is_lost() -> None:
    facts = {1: _segment(1, 1, 0, 250), 2: _segment(2, 2, 1000, 250)}
    cut = Event("cut", "c1", T0 + 250 * 40, T0 + 900 * 40)
    figures = frame_figures(facts, [cut])
    assert figures.lost == 0
    assert figures.resume_after_cut_ms == [100 * 40]
    other_camera = Event("cut", "c2", T0 + 250 * 40, T0 + 900 * 40)
    assert frame_figures(facts, [other_camera]).lost_unexplained_gaps == 1000 - 250
    late = Event("cut", "c1", T0 + 400 * 40, T0 + 900 * 40)  # 151 frames after the last one
    assert frame_figures(facts, [late]).lost_tails == (151 * 40 - 1000) // 40


def test_the_restart_explains_a_gap_even_when_recording_went_on_after_sigterm() -> None:
    facts = {1: _segment(1, 1, 0, 500), 2: _segment(2, 2, 1500, 250)}
    restart = Event("restart", None, T0 + 400 * 40, T0 + 1400 * 40)
    stop = Event("stop", None, T0 + 1750 * 40, T0 + 1750 * 40)
    figures = frame_figures(facts, [restart, stop])
    assert figures.lost == 0
    assert figures.resume_after_restart_ms == [1100 * 40]
    assert figures.resume_after_ready_ms == [100 * 40]
    assert figures.frames_during_restart == 1500 - 499 - 1  # frames 500..1499
    early_end = frame_figures(facts, [restart, Event("stop", None, T0 + 1900 * 40, T0 + 1900 * 40)])
    assert early_end.lost_tails == ((1900 - 1749) * 40 - 1000) // 40
