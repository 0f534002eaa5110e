# engine/model: a model loaded from GGUF (placement, repacking, reclaim), its
# run state and forward pass, and the memory report.
ENGINE_SRC += engine/model/model.c engine/model/context.c engine/model/forward.c engine/model/memreport.c
