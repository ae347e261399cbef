/*
 * link.c - kurir-queue's client connections and the protocol on them.
 *
 * Runs as the queue user.  Every frame is length-checked by frame_peek
 * and type-checked here before use; a protocol violation closes the link
 * and abandons its unfinished transactions (nothing was promised yet).
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "frame.h"
#include "log.h"
#include "qproto.h"
#include "queue.h"

static void link_read_cb(evutil_socket_t, short, void *);
static void link_write_cb(evutil_socket_t, short, void *);
static void link_idle_cb(evutil_socket_t, short, void *);

static void
link_arm_idle(struct qlink *l)
{
	struct timeval tv = { l->spoke ? LINK_IDLE_TIMEOUT :
	    LINK_FIRST_TIMEOUT, 0 };

	if (l->ev_idle != NULL)
		evtimer_add(l->ev_idle, &tv);
}

/* local links of one user: one user's idle connections must not fill
 * LINK_MAX and lock every other user out of sendmail */
static unsigned
links_of_uid(long long uid)
{
	const struct qlink *l;
	unsigned n = 0;

	LIST_FOREACH(l, &Q.links, entry)
		if (!l->trusted && l->uid == uid)
			n++;
	return n;
}

struct qlink *
link_new(int fd, int trusted)
{
	struct qlink *l;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd *pw;

	/* the limit is on local clients: a trusted link is always taken */
	if (!trusted && Q.nlocal >= LINK_MAX) {
		log_warnx("too many queue clients; refusing one");
		close(fd);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return NULL;
	}
	l->fd = fd;
	l->trusted = trusted;
	l->uid = -1;
	buf_init(&l->in, 4 * (FRAME_HDR + FRAME_MAX));
	buf_init(&l->out, 0);
	LIST_INIT(&l->txns);
	if (!trusted) {
		/* the kernel, not the client, says who is submitting */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			log_warn("SO_PEERCRED");
			close(fd);
			free(l);
			return NULL;
		}
		l->uid = cred.uid;
		if (links_of_uid(l->uid) >= Q.conf.queue_max_clients_per_uid) {
			log_warnx("too many queue clients of uid %lld "
			    "(queue_max_clients_per_uid); refusing one", l->uid);
			close(fd);
			free(l);
			return NULL;
		}
		if ((pw = getpwuid(cred.uid)) != NULL)
			strlcpy(l->user, pw->pw_name, sizeof(l->user));
		l->ev_idle = evtimer_new(Q.base, link_idle_cb, l);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	l->ev_read = event_new(Q.base, fd, EV_READ | EV_PERSIST, link_read_cb, l);
	l->ev_write = event_new(Q.base, fd, EV_WRITE, link_write_cb, l);
	if (l->ev_read == NULL || l->ev_write == NULL ||
	    (!trusted && l->ev_idle == NULL)) {
		log_warnx("out of memory for a queue client");
		link_close(l);
		return NULL;
	}
	event_add(l->ev_read, NULL);
	link_arm_idle(l);
	LIST_INSERT_HEAD(&Q.links, l, entry);
	Q.nlinks++;
	if (!trusted)
		Q.nlocal++;
	return l;
}

void
link_close(struct qlink *l)
{
	struct txn *t;

	while ((t = LIST_FIRST(&l->txns)) != NULL) {
		LIST_REMOVE(t, entry);
		t->link = NULL;
		/* a commit in progress finishes; its answer has nowhere to go */
		if (!t->committing)
			txn_free(t);
	}
	if (l->ev_read) {
		event_free(l->ev_read);
		Q.nlinks--;
		if (!l->trusted)
			Q.nlocal--;
		LIST_REMOVE(l, entry);
	}
	if (l->ev_write)
		event_free(l->ev_write);
	if (l->ev_idle)
		event_free(l->ev_idle);
	close(l->fd);
	buf_free(&l->in);
	buf_free(&l->out);
	free(l);
}

static void
link_flush(struct qlink *l)
{
	int r = buf_send(l->fd, &l->out);

	if (r == 1)
		event_add(l->ev_write, NULL);
	else if (r == -1)
		l->out.len = 0;	/* peer gone; the read side will see EOF */
}

void
link_reply(struct qlink *l, uint16_t type, uint32_t id, const char *text)
{
	if (frame_pack(&l->out, type, id, text, strlen(text)) == -1) {
		log_warn("queue reply");
		return;
	}
	link_flush(l);
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	link_flush(arg);
}

static void
link_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlink *l = arg;

	log_info("queue client uid %lld idle too long; closing", l->uid);
	link_close(l);
}

static struct txn *
txn_find(struct qlink *l, uint32_t id)
{
	struct txn *t;

	LIST_FOREACH(t, &l->txns, entry)
		if (t->id == id)
			return t;
	return NULL;
}

