# tools/minillm: the minillm command line over libengine.a (engine/engine.mk):
# option parsing, the info / quantize / gen commands, and main.
MINILLM_SRC := tools/minillm/main.c tools/minillm/cli.c tools/minillm/cli_tools.c
MINILLM_OBJ := $(MINILLM_SRC:%.c=$(BUILD)/%.o)
MINILLM     := $(BUILD)/minillm

$(MINILLM): $(MINILLM_OBJ) $(ENGINE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
