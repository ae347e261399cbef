/*
 * buf.h - growable byte buffer with a hard size cap.
 *
 * Used everywhere network or file data is accumulated.  Growth is checked
 * (reallocarray), and every buffer carries a maximum so that a peer can
 * never make us allocate more than the limit the caller chose.
 * Functions return 0 on success, -1 with errno set (ENOMEM, EMSGSIZE).
 */
#ifndef KURIR_BUF_H
#define KURIR_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;		/* bytes in use */
	size_t	 cap;		/* bytes allocated (one more kept for a NUL) */
	size_t	 max;		/* refuse to hold more than this */
};

void	 buf_init(struct buf *, size_t max);	/* max 0: no cap but SIZE_MAX/2 */
int	 buf_reserve(struct buf *, size_t extra);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_addch(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 buf_drain(struct buf *, size_t);	/* drop bytes from the front */
void	 buf_reset(struct buf *);		/* empty, keep memory */
void	 buf_free(struct buf *);		/* release; wipes first */
const char *buf_cstr(struct buf *);		/* NUL-terminated view */
/* Find a line end ("\n") in the first len bytes; returns offset or -1. */
long	 buf_find_lf(const struct buf *);

#endif