/* NUL-terminated copy of a frame payload; refuses embedded NULs */
static char *
frame_str(const struct frame *f, size_t max)
{
	char *s;

	if (f->len > max || memchr(f->data, '\0', f->len) != NULL)
		return NULL;
	if ((s = malloc(f->len + 1)) == NULL)
		return NULL;
	memcpy(s, f->data, f->len);
	s[f->len] = '\0';
	return s;
}

static void
txn_fail(struct txn *t, int code, const char *reason)
{
	if (t->fail)
		return;
	t->fail = code;
	strlcpy(t->reason, reason, sizeof(t->reason));
}

static int
txn_begin(struct qlink *l, const struct frame *f)
{
	struct txn *t;
	struct addr a;
	const char *why;

	if (txn_find(l, f->id) != NULL ||
	    l->ntxns >= (l->trusted ? LINK_TXN_MAX_TRUSTED : LINK_TXN_MAX_LOCAL))
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->id = f->id;
	t->link = l;
	t->fd = -1;
	hops_init(&t->hops);
	t->arrival = (long long)time(NULL);
	qid_new(t->qid);
	LIST_INSERT_HEAD(&l->txns, t, entry);
	l->ntxns++;
	/* below the reserve no new mail: what is queued can still be
	 * written, bounced (kurir-send's link is not held to it) and
	 * retried (RFC 3463 4.3.1) */
	if (!l->sender && store_space_low())
		txn_fail(t, 4, "4.3.1 Insufficient system storage");
	if ((t->sender = frame_str(f, ADDR_TEXT_MAX)) == NULL)
		txn_fail(t, 5, "5.1.7 bad sender address");
	else if (t->sender[0] != '\0' &&
	    addr_parse(t->sender, ADDR_ALLOW_UTF8, &a, &why) == -1) {
		char r[160];
		snprintf(r, sizeof(r), "5.1.7 bad sender address: %s", why);
		txn_fail(t, 5, r);
	}
	return 0;
}

static void
txn_rcpt(struct txn *t, const struct frame *f)
{
	struct addr a;
	const char *why;
	char *s, **nr;

	if (t->fail)
		return;
	if (t->nrcpts >= QFILE_MAX_RCPTS) {
		txn_fail(t, 5, "5.5.3 too many recipients");
		return;
	}
	if ((s = frame_str(f, ADDR_TEXT_MAX)) == NULL ||
	    addr_parse(s, ADDR_ALLOW_UTF8, &a, &why) == -1) {
		char r[160];
		snprintf(r, sizeof(r), "5.1.3 bad recipient address %s",
		    s ? s : "");
		free(s);
		txn_fail(t, 5, r);
		return;
	}
	if (t->nrcpts == t->rcap) {
		size_t ncap = t->rcap ? t->rcap * 2 : 4;
		if ((nr = reallocarray(t->rcpts, ncap, sizeof(*nr))) == NULL) {
			free(s);
			txn_fail(t, 4, "4.3.0 out of memory");
			return;
		}
		t->rcpts = nr;
		t->rcap = ncap;
	}
	t->rcpts[t->nrcpts++] = s;
}

/*
 * QP_CLIENT from kurir-smtpd: "key=value\n" lines (helo, addr, proto,
 * tls, auth).  Each value must fit its field and be printable; they end
 * up in the Received field and the envelope.
 */
static int
txn_client(struct txn *t, const struct frame *f)
{
	struct { const char *key; char *dst; size_t size; } keys[] = {
		{ "helo", t->smtp.helo, sizeof(t->smtp.helo) },
		{ "addr", t->smtp.addr, sizeof(t->smtp.addr) },
		{ "proto", t->smtp.proto, sizeof(t->smtp.proto) },
		{ "tls", t->smtp.tls, sizeof(t->smtp.tls) },
		{ "auth", t->smtp.auth, sizeof(t->smtp.auth) },
	};
	char *info, *line, *next, *eq, buf[1400];
	size_t i;

	if ((info = frame_str(f, 1024)) == NULL)
		return -1;
	if (t->link->sender) {
		/* kurir-send says only what it submits: a bounce or a notice */
		if (strcmp(info, "origin=bounce") == 0)
			t->client = strdup(QP_CLIENT_BOUNCE);
		else if (strcmp(info, "origin=notice") == 0)
			t->client = strdup(QP_CLIENT_NOTICE);
		free(info);
		t->from_send = 1;
		return t->client != NULL ? 0 : -1;
	}
	for (line = info; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			goto bad;
		*eq++ = '\0';
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(line, keys[i].key) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]) ||
		    !qtext_valid(eq, keys[i].size - 1))
			goto bad;
		strlcpy(keys[i].dst, eq, keys[i].size);
	}
	free(info);
	snprintf(buf, sizeof(buf), "smtp [%s] helo=%s proto=%s%s%s",
	    t->smtp.addr, t->smtp.helo, t->smtp.proto,
	    t->smtp.auth[0] ? " auth=" : "", t->smtp.auth);
	if ((t->client = strdup(buf)) == NULL)
		return -1;
	return 0;
bad:
	free(info);
	return -1;
}

