// SPDX-License-Identifier: GPL-2.0
/*
 * modsym_test: a module whose init can wait or fail, for modsym's selftests.
 *
 *   wait=1  init sleeps until /sys/kernel/debug/modsym_test/release is
 *           written with 1 (or 60 s pass), so the module stays COMING and its
 *           init text can be resolved meanwhile. The file is in debugfs, not
 *           a module parameter, so that it also exists without CONFIG_SYSFS.
 *   fail=1  init returns -ENODEV after touching its init code.
 *   spin=1  a kthread spins in modsym_test_spin() until the module unloads, so
 *           that backtraces of its CPU (sysrq l, NMI) name a module function.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>

static bool wait;
module_param(wait, bool, 0444);
MODULE_PARM_DESC(wait, "wait in init until release=1");

static bool fail;
module_param(fail, bool, 0444);
MODULE_PARM_DESC(fail, "make init fail with -ENODEV");

static bool spin;
module_param(spin, bool, 0444);
MODULE_PARM_DESC(spin, "run a kthread spinning in modsym_test_spin() until unload");

static bool release;
static struct task_struct *spinner;
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

/*
 * Busy in module text most of the time. Between rounds it reports a quiescent state to
 * RCU-tasks: being preempted is not one, and unregistering an ftrace hook (switching
 * modsym's acceleration off) waits for every task to pass one.
 */
static noinline int modsym_test_spin(void *unused)
{
	int i;

	while (!kthread_should_stop()) {
		for (i = 0; i < 100000; i++)
			cpu_relax();
		cond_resched_tasks_rcu_qs();
	}
	return 0;
}

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
	if (!ret && spin) {
		spinner = kthread_run(modsym_test_spin, NULL, "modsym_test_spin");
		if (IS_ERR(spinner)) {
			ret = PTR_ERR(spinner);
			spinner = NULL;
		}
	}
	if (ret)
		debugfs_remove(debugfs_dir);
	return ret;
}

static void __exit modsym_test_exit(void)
{
	if (spinner)
		kthread_stop(spinner);
	debugfs_remove(debugfs_dir);
}

module_init(modsym_test_init);
module_exit(modsym_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modsym selftest module: waiting and failing init, duplicate names, a spinning kthread");
