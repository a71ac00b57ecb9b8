#!/usr/bin/env bash
# The distinct-speaker candidate for issue #13 (BENCHMARKS.md "The three sibling singers replaced by
# distinct speakers"), from the shipped default model in one command (about 2 h on a 2-core CPU):
#   bash scripts/train_distinct_candidate.sh [WORK_DIR] [TEACHER_MINUTES] [STUDENT_MINUTES]
# Five of the default model's 14 singers are made from two recorded speakers (SLT: slt_soprano,
# slt_low_alto, hts_mezzo; KAL: kal_tenor, kal16_tenor). Here the three later siblings are replaced by
# distinct recorded Festival speakers of the same voice types (fi_lj_mezzo, cz_dita_alto, cz_ph_tenor),
# the other 11 kept, and the two real training voices of session 43 added as in step 15 of
# scripts/train_default_model.sh. The teacher is fine-tuned from the default model on that cache with
# session 47's band-limited content input (the 5 new singers get codes of their own at random), a
# student is distilled from it, the index is built and the two real voices are dropped again:
# WORK_DIR/model.safetensors offers 14 singers. It does not replace models/default.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-work/distinct-candidate}"
TEACHER_MINUTES="${2:-70}"
STUDENT_MINUTES="${3:-20}"
SINGERS=(slt_soprano kal_tenor espeak_scot_bass rms_bass espeak_rp_soprano ked_baritone espeak_nyc_tenor
         espeak_gb_mezzo espeak_carib_baritone espeak_lancs_alto espeak_wmids_bass cz_dita_alto cz_ph_tenor fi_lj_mezzo)
REAL=(asterisk_es_co_female asterisk_fr_armelle_female)
COMOSVC=(.venv/bin/python -m cli.main)
TRAIN=(--checkpoint-every 200 --threads 2 --no-progress --no-tensorboard --set train.content_band_limit_prob=0.5)

"${COMOSVC[@]}" corpus "$WORK/corpus" --only "${SINGERS[@]}" --clips-per-singer 20 --seed 0 --workers 2
.venv/bin/python scripts/make_real_training_voices.py "$WORK/real-voices" --voices "${REAL[@]}"
mkdir -p "$WORK/train-corpus"
for folder in "$WORK"/corpus/*/ "$WORK"/real-voices/*/; do
    ln -sfn "$(realpath "$folder")" "$WORK/train-corpus/$(basename "$folder")"
done
"${COMOSVC[@]}" preprocess "$WORK/train-corpus" "$WORK/cache" --set train.range_shift_max=12 --perturb-copies 4
"${COMOSVC[@]}" train teacher "$WORK/cache" --init models/default.safetensors --out "$WORK/teacher.safetensors" \
    --set edm.sigma_data=0.1 --max-minutes "$TEACHER_MINUTES" "${TRAIN[@]}"
"${COMOSVC[@]}" train student "$WORK/cache" --teacher "$WORK/teacher.safetensors" --init models/default.safetensors \
    --out "$WORK/model16.safetensors" --set edm.distill_steps=4 --set edm.student_latent_scale=0.6 \
    --max-minutes "$STUDENT_MINUTES" "${TRAIN[@]}"
"${COMOSVC[@]}" index "$WORK/model16.safetensors" "$WORK/cache"
"${COMOSVC[@]}" keep-singers "$WORK/model16.safetensors" "${REAL[@]}" --drop --out "$WORK/model.safetensors" --force
"${COMOSVC[@]}" models
