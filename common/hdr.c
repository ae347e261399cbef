/*
 * hdr.c - RFC 5322 header fields and address lists (see hdr.h).
 *
 * Runs inside the calling program, as its uid.  Input: a message or a
 * field value in memory (untrusted: it may come from any local user or,
 * later, from the network).  Output: field boundaries pointing into that
 * memory, and mailboxes validated by addr_parse().  Every loop advances
 * by at least one byte and never reads past len; comments nest by a
 * counter, not by recursion, so no input can exhaust the stack.
 */
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "hdr.h"

/* Room for one addr-spec as written, before addr_parse shortens it. */
#define HDR_SPEC_MAX	(2 * ADDR_PATH_MAX)

void
hdr_iter_init(struct hdr_iter *it, const char *msg, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->msg = msg;
	it->len = len;
}

/* Offset just past the LF ending the line that starts at pos (or len). */
static size_t
hdr_line_next(const char *msg, size_t len, size_t pos)
{
	const char *lf;

	lf = memchr(msg + pos, '\n', len - pos);
	return lf ? (size_t)(lf - msg) + 1 : len;
}

/* Length of the line's content: without its LF and a CR just before. */
static size_t
hdr_line_content(const char *msg, size_t pos, size_t next)
{
	size_t n = next - pos;

	if (n > 0 && msg[pos + n - 1] == '\n') {
		n--;
		if (n > 0 && msg[pos + n - 1] == '\r')
			n--;
	}
	return n;
}

/*
 * Is the line a field "name:" (RFC 5322 ftext, then the obsolete blanks
 * before the colon)?  Returns 1 with the name length and colon offset.
 */
static int
hdr_line_is_field(const char *p, size_t n, size_t *namelen, size_t *colon)
{
	size_t i = 0;

	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 &&
	    p[i] != ':')
		i++;
	if (i == 0)
		return 0;
	*namelen = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i] != ':')
		return 0;
	*colon = i;
	return 1;
}

static int
hdr_iter_finish(struct hdr_iter *it, size_t hdr_end, size_t body_off,
    int has_sep)
{
	it->done = 1;
	it->hdr_end = hdr_end;
	it->body_off = body_off;
	it->has_sep = has_sep;
	it->pos = it->len;
	return 0;
}

int
hdr_iter_next(struct hdr_iter *it, struct hdr_field *f)
{
	const char *m = it->msg;
	size_t pos = it->pos, next, n, namelen, colon, end, last;

	if (it->done)
		return 0;
	if (pos >= it->len)
		return hdr_iter_finish(it, it->len, it->len, 0);
	next = hdr_line_next(m, it->len, pos);
	n = hdr_line_content(m, pos, next);
	if (n == 0)		/* an empty line, LF or CRLF */
		return hdr_iter_finish(it, pos, next, 1);
	if (!hdr_line_is_field(m + pos, n, &namelen, &colon))
		return hdr_iter_finish(it, pos, pos, 0);

	/* continuation lines start with a blank (RFC 5322 2.2.3) */
	last = pos;
	end = next;
	while (end < it->len && (m[end] == ' ' || m[end] == '\t')) {
		last = end;
		end = hdr_line_next(m, it->len, end);
	}
	f->name = m + pos;
	f->namelen = namelen;
	f->value = m + pos + colon + 1;
	f->valuelen = last + hdr_line_content(m, last, end) - (pos + colon + 1);
	f->off = pos;
	f->len = end - pos;
	it->pos = end;
	return 1;
}

static int
hdr_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
hdr_name_eq(const char *s, size_t len, const char *name)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (name[i] == '\0' || hdr_lower((unsigned char)s[i]) !=
		    hdr_lower((unsigned char)name[i]))
			return 0;
	return name[len] == '\0';
}

int
hdr_name_is(const struct hdr_field *f, const char *name)
{
	return hdr_name_eq(f->name, f->namelen, name);
}

int
hdr_find(const char *msg, size_t len, const char *name, struct hdr_field *f)
{
	struct hdr_iter it;

	hdr_iter_init(&it, msg, len);
	while (hdr_iter_next(&it, f))
		if (hdr_name_is(f, name))
			return 1;
	return 0;
}

static int
hdr_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
hdr_value_unfold(const struct hdr_field *f, struct buf *out)
{
	const char *v = f->value;
	size_t s = 0, e = f->valuelen, i;

	while (s < e && hdr_is_space((unsigned char)v[s]))
		s++;
	while (e > s && hdr_is_space((unsigned char)v[e - 1]))
		e--;
	for (i = s; i < e; i++) {
		/* unfolding removes the line ends and keeps the blanks */
		if (v[i] == '\n' || (v[i] == '\r' && i + 1 < e && v[i + 1] == '\n'))
			continue;
		if (buf_addch(out, v[i]) == -1)
			return -1;
	}
	return 0;
}

