/*
 * base64.h - strict RFC 4648 base64 (section 4 alphabet) encode and decode.
 *
 * Used by kurir-smtpd (AUTH PLAIN/LOGIN responses, RFC 4954) and
 * kurir-pop3d (AUTH PLAIN, RFC 5034); runs as whatever uid calls it
 * (kurir-smtpd, kurir-pop3d) and keeps no state.  Decoding is strict on
 * purpose (RFC 4648 section 3.3 and 3.5): no whitespace, padding required
 * and only at the end, no non-zero bits after the last octet.  A lenient
 * decoder would give one credential several spellings, which hides
 * probing and makes logs ambiguous.
 */
#ifndef KURIR_BASE64_H
#define KURIR_BASE64_H

#include <stddef.h>

/* Bytes base64_encode() needs for inlen bytes, NUL included; 0 on overflow. */
size_t	base64_encoded_size(size_t inlen);

/*
 * Decode in[0..inlen) into out[0..outcap).  Returns 0 with *outlen set,
 * or -1 with errno EINVAL (bad text) or EMSGSIZE (does not fit in
 * outcap); on failure *outlen is 0 and out is untouched (the whole text
 * is checked before a byte is written, so no half-decoded secret is left
 * behind).  Empty input decodes to zero bytes.
 */
int	base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outcap, size_t *outlen);

/*
 * Encode in[0..inlen) into out, NUL-terminated, padded.  Returns 0, or
 * -1 with errno EMSGSIZE if outcap < base64_encoded_size(inlen) (out is
 * then the empty string when outcap > 0).
 */
int	base64_encode(const unsigned char *in, size_t inlen, char *out,
	    size_t outcap);

/*
 * Is in[0..inlen) well-formed base64 as base64_decode() would accept it?
 * 1 yes, 0 no.  For parsers that check syntax but decode later.
 */
int	base64_valid(const char *in, size_t inlen);

#endif
