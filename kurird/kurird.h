/*
 * kurird.h - the supervisor: its children, their links and listeners.
 *
 * kurird runs as root (or as the development user).  It binds every
 * socket, makes every link between two services (socketpairs) and hands
 * the descriptors to the services over their control channels; it starts
 * each service, restarts one that dies (with backoff), and never reads
 * network input itself.
 */
#ifndef KURIR_KURIRD_H
#define KURIR_KURIRD_H

#include <sys/types.h>
#include <sys/time.h>
#include <event2/event.h>

#include "conf.h"

#define CHILD_MAXFDS	4
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STABLE_SECS	10	/* ran this long: the next crash restarts fast */
#define LISTEN_MAX	16

struct child {
	const char	*name;		/* program name, e.g. "kurir-queue" */
	pid_t		 pid;		/* 0 when not running */
	int		 ctl;		/* our end of its control channel */
	int		 fds[CHILD_MAXFDS];	/* given as fd 3, 4, ... */
	int		 nfds;
	const char	*fdflags[CHILD_MAXFDS];	/* option naming each fd */
	void		(*started)(void);	/* send its descriptors */
	int		 backoff_ms;
	struct timeval	 started_at;
	struct event	*ev_restart;
};

struct listener {
	int		 fd;
	const char	*kind;		/* "smtp", "submission", "pop3" */
};

struct kurird {
	struct conf	 conf;
	const char	*conf_path;
	int		 debug;
	int		 hold;		/* -n: no delivery */
	char		 bindir[4096];
	struct event_base *base;
	struct child	 queue, auth, local, remote, send, smtpd, pop3d;
	struct event	*ev_auth_ctl;	/* kurir-auth's requests (AP_CTL_SPAWN) */
	struct buf	 auth_ctl_in;	/* a request as it arrives, in part */
	int		 auth_ctl_infd;	/* a descriptor that came with it */
	unsigned	 nsessions;	/* POP3 session processes running */
	struct listener	 listeners[LISTEN_MAX];
	int		 nlisteners;
	int		 stopping;
	struct event	*ev_stop_timeout;
};

extern struct kurird D;

/* child.c */
int	child_start(struct child *);
void	child_reaped(struct child *, int status);
void	child_signal_all(int sig);
int	children_running(void);
int	child_running(const struct child *);
pid_t	proc_spawn(const char *prog, const char *const argv[], const int fds[],
	    int nfds);

/* spawn.c */
void	spawn_auth_ctl_cb(evutil_socket_t, short, void *);
void	spawn_auth_ctl_reset(void);
int	logpipe_add(int fd, const char *name, pid_t pid);
void	logpipe_drain(void);
void	spawn_reaped(pid_t, int status);

/* wire.c */
int	wire_listen(void);
void	wire_queue_started(void);
void	wire_auth_started(void);
void	wire_smtpd_started(void);
void	wire_local_started(void);
void	wire_send_started(void);
void	wire_remote_started(void);
void	wire_pop3d_started(void);
int	wire_has_listener(const char *kind);
void	wire_reload(void);
void	wire_flush(void);

#endif
