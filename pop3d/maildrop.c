/*
 * maildrop.c - the maildrop of one POP3 session (RFC 1939) for
 * kurir-pop3d: the per-session process, running as the mail user,
 * chrooted into one user's Maildir and sandboxed to file calls.
 *
 * Input: a descriptor on the Maildir.  Every name is opened relative to
 * it, one component at a time, with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW:
 * a symlink is never followed, a symlinked new/ or cur/ is an error and a
 * symlink inside them is skipped.  Names read from a directory are used
 * only if they do not start with '.' (and have no '/', which readdir
 * cannot return).
 *
 * The lock is an flock on MAILDROP_LOCK in the Maildir, taken without
 * waiting, so a second session gets -ERR [IN-USE] at once.  flock rather
 * than a lock in new/ or a dot-lock: it dies with the process (no stale
 * locks after a crash) and Linux maps it to an NFS lock on shared
 * storage, so it holds across hosts.
 *
 * The listing is made once at open (RFC 1939: numbers stay fixed for the
 * session), ordered by delivery: the leading seconds of the unique name,
 * then the unique name.  When a Maildir holds more than MAILDROP_MAX
 * messages the oldest are kept (a bounded max-heap while reading), the
 * rest show up in a later session.  Sizes are counted after the choice,
 * each file read once through a fixed buffer.
 *
 * Output: nothing changes on disk before maildrop_commit.  There DELE
 * unlinks and RETR moves the message to cur/ with S added to its flags
 * (SPEC.md: mutt and Dovecot see the same state), then the directories
 * changed are fsync'd.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildrop.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define MSG_FLAGS	(O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
#define SCAN_BUF	65536		/* read size when counting lines */
#define FLAGS_MAX	64		/* flag letters kept from a cur/ name */
#define FNV_PRIME	0x100000001b3ULL
#define FNV_BASIS	0xcbf29ce484222325ULL

static const char *subdirs[] = { "tmp", "new", "cur" };

static void seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Length of the unique part of a Maildir name: up to the info ':'. */
static size_t
md_unique_len(const char *name)
{
	return strcspn(name, ":");
}

/*
 * The unique part as is when RFC 1939 allows it (1..70 octets in
 * 0x21..0x7E), else a digest of it.  Derived from the name alone, so it
 * stays the same across sessions, restarts and the move to cur/.
 */
static void
md_uid(const char *name, char *uid, size_t uidlen)
{
	size_t len = md_unique_len(name), i;
	uint64_t h1 = FNV_BASIS, h2 = FNV_BASIS;
	unsigned char c;
	int ok = len > 0 && len <= UIDL_MAX;

	for (i = 0; ok && i < len; i++) {
		c = (unsigned char)name[i];
		if (c < 0x21 || c > 0x7e)
			ok = 0;
	}
	if (ok) {
		memcpy(uid, name, len);
		uid[len] = '\0';
		return;
	}
	/* the second hash starts from a different state (one extra byte) */
	h2 = (h2 ^ 0xa5) * FNV_PRIME;
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		h1 = (h1 ^ c) * FNV_PRIME;
		h2 = (h2 ^ c) * FNV_PRIME;
	}
	snprintf(uid, uidlen, "h%016llx%016llx", (unsigned long long)h1,
	    (unsigned long long)h2);
}

/* The leading decimal seconds of a name (0 when none; clamped). */
static unsigned long long
md_seconds(const char *name)
{
	unsigned long long s = 0;

	for (; *name >= '0' && *name <= '9'; name++) {
		if (s > (ULLONG_MAX - 9) / 10)
			return ULLONG_MAX;
		s = s * 10 + (unsigned long long)(*name - '0');
	}
	return s;
}

/* Delivery order, a total order: seconds, unique part, new/ first, name. */
static int
md_cmp(const void *pa, const void *pb)
{
	const struct mdmsg *a = pa, *b = pb;
	unsigned long long sa = md_seconds(a->name), sb = md_seconds(b->name);
	size_t la = md_unique_len(a->name), lb = md_unique_len(b->name);
	int r;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if ((r = memcmp(a->name, b->name, la < lb ? la : lb)) != 0)
		return r;
	if (la != lb)
		return la < lb ? -1 : 1;
	if (a->in_new != b->in_new)
		return a->in_new ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Max-heap by md_cmp: the root is the newest of the kept messages. */
static void
md_sift_down(struct mdmsg *h, size_t n, size_t i)
{
	struct mdmsg tmp;
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && md_cmp(&h[c + 1], &h[c]) > 0)
			c++;
		if (md_cmp(&h[c], &h[i]) <= 0)
			return;
		tmp = h[i];
		h[i] = h[c];
		h[c] = tmp;
		i = c;
	}
}

