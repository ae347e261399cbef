/*
 * smtp_parse.h - parser for one SMTP command line (RFC 5321, ESMTP).
 *
 * Used by kurir-smtpd (runs as the smtpd user, chrooted, sandboxed).
 * Pure: no I/O, no global state, no allocation.  The caller has removed
 * the CRLF, enforced the line limit and refused NUL bytes (the parser is
 * still safe on any bytes: it works on the given length and never
 * assumes a terminator).  The result either fills a struct smtp_cmd with
 * validated fields or names the complete reply line to send; policy
 * (command order, relaying, limits) is cmd.c's job, not this file's.
 */
#ifndef KURIR_SMTP_PARSE_H
#define KURIR_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_BDAT, SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_HELP, SMTP_VRFY,
	SMTP_EXPN, SMTP_STARTTLS, SMTP_AUTH
};

enum smtp_body { SMTP_BODY_UNSET, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

#define SMTP_HELO_MAX		255	/* bytes of a HELO/EHLO argument */
#define SMTP_MECH_MAX		20	/* RFC 4422 3.1 */
#define SMTP_NUMBER_DIGITS	20	/* SIZE= and BDAT: UINT64_MAX has 20 */

struct smtp_cmd {
	enum smtp_verb	 verb;
	/*
	 * Text after the verb and the spaces that follow it, trailing spaces
	 * removed; points into the caller's line, not NUL-terminated.  Raw
	 * client bytes: never echo it into a reply or log unfiltered.
	 */
	const char	*arg;
	size_t		 arglen;
	char		 helo[SMTP_HELO_MAX + 1];	/* HELO/EHLO, validated */
	struct addr	 addr;				/* MAIL/RCPT path */
	int		 has_size;			/* MAIL SIZE= */
	uint64_t	 size;
	enum smtp_body	 body;				/* MAIL BODY= */
	int		 smtputf8;			/* MAIL SMTPUTF8 */
	uint64_t	 chunk;				/* BDAT chunk size */
	int		 last;				/* BDAT ... LAST */
	char		 mech[SMTP_MECH_MAX + 1];	/* AUTH, upper case */
	/* AUTH initial response: base64 text, or "=" for an empty one
	 * (RFC 4954 4); points into the caller's line */
	const char	*initial;
	size_t		 initial_len;
	int		 has_initial;
	/* room for replies that name the offending keyword; *reply may
	 * point here, so it lives as long as this struct */
	char		 reply_buf[96];
};

/* the session may use SMTPUTF8 addresses (set when MAIL had SMTPUTF8) */
#define SMTP_PARSE_UTF8	0x01

/*
 * Parse line[0..len).  Returns 0 with *cmd filled, or -1 with *reply
 * set to a complete reply line without CRLF ("501 5.1.7 Bad sender
 * address syntax"); then cmd->verb (when the verb was known), arg and
 * arglen are set and every other field is cleared.
 * *reply is static text or points into cmd->reply_buf, and never holds a
 * byte the client chose other than a validated ESMTP keyword.
 */
int		 smtp_parse(const char *line, size_t len, int flags,
		    struct smtp_cmd *cmd, const char **reply);

/* "MAIL", "RCPT", ...; "UNKNOWN" for SMTP_UNKNOWN or a bad value. */
const char	*smtp_verb_name(enum smtp_verb);

#endif
