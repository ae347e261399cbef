/*
 * round.c - one delivery round of one queue entry.
 *
 * Load msg/<id> and its state log; every recipient that is pending, or
 * deferred and due, becomes a job.  A recipient in a local domain is
 * resolved by kurir-auth (AP_RESOLVE: aliases to final targets); each
 * final local target is a JOB_LOCAL, handed to kurir-local with the
 * entry's descriptor.  Targets that an earlier round finished (their
 * key is in the state log) are skipped, so a retry never delivers a
 * second copy to a target that has one.  When every job has its result
 * the round goes to finish.c.
 *
 * Requests are matched to answers by frame id (struct req); a link that
 * goes down turns its requests into "not tried" jobs, which make the
 * entry due again as soon as the link is back.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "authproto.h"
#include "localproto.h"
#include "log.h"
#include "qproto.h"
#include "send.h"

int
req_cmp(struct req *a, struct req *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(req_tree, req, node, req_cmp);

struct req *
req_new(enum req_kind kind, struct round *r, size_t job)
{
	struct req *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	do
		q->id = ++S.next_req;
	while (q->id == 0 || RB_FIND(req_tree, &S.reqs, q) != NULL);
	q->kind = kind;
	q->r = r;
	q->job = job;
	RB_INSERT(req_tree, &S.reqs, q);
	r->waiting++;
	return q;
}

/* Take the request an answer belongs to; NULL if none of that kind. */
static struct req *
req_take(uint32_t id, enum req_kind kind)
{
	struct req key, *q;

	key.id = id;
	if ((q = RB_FIND(req_tree, &S.reqs, &key)) == NULL || q->kind != kind)
		return NULL;
	RB_REMOVE(req_tree, &S.reqs, q);
	q->r->waiting--;
	return q;
}

void
req_free(struct req *q)
{
	free(q->jobs);
	free(q);
}

void
req_drop(struct req *q)
{
	RB_REMOVE(req_tree, &S.reqs, q);
	q->r->waiting--;
	req_free(q);
}

void
round_free(struct round *r)
{
	size_t i;

	for (i = 0; i < r->njobs; i++) {
		free(r->jobs[i].key);
		free(r->jobs[i].addr);
		free(r->jobs[i].mailbox);
		free(r->jobs[i].mta);
	}
	free(r->jobs);
	if (r->fd >= 0)
		close(r->fd);
	qenv_free(&r->env);
	buf_free(&r->lines);
	free(r);
}

static size_t
job_add(struct round *r, size_t rcpt, enum job_kind kind)
{
	struct job *nj, *j;
	size_t cap;

	if (r->njobs == r->jcap) {
		cap = r->jcap ? r->jcap * 2 : 8;
		if ((nj = reallocarray(r->jobs, cap, sizeof(*nj))) == NULL)
			return (size_t)-1;
		r->jobs = nj;
		r->jcap = cap;
	}
	j = &r->jobs[r->njobs];
	memset(j, 0, sizeof(*j));
	j->rcpt = rcpt;
	j->kind = kind;
	j->result = QS_PENDING;
	return r->njobs++;
}

/* Is the round over?  Then its results go on (once). */
void
round_check(struct round *r)
{
	struct job *j, *o;
	size_t i;

	if (r->done || r->waiting > 0)
		return;
	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		if (j->dup_of != 0) {
			/* the same target: its copy is this one's too */
			o = &r->jobs[j->dup_of - 1];
			j->result = o->result;
			j->not_tried = o->not_tried;
			strlcpy(j->text, o->text, sizeof(j->text));
		}
		if (j->result == QS_PENDING && !j->not_tried)
			return;
	}
	r->done = 1;
	round_finish(r);
}

void
job_done(struct round *r, size_t i, enum qstate st, const char *text)
{
	struct job *j = &r->jobs[i];

	j->result = st;
	j->asked = 0;
	strlcpy(j->text, text, sizeof(j->text));
}

/* No agent could be asked: no attempt, the entry is due when one is up. */
void
job_not_tried(struct round *r, size_t i, const char *why)
{
	struct job *j = &r->jobs[i];

	j->not_tried = 1;
	j->asked = 0;
	j->result = QS_PENDING;
	strlcpy(j->text, why, sizeof(j->text));
}

