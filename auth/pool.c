/*
 * pool.c - kurir-auth's crypt workers: password hashing out of the event
 * loop, so that recipient lookups (AP_RCPT, AP_RESOLVE) and every other
 * link never wait behind crypt(3).
 *
 * Processes, not threads: the AUTH seccomp profile kills clone, and
 * crypt_r would have to be trusted with every hash method libxcrypt
 * adds; a worker that crashes takes only itself down.  kurir-auth forks
 * auth_workers of them at start (main.c), after it has dropped root and
 * chrooted, before it builds its event loop and before it enters its
 * sandbox, since the sandbox forbids fork.  Each worker:
 *   runs as the auth user in the same chroot at nice 10 (the event
 *   loops come first when CPUs are scarce), keeps stdio (log output)
 *   and its own end of a socketpair (as fd 3) and closes every other
 *   descriptor (control channel, client links, tables: it never holds
 *   the table), then enters the same AUTH seccomp profile itself: it
 *   needs no call beyond it (read, write, memory, exit).
 *   Input: AW_CHECK frames "K" "setting\0password" (K: '1' if setting is
 *   the user's own hash, '0' for the dummy of an unknown user), each
 *   length-checked; output: AW_RESULT, one byte ('1' match, '0' no
 *   match, 'e' error).  The password is wiped at once.  EOF: exit 0.
 * The parent hands a check only to an idle worker, whose socket is then
 * empty, so the small write of AW_CHECK never blocks although the parent's
 * end is a blocking socket; the worker writes its 13-byte answer whole,
 * so reading it when the socket is readable never blocks either.
 *
 * Checks wait in one FIFO (A.jobs), at most A.queue_max; req.c refuses
 * more with a temporary failure.  AP_CANCEL (pool_cancel) drops a queued
 * check of a session that closed, before any crypt runs; one already
 * running is marked and its answer discarded.  A closed link's checks go
 * the same way (pool_link_gone).
 *
 * A worker that dies (EOF or a bad answer) cannot be replaced: fork is
 * no longer allowed.  kurir-auth then logs it and exits EX_SOFTWARE, and
 * kurird restarts it with a full pool and sends fresh links; the clients
 * give their waiting sessions a temporary failure.  A pool that shrank
 * quietly would end, after a few crashes, in one that checks nothing.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth.h"
#include "authproto.h"
#include "log.h"

#define POOL_WORKER_FD	3
#define POOL_NICE	10	/* below the event loops */

static void pool_read_cb(evutil_socket_t, short, void *);

/* Every descriptor above fd but fd itself is closed. */
static void
pool_close_from(int from)
{
	long max, i;

	if (close_range((unsigned)from, UINT_MAX, 0) == 0)
		return;
	/* an older kernel: the slow way, bounded */
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (i = from; i < max; i++)
		(void)close((int)i);
}

/* One AW_CHECK: the worker's answer byte. */
static char
pool_check(const struct frame *f)
{
	char pass[AUTH_PASS_MAX + 1];
	const char *setting, *z, *end;
	size_t pl;
	int rc;

	if (f->type != AW_CHECK || f->len < 3 || f->len > AW_REQ_MAX ||
	    (f->data[0] != '0' && f->data[0] != '1'))
		return 'e';
	setting = f->data + 1;
	end = f->data + f->len;
	if ((z = memchr(setting, '\0', (size_t)(end - setting))) == NULL ||
	    z == setting || (size_t)(z - setting) > USERS_HASH_MAX)
		return 'e';
	pl = (size_t)(end - (z + 1));
	if (pl == 0 || pl > AUTH_PASS_MAX || memchr(z + 1, '\0', pl) != NULL)
		return 'e';
	memcpy(pass, z + 1, pl);
	pass[pl] = '\0';
	rc = users_crypt_check(setting, f->data[0] == '1', pass);
	explicit_bzero(pass, sizeof(pass));
	return rc == 1 ? '1' : rc == 0 ? '0' : 'e';
}