/* ---- address lists ---------------------------------------------------- */

enum hdr_tok_type {
	TOK_END, TOK_WORD, TOK_QUOTED, TOK_DLIT, TOK_SPECIAL, TOK_BAD
};

struct hdr_tok {
	enum hdr_tok_type type;
	size_t		 off;		/* where the token starts in the value */
	size_t		 len;
	char		 c;		/* TOK_SPECIAL */
	const char	*why;		/* TOK_BAD */
};

struct hdr_lex {
	const char	*s;
	size_t		 len;
	size_t		 pos;
};

/* RFC 5322 atext, plus 8-bit bytes (addr_parse decides about UTF-8) */
static int
hdr_is_atext(int c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Scan a delimited run (quoted string or domain literal) that opens at
 * l->pos; quoted-pairs are honoured.  Returns 0, or -1 if unterminated.
 */
static int
hdr_lex_delimited(struct hdr_lex *l, char close)
{
	size_t i = l->pos + 1;

	while (i < l->len) {
		if (l->s[i] == '\\' && i + 1 < l->len) {
			i += 2;
			continue;
		}
		if (l->s[i] == close) {
			l->pos = i + 1;
			return 0;
		}
		i++;
	}
	l->pos = l->len;
	return -1;
}

/* Skip blanks, line ends and (nested) comments. */
static const char *
hdr_lex_skip_cfws(struct hdr_lex *l)
{
	size_t depth;

	for (;;) {
		while (l->pos < l->len && hdr_is_space((unsigned char)l->s[l->pos]))
			l->pos++;
		if (l->pos >= l->len || l->s[l->pos] != '(')
			return NULL;
		depth = 0;
		while (l->pos < l->len) {
			char c = l->s[l->pos++];

			if (c == '\\' && l->pos < l->len)
				l->pos++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
		if (depth != 0)
			return "unterminated comment";
	}
}

static void
hdr_lex_next(struct hdr_lex *l, struct hdr_tok *t)
{
	const char *why;
	unsigned char c;

	memset(t, 0, sizeof(*t));
	if ((why = hdr_lex_skip_cfws(l)) != NULL) {
		t->type = TOK_BAD;
		t->off = l->pos;
		t->why = why;
		return;
	}
	t->off = l->pos;
	if (l->pos >= l->len) {
		t->type = TOK_END;
		return;
	}
	c = (unsigned char)l->s[l->pos];
	if (c == '"' || c == '[') {
		t->type = c == '"' ? TOK_QUOTED : TOK_DLIT;
		if (hdr_lex_delimited(l, c == '"' ? '"' : ']') == -1) {
			t->type = TOK_BAD;
			t->why = c == '"' ? "unterminated quoted string" :
			    "unterminated domain literal";
		}
	} else if (hdr_is_atext(c)) {
		t->type = TOK_WORD;
		while (l->pos < l->len && hdr_is_atext((unsigned char)l->s[l->pos]))
			l->pos++;
	} else if (strchr("<>:;@,.", c) != NULL) {
		t->type = TOK_SPECIAL;
		t->c = (char)c;
		l->pos++;
	} else {
		t->type = TOK_BAD;
		t->why = c < 32 || c == 127 ? "control character in address" :
		    "unexpected character in address";
		l->pos++;
	}
	t->len = l->pos - t->off;
}

/* One list element being collected: a mailbox, or a group's name. */
struct hdr_unit {
	size_t		 start;		/* raw text, offsets in the value */
	size_t		 end;
	int		 nonempty;	/* saw a token (comments do not count) */
	int		 angle;		/* 0 none yet, 1 inside <>, 2 after > */
	int		 last_word;	/* previous spec token was a word */
	int		 adjacent;	/* two words with nothing between */
	int		 has_at;	/* '@' or [literal]: not a group's name */
	const char	*why;		/* first problem seen */
	char		 spec[HDR_SPEC_MAX + 1];
	size_t		 speclen;
};

static void
hdr_unit_reset(struct hdr_unit *u, size_t start)
{
	u->start = u->end = start;
	u->nonempty = u->angle = u->last_word = u->adjacent = u->has_at = 0;
	u->why = NULL;
	u->speclen = 0;
	u->spec[0] = '\0';
}

static void
hdr_unit_bad(struct hdr_unit *u, const char *why)
{
	if (u->why == NULL)
		u->why = why;
}

/* Append to the addr-spec; folding inside quoted strings is dropped. */
static void
hdr_unit_append(struct hdr_unit *u, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r')
			continue;
		if (u->speclen >= HDR_SPEC_MAX) {
			hdr_unit_bad(u, "address too long");
			return;
		}
		u->spec[u->speclen++] = p[i];
	}
	u->spec[u->speclen] = '\0';
}

static void
hdr_unit_special(struct hdr_unit *u, char c)
{
	if (u->angle == 2) {
		hdr_unit_bad(u, "text after the address");
		return;
	}
	if (c == '<') {
		if (u->angle != 0) {
			hdr_unit_bad(u, "unexpected '<'");
			return;
		}
		/* what came before was the display name: forget it */
		u->angle = 1;
		u->speclen = 0;
		u->adjacent = u->last_word = 0;
		hdr_unit_append(u, "<", 1);
		return;
	}
	if (c == '>') {
		if (u->angle != 1) {
			hdr_unit_bad(u, "unexpected '>'");
			return;
		}
		u->angle = 2;
		hdr_unit_append(u, ">", 1);
		return;
	}
	/* '@', '.', and inside <> the ',' and ':' of an obsolete source
	 * route, which addr_parse checks and drops */
	hdr_unit_append(u, &c, 1);
	u->last_word = 0;
}

static void
hdr_unit_word(struct hdr_unit *u, const char *p, size_t n)
{
	if (u->angle == 2) {
		hdr_unit_bad(u, "text after the address");
		return;
	}
	if (u->last_word) {
		/* fine in a display name; decided at '<' or at the end */
		u->adjacent = 1;
		if (u->angle == 1)
			hdr_unit_bad(u, "blank inside the address");
	}
	hdr_unit_append(u, p, n);
	u->last_word = 1;
}

/* Hand a finished element to the caller.  0, or -1 if fn said stop. */
static int
hdr_unit_emit(struct hdr_unit *u, const char *value, hdr_mailbox_fn fn,
    void *arg, int flags, int *count)
{
	struct hdr_mailbox mb;
	const char *why = u->why;

	if (!u->nonempty)
		return 0;	/* an empty element: obsolete, harmless */
	memset(&mb, 0, sizeof(mb));
	while (u->start < u->end && hdr_is_space((unsigned char)value[u->start]))
		u->start++;
	while (u->end > u->start && hdr_is_space((unsigned char)value[u->end - 1]))
		u->end--;
	mb.raw = value + u->start;
	mb.rawlen = u->end - u->start;
	if (why == NULL && u->angle == 1)
		why = "missing '>'";
	if (why == NULL && u->angle == 0 && u->adjacent)
		why = "not an address";
	if (why == NULL && u->speclen == 0)
		why = "empty address";
	if (why == NULL &&
	    addr_parse(u->spec, flags, &mb.addr, &why) == 0 &&
	    addr_format(&mb.addr, mb.text, sizeof(mb.text)) == -1)
		why = "address too long";
	mb.why = why;
	if (why != NULL)
		memset(&mb.addr, 0, sizeof(mb.addr));
	(*count)++;
	return fn(&mb, arg) == -1 ? -1 : 0;
}

int
hdr_addr_extract(const char *value, size_t len, int flags, hdr_mailbox_fn fn,
    void *arg)
{
	struct hdr_lex l = { value, len, 0 };
	struct hdr_unit u;
	struct hdr_tok t;
	int in_group = 0, count = 0;

	hdr_unit_reset(&u, 0);
	for (;;) {
		hdr_lex_next(&l, &t);
		if (t.type == TOK_END) {
			u.end = t.off;
			if (hdr_unit_emit(&u, value, fn, arg, flags, &count) == -1)
				return -1;
			return count;
		}
		if (t.type == TOK_BAD) {
			u.nonempty = 1;
			u.end = l.pos;
			hdr_unit_bad(&u, t.why);
			continue;
		}
		u.end = l.pos;
		if (t.type != TOK_SPECIAL) {
			u.nonempty = 1;
			u.has_at |= t.type == TOK_DLIT;
			hdr_unit_word(&u, value + t.off, t.len);
			continue;
		}
		if ((t.c == ',' || t.c == ':') && u.angle == 1) {
			u.nonempty = 1;
			hdr_unit_special(&u, t.c);
			continue;
		}
		if (t.c == ',' || t.c == ';') {
			/* ';' closes a group; a stray one is taken as a
			 * separator, as some mail clients write lists so */
			u.end = t.off;
			if (hdr_unit_emit(&u, value, fn, arg, flags, &count) == -1)
				return -1;
			if (t.c == ';')
				in_group = 0;
			hdr_unit_reset(&u, l.pos);
			continue;
		}
		if (t.c == ':' && !in_group && u.angle == 0 && u.why == NULL &&
		    !u.has_at) {
			/* "display-name:" opens a group; the name is dropped.
			 * "a@b: c@d" is no group: a@b must not vanish silently */
			in_group = 1;
			hdr_unit_reset(&u, l.pos);
			continue;
		}
		u.nonempty = 1;
		u.has_at |= t.c == '@';
		if (t.c == ':')
			hdr_unit_bad(&u, "unexpected ':'");
		else
			hdr_unit_special(&u, t.c);
	}
}
