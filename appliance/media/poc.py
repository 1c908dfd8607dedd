"""Picture order from the bitstream: H.264 and H.265 parameter sets and first slice headers.

RTP carries presentation times only; a stream with B-frames sends pictures in decoding order,
which differs from display order. The display order of each picture is its picture order count
(POC), computed from a few fields of its first slice header and of the SPS/PPS it refers to
(H.264 8.2.1: POC types 0, 1 and 2; H.265 8.3.1). The SPS also states how many pictures at most
precede a picture in decoding order and follow it in display order (the reorder depth: H.264
VUI ``max_num_reorder_frames``, H.265 ``sps_max_num_reorder_pics``), which bounds the decoding
time stamps the native RTSP client derives (``recorder.rtsp.dts``).

Cost, on purpose: parameter sets are parsed once (when they change), and per access unit only
the first bytes of the first slice are unescaped and read, up to the POC fields (about 10 bit
reads). Nothing here decodes a picture.

One module for both codecs (a little over 400 lines) on purpose: the bit reader, the parameter
sets and the two POC counters are one reading of one part of the specs, used together by
``recorder.rtsp.dts`` and tested together (tests/appliance/media/test_poc.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import MediaError

__all__ = [
    "BitReader",
    "H264Pps",
    "H264Sps",
    "H265Pps",
    "H265Sps",
    "PocCounterH264",
    "PocCounterH265",
    "parse_h264_pps",
    "parse_h264_sps",
    "parse_h265_pps",
    "parse_h265_sps",
    "unescape",
]

# The slice header fields up to the POC fit in this many bytes in any real stream (a few
# Exp-Golomb codes and fixed fields); reading more would only cost time.
SLICE_PREFIX_BYTES = 48
# H.264 profiles whose SPS carries chroma_format_idc and the scaling matrices (7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_INTRA_PROFILES = frozenset({44, 86, 100, 110, 122, 244})  # intra-only with constraint_set3


def unescape(data: bytes) -> bytes:
    """The RBSP of a NAL unit: emulation prevention bytes (``00 00 03``) removed."""
    return data.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in data else data


class BitReader:
    """Big-endian bit reader with Exp-Golomb codes over an RBSP (one int, shifts only)."""

    __slots__ = ("_bits", "_left", "_value")

    def __init__(self, rbsp: bytes, skip_bytes: int = 0) -> None:
        self._value = int.from_bytes(rbsp[skip_bytes:], "big")
        self._bits = self._left = 8 * (len(rbsp) - skip_bytes)

    def u(self, count: int) -> int:
        left = self._left - count
        if left < 0:
            raise MediaError("the NAL unit ends inside a field")
        self._left = left
        return (self._value >> left) & ((1 << count) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        rest = self._value & ((1 << self._left) - 1)
        zeros = self._left - rest.bit_length()
        if rest == 0 or zeros > 31:
            raise MediaError("bad Exp-Golomb code")
        self._left -= zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)

    def skip(self, count: int) -> None:
        self.u(count)


# -- H.264 --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class H264Sps:
    """What the POC and the reorder depth need of an H.264 SPS (7.3.2.1)."""

    sps_id: int
    profile_idc: int
    separate_colour_plane: bool
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    delta_pic_order_always_zero: bool
    offset_for_non_ref_pic: int
    offset_for_top_to_bottom_field: int
    offsets_for_ref_frame: tuple[int, ...]
    max_num_ref_frames: int
    frame_mbs_only: bool
    declared_reorder: int | None  # VUI max_num_reorder_frames, None when absent

    @property
    def reorder_depth(self) -> int:
        """Pictures that may follow a picture in decoding order and precede it in display:
        the VUI's value, else 0 where the spec rules out reordering (POC type 2, Baseline,
        intra-only), else ``max_num_ref_frames`` (a bound the DPB makes likely; a stream
        that reorders deeper is caught by ``recorder.rtsp.dts``)."""
        if self.declared_reorder is not None:
            return self.declared_reorder
        if self.poc_type == 2 or self.profile_idc == 66:
            return 0
        return min(self.max_num_ref_frames, 16)


@dataclass(frozen=True, slots=True)
class H264Pps:
    pps_id: int
    sps_id: int
    bottom_field_pic_order_in_frame_present: bool


def _skip_scaling_list(bits: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _skip_hrd(bits: BitReader) -> None:
    count = bits.ue() + 1
    bits.skip(8)  # bit_rate_scale, cpb_size_scale
    for _ in range(count):
        bits.ue()
        bits.ue()
        bits.skip(1)
    bits.skip(20)  # four 5-bit delay lengths


def parse_h264_sps(nal: bytes) -> H264Sps:
    """Parse an H.264 SPS NAL unit (with its 1-byte header, escaped as sent)."""
    bits = BitReader(unescape(nal), 1)
    profile = bits.u(8)
    bits.skip(16)  # constraint flags, level_idc
    sps_id = bits.ue()
    separate = False
    if profile in _HIGH_PROFILES:
        chroma = bits.ue()
        if chroma == 3:
            separate = bits.flag()
        bits.ue()  # bit depths
        bits.ue()
        bits.skip(1)
        if bits.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if bits.flag():
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    log2_max_frame_num = bits.ue() + 4
    poc_type = bits.ue()
    log2_max_poc_lsb, always_zero, non_ref, top_bottom = 0, False, 0, 0
    offsets: list[int] = []
    if poc_type == 0:
        log2_max_poc_lsb = bits.ue() + 4
    elif poc_type == 1:
        always_zero = bits.flag()
        non_ref = bits.se()
        top_bottom = bits.se()
        offsets = [bits.se() for _ in range(bits.ue())]
    elif poc_type != 2:
        raise MediaError(f"bad pic_order_cnt_type {poc_type}")
    max_refs = bits.ue()
    bits.skip(1)  # gaps_in_frame_num_value_allowed_flag
    bits.ue()  # width, height in macroblocks
    bits.ue()
    frame_mbs_only = bits.flag()
    if not frame_mbs_only:
        bits.skip(1)
    bits.skip(1)  # direct_8x8_inference_flag
    if bits.flag():  # frame cropping
        for _ in range(4):
            bits.ue()
    declared: int | None = None
    try:
        if bits.flag():  # vui_parameters_present_flag (E.1.1)
            declared = _h264_vui_reorder(bits)
    except MediaError:
        declared = None  # a truncated VUI: the bound is inferred instead
    return H264Sps(
        sps_id, profile, separate, log2_max_frame_num, poc_type, log2_max_poc_lsb, always_zero,
        non_ref, top_bottom, tuple(offsets), max_refs, frame_mbs_only, declared,
    )  # fmt: skip


def _h264_vui_reorder(bits: BitReader) -> int | None:
    if bits.flag() and bits.u(8) == 255:  # aspect ratio, extended SAR
        bits.skip(32)
    if bits.flag():  # overscan
        bits.skip(1)
    if bits.flag():  # video signal type
        bits.skip(4)
        if bits.flag():
            bits.skip(24)
    if bits.flag():  # chroma location
        bits.ue()
        bits.ue()
    if bits.flag():  # timing info
        bits.skip(65)
    nal_hrd = bits.flag()
    if nal_hrd:
        _skip_hrd(bits)
    vcl_hrd = bits.flag()
    if vcl_hrd:
        _skip_hrd(bits)
    if nal_hrd or vcl_hrd:
        bits.skip(1)  # low_delay_hrd_flag
    bits.skip(1)  # pic_struct_present_flag
    if not bits.flag():  # bitstream_restriction_flag
        return None
    bits.skip(1)
    for _ in range(4):
        bits.ue()
    return bits.ue()  # max_num_reorder_frames


def parse_h264_pps(nal: bytes) -> H264Pps:
    """Parse the start of an H.264 PPS NAL unit (7.3.2.2), up to what slices need for POC."""
    bits = BitReader(unescape(nal[:16]), 1)
    pps_id, sps_id = bits.ue(), bits.ue()
    bits.skip(1)  # entropy_coding_mode_flag
    return H264Pps(pps_id, sps_id, bits.flag())


class PocCounterH264:
    """Picture order counts of successive H.264 access units (8.2.1), fed the first slice of
    each. Memory management operation 5 (a mid-stream POC reset) is not followed: rare in
    camera streams, and ``recorder.rtsp.dts`` catches what it would confuse."""

    def __init__(self) -> None:
        self.sps: dict[int, H264Sps] = {}
        self.pps: dict[int, H264Pps] = {}
        self._prev_msb = self._prev_lsb = 0
        self._prev_frame_num = self._prev_offset = 0

    def poc(self, nal: bytes) -> int:
        """The POC of the picture whose first slice NAL unit (header included) is ``nal``;
        MediaError for what cannot be followed (unknown parameter sets, field pictures)."""
        header = nal[0]
        idr = header & 0x1F == 5
        ref_idc = header >> 5
        bits = BitReader(unescape(nal[:SLICE_PREFIX_BYTES]), 1)
        bits.ue()  # first_mb_in_slice
        bits.ue()  # slice_type
        pps = self.pps.get(bits.ue())
        sps = self.sps.get(pps.sps_id) if pps is not None else None
        if pps is None or sps is None:
            raise MediaError("a slice refers to a parameter set not received")
        if sps.separate_colour_plane:
            bits.skip(2)
        frame_num = bits.u(sps.log2_max_frame_num)
        if not sps.frame_mbs_only and bits.flag():
            raise MediaError("field-coded (interlaced) pictures")
        if idr:
            bits.ue()  # idr_pic_id
        if sps.poc_type == 0:
            lsb = bits.u(sps.log2_max_poc_lsb)
            bottom = bits.se() if pps.bottom_field_pic_order_in_frame_present else 0
            return self._type0(sps, idr, ref_idc, lsb, bottom)
        deltas = (0, 0)
        if sps.poc_type == 1 and not sps.delta_pic_order_always_zero:
            first = bits.se()
            deltas = (first, bits.se() if pps.bottom_field_pic_order_in_frame_present else 0)
        return self.type12(sps, idr, ref_idc, frame_num, deltas)

    def _type0(self, sps: H264Sps, idr: bool, ref_idc: int, lsb: int, bottom: int) -> int:
        if idr:
            self._prev_msb = self._prev_lsb = 0
        max_lsb = 1 << sps.log2_max_poc_lsb
        prev_lsb, msb = self._prev_lsb, self._prev_msb
        if lsb < prev_lsb and prev_lsb - lsb >= max_lsb // 2:
            msb += max_lsb
        elif lsb > prev_lsb and lsb - prev_lsb > max_lsb // 2:
            msb -= max_lsb
        if ref_idc:
            self._prev_msb, self._prev_lsb = msb, lsb
        top = msb + lsb
        return min(top, top + bottom)

    def type12(
        self, sps: H264Sps, idr: bool, ref_idc: int, frame_num: int, deltas: tuple[int, int]
    ) -> int:
        """POC types 1 and 2 (8.2.1.2, 8.2.1.3) from the slice's fields; public so the math
        can be tested on header values no encoder at hand produces (type 1)."""
        if idr:
            offset = 0
        elif self._prev_frame_num > frame_num:
            offset = self._prev_offset + (1 << sps.log2_max_frame_num)
        else:
            offset = self._prev_offset
        self._prev_frame_num, self._prev_offset = frame_num, offset
        if sps.poc_type == 2:
            if idr:
                return 0
            return 2 * (offset + frame_num) - (0 if ref_idc else 1)
        cycle = sps.offsets_for_ref_frame
        absolute = offset + frame_num if cycle else 0
        if ref_idc == 0 and absolute > 0:
            absolute -= 1
        expected = 0
        if absolute > 0:
            count, in_cycle = divmod(absolute - 1, len(cycle))
            expected = count * sum(cycle) + sum(cycle[: in_cycle + 1])
        if ref_idc == 0:
            expected += sps.offset_for_non_ref_pic
        top = expected + deltas[0]
        return min(top, top + sps.offset_for_top_to_bottom_field + deltas[1])


# -- H.265 --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class H265Sps:
    """What the POC and the reorder depth need of an H.265 SPS (7.3.2.2)."""

    sps_id: int
    separate_colour_plane: bool
    log2_max_poc_lsb: int
    reorder_depth: int  # sps_max_num_reorder_pics of the highest sub-layer


@dataclass(frozen=True, slots=True)
class H265Pps:
    pps_id: int
    sps_id: int
    dependent_slice_segments_enabled: bool
    output_flag_present: bool
    num_extra_slice_header_bits: int


def parse_h265_sps(nal: bytes) -> H265Sps:
    """Parse an H.265 SPS NAL unit (with its 2-byte header, escaped as sent) up to the
    sub-layer ordering info."""
    bits = BitReader(unescape(nal[:256]), 2)
    bits.skip(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)  # sps_max_sub_layers_minus1
    bits.skip(1)
    bits.skip(96)  # general profile, tier and level
    present = [(bits.flag(), bits.flag()) for _ in range(sub_layers)]
    if sub_layers:
        bits.skip(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        bits.skip((88 if profile_present else 0) + (8 if level_present else 0))
    sps_id = bits.ue()
    separate = False
    if bits.ue() == 3:  # chroma_format_idc
        separate = bits.flag()
    bits.ue()  # width, height
    bits.ue()
    if bits.flag():  # conformance window
        for _ in range(4):
            bits.ue()
    bits.ue()  # bit depths
    bits.ue()
    log2_max_poc_lsb = bits.ue() + 4
    reorder = 0
    for _ in range(0 if bits.flag() else sub_layers, sub_layers + 1):
        bits.ue()  # sps_max_dec_pic_buffering_minus1
        reorder = bits.ue()
        bits.ue()
    return H265Sps(sps_id, separate, log2_max_poc_lsb, reorder)


def parse_h265_pps(nal: bytes) -> H265Pps:
    """Parse the start of an H.265 PPS NAL unit (7.3.2.3), up to what slices need for POC."""
    bits = BitReader(unescape(nal[:16]), 2)
    pps_id, sps_id = bits.ue(), bits.ue()
    dependent, output = bits.flag(), bits.flag()
    return H265Pps(pps_id, sps_id, dependent, output, bits.u(3))


class PocCounterH265:
    """Picture order counts of successive H.265 access units (8.3.1), fed the first slice
    segment of each. ``starts_sequence`` is whether the last picture began a new POC epoch
    (IDR, BLA, or the first CRA: NoRaslOutputFlag)."""

    def __init__(self) -> None:
        self.sps: dict[int, H265Sps] = {}
        self.pps: dict[int, H265Pps] = {}
        self._prev_poc = 0  # of the previous TemporalId 0 reference picture (prevTid0Pic)
        self._started = False
        self.starts_sequence = False

    def poc(self, nal: bytes) -> int:
        """The POC of the picture whose first slice segment (2-byte header included) is
        ``nal``; MediaError for what cannot be followed."""
        kind = (nal[0] >> 1) & 0x3F
        temporal_id = (nal[1] & 7) - 1
        bits = BitReader(unescape(nal[:SLICE_PREFIX_BYTES]), 2)
        if not bits.flag():
            raise MediaError("an access unit that does not start with its first slice segment")
        if 16 <= kind <= 23:
            bits.skip(1)  # no_output_of_prior_pics_flag
        pps = self.pps.get(bits.ue())
        sps = self.sps.get(pps.sps_id) if pps is not None else None
        if pps is None or sps is None:
            raise MediaError("a slice refers to a parameter set not received")
        bits.skip(pps.num_extra_slice_header_bits)
        bits.ue()  # slice_type
        if pps.output_flag_present:
            bits.skip(1)
        if sps.separate_colour_plane:
            bits.skip(2)
        irap = 16 <= kind <= 23
        # IDR and BLA pictures, and a CRA that opens the stream, restart the POC (NoRaslOutputFlag).
        self.starts_sequence = kind in (19, 20) or 16 <= kind <= 18 or (irap and not self._started)
        self._started = True
        if kind in (19, 20):
            poc = 0
        else:
            lsb = bits.u(sps.log2_max_poc_lsb)
            max_lsb = 1 << sps.log2_max_poc_lsb
            if self.starts_sequence:
                msb = 0
            else:
                prev_lsb = self._prev_poc & (max_lsb - 1)
                msb = self._prev_poc - prev_lsb
                if lsb < prev_lsb and prev_lsb - lsb >= max_lsb // 2:
                    msb += max_lsb
                elif lsb > prev_lsb and lsb - prev_lsb > max_lsb // 2:
                    msb -= max_lsb
            poc = msb + lsb
        # prevTid0Pic: TemporalId 0 and not a RASL, RADL or sub-layer non-reference picture.
        if temporal_id == 0 and not 6 <= kind <= 9 and not (kind <= 14 and kind % 2 == 0):
            self._prev_poc = poc
        return poc
