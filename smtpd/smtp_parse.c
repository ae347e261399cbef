/*
 * smtp_parse.c - one SMTP command line in, a validated struct smtp_cmd
 * or a reply line out (API in smtp_parse.h).
 *
 * Used by kurir-smtpd (smtpd user, chrooted, sandboxed); pure, so the
 * unit tests and the fuzzer run it as is.  Grammar: RFC 5321 4.1.1 and
 * 4.1.2 (esmtp-param), RFC 1870 (SIZE), RFC 6152 (BODY=8BITMIME),
 * RFC 6531 (SMTPUTF8), RFC 3030 (BDAT), RFC 4954 (AUTH, AUTH=).
 *
 * Leniency follows what real clients send and Postfix accepts: verbs in
 * any case, extra spaces before arguments and between parameters,
 * trailing spaces, "MAIL FROM: <a@b>".  Strictness is kept where bytes
 * travel on: paths go through addr_parse_path() (the one address
 * validator), ESMTP values are printable ASCII only, so nothing a client
 * sends in a parameter can become a header line or a control character.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "base64.h"
#include "smtp_parse.h"

#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define TO_UPPER(c)	(((c) >= 'a' && (c) <= 'z') ? (c) - ('a' - 'A') : (c))

/* Replies.  ENHANCEDSTATUSCODES (RFC 3463) on every line. */
#define R_UNKNOWN	"500 5.5.2 Command not recognized"
#define R_PARAM_SYNTAX	"501 5.5.4 Syntax error in parameters"
#define R_PARAM_DUP	"501 5.5.4 Duplicate parameter"
#define R_SIZE		"501 5.5.4 Bad SIZE= value"
#define R_BODY_SYNTAX	"501 5.5.4 BODY= needs a value"
#define R_BODY		"555 5.5.4 Unsupported BODY= value"
#define R_SMTPUTF8	"501 5.5.4 SMTPUTF8 takes no value"
#define R_AUTH_PARAM	"501 5.5.4 Bad AUTH= value"
#define R_SENDER	"501 5.1.7 Bad sender address syntax"
#define R_RCPT		"501 5.1.3 Bad recipient address syntax"
#define R_BASE64	"501 5.5.2 Cannot decode AUTH initial response"

/* Known verbs, with the reply for a bad argument. */
static const struct verb_info {
	const char	*name;
	enum smtp_verb	 verb;
	const char	*syntax;
} verbs[] = {
	{ "HELO", SMTP_HELO, "501 5.5.4 Syntax: HELO hostname" },
	{ "EHLO", SMTP_EHLO, "501 5.5.4 Syntax: EHLO hostname" },
	{ "MAIL", SMTP_MAIL, "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "RCPT", SMTP_RCPT, "501 5.5.4 Syntax: RCPT TO:<address>" },
	{ "DATA", SMTP_DATA, "501 5.5.4 Syntax: DATA" },
	{ "BDAT", SMTP_BDAT, "501 5.5.4 Syntax: BDAT chunk-size [LAST]" },
	{ "RSET", SMTP_RSET, "501 5.5.4 Syntax: RSET" },
	{ "NOOP", SMTP_NOOP, NULL },
	{ "QUIT", SMTP_QUIT, "501 5.5.4 Syntax: QUIT" },
	{ "HELP", SMTP_HELP, NULL },
	{ "VRFY", SMTP_VRFY, "501 5.5.4 Syntax: VRFY address" },
	{ "EXPN", SMTP_EXPN, "501 5.5.4 Syntax: EXPN mailing-list" },
	{ "STARTTLS", SMTP_STARTTLS, "501 5.5.4 Syntax: STARTTLS" },
	{ "AUTH", SMTP_AUTH,
	    "501 5.5.4 Syntax: AUTH mechanism [initial-response]" },
};
#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

/* Known MAIL parameters; a bit each, for duplicate detection. */
#define P_SIZE		0x01
#define P_BODY		0x02
#define P_SMTPUTF8	0x04
#define P_AUTH		0x08

/* s[0..n) equals the upper-case word w, ignoring ASCII case. */
static int
parse_word_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (TO_UPPER((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return 1;
}

/*
 * Next space-separated token of s[*pos..n): skips spaces, sets *tok and
 * *toklen, advances *pos past the token.  0 when only spaces were left.
 */
static int
parse_token(const char *s, size_t n, size_t *pos, const char **tok,
    size_t *toklen)
{
	size_t i = *pos, start;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n) {
		*pos = n;
		return 0;
	}
	start = i;
	while (i < n && s[i] != ' ')
		i++;
	*tok = s + start;
	*toklen = i - start;
	*pos = i;
	return 1;
}

/* 1..20 decimal digits that fit in 64 bits.  Not strtonum(): the text is
 * not NUL-terminated and the range is all of uint64_t. */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > SMTP_NUMBER_DIGITS)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (!IS_DIGIT(s[i]))
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* RFC 3461 4: xtext = *( xchar / "+" 2HEXDIG ), xchar = "!".."~" but
 * "+" and "=".  Hex digits of either case: AUTH= is ignored anyway. */
static int
parse_xtext_valid(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (n - i < 3)
				return 0;
			for (size_t k = 1; k <= 2; k++) {
				unsigned char h = (unsigned char)s[i + k];

				if (!IS_DIGIT(h) && !(TO_UPPER(h) >= 'A' &&
				    TO_UPPER(h) <= 'F'))
					return 0;
			}
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return 0;
	}
	return 1;
}

