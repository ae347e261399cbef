/*
 * smtpd.h - kurir-smtpd: the SMTP receiver.
 *
 * One event-driven process serves every SMTP and submission session.  As
 * root it runs as the smtpd user, chrooted to <state_dir>/empty, under
 * the SANDBOX_SMTPD seccomp profile: it can only talk on descriptors it
 * was given by kurird (listeners, the link to kurir-queue, the link to
 * kurir-auth, the control channel).  It writes nothing to disk: each
 * message streams to kurir-queue and 250 is sent only after kurir-queue
 * says the entry is durable.  Passwords and mailbox lookups go to
 * kurir-auth; kurir-smtpd never sees the users table.
 */
#ifndef KURIR_SMTPD_H
#define KURIR_SMTPD_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <stdint.h>
#include <tls.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "hops.h"
#include "textdec.h"

#define SMTP_LINE_MAX		512	/* command line with CRLF, RFC 5321 4.5.3.1.4 */
#define SMTP_AUTH_LINE_MAX	2048	/* AUTH lines may be longer (RFC 4954 4) */
#define SMTP_CHUNK		65536	/* message bytes per QP_DATA frame */
#define SMTP_LISTEN_MAX		16
#define SMTP_PEER_OUT_MAX	(64u * 1024 * 1024)	/* queue link backlog cap */

enum listen_kind { LISTEN_SMTP, LISTEN_SUBMISSION };

enum await_kind { AWAIT_NONE, AWAIT_RCPT, AWAIT_AUTH, AWAIT_COMMIT };

/* queue link backlog: sessions in DATA stop reading above HIGH, go on below LOW */
#define PEER_HIGH	(16u * 1024 * 1024)
#define PEER_LOW	(4u * 1024 * 1024)

enum sess_state {
	S_GREET_PAUSE,		/* waiting to greet; input now is a violation */
	S_CMD,			/* reading commands */
	S_DATA,			/* reading DATA text up to <CRLF>.<CRLF> */
	S_BDAT,			/* reading a BDAT chunk of known size */
	S_AUTH,			/* reading an AUTH continuation line */
	S_TLS,			/* TLS handshake in progress */
	S_SKIP,			/* discarding the octets of a refused BDAT */
	S_CLOSING,		/* flushing the last reply, then close */
};

struct session {
	uint32_t	 id;
	int		 fd;
	enum listen_kind kind;
	struct tls	*tls;
	struct sockaddr_storage peer;
	char		 ip[64];
	char		 net[64];	/* client network the per-IP limit
					 * counts by (net_client_net) */
	int		 loopback, relay_client;
	enum sess_state	 state;
	struct buf	 in, out;
	struct event	*ev_read, *ev_write, *ev_timer;
	int		 reading;	/* read event armed */
	unsigned	 errors;
	int		 discarding;	/* skipping the rest of an overlong line */
	/* waiting for kurir-queue or kurir-auth (AWAIT_*): input pauses, and
	 * an answer is taken only by the wait it belongs to */
	int		 awaiting;
	/* deadlines, monotonic ms (clock.c) */
	long long	 cmd_due;	/* the next command; the greeting pause */
	long long	 data_due;	/* message text; 0: none under way */
	long long	 await_due;	/* a peer's answer (AWAIT_*) */
	/* greeting and authentication */
	char		 helo[256];
	int		 esmtp;
	char		 auth_user[65];
	int		 auth_step;	/* LOGIN: 1 want user, 2 want password */
	char		 auth_login_user[65];
	/* the transaction */
	int		 has_mail;
	char		 sender[ADDR_TEXT_MAX + 2];
	int		 smtputf8;
	int		 body8;
	uint64_t	 declared_size;
	char		**rcpts;
	size_t		 nrcpts;
	char		 pending_rcpt[ADDR_TEXT_MAX + 2];	/* awaiting kurir-auth */
	uint32_t	 qtxn;		/* transaction at kurir-queue; 0 if none */
	uint64_t	 msg_bytes;	/* message bytes after unstuffing */
	struct textdec	 dec;		/* DATA/BDAT decoder; dec.error says why */
	struct hops	 hops;		/* Received + Delivered-To seen so far */
	struct buf	 chunk;		/* decoded bytes not yet sent to the queue */
	uint64_t	 bdat_left;
	uint64_t	 bdat_size;
	uint64_t	 skip_left;	/* S_SKIP: octets still to discard */
	int		 bdat_last;
	int		 bdat_used;
	/* counters for the disconnect log line */
	unsigned	 n_mail, n_rcpt, n_data, n_quit;
	TAILQ_ENTRY(session) entry;
};

struct smtpd_listener {
	int		 fd;
	enum listen_kind kind;
	struct event	*ev;
};

/* a link to kurir-queue or kurir-auth */
struct peer {
	const char	*name;
	int		 fd;		/* -1 while down */
	int		 dead;		/* failed; peer_down runs from the loop */
	struct event	*ev_down;
	struct buf	 in, out;
	struct event	*ev_read, *ev_write;
};

struct smtpd {
	struct conf	 conf;
	struct event_base *base;
	struct tls_config *tls_cfg;
	struct tls	*tls_server;
	struct smtpd_listener listeners[SMTP_LISTEN_MAX];
	int		 nlisteners;
	struct peer	 queue, auth;
	int		 ctl_fd;
	TAILQ_HEAD(, session) sessions;
	unsigned	 nsessions;
	uint32_t	 next_id;
	int		 stopping;
	struct event	*ev_ctl;
};

extern struct smtpd S;

/* session.c */
void	 smtpd_accept_cb(evutil_socket_t, short, void *);
void	 session_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session_error(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session_resume(struct session *);
void	 session_close(struct session *, const char *why);
void	 session_flush(struct session *);
struct session *session_find(uint32_t id);
void	 session_reset_txn(struct session *);
void	 session_start_tls(struct session *);
void	 session_await(struct session *, enum await_kind);
void	 sessions_kick(void);
void	 smtpd_stop(void);

/* clock.c */
void	 clock_greet_pause(struct session *);
void	 clock_next(struct session *);
void	 clock_await(struct session *);
void	 clock_input(struct session *, size_t);
int	 clock_expired(struct session *);

/* cmd.c */
void	 cmd_line(struct session *, const char *, size_t);
void	 cmd_auth_line(struct session *, const char *, size_t);
void	 cmd_greet(struct session *);

/* data.c */
size_t	 data_consume(struct session *, const char *, size_t);
size_t	 bdat_consume(struct session *, const char *, size_t);
int	 data_begin(struct session *);
void	 data_end(struct session *);
void	 data_abort(struct session *);

/* peer.c */
int	 peer_send(struct peer *, uint16_t type, uint32_t id, const void *, size_t);
/* QP_ABORT of a queue transaction: never dropped (it waits for room) */
void	 peer_queue_abort(uint32_t txn);
void	 peer_attach(struct peer *, int fd);
void	 peer_queue_reply(uint16_t type, uint32_t id, const char *, size_t);
void	 peer_auth_reply(uint16_t type, uint32_t id, const char *, size_t);
int	 peer_up(const struct peer *);

/* ctl.c */
void	 ctl_read_initial(void);
void	 ctl_cb(evutil_socket_t, short, void *);

#endif
