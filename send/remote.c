/*
 * remote.c - kurir-send's side of kurir-remote (remoteproto.h).
 *
 * A round's remote jobs (recipients in other domains, and remote alias
 * targets) are gathered by domain: one RP_DELIVER per domain and round,
 * at most RP_RCPTS_MAX recipients each, with the queue entry's
 * descriptor, so one SMTP transaction carries every recipient of a
 * domain.  The answer has a line per recipient, in order: 2 delivered,
 * 5 failed (bounced with the server's reply), anything else deferred.
 * A lost link leaves the jobs untried (the entry is due again when the
 * link is back); a message the server already took may then be sent
 * twice, which SMTP accepts over losing it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "remoteproto.h"
#include "send.h"

static const char *
job_domain(const struct job *j)
{
	const char *at = strrchr(j->addr, '@');

	return at ? at + 1 : "";
}

/* One request for the ready jobs of domain, starting with job first. */
static void
remote_send_domain(struct round *r, size_t first)
{
	const char *dom = job_domain(&r->jobs[first]);
	struct buf p;
	struct req *q;
	size_t i, *ids, n = 0;
	int ok;

	if ((ids = reallocarray(NULL, RP_RCPTS_MAX, sizeof(*ids))) == NULL) {
		job_not_tried(r, first, "4.3.0 out of memory");
		r->jobs[first].ready = 0;
		return;
	}
	buf_init(&p, FRAME_MAX);
	ok = buf_printf(&p, "%zu", r->env.body_off) == 0 &&
	    buf_addch(&p, '\0') == 0 &&
	    buf_printf(&p, "%llu", (unsigned long long)r->env.size) == 0 &&
	    buf_addch(&p, '\0') == 0 &&
	    buf_add(&p, r->env.sender, strlen(r->env.sender) + 1) == 0 &&
	    buf_add(&p, dom, strlen(dom) + 1) == 0;
	for (i = first; ok && i < r->njobs && n < RP_RCPTS_MAX; i++) {
		struct job *j = &r->jobs[i];

		if (!j->ready || strcasecmp(job_domain(j), dom) != 0)
			continue;
		if (buf_add(&p, j->addr, strlen(j->addr) + 1) == -1)
			break;		/* the rest goes in the next request */
		j->ready = 0;
		ids[n++] = i;
	}
	if (!ok || n == 0) {
		for (i = 0; i < n; i++)
			job_not_tried(r, ids[i], "4.3.0 request too large");
		if (n == 0) {
			r->jobs[first].ready = 0;
			job_not_tried(r, first, "4.3.0 request too large");
		}
		free(ids);
		buf_free(&p);
		return;
	}
	if (!slink_up(&S.remote) || (q = req_new(REQ_REMOTE, r, 0)) == NULL) {
		for (i = 0; i < n; i++)
			job_not_tried(r, ids[i], "4.3.0 remote delivery agent "
			    "not running");
		free(ids);
		buf_free(&p);
		return;
	}
	q->jobs = ids;
	q->njobs = n;
	if (slink_send(&S.remote, RP_DELIVER, q->id, p.data, p.len,
	    r->fd) == -1) {
		for (i = 0; i < n; i++)
			job_not_tried(r, ids[i], "4.3.0 remote delivery agent "
			    "not reachable");
		req_drop(q);
	} else
		for (i = 0; i < n; i++)
			r->jobs[ids[i]].asked = 1;
	buf_free(&p);
}

void
remote_dispatch(struct round *r)
{
	size_t i;

	/* each pass takes one domain (and up to RP_RCPTS_MAX of it) */
	for (i = 0; i < r->njobs; i++)
		while (r->jobs[i].ready)
			remote_send_domain(r, i);
}

void
remote_frame(struct slink *l, const struct frame *f)
{
	struct req *q;
	struct round *r;
	struct job *j;
	char text[JOB_TEXT_MAX];
	char *list, *line, *next, *mta = NULL;
	size_t k = 0;

	if ((q = answer_req(l, f, REQ_REMOTE, text, sizeof(text))) == NULL)
		return;
	r = q->r;
	if ((list = malloc(f->len + 1)) != NULL) {
		memcpy(list, f->data, f->len);
		list[f->len] = '\0';
		for (line = list; line != NULL && *line != '\0'; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			if (mta == NULL) {
				/* "mta HOST": who answered, for the DSN */
				mta = strncmp(line, "mta ", 4) == 0 ?
				    line + 4 : "";
				continue;
			}
			if (k == q->njobs)
				break;
			j = &r->jobs[q->jobs[k++]];
			if (line[0] == '\0' || line[1] != ' ') {
				job_done(r, q->jobs[k - 1], QS_DEFERRED,
				    "4.3.0 bad answer from kurir-remote");
				continue;
			}
			job_done(r, q->jobs[k - 1], line[0] == '2' ?
			    QS_DELIVERED : line[0] == '5' ? QS_FAILED :
			    QS_DEFERRED, line + 2);
			if (mta != NULL && *mta != '\0' && j->mta == NULL)
				j->mta = strdup(mta);
		}
	}
	/* recipients the answer left out: try again later */
	for (; k < q->njobs; k++)
		job_done(r, q->jobs[k], QS_DEFERRED,
		    "4.3.0 no result from kurir-remote");
	free(list);
	req_free(q);
	round_check(r);
}
