/*
 * reply.c - SMTP replies and the DATA encoding for kurir-remote (API in
 * reply.h).
 *
 * Runs in kurir-remote (remote user, chrooted, sandboxed).  Everything
 * here reads what a remote server sent, and a server may be hostile:
 * lines are assembled in a fixed array and refused once they pass
 * REPLY_LINE_MAX, a reply is refused past REPLY_LINES_MAX lines, the
 * text kept is capped at REPLY_TEXT_MAX, and no size or number from the
 * server is used in arithmetic before it is checked.  So a server that
 * sends a megabyte of "250-" costs one parser struct and is cut off
 * after some 64 kB.
 *
 * Grammar: RFC 5321 4.2 (Reply-line = *( Reply-code "-" [ textstring ]
 * CRLF ) Reply-code [ SP textstring ] CRLF), 4.2.1 (one code for every
 * line of a reply); RFC 3463 (enhanced status codes); RFC 1870 (SIZE);
 * RFC 5321 4.5.2 (transparency).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"

#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define TO_UPPER(c)	(((c) >= 'a' && (c) <= 'z') ? (c) - ('a' - 'A') : (c))

/* Bytes of a line before its end: the limit counts the CRLF. */
#define LINE_BODY_MAX	(REPLY_LINE_MAX - 2)

/*
 * The first line's text (after "ddd ") always fits, with its '\n' and
 * the NUL, so a DONE reply never has an empty text and diagnostics
 * always keep the server's first words.
 */
_Static_assert(LINE_BODY_MAX - 4 + 2 <= REPLY_TEXT_MAX,
    "the first reply line must fit in struct reply's text");

#define WHY_LONG	"reply line too long"
#define WHY_LINES	"too many reply lines"
#define WHY_CODE	"malformed reply code"
#define WHY_CHANGED	"reply code changed within a multi-line reply"
#define WHY_NUL		"NUL in reply"

void
reply_init(struct reply_parser *rp)
{
	memset(rp, 0, sizeof(*rp));
}

static int
line_add(struct reply_parser *rp, char c)
{
	if (rp->len >= LINE_BODY_MAX)
		return -1;
	rp->line[rp->len++] = c;
	return 0;
}

/*
 * One complete line is in rp->line: check it and add it to the reply.
 * Returns REPLY_DONE for the reply's last line, REPLY_MORE when more
 * lines must follow, REPLY_BAD with *why.
 */
