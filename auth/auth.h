/*
 * auth.h - kurir-auth internals: client links, requests, the crypt worker
 * pool, the per-client failure table, the per-link rate and the control
 * channel.
 *
 * kurir-auth runs as the auth user (when started as root), chrooted to
 * <state_dir>/empty and sandboxed.  It is the only program that sees the
 * users and aliases tables; it opens no file after start-up.
 * Inputs: kurird's control channel (tables and client links arrive as
 * descriptors, see authproto.h) and the client links (AP_AUTH, AP_RCPT).
 * Outputs: answers on the client links and log lines.  No passwords are
 * ever logged, and each is wiped from memory as soon as it is checked.
 */
#ifndef KURIR_AUTH_H
#define KURIR_AUTH_H

#include <sys/queue.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "authproto.h"
#include "buf.h"
#include "frame.h"
#include "table.h"

#define AUTH_LINK_MAX		64	/* client links (kurir-smtpd, pop3d) */
#define AUTH_PENDING_MAX	1024	/* delayed answers per link: then it
					 * stops reading until some are sent */
#define AUTH_OUT_HIGH		(64 * 1024)	/* unsent answers: stop reading */
#define AUTH_OUT_MAX		(1024 * 1024)	/* never reached (see above) */
/* input buffer: one frame being received plus one read(2) of the next;
 * allocated once so that realloc never leaves copies of passwords */
#define AUTH_IN_MAX		(2 * (FRAME_HDR + FRAME_MAX))
#define AUTH_REQ_MAX		(AUTH_USER_MAX + 1 + AUTH_PASS_MAX + 1 + \
				    AUTH_IP_MAX)

/* password checks waiting for a worker, all links together: past it a
 * check gets AP_FAIL "4.3.2 busy" at once (never a stalled link) */
#define AUTH_QUEUE_MAX		256
#define AUTH_WORKERS_MAX	16	/* auth_workers' upper bound */
/* the pool's frames (parent <-> worker), see pool.c */
#define AW_CHECK		1	/* "K" "setting\0password", K '0'/'1' */
#define AW_RESULT		2	/* one byte: '1' match, '0' not, 'e' */
#define AW_REQ_MAX		(1 + USERS_HASH_MAX + 1 + AUTH_PASS_MAX)

#define DELAY_SLOTS		4096	/* clients remembered */
#define DELAY_EXPIRE_MS		(15 * 60 * 1000LL)	/* failures forgotten */
#define DELAY_STEP_MS		1000	/* added per recent failure */
#define DELAY_CAP_MS		10000
#define DELAY_KEY_MAX		64

struct alink;
struct conf;

/* a failure answer waiting for its delay to pass */
struct pending {
	struct alink		*link;
	uint32_t		 id;
	struct event		*ev;
	TAILQ_ENTRY(pending)	 entry;
};

/* a password check, queued or running in a worker */
struct job {
	struct alink		*link;	/* NULL once the link closed */
	uint32_t		 id;
	uint16_t		 type;	/* AP_AUTH or AP_LOGIN */
	int			 known;	/* setting is the user's own hash */
	int			 cancelled;	/* AP_CANCEL while it ran */
	char			 user[AUTH_USER_MAX + 1];
	char			 ip[AUTH_IP_MAX + 1];
	char			 setting[USERS_HASH_MAX + 1];
	char			 pass[AUTH_PASS_MAX + 1];	/* wiped once
							 * handed on */
	TAILQ_ENTRY(job)	 entry;
};

struct worker {
	pid_t			 pid;
	int			 fd;	/* blocking; see pool.c */
	struct event		*ev;
	struct job		*job;	/* running, or NULL: idle */
	uint32_t		 seq;
};

struct alink {
	int			 fd;
	unsigned		 serial;	/* for log lines */
	int			 pop3;		/* kurir-pop3d's: AP_LOGIN allowed */
	struct buf		 in, out;
	struct event		*ev_read, *ev_write;
	int			 reading;	/* ev_read is added */
	size_t			 npending;
	TAILQ_HEAD(, pending)	 pending;
	long long		 rate_tat;	/* rate_take's bucket */
	long long		 refused_at;	/* last "refused" log line */
	unsigned		 refused;	/* refusals since */
	LIST_ENTRY(alink)	 entry;
};

struct delay_ent {
	char			 key[DELAY_KEY_MAX];	/* "" : free slot */
	long long		 last;		/* ms, monotonic */
	unsigned		 count;		/* recent failures (delay) */
	long long		 wstart;	/* auth_fail_window began */
	unsigned		 wcount;	/* failures since */
};

struct delay_table {
	struct delay_ent	 v[DELAY_SLOTS];
	unsigned		 limit;		/* auth_fail_limit */
	long long		 window_ms;	/* auth_fail_window */
	unsigned		 v6prefix;	/* client_ipv6_prefix */
};

struct auth_ctx {
	struct event_base	*base;
	int			 ctl_fd;
	struct event		*ev_ctl;
	struct users		*users;
	struct aliases		*aliases;
	struct conf		*conf;		/* local_domains for AP_RESOLVE */
	int			 users_loaded, aliases_loaded;
	LIST_HEAD(, alink)	 links;
	size_t			 nlinks;
	unsigned		 serial;
	size_t			 pending_max;	/* AUTH_PENDING_MAX (tests lower it) */
	struct delay_table	 delays;
	unsigned		 link_rate;	/* auth_link_rate */
	struct worker		 workers[AUTH_WORKERS_MAX];
	size_t			 nworkers;
	TAILQ_HEAD(, job)	 jobs;		/* waiting for a worker */
	size_t			 njobs;
	size_t			 queue_max;	/* AUTH_QUEUE_MAX (tests lower it) */
	unsigned long long	 n_checked, n_dropped, n_discarded;
	int			 exit_code;
};

extern struct auth_ctx A;

/* ctl.c */
int	auth_setup(struct event_base *, int ctl_fd);
void	auth_apply_conf(const struct conf *);
void	auth_stop(int exit_code);
void	auth_teardown(void);
void	ctl_read_cb(evutil_socket_t, short, void *);

/* link.c */
struct alink *link_new(int fd, int pop3);
void	link_close(struct alink *);
void	link_reply(struct alink *, uint16_t type, uint32_t id, const char *);
void	link_update(struct alink *);

/* req.c */
int	req_frame(struct alink *, const struct frame *);
void	req_cancel(struct alink *);

void	req_done(struct job *, int rc);

/* pool.c */
int	pool_start(unsigned n, void (*confine)(void));
int	pool_watch(struct event_base *);
void	pool_stop(void);
int	pool_submit(struct job *);
int	pool_cancel(struct alink *, uint32_t id);
void	pool_link_gone(struct alink *);

/* delay.c */
long long delay_now_ms(void);
void	delay_key(const char *ip, unsigned v6prefix, char *key, size_t keylen);
unsigned delay_fail(struct delay_table *, const char *ip, long long now_ms);
int	delay_blocked(struct delay_table *, const char *ip, long long now_ms);
int	rate_take(long long *tat, long long now_ms, unsigned rate);

#endif
