/*
 * hdr.h - RFC 5322 message header parsing, bounded and allocation-free.
 *
 * Runs in whatever process calls it (kurir-sendmail as the invoking user;
 * later smtpd and the bounce code as their own users).  Input is a message
 * held in memory with LF line ends (a CR just before an LF is tolerated
 * and treated as part of the line end).  Nothing is copied: fields point
 * into the caller's memory, addresses are handed to a callback one by one.
 *
 * The header ends at the first empty line, or - as sendmail and Postfix
 * do - at the first line that is neither a field ("name:" with a printable
 * name, optional blanks before the colon) nor a continuation (starts with
 * SP or HT).  That line and everything after it is the body.
 */
#ifndef KURIR_HDR_H
#define KURIR_HDR_H

#include <stddef.h>

#include "addr.h"
#include "buf.h"

struct hdr_field {
	const char	*name;		/* field name, without blanks or colon */
	size_t		 namelen;
	const char	*value;		/* after the colon, raw: folding kept */
	size_t		 valuelen;	/* excludes the final line end */
	size_t		 off;		/* whole field: offset in the message */
	size_t		 len;		/* ... and length, final LF included */
};

struct hdr_iter {
	const char	*msg;
	size_t		 len;
	size_t		 pos;		/* next unread byte */
	int		 done;
	size_t		 hdr_end;	/* valid once done: end of the last field */
	size_t		 body_off;	/* valid once done: first byte of the body */
	int		 has_sep;	/* valid once done: an empty line separated them */
};

void	hdr_iter_init(struct hdr_iter *, const char *msg, size_t len);
/*
 * Next header field: 1 and *f filled, or 0 at the end of the header
 * (then hdr_end, body_off and has_sep are set).  Never fails.
 */
int	hdr_iter_next(struct hdr_iter *, struct hdr_field *f);

/* Does the field's name equal name, ignoring ASCII case?  1 or 0. */
int	hdr_name_is(const struct hdr_field *, const char *name);
/* The same for a counted name. */
int	hdr_name_eq(const char *s, size_t len, const char *name);

/* First field called name (any case): 1 and *f filled, or 0. */
int	hdr_find(const char *msg, size_t len, const char *name,
	    struct hdr_field *f);

/*
 * Append the field value to out with folding undone (line ends removed,
 * RFC 5322 2.2.3) and leading/trailing blanks trimmed.  0 or -1 (errno
 * from buf: EMSGSIZE, ENOMEM).
 */
int	hdr_value_unfold(const struct hdr_field *, struct buf *out);

/* A mailbox found in an address-list value (To, Cc, Bcc, Resent-*, ...) */
struct hdr_mailbox {
	const char	*why;		/* NULL: valid; else why it was rejected */
	struct addr	 addr;		/* valid when why == NULL */
	char		 text[ADDR_TEXT_MAX];	/* canonical "local@domain" */
	const char	*raw;		/* the mailbox as written (display name too) */
	size_t		 rawlen;
};

/* Return 0 to go on, -1 to stop (hdr_addr_extract then returns -1). */
typedef int (*hdr_mailbox_fn)(const struct hdr_mailbox *, void *arg);

/*
 * Walk an address-list value: mailboxes "a@b", name-addr "Name <a@b>",
 * groups "Team: a@b, c@d;" and "undisclosed-recipients:;", comments
 * (nested, with quoted-pairs), quoted strings, folding, and the obsolete
 * forms (route "<@x,@y:a@b>", blanks around dots, empty list elements,
 * "a@b (Name)").  Each mailbox goes through addr_parse(flags) and is
 * passed to fn, valid or not; empty elements and empty groups are
 * skipped.  Returns the number of mailboxes passed (valid or not), or -1
 * if fn asked to stop.
 */
int	hdr_addr_extract(const char *value, size_t len, int flags,
	    hdr_mailbox_fn fn, void *arg);

#endif
