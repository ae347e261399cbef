/*
 * fold.c - fold lines over 998 octets before kurir-remote sends them
 * (fold.h).  Runs inside kurir-remote (remote user, chrooted,
 * sandboxed) on messages from the queue, which anyone may have written.
 *
 * Header lines are walked byte by byte (they are short, and a fold
 * point must be remembered); body lines in runs between line ends, as
 * dotenc does, since messages are big.  Before either, every CR is
 * made a line end (fold.h says why): a CR LF pair becomes one LF, a CR
 * alone becomes an LF.  Past that every byte goes out once, in order;
 * the only bytes added are the line ends of folds (and the SP of a
 * header fold with no blank to fold at), so removing them gives the
 * message back with its CRs made LFs.
 */
#include <string.h>

#include "fold.h"

void
fold_init(struct fold *f)
{
	f->line = FL_START;
	f->fields = 0;
	f->col = 0;
	f->nheld = 0;
	f->folds = 0;
	f->cr = 0;
	f->crs = 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 ftext: printable US-ASCII but the colon */
static int
is_ftext(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 32 && u < 127 && c != ':';
}

static int
held_flush(struct fold *f, struct buf *out)
{
	if (f->nheld > 0 && buf_add(out, f->held, f->nheld) == -1)
		return -1;
	f->nheld = 0;
	return 0;
}

/* What c (not LF) says about the header line it is part of. */
static void
classify(struct fold *f, char c)
{
	switch (f->line) {
	case FL_START:
		/* a blank continues a field; none before it: not a header */
		if (is_blank(c))
			f->line = f->fields ? FL_FIELD : FL_BODY;
		else
			f->line = is_ftext(c) ? FL_NAME : FL_BODY;
		break;
	case FL_NAME:
	case FL_BLANKS:
		if (c == ':') {
			f->line = FL_FIELD;
			f->fields = 1;
		} else if (is_blank(c))
			f->line = FL_BLANKS;
		else if (f->line == FL_BLANKS || !is_ftext(c))
			f->line = FL_BODY;
		break;
	default:
		break;
	}
}

/*
 * One byte of a header line.  Returns 1 when c was taken, 0 when the
 * line turned out to be the body's (c is then the body's to take), -1
 * when out refused.
 */
static int
header_byte(struct fold *f, char c, struct buf *out)
{
	if (c == '\n') {
		if (held_flush(f, out) == -1 || buf_addch(out, '\n') == -1)
			return -1;
		/* an empty line, or one that is no field, ends the header */
		f->line = f->line == FL_FIELD ? FL_START : FL_BODY;
		f->col = 0;
		return 1;
	}
	if (f->col == FOLD_LINE_MAX) {
		if (f->line != FL_FIELD) {
			/* no colon within the limit: not a field we can keep */
			f->line = FL_BODY;
			return 0;
		}
		if (f->nheld > 1 || (f->nheld > 0 && !is_blank(c))) {
			/* the held bytes start with the blank: they begin
			 * the continuation line; they hold no other blank.
			 * Preferred even when c is a blank, so that the
			 * continuation starts with text, not with what may
			 * be only the field's trailing blanks */
			f->col = f->nheld;
			if (buf_addch(out, '\n') == -1 ||
			    held_flush(f, out) == -1)
				return -1;
		} else if (is_blank(c)) {
			/* c itself is the last blank before the limit (a
			 * field whose text past 998 octets is all blanks
			 * still gets a continuation of blanks: obs-FWS, no
			 * empty line) */
			if (held_flush(f, out) == -1 ||
			    buf_addch(out, '\n') == -1)
				return -1;
			f->col = 0;
		} else {
			/* nowhere to fold: cut, and start the continuation
			 * with a SP so that the field goes on */
			if (buf_add(out, "\n ", 2) == -1)
				return -1;
			f->col = 1;
		}
		f->folds++;
	}
	classify(f, c);
	if (f->line == FL_BODY)
		return 0;
	if (f->line == FL_FIELD && is_blank(c) && f->col >= 1) {
		/* a fold point: what came before it can go */
		if (held_flush(f, out) == -1)
			return -1;
		f->held[f->nheld++] = c;
	} else if (f->nheld > 0)
		f->held[f->nheld++] = c;	/* nheld < col < MAX here */
	else if (buf_addch(out, c) == -1)
		return -1;
	f->col++;
	return 1;
}

/*
 * Body text up to and including the next line end (or all of it):
 * *used set to the bytes taken.
 */
static int
body_run(struct fold *f, const char *p, size_t n, struct buf *out,
    size_t *used)
{
	const char *lf = memchr(p, '\n', n);
	size_t len = lf != NULL ? (size_t)(lf - p) : n, take;

	*used = 0;
	while (len > 0) {
		if (f->col == FOLD_LINE_MAX) {
			if (buf_addch(out, '\n') == -1)
				return -1;
			f->col = 0;
			f->folds++;
		}
		take = FOLD_LINE_MAX - f->col < len ? FOLD_LINE_MAX - f->col :
		    len;
		if (buf_add(out, p, take) == -1)
			return -1;
		f->col += take;
		p += take;
		len -= take;
		*used += take;
	}
	if (lf != NULL) {
		if (buf_addch(out, '\n') == -1)
			return -1;
		f->col = 0;
		(*used)++;
	}
	return 0;
}

/* Fold text that holds no CR. */
static int
fold_text(struct fold *f, const char *p, size_t n, struct buf *out)
{
	size_t i = 0, k;
	int r;

	while (i < n) {
		if (f->line == FL_BODY) {
			if (body_run(f, p + i, n - i, out, &k) == -1)
				return -1;
			i += k;
			continue;
		}
		if ((r = header_byte(f, p[i], out)) == -1)
			return -1;
		i += (size_t)r;		/* 0: the body takes this byte */
	}
	return 0;
}

/*
 * Line ends first: a CR is sent on as an LF at once, and an LF right
 * after it (in this chunk or the next) is that same line end, so
 * nothing is held back and chunking cannot change the result.  Runs
 * without a CR go to fold_text whole.
 */
int
fold_add(struct fold *f, const char *p, size_t n, struct buf *out)
{
	const char *cr;
	size_t i = 0, run;

	while (i < n) {
		if (f->cr) {
			f->cr = 0;
			if (p[i] == '\n') {
				i++;	/* CR LF: its LF went out for the CR */
				continue;
			}
		}
		if (p[i] == '\r') {
			if (fold_text(f, "\n", 1, out) == -1)
				return -1;
			f->cr = 1;
			f->crs++;
			i++;
			continue;
		}
		cr = memchr(p + i, '\r', n - i);
		run = cr != NULL ? (size_t)(cr - (p + i)) : n - i;
		if (fold_text(f, p + i, run, out) == -1)
			return -1;
		i += run;
	}
	return 0;
}

int
fold_end(struct fold *f, struct buf *out)
{
	return held_flush(f, out);
}
