/*
 * queue.h - kurir-queue internals: links (client connections),
 * transactions (one message being submitted) and the store.
 *
 * kurir-queue runs as the queue user.  It is the only program that
 * creates queue entries.  Inputs: the local submission socket (any local
 * user; the peer uid is recorded), trusted links handed over by kurird
 * (kurir-smtpd), and kurird's control channel.  Output: msg/<id> files.
 */
#ifndef KURIR_QUEUE_H
#define KURIR_QUEUE_H

#include <sys/queue.h>
#include <sys/types.h>
#include <event2/event.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "hops.h"
#include "qfile.h"
#include "qproto.h"

#define LINK_MAX		1024	/* open client connections */
#define LINK_TXN_MAX_LOCAL	1	/* sendmail submits one at a time */
#define LINK_TXN_MAX_TRUSTED	QP_TRUSTED_TXN_MAX /* smtpd multiplexes */
#define LINK_IDLE_TIMEOUT	600	/* seconds, local links only */
#define LINK_FIRST_TIMEOUT	10	/* seconds to a local link's first
					 * frame: kurir-sendmail has read the
					 * message before it connects */

struct qlink;

struct txn {
	uint32_t	 id;		/* the client's transaction number */
	struct qlink	*link;		/* NULL once the link is gone */
	char		 qid[QID_LEN + 1];
	long long	 arrival;
	char		*sender;
	char		**rcpts;
	size_t		 nrcpts, rcap;
	char		*client;	/* envelope "client" record */
	struct {			/* from QP_CLIENT, for Received */
		char	 helo[256], addr[64], proto[16], tls[128], auth[65];
	}		 smtp;
	int		 fd;		/* tmp/<qid>, -1 until opened */
	uint64_t	 size;		/* message bytes written */
	uint64_t	 added;		/* of which our own Received field */
	struct hops	 hops;		/* the client's Received + Delivered-To */
	size_t		 size_off;	/* where the size digits sit */
	int		 fail;		/* 0, or 4 / 5: reply at commit */
	char		 reason[160];
	LIST_ENTRY(txn)	 entry;		/* on link->txns */
	TAILQ_ENTRY(txn) centry;	/* on the commit list */
	int		 committing;
	int		 from_send;	/* a bounce or notice from kurir-send */
};

struct qlink {
	int		 fd;
	int		 trusted;	/* from kurird: may set client info */
	int		 sender;	/* the link to kurir-send (trusted too):
					 * told of every commit; its bounces */
	long long	 uid;		/* peer uid of a local link */
	char		 user[64];	/* its login name, for Received */
	struct buf	 in, out;
	struct event	*ev_read, *ev_write, *ev_idle;
	int		 spoke;		/* a frame came: the long idle time */
	LIST_HEAD(, txn) txns;
	size_t		 ntxns;
	LIST_ENTRY(qlink) entry;
};

struct queue_ctx {
	struct conf	 conf;
	const char	*conf_path;
	struct event_base *base;
	int		 tmpfd, msgfd;	/* directory fds */
	int		 group_sync;	/* one syncfs may stand for many fdatasyncs */
	char		 msgdir[4096];
	struct event	*ev_commit;
	TAILQ_HEAD(, txn) commits;
	LIST_HEAD(, qlink) links;
	size_t		 nlinks;
	size_t		 nlocal;		/* of which local (untrusted) */
	struct event	*ev_listen, *ev_listen_again;
	int		 stopping;
};

extern struct queue_ctx Q;

/* link.c */
void	link_accept_cb(evutil_socket_t, short, void *);
void	link_control_cb(evutil_socket_t, short, void *);
struct qlink *link_new(int fd, int trusted);
void	link_reply(struct qlink *, uint16_t type, uint32_t id, const char *);
void	link_close(struct qlink *);
void	link_notify_new(const char *qid);

/* store.c */
int	store_open(void);
int	store_space_low(void);
void	store_clean_tmp(void);
int	store_data(struct txn *, const char *, size_t);
void	store_commit(struct txn *);
void	store_commit_cb(evutil_socket_t, short, void *);
void	txn_free(struct txn *);

#endif
