// SPDX-License-Identifier: GPL-2.0
/* Warns on load: the QEMU harness's self-test proves such a report fails the run. */
#include <linux/module.h>

static int __init modsym_test_warn_init(void)
{
	WARN(1, "modsym_test_warn: deliberate warning for the harness self-test\n");
	return 0;
}
module_init(modsym_test_warn_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modsym harness self-test: WARNs on load");