/* Add one candidate, keeping the MAILDROP_MAX oldest. */
static int
md_add(struct maildrop *md, size_t *cap, int *heap, const struct mdmsg *m)
{
	struct mdmsg *p;
	size_t ncap, i;

	if (md->n < MAILDROP_MAX) {
		if (md->n == *cap) {
			ncap = *cap == 0 ? 64 : *cap * 2;
			if (ncap > MAILDROP_MAX)
				ncap = MAILDROP_MAX;
			if ((p = reallocarray(md->msgs, ncap,
			    sizeof(*p))) == NULL)
				return -1;
			md->msgs = p;
			*cap = ncap;
		}
		md->msgs[md->n++] = *m;
		return 0;
	}
	if (!*heap) {
		for (i = md->n / 2; i-- > 0;)
			md_sift_down(md->msgs, md->n, i);
		*heap = 1;
	}
	if (md_cmp(m, &md->msgs[0]) < 0) {
		md->msgs[0] = *m;
		md_sift_down(md->msgs, md->n, 0);
	}
	return 0;
}

/* List one of new/ and cur/ into md (no sizes yet). */
static int
md_list(struct maildrop *md, int in_new, size_t *cap, int *heap,
    char *err, size_t errlen)
{
	const char *sub = in_new ? "new" : "cur";
	struct mdmsg m;
	struct dirent *e;
	struct stat st;
	DIR *dir;
	int fd;

	if ((fd = openat(md->dirfd, sub, DIR_FLAGS)) == -1) {
		seterr(err, errlen, "%s: %s", sub, strerror(errno));
		return -1;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		seterr(err, errlen, "%s: %s", sub, strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(dir)) == NULL)
			break;
		if (e->d_name[0] == '.' || strchr(e->d_name, '/') != NULL)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)	/* taken by another client */
				continue;
			seterr(err, errlen, "%s/%s: %s", sub, e->d_name,
			    strerror(errno));
			closedir(dir);
			return -1;
		}
		if (!S_ISREG(st.st_mode))	/* symlinks included */
			continue;
		memset(&m, 0, sizeof(m));
		if (strlcpy(m.name, e->d_name, sizeof(m.name)) >=
		    sizeof(m.name))
			continue;	/* longer than NAME_MAX: cannot be */
		m.in_new = in_new;
		if (md_add(md, cap, heap, &m) == -1) {
			seterr(err, errlen, "listing %s: %s", sub,
			    strerror(errno));
			closedir(dir);
			return -1;
		}
	}
	if (errno != 0) {
		seterr(err, errlen, "reading %s: %s", sub, strerror(errno));
		closedir(dir);
		return -1;
	}
	closedir(dir);
	return 0;
}

/*
 * The size on the wire of an open message, as txn.c sends it: each line
 * end (LF, CR LF, or a CR alone) becomes CRLF, and a last line without
 * one gets a CRLF too.  One pass, fixed buffer.
 */
static int
md_size_fd(int fd, char *buf, size_t buflen, unsigned long long *size)
{
	unsigned long long text = 0, ends = 0;
	int cr = 0, bol = 1;
	ssize_t r, i;

	for (;;) {
		if ((r = read(fd, buf, buflen)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] == '\n' && cr)
				;		/* CR LF: counted at the CR */
			else if (buf[i] == '\n' || buf[i] == '\r') {
				ends++;
				bol = 1;
			} else {
				text++;
				bol = 0;
			}
			cr = buf[i] == '\r';
		}
	}
	*size = text + 2 * ends + (bol ? 0 : 2);
	return 0;
}

/* Open a listed message's directory (new/ or cur/). */
static int
md_subdir(const struct maildrop *md, int in_new)
{
	return openat(md->dirfd, in_new ? "new" : "cur", DIR_FLAGS);
}

/*
 * A regular file in dfd by name, read-only; never a symlink (ELOOP), and
 * never a FIFO or device swapped in after the listing (EINVAL).
 */
