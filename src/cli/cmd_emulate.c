/* cleave emulate: being written (issue 5). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_emulate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave emulate: not implemented yet\n");
    return 2;
}
