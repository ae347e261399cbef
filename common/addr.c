/*
 * addr.c - RFC 5321 path and mailbox parser (API and rules in addr.h).
 *
 * Used by kurir-smtpd (MAIL FROM / RCPT TO paths), kurir-sendmail (-f and
 * recipient arguments), kurir-queue and kurir-send (envelope records), the
 * alias and route table loaders and the config parser (domain names).  It
 * runs in whatever process and uid calls it, touches no files and keeps no
 * state: bytes in, a struct addr with a canonical local part and a
 * lower-case domain out.
 *
 * Design: addr_check() is the one validator.  Every malformed input makes
 * it return -1 with a short static reason, there is no early "success"
 * return before all checks ran, and the caller's struct is written only
 * after the whole address passed (CVE-2020-7247: OpenSMTPD's smtp_mailaddr
 * returned early on one path and skipped valid_localpart).  Grammar:
 * RFC 5321 4.1.2, widened for SMTPUTF8 by RFC 6531 3.3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* ASCII classes, never <ctype.h>: the locale must not change the rules. */
#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define TO_LOWER(c)	(((c) >= 'A' && (c) <= 'Z') ? (c) + ('a' - 'A') : (c))
/* RFC 5322 atext, ASCII part (SMTPUTF8 adds bytes >= 0x80 elsewhere) */
#define IS_ATEXT(c)	(IS_ALPHA(c) || IS_DIGIT(c) || \
			    ((c) != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", (c)) != NULL))

/* Set the reason (why may be NULL) and fail; every error goes through here. */
static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

/* First n bytes equal ignoring ASCII case (stops after a NUL in both). */
static int
ascii_caseeq_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (TO_LOWER((unsigned char)a[i]) != TO_LOWER((unsigned char)b[i]))
			return 0;
		if (a[i] == '\0')
			break;
	}
	return 1;
}

/* The most useful reason for a byte that is not allowed where it stands. */
static const char *
bad_char(int c, const char *otherwise)
{
	if (c == '\0')
		return "NUL in address";
	if (c < 0x20 || c == 0x7f)
		return "control character in address";
	if (c == ' ')
		return "space in address";
	return otherwise;
}

/*
 * One character starting with a byte >= 0x80: sets *len to its length.
 * RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF --
 * a lenient decoder elsewhere could otherwise see a different address.
 */
static int
utf8_char(const unsigned char *p, size_t n, int flags, size_t *len,
    const char **why)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t i;

	if (!(flags & ADDR_ALLOW_UTF8))
		return fail(why, "8-bit character without SMTPUTF8");
	*len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	if (p[0] < 0xc2 || p[0] > 0xf4 || n < *len)
		return fail(why, "invalid UTF-8");
	if (p[0] == 0xe0)
		lo = 0xa0;			/* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;			/* UTF-16 surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;			/* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;			/* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return fail(why, "invalid UTF-8");
	for (i = 2; i < *len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return fail(why, "invalid UTF-8");
	return 0;
}

/* Is u[0..n) not a dot-string?  Bytes >= 0x80 count (UTF-8, checked before). */
static int
needs_quotes(const char *u, size_t n)
{
	size_t i;

	if (n == 0 || u[0] == '.' || u[n - 1] == '.')
		return 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c == '.' && i + 1 < n && u[i + 1] == '.')
			return 1;
		if (c != '.' && c < 0x80 && !IS_ATEXT(c))
			return 1;
	}
	return 0;
}

int
addr_local_needs_quotes(const char *unquoted)
{
	return needs_quotes(unquoted, strlen(unquoted));
}

/*
 * Canonical local part from its unquoted content u[0..n), n <= 64: bare
 * when it is a dot-string ("dave" -> dave), else quoted, escaping only
 * '"' and '\'.  Fails if the result exceeds ADDR_LOCAL_MAX.
 */
