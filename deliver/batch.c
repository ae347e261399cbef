/*
 * batch.c - deliver a batch of requests into Maildirs (kurir-local, mail
 * user, chrooted to mail_dir).
 *
 * Requests that arrived together are made durable together:
 *   1. for each: check the queue entry, refuse a Delivered-To loop, then
 *      write "Return-Path:", "Delivered-To:" and the message bytes (LF
 *      line ends, as the queue stores them; otherwise byte-exact) to a
 *      fresh name in <mailbox>/tmp/ (O_EXCL, 0600) and fdatasync it -
 *      or, for two or more on mail_dir's filesystem where fs_group_sync
 *      allows it, one syncfs for them all;
 *   2. for each written one: link tmp/NAME to new/NAME (a fresh name on
 *      EEXIST), then unlink tmp/NAME - link then unlink rather than
 *      rename, as qmail does, so that NFS never loses the file;
 *   3. fsync each distinct new/ directory once;
 * and only then are the answers sent.  A crash before 3 completes loses
 * no mail: kurir-send got no answer and delivers again, which is the one
 * window for a duplicate.  A failed request leaves no file behind.
 *
 * Answers: LP_OK "2.0.0 delivered to maildir as NAME"; LP_TEMP 4.2.2
 * (ENOSPC, EDQUOT), 4.2.0 (EACCES, EPERM, EROFS), 4.3.0 (anything else,
 * a symlink in the Maildir, a queue entry shorter than announced);
 * LP_PERM 5.3.5 (malformed request), 5.4.6 (Delivered-To loop).
 */
#include <sys/stat.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hdr.h"
#include "local.h"
#include "localproto.h"
#include "log.h"

_Static_assert(sizeof(off_t) >= 8, "offsets in queue entries need 64 bits");

static void
status_set(struct delivery *d, uint16_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
status_set(struct delivery *d, uint16_t status, const char *fmt, ...)
{
	va_list ap;

	d->status = status;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
}

/* A temporary failure from a system call on what (errno err). */
static void
status_sys(struct delivery *d, const char *what, int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		status_set(d, LP_TEMP, "4.2.2 mailbox full or disk full");
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		status_set(d, LP_TEMP, "4.2.0 %s: %s", what, strerror(err));
		break;
	case ELOOP:
		status_set(d, LP_TEMP, "4.3.0 mailbox is a symlink, refusing: "
		    "%s", what);
		break;
	case ENOTDIR:
		status_set(d, LP_TEMP, "4.3.0 mailbox is not a directory: %s",
		    what);
		break;
	default:
		status_set(d, LP_TEMP, "4.3.0 %s: %s", what, strerror(err));
		break;
	}
}

void
delivery_init(struct delivery *d, uint32_t id, const void *payload,
    size_t len, int qfd)
{
	const char *why;

	memset(d, 0, sizeof(*d));
	d->id = id;
	d->qfd = qfd;
	d->wfd = -1;
	if (len > sizeof(d->payload)) {
		status_set(d, LP_PERM, "5.3.5 malformed delivery request: "
		    "too long");
		return;
	}
	memcpy(d->payload, payload, len);
	if (local_req_parse(d->payload, len, &d->req, &why) == -1)
		status_set(d, LP_PERM, "5.3.5 malformed delivery request: %s",
		    why);
	else if (qfd < 0)
		status_set(d, LP_PERM, "5.3.5 malformed delivery request: no "
		    "queue file descriptor");
}

