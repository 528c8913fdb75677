// SPDX-License-Identifier: GPL-2.0
/*
 * modsym_test_names: the kernel's own name lookups, for modsym's selftests and bench.
 *
 * kallsyms_lookup_name() is not exported; its address is taken from a kprobe on it, which
 * is registered and removed again at load. Writing names to
 * /sys/kernel/debug/modsym_test_names/lookup, one per line (`sym` or `mod:sym`), looks
 * each up with it: for module symbols that is module_kallsyms_lookup_name(), which
 * modsym's acceleration answers from its name index. Reading the file gives one line
 * `<value in hex> <name>` per name written since the file was last opened with O_TRUNC
 * (`>`), then `# lookups <n> ns <total ns spent in the lookups>`.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/kallsyms.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* Longest line: `module:symbol`. */
#define LINE_MAX_LEN (MODULE_NAME_LEN + KSYM_NAME_LEN + 1)
/* Most bytes of results kept (beyond, writes fail with ENOSPC). */
#define RESULTS_MAX (16 << 20)

static unsigned long (*lookup_name)(const char *name);
static struct dentry *dir;

static DEFINE_MUTEX(lock);
static char line[LINE_MAX_LEN + 1];
static size_t line_len;
static char *results;
static size_t results_len, results_cap;
static u64 lookups, lookup_ns;

/* Appends the answer for the name in line[] (NUL-terminated) to the results. */
static int answer(void)
{
	char out[LINE_MAX_LEN + 24];
	unsigned long value;
	u64 t0;
	int n;

	t0 = ktime_get_ns();
	value = lookup_name(line);
	lookup_ns += ktime_get_ns() - t0;
	lookups++;
	n = scnprintf(out, sizeof(out), "%lx %s\n", value, line);
	if (results_len + n > results_cap) {
		size_t cap = max_t(size_t, 2 * results_cap, 64 << 10);
		char *grown;

		if (cap > RESULTS_MAX)
			return -ENOSPC;
		grown = kvrealloc(results, cap, GFP_KERNEL);
		if (!grown)
			return -ENOMEM;
		results = grown;
		results_cap = cap;
	}
	memcpy(results + results_len, out, n);
	results_len += n;
	return 0;
}

static int names_open(struct inode *inode, struct file *file)
{
	if ((file->f_mode & FMODE_WRITE) && (file->f_flags & O_TRUNC)) {
		mutex_lock(&lock);
		results_len = 0;
		line_len = 0;
		lookups = 0;
		lookup_ns = 0;
		mutex_unlock(&lock);
	}
	return 0;
}

/* Each complete line is looked up; a partial one waits for the next write. */
static ssize_t names_write(struct file *file, const char __user *buf, size_t count,
			   loff_t *ppos)
{
	size_t done;
	int ret = 0;

	mutex_lock(&lock);
	for (done = 0; done < count; done++) {
		char c;

		if (get_user(c, buf + done)) {
			ret = -EFAULT;
			break;
		}
		if (c != '\n') {
			if (line_len == LINE_MAX_LEN) {
				ret = -EINVAL;
				break;
			}
			line[line_len++] = c;
			continue;
		}
		line[line_len] = '\0';
		line_len = 0;
		ret = answer();
		if (ret)
			break;
	}
	mutex_unlock(&lock);
	return ret ? ret : count;
}

static ssize_t names_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	char tail[64];
	ssize_t ret;
	int n;

	mutex_lock(&lock);
	n = scnprintf(tail, sizeof(tail), "# lookups %llu ns %llu\n", lookups, lookup_ns);
	if (*ppos < results_len) {
		ret = simple_read_from_buffer(buf, count, ppos, results, results_len);
	} else {
		loff_t pos = *ppos - results_len;

		ret = simple_read_from_buffer(buf, count, &pos, tail, n);
		if (ret > 0)
			*ppos += ret;
	}
	mutex_unlock(&lock);
	return ret;
}

static const struct file_operations names_fops = {
	.owner = THIS_MODULE,
	.open = names_open,
	.read = names_read,
	.write = names_write,
	.llseek = default_llseek,
};

static int __init modsym_test_names_init(void)
{
	struct kprobe probe = { .symbol_name = "kallsyms_lookup_name" };
	int ret = register_kprobe(&probe);

	if (ret)
		return ret;
	lookup_name = (unsigned long (*)(const char *))probe.addr;
	unregister_kprobe(&probe);
	dir = debugfs_create_dir("modsym_test_names", NULL);
	debugfs_create_file("lookup", 0600, dir, NULL, &names_fops);
	return 0;
}

static void __exit modsym_test_names_exit(void)
{
	debugfs_remove(dir);
	kvfree(results);
}

module_init(modsym_test_names_init);
module_exit(modsym_test_names_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("modsym selftest module: the kernel's name lookups (kallsyms_lookup_name)");
