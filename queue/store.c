/*
 * store.c - writing queue entries: tmp file, group commit, rename.
 *
 * Runs as the queue user.  A transaction's file is tmp/<qid>: envelope
 * records, then (for local submissions) our Received field, then the
 * message as it arrives.  At commit the size is patched in, and the
 * entry joins the commit list.  A commit round runs once all pending
 * input of this loop turn is handled: fdatasync each file, rename each
 * into msg/, one fsync of msg/ for the whole batch, then answer QP_OK.
 * So an OK always means "durable", while many messages share the cost
 * of the directory fsync.  On a filesystem where one syncfs(2) makes
 * every file on it durable (fs_group_sync: ext4, xfs, btrfs), a round of
 * two or more files takes one syncfs instead of an fdatasync each: the
 * data of the whole round in one journal commit, then the renames in
 * the commit of the msg/ fsync.  Two waits per round, not one per
 * message plus one.  A crash before the rename leaves only tmp/
 * files, which store_clean_tmp removes at the next start.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "fsutil.h"
#include "log.h"
#include "qproto.h"
#include "queue.h"
#include "setup.h"

/*
 * 1 when the queue's filesystem has less free space than queue_min_free
 * (for the queue user: f_bavail, not the blocks kept for root), else 0;
 * a failed statvfs counts as enough (the writes themselves then say).
 */
int
store_space_low(void)
{
	struct statvfs sv;
	unsigned long long avail;

	if (Q.conf.queue_min_free == 0 || fstatvfs(Q.tmpfd, &sv) == -1)
		return 0;
	if (__builtin_mul_overflow((unsigned long long)sv.f_bavail,
	    (unsigned long long)sv.f_frsize, &avail))
		return 0;
	if (avail < Q.conf.queue_min_free) {
		log_warnx("queue filesystem has %llu bytes free, below "
		    "queue_min_free (%llu): new mail is deferred", avail,
		    (unsigned long long)Q.conf.queue_min_free);
		return 1;
	}
	return 0;
}

