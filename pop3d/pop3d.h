/*
 * pop3d.h - kurir-pop3d, the POP3 server (RFC 1939, 2449, 2595, 5034).
 *
 * Two kinds of process run this program (doc/pop3-design.md):
 *
 * - The pre-auth process (this header): one, event-driven, for every
 *   client.  As root it runs as pop3_user, chrooted to <state_dir>/empty,
 *   under SANDBOX_POP3_PRE.  It takes the listeners, the link to
 *   kurir-auth and the TLS files from kurird, serves the AUTHORIZATION
 *   state (CAPA, STLS, USER/PASS, AUTH PLAIN) and sends each password to
 *   kurir-auth as AP_LOGIN.  On success kurir-auth has kurird start a
 *   session process for that user, whose socket arrives here as
 *   CTL_SESSION; then it hands a plain client's socket to the session
 *   process and only watches for the session's end, or, for TLS (which
 *   cannot move between processes), copies bytes between the client and
 *   the session process (proxy.c), never parsing them.  It holds no mail
 *   and no password hash.
 * - A session process per login (user.c, txn.c): `kurir-pop3d -s`, the
 *   mail user, chrooted into that user's Maildir, SANDBOX_POP3_USER.
 */
#ifndef KURIR_POP3D_H
#define KURIR_POP3D_H

#include <sys/queue.h>
#include <event2/event.h>
#include <stdint.h>
#include <tls.h>

#include "authproto.h"
#include "buf.h"
#include "cmd.h"
#include "conf.h"

/*
 * The first frame from the pre-auth process on a session socket: the
 * client's bytes that came before the session (pipelined after PASS) as
 * payload, and for a plain connection the client's socket itself.
 */
enum sess_frame {
	SESS_HANDOFF = 1,	/* + fd: serve the client on it directly */
	SESS_PROXY,		/* TLS: the bytes come through this socket */
};

#define PRE_LISTEN_MAX	16
#define PRE_AUTH_LINE_MAX 2048	/* an AUTH continuation line (RFC 5034 4:
				 * the 255-octet limit does not apply) */
#define PRE_IN_MAX	(64 * 1024)	/* client bytes held, unsent */
#define PRE_OUT_MAX	(256 * 1024)	/* bytes for the client, unsent */
#define PRE_CHUNK	(64 * 1024)
#define PRE_AWAIT_SECS	60	/* kurir-auth + kurird must answer by then */
#define PRE_PROXY_SLACK	60	/* the session process times out first */

enum pstate {
	PS_AUTHZ,	/* reading AUTHORIZATION commands */
	PS_AUTH_CONT,	/* reading an AUTH PLAIN response line */
	PS_AWAIT,	/* a login is with kurir-auth: input waits */
	PS_TLS,		/* STLS handshake */
	PS_PROXY,	/* logged in: bytes to and from the session process */
	PS_HANDED,	/* logged in, client socket handed to the session
			 * process: only its end is watched (limits count) */
	PS_CLOSING,	/* flush the last reply, then close */
};

struct psession {
	uint32_t	 id;
	int		 fd;
	struct tls	*tls;
	char		 ip[64];
	char		 net[64];	/* client network the per-IP limit
					 * counts by (net_client_net) */
	int		 loopback;
	enum pstate	 state;
	struct buf	 in, out;
	struct event	*ev_read, *ev_write, *ev_timer;
	int		 reading;	/* ev_read armed */
	int		 discarding;	/* rest of an overlong line */
	unsigned	 errors;
	char		 user[POP3_USER_MAX + 1];	/* USER given */
	/* a login in flight: both answers are needed, in either order */
	int		 auth_ok;
	char		 login[AUTH_USER_MAX + 1];	/* from AP_OK */
	int		 spawned;	/* CTL_SESSION came */
	char		 spawn_user[AUTH_USER_MAX + 1];
	/* the session process (PS_PROXY) */
	int		 sfd;
	struct event	*sev_read, *sev_write;
	int		 sreading;	/* sev_read armed */
	int		 client_eof;	/* the client sent FIN */
	TAILQ_ENTRY(psession) entry;
};

struct pre_listener {
	int		 fd;
	struct event	*ev;
};

struct pre_authlink {
	int		 fd;		/* -1 while down */
	struct buf	 in, out;
	struct event	*ev_read, *ev_write;
};

struct pop3d {
	struct conf	 conf;
	struct event_base *base;
	struct tls_config *tls_cfg;
	struct tls	*tls_server;
	struct pre_listener listeners[PRE_LISTEN_MAX];
	int		 nlisteners;
	struct pre_authlink auth;
	int		 ctl_fd;
	struct event	*ev_ctl;
	TAILQ_HEAD(, psession) sessions;
	unsigned	 nsessions;
	uint32_t	 next_id;
	int		 stopping;
};

extern struct pop3d P;

/* conn.c: sessions, client I/O, limits, timeouts */
void	conn_accept_cb(evutil_socket_t, short, void *);
void	conn_reply(struct psession *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	conn_error(struct psession *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	conn_close(struct psession *, const char *why);
void	conn_resume(struct psession *);
void	conn_arm_timer(struct psession *);
int	conn_write_some(struct psession *);
void	conn_want_read(struct psession *);
void	conn_start_tls(struct psession *);
struct psession *conn_find(uint32_t id);
void	pop3d_stop(void);

/* authz.c: the AUTHORIZATION state */
void	authz_greet(struct psession *);
void	authz_line(struct psession *, char *line, size_t len);
void	authz_answer(struct psession *, uint16_t type, const char *, size_t);
void	authz_spawned(struct psession *, int fd, const char *user);

/* proxy.c: after login */
void	proxy_start(struct psession *);
void	proxy_client_input(struct psession *);
void	proxy_client_eof(struct psession *);
void	proxy_client_drained(struct psession *);
void	proxy_close(struct psession *);

/* alink.c: the link to kurir-auth */
void	alink_attach(int fd);
int	alink_send(uint16_t type, uint32_t id, const void *, size_t);

/* ctl.c: kurird's control channel */
void	ctl_read_initial(void);
void	ctl_cb(evutil_socket_t, short, void *);

/* user.c: the session process */
int	user_main(int argc, char *argv[]);

#endif
