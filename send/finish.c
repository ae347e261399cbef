/*
 * finish.c - the end of a round: what each result means for the entry.
 *
 * Deferred recipients get their next try on the backoff (retry_min,
 * doubling, at most retry_max); once queue_lifetime has passed since
 * arrival a deferral is a failure (4.4.7).  Failures are reported to the
 * sender in one RFC 3464 bounce per round, queued through kurir-queue
 * before the failure is recorded (so a crash repeats the attempt rather
 * than lose the bounce).  Mail with the null sender is never bounced: a
 * notice goes to postmaster instead, once; a notice that fails is logged
 * and dropped.
 *
 * Then the round joins the commit list.  One commit round (after all
 * ready I/O of this loop turn) writes the state lines of every entry
 * that still has work (each file fdatasync'd), removes every finished
 * entry (msg/ then state/), and fsyncs msg/ once for all the removals.
 * The window for a duplicate: kurir-local has made a copy durable and we
 * crash before its removal or state line is durable; that copy is made
 * again at restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dsn.h"
#include "log.h"
#include "qproto.h"
#include "send.h"

long long
backoff(const struct conf *c, unsigned attempts)
{
	long long d = c->retry_min > 0 ? c->retry_min : 1;

	while (attempts-- > 1 && d < c->retry_max)
		d *= 2;
	return d < c->retry_max ? d : c->retry_max;
}

static const char *
job_relay(const struct job *j)
{
	switch (j->kind) {
	case JOB_LOCAL:		return "local";
	case JOB_REMOTE:	return "remote";
	default:		return "none";
	}
}

static void
job_log(const struct round *r, const struct job *j, const char *status)
{
	const char *rcpt = r->env.rcpts[j->rcpt].addr;
	int orig = j->addr != NULL && strcmp(j->addr, rcpt) != 0;

	log_info("%s: to=<%s>%s%s%s, relay=%s, delay=%llds, status=%s (%s)",
	    r->e->qid, j->addr ? j->addr : rcpt, orig ? ", orig_to=<" : "",
	    orig ? rcpt : "", orig ? ">" : "", job_relay(j),
	    r->now - r->env.arrival, status, j->text);
}

/* Deferrals past queue_lifetime fail; returns how many jobs failed. */
static size_t
round_expire(struct round *r)
{
	struct job *j;
	char text[JOB_TEXT_MAX + 64];
	size_t i, nfail = 0;
	int expired = r->now - r->env.arrival >= S.conf.queue_lifetime;

	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		if (j->replaced)
			continue;
		if (expired && (j->result == QS_DEFERRED || j->not_tried)) {
			snprintf(text, sizeof(text), "4.4.7 delivery time "
			    "expired; last error: %s", j->text);
			strlcpy(j->text, text, sizeof(j->text));
			j->result = QS_FAILED;
			j->not_tried = 0;
		}
		if (j->result == QS_FAILED)
			nfail++;
	}
	return nfail;
}

/* The address notices go to: postmaster in our first local domain. */
static void
postmaster_addr(char *out, size_t len)
{
	snprintf(out, len, "postmaster@%s", S.conf.local_domains.n > 0 ?
	    S.conf.local_domains.v[0] : S.conf.hostname);
}

/* The DSN about this round's failures (or, kind DSN_DELAYED, its
 * deferrals), queued on the link to kurir-queue. */