static enum reply_status
reply_line(struct reply_parser *rp, const char **why)
{
	const char *l = rp->line, *t;
	size_t tlen;
	int code, last;

	/* "2yz".."5yz": no 1yz reply exists in SMTP, 6yz and up never */
	if (rp->len < 3 || l[0] < '2' || l[0] > '5' || !IS_DIGIT(l[1]) ||
	    !IS_DIGIT(l[2])) {
		*why = WHY_CODE;
		return REPLY_BAD;
	}
	if (rp->len == 3)
		last = 1;
	else if (l[3] == ' ')
		last = 1;
	else if (l[3] == '-')
		last = 0;
	else {
		*why = WHY_CODE;
		return REPLY_BAD;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (rp->r.nlines > 0 && code != rp->r.code) {
		*why = WHY_CHANGED;
		return REPLY_BAD;
	}
	/*
	 * A '-' line on the last line allowed means at least one line too
	 * many: say so now rather than read another.
	 */
	if (rp->r.nlines >= REPLY_LINES_MAX ||
	    (!last && rp->r.nlines + 1 >= REPLY_LINES_MAX)) {
		*why = WHY_LINES;
		return REPLY_BAD;
	}
	rp->r.code = code;
	rp->r.nlines++;

	t = rp->len > 4 ? l + 4 : "";
	tlen = rp->len > 4 ? rp->len - 4 : 0;
	/* tlen <= LINE_BODY_MAX and textlen < REPLY_TEXT_MAX: no overflow */
	if (!rp->r.truncated && tlen + 1 < REPLY_TEXT_MAX - rp->textlen) {
		memcpy(rp->r.text + rp->textlen, t, tlen);
		rp->textlen += tlen;
		rp->r.text[rp->textlen++] = '\n';
		rp->r.text[rp->textlen] = '\0';
	} else
		rp->r.truncated = 1;
	rp->len = 0;
	return last ? REPLY_DONE : REPLY_MORE;
}

static enum reply_status
reply_fail(struct reply_parser *rp, const char *why, size_t used,
    size_t *usedp, const char **whyp)
{
	rp->bad = why;
	*whyp = why;
	*usedp = used;
	return REPLY_BAD;
}

enum reply_status
reply_feed(struct reply_parser *rp, const char *p, size_t n, size_t *used,
    struct reply *out, const char **why)
{
	enum reply_status st;
	const char *w = NULL;
	size_t i;
	char c;

	*used = 0;
	*why = NULL;
	if (rp->bad != NULL) {
		*why = rp->bad;
		return REPLY_BAD;
	}
	for (i = 0; i < n; i++) {
		c = p[i];
		/* a NUL would cut every C string made of the text later */
		if (c == '\0')
			return reply_fail(rp, WHY_NUL, i + 1, used, why);
		if (c == '\n') {
			/* CRLF, or a bare LF: both end the line */
			rp->cr = 0;
			st = reply_line(rp, &w);
			if (st == REPLY_BAD)
				return reply_fail(rp, w, i + 1, used, why);
			if (st == REPLY_DONE) {
				*out = rp->r;
				reply_init(rp);
				*used = i + 1;
				return REPLY_DONE;
			}
			continue;
		}
		if (rp->cr) {
			/* the CR before this byte was not part of a CRLF */
			rp->cr = 0;
			if (line_add(rp, ' ') == -1)
				return reply_fail(rp, WHY_LONG, i + 1, used,
				    why);
		}
		if (c == '\r') {
			/* a line end or a bare CR: the next byte tells */
			rp->cr = 1;
			continue;
		}
		if (line_add(rp, c) == -1)
			return reply_fail(rp, WHY_LONG, i + 1, used, why);
	}
	*used = n;
	return REPLY_MORE;
}

/* Append c to out if room is left (one byte stays for the NUL). */
static void
diag_put(char *out, size_t outlen, size_t *o, char c)
{
	if (*o + 1 < outlen)
		out[(*o)++] = c;
}

void
reply_diag(const struct reply *r, char *out, size_t outlen)
{
	const char *t = r->text;
	size_t tlen, i, o;
	unsigned char c;
	int n, sep = 1;

	if (outlen == 0)
		return;
	/* only a code a parser could have produced reaches a DSN */
	n = snprintf(out, outlen, "%03d",
	    r->code >= 200 && r->code <= 599 ? r->code : 0);
	if (n < 0) {
		out[0] = '\0';
		return;
	}
	o = (size_t)n < outlen ? (size_t)n : outlen - 1;
	tlen = strnlen(t, sizeof(r->text));
	for (i = 0; i < tlen; i++) {
		c = (unsigned char)t[i];
		if (c == '\n') {
			/* lines joined by one space, none at the end */
			sep = 1;
			continue;
		}
		if (sep)
			diag_put(out, outlen, &o, ' ');
		sep = 0;
		/* DSNs and syslog lines take printable ASCII only */
		diag_put(out, outlen, &o, c < 0x20 || c >= 0x7f ? '?' :
		    (char)c);
	}
	out[o] = '\0';
}

/*
 * Length of an RFC 3463 code of class cls at the start of t ("5.1.1",
 * subject and detail 1 to 3 digits each), ended by a space or the line
 * end; 0 if there is none.
 */
static size_t
status_len(const char *t, char cls)
{
	size_t i = 0, n, part;

	if (t[i++] != cls || t[i++] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (n = 0; n < 3 && IS_DIGIT(t[i]); n++)
			i++;
		if (n == 0)
			return 0;
		if (part == 0 && t[i++] != '.')
			return 0;
	}
	if (t[i] != ' ' && t[i] != '\n' && t[i] != '\0')
		return 0;
	return i;
}

void
reply_status_code(const struct reply *r, char *code, size_t codelen)
{
	size_t n;
	char cls;

	if (codelen == 0)
		return;
	/*
	 * A code no parser produced gets a temporary class: never bounce
	 * a message on our own confusion.
	 */
	cls = r->code >= 200 && r->code <= 599 ? (char)('0' + r->code / 100) :
	    '4';
	/* status_len stops at the first mismatch: at most 10 bytes read */
	if ((cls == '2' || cls == '4' || cls == '5') &&
	    (n = status_len(r->text, cls)) > 0)
		(void)snprintf(code, codelen, "%.*s", (int)n, r->text);
	else
		(void)snprintf(code, codelen, "%c.0.0", cls);
}

/* Case-insensitive ASCII compare of a keyword, whatever the locale. */
static int
ehlo_kw_is(const char *p, size_t len, const char *kw)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (kw[i] == '\0' || TO_UPPER(p[i]) != kw[i])
			return 0;
	return kw[len] == '\0';
}