/* pread exactly n bytes: 0, or -1 (errno; 0 for a short file) */
static int
read_at(int fd, char *p, size_t n, off_t off)
{
	ssize_t r;

	while (n > 0) {
		r = pread(fd, p, n, off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static int
write_full(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Does the header section in msg already hold "Delivered-To: rcpt"
 * (any case, with or without angle brackets)?  Only the first
 * LOCAL_SCAN_MAX bytes are searched; trace fields are at the top.
 */
static int
loop_found(struct local_ctx *c, const char *msg, size_t len,
    const char *rcpt)
{
	struct hdr_iter it;
	struct hdr_field f;
	const char *v;
	size_t n;

	hdr_iter_init(&it, msg, len);
	while (hdr_iter_next(&it, &f) == 1) {
		if (!hdr_name_is(&f, "Delivered-To"))
			continue;
		buf_reset(&c->field);
		if (hdr_value_unfold(&f, &c->field) == -1)
			continue;	/* longer than any address we take */
		v = c->field.data;
		n = c->field.len;
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
			v++;
			n -= 2;
		}
		if (n == strlen(rcpt) && strncasecmp(v, rcpt, n) == 0)
			return 1;
	}
	return 0;
}

/* The queue entry could not be read: errno e, 0 if it was short. */
static void
status_queue(struct delivery *d, int e)
{
	if (e != 0)
		status_sys(d, "reading the queue file", e);
	else
		status_set(d, LP_TEMP, "4.3.0 queue file is shorter than the "
		    "message");
}

/*
 * Phase 1 for one request: the file in tmp/, written and fdatasync'd,
 * or (group_round) written and left open for deliver_sync.
 */
static void
deliver_write(struct local_ctx *c, struct delivery *d)
{
	const struct local_req *r = &d->req;
	struct stat st;
	char what[LOCAL_MBOX_MAX + 64];
	char head[2 * LOCAL_ADDR_MAX + 64];
	size_t scan, chunk = 0;
	long long done;
	int fd = -1, tries, n, e, rd = 0;

	if (fstat(d->qfd, &st) == -1) {
		status_sys(d, "queue file", errno);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		status_set(d, LP_PERM, "5.3.5 malformed delivery request: "
		    "the queue descriptor is not a file");
		return;
	}
	if (st.st_size < r->offset + r->size) {
		status_queue(d, 0);
		return;
	}
	scan = r->size < LOCAL_SCAN_MAX ? (size_t)r->size : LOCAL_SCAN_MAX;
	if (read_at(d->qfd, c->chunk, scan, (off_t)r->offset) == -1) {
		status_queue(d, errno);
		return;
	}
	if (loop_found(c, c->chunk, scan, r->rcpt)) {
		status_set(d, LP_PERM, "5.4.6 mail forwarding loop for %s",
		    r->rcpt);
		return;
	}
	if ((d->md = maildir_get(c, r->mailbox, what, sizeof(what))) == NULL) {
		status_sys(d, what, errno);
		return;
	}
	if (r->check && r->tag != NULL &&
	    maildir_find_tag(d->md, r->tag, d->newname, sizeof(d->newname)) == 1) {
		/* made before a crash; only its answer was lost */
		status_set(d, LP_OK, "2.0.0 delivered to maildir as %s "
		    "(found)", d->newname);
		log_info("%s: copy %s already in maildir %s", r->tag,
		    d->newname, r->mailbox);
		d->md = NULL;
		return;
	}
	for (tries = 0; fd == -1 && tries < LOCAL_NAME_TRIES; tries++) {
		maildir_uniq(c, r->tag, d->tmpname, sizeof(d->tmpname));
		fd = openat(d->md->tmp_fd, d->tmpname, O_WRONLY | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		e = errno;
		snprintf(what, sizeof(what), "creating a file in %s/tmp",
		    r->mailbox);
		d->tmpname[0] = '\0';
		status_sys(d, what, e);
		return;
	}
	n = snprintf(head, sizeof(head), "Return-Path: <%s>\nDelivered-To: "
	    "%s\n", r->sender, r->rcpt);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		errno = ENAMETOOLONG;	/* the parser keeps this from happening */
		goto fail;
	}
	if (write_full(fd, head, (size_t)n) == -1 ||
	    write_full(fd, c->chunk, scan) == -1)
		goto fail;
	for (done = (long long)scan; done < r->size; done += (long long)chunk) {
		chunk = r->size - done < LOCAL_SCAN_MAX ?
		    (size_t)(r->size - done) : LOCAL_SCAN_MAX;
		if (read_at(d->qfd, c->chunk, chunk, (off_t)(r->offset + done))
		    == -1) {
			rd = 1;
			goto fail;
		}
		if (write_full(fd, c->chunk, chunk) == -1)
			goto fail;
	}
	/* on mail_dir's own filesystem the batch's one syncfs covers it */
	if (c->group_round && fstat(fd, &st) == 0 && st.st_dev == c->root_dev) {
		d->wfd = fd;
		return;
	}
	if (fdatasync(fd) == -1)
		goto fail;
	/* on NFS, close is where a write error may show */
	n = close(fd);
	fd = -1;
	if (n == -1)
		goto fail;
	return;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	snprintf(what, sizeof(what), "writing to %s/tmp", r->mailbox);
	unlinkat(d->md->tmp_fd, d->tmpname, 0);
	d->tmpname[0] = '\0';
	if (rd)
		status_queue(d, e);
	else
		status_sys(d, what, e);
}

/* After a failed link: did it happen anyway (a lost NFS reply)? */
static int
link_happened(const struct maildir *m, const char *tmp, const char *new)
{
	struct stat a, b;

	return fstatat(m->tmp_fd, tmp, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(m->new_fd, new, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Phase 2 for one request: tmp/NAME linked into new/, then unlinked. */
static void
deliver_link(struct local_ctx *c, struct delivery *d)
{
	struct maildir *m = d->md;
	char what[LOCAL_MBOX_MAX + 64];
	int tries, e;

	strlcpy(d->newname, d->tmpname, sizeof(d->newname));
	for (tries = 1; ; tries++) {
		if (linkat(m->tmp_fd, d->tmpname, m->new_fd, d->newname, 0) == 0)
			break;
		e = errno;
		if (link_happened(m, d->tmpname, d->newname))
			break;
		if (e != EEXIST || tries == LOCAL_NAME_TRIES) {
			snprintf(what, sizeof(what), "linking into %s/new",
			    m->name);
			unlinkat(m->tmp_fd, d->tmpname, 0);
			d->tmpname[0] = d->newname[0] = '\0';
			status_sys(d, what, e);
			return;
		}
		maildir_uniq(c, d->req.tag, d->newname, sizeof(d->newname));
	}
	if (unlinkat(m->tmp_fd, d->tmpname, 0) == -1)
		log_warn("%s: unlinking tmp/%s", m->name, d->tmpname);
	d->tmpname[0] = '\0';
	m->linked++;
}

int
local_peer_gone(const struct local_ctx *c)
{
	struct pollfd p;

	if (c->peer_fd < 0)
		return 0;
	/*
	 * POLLHUP shows the hang-up even while requests remain unread: a
	 * UNIX socket whose peer closed is shut both ways.  (A peer that only
	 * shut its writing side, POLLRDHUP alone, still reads the answers.)
	 */
	p.fd = c->peer_fd;
	p.events = 0;
	p.revents = 0;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

/*
 * Phase 1, end: the files whose sync was deferred made durable by one
 * syncfs of mail_dir's filesystem (an fdatasync each if that fails).
 */
static void
deliver_sync(struct local_ctx *c, struct delivery *v, size_t n)
{
	struct delivery *d;
	size_t i;
	int all, e;

	if (!c->group_round)
		return;
	all = syncfs(c->root_fd) == 0;
	for (i = 0; i < n; i++) {
		d = &v[i];
		if (d->wfd < 0)
			continue;
		e = (!all && fdatasync(d->wfd) == -1) ? errno : 0;
		if (close(d->wfd) == -1 && e == 0)
			e = errno;
		d->wfd = -1;
		if (e != 0) {
			unlinkat(d->md->tmp_fd, d->tmpname, 0);
			d->tmpname[0] = '\0';
			status_sys(d, "syncing the maildir", e);
		}
	}
}

void
local_batch_run(struct local_ctx *c, struct delivery *v, size_t n)
{
	struct delivery *d;
	size_t i, j;
	int e;

	/* 1: every file written and on disk (one syncfs for two or more) */
	c->group_round = c->group_sync && n >= 2;
	for (i = 0; i < n; i++) {
		d = &v[i];
		if (d->status == 0)
			deliver_write(c, d);
		if (d->qfd >= 0)
			close(d->qfd);
		d->qfd = -1;
	}
	deliver_sync(c, v, n);
	/* kurir-send died meanwhile: take the files back rather than make
	 * copies whose results no one records (they come again) */
	if (local_peer_gone(c))
		for (i = 0; i < n; i++) {
			d = &v[i];
			if (d->status != 0)
				continue;
			unlinkat(d->md->tmp_fd, d->tmpname, 0);
			status_set(d, LP_TEMP, "4.3.0 kurir-send went away");
		}
	/* 2: every file in new/ */
	for (i = 0; i < n; i++)
		if (v[i].status == 0)
			deliver_link(c, &v[i]);
	/* 3: each new/ directory on disk, once */
	for (j = 0; j < c->nmd; j++) {
		if (c->md[j].linked == 0 || fsync(c->md[j].new_fd) == 0)
			continue;
		e = errno;
		log_warn("%s: fsync new/", c->md[j].name);
		/* not durable: take them back; kurir-send will retry */
		for (i = 0; i < n; i++) {
			d = &v[i];
			if (d->status != 0 || d->md != &c->md[j])
				continue;
			unlinkat(d->md->new_fd, d->newname, 0);
			status_sys(d, "syncing the maildir", e);
		}
	}
	for (i = 0; i < n; i++) {
		d = &v[i];
		if (d->status == 0) {
			status_set(d, LP_OK, "2.0.0 delivered to maildir as %s",
			    d->newname);
			log_info("delivered to maildir %s as %s (size %lld)",
			    d->req.mailbox, d->newname, d->req.size);
		} else if (d->status == LP_OK)
			;	/* an earlier copy was found: logged then */
		else if (d->req.mailbox != NULL)
			log_warnx("delivery to maildir %s for <%s> failed: %s",
			    d->req.mailbox, d->req.rcpt, d->text);
		else
			log_warnx("delivery request %u refused: %s", d->id,
			    d->text);
		d->md = NULL;
	}
	maildir_close_all(c);
}
