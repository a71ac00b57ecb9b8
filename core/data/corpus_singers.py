"""The synthetic corpus's singers: a TTS voice, a fixed vocal range and a formant scale each.

The order interleaves engines and ranges so that the first N singers are as varied as possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.data.tts import TtsVoice


@dataclass(frozen=True)
class SyntheticSinger:
    name: str
    voice: TtsVoice
    low_midi: int  # lowest note the singer sings
    high_midi: int  # highest note
    formant_scale: float  # >1 moves the spectral envelope up (shorter vocal tract)


SINGERS: tuple[SyntheticSinger, ...] = (
    SyntheticSinger("slt_soprano", TtsVoice("flite", "slt"), 60, 79, 1.06),
    SyntheticSinger("awb_baritone", TtsVoice("flite", "awb"), 43, 60, 1.00),
    SyntheticSinger("espeak_us_alto", TtsVoice("espeak-ng", "en-us+f3"), 53, 72, 1.04),
    SyntheticSinger("kal_tenor", TtsVoice("festival", "kal_diphone"), 48, 67, 1.00),
    SyntheticSinger("espeak_scot_bass", TtsVoice("espeak-ng", "en-gb-scotland+m3"), 40, 55, 0.92),
    SyntheticSinger("hts_mezzo", TtsVoice("festival", "cmu_us_slt_arctic_hts"), 57, 74, 1.00),
    SyntheticSinger("rms_bass", TtsVoice("flite", "rms"), 40, 57, 0.95),
    SyntheticSinger("espeak_rp_soprano", TtsVoice("espeak-ng", "en-gb-x-rp+f5"), 62, 81, 1.10),
    SyntheticSinger("ked_baritone", TtsVoice("festival", "ked_diphone"), 45, 62, 0.97),
    SyntheticSinger("espeak_nyc_tenor", TtsVoice("espeak-ng", "en-us-nyc+m7"), 50, 67, 1.03),
    SyntheticSinger("kal16_tenor", TtsVoice("flite", "kal16"), 47, 65, 1.05),
    SyntheticSinger("espeak_gb_mezzo", TtsVoice("espeak-ng", "en-gb+f2"), 56, 74, 1.00),
    SyntheticSinger("espeak_carib_baritone", TtsVoice("espeak-ng", "en-029+m1"), 43, 60, 1.00),
    SyntheticSinger("espeak_lancs_alto", TtsVoice("espeak-ng", "en-gb-x-gbclan+f4"), 53, 70, 0.97),
    SyntheticSinger("espeak_wmids_bass", TtsVoice("espeak-ng", "en-gb-x-gbcwmd+m5"), 38, 53, 0.90),
    SyntheticSinger("slt_low_alto", TtsVoice("flite", "slt"), 52, 69, 0.93),
    # Festival's voices of other languages: each a recorded speaker of its own, reading the English
    # sentences with its language's letter-to-sound rules. After the first 16 so that `--singers 16`
    # still makes the corpus the first default models were trained from.
    SyntheticSinger("it_lp_soprano", TtsVoice("festival", "lp_diphone"), 59, 76, 1.00),
    SyntheticSinger("it_pc_tenor", TtsVoice("festival", "pc_diphone"), 48, 65, 1.00),
    SyntheticSinger("cz_dita_alto", TtsVoice("festival", "czech_dita"), 55, 72, 1.00),
    SyntheticSinger("cz_krb_treble", TtsVoice("festival", "czech_krb"), 60, 77, 1.00),
    SyntheticSinger("cz_machac_baritone", TtsVoice("festival", "czech_machac"), 44, 61, 1.00),
    SyntheticSinger("cz_ph_tenor", TtsVoice("festival", "czech_ph"), 47, 64, 1.00),
    SyntheticSinger("fi_lj_mezzo", TtsVoice("festival", "suo_fi_lj_diphone"), 57, 74, 1.00),
    SyntheticSinger("fi_mv_bass", TtsVoice("festival", "hy_fi_mv_diphone"), 40, 57, 1.00),
    SyntheticSinger("ru_nsh_baritone", TtsVoice("festival", "msu_ru_nsh_clunits"), 43, 60, 1.00),
    SyntheticSinger("ca_ona_alto", TtsVoice("festival", "upc_ca_ona_hts"), 54, 71, 1.00),
)
