/*
 * cmd.h - parser for one POP3 command line: RFC 1939, RFC 2449 (CAPA),
 * RFC 2595 (STLS), RFC 5034 (AUTH).
 *
 * Used by kurir-pop3d: the pre-auth process (pop3 user, chrooted,
 * sandboxed) for the AUTHORIZATION state and the session process (mail
 * user, chrooted to the Maildir) for TRANSACTION.  Pure: no I/O, no
 * global state, no allocation.  Command order (PASS only after USER,
 * STLS only once, ...) is the session's business, not this file's.
 */
#ifndef KURIR_POP3_CMD_H
#define KURIR_POP3_CMD_H

#include <stddef.h>

#define POP3_LINE_MAX	255	/* octets of a command line, CRLF included (RFC 2449 section 4) */
#define POP3_NUM_MAX	2147483647UL	/* message numbers 1..this */
#define POP3_USER_MAX	64	/* bytes of a USER / APOP name */
#define POP3_MECH_MAX	20	/* bytes of a SASL mechanism name (RFC 4422 3.1) */
#define POP3_DIGEST_LEN	32	/* APOP: MD5 in lower-case hex */

enum pop3_state { P3_AUTHORIZATION, P3_TRANSACTION };	/* UPDATE needs no parsing */

enum pop3_cmd {
	P3_USER, P3_PASS, P3_APOP, P3_AUTH, P3_STLS, P3_CAPA, P3_QUIT,
	P3_STAT, P3_LIST, P3_RETR, P3_DELE, P3_NOOP, P3_RSET, P3_TOP, P3_UIDL,
};

struct pop3_req {
	enum pop3_cmd	 cmd;
	int		 nnums;		/* numbers given: 0, 1 or 2 (TOP) */
	unsigned long	 num[2];	/* message number; TOP's line count (0..POP3_NUM_MAX) */
	/*
	 * USER name, PASS password (verbatim, may hold spaces), AUTH
	 * mechanism (upper-cased in place), APOP name.  NUL-terminated
	 * inside line[0..len): each argument is moved one byte to the left,
	 * over the space before it, so its terminator never needs line[len].
	 * Raw client bytes (PASS: a secret): never log them.
	 */
	const char	*arg;
	const char	*arg2;		/* AUTH initial response (or "="), APOP digest; NULL if none */
};

/*
 * Parse one command line: line[0..len) WITHOUT its line end (the caller
 * strips CRLF / LF and checks len + 2 <= POP3_LINE_MAX before calling;
 * the parser checks len too).  Only line[0..len) is read or written; the
 * line is modified (arguments moved and NUL-terminated in place).
 * Returns 0 with *req filled, or -1 with *req zeroed and *err a static
 * text for "-ERR <err>" (short, printable, never echoing the input).
 *
 * Rules: keyword case-insensitive (ASCII only), followed by exactly one
 * space and the arguments; one or more spaces between arguments,
 * trailing spaces ignored, no tabs, no space right after the separator.
 * Numbers plain decimal digits, leading zeros allowed, value bounded:
 * message numbers 1..POP3_NUM_MAX, TOP's line count 0..POP3_NUM_MAX.
 * LIST/UIDL [n], RETR/DELE n, TOP n lines; STAT NOOP RSET QUIT CAPA STLS
 * take nothing.  USER name: 1..64 printable ASCII bytes, no '/', no "..",
 * no leading '.'.  PASS: the rest of the line after "PASS ", verbatim,
 * not empty.  AUTH mechanism [initial-response]: mechanism [A-Za-z0-9-_]
 * 1..20, response base64 or "=".  APOP name digest: name as USER, digest
 * 32 lower-case hex.  A NUL byte anywhere is an error.
 */
int		 pop3_parse(char *line, size_t len, struct pop3_req *, const char **err);

/*
 * Is the command allowed in this state?  AUTHORIZATION: USER, PASS,
 * APOP, AUTH, STLS, CAPA, QUIT; TRANSACTION: STAT, LIST, RETR, DELE,
 * NOOP, RSET, TOP, UIDL, CAPA, QUIT.  1 or 0; 0 for values out of range.
 */
int		 pop3_allowed(enum pop3_state, enum pop3_cmd);

/*
 * Was err (from pop3_parse) about the command itself - an unknown word,
 * an overlong line, a NUL - rather than its arguments?  1 or 0.  A
 * message number that does not exist is a client's ordinary mistake; a
 * word that is no command at all is not.
 */
int		 pop3_err_is_bad_command(const char *err);

/* "USER" ... for logs; "?" for a value out of range */
const char	*pop3_cmd_name(enum pop3_cmd);

#endif
