"""Conversion: one model file -> VoiceModel; ConversionStream (live and offline); offline helpers.

    voice_model  VoiceModel.load / save_voice_model (content + vocoder + acoustic models in one file)
    stream       ConversionStream: push 24 kHz blocks, get converted blocks, constant latency
    offline      convert_audio / convert_file: the same stream over whole files, aligned output
"""

from core.convert.offline import ConversionReport, convert_audio, convert_file, output_path
from core.convert.stream import ConversionStream, exact_lookahead, parse_steps
from core.convert.voice_model import VoiceModel, save_voice_model

__all__ = [
    "ConversionReport", "ConversionStream", "VoiceModel", "convert_audio", "convert_file",
    "exact_lookahead", "output_path", "parse_steps", "save_voice_model",
]