/* The domain part of a canonical address, "" if none. */
static const char *
addr_domain(const char *a)
{
	const char *at = strrchr(a, '@');

	return at ? at + 1 : "";
}

static void
job_local_send(struct round *r, size_t i)
{
	struct job *j = &r->jobs[i];
	struct buf p;
	struct req *q;
	int ok;

	buf_init(&p, FRAME_MAX);
	ok = buf_printf(&p, "%zu", r->env.body_off) == 0 &&
	    buf_addch(&p, '\0') == 0 &&
	    buf_printf(&p, "%llu", (unsigned long long)r->env.size) == 0 &&
	    buf_addch(&p, '\0') == 0 &&
	    buf_add(&p, j->mailbox, strlen(j->mailbox) + 1) == 0 &&
	    buf_add(&p, r->env.sender, strlen(r->env.sender) + 1) == 0 &&
	    buf_add(&p, j->addr, strlen(j->addr) + 1) == 0 &&
	    /* the tag names this copy in the Maildir, so that after a crash
	     * kurir-local can tell whether it was made */
	    buf_printf(&p, "%s%s-%zu", r->e->check ? "!" : "", r->e->qid,
	    j->rcpt) == 0 && buf_addch(&p, '\0') == 0;
	if (!ok) {
		buf_free(&p);
		job_done(r, i, QS_DEFERRED, "4.3.0 request too large");
		return;
	}
	if (!slink_up(&S.local) ||
	    (q = req_new(REQ_LOCAL, r, i)) == NULL) {
		buf_free(&p);
		job_not_tried(r, i, "4.3.0 local delivery agent not running");
		return;
	}
	if (slink_send(&S.local, LP_DELIVER, q->id, p.data, p.len, r->fd) == -1) {
		req_drop(q);
		job_not_tried(r, i, "4.3.0 local delivery agent not reachable");
	} else
		j->asked = 1;
	buf_free(&p);
}


/* An earlier job of the round with the same final target, or 0. */
static size_t
job_same(const struct round *r, size_t i)
{
	const struct job *j = &r->jobs[i], *o;
	size_t k;

	if (j->kind != JOB_LOCAL && j->kind != JOB_REMOTE)
		return 0;
	for (k = 0; k < i; k++) {
		o = &r->jobs[k];
		if (o->kind != j->kind || o->replaced || o->dup_of != 0)
			continue;
		/* a local copy is per mailbox, a remote one per address */
		if (j->kind == JOB_LOCAL ? o->mailbox != NULL &&
		    j->mailbox != NULL && strcmp(o->mailbox, j->mailbox) == 0 :
		    o->addr != NULL && j->addr != NULL &&
		    strcasecmp(o->addr, j->addr) == 0)
			return k + 1;
	}
	return 0;
}

/* Start the job: ask whoever does it. */
static void
job_run(struct round *r, size_t i)
{
	struct job *j = &r->jobs[i];
	const char *at;
	struct req *q;

	/* alice@ and an alias that includes alice: one copy */
	if ((j->dup_of = job_same(r, i)) != 0)
		return;

	switch (j->kind) {
	case JOB_RESOLVE:
		/* the canonical local part: the recipient up to its last '@' */
		at = strrchr(j->addr, '@');
		if (!slink_up(&S.auth) ||
		    (q = req_new(REQ_RESOLVE, r, i)) == NULL) {
			job_not_tried(r, i, "4.3.0 address lookup not running");
			return;
		}
		if (slink_send(&S.auth, AP_RESOLVE, q->id, j->addr,
		    at ? (size_t)(at - j->addr) : strlen(j->addr), -1) == -1) {
			req_drop(q);
			job_not_tried(r, i, "4.3.0 address lookup not reachable");
		} else
			j->asked = 1;
		return;
	case JOB_LOCAL:
		job_local_send(r, i);
		return;
	case JOB_REMOTE:
		/* gathered per domain by remote_dispatch */
		j->ready = 1;
		return;
	case JOB_FAIL:
		return;		/* its result is set already */
	}
}

