// SPDX-License-Identifier: GPL-2.0
/*
 * readtimes FILE: reads FILE to its end and prints, for each read(), the bytes and lines
 * it returned and the nanoseconds it took, then one summary line:
 *   reads R lines L ns T starts S
 * where S sums, over the reads, the lines before each read's start. For a seq_file that
 * restarts its iteration at every read (ftrace's available_filter_functions walks its
 * records from the first one again), S records are walked in restarts in all.
 */
#include <fcntl.h>
#include <stdio.h>
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
	long long total = 0, lines = 0, starts = 0, reads = 0;
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
		long long t0 = now_ns(), ns;
		ssize_t n = read(fd, buf, sizeof(buf));
		long long in_read = 0;

		ns = now_ns() - t0;
		if (n < 0) {
			perror(argv[1]);
			return 1;
		}
		for (ssize_t k = 0; k < n; k++)
			in_read += buf[k] == '\n';
		printf("%zd %lld %lld\n", n, in_read, ns);
		starts += lines;
		lines += in_read;
		total += ns;
		reads++;
		if (n == 0)
			break;
	}
	printf("reads %lld lines %lld ns %lld starts %lld\n", reads, lines, total, starts);
	return close(fd) ? 1 : 0;
}