static int
local_canon(const char *u, size_t n, char *out)
{
	char buf[2 * ADDR_LOCAL_MAX + 3];	/* all escaped, quotes, NUL */
	int quote = needs_quotes(u, n);
	size_t i, o = 0;

	if (quote)
		buf[o++] = '"';
	for (i = 0; i < n && i < ADDR_LOCAL_MAX; i++) {
		if (quote && (u[i] == '"' || u[i] == '\\'))
			buf[o++] = '\\';
		buf[o++] = u[i];
	}
	if (quote)
		buf[o++] = '"';
	if (n > ADDR_LOCAL_MAX || o > ADDR_LOCAL_MAX)
		return -1;
	memcpy(out, buf, o);
	out[o] = '\0';
	return 0;
}

/*
 * Local part at the start of s[0..n): Dot-string or Quoted-string.
 * Writes the canonical form to out[ADDR_LOCAL_MAX + 1] and sets *used to
 * the bytes consumed; on return s[*used] is '@' or *used == n.
 */
static int
parse_local(const unsigned char *s, size_t n, int flags, char *out,
    size_t *used, const char **why)
{
	char u[ADDR_LOCAL_MAX + 1];	/* unquoted content */
	size_t i = 0, ul = 0, k;

	if (n == 0 || s[0] == '@')
		return fail(why, "empty local part");
	if (s[0] != '"') {
		/* Dot-string = Atom *("." Atom) */
		while (i < n && s[i] != '@') {
			if (s[i] == '.') {
				if (i == 0)
					return fail(why, "leading dot in local part");
				if (s[i - 1] == '.')
					return fail(why, "consecutive dots in local part");
				k = 1;
			} else if (s[i] >= 0x80) {
				if (utf8_char(s + i, n - i, flags, &k, why) == -1)
					return -1;
			} else if (IS_ATEXT(s[i]))
				k = 1;
			else
				return fail(why, bad_char(s[i],
				    "bad character in local part"));
			i += k;
		}
		if (s[i - 1] == '.')
			return fail(why, "trailing dot in local part");
		if (i > ADDR_LOCAL_MAX)
			return fail(why, "local part too long");
		memcpy(out, s, i);
		out[i] = '\0';
		*used = i;
		return 0;
	}

	/* Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) and
	 * quoted-pairSMTP ("\" %d32-126); SMTPUTF8 adds UTF-8 to qtext. */
	for (i = 1;; i += k) {
		if (i >= n)
			return fail(why, "unbalanced quotes");
		if (s[i] == '"')
			break;
		k = 1;
		if (s[i] == '\\') {
			if (++i >= n)
				return fail(why, "unbalanced quotes");
			if (s[i] >= 0x7f)
				return fail(why, "bad quoted pair");
			if (s[i] < 0x20)
				return fail(why, bad_char(s[i], "bad quoted pair"));
		} else if (s[i] >= 0x80) {
			if (utf8_char(s + i, n - i, flags, &k, why) == -1)
				return -1;
		} else if (s[i] < 0x20 || s[i] == 0x7f)
			return fail(why, bad_char(s[i], "bad character"));
		/* the canonical form is never shorter than the content */
		if (ul + k > ADDR_LOCAL_MAX)
			return fail(why, "local part too long");
		memcpy(u + ul, s + i, k);
		ul += k;
	}
	i++;					/* the closing quote */
	if (i < n && s[i] != '@')
		return fail(why, "junk after quoted local part");
	if (ul == 0)
		return fail(why, "empty local part");
	if (local_canon(u, ul, out) == -1)
		return fail(why, "local part too long");
	*used = i;
	return 0;
}

/*
 * Address literal s[0..n) including the brackets: [IPv4] or [IPv6:...].
 * General-address-literal (tag ":" dcontent) is refused: nothing routes it.
 * Canonical via inet_ntop: [IPv6:2001:DB8:0::1] is [IPv6:2001:db8::1].
 */