/* Is the domain ours?  The hostname is, as for Postfix's mydestination. */
static int
domain_local(const char *d)
{
	return d[0] == '\0' || conf_is_local_domain(&S.conf, d) ||
	    strcasecmp(d, S.conf.hostname) == 0;
}

/* A recipient due in this round becomes its first job. */
static void
rcpt_job(struct round *r, size_t rcpt)
{
	const char *addr = r->env.rcpts[rcpt].addr, *why;
	struct addr a;
	char text[ADDR_TEXT_MAX];
	size_t i;

	if (addr_parse(addr, ADDR_ALLOW_NODOMAIN | ADDR_ALLOW_POSTMASTER |
	    ADDR_ALLOW_UTF8, &a, &why) == -1 ||
	    addr_format(&a, text, sizeof(text)) == -1) {
		if ((i = job_add(r, rcpt, JOB_FAIL)) == (size_t)-1)
			return;
		r->jobs[i].addr = strdup(addr);
		snprintf(r->jobs[i].text, sizeof(r->jobs[i].text),
		    "5.1.3 bad recipient address syntax (%s)", why);
		r->jobs[i].result = QS_FAILED;
		return;
	}
	if ((i = job_add(r, rcpt, domain_local(a.domain) ? JOB_RESOLVE :
	    JOB_REMOTE)) == (size_t)-1)
		return;
	if ((r->jobs[i].addr = strdup(text)) == NULL) {
		r->njobs--;
		return;
	}
}

/*
 * Load the entry.  -1: nothing to do now (gone, quarantined, or an
 * error that a later round may not have); the caller ends the round.
 */
static int
round_load(struct round *r, long long *next)
{
	struct entry *e = r->e;
	const char *why = NULL;
	int saved;

	errno = 0;
	if ((r->fd = qenv_open(S.msgfd, e->qid, &r->env, &why)) >= 0) {
		if (qstate_apply(S.statefd, &r->env) == 0)
			return 0;
		log_warn("%s: reading its state log", e->qid);
		*next = r->now + AGENT_RETRY_SECS * 12;
		return -1;
	}
	saved = errno;
	if (faccessat(S.msgfd, e->qid, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
	    errno == ENOENT) {
		*next = -2;		/* deleted (kurirctl delete): forget it */
		return -1;
	}
	if (saved == EMFILE || saved == ENFILE || saved == ENOMEM ||
	    saved == EIO || saved == EINTR || saved == EAGAIN) {
		log_warnx("%s: cannot read it now: %s", e->qid, why);
		*next = r->now + AGENT_RETRY_SECS * 12;
		return -1;
	}
	/* unparsable: keep it for the admin, out of the way */
	if (renameat(S.msgfd, e->qid, S.badfd, e->qid) == 0) {
		log_warnx("%s: quarantined in bad/: %s", e->qid, why);
		unlinkat(S.statefd, e->qid, 0);
		*next = -2;
	} else {
		log_warn("%s: unreadable (%s), and cannot quarantine it",
		    e->qid, why);
		*next = r->now + 3600;
	}
	return -1;
}

void
round_start(struct entry *e)
{
	struct round *r;
	struct qrcpt *rc;
	long long next = 0, soonest = 0;
	size_t i, n;
	int force = e->force, unfinished = 0;

	e->force = 0;
	e->wait_agent = 0;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		S.nrounds--;
		sched_at(e, (long long)time(NULL) + AGENT_RETRY_SECS);
		return;
	}
	r->e = e;
	r->fd = -1;
	r->now = (long long)time(NULL);
	buf_init(&r->lines, 0);
	e->round = r;
	if (round_load(r, &next) == -1) {
		round_free(r);
		sched_round_over(e, next == -2 ? 0 : next, next == -2);
		return;
	}
	for (i = 0; i < r->env.nrcpts; i++) {
		rc = &r->env.rcpts[i];
		if (rc->state == QS_DELIVERED || rc->state == QS_FAILED)
			continue;
		unfinished++;
		if (rc->state == QS_DEFERRED && !force && rc->next_try > r->now) {
			if (soonest == 0 || rc->next_try < soonest)
				soonest = rc->next_try;
			continue;
		}
		rcpt_job(r, i);
	}
	if (r->njobs == 0 && unfinished > 0) {
		/* nothing due yet (found by a scan, or notified twice) */
		round_free(r);
		sched_round_over(e, soonest, 0);
		return;
	}
	/* every job is started before any can finish the round */
	r->waiting++;
	for (i = 0, n = r->njobs; i < n; i++)
		job_run(r, i);
	remote_dispatch(r);
	r->waiting--;
	round_check(r);
}