/*
 * One esmtp-param token (RFC 5321 4.1.2): keyword ["=" value],
 * keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
 * value = 1*(%d33-60 / %d62-126).  Splits it; -1 if malformed.  The
 * value range is what makes header injection through parameters
 * impossible: no control character, space or 8-bit byte passes.
 */
static int
parse_param_split(const char *t, size_t n, size_t *kwlen, const char **val,
    size_t *vallen)
{
	size_t i;

	for (i = 0; i < n && t[i] != '='; i++) {
		unsigned char c = (unsigned char)t[i];

		if (!IS_ALPHA(c) && !IS_DIGIT(c) && !(c == '-' && i > 0))
			return -1;
	}
	if (i == 0)
		return -1;
	*kwlen = i;
	*val = NULL;
	*vallen = 0;
	if (i == n)
		return 0;
	*val = t + i + 1;
	*vallen = n - i - 1;
	if (*vallen == 0)
		return -1;
	for (i = 0; i < *vallen; i++) {
		unsigned char c = (unsigned char)(*val)[i];

		if (c < 33 || c > 126 || c == '=')
			return -1;
	}
	return 0;
}

/* 555 naming the keyword: safe to echo, it passed parse_param_split(). */
static const char *
parse_unsupported(struct smtp_cmd *cmd, const char *kw, size_t kwlen)
{
	int n = snprintf(cmd->reply_buf, sizeof(cmd->reply_buf),
	    "555 5.5.4 Unsupported option: %.*s",
	    (int)(kwlen > 40 ? 40 : kwlen), kw);

	if (n < 0)
		return "555 5.5.4 Unsupported option";
	return cmd->reply_buf;
}

/*
 * The parameters after a MAIL or RCPT path, p[0..n).  Two passes: every
 * token's syntax first, so a malformed parameter is always 501 whatever
 * stands before it; then the meaning of each keyword.
 */
static const char *
parse_params(struct smtp_cmd *cmd, const char *p, size_t n)
{
	const char *tok, *val;
	size_t pos = 0, toklen, kwlen, vallen;
	unsigned seen = 0, bit;

	while (parse_token(p, n, &pos, &tok, &toklen))
		if (parse_param_split(tok, toklen, &kwlen, &val, &vallen) == -1)
			return R_PARAM_SYNTAX;
	pos = 0;
	while (parse_token(p, n, &pos, &tok, &toklen)) {
		(void)parse_param_split(tok, toklen, &kwlen, &val, &vallen);
		if (cmd->verb != SMTP_MAIL)		/* RCPT: we offer none */
			return parse_unsupported(cmd, tok, kwlen);
		if (parse_word_eq(tok, kwlen, "SIZE")) {
			bit = P_SIZE;
			if (val == NULL || parse_u64(val, vallen, &cmd->size) == -1)
				return R_SIZE;
			cmd->has_size = 1;
		} else if (parse_word_eq(tok, kwlen, "BODY")) {
			bit = P_BODY;
			if (val == NULL)
				return R_BODY_SYNTAX;
			if (parse_word_eq(val, vallen, "7BIT"))
				cmd->body = SMTP_BODY_7BIT;
			else if (parse_word_eq(val, vallen, "8BITMIME"))
				cmd->body = SMTP_BODY_8BITMIME;
			else
				return R_BODY;	/* BINARYMIME too: no BINARY */
		} else if (parse_word_eq(tok, kwlen, "SMTPUTF8")) {
			bit = P_SMTPUTF8;
			if (val != NULL)
				return R_SMTPUTF8;
			cmd->smtputf8 = 1;
		} else if (parse_word_eq(tok, kwlen, "AUTH")) {
			/* RFC 4954 5: accepted and ignored, we do not relay
			 * the original submitter's identity */
			bit = P_AUTH;
			if (val == NULL || !parse_xtext_valid(val, vallen))
				return R_AUTH_PARAM;
		} else
			return parse_unsupported(cmd, tok, kwlen);
		if (seen & bit)
			return R_PARAM_DUP;
		seen |= bit;
	}
	return NULL;
}

