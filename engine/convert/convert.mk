# engine/convert: programs over model files: quantize one GGUF into another,
# and synthesize models with deterministic weights.
ENGINE_SRC += engine/convert/quantize.c engine/convert/synth.c