/* Parse kurir-auth's target list into jobs replacing job i. */
static void
resolve_answer(struct round *r, size_t i, const struct frame *f)
{
	char *list, *line, *next, key[ADDR_TEXT_MAX + 16];
	const char *rcptaddr = r->jobs[i].addr, *dom;
	struct qrcpt *rc = &r->env.rcpts[r->jobs[i].rcpt];
	size_t rcpt = r->jobs[i].rcpt, n = 0, k, first;

	if ((list = malloc(f->len + 1)) == NULL) {
		job_done(r, i, QS_DEFERRED, "4.3.0 out of memory");
		return;
	}
	memcpy(list, f->data, f->len);
	list[f->len] = '\0';
	/* how many targets?  One keeps the recipient's own state line */
	for (line = list; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			next = line + strlen(line);
		else
			next++;
		n++;
	}
	dom = addr_domain(rcptaddr);
	if (*dom == '\0')
		dom = S.conf.hostname;
	first = r->njobs;
	for (line = list; *line != '\0'; line = next) {
		const char *sp, *val;
		enum job_kind kind;
		struct job *j;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if ((sp = strchr(line, ' ')) == NULL || sp[1] == '\0')
			continue;
		val = sp + 1;
		if (strncmp(line, "user ", 5) == 0)
			kind = JOB_LOCAL;
		else if (strncmp(line, "remote ", 7) == 0)
			kind = JOB_REMOTE;
		else if (strncmp(line, "fail ", 5) == 0)
			kind = JOB_FAIL;
		else
			continue;
		snprintf(key, sizeof(key), "%s:%s", kind == JOB_LOCAL ? "user" :
		    kind == JOB_REMOTE ? "remote" : "fail", val);
		if (n > 1 && qrcpt_done(rc, key))
			continue;	/* this target has its copy */
		if ((k = job_add(r, rcpt, kind)) == (size_t)-1)
			break;
		j = &r->jobs[k];
		j->key = n > 1 ? strdup(key) : NULL;
		if (kind == JOB_LOCAL) {
			j->mailbox = strdup(val);
			if (asprintf(&j->addr, "%s@%s", val, dom) == -1)
				j->addr = NULL;
		} else if (kind == JOB_FAIL && strchr(val, '@') == NULL) {
			/* a local name that exists nowhere: still an address */
			if (asprintf(&j->addr, "%s@%s", val, dom) == -1)
				j->addr = NULL;
		} else
			j->addr = strdup(val);
		if ((n > 1 && j->key == NULL) || j->addr == NULL ||
		    (kind == JOB_LOCAL && j->mailbox == NULL)) {
			job_done(r, k, QS_DEFERRED, "4.3.0 out of memory");
			continue;
		}
		if (kind == JOB_FAIL) {
			snprintf(j->text, sizeof(j->text), "5.1.1 alias "
			    "target %s does not exist", val);
			j->result = QS_FAILED;
		}
	}
	free(list);
	if (r->njobs == first) {
		/* every target finished in earlier rounds (or none left) */
		job_done(r, i, QS_DELIVERED, "2.0.0 all targets done");
		return;
	}
	/* the resolve job is replaced by its targets */
	r->jobs[i].result = QS_DELIVERED;
	r->jobs[i].kind = JOB_FAIL;	/* nothing left to run */
	r->jobs[i].text[0] = '\0';
	r->jobs[i].key = NULL;
	free(r->jobs[i].mailbox);
	r->jobs[i].mailbox = NULL;
	r->jobs[i].rcpt = rcpt;
	r->jobs[i].asked = 0;
	r->jobs[i].replaced = 1;
	for (k = first; k < r->njobs; k++)
		job_run(r, k);
	remote_dispatch(r);
}

