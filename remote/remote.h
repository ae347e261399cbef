/*
 * remote.h - kurir-remote internals: the SMTP client.
 *
 * kurir-remote runs as the remote user, chrooted to <state_dir>/empty,
 * in the REMOTE seccomp profile (sockets to the outside and DNS; no
 * files, no exec).  Its inputs: RP_DELIVER requests from kurir-send,
 * each with a queue entry as a read-only descriptor (remoteproto.h), and
 * the routes table and CA bundle from kurird.  For each request it finds
 * the destination (routes_file, else MX via dns.c), speaks SMTP to it
 * (session.c), and answers one result per recipient.
 *
 *   req.c      the RP_DELIVER payload parser (pure, fuzzed)
 *   reply.c    server replies, EHLO keywords, the dot-stuffing encoder
 *   fold.c     CRs made line ends, lines over 998 octets folded, before
 *              dotenc (pure, fuzzed)
 *   dns.c      MX and address lookups (c-ares on the event loop)
 *   session.c  one delivery: connect, EHLO, STARTTLS, MAIL/RCPT/DATA
 *   self.c     is a destination this host? (mail loops, SPEC 9)
 *   main.c     start-up, control channel, the link to kurir-send
 */
#ifndef KURIR_REMOTE_H
#define KURIR_REMOTE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <tls.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "fold.h"
#include "remoteproto.h"
#include "reply.h"
#include "self.h"
#include "table.h"

#define REMOTE_ADDR_MAX		512	/* bytes of one envelope address */
#define REMOTE_REQ_MAX		(2 * 21 + 2 * (REMOTE_ADDR_MAX + 1) + \
				    RP_RCPTS_MAX * (REMOTE_ADDR_MAX + 1))
#define REMOTE_SESSIONS_MAX	256	/* deliveries at once */
#define REMOTE_CONNECT_MAX	60	/* seconds, at most, per connect */
#define REMOTE_CHUNK		(64 * 1024)	/* message bytes read at a time */
#define REMOTE_OUT_HIGH		(256 * 1024)	/* encoded, not yet sent */
#define REMOTE_RESULT_MAX	600	/* one recipient's result line */

/* An RP_DELIVER payload, parsed; strings point into the payload. */
struct remote_req {
	long long	 offset, size;
	const char	*sender;		/* "" for <> */
	const char	*domain;
	const char	*rcpts[RP_RCPTS_MAX];
	size_t		 nrcpts;
};

enum sess_state {
	SS_RESOLVE, SS_CONNECT, SS_GREETING, SS_EHLO, SS_HELO, SS_STARTTLS,
	SS_HANDSHAKE, SS_TRANSACTION, SS_DATA, SS_BODY, SS_DOT, SS_QUIT,
	SS_DONE,
};

/* A command sent whose reply has not come yet (pipelining). */
enum sent_cmd { SC_MAIL, SC_RCPT, SC_DATA };

struct session {
	uint32_t	 id;		/* the request's */
	int		 qfd;
	char		 payload[REMOTE_REQ_MAX];
	struct remote_req req;
	int		 link_gen;	/* which kurir-send asked */

	/* where to */
	const struct route *route;	/* NULL: MX */
	char		 route_host[256];
	enum route_tls	 tls_mode;
	struct dns_target *targets;
	size_t		 ntargets, cur;
	int		 tls_failed;	/* tls=may: this target again, plain */

	/* the connection */
	enum sess_state	 state;
	int		 fd;
	struct tls	*tls;
	struct event	*ev, *ev_timeout;
	short		 want;		/* EV_READ / EV_WRITE wanted now */
	struct buf	 in, out;
	struct reply_parser rp;
	struct ehlo_ext	 ext;
	char		 peer[320];	/* "host [addr]:port" */
	char		 mta[256];	/* the host last tried (Remote-MTA) */
	char		 last_error[REMOTE_RESULT_MAX];

	/* the transaction */
	enum sent_cmd	 sent[RP_RCPTS_MAX + 2];
	size_t		 nsent, sent_head;
	size_t		 rcpt_next;	/* next recipient whose reply is due */
	size_t		 accepted;	/* recipients with a 2xx to RCPT */
	char		*result[RP_RCPTS_MAX];	/* "2 ...", "4 ...", "5 ..." */
	long long	 body_off;	/* message bytes read so far */
	struct fold	 fold;		/* first: lines over 998 octets */
	struct dotenc	 enc;		/* then: CRLF and dot-stuffing */
	int		 committed;	/* the final "." was sent */
	int		 mail_failed;	/* MAIL refused: send nothing more */
	int		 abandoned;	/* its kurir-send is gone */

	TAILQ_ENTRY(session) entry;
};

TAILQ_HEAD(session_list, session);

struct remote_ctx {
	struct conf	 conf;
	struct event_base *base;
	struct routes	*routes;
	struct self	 self;		/* our listeners: never a destination */
	struct tls_config *tls_plain;	/* no verification (may, require) */
	struct tls_config *tls_verify;	/* CA bundle, name checked */
	char		*ca;		/* the CA bundle (PEM), from kurird */
	size_t		 calen;
	/* the link to kurir-send */
	int		 link_fd;
	int		 link_gen;
	struct buf	 link_in, link_out;
	int		 link_in_fd;
	int		 link_paused;	/* REMOTE_SESSIONS_MAX reached */
	struct event	*ev_link_read, *ev_link_write;
	struct session_list sessions;
	size_t		 nsessions;
	int		 stopping;
};

extern struct remote_ctx R;

/* req.c */
/* Parse "offset\0size\0sender\0domain\0rcpt\0...".  0, or -1 and *why. */
int	remote_req_parse(const char *p, size_t len, struct remote_req *,
	    const char **why);

/* session.c */
/* Take one request (payload copied, qfd owned); answers through
 * main.c's remote_answer when done. */
void	session_start(uint32_t id, const char *payload, size_t len, int qfd);
/* kurir-send went away: drop what has not reached the final "." */
void	sessions_abandon(void);
void	session_free(struct session *);

/* main.c */
void	remote_answer(struct session *);
/* A session ended: take requests again if we had stopped. */
void	remote_session_gone(void);

#endif
