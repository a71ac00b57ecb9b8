"""Vocoders: log10 mel + f0 -> audio, offline and block by block.

- base.py          the interface (`Vocoder.synthesize`, `Vocoder.stream().process/reset`)
- builtin.py       the default: a small causal network driving harmonic-plus-noise
                   synthesis (hn_synth.py, noise.py); streams exactly, no lookahead
- nsf_hifigan.py   the paper's NSF-HiFiGAN generator (M4Singer 24 kHz and openvpi
                   44.1 kHz layouts); nsf_import.py converts published checkpoints
- context_stream.py block-wise use of non-causal vocoders (context, lookahead, crossfade)
- mel_bridge.py    offline use of a vocoder trained on another mel front end
- griffin_lim.py   no-training fallback and test reference
- files.py         vocoder model files (kind "vocoder") and the "vocoder." embedding
- registry.py      pick a vocoder by name or file
- evaluate.py      analysis-resynthesis scores; stft_loss.py the training loss
"""
