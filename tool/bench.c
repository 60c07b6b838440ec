/* SPDX-License-Identifier: MIT */
#include "tool.h"
int cmd_bench(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "bench: not built yet\n");
	return 2;
}
