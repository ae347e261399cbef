/*
 * buf.c - growable byte buffer with a hard size cap (see buf.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + extra;
	if (need < b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap <= need) {
		if (ncap > SIZE_MAX / 4) {
			errno = ENOMEM;
			return -1;
		}
		ncap *= 2;
	}
	if ((p = reallocarray(b->data, ncap, 1)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) == -1)
		return -1;
	/* buf_reserve keeps room for the terminating NUL */
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_drain(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *
buf_cstr(struct buf *b)
{
	static char empty[1];

	if (b->data == NULL)
		return empty;
	/* buf_reserve always leaves cap > len */
	b->data[b->len] = '\0';
	return b->data;
}

long
buf_find_lf(const struct buf *b)
{
	const char *p;

	if (b->len == 0)
		return -1;
	p = memchr(b->data, '\n', b->len);
	return p ? (long)(p - b->data) : -1;
}