static void __attribute__((noreturn))
pool_worker(int fd, void (*confine)(void))
{
	struct buf in;
	struct frame f;
	char res;
	int r;

	/* the parent's handlers are not ours; kurird signals kurir-auth */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (fd != POOL_WORKER_FD) {
		if (dup2(fd, POOL_WORKER_FD) == -1)
			_exit(EX_OSERR);
		close(fd);
	}
	pool_close_from(POOL_WORKER_FD + 1);
	/* crypt is the one heavy job here: on a busy machine the event loops
	 * (ours, kurir-smtpd's) must win the CPU over it, or RCPT waits for
	 * a core again.  Only an optimisation: a failure changes nothing. */
	errno = 0;
	if (nice(POOL_NICE) == -1 && errno != 0)
		errno = 0;
	if (confine != NULL)
		confine();
	/* allocated once: no realloc leaves a copy of a password behind */
	buf_init(&in, FRAME_HDR + AW_REQ_MAX);
	if (buf_reserve(&in, FRAME_HDR + AW_REQ_MAX) == -1)
		_exit(EX_OSERR);
	for (;;) {
		r = frame_read(POOL_WORKER_FD, &in, &f);
		if (r != 1) {
			buf_free(&in);
			_exit(r == 0 ? 0 : EX_PROTOCOL);
		}
		if (f.fd >= 0)
			close(f.fd);
		res = pool_check(&f);
		explicit_bzero(in.data, in.len);
		if (frame_write(POOL_WORKER_FD, AW_RESULT, f.id, &res, 1) == -1)
			_exit(0);	/* the parent is gone */
	}
}

int
pool_start(unsigned n, void (*confine)(void))
{
	struct worker *w;
	int sp[2];
	pid_t pid;

	TAILQ_INIT(&A.jobs);
	if (A.queue_max == 0)
		A.queue_max = AUTH_QUEUE_MAX;
	if (n == 0 || n > AUTH_WORKERS_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (A.nworkers < n) {
		w = &A.workers[A.nworkers];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
			return -1;
		if ((pid = fork()) == -1) {
			close(sp[0]);
			close(sp[1]);
			return -1;
		}
		if (pid == 0)
			pool_worker(sp[1], confine);
		close(sp[1]);
		if (fcntl(sp[0], F_SETFD, FD_CLOEXEC) == -1) {
			close(sp[0]);
			return -1;
		}
		w->pid = pid;
		w->fd = sp[0];
		w->ev = NULL;
		w->job = NULL;
		A.nworkers++;
	}
	return 0;
}

/* Watch the workers' answers (once the event base exists). */
int
pool_watch(struct event_base *base)
{
	struct worker *w;
	size_t i;

	for (i = 0; i < A.nworkers; i++) {
		w = &A.workers[i];
		if ((w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST,
		    pool_read_cb, w)) == NULL || event_add(w->ev, NULL) == -1)
			return -1;
	}
	return 0;
}

