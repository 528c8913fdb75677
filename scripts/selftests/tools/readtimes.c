// SPDX-License-Identifier: GPL-2.0
/*
 * readtimes FILE: reads FILE to its end and prints, for each read(), the lines before it,
 * the lines it returned, how many of those name a module (contain " ["), and the
 * nanoseconds it took:
 *   START LINES MODULE_LINES NS
 * For a seq_file that restarts its iteration at every read (ftrace's
 * available_filter_functions walks its records from the first one again), the time of a
 * read grows with START: bench.sh fits that slope.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	long long start = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: readtimes FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		long long t0 = now_ns(), ns, lines = 0, module_lines = 0, in_line = 0;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		ns = now_ns() - t0;
		if (n < 0) {
			perror(argv[1]);
			return 1;
		}
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] == '[' && k > 0 && buf[k - 1] == ' ')
				in_line = 1;
			if (buf[k] == '\n') {
				lines++;
				module_lines += in_line;
				in_line = 0;
			}
		}
		printf("%lld %lld %lld %lld\n", start, lines, module_lines, ns);
		start += lines;
		if (n == 0)
			break;
	}
	return close(fd) ? 1 : 0;
}