/*
 * SIZE's argument (RFC 1870: "SIZE" [SP 1*20DIGIT]).  Missing, 0, not a
 * number or too large for us: no limit, and the server has the last word
 * at end of DATA anyway.
 */
static unsigned long long
ehlo_size(const char *p, size_t len)
{
	unsigned long long v = 0;
	unsigned int d;
	size_t i = 0;

	while (i < len && p[i] == ' ')
		i++;
	for (; i < len && IS_DIGIT(p[i]); i++) {
		d = (unsigned int)(p[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	while (i < len && p[i] == ' ')
		i++;
	return i == len ? v : 0;
}

static void
ehlo_line(const char *l, size_t len, struct ehlo_ext *e)
{
	const struct {
		const char	*name;
		int		*flag;
	} kws[] = {
		{ "PIPELINING", &e->pipelining },
		{ "STARTTLS", &e->starttls },
		{ "8BITMIME", &e->eightbitmime },
		{ "SMTPUTF8", &e->smtputf8 },
		{ "CHUNKING", &e->chunking },
		{ "DSN", &e->dsn },
		{ "AUTH", &e->auth },
	};
	size_t kwlen, i;

	for (kwlen = 0; kwlen < len && l[kwlen] != ' '; kwlen++)
		;
	if (ehlo_kw_is(l, kwlen, "SIZE")) {
		e->size_given = 1;
		e->size = ehlo_size(l + kwlen, len - kwlen);
		return;
	}
	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (ehlo_kw_is(l, kwlen, kws[i].name)) {
			*kws[i].flag = 1;
			return;
		}
}

void
ehlo_parse(const struct reply *r, struct ehlo_ext *e)
{
	const char *t, *end, *nl;
	size_t len;

	memset(e, 0, sizeof(*e));
	if (r->code != 250)
		return;
	t = r->text;
	end = t + strnlen(t, sizeof(r->text));
	/* the first line is the greeting ("mx.example Hello"), no keyword */
	if ((nl = memchr(t, '\n', (size_t)(end - t))) == NULL)
		return;
	/*
	 * Lines are kept whole (reply.h), so a truncated reply only lacks
	 * keywords, it never shows a cut one.
	 */
	for (t = nl + 1; t < end; t += len + (nl != NULL)) {
		nl = memchr(t, '\n', (size_t)(end - t));
		len = nl != NULL ? (size_t)(nl - t) : (size_t)(end - t);
		ehlo_line(t, len, e);
	}
}

void
dotenc_init(struct dotenc *d)
{
	d->bol = 1;
}

int
dotenc_add(struct dotenc *d, const char *p, size_t n, struct buf *out)
{
	const char *lf;
	size_t len;

	/* whole runs between line ends, not byte by byte: messages are big */
	while (n > 0) {
		if (d->bol && p[0] == '.' && buf_addch(out, '.') == -1)
			return -1;
		lf = memchr(p, '\n', n);
		len = lf != NULL ? (size_t)(lf - p) : n;
		if (memchr(p, '\r', len) != NULL) {
			errno = EINVAL;		/* fold.c's job: a bug */
			return -1;
		}
		if (buf_add(out, p, len) == -1)
			return -1;
		if (lf == NULL) {
			/* n > 0 here, so len > 0: inside a line now */
			d->bol = 0;
			return 0;
		}
		if (buf_add(out, "\r\n", 2) == -1)
			return -1;
		d->bol = 1;
		p += len + 1;
		n -= len + 1;
	}
	return 0;
}

int
dotenc_end(struct dotenc *d, struct buf *out)
{
	/* the terminator must follow a CRLF, which the message may lack */
	if (!d->bol && buf_add(out, "\r\n", 2) == -1)
		return -1;
	if (buf_add(out, ".\r\n", 3) == -1)
		return -1;
	d->bol = 1;
	return 0;
}
