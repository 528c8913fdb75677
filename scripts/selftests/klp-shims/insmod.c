// SPDX-License-Identifier: GPL-2.0
/*
 * insmod FILE [PARAM...] with kmod's error text, which the livepatch selftests compare
 * with. Built statically for the guest (busybox's insmod retries a failed finit_module()
 * with init_module(), running a failing module's init twice, and words errors its own way).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* kmod's wording for the errors init_module() shares with other calls. */
static const char *mod_strerror(int err)
{
	switch (err) {
	case ENOEXEC:
		return "Invalid module format";
	case ENOENT:
	case ESRCH:
		return "Unknown symbol in module";
	case EINVAL:
		return "Invalid parameters";
	default:
		return strerror(err);
	}
}

int main(int argc, char *argv[])
{
	char params[4096] = "";
	size_t used = 0;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: insmod FILE [PARAM...]\n");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		int n = snprintf(params + used, sizeof(params) - used, "%s%s", i > 2 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(params) - used) {
			fprintf(stderr, "insmod: ERROR: parameters too long\n");
			return 1;
		}
		used += n;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "insmod: ERROR: could not load module %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (syscall(SYS_finit_module, fd, params, 0) != 0) {
		fprintf(stderr, "insmod: ERROR: could not insert module %s: %s\n", argv[1],
			mod_strerror(errno));
		return 1;
	}
	return 0;
}
