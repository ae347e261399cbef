/*
 * kurird.h - the supervisor: its children and their fds.
 *
 * kurird runs as root (or as the development user), binds the sockets,
 * starts each service with the fds it needs, restarts one that dies
 * (with backoff), and never reads network input itself.
 */
#ifndef KURIR_KURIRD_H
#define KURIR_KURIRD_H

#include <sys/types.h>
#include <sys/time.h>
#include <event2/event.h>

#include "conf.h"

#define CHILD_MAXFDS	8
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STABLE_SECS	10	/* ran this long: the next crash restarts fast */

struct child {
	const char	*name;		/* program name, e.g. "kurir-queue" */
	pid_t		 pid;		/* 0 when not running */
	int		 fds[CHILD_MAXFDS];	/* given as fd 3, 4, ... */
	int		 nfds;
	const char	*fdflags[CHILD_MAXFDS];	/* option naming each fd */
	int		 backoff_ms;
	struct timeval	 started;
	struct event	*ev_restart;
};

struct kurird {
	struct conf	 conf;
	const char	*conf_path;
	int		 debug;
	char		 bindir[4096];
	struct event_base *base;
	struct child	 queue;
	int		 queue_ctl;	/* our end of kurir-queue's control channel */
	int		 stopping;
	struct event	*ev_stop_timeout;
};

extern struct kurird D;

int	child_start(struct child *);
void	child_reaped(struct child *, int status);
void	child_signal_all(int sig);
int	children_running(void);

#endif
