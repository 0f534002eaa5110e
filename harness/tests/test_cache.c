/* test_cache.c: cold-cache eviction and its verification, plus the memory
 * cgroup, each on a file/process it makes itself.
 *   a freshly read 8 MiB file  -> resident before > 0, after eviction 0
 *   the same file mapped+touched by us -> eviction incomplete (after > 0)
 *   fake engine touching 64 MiB under a 32 MiB cgroup limit -> OOM kill
 *     recorded (root with a memory controller only; skipped otherwise) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>

#include "cache.h"
#include "cgroup.h"
#include "launch.h"
#include "testenv.h"

#define FILE_BYTES (8 << 20)

static char path[PATH_MAX];

static void make_file(void)
{
    /* Not under TMPDIR: tmpfs pages cannot be evicted. The build dir is on disk. */
    TFMT(path, "%s/tests/cache-test.bin", testenv_build());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    char block[65536];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7);
    for (int i = 0; i < FILE_BYTES / (int)sizeof block; i++)
        assert_int_equal(write(fd, block, sizeof block), sizeof block);
    fsync(fd);
    close(fd);
}

static void read_all(void)
{
    int fd = open(path, O_RDONLY);
    char block[65536];
    while (read(fd, block, sizeof block) > 0)
        ;
    close(fd);
}

static void test_evict(void **state)
{
    (void)state;
    make_file();
    read_all();
    struct cache_state cs;
    assert_int_equal(cache_evict(path, &cs, NULL), STATUS_OK);
    assert_int_equal(cs.file_bytes, FILE_BYTES);
    assert_true(cs.resident_before > 0);
    assert_int_equal(cs.resident_after, 0);
    int64_t res, size;
    read_all();
    assert_int_equal(cache_residency(path, &res, &size, NULL), STATUS_OK);
    assert_int_equal(res, FILE_BYTES);
    unlink(path);
}

static void test_evict_blocked_by_mapping(void **state)
{
    (void)state;
    make_file();
    int fd = open(path, O_RDONLY);
    volatile char *map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    long sum = 0;
    for (size_t i = 0; i < FILE_BYTES; i += 4096)
        sum += map[i];
    (void)sum;
    struct cache_state cs;
    assert_int_equal(cache_evict(path, &cs, NULL), STATUS_OK);
    assert_true(cs.resident_after > 0); /* reported, not hidden */
    munmap((void *)map, FILE_BYTES);
    close(fd);
    unlink(path);
}

static void test_cgroup_oom(void **state)
{
    (void)state;
    struct cgroup cg;
    struct err e = { "" };
    if (cgroup_init(&cg, 32u << 20, &e) != STATUS_OK) {
        print_message("skipped: %s\n", e.msg);
        skip();
    }
    assert_int_equal(cgroup_create(&cg, 0, &e), STATUS_OK);
    char fake[PATH_MAX];
    testenv_path("tests/fake_minillm", fake, sizeof fake);
    setenv("FAKE_ALLOC_MIB", "64", 1);
    char *argv[] = { fake, "complete", "-m", "m", "-p", "x", NULL };
    struct launch_opts o = { .argv = argv, .cgroup_procs = cg.procs, .timeout_s = 30 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    unsetenv("FAKE_ALLOC_MIB");
    json_t *j = cgroup_collect(&cg);
    cgroup_destroy(&cg);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(json_integer_value(json_object_get(j, "oom_kills")) >= 1);
    assert_true(json_integer_value(json_object_get(j, "peak_bytes")) <= (32 << 20) + (1 << 20));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evict),
        cmocka_unit_test(test_evict_blocked_by_mapping),
        cmocka_unit_test(test_cgroup_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
