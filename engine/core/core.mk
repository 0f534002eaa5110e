# engine/core: the ground floor: status and error messages, the thread pool,
# the memory limits of the process (cgroup, rlimit), CPU feature detection,
# the monotonic clock (clock.h, header only).
ENGINE_SRC += engine/core/err.c engine/core/pool.c engine/core/memlimit.c engine/core/cpu.c
