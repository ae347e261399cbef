/*
 * local.h - kurir-local internals: the request parser, the Maildir
 * writer, batches and the link to kurir-send.
 *
 * kurir-local runs as the mail user (when started as root), chrooted to
 * mail_dir, in the POP3_USER seccomp profile (file calls only).  Input:
 * LP_DELIVER frames from kurir-send on one UNIX socket, each with the
 * queue entry as a read-only descriptor (localproto.h).  Output: one file
 * per request in <mailbox>/new/ (via tmp/) and one answer frame per
 * request.  Every path is relative to the mail_dir descriptor, every
 * directory is opened with O_NOFOLLOW, and a mailbox name reaches the
 * filesystem only after users_name_valid() accepted it.
 *
 *   req.c      local_req_parse: the LP_DELIVER payload (pure, fuzzed)
 *   maildir.c  Maildir directories, unique names, the host name part
 *   batch.c    one batch: write + fdatasync, link, fsync new/, answers
 *   link.c     frames and passed descriptors on the socket, event loop
 */
#ifndef KURIR_LOCAL_H
#define KURIR_LOCAL_H

#include <sys/types.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define LOCAL_BATCH_MAX	256	/* requests made durable together */
#define LOCAL_NUM_MAX	20	/* digits of offset and size */
#define LOCAL_ADDR_MAX	512	/* bytes of return-path / delivered-to */
#define LOCAL_MBOX_MAX	64	/* users_name_valid() allows no more */
#define LOCAL_TAG_MAX	24	/* "<qid>-<rcpt index>" */
#define LOCAL_REQ_MAX	(2 * (LOCAL_NUM_MAX + 1) + LOCAL_MBOX_MAX + 1 + \
			    2 * (LOCAL_ADDR_MAX + 1) + LOCAL_TAG_MAX + 2)
#define LOCAL_SCAN_MAX	(256 * 1024)	/* header bytes searched for
					 * Delivered-To; also the copy chunk */
#define LOCAL_HOST_MAX	128	/* the escaped host name part of a name */
#define LOCAL_NAME_MAX	256	/* a Maildir file name, NUL included */
#define LOCAL_TEXT_MAX	384	/* an answer: status code and text */
#define LOCAL_OUT_HIGH	(256 * 1024)	/* unsent answers: stop reading */
#define LOCAL_NAME_TRIES 8	/* fresh names tried on EEXIST */

/* An LP_DELIVER payload, parsed.  The strings point into the payload. */
struct local_req {
	long long	 offset;	/* of the message in the queue entry */
	long long	 size;		/* its length in bytes */
	const char	*mailbox;	/* users_name_valid() */
	const char	*sender;	/* "" for <>; no control bytes */
	const char	*rcpt;		/* non-empty; no control bytes */
	const char	*tag;		/* "<qid>-<index>" or NULL: goes into
					 * the file name */
	int		 check;		/* look for a copy with this tag first */
};

/* One mailbox opened for a batch. */
struct maildir {
	char		 name[LOCAL_MBOX_MAX + 1];
	int		 tmp_fd, new_fd, cur_fd;
	size_t		 linked;	/* files linked into new/ this batch */
};

/* One request on its way through a batch. */
struct delivery {
	uint32_t	 id;		/* frame id, echoed in the answer */
	int		 qfd;		/* the queue entry, or -1 */
	char		 payload[LOCAL_REQ_MAX];
	struct local_req req;
	uint16_t	 status;	/* 0 while in progress, else LP_* */
	char		 text[LOCAL_TEXT_MAX];
	char		 tmpname[LOCAL_NAME_MAX];
	char		 newname[LOCAL_NAME_MAX];
	struct maildir	*md;
	int		 wfd;		/* tmp file written, its sync deferred
					 * to the batch's syncfs; else -1 */
};

