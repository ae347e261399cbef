/*
 * fuzz_smtp_parse.c - libFuzzer target for smtpd/smtp_parse.c, the SMTP
 * command line parser of kurir-smtpd (smtpd user).
 *
 * The input is one command line as session.c would hand it over: lines
 * with CR, LF or NUL are skipped, and so are lines over 2048 bytes (the
 * AUTH line limit; ordinary commands stop at 512).  Each line is parsed
 * with and without SMTP_PARSE_UTF8.  Beyond ASan/UBSan it aborts when an
 * invariant breaks: a failure whose reply is not "4xx/5xx " + printable
 * text; a success that carries a control byte into a HELO name or a
 * MAIL/RCPT command (header injection), an address that is over the
 * limits, 8-bit without SMTPUTF8, or whose canonical form does not
 * re-parse to itself; an AUTH mechanism or initial response that is not
 * what the grammar allows.  Seeds: tests/fuzz/corpus/smtp_parse/.
 *
 * The fuzz build compiles only the common sources, so the parser comes
 * in here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtp_parse.c"

#define FUZZ_LINE_MAX	2048

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_reply(const struct smtp_cmd *c, const char *r)
{
	size_t i;

	if (r == NULL || (r[0] != '4' && r[0] != '5') ||
	    r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9' || r[3] != ' ')
		abort();
	for (i = 0; r[i] != '\0'; i++)
		if (i >= 120 || (unsigned char)r[i] < 0x20 ||
		    (unsigned char)r[i] >= 0x7f)
			abort();
	if (c->verb == SMTP_UNKNOWN && strcmp(r, R_UNKNOWN) != 0)
		abort();
	/* nothing half-parsed survives an error */
	if (c->helo[0] != '\0' || c->addr.local[0] != '\0' || c->has_size ||
	    c->body != SMTP_BODY_UNSET || c->smtputf8 || c->chunk != 0 ||
	    c->last || c->mech[0] != '\0' || c->has_initial)
		abort();
}

