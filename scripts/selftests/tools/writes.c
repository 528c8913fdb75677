// SPDX-License-Identifier: GPL-2.0
/*
 * writes FILE DATA...: opens FILE for reading and writing, writes each DATA with one
 * write() call (an empty DATA is a write of 0 bytes) and prints its result, "write: N"
 * or "write: <error>", then reads the same open file to its end and copies what it
 * returns to stdout. For what a shell cannot do: its redirections never write 0 bytes.
 * Exits 1 if FILE cannot be opened or read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: writes FILE [DATA...]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int k = 2; k < argc; k++) {
		ssize_t n = write(fd, argv[k], strlen(argv[k]));

		if (n < 0)
			printf("write: %s\n", strerror(errno));
		else
			printf("write: %zd\n", n);
	}
	fflush(stdout);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			perror(argv[1]);
			return 1;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			return 1;
	}
	return close(fd) ? 1 : 0;
}