static int
bounce_send(struct round *r, size_t nfail, enum dsn_kind kind)
{
	int notice = kind == DSN_NOTICE;
	enum qstate which = kind == DSN_DELAYED ? QS_DEFERRED : QS_FAILED;
	struct dsn d;
	struct dsn_rcpt *dr;
	struct buf msg;
	struct req *q;
	char to[ADDR_TEXT_MAX + 16], *hdr = NULL;
	const char *origin = notice ? "origin=notice" : "origin=bounce";
	ssize_t hn = 0;
	size_t i, k = 0, off;
	int ok = 0;

	if (!slink_up(&S.queue) ||
	    (dr = calloc(nfail, sizeof(*dr))) == NULL)
		return -1;
	for (i = 0; i < r->njobs && k < nfail; i++) {
		const struct job *j = &r->jobs[i];
		const char *rcpt = r->env.rcpts[j->rcpt].addr;

		if (j->replaced || j->dup_of != 0 || j->result != which ||
		    j->not_tried)
			continue;
		dr[k].final = j->addr ? j->addr : rcpt;
		dr[k].original = rcpt;
		dr[k].diag = j->text;
		dr[k].remote_mta = j->mta;
		dr[k].last_attempt = r->now;
		k++;
	}
	/* the original header, for the third part */
	if ((hdr = malloc(DSN_HDR_MAX)) != NULL) {
		size_t want = r->env.size < DSN_HDR_MAX ? r->env.size :
		    DSN_HDR_MAX;
		while ((hn = pread(r->fd, hdr, want, (off_t)r->env.body_off)) ==
		    -1 && errno == EINTR)
			;
		if (hn < 0)
			hn = 0;
	}
	if (notice)
		postmaster_addr(to, sizeof(to));
	else
		strlcpy(to, r->env.sender, sizeof(to));
	memset(&d, 0, sizeof(d));
	d.kind = kind;
	if (kind == DSN_DELAYED)
		d.retry_until = r->env.arrival + S.conf.queue_lifetime;
	d.hostname = S.conf.hostname;
	d.qid = r->e->qid;
	d.sender = to;
	d.arrival = r->env.arrival;
	d.now = r->now;
	d.rcpts = dr;
	d.nrcpts = k;
	d.orig_hdr = hdr;
	d.orig_hdr_len = hdr ? dsn_header_len(hdr, (size_t)hn, DSN_HDR_MAX) : 0;
	buf_init(&msg, 0);
	if (dsn_format(&msg, &d) == -1 ||
	    (q = req_new(REQ_BOUNCE, r, 0)) == NULL)
		goto out;
	ok = slink_send(&S.queue, QP_MAIL, q->id, "", 0, -1) == 0 &&
	    slink_send(&S.queue, QP_RCPT, q->id, to, strlen(to), -1) == 0 &&
	    slink_send(&S.queue, QP_CLIENT, q->id, origin, strlen(origin),
	    -1) == 0;
	for (off = 0; ok && off < msg.len; off += FRAME_MAX)
		ok = slink_send(&S.queue, QP_DATA, q->id, msg.data + off,
		    msg.len - off < FRAME_MAX ? msg.len - off : FRAME_MAX,
		    -1) == 0;
	if (ok && slink_send(&S.queue, QP_COMMIT, q->id, NULL, 0, -1) == 0) {
		r->bounce_out = 1;
		r->warning_out = kind == DSN_DELAYED;
		log_info("%s: sending %s to <%s> about %zu recipient%s",
		    r->e->qid, notice ? "a postmaster notice" : kind ==
		    DSN_DELAYED ? "a delay warning" : "a bounce", to,
		    k, k == 1 ? "" : "s");
	} else {
		/* a half-sent transaction is abandoned on the queue side */
		slink_send(&S.queue, QP_ABORT, q->id, NULL, 0, -1);
		req_drop(q);
		ok = 0;
	}
out:
	buf_free(&msg);
	free(hdr);
	free(dr);
	return ok ? 0 : -1;
}

/* The bounce could not be queued: the failures are tried again later. */
static void
failures_retry(struct round *r, const char *why)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		if (!r->jobs[i].replaced && r->jobs[i].result == QS_FAILED) {
			log_warnx("%s: to=<%s>: bounce not queued (%s); the "
			    "recipient will be tried again", r->e->qid,
			    r->jobs[i].addr ? r->jobs[i].addr :
			    r->env.rcpts[r->jobs[i].rcpt].addr, why);
			r->jobs[i].result = QS_PENDING;
			r->jobs[i].not_tried = 1;
		}
}

static void round_commit(struct round *);

/*
 * A delay warning (once per message) when recipients are still deferred
 * delay_warning after arrival; returns how many it would name, or 0.
 */
static size_t
warning_due(const struct round *r)
{
	size_t i, n = 0;

	if (S.conf.delay_warning <= 0 || r->env.warned ||
	    r->env.sender[0] == '\0' ||
	    r->now - r->env.arrival < S.conf.delay_warning)
		return 0;
	for (i = 0; i < r->njobs; i++)
		if (!r->jobs[i].replaced && r->jobs[i].dup_of == 0 &&
		    !r->jobs[i].not_tried && r->jobs[i].result == QS_DEFERRED)
			n++;
	return n;
}

void
round_finish(struct round *r)
{
	size_t nfail = round_expire(r), ndelayed;

	if (nfail == 0) {
		/* a warning that cannot be queued now is tried next round */
		if ((ndelayed = warning_due(r)) == 0 ||
		    bounce_send(r, ndelayed, DSN_DELAYED) == -1)
			round_commit(r);
		return;
	}
	if (r->env.sender[0] == '\0' && r->env.client != NULL &&
	    strcmp(r->env.client, QP_CLIENT_NOTICE) == 0) {
		log_warnx("%s: a postmaster notice could not be delivered; "
		    "dropped", r->e->qid);
		round_commit(r);
		return;
	}
	if (bounce_send(r, nfail, r->env.sender[0] == '\0' ? DSN_NOTICE :
	    DSN_FAILED) == -1) {
		failures_retry(r, slink_up(&S.queue) ? "cannot make it" :
		    "no link to kurir-queue");
		round_commit(r);
	}
}