/* A successful MAIL or RCPT: the address, canonical and within limits. */
static void
check_addr(const struct smtp_cmd *c, int flags)
{
	char text[ADDR_TEXT_MAX], path[ADDR_TEXT_MAX + 2];
	const char *why, *p;
	struct addr b;
	size_t ll, dl;
	int aflags, utf8;

	if (c->verb == SMTP_MAIL) {
		utf8 = c->smtputf8;
		aflags = ADDR_ALLOW_NULL | (utf8 ? ADDR_ALLOW_UTF8 : 0);
	} else {
		utf8 = (flags & SMTP_PARSE_UTF8) != 0;
		aflags = ADDR_ALLOW_POSTMASTER | (utf8 ? ADDR_ALLOW_UTF8 : 0);
		if (c->has_size || c->body != SMTP_BODY_UNSET || c->smtputf8)
			abort();
	}
	if (c->addr.null) {
		if (c->verb != SMTP_MAIL || c->addr.local[0] != '\0')
			abort();
		return;
	}
	ll = strnlen(c->addr.local, sizeof(c->addr.local));
	dl = strnlen(c->addr.domain, sizeof(c->addr.domain));
	if (ll == 0 || ll > ADDR_LOCAL_MAX || dl > ADDR_DOMAIN_MAX)
		abort();
	if (dl == 0 && (c->verb != SMTP_RCPT ||
	    strcmp(c->addr.local, "postmaster") != 0))
		abort();
	if (addr_format(&c->addr, text, sizeof(text)) == -1)
		abort();
	if (!utf8)
		for (p = text; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				abort();
	if (snprintf(path, sizeof(path), "<%s>", text) >= (int)sizeof(path))
		abort();
	if (addr_parse_path(path, strlen(path), aflags, &b, &why) == -1 ||
	    !addr_equal(&b, &c->addr) || strcmp(b.local, c->addr.local) != 0 ||
	    strcmp(b.domain, c->addr.domain) != 0)
		abort();
}

static void
check_auth(const struct smtp_cmd *c, const char *line, size_t len)
{
	static unsigned char out[FUZZ_LINE_MAX];
	size_t i, n, ml = strnlen(c->mech, sizeof(c->mech));

	if (ml == 0 || ml > SMTP_MECH_MAX)
		abort();
	for (i = 0; i < ml; i++) {
		char ch = c->mech[i];

		if (!(ch >= 'A' && ch <= 'Z') && !IS_DIGIT(ch) && ch != '-' &&
		    ch != '_')
			abort();
	}
	if (!c->has_initial) {
		if (c->initial != NULL || c->initial_len != 0)
			abort();
		return;
	}
	if (c->initial < line || c->initial + c->initial_len > line + len ||
	    c->initial_len == 0)
		abort();
	if (c->initial_len == 1 && c->initial[0] == '=')
		return;
	if (base64_decode(c->initial, c->initial_len, out, sizeof(out), &n) == -1)
		abort();
}

static void
check_ok(const struct smtp_cmd *c, const char *line, size_t len, int flags)
{
	size_t i;

	if (c->verb == SMTP_UNKNOWN)
		abort();
	if (c->arg < line || c->arg + c->arglen > line + len)
		abort();
	if (c->arglen > 0 && (c->arg[0] == ' ' || c->arg[c->arglen - 1] == ' '))
		abort();
	/* no control byte rides along into an envelope or a header */
	if (c->verb == SMTP_HELO || c->verb == SMTP_EHLO ||
	    c->verb == SMTP_MAIL || c->verb == SMTP_RCPT)
		for (i = 0; i < c->arglen; i++)
			if ((unsigned char)c->arg[i] < 0x20 ||
			    (unsigned char)c->arg[i] == 0x7f)
				abort();
	if (c->verb == SMTP_HELO || c->verb == SMTP_EHLO) {
		if (strnlen(c->helo, sizeof(c->helo)) != c->arglen ||
		    c->arglen == 0 || c->arglen > SMTP_HELO_MAX ||
		    memcmp(c->helo, c->arg, c->arglen) != 0)
			abort();
		for (i = 0; i < c->arglen; i++)
			if ((unsigned char)c->helo[i] <= 0x20)
				abort();
	} else if (c->helo[0] != '\0')
		abort();
	if (c->verb == SMTP_MAIL || c->verb == SMTP_RCPT)
		check_addr(c, flags);
	else if (c->addr.null || c->addr.local[0] != '\0' || c->has_size ||
	    c->smtputf8 || c->body != SMTP_BODY_UNSET)
		abort();
	if (c->verb == SMTP_AUTH)
		check_auth(c, line, len);
	else if (c->mech[0] != '\0' || c->has_initial)
		abort();
	if (c->verb != SMTP_BDAT && (c->chunk != 0 || c->last))
		abort();
	if ((c->verb == SMTP_DATA || c->verb == SMTP_RSET ||
	    c->verb == SMTP_QUIT || c->verb == SMTP_STARTTLS) && c->arglen != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flag_sets[] = { 0, SMTP_PARSE_UTF8 };
	struct smtp_cmd c, d;
	const char *reply, *reply2;
	char *line;
	int rc[2], rc2;
	size_t k;

	if (size > FUZZ_LINE_MAX || memchr(data, '\r', size) != NULL ||
	    memchr(data, '\n', size) != NULL || memchr(data, '\0', size) != NULL)
		return 0;
	/* an exact-size copy: ASan sees any read past the line */
	if ((line = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(line, data, size);
	for (k = 0; k < 2; k++) {
		reply = (const char *)1;
		rc[k] = smtp_parse(line, size, flag_sets[k], &c, &reply);
		if (rc[k] == 0) {
			if (reply != NULL)
				abort();
			check_ok(&c, line, size, flag_sets[k]);
		} else if (rc[k] == -1)
			check_reply(&c, reply);
		else
			abort();
		/* deterministic: the same line gives the same answer */
		rc2 = smtp_parse(line, size, flag_sets[k], &d, &reply2);
		if (rc2 != rc[k] || d.verb != c.verb ||
		    (rc2 == -1 && strcmp(reply, reply2) != 0))
			abort();
	}
	/* SMTP_PARSE_UTF8 only widens RCPT, never narrows anything */
	if (rc[0] == 0 && rc[1] != 0)
		abort();
	if (rc[0] != rc[1] && c.verb != SMTP_RCPT)
		abort();
	free(line);
	return 0;
}
