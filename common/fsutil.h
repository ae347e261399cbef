/*
 * fsutil.h - small filesystem helpers with the checks done once.
 */
#ifndef KURIR_FSUTIL_H
#define KURIR_FSUTIL_H

#include <sys/types.h>
#include <stddef.h>

/* snprintf into out; -1/ENAMETOOLONG on truncation */
int	path_fmt(char *out, size_t outlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* fsync a directory by path or fd (makes a rename/link/unlink durable) */
int	fsync_dir(const char *path);
/*
 * Make sure path is a directory (not a symlink) with this mode and, when
 * uid != (uid_t)-1 and we are root, this owner.  Creates it if missing.
 */
int	dir_ensure(const char *path, mode_t mode, uid_t uid, gid_t gid);
/* Create the missing ancestors of path (not path itself), mode 0755. */
int	mkdir_parents(const char *path);
/* Read all of fd into b (at most max bytes; EFBIG beyond).  0 or -1. */
struct buf;
int	read_fd_all(int fd, size_t max, struct buf *b);
/*
 * Group commit: may one syncfs(2) on fd stand for an fdatasync of each
 * of many files just written on that filesystem?  1 on the local
 * journaling filesystems whose syncfs waits for the data, the journal
 * commit and the disk cache flush (ext4, xfs, btrfs; and tmpfs, where
 * there is nothing to wait for); 0 elsewhere, e.g. NFS, where only a
 * per-file fdatasync (its COMMIT) is sure.
 */
int	fs_group_sync(int fd);
/* The directory this program's executable lives in (for its siblings). */
int	self_dir(char *out, size_t outlen);

#endif