/*
 * Length of the path at the start of s[0..n): through the first '>'
 * outside a quoted string, or (no '<', no '>') up to the first space;
 * addr_parse_path() then judges it.  Quotes matter because a quoted
 * local part may hold '>' and spaces: <"a> b"@example.org>.
 */
static size_t
parse_path_len(const char *s, size_t n)
{
	size_t i;
	int quoted = 0;

	if (n == 0 || s[0] != '<') {
		for (i = 0; i < n && s[i] != ' '; i++)
			;
		return i;
	}
	for (i = 1; i < n; i++) {
		if (quoted && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i + 1;
	}
	return n;
}

/* MAIL FROM:<path> [params] and RCPT TO:<path> [params]. */
static const char *
parse_mail_rcpt(struct smtp_cmd *cmd, int flags, const char *syntax)
{
	const char *a = cmd->arg, *r, *why;
	const char *kw = cmd->verb == SMTP_MAIL ? "FROM:" : "TO:";
	const char *bad = cmd->verb == SMTP_MAIL ? R_SENDER : R_RCPT;
	size_t n = cmd->arglen, kwl = strlen(kw), i, plen;
	int aflags;

	if (n < kwl || !parse_word_eq(a, kwl, kw))
		return syntax;
	/* "MAIL FROM: <a@b>" is common enough to accept (Postfix does) */
	for (i = kwl; i < n && a[i] == ' '; i++)
		;
	if (i == n)
		return syntax;
	plen = parse_path_len(a + i, n - i);
	if (i + plen < n && a[i + plen] != ' ')
		return bad;			/* "<a@b>junk" */
	if ((r = parse_params(cmd, a + i + plen, n - i - plen)) != NULL)
		return r;
	if (cmd->verb == SMTP_MAIL)
		aflags = ADDR_ALLOW_NULL | (cmd->smtputf8 ? ADDR_ALLOW_UTF8 : 0);
	else
		aflags = ADDR_ALLOW_POSTMASTER |
		    ((flags & SMTP_PARSE_UTF8) ? ADDR_ALLOW_UTF8 : 0);
	if (addr_parse_path(a + i, plen, aflags, &cmd->addr, &why) == -1)
		return bad;
	return NULL;
}

/*
 * HELO/EHLO: one token of 1..255 bytes.  A domain or address literal is
 * what RFC 5321 asks for, but Windows hosts send bare NetBIOS names and
 * worse, so any printable ASCII is taken; 8-bit bytes only as a valid
 * UTF-8 domain (RFC 6531 3.7.1).  No space or control byte ever passes:
 * the name goes into the Received header.
 */
static const char *
parse_helo(struct smtp_cmd *cmd, const char *syntax)
{
	size_t i, n = cmd->arglen;
	int eight = 0;

	if (n == 0 || n > SMTP_HELO_MAX)
		return syntax;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cmd->arg[i];

		if (c <= 0x20 || c == 0x7f)
			return syntax;
		if (c >= 0x80)
			eight = 1;
	}
	memcpy(cmd->helo, cmd->arg, n);
	cmd->helo[n] = '\0';
	if (eight && !addr_domain_valid(cmd->helo, 1)) {
		cmd->helo[0] = '\0';
		return syntax;
	}
	return NULL;
}

