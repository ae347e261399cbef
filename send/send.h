/*
 * send.h - kurir-send internals: the queue manager and scheduler.
 *
 * kurir-send runs as the queue user, chrooted to <state_dir>/queue, in
 * the SEND seccomp profile (file calls on its queue, I/O on the links it
 * was given; no sockets, no exec).  It never writes a message: it reads
 * msg/<id>, asks kurir-auth where each recipient goes, hands the entry's
 * descriptor to kurir-local (or later kurir-remote), records results in
 * state/<id> and removes finished entries.  Bounces go back to
 * kurir-queue as new messages.
 *
 *   link.c    non-blocking frame links, with descriptors on the way out
 *   sched.c   entries known, their timers, the run queue, scan and flush
 *   round.c   one delivery round of one entry: load, resolve, deliver
 *   finish.c  results of a round: backoff, expiry, bounces, state lines,
 *             group commit, removal
 *   dsn.c     RFC 3464 delivery status notifications (pure)
 *   main.c    start-up, control channel, signals
 */
#ifndef KURIR_SEND_H
#define KURIR_SEND_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "frame.h"
#include "qfile.h"

#define ROUNDS_MAX	512	/* entries being worked on at once (fewer if
				 * the descriptor limit is low) */
#define AGENT_RETRY_SECS 5	/* an agent was missing: try again this soon */
#define RESCAN_SECS	600	/* look for entries a lost notice left behind */
#define STOP_WAIT_SECS	10	/* SIGTERM: answers still awaited this long */
#define SLINK_OUT_HIGH	(4 * 1024 * 1024)
#define JOB_TEXT_MAX	512

/* A link to another service: frames in, frames (and descriptors) out. */
struct slink;
typedef void (*slink_frame_cb)(struct slink *, const struct frame *);
typedef void (*slink_down_cb)(struct slink *);

struct slink_fd {
	size_t		 at;		/* offset in out where its frame starts */
	int		 fd;
};

struct slink {
	const char	*name;		/* peer, for the log */
	int		 fd;		/* -1: down */
	struct buf	 in, out;
	struct slink_fd	*fds;		/* descriptors to go with out */
	size_t		 nfds, fdcap;
	struct event	*ev_read, *ev_write;
	slink_frame_cb	 on_frame;
	slink_down_cb	 on_down;
};

enum job_kind {
	JOB_RESOLVE,	/* asking kurir-auth where a local recipient goes */
	JOB_LOCAL,	/* into a Maildir by kurir-local */
	JOB_REMOTE,	/* to another host by kurir-remote */
	JOB_FAIL,	/* nowhere: failed before any attempt */
};

/* One recipient, or one target of its alias expansion, in a round. */
struct job {
	size_t		 rcpt;		/* index in the envelope */
	enum job_kind	 kind;
	char		*key;		/* target key ("user:alice"), NULL: the
					 * recipient is its own only target */
	char		*addr;		/* final address (Delivered-To, or the
					 * remote address) */
	char		*mailbox;	/* JOB_LOCAL: the user name */
	enum qstate	 result;	/* QS_PENDING until known */
	int		 not_tried;	/* no agent to ask: no attempt counted */
	int		 asked;		/* a request is out */
	int		 replaced;	/* a resolve job, replaced by its targets */
	int		 ready;		/* JOB_REMOTE: to go in the next request */
	size_t		 dup_of;	/* 1 + the job with the same target in
					 * this round (one copy each), or 0 */
	char		 text[JOB_TEXT_MAX];
	char		*mta;		/* JOB_REMOTE: the server that answered */
};

struct entry;

struct round {
	struct entry	*e;
	struct qenv	 env;
	int		 fd;		/* msg/<id>, open for the round */
	long long	 now;
	struct job	*jobs;
	size_t		 njobs, jcap;
	size_t		 waiting;	/* requests out */
	int		 done;		/* every job has its result */
	struct buf	 lines;		/* state lines to write */
	int		 complete;	/* every recipient finished: remove */
	int		 bounce_out;	/* a bounce is being queued */
	int		 warning_out;	/* of which a delay warning */
	long long	 next;		/* when the entry is due again */
	TAILQ_ENTRY(round) cq;		/* on the commit list */
};

