/*
 * fsutil.c - small filesystem helpers (fsutil.h).
 */
#include <sys/stat.h>
#include <sys/vfs.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"

int
path_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
fsync_dir(const char *path)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
dir_ensure(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, r = -1;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		return -1;
	/*
	 * Owner and mode are set through a descriptor of the directory
	 * itself: a symlink swapped in between can aim us nowhere.
	 */
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (uid != (uid_t)-1 && geteuid() == 0 &&
	    (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) == -1)
		goto out;
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) == -1)
		goto out;
	r = 0;
out:
	close(fd);
	return r;
}

int
self_dir(char *out, size_t outlen)
{
	char buf[4096];
	ssize_t n;

	if ((n = readlink("/proc/self/exe", buf, sizeof(buf) - 1)) == -1)
		return -1;
	buf[n] = '\0';
	return path_fmt(out, outlen, "%s", dirname(buf));
}

int
mkdir_parents(const char *path)
{
	char buf[4096];
	char *p;

	if (path_fmt(buf, sizeof(buf), "%s", path) == -1)
		return -1;
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int
read_fd_all(int fd, size_t max, struct buf *b)
{
	ssize_t n;

	for (;;) {
		if (buf_reserve(b, 16384) == -1)
			return -1;
		n = read(fd, b->data + b->len, 16384);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		if (b->len > max) {
			errno = EFBIG;
			return -1;
		}
	}
}

int
fs_group_sync(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == -1)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:		/* ext2/3/4 */
	case 0x58465342UL:	/* xfs */
	case 0x9123683EUL:	/* btrfs */
	case 0x01021994UL:	/* tmpfs */
		return 1;
	default:
		return 0;
	}
}
