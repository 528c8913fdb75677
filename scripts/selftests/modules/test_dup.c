// SPDX-License-Identifier: GPL-2.0
/* The second `dup_helper` of modsym_test (see test_main.c). */
#include <linux/compiler.h>

int modsym_test_dup_caller(void);

static noinline __used int dup_helper(void)
{
	return 2;
}

noinline int modsym_test_dup_caller(void)
{
	return dup_helper();
}
