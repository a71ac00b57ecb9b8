"""The CoMoSVC acoustic model, k-diffusion style (one idea per module):

    conditioning  ConditionInputs (per-frame content, f0, loudness, singer, key shift) -> summed condition
    wavenet       the non-causal WaveNet network F (knows nothing of noise levels)
    edm           NoiseSchedule, Karras grids, EDMDenoiser (boundary-aware preconditioning D)
    samplers      teacher_sigmas / consistency_sigmas; euler, heun and consistency samplers
    noise         Gaussian noise anchored to absolute frame indices
    acoustic      AcousticModel: one_step / sample / window / sample_teacher
    losses        edm_loss, consistency_distillation_loss, make_student, ema_update
    model_file    save_model / load_model (kind "model")
"""
