# engine/run: the workloads over a loaded model: complete, perplexity, bench
# (prompt and generation tokens/s).
ENGINE_SRC += engine/run/complete.c engine/run/perplexity.c engine/run/bench.c
