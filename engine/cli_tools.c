/* cli_tools.c: the model-writing commands, quantize and gen. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quantize.h"

int cli_quantize(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: minillm quantize IN OUT TYPE\n"
               "  TYPE: f16, q8_0 or q4_0. Matrix weights become TYPE; vectors stay f32; a matrix whose\n"
               "  row length does not divide the block size stays f16 (logged per tensor).\n");
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: minillm quantize IN OUT TYPE   (TYPE: f16, q8_0, q4_0)\n");
        return 2;
    }
    struct err e = {{0}};
    uint32_t type;
    if (quantize_type_from_name(argv[3], &type, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 2;
    }
    double t0 = cli_now();
    if (quantize_file(argv[1], argv[2], argv[3], stderr, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "quantize: wrote %s in %.2f s\n", argv[2], cli_now() - t0);
    return 0;
}
