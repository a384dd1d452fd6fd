/* cleave profile: being written (issue 5). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_profile(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave profile: not implemented yet\n");
    return 2;
}