static int
md_open_file(int dfd, const char *name)
{
	struct stat st;
	int fd;

	if ((fd = openat(dfd, name, MSG_FLAGS)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* back to blocking reads; O_NONBLOCK only kept open() from hanging */
	if (fcntl(fd, F_SETFL, O_RDONLY) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sizes and uids of the listed messages; drop those gone meanwhile. */
static int
md_measure(struct maildrop *md, char *err, size_t errlen)
{
	char *buf;
	size_t i, o = 0;
	int dfd[2] = { -1, -1 }, fd, rc = -1;

	if ((buf = malloc(SCAN_BUF)) == NULL) {
		seterr(err, errlen, "malloc: %s", strerror(errno));
		return -1;
	}
	if ((dfd[0] = md_subdir(md, 0)) == -1 ||
	    (dfd[1] = md_subdir(md, 1)) == -1) {
		seterr(err, errlen, "new/cur: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < md->n; i++) {
		struct mdmsg *m = &md->msgs[i];

		if ((fd = md_open_file(dfd[m->in_new], m->name)) == -1) {
			if (errno == ENOENT || errno == ELOOP ||
			    errno == EINVAL)
				continue;
			seterr(err, errlen, "%s/%s: %s",
			    m->in_new ? "new" : "cur", m->name,
			    strerror(errno));
			goto out;
		}
		if (md_size_fd(fd, buf, SCAN_BUF, &m->size) == -1) {
			seterr(err, errlen, "%s/%s: %s",
			    m->in_new ? "new" : "cur", m->name,
			    strerror(errno));
			close(fd);
			goto out;
		}
		close(fd);
		md_uid(m->name, m->uid, sizeof(m->uid));
		if (o != i)
			md->msgs[o] = *m;
		o++;
	}
	md->n = o;
	rc = 0;
 out:
	if (dfd[0] != -1)
		close(dfd[0]);
	if (dfd[1] != -1)
		close(dfd[1]);
	free(buf);
	return rc;
}

/* tmp/ new/ cur/, created 0700 if missing (a user with no mail yet). */
static int
md_dirs(struct maildrop *md, char *err, size_t errlen)
{
	struct stat st;
	size_t i;
	int made = 0;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(md->dirfd, subdirs[i], 0700) == 0)
			made = 1;
		else if (errno != EEXIST) {
			seterr(err, errlen, "mkdir %s: %s", subdirs[i],
			    strerror(errno));
			return -1;
		}
		if (fstatat(md->dirfd, subdirs[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			seterr(err, errlen, "%s: %s", subdirs[i],
			    strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			seterr(err, errlen, "%s: not a directory",
			    subdirs[i]);
			return -1;
		}
	}
	/* so kurir-local and the next session find them after a crash */
	if (made && fsync(md->dirfd) == -1) {
		seterr(err, errlen, "fsync: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
maildrop_open(struct maildrop *md, int maildir_fd, char *err,
    size_t errlen)
{
	size_t cap = 0;
	int heap = 0;

	memset(md, 0, sizeof(*md));
	md->lockfd = -1;
	if ((md->dirfd = fcntl(maildir_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		seterr(err, errlen, "dup: %s", strerror(errno));
		return -1;
	}
	if ((md->lockfd = openat(md->dirfd, MAILDROP_LOCK,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		seterr(err, errlen, "%s: %s", MAILDROP_LOCK, strerror(errno));
		goto fail;
	}
	if (flock(md->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			seterr(err, errlen, "maildrop in use");
			maildrop_close(md);
			return 1;
		}
		seterr(err, errlen, "flock: %s", strerror(errno));
		goto fail;
	}
	if (md_dirs(md, err, errlen) == -1 ||
	    md_list(md, 1, &cap, &heap, err, errlen) == -1 ||
	    md_list(md, 0, &cap, &heap, err, errlen) == -1)
		goto fail;
	if (md->n > 0)
		qsort(md->msgs, md->n, sizeof(md->msgs[0]), md_cmp);
	if (md_measure(md, err, errlen) == -1)
		goto fail;
	return 0;
 fail:
	maildrop_close(md);
	return -1;
}

void
maildrop_stat(const struct maildrop *md, size_t *count,
    unsigned long long *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < md->n; i++) {
		if (md->msgs[i].deleted)
			continue;
		(*count)++;
		*octets += md->msgs[i].size;
	}
}

int
maildrop_open_msg(const struct maildrop *md, size_t i)
{
	int dfd, fd, save;

	if (i >= md->n || md->msgs[i].deleted) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = md_subdir(md, md->msgs[i].in_new)) == -1)
		return -1;
	fd = md_open_file(dfd, md->msgs[i].name);
	save = errno;
	close(dfd);
	errno = save;
	return fd;
}

void
maildrop_reset(struct maildrop *md)
{
	size_t i;

	for (i = 0; i < md->n; i++)
		md->msgs[i].deleted = 0;
}

/*
 * The cur/ name of a seen message: the unique part, ":2," and the old
 * flags plus S, sorted, each once.  0 if unchanged (already has S, or an
 * info part other than "2," that we do not rewrite), 1 if out is the new
 * name, -1 if it would not fit.
 */
static int
md_seen_name(const struct mdmsg *m, char *out, size_t outlen)
{
	char flags[FLAGS_MAX + 1];
	const char *info, *p;
	size_t ulen = md_unique_len(m->name), nf = 0, i, j;
	char c;

	info = m->name + ulen;
	if (*info == ':') {
		if (strncmp(info, ":2,", 3) != 0)
			return 0;	/* experimental ":1," info: leave it */
		for (p = info + 3; *p != '\0'; p++) {
			/* insertion sort, without repeats */
			for (i = 0; i < nf && flags[i] < *p; i++)
				;
			if (i < nf && flags[i] == *p)
				continue;
			if (nf == FLAGS_MAX)
				return -1;
			for (j = nf; j > i; j--)
				flags[j] = flags[j - 1];
			flags[i] = *p;
			nf++;
		}
	}
	if (!m->in_new && memchr(flags, 'S', nf) != NULL)
		return 0;
	c = 'S';
	for (i = 0; i < nf && flags[i] < c; i++)
		;
	if (i == nf || flags[i] != c) {
		if (nf == FLAGS_MAX)
			return -1;
		for (j = nf; j > i; j--)
			flags[j] = flags[j - 1];
		flags[i] = c;
		nf++;
	}
	flags[nf] = '\0';
	if ((size_t)snprintf(out, outlen, "%.*s:2,%s", (int)ulen, m->name,
	    flags) >= outlen)
		return -1;
	return 1;
}

/*
 * Rename without replacing: a clash would mean two files with one unique
 * name, and overwriting one would lose mail.  Where the file system has
 * no RENAME_NOREPLACE (older NFS), check first, then rename.
 */
static int
md_rename(int from, const char *old, int to, const char *new)
{
	struct stat st;

	if (renameat2(from, old, to, new, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(to, new, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(from, old, to, new);
}

int
maildrop_commit(struct maildrop *md, char *err, size_t errlen)
{
	char name[sizeof(md->msgs[0].name)];
	struct mdmsg *m;
	size_t i, failed = 0;
	int dfd[2] = { -1, -1 }, dirty[2] = { 0, 0 }, rc = 0, r;

	if ((dfd[0] = md_subdir(md, 0)) == -1 ||
	    (dfd[1] = md_subdir(md, 1)) == -1) {
		seterr(err, errlen, "new/cur: %s", strerror(errno));
		rc = -1;
		goto out;
	}
	for (i = 0; i < md->n; i++) {
		m = &md->msgs[i];
		if (m->deleted) {
			if (unlinkat(dfd[m->in_new], m->name, 0) == 0)
				dirty[m->in_new] = 1;
			else if (errno != ENOENT) {
				if (failed++ == 0)
					seterr(err, errlen, "%s/%s: %s",
					    m->in_new ? "new" : "cur",
					    m->name, strerror(errno));
			}
			continue;
		}
		if (!m->seen)
			continue;
		if ((r = md_seen_name(m, name, sizeof(name))) <= 0) {
			if (r == -1)
				log_warnx("%s: name too long to mark seen",
				    m->name);
			m->seen = 0;
			continue;
		}
		if (md_rename(dfd[m->in_new], m->name, dfd[0], name) == -1) {
			/* the message is intact; only its S flag is missing */
			if (errno != ENOENT)
				log_warn("mark seen %s", m->name);
			continue;
		}
		dirty[m->in_new] = dirty[0] = 1;
		strlcpy(m->name, name, sizeof(m->name));	/* fits */
		m->in_new = 0;
		m->seen = 0;
	}
	for (i = 0; i < 2; i++) {
		if (dirty[i] && fsync(dfd[i]) == -1) {
			if (rc == 0 && failed == 0)
				seterr(err, errlen, "fsync %s: %s",
				    i ? "new" : "cur", strerror(errno));
			rc = -1;
		}
	}
	if (failed > 0) {
		if (failed > 1 && err != NULL && errlen > 0) {
			size_t l = strlen(err);

			if (l < errlen)
				snprintf(err + l, errlen - l,
				    " (and %zu more)", failed - 1);
		}
		rc = -1;
	}
 out:
	if (dfd[0] != -1)
		close(dfd[0]);
	if (dfd[1] != -1)
		close(dfd[1]);
	return rc;
}

void
maildrop_close(struct maildrop *md)
{
	/* closing the only descriptor on the lock file releases the flock */
	if (md->lockfd != -1)
		close(md->lockfd);
	if (md->dirfd != -1)
		close(md->dirfd);
	free(md->msgs);
	md->msgs = NULL;
	md->n = 0;
	md->lockfd = md->dirfd = -1;
}
