/*
 * reply.h - the client side of SMTP replies, for kurir-remote.
 *
 * Used by kurir-remote (remote user, chrooted, sandboxed), which talks to
 * servers it does not trust.  Pure: no I/O, no allocation, no global
 * state; every buffer is a fixed array or a capped struct buf.
 *
 *   reply_feed()        bytes from the server in, whole replies out
 *                       (RFC 5321 4.2, 4.2.1); any size, any chunking.
 *   reply_diag()        one printable line for logs and DSNs.
 *   reply_status_code() the enhanced status code (RFC 3463).
 *   ehlo_parse()        the extensions of a 250 reply to EHLO.
 *   dotenc_*()          a stored message (LF line ends) to DATA's wire
 *                       form: CRLF, dot-stuffing, the final ".\r\n"
 *                       (RFC 5321 4.5.2).
 */
#ifndef KURIR_REPLY_H
#define KURIR_REPLY_H

#include <stddef.h>

#include "buf.h"

/*
 * RFC 5321 4.5.3.1.5 says a reply line is at most 512 octets; real
 * servers exceed it, so be lenient, but bounded.
 */
#define REPLY_LINE_MAX	1000	/* octets in one reply line, CRLF included */
#define REPLY_LINES_MAX	64	/* lines in one multi-line reply */
#define REPLY_TEXT_MAX	2048	/* text kept for diagnostics and EHLO */

struct reply {
	int	 code;			/* 200..599 */
	size_t	 nlines;		/* lines the server sent, kept or not */
	/*
	 * The lines' texts after "ddd-"/"ddd ", each ended by '\n',
	 * NUL-terminated.  Lines are kept whole or not at all: once one
	 * does not fit, it and every later line are dropped and truncated
	 * is set, so a reader never meets half a line ("SIZE 5242" of
	 * "SIZE 52428800").  The first line always fits.  Raw server
	 * bytes (any but NUL): filter before logging (reply_diag does).
	 */
	char	 text[REPLY_TEXT_MAX];
	int	 truncated;
};

struct reply_parser {
	char		 line[REPLY_LINE_MAX];	/* the line being read, no line end */
	size_t		 len;		/* bytes in line */
	int		 cr;		/* last byte was a CR: a line end or a bare CR */
	size_t		 textlen;	/* bytes in r.text */
	struct reply	 r;		/* the reply so far */
	const char	*bad;		/* set once the server broke the grammar */
};

enum reply_status { REPLY_MORE, REPLY_DONE, REPLY_BAD };

void	reply_init(struct reply_parser *);
/*
 * Feed received bytes.  Consumes bytes up to the end of one complete reply
 * (*used set to what was consumed) -> REPLY_DONE with *out filled; or all
 * of them -> REPLY_MORE; or REPLY_BAD with *why ("reply line too long",
 * "too many reply lines", "malformed reply code", "reply code changed
 * within a multi-line reply", "NUL in reply"): the caller then drops the
 * connection and defers.  A line ends with CRLF; a bare LF is accepted as
 * a line end too (common), a bare CR inside a line is kept as a space.
 * Lines: "ddd" followed by ' ' (last line), '-' (more lines) or end of
 * line (last line, text empty); anything else is malformed.  After DONE
 * the parser is ready for the next reply (pipelined replies may follow in
 * the same bytes: the caller feeds the rest again).
 *
 * A line holds at most REPLY_LINE_MAX - 2 bytes before its end, whichever
 * end it has.  BAD is final: later calls return it again, with the same
 * *why, until reply_init.  On BAD, *used counts the bytes read up to and
 * including the offending one.  p may be NULL when n is 0.
 */
enum reply_status reply_feed(struct reply_parser *, const char *p, size_t n,
	    size_t *used, struct reply *out, const char **why);

/* One line for logs and DSNs: "550 5.1.1 text text" (lines joined by
 * spaces, control bytes and non-ASCII replaced, at most outlen-1). */
void	reply_diag(const struct reply *, char *out, size_t outlen);
/* The enhanced status code of the reply (RFC 3463) if its first line
 * starts with one whose class matches the code's first digit, else
 * "X.0.0" from the code's first digit; into code (>= 12 bytes). */
void	reply_status_code(const struct reply *, char *code, size_t codelen);

struct ehlo_ext {
	int		 pipelining, starttls, eightbitmime, smtputf8;
	int		 chunking, dsn;
	int		 size_given;
	unsigned long long size;	/* SIZE limit, 0: none announced / no limit */
	int		 auth;		/* AUTH offered (not used yet) */
};
/*
 * Keywords from a 250 reply to EHLO (lines after the first: the first is
 * the greeting text), case-insensitive; SIZE's number bounded (bad -> no
 * limit).  Any other code leaves *ext all zero.
 */
void	ehlo_parse(const struct reply *, struct ehlo_ext *);

/*
 * Message encoder: the queue stores the message with LF line ends; the
 * wire wants CRLF and dot-stuffing (RFC 5321 4.5.2).  Streaming: the
 * message arrives in chunks.  Every other byte goes through unchanged,
 * but a CR: the input must have none (fold.c makes each a line end), as
 * a bare CR on the wire could end DATA early at a lenient server.  One
 * that gets here anyway is refused (-1, errno EINVAL), never sent.
 */
struct dotenc {
	int	 bol;		/* at the beginning of a line */
};
void	dotenc_init(struct dotenc *);
/*
 * Append the encoding of n bytes to out; -1 if out refuses (buf cap,
 * errno EMSGSIZE or ENOMEM), out then holds part of the encoding.
 */
int	dotenc_add(struct dotenc *, const char *p, size_t n, struct buf *out);
/* End: CRLF if the message did not end with a line end, then ".\r\n". */
int	dotenc_end(struct dotenc *, struct buf *out);

#endif
