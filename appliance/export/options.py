"""What masking is asked to do: the officer's plan (extra regions, the data subject's
exemptions) and the options (what to detect, how often and at what size, how to obscure,
how to encode), checked when made so a bad value is refused with its field named. The
pipeline that carries them out is ``appliance.export.masking``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from appliance.errors import ValidationFailed
from appliance.export.regions import Region

__all__ = ["FaceModel", "MaskMethod", "MaskPlan", "MaskingOptions", "encoder_options"]


class MaskMethod(StrEnum):
    pixelate = "pixelate"  # 모자이크: a few coarse blocks across the box
    gaussian = "gaussian"  # a blur with a kernel half the box size, applied twice


class FaceModel(StrEnum):
    centerface = "centerface"  # a CNN run by OpenCV's DNN module (appliance.export.centerface)
    haar = "haar"  # OpenCV's frontal-face Haar cascade (kept for comparison)


@dataclass(frozen=True)
class MaskingOptions:
    """Detector and encoder settings; recorded in the manifest (appliance.export.schedule
    says how the passes run)."""

    faces: bool = True
    people: bool = True
    method: MaskMethod = MaskMethod.pixelate
    blocks_across: int = 6  # pixelation: blocks along the box's shorter side
    face_model: FaceModel = FaceModel.centerface
    # Coarse pass; 8 until session 13: every 10 left the same faces unmasked on the six
    # evaluation sets (bench/RESULTS.md) for 3 % less CPU at 720p.
    face_every_n: int = 10
    face_hold_frames: int = 10  # frames after a detection that its box stays (covers flicker)
    face_detect_width: int = 640  # coarse pass: a third of the frame's width, at most this
    face_tile_px: int = 640  # tile pass at full resolution: tile size (0: no tile pass)
    face_tile_overlap: int = 64  # more than the largest face the coarse pass may miss
    face_tile_every_n: int = 16  # one tile every this many frames (after the first cover)
    face_tile_scale: float = 1.5  # tiles enlarged: a 22 px face is 33 px to the network
    face_threshold: float = 0.3  # CenterFace score
    # Tile-pass candidates scored from this up to face_threshold are faces if the Haar
    # cascades confirm them (appliance.export.confirm); 0: off.
    face_confirm_floor: float = 0.03
    # Coarse-pass candidates scored from this up to face_threshold get a look at full
    # resolution around them (a partly covered face that the third-size frame scores low;
    # 0: never). At most ``face_recheck_most`` a pass, the best first.
    face_recheck_floor: float = 0.08
    face_recheck_most: int = 2
    face_scale_factor: float = 1.15  # Haar only
    face_min_neighbors: int = 4  # Haar only
    face_margin: float = 0.3
    person_every_n: int = 10  # people pass (HOG); boxes carried between by tracks
    person_hold_frames: int = 10
    person_margin: float = 0.1
    person_detect_width: int = 640
    preset: str = "veryfast"
    crf: int = 23
    # x264's sub-pixel motion refinement: 1 instead of the preset's 2 takes 28 % less of
    # the encoder's CPU on masked footage for files about 9 % larger at the same quality
    # setting (bench/RESULTS.md, session 12).
    subme: int = 1

    def __post_init__(self) -> None:
        if min(self.face_every_n, self.person_every_n, self.face_tile_every_n) < 1:
            raise ValidationFailed("detection intervals must be at least 1 frame")
        if (
            self.face_hold_frames < self.face_every_n
            or self.person_hold_frames < self.person_every_n
        ):
            raise ValidationFailed("a hold must cover the detection interval")
        if self.face_tile_px and not 0 <= 2 * self.face_tile_overlap < self.face_tile_px:
            raise ValidationFailed("face_tile_overlap must be under half of face_tile_px")
        if self.blocks_across < 1 or self.blocks_across > 32:
            raise ValidationFailed("blocks_across must be in 1..32")
        if not 0.05 <= self.face_threshold <= 0.95:
            raise ValidationFailed("face_threshold must be in 0.05..0.95")
        if self.face_confirm_floor and not 0.01 <= self.face_confirm_floor < self.face_threshold:
            raise ValidationFailed("face_confirm_floor must be 0 or in 0.01..face_threshold")
        if self.face_recheck_floor and not 0.01 <= self.face_recheck_floor < self.face_threshold:
            raise ValidationFailed("face_recheck_floor must be 0 or in 0.01..face_threshold")
        if not 0 <= self.face_recheck_most <= 8:
            raise ValidationFailed("face_recheck_most must be in 0..8")
        if not 1.0 <= self.face_tile_scale <= 3.0:
            raise ValidationFailed("face_tile_scale must be in 1..3")
        if not 1 <= self.subme <= 11:
            raise ValidationFailed("subme must be in 1..11")
        if self.face_detect_width < 64 or 0 < self.face_tile_px < 64:
            raise ValidationFailed("detection widths must be at least 64 px")


@dataclass(frozen=True)
class MaskPlan:
    """What the officer decided: extra regions to mask and the data subject's exemptions."""

    officer_regions: tuple[Region, ...] = ()
    exemptions: tuple[Region, ...] = ()
    options: MaskingOptions = field(default_factory=MaskingOptions)


def encoder_options(opts: MaskingOptions) -> dict[str, object]:
    """libx264's options for a masked copy."""
    return {"preset": opts.preset, "crf": str(opts.crf), "x264-params": f"subme={opts.subme}"}
