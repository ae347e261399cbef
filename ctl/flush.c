/*
 * flush.c - kurirctl flush: every deferred message is due now.
 *
 * kurird writes its pid to <state_dir>/kurird.pid; we send it SIGUSR1
 * and it tells kurir-send (CTL_FLUSH).  A stale pid file must not make
 * us signal some other process: the pid must belong to a kurird.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "fsutil.h"

/* The pid in the file, if that process is a kurird; else -1. */
static pid_t
kurird_pid(const struct conf *c)
{
	char path[4200], text[32], comm[64];
	const char *err;
	ssize_t n;
	long long pid;
	int fd;

	if (path_fmt(path, sizeof(path), "%s/kurird.pid", c->state_dir) == -1 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		fprintf(stderr, "kurirctl: %s: %s (is kurird running?)\n", path,
		    strerror(errno));
		return -1;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "kurirctl: %s: empty\n", path);
		return -1;
	}
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	pid = strtonum(text, 1, 4194304, &err);
	if (err != NULL) {
		fprintf(stderr, "kurirctl: %s: bad pid\n", path);
		return -1;
	}
	if (path_fmt(path, sizeof(path), "/proc/%lld/comm", pid) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (n = read(fd, comm, sizeof(comm) - 1)) <= 0) {
		if (fd != -1)
			close(fd);
		fprintf(stderr, "kurirctl: kurird (pid %lld) is not running\n",
		    pid);
		return -1;
	}
	close(fd);
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, "kurird") != 0) {
		fprintf(stderr, "kurirctl: pid %lld is not kurird (stale pid "
		    "file)\n", pid);
		return -1;
	}
	return (pid_t)pid;
}

int
ctl_flush(const struct conf *c)
{
	pid_t pid;

	if ((pid = kurird_pid(c)) == -1)
		return 1;
	if (kill(pid, SIGUSR1) == -1) {
		fprintf(stderr, "kurirctl: signal kurird (pid %ld): %s\n",
		    (long)pid, strerror(errno));
		return 1;
	}
	printf("flush requested\n");
	return 0;
}