void
finish_bounce_answer(struct round *r, uint16_t type, const char *text)
{
	r->bounce_out = 0;
	if (r->warning_out) {
		r->warning_out = 0;
		if (type == QP_OK) {
			log_info("%s: delay warning queued as %s", r->e->qid,
			    text);
			qstate_format_warned(&r->lines);
		} else
			log_warnx("%s: delay warning not queued (%s)",
			    r->e->qid, text);
		round_commit(r);
		return;
	}
	if (type == QP_OK)
		log_info("%s: bounce queued as %s", r->e->qid, text);
	else if (type == QP_PERMFAIL)
		log_warnx("%s: bounce refused by the queue (%s); dropped",
		    r->e->qid, text);
	else
		failures_retry(r, text);
	round_commit(r);
}

/* State lines for recipient rc from its jobs; its state after them. */
static enum qstate
rcpt_results(struct round *r, size_t rc, long long *next, int *wait_agent)
{
	struct qrcpt *q = &r->env.rcpts[rc];
	struct job *j, *deferred = NULL, *single = NULL;
	size_t i, njobs = 0;
	int failed = 0, untried = 0;
	long long nt;
	enum qstate st;

	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		if (j->rcpt != rc || j->replaced)
			continue;
		njobs++;
		single = j;
		if (j->not_tried) {
			untried = 1;
			job_log(r, j, "waiting");
			continue;
		}
		switch (j->result) {
		case QS_DEFERRED:
			deferred = j;
			job_log(r, j, "deferred");
			break;
		case QS_FAILED:
			failed = 1;
			job_log(r, j, "bounced");
			break;
		case QS_DELIVERED:
			job_log(r, j, "sent");
			break;
		default:
			break;
		}
		if (j->key != NULL && (j->result == QS_DELIVERED ||
		    j->result == QS_FAILED))
			qstate_format(&r->lines, rc, j->key, j->result, 1, 0,
			    j->text);
	}
	if (njobs == 0)
		return q->state;	/* not due in this round */
	if (deferred != NULL) {
		nt = r->now + backoff(&S.conf, q->attempts + 1);
		qstate_format(&r->lines, rc, NULL, QS_DEFERRED, q->attempts + 1,
		    nt, deferred->text);
		if (*next == 0 || nt < *next)
			*next = nt;
		return QS_DEFERRED;
	}
	if (untried) {
		*wait_agent = 1;
		nt = r->now + AGENT_RETRY_SECS;
		if (*next == 0 || nt < *next)
			*next = nt;
		return QS_PENDING;
	}
	st = failed ? QS_FAILED : QS_DELIVERED;
	qstate_format(&r->lines, rc, NULL, st, q->attempts + 1, 0,
	    njobs == 1 ? single->text : "");
	return st;
}

static void
round_commit(struct round *r)
{
	struct qrcpt *q;
	long long next = 0;
	size_t i;
	int complete = 1, wait_agent = 0;
	enum qstate st;

	for (i = 0; i < r->env.nrcpts; i++) {
		q = &r->env.rcpts[i];
		st = rcpt_results(r, i, &next, &wait_agent);
		if (st != QS_DELIVERED && st != QS_FAILED) {
			complete = 0;
			/* deferred and not due this round: keep its time */
			if (st == QS_DEFERRED && q->next_try > r->now &&
			    (next == 0 || q->next_try < next))
				next = q->next_try;
		}
	}
	r->complete = complete;
	r->e->wait_agent = wait_agent;
	r->next = next;
	TAILQ_INSERT_TAIL(&S.commits, r, cq);
	event_active(S.ev_commit, 0, 0);
}

void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	TAILQ_HEAD(, round) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct round *r;
	int removed = 0;

	while ((r = TAILQ_FIRST(&S.commits)) != NULL) {
		TAILQ_REMOVE(&S.commits, r, cq);
		if (r->complete) {
			if (unlinkat(S.msgfd, r->e->qid, 0) == 0 ||
			    errno == ENOENT) {
				removed++;
				if (unlinkat(S.statefd, r->e->qid, 0) == -1 &&
				    errno != ENOENT)
					log_warn("%s: state/", r->e->qid);
				log_info("%s: removed", r->e->qid);
			} else {
				log_warn("%s: cannot remove msg/", r->e->qid);
				r->complete = 0;
				r->next = r->now + 60;
			}
		} else if (r->lines.len > 0 &&
		    qstate_write(S.statefd, r->e->qid, &r->lines, 1) == -1)
			/* the results are lost: the attempt is made again */
			log_warn("%s: writing state/", r->e->qid);
		TAILQ_INSERT_TAIL(&batch, r, cq);
	}
	/* one directory sync makes every removal of this round durable */
	if (removed && fsync(S.msgfd) == -1)
		log_warn("fsync msg/");
	while ((r = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, r, cq);
		sched_round_over(r->e, r->next, r->complete);
		round_free(r);
	}
	sched_pump();
	if (S.stopping && S.nrounds == 0)
		event_base_loopexit(S.base, NULL);
}
