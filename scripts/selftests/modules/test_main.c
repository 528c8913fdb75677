// SPDX-License-Identifier: GPL-2.0
/*
 * modsym_test: a module whose init can wait or fail, for modsym's selftests.
 *
 *   wait=1  init sleeps until /sys/kernel/debug/modsym_test/release is
 *           written with 1 (or 60 s pass), so the module stays COMING and its
 *           init text can be resolved meanwhile. The file is in debugfs, not
 *           a module parameter, so that it also exists without CONFIG_SYSFS.
 *   fail=1  init returns -ENODEV after touching its init code.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/module.h>

static bool wait;
module_param(wait, bool, 0444);
MODULE_PARM_DESC(wait, "wait in init until release=1");

static bool fail;
module_param(fail, bool, 0444);
MODULE_PARM_DESC(fail, "make init fail with -ENODEV");

static bool release;
static struct dentry *debugfs_dir;

int modsym_test_dup_caller(void);
int modsym_test_core_fn(int x);

/* Same name as the static in test_dup.c: `lookup` must list both, in symtab order. */
static noinline __used int dup_helper(void)
{
	return 1;
}

noinline int modsym_test_core_fn(int x)
{
	return x + dup_helper() + modsym_test_dup_caller();
}
EXPORT_SYMBOL_GPL(modsym_test_core_fn);

static noinline int __init modsym_test_init_helper(void)
{
	int waited;

	for (waited = 0; wait && !READ_ONCE(release) && waited < 6000; waited++)
		msleep(10);
	return fail ? -ENODEV : 0;
}

static int __init modsym_test_init(void)
{
	int ret;

	pr_info("modsym_test: init (wait=%d fail=%d)\n", wait, fail);
	debugfs_dir = debugfs_create_dir("modsym_test", NULL);
	debugfs_create_bool("release", 0600, debugfs_dir, &release);
	ret = modsym_test_init_helper();
	if (ret)
		debugfs_remove(debugfs_dir);
	return ret;
}

static void __exit modsym_test_exit(void)
{
	debugfs_remove(debugfs_dir);
}

module_init(modsym_test_init);
module_exit(modsym_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modsym selftest module: waiting and failing init, duplicate names");
