/*
 * fold.h - make the lines of a stored message lines SMTP allows, for
 * kurir-remote: no CR but in a line end, none over 998 octets.
 *
 * Used by kurir-remote (remote user, chrooted, sandboxed) on the stored
 * message (LF line ends) before dotenc turns it into DATA's wire form.
 * kurir-smtpd and kurir-sendmail take lines of any length, but RFC 5321
 * 4.5.3.1.6 says a line on the wire is at most 998 octets plus CRLF, and
 * many servers refuse longer ones.  So no line leaves us longer:
 *
 *   header  a field line is folded (RFC 5322 2.2.3) by putting a line
 *           end before the last blank (SP or HT) at which the line can
 *           be cut with at most FOLD_LINE_MAX octets before it: unfolding
 *           gives the field back unchanged.  A line with no such blank
 *           gets a line end and one SP inserted after FOLD_LINE_MAX
 *           octets: the field stays a field, but unfolding shows a space
 *           that was not there (Postfix does the same).
 *   body    a line end is inserted after FOLD_LINE_MAX octets, as
 *           Postfix's smtp_line_length_limit does.
 *
 * The header is what hdr.c calls one: fields ("name:", blanks allowed
 * before the colon) and their continuation lines, up to the first empty
 * line or the first line that is neither; a line that is still a name
 * without a colon after FOLD_LINE_MAX octets is taken as the body's
 * first line.  Blanks before the colon are never fold points.
 *
 * First, CRs.  The queue stores LF line ends, but a CR can be data in
 * it: kurir-sendmail keeps a CR that no LF follows (SPEC), so cron
 * output or a PHP form can hand us "line1<CR>.<CR><LF>MAIL FROM:...".
 * Sent as it is, a server that takes a bare CR as a line end sees the
 * "." as the end of DATA and the rest as commands: SMTP smuggling.  RFC
 * 5322 2.3 allows CR only in CRLF, so every CR becomes a line end: a CR
 * alone is one, and a CR before an LF is part of that LF's.  A line end
 * rather than nothing, because that is what the sender most likely
 * meant (old Mac text, a program writing CR for a new line) and because
 * the dot after it then starts a line, where dotenc stuffs it: the
 * wire gets "line1<CRLF>..<CRLF>MAIL FROM:...", one message, its text
 * kept.  Removing the CR would glue the lines together instead.  The
 * output of fold_add holds no CR at all.
 *
 * Pure and streaming: no I/O, no allocation; the message arrives in
 * chunks of any size and the result does not depend on how it was cut.
 * At most the bytes after the last fold point of the current header
 * line (under FOLD_LINE_MAX) are held back, never a whole line.
 */
#ifndef KURIR_FOLD_H
#define KURIR_FOLD_H

#include <stddef.h>

#include "buf.h"

#define FOLD_LINE_MAX	998	/* octets before CRLF, RFC 5321 4.5.3.1.6 */

enum fold_line {
	FL_START,	/* at the start of a line, nothing seen */
	FL_NAME,	/* header: a field name so far */
	FL_BLANKS,	/* header: blanks after the name, before the colon */
	FL_FIELD,	/* header: after the colon, or a continuation line */
	FL_BODY,	/* the body: every later line too */
};

struct fold {
	enum fold_line	 line;
	int		 fields;	/* a field was seen: blanks continue it */
	size_t		 col;		/* octets of the output line so far,
					 * held ones included; <= FOLD_LINE_MAX */
	size_t		 nheld;		/* held[0] is the last fold point (a
					 * blank); 0: no fold point */
	char		 held[FOLD_LINE_MAX];
	unsigned long long folds;	/* line ends inserted, for the log */
	int		 cr;		/* the last byte was a CR, sent as LF */
	unsigned long long crs;		/* CRs made line ends, for the log */
};

void	fold_init(struct fold *);
/*
 * Append the folded form of n bytes to out, every CR made a line end
 * (LF) as said above; -1 if out refuses (buf cap,
 * errno EMSGSIZE or ENOMEM), out then holds part of it.
 */
int	fold_add(struct fold *, const char *p, size_t n, struct buf *out);
/* The message ends: append what is held back.  0 or -1 as fold_add. */
int	fold_end(struct fold *, struct buf *out);

#endif