/* BDAT chunk-size [LAST] (RFC 3030 2). */
static const char *
parse_bdat(struct smtp_cmd *cmd, const char *syntax)
{
	const char *tok;
	size_t pos = 0, toklen;

	if (!parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen) ||
	    parse_u64(tok, toklen, &cmd->chunk) == -1)
		return syntax;
	if (parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen)) {
		if (!parse_word_eq(tok, toklen, "LAST"))
			return syntax;
		cmd->last = 1;
	}
	if (parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen))
		return syntax;
	return NULL;
}

/* AUTH mechanism [initial-response] (RFC 4954 4). */
static const char *
parse_auth(struct smtp_cmd *cmd, const char *syntax)
{
	const char *tok;
	size_t pos = 0, toklen, i;

	if (!parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen) ||
	    toklen > SMTP_MECH_MAX)
		return syntax;
	/* RFC 4422 3.1: sasl-mech = 1*20mech-char, [A-Z0-9-_] */
	for (i = 0; i < toklen; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (!IS_ALPHA(c) && !IS_DIGIT(c) && c != '-' && c != '_')
			return syntax;
		cmd->mech[i] = (char)TO_UPPER(c);
	}
	cmd->mech[toklen] = '\0';
	if (!parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen))
		return NULL;
	if (!(toklen == 1 && tok[0] == '=') && !base64_valid(tok, toklen))
		return R_BASE64;
	cmd->initial = tok;
	cmd->initial_len = toklen;
	cmd->has_initial = 1;
	if (parse_token(cmd->arg, cmd->arglen, &pos, &tok, &toklen))
		return syntax;
	return NULL;
}

/* After an error only verb, arg and reply_buf mean anything: clear the
 * rest so a caller that looks anyway sees nothing half-parsed. */
static void
parse_clear(struct smtp_cmd *cmd)
{
	memset(cmd->helo, 0, sizeof(cmd->helo));
	memset(&cmd->addr, 0, sizeof(cmd->addr));
	cmd->has_size = 0;
	cmd->size = 0;
	cmd->body = SMTP_BODY_UNSET;
	cmd->smtputf8 = 0;
	cmd->chunk = 0;
	cmd->last = 0;
	memset(cmd->mech, 0, sizeof(cmd->mech));
	cmd->initial = NULL;
	cmd->initial_len = 0;
	cmd->has_initial = 0;
}

int
smtp_parse(const char *line, size_t len, int flags, struct smtp_cmd *cmd,
    const char **reply)
{
	const struct verb_info *vi = NULL;
	const char *r = NULL;
	size_t v, i, e, k;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_UNKNOWN;
	*reply = R_UNKNOWN;
	for (v = 0; v < len && line[v] != ' '; v++)
		;
	for (k = 0; k < NVERBS; k++)
		if (parse_word_eq(line, v, verbs[k].name)) {
			vi = &verbs[k];
			break;
		}
	if (vi == NULL)
		return -1;
	cmd->verb = vi->verb;
	/* arguments: leading spaces skipped (clients send "MAIL  FROM:"),
	 * trailing ones dropped (and "QUIT " is still QUIT) */
	for (i = v; i < len && line[i] == ' '; i++)
		;
	for (e = len; e > i && line[e - 1] == ' '; e--)
		;
	cmd->arg = line + i;
	cmd->arglen = e - i;

	switch (vi->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		r = parse_helo(cmd, vi->syntax);
		break;
	case SMTP_MAIL:
	case SMTP_RCPT:
		r = parse_mail_rcpt(cmd, flags, vi->syntax);
		break;
	case SMTP_BDAT:
		r = parse_bdat(cmd, vi->syntax);
		break;
	case SMTP_AUTH:
		r = parse_auth(cmd, vi->syntax);
		break;
	case SMTP_DATA:
	case SMTP_RSET:
	case SMTP_QUIT:
	case SMTP_STARTTLS:
		if (cmd->arglen != 0)
			r = vi->syntax;
		break;
	case SMTP_VRFY:
	case SMTP_EXPN:
		/* RFC 5321 4.1.1.6: the argument is required */
		if (cmd->arglen == 0)
			r = vi->syntax;
		break;
	case SMTP_NOOP:
	case SMTP_HELP:
	case SMTP_UNKNOWN:
		break;
	}
	if (r != NULL) {
		parse_clear(cmd);
		*reply = r;
		return -1;
	}
	*reply = NULL;
	return 0;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t k;

	for (k = 0; k < NVERBS; k++)
		if (verbs[k].verb == verb)
			return verbs[k].name;
	return "UNKNOWN";
}
