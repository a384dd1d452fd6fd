/* cleave link: being written (issue 5). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_link(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cleave link: not implemented yet\n");
    return 2;
}
