"""Benchmark: content encoders (ContentVec-shape import + encode speed, built-in encoders).

Run from the repository root: .venv/bin/python bench/bench_content.py
Uses the test suite's checkpoint writers (random weights in the published layouts, at full
HuBERT-base size) so it needs no downloaded checkpoint.
"""
import sys, time, tempfile, torch
from pathlib import Path
sys.path.insert(0, "tests")
torch.set_num_threads(1)
import test_content_hubert as t
# paper-size HuBERT-base shapes
t.HIDDEN, t.HEADS, t.FFN, t.LAYERS, t.CONV, t.POS_K, t.POS_G = 768, 12, 3072, 12, 512, 128, 16
t.HF_CONFIG.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                   conv_dim=[512]*7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)
from core.config import load_config
from core.features.content import load_content_encoder, content_encoder_for
from core.features.content_import import import_checkpoint
d = Path(tempfile.mkdtemp())
w = t.hf_state()
t0 = time.perf_counter(); t.write_fairseq(d / "cv.pt", w); 
imp = import_checkpoint(d / "cv.pt", d / "cv.safetensors"); print(f"fairseq import full size: {time.perf_counter()-t0:.1f}s, {imp.parameters/1e6:.1f} M params, layer {imp.shape.layers}, ignored {len(imp.ignored)}")
imp2 = import_checkpoint(t.write_hf(d / "hf", w), d / "hf.safetensors")
audio = t._audio(10.0); n = audio.numel() // 128
paper = load_config("paper")
enc = load_content_encoder(d / "cv.safetensors", paper.audio)
enc2 = load_content_encoder(d / "hf.safetensors", paper.audio)
a = enc.encode(audio[:24000], 187); b = enc2.encode(audio[:24000], 187)
print("hf vs fairseq full size max diff", float((a-b).abs().max()))
enc.encode(audio[:24000], 187)
t0 = time.perf_counter(); c = enc.encode(audio, n); dt = time.perf_counter()-t0
print(f"ContentVec-shape (768-d, 12 layers) encode 10 s: {dt:.2f}s -> RTF {dt/10:.3f} (1 thread)", c.shape)
for name in ("live", "tiny"):
    cfg = load_config(name); be = content_encoder_for(cfg).eval()
    be.encode(audio[:24000], 187)
    t0 = time.perf_counter(); c = be.encode(audio, n); dt = time.perf_counter()-t0
    params = sum(p.numel() for p in be.network.parameters())
    print(f"builtin ({name}: {params/1e3:.0f} k params, rf {be.receptive_field}) encode 10 s: {dt:.3f}s -> RTF {dt/10:.4f}", c.shape)