static int
parse_literal(const unsigned char *s, size_t n, char *out, const char **why)
{
	char text[ADDR_DOMAIN_MAX + 1], ip[INET6_ADDRSTRLEN];
	const char *tag = "";
	unsigned char bin[16];
	int af = AF_INET;

	if (n < 3 || s[n - 1] != ']')
		return fail(why, "bad address literal");
	memcpy(text, s + 1, n - 2);
	text[n - 2] = '\0';
	if (ascii_caseeq_n(text, "ipv6:", 5)) {
		af = AF_INET6;
		tag = "IPv6:";
	} else if (strchr(text, ':') != NULL)
		return fail(why, "unsupported address literal");
	if (inet_pton(af, text + strlen(tag), bin) != 1 ||
	    inet_ntop(af, bin, ip, sizeof ip) == NULL)
		return fail(why, af == AF_INET ? "bad IPv4 address literal" :
		    "bad IPv6 address literal");
	/* at most 5 + 45 + 2 bytes: always fits */
	snprintf(out, ADDR_DOMAIN_MAX + 1, "[%s%s]", tag, ip);
	return 0;
}

/*
 * Domain s[0..n): labels of 1-63 letters, digits and inner hyphens (and
 * UTF-8 under SMTPUTF8), no trailing dot; or an address literal if
 * literal_ok.  Writes the lower-case form to out[ADDR_DOMAIN_MAX + 1].
 */
static int
parse_domain(const unsigned char *s, size_t n, int flags, int literal_ok,
    char *out, const char **why)
{
	size_t i, k, label = 0;
	int numeric = 1;		/* the current label is all digits */

	if (n == 0)
		return fail(why, "empty domain");
	if (n > ADDR_DOMAIN_MAX)
		return fail(why, "domain too long");
	if (s[0] == '[') {
		if (!literal_ok)
			return fail(why, "address literal not allowed here");
		return parse_literal(s, n, out, why);
	}
	for (i = 0; i <= n; i += k) {
		k = 1;
		if (i == n || s[i] == '.') {
			if (label == 0)
				return fail(why, i == n ? "trailing dot in domain" :
				    "empty label in domain");
			if (label > 63)
				return fail(why, "domain label too long");
			if (s[i - 1] == '-')
				return fail(why, "hyphen at end of label");
			if (i == n)
				break;
			out[i] = '.';
			label = 0;
			numeric = 1;
			continue;
		}
		if (s[i] == '-' && label == 0)
			return fail(why, "hyphen at start of label");
		if (s[i] >= 0x80) {
			if (utf8_char(s + i, n - i, flags, &k, why) == -1)
				return -1;
			memcpy(out + i, s + i, k);
			numeric = 0;
		} else if (IS_ALPHA(s[i]) || IS_DIGIT(s[i]) || s[i] == '-') {
			out[i] = (char)TO_LOWER(s[i]);
			if (!IS_DIGIT(s[i]))
				numeric = 0;
		} else
			return fail(why, bad_char(s[i], "bad character in domain"));
		label += k;
	}
	/* "user@127.0.0.1" would reach the resolver as an IP address and
	 * dodge the literal rules; top-level names are never all-numeric. */
	if (numeric)
		return fail(why, "numeric top-level domain");
	out[n] = '\0';
	return 0;
}

/* A-d-l = At-domain *("," At-domain), s[0..n) without the ':'. */
static int
parse_route(const unsigned char *s, size_t n, int flags, const char **why)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t i = 0, j;

	for (;;) {
		if (i >= n || s[i] != '@')
			return fail(why, "bad source route");
		for (j = i + 1; j < n && s[j] != ','; j++)
			;
		if (parse_domain(s + i + 1, j - i - 1, flags, 0, dom, why) == -1)
			return -1;
		if (j == n)
			return 0;
		i = j + 1;
	}
}

/*
 * The one validator.  in[0..len) is a path "<...>" (required when
 * path is set) or a bare mailbox.  On success the result goes to *res.
 */
