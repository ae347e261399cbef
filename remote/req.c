/*
 * req.c - the RP_DELIVER payload parser of kurir-remote.
 *
 * Input: one frame's payload from kurir-send.  Strict: NUL-terminated
 * fields "offset", "size", "sender", "domain", then 1..RP_RCPTS_MAX
 * recipients, nothing after.  offset and size plain decimal; every
 * address without control bytes (they go into SMTP commands: a CR or LF
 * would inject one), bounded; each recipient's domain is the
 * request's domain (one destination per request).  Pure: no I/O, no
 * allocation; fuzz_remote_req.c drives it alone.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fields.h"
#include "remote.h"


/* safe inside "MAIL FROM:<...>": no control byte (a CR or LF would
 * start a command of its own); quoted local parts may hold spaces */
static int
req_addr_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
remote_req_parse(const char *p, size_t len, struct remote_req *r,
    const char **why)
{
	const char *end = p + len, *off, *size, *rc, *at;

	memset(r, 0, sizeof(*r));
	if ((off = field_next(&p, end, 20)) == NULL ||
	    (size = field_next(&p, end, 20)) == NULL ||
	    (r->sender = field_next(&p, end, REMOTE_ADDR_MAX)) == NULL ||
	    (r->domain = field_next(&p, end, 255)) == NULL) {
		*why = "missing fields";
		goto bad;
	}
	if (field_decimal(off, &r->offset) == -1 ||
	    field_decimal(size, &r->size) == -1 ||
	    r->size > LLONG_MAX - r->offset) {
		*why = "bad offset or size";
		goto bad;
	}
	if (!req_addr_ok(r->sender) || r->domain[0] == '\0' ||
	    !req_addr_ok(r->domain)) {
		*why = "bad sender or domain";
		goto bad;
	}
	while (p < end) {
		if (r->nrcpts == RP_RCPTS_MAX) {
			*why = "too many recipients";
			goto bad;
		}
		if ((rc = field_next(&p, end, REMOTE_ADDR_MAX)) == NULL ||
		    rc[0] == '\0' || !req_addr_ok(rc) ||
		    (at = strrchr(rc, '@')) == NULL ||
		    strcasecmp(at + 1, r->domain) != 0) {
			*why = "bad recipient";
			goto bad;
		}
		r->rcpts[r->nrcpts++] = rc;
	}
	if (r->nrcpts == 0) {
		*why = "no recipients";
		goto bad;
	}
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -1;
}