struct entry {
	RB_ENTRY(entry)	 node;
	char		 qid[QID_LEN + 1];
	struct event	*ev_due;
	int		 queued;	/* on the run queue */
	TAILQ_ENTRY(entry) runq;
	struct round	*round;		/* while a round runs */
	int		 force;		/* flush: deferred is due now */
	int		 again;		/* news during the round: run again */
	int		 wait_agent;	/* waits for a link to come up */
	int		 check;		/* copies may exist whose results were
					 * lost (found by a scan, or a link went
					 * down): kurir-local looks first */
	int		 gone;		/* removed: free after the round */
};

RB_HEAD(entry_tree, entry);

/* A request out on a link, waiting for its answer. */
enum req_kind { REQ_RESOLVE, REQ_LOCAL, REQ_BOUNCE, REQ_REMOTE };

struct req {
	RB_ENTRY(req)	 node;
	uint32_t	 id;
	enum req_kind	 kind;
	struct round	*r;
	size_t		 job;		/* REQ_RESOLVE, REQ_LOCAL */
	size_t		*jobs;		/* REQ_REMOTE: one per recipient line */
	size_t		 njobs;
};

RB_HEAD(req_tree, req);

struct send_ctx {
	struct conf	 conf;
	struct event_base *base;
	int		 msgfd, statefd, badfd;	/* queue directories */
	struct slink	 queue, auth, local, remote;
	struct entry_tree entries;
	size_t		 nentries;
	TAILQ_HEAD(, entry) runq;
	size_t		 nrounds;	/* running */
	size_t		 rounds_max;	/* ROUNDS_MAX, or what the fd limit allows */
	struct req_tree	 reqs;
	uint32_t	 next_req;
	TAILQ_HEAD(, round) commits;
	struct event	*ev_commit, *ev_rescan, *ev_stop;
	int		 stopping;
};

extern struct send_ctx S;

/* link.c */
void	slink_init(struct slink *, const char *name, slink_frame_cb,
	    slink_down_cb);
/* Take fd as the link (replacing a previous one, which goes down). */
int	slink_attach(struct slink *, struct event_base *, int fd);
int	slink_up(const struct slink *);
/* Queue one frame; passfd (or -1) is duplicated and sent with it.
 * -1: the link is down or too far behind. */
int	slink_send(struct slink *, uint16_t type, uint32_t id,
	    const void *data, size_t len, int passfd);
void	slink_close(struct slink *);
/* Bring the link down now (a bad answer): on_down runs. */
void	slink_down(struct slink *);

/* sched.c */
int	entry_cmp(struct entry *, struct entry *);
RB_PROTOTYPE(entry_tree, entry, node, entry_cmp);
void	sched_init(void);
/* A new or known id is due now (kurir-queue's notice, the scan). */
void	sched_notify(const char *qid);
/* Make e due at time t (unix seconds; 0: now). */
void	sched_at(struct entry *, long long t);
void	sched_scan(void);
void	sched_flush(void);
/* An agent link came up: entries that waited for one are due now. */
void	sched_agent_up(void);
/* Start rounds from the run queue while there is room. */
void	sched_pump(void);
/* The round of e is over: schedule, or forget e. */
void	sched_round_over(struct entry *, long long next, int gone);

/* round.c */
int	req_cmp(struct req *, struct req *);
RB_PROTOTYPE(req_tree, req, node, req_cmp);
void	round_start(struct entry *);
struct req *req_new(enum req_kind, struct round *, size_t job);
void	req_drop(struct req *);
void	round_auth_frame(struct slink *, const struct frame *);
void	round_local_frame(struct slink *, const struct frame *);
void	round_queue_frame(struct slink *, const struct frame *);
void	round_link_down(struct slink *);
void	round_check(struct round *);
void	job_not_tried(struct round *, size_t job, const char *why);
/* The answer to an AP/LP/RP request on l: its request, the text copied;
 * NULL (and l brought down) if none of that kind is out. */
struct req *answer_req(struct slink *, const struct frame *,
	    enum req_kind, char *text, size_t len);
void	req_free(struct req *);

/* remote.c */
/* Send the round's remote jobs that are ready, one request per domain. */
void	remote_dispatch(struct round *);
void	remote_frame(struct slink *, const struct frame *);
/* A job's result is known. */
void	job_done(struct round *, size_t job, enum qstate, const char *text);
void	round_free(struct round *);

/* finish.c */
/* Every job of r has its result: bounce what failed, then commit. */
void	round_finish(struct round *);
void	finish_bounce_answer(struct round *, uint16_t type, const char *);
void	commit_cb(evutil_socket_t, short, void *);
long long backoff(const struct conf *, unsigned attempts);

#endif
