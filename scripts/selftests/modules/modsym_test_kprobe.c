// SPDX-License-Identifier: GPL-2.0
/*
 * modsym_test_kprobe: a kprobe with a post-handler on find_kallsyms_symbol(). Such a kprobe
 * on an ftrace site modifies the instruction pointer (FTRACE_OPS_FL_IPMODIFY), like a
 * livepatch of the function: it and modsym's acceleration exclude each other. Loading
 * fails with the kprobe's error (EBUSY while the acceleration is on), and with EOPNOTSUPP
 * where kprobes do not use ftrace (arm64 in 7.3 has no KPROBES_ON_FTRACE: a breakpoint
 * kprobe and modsym's hook coexist there).
 */
#include <linux/kprobes.h>
#include <linux/module.h>

static void modsym_test_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe probe = {
	.symbol_name = "find_kallsyms_symbol",
	.post_handler = modsym_test_post,
};

static int __init modsym_test_kprobe_init(void)
{
	int ret = register_kprobe(&probe);

	if (ret || kprobe_ftrace(&probe))
		return ret;
	unregister_kprobe(&probe);
	return -EOPNOTSUPP;
}

static void __exit modsym_test_kprobe_exit(void)
{
	unregister_kprobe(&probe);
}

module_init(modsym_test_kprobe_init);
module_exit(modsym_test_kprobe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modsym selftest module: an IPMODIFY kprobe on find_kallsyms_symbol");
