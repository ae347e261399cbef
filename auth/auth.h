/*
 * auth.h - kurir-auth internals: client links, requests, the per-client
 * failure delay table and the control channel.
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

#define DELAY_SLOTS		4096	/* clients remembered */
#define DELAY_EXPIRE_MS		(15 * 60 * 1000LL)	/* failures forgotten */
#define DELAY_STEP_MS		1000	/* added per recent failure */
#define DELAY_CAP_MS		10000
#define DELAY_KEY_MAX		64

struct alink;

/* a failure answer waiting for its delay to pass */
struct pending {
	struct alink		*link;
	uint32_t		 id;
	struct event		*ev;
	TAILQ_ENTRY(pending)	 entry;
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
	LIST_ENTRY(alink)	 entry;
};

struct delay_ent {
	char			 key[DELAY_KEY_MAX];	/* "" : free slot */
	long long		 last;		/* ms, monotonic */
	unsigned		 count;		/* recent failures */
};

struct delay_table {
	struct delay_ent	 v[DELAY_SLOTS];
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
	int			 exit_code;
};

extern struct auth_ctx A;

/* ctl.c */
int	auth_setup(struct event_base *, int ctl_fd);
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

/* delay.c */
long long delay_now_ms(void);
void	delay_key(const char *ip, char *key, size_t keylen);
unsigned delay_fail(struct delay_table *, const char *ip, long long now_ms);

#endif
