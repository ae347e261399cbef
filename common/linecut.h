/*
 * linecut.h - cutting protocol command lines out of an input buffer,
 * with a length limit and the skipping of an overlong line, the same
 * way in kurir-smtpd, the pre-auth kurir-pop3d and the POP3 session.
 */
#ifndef KURIR_LINECUT_H
#define KURIR_LINECUT_H

#include <stddef.h>

enum linecut {
	LINECUT_MORE,	/* no complete line yet */
	LINECUT_LINE,	/* a line: p[0 .. *linelen) */
	LINECUT_LONG,	/* max octets and no LF: answer once; the rest of
			 * it is dropped by linecut_skip */
};

/*
 * The rest of an overlong line: how many bytes at the front of p[0..len)
 * to drop.  *skipping belongs to the caller's session (start at 0); it
 * is cleared once the line's LF has been seen.
 */
size_t		linecut_skip(const char *p, size_t len, int *skipping);

/*
 * The line at the front of p[0..len), at most max octets including its
 * LF (call linecut_skip first).  LINECUT_LINE: consume *used bytes
 * after handling it (*linelen without the CR LF or LF); LINECUT_LONG:
 * consume *used (max) bytes and *skipping is set; LINECUT_MORE: nothing.
 */
enum linecut	linecut_next(const char *p, size_t len, size_t max,
		    int *skipping, size_t *linelen, size_t *used);

#endif
