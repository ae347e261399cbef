/*
 * textdec.h - the message-text decoder of kurir-smtpd (DATA and BDAT).
 *
 * Pure: no I/O, no session; fed bytes as they arrive, it hands decoded
 * text (LF line ends, dot-stuffing undone) to an emit callback and
 * remembers the first reason the message must be refused.  Kept apart
 * so that the part of SMTP where smuggling lives is unit-tested and
 * fuzzed on its own.
 *
 * Streaming: text is emitted in runs as it arrives, never collected
 * into lines, so a line of any length costs no memory here; at most the
 * last two bytes of a read (a "." or CR at the start of a line or of a
 * CRLF) are left for the caller to offer again.
 */
#ifndef KURIR_TEXTDEC_H
#define KURIR_TEXTDEC_H

#include <stddef.h>

/* why a message will be refused at its end */
enum msg_error {
	ME_NONE,
	ME_TOO_BIG,		/* 552 5.3.4 (set by the caller's emit) */
	ME_BARE_EOL,		/* bare CR or LF: SMTP smuggling defence */
	ME_NUL,			/* NUL byte */
	ME_LONG_LINE,		/* text line over the configured limit */
	ME_QUEUE,		/* the queue link failed: 451 (set by the caller) */
	ME_HOPS,		/* over max_hop_count: 554 5.4.6 (set by the caller) */
};

typedef void (*textdec_emit)(void *arg, const char *p, size_t n);

struct textdec {
	int		 line_start;	/* at the start of a line (after CRLF) */
	size_t		 line_max;	/* octets a line may have before its
					 * CRLF (a stuffed dot not counted);
					 * 0: any (smtp_line_length_limit) */
	size_t		 line_len;	/* octets of the current line so
					 * far (only with a limit; saturates) */
	int		 cr_pending;	/* BDAT: the last byte seen was CR */
	enum msg_error	 error;		/* first reason to refuse; emit stops */
};

/* line_max: as smtp_line_length_limit, 0 for no limit. */
void	textdec_init(struct textdec *, size_t line_max);
/* Record a reason to refuse (the first one wins); emit stops. */
void	textdec_flag(struct textdec *, enum msg_error);
/*
 * DATA: decode what can be decided from p[0..n); returns the bytes used
 * (the rest must be offered again with more input).  *done is set once
 * <CRLF>.<CRLF> has been consumed: only that sequence ends the text.
 */
size_t	textdec_data(struct textdec *, const char *p, size_t n,
	    textdec_emit, void *arg, int *done);
/* BDAT: all n bytes are message octets; CRLF becomes LF. */
void	textdec_bdat(struct textdec *, const char *p, size_t n,
	    textdec_emit, void *arg);
/* BDAT LAST: the message ends here (a trailing lone CR is refused). */
void	textdec_bdat_end(struct textdec *);

#endif