static void
job_free(struct job *j)
{
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* Closing our ends makes each worker read EOF and exit. */
void
pool_stop(void)
{
	struct job *j;
	size_t i;

	while ((j = TAILQ_FIRST(&A.jobs)) != NULL) {
		TAILQ_REMOVE(&A.jobs, j, entry);
		job_free(j);
	}
	A.njobs = 0;
	for (i = 0; i < A.nworkers; i++) {
		if (A.workers[i].ev != NULL)
			event_free(A.workers[i].ev);
		close(A.workers[i].fd);
		if (A.workers[i].job != NULL)
			job_free(A.workers[i].job);
	}
	A.nworkers = 0;
}

/* A worker is gone or talks nonsense: see the header comment. */
static void
pool_lost(struct worker *w, const char *why)
{
	log_warnx("crypt worker %ld %s; exiting so that kurird restarts "
	    "kurir-auth with a full pool", (long)w->pid, why);
	event_del(w->ev);
	if (w->job != NULL) {
		req_done(w->job, -2);
		w->job = NULL;
	}
	auth_stop(EX_SOFTWARE);
}

/* Hand queued checks to idle workers. */
static void
pool_dispatch(void)
{
	char msg[AW_REQ_MAX];
	struct worker *w;
	struct job *j;
	size_t i, sl, pl, n;
	int r;

	for (i = 0; i < A.nworkers && !TAILQ_EMPTY(&A.jobs); i++) {
		w = &A.workers[i];
		if (w->job != NULL || w->ev == NULL)
			continue;
		j = TAILQ_FIRST(&A.jobs);
		TAILQ_REMOVE(&A.jobs, j, entry);
		A.njobs--;
		sl = strlen(j->setting);
		pl = strlen(j->pass);
		/* both were bounded when the job was made (req.c) */
		n = 1 + sl + 1 + pl;
		msg[0] = j->known ? '1' : '0';
		memcpy(msg + 1, j->setting, sl + 1);
		memcpy(msg + 1 + sl + 1, j->pass, pl);
		explicit_bzero(j->pass, sizeof(j->pass));
		w->job = j;
		r = frame_write(w->fd, AW_CHECK, ++w->seq, msg, n);
		explicit_bzero(msg, n);
		if (r == -1) {
			pool_lost(w, "cannot be written to");
			return;
		}
	}
}

static void
pool_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct buf in;
	struct frame f;
	struct job *j;
	int r, rc;

	buf_init(&in, FRAME_HDR + 16);
	r = frame_read(w->fd, &in, &f);
	if (r != 1) {
		buf_free(&in);
		pool_lost(w, r == 0 ? "died" : "failed");
		return;
	}
	if (f.fd >= 0)
		close(f.fd);
	if (f.type != AW_RESULT || f.len != 1 || w->job == NULL ||
	    f.id != w->seq) {
		buf_free(&in);
		pool_lost(w, "sent a bad answer");
		return;
	}
	rc = f.data[0] == '1' ? 1 : f.data[0] == '0' ? 0 : -1;
	buf_free(&in);
	j = w->job;
	w->job = NULL;
	A.n_checked++;
	req_done(j, rc);	/* frees j */
	pool_dispatch();
}

/* Queue a check (req.c has bounded it); 0, or -1 if the queue is full. */
int
pool_submit(struct job *j)
{
	if (A.njobs >= A.queue_max)
		return -1;
	TAILQ_INSERT_TAIL(&A.jobs, j, entry);
	A.njobs++;
	pool_dispatch();
	return 0;
}

/*
 * AP_CANCEL: the session that asked is gone.  1 if a queued check was
 * dropped, 2 if a running one will have its answer discarded, 0 if there
 * was none (already answered: nothing to do).
 */
int
pool_cancel(struct alink *l, uint32_t id)
{
	struct job *j;
	size_t i;

	TAILQ_FOREACH(j, &A.jobs, entry)
		if (j->link == l && j->id == id)
			break;
	if (j != NULL) {
		TAILQ_REMOVE(&A.jobs, j, entry);
		A.njobs--;
		A.n_dropped++;
		log_info("auth check dropped before crypt: link %u id %u "
		    "(session closed; %llu dropped so far)", l->serial, id,
		    A.n_dropped);
		job_free(j);
		return 1;
	}
	for (i = 0; i < A.nworkers; i++) {
		j = A.workers[i].job;
		if (j != NULL && j->link == l && j->id == id && !j->cancelled) {
			j->cancelled = 1;
			return 2;
		}
	}
	return 0;
}

/* The link closed: its queued checks go, running ones answer nobody. */
void
pool_link_gone(struct alink *l)
{
	struct job *j, *next;
	size_t i;

	for (j = TAILQ_FIRST(&A.jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->link != l)
			continue;
		TAILQ_REMOVE(&A.jobs, j, entry);
		A.njobs--;
		A.n_dropped++;
		job_free(j);
	}
	for (i = 0; i < A.nworkers; i++)
		if (A.workers[i].job != NULL && A.workers[i].job->link == l)
			A.workers[i].job->link = NULL;
}
