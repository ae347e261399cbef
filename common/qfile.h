/*
 * qfile.h - the queue on disk: ids, entry files, per-recipient state.
 *
 * Layout under <state_dir>/queue/ (doc/queue-format.md has the details):
 *   tmp/<id>    an entry being written; never a message; removed at start
 *   msg/<id>    a committed entry: envelope records, then the message
 *   state/<id>  append-only log of per-recipient delivery results
 *   bad/<id>    quarantined entries that failed to parse
 * Only kurir-queue creates msg/ entries (write tmp, fsync, rename, fsync
 * dir); kurir-send appends to state/ and removes finished entries.
 */
#ifndef KURIR_QFILE_H
#define KURIR_QFILE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define QID_LEN		16		/* hex digits: microseconds, sortable */
#define QFILE_MAGIC	"KURIR-QUEUE 1"
#define QFILE_MAX_RCPTS	10000		/* bound on one envelope */
#define QFILE_HDR_MAX	(4 * 1024 * 1024)	/* bound on the envelope part */
#define QFILE_SIZE_DIGITS 20		/* fixed width: patched at commit */
#define QFILE_FIELD_MAX	1024		/* bytes in one envelope value */
#define QSTATE_ERROR_MAX 1024		/* bytes of error text in a state line */
#define QFILE_MAX_TARGETS 1000		/* finished targets kept per recipient */

enum qstate { QS_PENDING, QS_DEFERRED, QS_DELIVERED, QS_FAILED };

struct qrcpt {
	char		*addr;
	enum qstate	 state;
	unsigned	 attempts;
	long long	 next_try;	/* unix seconds; 0: now */
	char		*last_error;	/* NULL if none */
	/* targets of an alias expansion that are finished (delivered or
	 * failed), as state-log keys: a retry skips them */
	char		**done;
	size_t		 ndone;
};

struct qenv {
	char		 id[QID_LEN + 1];
	long long	 arrival;	/* unix seconds */
	long long	 uid;		/* submitting uid, -1 for SMTP */
	char		*client;	/* how it came: "smtp ..." or "local" */
	char		*sender;	/* "" for the null sender */
	struct qrcpt	*rcpts;
	size_t		 nrcpts;
	uint64_t	 size;		/* message bytes after the envelope */
	size_t		 body_off;	/* where the message starts in the file */
	int		 warned;	/* state log: a delay warning went out */
};

/* A new id, unique within this process and sortable by time. */
void	qid_new(char id[QID_LEN + 1]);
int	qid_valid(const char *);

/* Is s fit for an envelope field (printable, no CR/LF, bounded)? */
int	qtext_valid(const char *s, size_t max);

/* Envelope records up to and including "end\n"; size is written in
 * QFILE_SIZE_DIGITS digits so it can be patched in place. */
int	qenv_format(struct buf *, const struct qenv *, size_t *size_off);
/*
 * Parse the envelope at the start of p.  Returns 0 and fills e (body_off
 * set), or -1 with *why.  e must be freed with qenv_free either way.
 */
int	qenv_parse(const char *p, size_t len, struct qenv *e, const char **why);
/* Open msg/<id> under queuedir, parse its envelope and check that the
 * file holds exactly size message bytes.  Returns the open fd (positioned
 * at the message) or -1 with *why. */
int	qenv_open(int msgdirfd, const char *id, struct qenv *e, const char **why);
void	qenv_free(struct qenv *);

/* Apply the state log state/<id> (if any) to e's recipients. */
int	qstate_apply(int statedirfd, struct qenv *e);
/* Append one result line; fsync if asked. */
int	qstate_append(int statedirfd, const char *id, size_t rcpt,
	    enum qstate, unsigned attempts, long long next_try,
	    const char *error, int do_fsync);
/*
 * Format one result line into b.  key NULL: the recipient itself; else
 * one target of its alias expansion ("user:alice", "remote:bob@x"),
 * written as "<rcpt>/<key>" with the key xtext-encoded (RFC 3461), so
 * it has no space or control byte.
 */
int	qstate_format(struct buf *b, size_t rcpt, const char *key,
	    enum qstate, unsigned attempts, long long next_try,
	    const char *error);
/* The line that records a delay warning sent to the sender. */
int	qstate_format_warned(struct buf *b);
/* Append the lines in b to state/<id> with one write; fdatasync if asked. */
int	qstate_write(int statedirfd, const char *id, const struct buf *b,
	    int do_fsync);
/* Is key among r's finished targets? */
int	qrcpt_done(const struct qrcpt *r, const char *key);
const char *qstate_name(enum qstate);

#endif
