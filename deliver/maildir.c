/*
 * maildir.c - Maildir directories and unique names for kurir-local
 * (mail user, chrooted to mail_dir).
 *
 * Every directory is opened relative to the mail_dir descriptor, one
 * component at a time, with O_NOFOLLOW | O_DIRECTORY: a symlink anywhere
 * in <mailbox>/{tmp,new,cur} is refused (ELOOP), never followed, so the
 * mail tree cannot be made to point outside itself.  Missing directories
 * are created 0700 and their parent fsync'd, so a new Maildir survives a
 * crash along with the first message in it.
 *
 * Names follow the Maildir convention, safe on shared storage (NFS,
 * CephFS) with no lock: "<seconds>.M<usec>P<pid>Q<counter>R<random>.<host>",
 * the host part escaped ('/' -> \057, ':' -> \072).  The counter never
 * repeats in one process and the 64 random bits make a clash between
 * hosts that share a name (or pids after a restart) negligible; creating
 * with O_EXCL and linking (which fails on EEXIST) catch the rest.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "local.h"
#include "log.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int
local_init(struct local_ctx *c, int root_fd, const char *host)
{
	size_t i;

	struct stat st;

	memset(c, 0, sizeof(*c));
	c->root_fd = root_fd;
	c->group_sync = fs_group_sync(root_fd) && fstat(root_fd, &st) == 0;
	c->root_dev = c->group_sync ? st.st_dev : 0;
	c->peer_fd = -1;
	c->pid = (long)getpid();
	maildir_host(host, c->host, sizeof(c->host));
	for (i = 0; i < LOCAL_BATCH_MAX; i++)
		c->md[i].tmp_fd = c->md[i].new_fd = -1;
	buf_init(&c->field, LOCAL_ADDR_MAX + 64);
	if ((c->chunk = malloc(LOCAL_SCAN_MAX)) == NULL)
		return -1;
	return 0;
}

void
local_free(struct local_ctx *c)
{
	maildir_close_all(c);
	free(c->chunk);
	c->chunk = NULL;
	buf_free(&c->field);
}

void
maildir_host(const char *host, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char ch;

	if (host == NULL || host[0] == '\0')
		host = "localhost";
	for (; *host != '\0'; host++) {
		ch = (unsigned char)*host;
		if (ch == '/' || ch == ':' || ch == '\\' || ch < 0x21 ||
		    ch > 0x7e) {
			if (o + 4 >= outlen)
				break;
			snprintf(out + o, outlen - o, "\\%03o", ch);
			o += 4;
		} else {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

void
maildir_uniq(struct local_ctx *c, const char *tag, char *out, size_t outlen)
{
	struct timeval tv;
	unsigned long long rnd;

	gettimeofday(&tv, NULL);
	arc4random_buf(&rnd, sizeof(rnd));
	/* LOCAL_HOST_MAX keeps this well under NAME_MAX */
	snprintf(out, outlen, "%lld.M%06ldP%ldQ%lluR%016llx%s%s.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, c->pid, ++c->counter, rnd,
	    tag ? "K" : "", tag ? tag : "", c->host);
}

static int
dir_find_tag(int dfd, const char *pat, char *found, size_t foundlen)
{
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, pat) != NULL) {
			strlcpy(found, de->d_name, foundlen);
			r = 1;
			break;
		}
	closedir(d);
	return r;
}

/*
 * After a crash kurir-send cannot know whether a copy it asked for was
 * made: it asks us to look.  The tag is in the unique part of the name,
 * which readers keep when they move a file to cur/ and add flags.
 */
int
maildir_find_tag(const struct maildir *m, const char *tag, char *found,
    size_t foundlen)
{
	char pat[LOCAL_TAG_MAX + 4];
	int r;

	snprintf(pat, sizeof(pat), "K%s.", tag);
	if ((r = dir_find_tag(m->new_fd, pat, found, foundlen)) != 0)
		return r;
	return dir_find_tag(m->cur_fd, pat, found, foundlen);
}

/*
 * Open the directory name under at, creating it when missing (*created
 * set).  Never follows a symlink: ELOOP if one is there, ENOTDIR if any
 * other non-directory is.
 */
static int
dir_open(int at, const char *name, int *created)
{
	struct stat st;
	int fd;

	fd = openat(at, name, DIR_FLAGS);
	if (fd == -1 && errno == ENOENT) {
		if (mkdirat(at, name, 0700) == 0)
			*created = 1;
		else if (errno != EEXIST)
			return -1;
		fd = openat(at, name, DIR_FLAGS);
	}
	if (fd == -1 && (errno == ELOOP || errno == ENOTDIR)) {
		/* say which, from the entry itself */
		if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			errno = ELOOP;
		else
			errno = ENOTDIR;
	}
	return fd;
}

static void
md_close(struct maildir *m)
{
	if (m->tmp_fd >= 0)
		close(m->tmp_fd);
	if (m->new_fd >= 0)
		close(m->new_fd);
	if (m->cur_fd >= 0)
		close(m->cur_fd);
	m->tmp_fd = m->new_fd = m->cur_fd = -1;
	m->name[0] = '\0';
	m->linked = 0;
}

struct maildir *
maildir_get(struct local_ctx *c, const char *mailbox, char *what,
    size_t whatlen)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	struct maildir *m;
	int mfd, sfd[3] = { -1, -1, -1 }, made_box = 0, made_sub = 0, e;
	size_t i;

	for (i = 0; i < c->nmd; i++)
		if (strcmp(c->md[i].name, mailbox) == 0)
			return &c->md[i];
	if (c->nmd == LOCAL_BATCH_MAX) {	/* not with one per request */
		errno = ENFILE;
		snprintf(what, whatlen, "maildir %s", mailbox);
		return NULL;
	}
	snprintf(what, whatlen, "maildir %s", mailbox);
	if ((mfd = dir_open(c->root_fd, mailbox, &made_box)) == -1)
		return NULL;
	for (i = 0; i < 3; i++) {
		if ((sfd[i] = dir_open(mfd, subs[i], &made_sub)) == -1) {
			snprintf(what, whatlen, "maildir %s/%s", mailbox, subs[i]);
			goto fail;
		}
	}
	/* make the new directories themselves durable */
	if (made_sub && fsync(mfd) == -1)
		goto fail;
	if (made_box && fsync(c->root_fd) == -1) {
		snprintf(what, whatlen, "mail_dir");
		goto fail;
	}
	if (made_box)
		log_info("created maildir %s", mailbox);
	close(mfd);
	m = &c->md[c->nmd++];
	strlcpy(m->name, mailbox, sizeof(m->name));
	m->tmp_fd = sfd[0];
	m->new_fd = sfd[1];
	m->cur_fd = sfd[2];	/* searched for earlier copies */
	m->linked = 0;
	return m;
fail:
	e = errno;
	for (i = 0; i < 3; i++)
		if (sfd[i] >= 0)
			close(sfd[i]);
	close(mfd);
	errno = e;
	return NULL;
}

void
maildir_close_all(struct local_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nmd; i++)
		md_close(&c->md[i]);
	c->nmd = 0;
}
