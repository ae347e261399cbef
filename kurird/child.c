/*
 * child.c - starting, watching and restarting kurird's children.
 *
 * A child is exec'd with its fds at 3, 4, ... and options naming them,
 * plus -f CONF (and -d in the foreground).  Privileges are dropped by the
 * child itself right after it has read its config, before any input.
 */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "kurird.h"
#include "log.h"

static struct child *all_children[] = { &D.queue, &D.auth, &D.local,
    &D.remote, &D.send, &D.smtpd, &D.pop3d };
#define NCHILDREN (sizeof(all_children) / sizeof(all_children[0]))

static void
child_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	if (!D.stopping && c->pid == 0 && child_start(c) == -1)
		child_reaped(c, -1);	/* count as a crash: back off again */
}

/*
 * fork and exec prog with fds[i] as descriptor 3 + i and everything else
 * closed, signal handlers reset, and a pipe to kurird as its stderr that
 * carries its log lines (logpipe.c; KURIR_LOG=pipe tells log.c).  The
 * child's pid, or -1.
 */
pid_t
proc_spawn(const char *prog, const char *const argv[], const int fds[],
    int nfds)
{
	int moved[CHILD_MAXFDS], logp[2], i;
	pid_t pid;
	sigset_t all, old;

	if (nfds > CHILD_MAXFDS) {
		errno = EINVAL;
		return -1;
	}
	if (pipe2(logp, O_CLOEXEC) == -1)
		return -1;
	/* the child must not run our libevent signal handlers */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(logp[0]);
		close(logp[1]);
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		int s;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (s = 1; s < NSIG; s++)
			sigaction(s, &sa, NULL);
		/* stderr first: the moves below may reuse the pipe's number */
		if (dup2(logp[1], STDERR_FILENO) == -1 ||
		    setenv("KURIR_LOG", "pipe", 1) == -1)
			_exit(127);
		/* move the fds above the range first, then into place */
		for (i = 0; i < nfds; i++)
			if ((moved[i] = fcntl(fds[i], F_DUPFD, 64)) == -1)
				_exit(127);
		for (i = 0; i < nfds; i++)
			if (dup2(moved[i], 3 + i) == -1)
				_exit(127);
		closefrom(3 + nfds);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(prog, (char **)(uintptr_t)argv);
		fprintf(stderr, "kurird: exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(logp[1]);
	if (logpipe_add(logp[0], argv[0], pid) == -1)
		log_warn("cannot read the log lines of %s[%ld]", argv[0],
		    (long)pid);
	return pid;
}

int
child_start(struct child *c)
{
	char prog[4200], fdarg[CHILD_MAXFDS][8];
	int sp[2];
	const char *argv[6 + 2 * CHILD_MAXFDS];
	int i, n = 0;
	pid_t pid;

	if (path_fmt(prog, sizeof(prog), "%s/%s", D.bindir, c->name) == -1)
		return -1;
	/*
	 * A fresh control channel for every start: nothing meant for a dead
	 * predecessor (a half-written frame, an old CTL_GO) reaches this one.
	 */
	if (c->ctl >= 0)
		close(c->ctl);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		c->ctl = -1;
		log_warn("socketpair for %s", c->name);
		return -1;
	}
	c->ctl = sp[0];
	c->fds[0] = sp[1];
	argv[n++] = c->name;
	argv[n++] = "-f";
	argv[n++] = D.conf_path;
	if (D.debug)
		argv[n++] = "-d";
	for (i = 0; i < c->nfds; i++) {
		snprintf(fdarg[i], sizeof(fdarg[i]), "%d", 3 + i);
		argv[n++] = c->fdflags[i];
		argv[n++] = fdarg[i];
	}
	argv[n] = NULL;

	pid = proc_spawn(prog, argv, c->fds, c->nfds);
	close(c->fds[0]);	/* the child's end is the child's alone */
	c->fds[0] = -1;
	if (pid == -1) {
		log_warn("fork %s", c->name);
		return -1;
	}
	c->pid = pid;
	gettimeofday(&c->started_at, NULL);
	log_info("started %s (pid %ld)", c->name, (long)pid);
	if (c->started)
		c->started();
	return 0;
}

void
child_reaped(struct child *c, int status)
{
	struct timeval now, tv;

	c->pid = 0;
	if (status != -1) {
		if (WIFSIGNALED(status))
			log_warnx("%s killed by signal %d", c->name,
			    WTERMSIG(status));
		else if (c == &D.local && WEXITSTATUS(status) == 0)
			log_info("%s done (its link to kurir-send closed)",
			    c->name);
		else if (WEXITSTATUS(status) != 0 || !D.stopping)
			log_warnx("%s exited with status %d", c->name,
			    WEXITSTATUS(status));
	}
	if (D.stopping)
		return;
	gettimeofday(&now, NULL);
	/*
	 * A child that ran a while gets a quick restart; a crash loop slows.
	 * kurir-local leaving cleanly is no crash: its link ended because
	 * kurir-send stopped, and the next kurir-send needs a fresh one.
	 */
	if (status != -1 && (now.tv_sec - c->started_at.tv_sec >= STABLE_SECS ||
	    (c == &D.local && WIFEXITED(status) && WEXITSTATUS(status) == 0)))
		c->backoff_ms = BACKOFF_MIN_MS;
	else if (c->backoff_ms < BACKOFF_MIN_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	else if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	if (c->ev_restart == NULL &&
	    (c->ev_restart = evtimer_new(D.base, child_restart_cb, c)) == NULL)
		fatalx("evtimer_new");
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	log_info("restarting %s in %d ms", c->name, c->backoff_ms);
	evtimer_add(c->ev_restart, &tv);
}

void
child_signal_all(int sig)
{
	size_t i;

	for (i = 0; i < NCHILDREN; i++)
		if (all_children[i]->pid > 0)
			kill(all_children[i]->pid, sig);
}

int
child_running(const struct child *c)
{
	return c->pid > 0;
}

int
children_running(void)
{
	size_t i;
	int n = 0;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < NCHILDREN; i++)
			if (all_children[i]->pid == pid)
				break;
		if (i < NCHILDREN)
			child_reaped(all_children[i], status);
		else
			spawn_reaped(pid, status);	/* a POP3 session */
	}
	for (i = 0; i < NCHILDREN; i++)
		if (all_children[i]->pid > 0)
			n++;
	return n;
}