/*
 * Count the hops as the header passes, on every link: kurir-smtpd
 * counts too, but this is where mail from local users (kurir-sendmail)
 * and from any future client comes in, so the limit holds for all of
 * it.  Past max_hop_count the message is refused now and nothing more
 * of it is written; the answer waits for the commit.
 */
static void
txn_hops(struct txn *t, const char *p, size_t n)
{
	if (hops_header_done(&t->hops))
		return;
	hops_add(&t->hops, p, n);
	if (hops_count(&t->hops) <= Q.conf.max_hop_count)
		return;
	log_warnx("%s: refused: %u hops or more (max_hop_count %u), "
	    "from %s uid %lld", t->qid, hops_count(&t->hops),
	    Q.conf.max_hop_count, t->link->trusted ? "trusted link" : "local",
	    t->link->uid);
	txn_fail(t, 5, "5.4.6 Too many hops");
	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(Q.tmpfd, t->qid, 0);
		t->fd = -1;
	}
}

static void
txn_end(struct qlink *l, struct txn *t)
{
	LIST_REMOVE(t, entry);
	l->ntxns--;
}

/* One frame from a client.  -1: protocol violation, close the link. */
static int
link_frame(struct qlink *l, const struct frame *f)
{
	struct txn *t;

	if (f->type == QP_MAIL)
		return txn_begin(l, f);
	if ((t = txn_find(l, f->id)) == NULL)
		/* an abort may cross our answer to its commit: harmless */
		return f->type == QP_ABORT ? 0 : -1;
	switch (f->type) {
	case QP_RCPT:
		if (t->fd != -1)
			return -1;	/* the envelope was written with the first data */
		txn_rcpt(t, f);
		return 0;
	case QP_CLIENT:
		if (!l->trusted || t->client != NULL)
			return -1;
		return txn_client(t, f);
	case QP_DATA:
		if (t->fail)
			return 0;
		txn_hops(t, f->data, f->len);
		if (!t->fail)
			store_data(t, f->data, f->len);
		return 0;
	case QP_COMMIT:
		txn_end(l, t);
		if (!t->fail && t->nrcpts == 0)
			txn_fail(t, 5, "5.5.1 no valid recipients");
		if (t->fail) {
			link_reply(l, t->fail == 5 ? QP_PERMFAIL : QP_TEMPFAIL,
			    t->id, t->reason);
			txn_free(t);
			return 0;
		}
		t->link = l;
		store_commit(t);
		return 0;
	case QP_ABORT:
		txn_end(l, t);
		txn_free(t);
		return 0;
	default:
		return -1;
	}
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlink *l = arg;
	struct frame f;
	ssize_t n;
	int r;

	n = frame_fill(l->fd, &l->in);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("queue client read");
		link_close(l);
		return;
	}
	l->spoke = 1;
	link_arm_idle(l);
	while ((r = frame_peek(&l->in, &f)) == 1) {
		if (link_frame(l, &f) == -1) {
			log_warnx("queue client uid %lld broke the protocol "
			    "(frame type %u); closing", l->uid, f.type);
			link_close(l);
			return;
		}
		frame_consume(&l->in, &f);
	}
	if (r == -1) {
		log_warnx("queue client uid %lld sent a bad frame; closing",
		    l->uid);
		link_close(l);
	}
}

void
link_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* out of descriptors: pause accepting, don't spin */
			struct timeval tv = { 1, 0 };
			log_warn("accept on queue socket (pausing 1s)");
			event_del(Q.ev_listen);
			event_add(Q.ev_listen_again, &tv);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept on queue socket");
		return;
	}
	link_new(fd, 0);
}

/* kurird hands over trusted links (kurir-smtpd's end stays with it) */
void
link_control_cb(evutil_socket_t cfd, short what, void *arg)
{
	struct qlink *l;
	struct buf in;
	struct frame f;
	int r;

	buf_init(&in, FRAME_HDR + FRAME_MAX);
	r = frame_read(cfd, &in, &f);
	if (r == 1 && f.type == QP_NEWLINK && f.fd >= 0)
		link_new(f.fd, 1);
	else if (r == 1 && f.type == QP_SENDLINK && f.fd >= 0) {
		if ((l = link_new(f.fd, 1)) != NULL)
			l->sender = 1;
	} else if (r == 1) {
		if (f.fd >= 0)
			close(f.fd);
		log_warnx("unexpected control frame %u", f.type);
	} else {
		/* kurird is gone: finish what is committed and stop */
		log_info("control channel closed; stopping");
		event_del((struct event *)arg);
		Q.stopping = 1;
		event_active(Q.ev_commit, 0, 0);
	}
	buf_free(&in);
}

/* A new entry is durable: tell kurir-send, which delivers it at once. */
void
link_notify_new(const char *qid)
{
	struct qlink *l;

	LIST_FOREACH(l, &Q.links, entry)
		if (l->sender)
			link_reply(l, QP_NEWENTRY, 0, qid);
}