static int
addr_check(const char *in, size_t len, int flags, int path, struct addr *res,
    const char **why)
{
	const unsigned char *s = (const unsigned char *)in, *colon;
	struct addr a;
	size_t used, i;
	int bracketed = 0, route = 0;

	memset(&a, 0, sizeof a);
	if (memchr(s, '\0', len) != NULL)
		return fail(why, "NUL in address");
	if (len > 0 && s[0] == '<') {
		if (len > ADDR_PATH_MAX)
			return fail(why, "path too long");
		if (len < 2 || s[len - 1] != '>')
			return fail(why, memchr(s, '>', len) != NULL ?
			    "junk after '>'" : "missing '>'");
		s++;
		len -= 2;
		bracketed = 1;
	} else if (path)
		return fail(why, "missing '<'");
	else if (len > ADDR_PATH_MAX - 2)	/* it must fit in a path */
		return fail(why, "address too long");

	if (len == 0) {
		if (!(flags & ADDR_ALLOW_NULL))
			return fail(why, bracketed ? "null path not allowed" :
			    "empty address");
		a.null = 1;
		*res = a;
		return 0;
	}

	/* Source route: parsed so that a bad one is refused, then dropped
	 * (RFC 5321 4.1.2 and appendix C say to ignore it). */
	if (bracketed && s[0] == '@') {
		if ((colon = memchr(s, ':', len)) == NULL)
			return fail(why, "bad source route");
		i = (size_t)(colon - s);
		if (parse_route(s, i, flags, why) == -1)
			return -1;
		s += i + 1;
		len -= i + 1;
		route = 1;
	}

	if (parse_local(s, len, flags, a.local, &used, why) == -1)
		return -1;
	if (used < len) {
		/* s[used] is '@' */
		if (parse_domain(s + used + 1, len - used - 1, flags, 1,
		    a.domain, why) == -1)
			return -1;
	} else if (route)
		return fail(why, "source route without domain");
	else if ((flags & ADDR_ALLOW_POSTMASTER) &&
	    ascii_caseeq_n(a.local, "postmaster", sizeof "postmaster"))
		strlcpy(a.local, "postmaster", sizeof a.local);
	else if (!(flags & ADDR_ALLOW_NODOMAIN))
		return fail(why, "missing domain");

	*res = a;
	return 0;
}

int
addr_parse_path(const char *s, size_t len, int flags, struct addr *a,
    const char **why)
{
	return addr_check(s, len, flags, 1, a, why);
}

int
addr_parse(const char *s, int flags, struct addr *a, const char **why)
{
	return addr_check(s, strlen(s), flags, 0, a, why);
}

int
addr_format(const struct addr *a, char *out, size_t outlen)
{
	int n;

	if (a->null)
		n = snprintf(out, outlen, "%s", "");
	else
		n = snprintf(out, outlen, "%s%s%s", a->local,
		    a->domain[0] != '\0' ? "@" : "", a->domain);
	if (n < 0 || (size_t)n >= outlen) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

int
addr_percent_hack(struct addr *a)
{
	char text[ADDR_TEXT_MAX + 2];
	const char *l = a->local, *pct;
	size_t rest;
	struct addr r;
	int q, n;

	/* only "user%host@gateway": a bare local part has no gateway */
	if (a->null || a->domain[0] == '\0' || (pct = strrchr(l, '%')) == NULL)
		return 0;
	/*
	 * Build "left"@host; the validator unquotes "left" when it can
	 * (user%b@gw -> user@b, a.%b@gw -> "a."@b).  Canonical quoting never
	 * escapes '%', so the left side is copied as is; an escape left in
	 * the host makes it invalid, as the unescaped byte would.
	 */
	q = l[0] == '"';
	rest = strlen(pct + 1);
	if (q && (rest == 0 || pct[rest] != '"'))
		return -1;			/* not a canonical local part */
	n = snprintf(text, sizeof text, "\"%.*s\"@%.*s", (int)(pct - l - q),
	    l + q, (int)(rest - q), pct + 1);
	if (n < 0 || (size_t)n >= sizeof text)
		return -1;
	/* same validator as any address; UTF-8 can only be the original's */
	if (addr_check(text, (size_t)n, ADDR_ALLOW_UTF8, 0, &r, NULL) == -1)
		return -1;
	*a = r;
	return 1;
}

int
addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->null || b->null)
		return a->null && b->null;
	return ascii_caseeq_n(a->local, b->local, sizeof a->local) &&
	    ascii_caseeq_n(a->domain, b->domain, sizeof a->domain);
}

int
addr_domain_valid(const char *domain, int allow_utf8)
{
	char out[ADDR_DOMAIN_MAX + 1];

	return parse_domain((const unsigned char *)domain, strlen(domain),
	    allow_utf8 ? ADDR_ALLOW_UTF8 : 0, 1, out, NULL) == 0;
}