/*
 * The request an answer on l belongs to, taken off the list, with the
 * answer's text copied (cut to fit); NULL, and the link brought down, if
 * we are waiting for no such answer: a peer that answers what was not
 * asked is not trusted further.
 */
struct req *
answer_req(struct slink *l, const struct frame *f, enum req_kind kind,
    char *text, size_t len)
{
	struct req *q;
	size_t n;

	if ((q = req_take(f->id, kind)) == NULL) {
		log_warnx("%s answered a request we did not make", l->name);
		slink_down(l);
		return NULL;
	}
	n = f->len < len - 1 ? f->len : len - 1;
	memcpy(text, f->data, n);
	text[n] = '\0';
	return q;
}

void
round_auth_frame(struct slink *l, const struct frame *f)
{
	struct req *q;
	struct round *r;
	char text[JOB_TEXT_MAX];

	if ((q = answer_req(l, f, REQ_RESOLVE, text, sizeof(text))) == NULL)
		return;
	r = q->r;
	switch (f->type) {
	case AP_OK:
		resolve_answer(r, q->job, f);
		break;
	case AP_NOUSER:
		snprintf(text, sizeof(text), "5.1.1 <%s>: no such user here",
		    r->jobs[q->job].addr);
		job_done(r, q->job, QS_FAILED, text);
		break;
	case AP_FAIL:
		if (text[0] == '5')
			job_done(r, q->job, QS_FAILED, text);
		else
			job_not_tried(r, q->job, text);	/* tables not loaded */
		break;
	default:
		job_not_tried(r, q->job, "4.3.0 bad answer from kurir-auth");
	}
	free(q);
	round_check(r);
}

void
round_local_frame(struct slink *l, const struct frame *f)
{
	struct req *q;
	struct round *r;
	char text[JOB_TEXT_MAX];

	if ((q = answer_req(l, f, REQ_LOCAL, text, sizeof(text))) == NULL)
		return;
	r = q->r;
	switch (f->type) {
	case LP_OK:
		job_done(r, q->job, QS_DELIVERED, text);
		break;
	case LP_PERM:
		job_done(r, q->job, QS_FAILED, text);
		break;
	default:
		job_done(r, q->job, QS_DEFERRED, text);
	}
	free(q);
	round_check(r);
}

void
round_queue_frame(struct slink *l, const struct frame *f)
{
	struct req *q;
	char qid[QID_LEN + 1], text[JOB_TEXT_MAX];

	if (f->type == QP_NEWENTRY) {
		if (f->len == QID_LEN) {
			memcpy(qid, f->data, QID_LEN);
			qid[QID_LEN] = '\0';
			sched_notify(qid);
		}
		return;
	}
	if ((q = answer_req(l, f, REQ_BOUNCE, text, sizeof(text))) == NULL)
		return;
	finish_bounce_answer(q->r, f->type, text);
	free(q);
}

/* A link went down: what was out on it is "not tried" (or a bounce
 * that was not queued); rounds it held up go on. */
void
round_link_down(struct slink *l)
{
	struct req *q, *nq;
	struct round *r;
	enum req_kind kind = l == &S.auth ? REQ_RESOLVE :
	    l == &S.local ? REQ_LOCAL : l == &S.remote ? REQ_REMOTE :
	    REQ_BOUNCE;
	size_t i;

	for (q = RB_MIN(req_tree, &S.reqs); q != NULL; q = nq) {
		nq = RB_NEXT(req_tree, &S.reqs, q);
		if (q->kind != kind)
			continue;
		r = q->r;
		RB_REMOVE(req_tree, &S.reqs, q);
		r->waiting--;
		if (kind == REQ_BOUNCE)
			finish_bounce_answer(r, QP_TEMPFAIL,
			    "4.3.0 queue link lost");
		else if (kind == REQ_REMOTE) {
			for (i = 0; i < q->njobs; i++)
				job_not_tried(r, q->jobs[i],
				    "4.3.0 remote delivery agent restarted");
			round_check(r);
		} else {
			/* kurir-local may have made the copy: look next time */
			if (kind == REQ_LOCAL)
				r->e->check = 1;
			job_not_tried(r, q->job, "4.3.0 agent restarted");
			round_check(r);
		}
		req_free(q);
	}
}
