/*
 * fields.h - NUL-terminated fields in a frame payload, as kurir-send's
 * requests to kurir-local and kurir-remote carry them.
 */
#ifndef KURIR_FIELDS_H
#define KURIR_FIELDS_H

#include <stddef.h>

/* The field at *pp (before end) if it is NUL-terminated within max
 * bytes; *pp moves past its NUL.  NULL otherwise. */
const char *field_next(const char **pp, const char *end, size_t max);
/* A plain decimal: digits only, no sign, blank or leading zero, at most
 * LLONG_MAX.  0, or -1. */
int	field_decimal(const char *s, long long *out);

#endif