int
store_open(void)
{
	char path[4096];

	if (queue_path(&Q.conf, "tmp", path, sizeof(path)) == -1 ||
	    (Q.tmpfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (queue_path(&Q.conf, "msg", Q.msgdir, sizeof(Q.msgdir)) == -1 ||
	    (Q.msgfd = open(Q.msgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s", Q.msgdir);
		return -1;
	}
	Q.group_sync = fs_group_sync(Q.tmpfd);
	return 0;
}

/* Only kurir-queue writes tmp/, and only one runs: all there is stale. */
void
store_clean_tmp(void)
{
	DIR *d;
	struct dirent *de;
	int fd, n = 0;

	if ((fd = dup(Q.tmpfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("cleaning tmp");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(Q.tmpfd, de->d_name, 0) == 0)
			n++;
		else
			log_warn("unlink tmp/%s", de->d_name);
	}
	closedir(d);
	if (n)
		log_info("removed %d unfinished entries from tmp", n);
}

void
txn_free(struct txn *t)
{
	size_t i;

	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(Q.tmpfd, t->qid, 0);
	}
	for (i = 0; i < t->nrcpts; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	free(t->sender);
	free(t->client);
	free(t);
}

static void
txn_tempfail(struct txn *t, const char *what)
{
	char r[160];

	log_warn("%s: %s", t->qid, what);
	snprintf(r, sizeof(r), "4.3.0 queue write failed: %s", strerror(errno));
	t->fail = 4;
	strlcpy(t->reason, r, sizeof(t->reason));
	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(Q.tmpfd, t->qid, 0);
		t->fd = -1;
	}
}

/*
 * The Received field (RFC 5321 4.4), written here for every message so
 * it can carry the queue id.  For SMTP the facts come from kurir-smtpd
 * (QP_CLIENT); for local submissions from the kernel (the peer's uid).
 */
static int
store_received(struct txn *t, struct buf *b)
{
	char date[64];
	struct tm tm;
	time_t now = (time_t)t->arrival;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (t->from_send)
		return buf_printf(b, "Received: by %s (kurir, %s) id %s;\n\t%s\n",
		    Q.conf.hostname, t->client, t->qid, date);
	if (!t->link->trusted)
		return buf_printf(b, "Received: (from %s uid %lld)\n\tby %s "
		    "(kurir) id %s%s%s%s;\n\t%s\n",
		    t->link->user[0] ? t->link->user : "unknown", t->link->uid,
		    Q.conf.hostname, t->qid, t->nrcpts == 1 ? "\n\tfor <" : "",
		    t->nrcpts == 1 ? t->rcpts[0] : "",
		    t->nrcpts == 1 ? ">" : "", date);
	if (buf_printf(b, "Received: from %s ([%s])\n", t->smtp.helo,
	    t->smtp.addr) == -1)
		return -1;
	if (t->smtp.tls[0] && buf_printf(b, "\t(using %s)\n", t->smtp.tls) == -1)
		return -1;
	if (t->smtp.auth[0] && buf_printf(b, "\t(authenticated sender)\n") == -1)
		return -1;
	return buf_printf(b, "\tby %s (kurir) with %s id %s%s%s%s;\n\t%s\n",
	    Q.conf.hostname, t->smtp.proto, t->qid,
	    t->nrcpts == 1 ? "\n\tfor <" : "", t->nrcpts == 1 ? t->rcpts[0] : "",
	    t->nrcpts == 1 ? ">" : "", date);
}

static int
store_create(struct txn *t)
{
	struct qenv e;
	struct qrcpt *r;
	struct buf b;
	char client[80];
	size_t i;
	int ok;

	if ((r = calloc(t->nrcpts ? t->nrcpts : 1, sizeof(*r))) == NULL)
		return -1;
	for (i = 0; i < t->nrcpts; i++)
		r[i].addr = t->rcpts[i];
	memset(&e, 0, sizeof(e));
	memcpy(e.id, t->qid, sizeof(e.id));
	e.arrival = t->arrival;
	e.uid = t->link->trusted ? -1 : t->link->uid;
	if (t->link->trusted)
		e.client = t->client ? t->client : "smtp";
	else {
		snprintf(client, sizeof(client), "local uid %lld", t->link->uid);
		e.client = client;
		free(t->client);
		t->client = strdup(client);	/* for the log line */
	}
	e.sender = t->sender;
	e.rcpts = r;
	e.nrcpts = t->nrcpts;
	buf_init(&b, 0);
	ok = qenv_format(&b, &e, &t->size_off) == 0 &&
	    store_received(t, &b) == 0;
	free(r);
	if (!ok) {
		buf_free(&b);
		return -1;
	}
	t->fd = openat(Q.tmpfd, t->qid, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t->fd == -1 || write_all(t->fd, b.data, b.len) == -1) {
		buf_free(&b);
		return -1;
	}
	/* the Received field is part of the message, the envelope is not */
	t->size = t->added = b.len - (t->size_off + QFILE_SIZE_DIGITS + 5);
	buf_free(&b);
	return 0;
}

int
store_data(struct txn *t, const char *p, size_t n)
{
	if (t->fd == -1 && store_create(t) == -1) {
		txn_tempfail(t, "create");
		return -1;
	}
	/* the limit is on what the client sent, not on our trace field */
	if (n > Q.conf.message_size_limit ||
	    t->size - t->added > Q.conf.message_size_limit - n) {
		t->fail = 5;
		snprintf(t->reason, sizeof(t->reason), "5.3.4 message too large "
		    "(limit %" PRIu64 " bytes)", Q.conf.message_size_limit);
		close(t->fd);
		unlinkat(Q.tmpfd, t->qid, 0);
		t->fd = -1;
		return -1;
	}
	if (write_all(t->fd, p, n) == -1) {
		txn_tempfail(t, "write");
		return -1;
	}
	t->size += n;
	return 0;
}

void
store_commit(struct txn *t)
{
	char digits[QFILE_SIZE_DIGITS + 1];

	if (t->fd == -1 && store_create(t) == -1) {
		txn_tempfail(t, "create");
		goto fail;
	}
	snprintf(digits, sizeof(digits), "%0*" PRIu64, QFILE_SIZE_DIGITS,
	    t->size);
	if (pwrite(t->fd, digits, QFILE_SIZE_DIGITS, (off_t)t->size_off) !=
	    QFILE_SIZE_DIGITS) {
		txn_tempfail(t, "pwrite");
		goto fail;
	}
	t->committing = 1;
	TAILQ_INSERT_TAIL(&Q.commits, t, centry);
	/* runs after the other ready links of this turn: one batch */
	event_active(Q.ev_commit, 0, 0);
	return;
fail:
	if (t->link)
		link_reply(t->link, QP_TEMPFAIL, t->id, t->reason);
	txn_free(t);
}

static void
store_log(const struct txn *t)
{
	log_info("%s: from=<%s>, size=%" PRIu64 ", nrcpt=%zu, client=%s (queued)",
	    t->qid, t->sender, t->size, t->nrcpts,
	    t->client ? t->client : "local");
}

void
store_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	TAILQ_HEAD(, txn) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct txn *t;
	int dirsync_ok, synced = 0, n = 0;

	/* the data of the whole round at once (else an fdatasync each) */
	TAILQ_FOREACH(t, &Q.commits, centry)
		n++;
	if (Q.group_sync && n >= 2)
		synced = syncfs(Q.tmpfd) == 0;
	n = 0;
	while ((t = TAILQ_FIRST(&Q.commits)) != NULL) {
		TAILQ_REMOVE(&Q.commits, t, centry);
		if (!synced && fdatasync(t->fd) == -1) {
			txn_tempfail(t, "fdatasync");
		} else {
			close(t->fd);
			t->fd = -1;
			if (renameat2(Q.tmpfd, t->qid, Q.msgfd, t->qid,
			    RENAME_NOREPLACE) == -1) {
				t->fd = -2;	/* tmp file still there: remove it */
				txn_tempfail(t, "rename");
				unlinkat(Q.tmpfd, t->qid, 0);
			}
		}
		TAILQ_INSERT_TAIL(&batch, t, centry);
		n++;
	}
	dirsync_ok = n == 0 || fsync(Q.msgfd) == 0;
	if (!dirsync_ok)
		log_warn("fsync %s", Q.msgdir);
	while ((t = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, t, centry);
		t->committing = 0;
		if (!t->fail && !dirsync_ok) {
			/* renamed but maybe not durable: say so; a retry may dup */
			t->fail = 4;
			strlcpy(t->reason, "4.3.0 queue directory sync failed",
			    sizeof(t->reason));
		}
		if (!t->fail) {
			store_log(t);
			link_notify_new(t->qid);
		}
		if (t->link != NULL)
			link_reply(t->link, t->fail ? QP_TEMPFAIL : QP_OK, t->id,
			    t->fail ? t->reason : t->qid);
		if (t->fd == -2)
			t->fd = -1;
		txn_free(t);
	}
	if (Q.stopping)
		event_base_loopexit(Q.base, NULL);
}