struct local_ctx {
	int		 root_fd;	/* mail_dir */
	dev_t		 root_dev;	/* its filesystem */
	int		 group_sync;	/* syncfs may stand for fdatasyncs there */
	int		 group_round;	/* this batch syncs that way */
	int		 peer_fd;	/* the link to kurir-send, or -1 */
	long		 pid;
	char		 host[LOCAL_HOST_MAX];
	unsigned long long counter;
	char		*chunk;		/* LOCAL_SCAN_MAX bytes */
	struct buf	 field;		/* an unfolded Delivered-To value */
	struct maildir	 md[LOCAL_BATCH_MAX];
	size_t		 nmd;
};

/* The socket to kurir-send and the batch being collected from it. */
struct local_link {
	int		 fd;
	struct event_base *base;
	struct event	*ev_read, *ev_write;
	int		 reading;	/* ev_read is added */
	struct buf	 in;		/* the frame being received */
	int		 in_fd;		/* the descriptor that came with it */
	struct buf	 out;		/* answers not yet sent */
	struct delivery	*batch;		/* LOCAL_BATCH_MAX */
	size_t		 n;
	struct local_ctx *ctx;
	int		 done;		/* the link is finished */
	int		 exit_code;
};

/* req.c */
/*
 * Parse "offset\0size\0mailbox\0return-path\0delivered-to\0" and an
 * optional sixth field "[!]tag\0" (nothing after), tag being
 * "<16 hex digits>-<1 to 5 digits>"; '!' asks to look for an earlier copy.  0 and *r filled (pointers
 * into p), or -1 with *why a short reason.  Pure: no I/O, no allocation.
 */
int	local_req_parse(const char *p, size_t len, struct local_req *r,
	    const char **why);

/* maildir.c */
/* 0, or -1 (out of memory).  root_fd is mail_dir; host: gethostname(). */
int	local_init(struct local_ctx *, int root_fd, const char *host);
void	local_free(struct local_ctx *);
/* Maildir escaping of a host name: '/' -> \057, ':' -> \072, and other
 * bytes outside printable ASCII as \ooo too; cut to fit. */
void	maildir_host(const char *host, char *out, size_t outlen);
/* A fresh unique file name "<sec>.M<usec>P<pid>Q<n>R<random>.<host>",
 * with "K<tag>" after the random part when tag is not NULL. */
void	maildir_uniq(struct local_ctx *, const char *tag, char *out,
	    size_t outlen);
/* Is there a file with "K<tag>." in its name in new/ or cur/?  1 and its
 * name in found, 0, or -1 (errno). */
int	maildir_find_tag(const struct maildir *, const char *tag, char *found,
	    size_t foundlen);
/*
 * The mailbox's Maildir for this batch, opened (and created, 0700, when
 * missing) without following any symlink.  NULL with errno set (ELOOP:
 * a symlink is in the way, ENOTDIR: something else is) and *what the
 * directory concerned ("alice/new").
 */
struct maildir *maildir_get(struct local_ctx *, const char *mailbox,
	    char *what, size_t whatlen);
void	maildir_close_all(struct local_ctx *);

/* batch.c */
/* Take a request: copy and parse its payload; qfd now belongs to d. */
void	delivery_init(struct delivery *, uint32_t id, const void *payload,
	    size_t len, int qfd);
/*
 * Has kurir-send hung up (peer_fd)?  Its requests still in the socket,
 * or in a batch not yet linked into new/, are then not delivered: no one
 * would record the result, and the next kurir-send sends them again.
 */
int	local_peer_gone(const struct local_ctx *);
/* Deliver n requests as one batch; each ends with status and text set
 * and its descriptor closed. */
void	local_batch_run(struct local_ctx *, struct delivery *, size_t n);

/* link.c */
int	link_setup(struct local_link *, struct event_base *, int fd,
	    struct local_ctx *);
void	link_teardown(struct local_link *);
/* Finish: send what answers can still go, stop the event loop. */
void	link_finish(struct local_link *, int exit_code);

#endif
