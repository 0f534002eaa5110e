# engine/run: the workloads over a loaded model: complete, perplexity, speed (minillm bench:
# prompt and generation tokens/s).
ENGINE_SRC += engine/run/complete.c engine/run/perplexity.c engine/run/speed.c
