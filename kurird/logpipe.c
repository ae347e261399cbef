/*
 * logpipe.c - kurird carries its children's log lines (kurird, root).
 *
 * Every process kurird starts gets a pipe as its stderr and KURIR_LOG=pipe
 * in its environment; common/log.c then writes each event as one line,
 * "<level>text\n", and never opens a syslog socket.  So a confined child
 * holds no datagram socket that an unfiltered sendmsg could aim at other
 * local sockets (the abstract namespace ignores chroot): its only ways
 * out are the descriptors kurird gave it.  kurird reads the pipes without
 * blocking and logs each line under the name and pid it knows the child
 * by, so a child cannot speak as another program either.
 *
 * Input is untrusted (a child may be compromised): lines are cut at
 * LOGPIPE_LINE_MAX, control bytes are replaced by log_relay, a level
 * outside 0..7 is a warning, and one wake-up reads at most
 * LOGPIPE_READ_MAX octets so a chatty child cannot starve the loop.  A
 * pipe is read until its end, after its child was reaped too, so a last
 * word (a fatal error) is never lost.
 */
#include <sys/queue.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "kurird.h"
#include "log.h"

#define LOGPIPE_LINE_MAX	2048	/* log.c's own line bound */
#define LOGPIPE_READ_MAX	65536

struct logpipe {
	TAILQ_ENTRY(logpipe)	 entry;
	int			 fd;
	struct event		*ev;
	char			 name[32];
	long			 pid;
	size_t			 len;
	int			 skipping;	/* past the bound: drop to LF */
	char			 line[LOGPIPE_LINE_MAX + 1];
};

static TAILQ_HEAD(, logpipe) logpipes = TAILQ_HEAD_INITIALIZER(logpipes);

/* one line (NUL-terminated in lp->line): its level, then the text */
static void
logpipe_line(struct logpipe *lp)
{
	const char *text = lp->line;
	int pri = LOG_WARNING;		/* unmarked: stray stderr output */

	if (text[0] == '<' && text[1] >= '0' && text[1] <= '7' &&
	    text[2] == '>') {
		pri = text[1] - '0';
		text += 3;
	}
	log_relay(pri, lp->name, lp->pid, text);
}

static void
logpipe_take(struct logpipe *lp, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!lp->skipping) {
				lp->line[lp->len] = '\0';
				logpipe_line(lp);
			}
			lp->len = 0;
			lp->skipping = 0;
		} else if (lp->skipping)
			;
		else if (lp->len == LOGPIPE_LINE_MAX) {
			/* the part so far is logged; the rest is dropped */
			lp->line[lp->len] = '\0';
			logpipe_line(lp);
			lp->len = 0;
			lp->skipping = 1;
		} else
			lp->line[lp->len++] = p[i];
	}
}

static void
logpipe_close(struct logpipe *lp)
{
	if (lp->len > 0 && !lp->skipping) {
		lp->line[lp->len] = '\0';	/* a last line without LF */
		logpipe_line(lp);
	}
	TAILQ_REMOVE(&logpipes, lp, entry);
	event_free(lp->ev);
	close(lp->fd);
	free(lp);
}

/* Read what there is: 1 while the pipe is open, 0 once it ended. */
static int
logpipe_read(struct logpipe *lp)
{
	char chunk[4096];
	size_t total = 0;
	ssize_t n;

	while (total < LOGPIPE_READ_MAX) {
		n = read(lp->fd, chunk, sizeof(chunk));
		if (n > 0) {
			logpipe_take(lp, chunk, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		logpipe_close(lp);		/* EOF or error */
		return 0;
	}
	return 1;
}

static void
logpipe_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)logpipe_read(arg);
}

int
logpipe_add(int fd, const char *name, pid_t pid)
{
	struct logpipe *lp;
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (lp = calloc(1, sizeof(*lp))) == NULL) {
		close(fd);
		return -1;
	}
	lp->fd = fd;
	lp->pid = (long)pid;
	strlcpy(lp->name, name, sizeof(lp->name));
	if ((lp->ev = event_new(D.base, fd, EV_READ | EV_PERSIST, logpipe_cb,
	    lp)) == NULL || event_add(lp->ev, NULL) == -1) {
		if (lp->ev != NULL)
			event_free(lp->ev);
		free(lp);
		close(fd);
		return -1;
	}
	TAILQ_INSERT_TAIL(&logpipes, lp, entry);
	return 0;
}

/*
 * kurird is about to exit and its children are gone: read every pipe to
 * its end (bounded: a pipe whose writer still lives is left), so the
 * children's last lines are logged before ours.
 */
void
logpipe_drain(void)
{
	struct logpipe *lp, *next;

	for (lp = TAILQ_FIRST(&logpipes); lp != NULL; lp = next) {
		next = TAILQ_NEXT(lp, entry);
		if (logpipe_read(lp) == 1)
			logpipe_close(lp);
	}
}
