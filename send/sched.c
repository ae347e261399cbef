/*
 * sched.c - which entries kurir-send knows and when each is due.
 *
 * Every entry in msg/ has a struct entry (its id and a timer), nothing
 * more: the envelope is read only while a round runs, so a queue of a
 * million deferred messages costs little memory.  An entry becomes due
 * when kurir-queue reports it (QP_NEWENTRY), when the start-up or
 * periodic scan finds it, when its timer fires (the earliest next try
 * of its deferred recipients), or on kurirctl flush.  Due entries wait
 * on the run queue, in the order they became due, until one of the
 * ROUNDS_MAX round slots is free.
 */
#include <sys/resource.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "send.h"

int
entry_cmp(struct entry *a, struct entry *b)
{
	return strcmp(a->qid, b->qid);
}

RB_GENERATE(entry_tree, entry, node, entry_cmp);

static void
entry_due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;

	if (e->round != NULL) {
		e->again = 1;
		return;
	}
	if (!e->queued) {
		e->queued = 1;
		TAILQ_INSERT_TAIL(&S.runq, e, runq);
	}
	sched_pump();
}

static struct entry *
entry_get(const char *qid, int create)
{
	struct entry key, *e;

	strlcpy(key.qid, qid, sizeof(key.qid));
	if ((e = RB_FIND(entry_tree, &S.entries, &key)) != NULL || !create)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warn("%s: no memory for the entry (the next scan retries)",
		    qid);
		return NULL;
	}
	strlcpy(e->qid, qid, sizeof(e->qid));
	if ((e->ev_due = evtimer_new(S.base, entry_due_cb, e)) == NULL) {
		free(e);
		return NULL;
	}
	RB_INSERT(entry_tree, &S.entries, e);
	S.nentries++;
	return e;
}

static void
entry_free(struct entry *e)
{
	if (e->queued)
		TAILQ_REMOVE(&S.runq, e, runq);
	RB_REMOVE(entry_tree, &S.entries, e);
	S.nentries--;
	event_free(e->ev_due);
	free(e);
}

void
sched_at(struct entry *e, long long t)
{
	struct timeval tv = { 0, 0 };
	long long now = (long long)time(NULL);

	if (t > now)
		tv.tv_sec = (time_t)(t - now);
	evtimer_add(e->ev_due, &tv);
}

void
sched_init(void)
{
	struct timeval tv = { RESCAN_SECS, 0 };
	struct rlimit rl;

	/* a round holds its entry open, and a copy waits on the link to
	 * kurir-local for each of its local targets: stay well inside */
	S.rounds_max = ROUNDS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < S.rounds_max)
		S.rounds_max = rl.rlim_cur > 64 ? rl.rlim_cur / 4 : 16;

	RB_INIT(&S.entries);
	TAILQ_INIT(&S.runq);
	evtimer_add(S.ev_rescan, &tv);
}

void
sched_notify(const char *qid)
{
	struct entry *e;

	if (!qid_valid(qid) || (e = entry_get(qid, 1)) == NULL)
		return;
	if (e->round != NULL)
		e->again = 1;
	else
		sched_at(e, 0);
}

static int
qid_sort(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/*
 * Every id in msg/ that we do not know yet becomes due, oldest first; a
 * state/ log without its entry (a crash between the two unlinks) goes.
 */
void
sched_scan(void)
{
	DIR *d;
	struct dirent *de;
	char (*ids)[QID_LEN + 1] = NULL, (*nv)[QID_LEN + 1];
	size_t n = 0, cap = 0, i;
	struct entry *e;
	int fd, added = 0;

	if ((fd = dup(S.msgfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("scanning msg/");
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!qid_valid(de->d_name) || entry_get(de->d_name, 0) != NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = reallocarray(ids, cap, sizeof(*ids))) == NULL)
				break;
			ids = nv;
		}
		strlcpy(ids[n++], de->d_name, sizeof(ids[0]));
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), qid_sort);
	for (i = 0; i < n; i++)
		if ((e = entry_get(ids[i], 1)) != NULL) {
			/* a crash may have left copies without their results */
			e->check = 1;
			sched_at(e, 0);
			added++;
		}
	free(ids);
	if (added)
		log_info("scan: %d entries to work on", added);

	/* orphaned state logs */
	if ((fd = dup(S.statefd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (qid_valid(de->d_name) && entry_get(de->d_name, 0) == NULL &&
		    faccessat(S.msgfd, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
		    unlinkat(S.statefd, de->d_name, 0) == 0)
			log_info("%s: removed a state log without its entry",
			    de->d_name);
	closedir(d);
}

void
sched_flush(void)
{
	struct entry *e;
	size_t n = 0;

	RB_FOREACH(e, entry_tree, &S.entries) {
		e->force = 1;
		if (e->round != NULL)
			e->again = 1;
		else
			sched_at(e, 0);
		n++;
	}
	log_info("flush: %zu entries due now", n);
}

void
sched_agent_up(void)
{
	struct entry *e;

	RB_FOREACH(e, entry_tree, &S.entries)
		if (e->wait_agent && e->round == NULL) {
			e->wait_agent = 0;
			sched_at(e, 0);
		}
}

void
sched_pump(void)
{
	struct entry *e;

	while (!S.stopping && S.nrounds < S.rounds_max &&
	    (e = TAILQ_FIRST(&S.runq)) != NULL) {
		TAILQ_REMOVE(&S.runq, e, runq);
		e->queued = 0;
		S.nrounds++;
		round_start(e);
	}
}

void
sched_round_over(struct entry *e, long long next, int gone)
{
	e->round = NULL;
	S.nrounds--;
	if (gone) {
		evtimer_del(e->ev_due);
		entry_free(e);
		return;
	}
	if (e->again) {
		e->again = 0;
		next = 0;
	}
	if (next >= 0)
		sched_at(e, next);
}
