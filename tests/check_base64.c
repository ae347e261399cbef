/*
 * check_base64.c - unit tests for common/base64.c and common/sasl.c, the
 * SASL helpers of kurir-smtpd and kurir-pop3d (both unprivileged).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "sasl.h"

/* RFC 4648 section 10 */
static const struct { const char *plain, *enc; } vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};
#define NVECTORS	(sizeof(vectors) / sizeof(vectors[0]))

START_TEST(test_vectors)
{
	unsigned char out[16];
	char enc[16];
	size_t n = 99;
	const char *p = vectors[_i].plain, *e = vectors[_i].enc;

	ck_assert_int_eq(base64_decode(e, strlen(e), out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, strlen(p));
	ck_assert(memcmp(out, p, n) == 0);
	ck_assert_int_eq(base64_encode((const unsigned char *)p, strlen(p), enc,
	    sizeof(enc)), 0);
	ck_assert_str_eq(enc, e);
	ck_assert_uint_eq(base64_encoded_size(strlen(p)), strlen(e) + 1);
	ck_assert(base64_valid(e, strlen(e)));
}
END_TEST

static const char *const invalid[] = {
	"Zg=",		/* length not a multiple of 4 */
	"Zg",		/* padding missing */
	"Z",
	"Z===",		/* too much padding */
	"====",
	"Zm9v====",
	"=Zm9",		/* padding first */
	"Zm=v",		/* padding inside */
	"Zg==Zg==",	/* padding in the middle */
	"Zh==",		/* non-zero bits after the last octet */
	"Zm9=",
	"QR==",
	"Zm9v\n",	/* whitespace */
	"Zm9v\r\n",
	"Zm 9v",
	" Zm9v",
	"Zm9v ",
	"Zm-v",		/* URL-safe alphabet (RFC 4648 5) is not ours */
	"Zm_v",
	"Zm9\xff",
	"Zm9*",
	"Zm.v",
};
#define NINVALID	(sizeof(invalid) / sizeof(invalid[0]))

START_TEST(test_invalid)
{
	unsigned char out[16];
	size_t n = 99;
	const char *s = invalid[_i];

	memset(out, 0xaa, sizeof(out));
	errno = 0;
	ck_assert_msg(base64_decode(s, strlen(s), out, sizeof(out), &n) == -1,
	    "accepted \"%s\"", s);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(out[0], 0xaa);	/* nothing written */
	ck_assert(!base64_valid(s, strlen(s)));
}
END_TEST

START_TEST(test_embedded_nul)
{
	unsigned char out[8];
	size_t n;

	ck_assert_int_eq(base64_decode("Zm\0v", 4, out, sizeof(out), &n), -1);
	ck_assert_int_eq(base64_decode("Zm9v\0\0\0\0", 8, out, sizeof(out), &n), -1);
	/* a NUL right after the text does not matter: the length rules */
	ck_assert_int_eq(base64_decode("Zm9v\0", 4, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_decode_capacity)
{
	unsigned char out[8];
	size_t n = 99;

	memset(out, 0xaa, sizeof(out));
	errno = 0;
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(out[0], 0xaa);
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(out[6], 0xaa);	/* not one byte past */
	/* padding reduces what is needed: "foob" is 4 bytes */
	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 3, &n), -1);
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(out[4], 0xaa);
	ck_assert_int_eq(base64_decode("", 0, out, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(base64_decode("Zg==", 4, out, 0, &n), -1);
}
END_TEST

START_TEST(test_encode_capacity)
{
	char out[16];

	memset(out, 'x', sizeof(out));
	errno = 0;
	ck_assert_int_eq(base64_encode((const unsigned char *)"foobar", 6, out, 8),
	    -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq((unsigned char)out[1], 'x');
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(base64_encode((const unsigned char *)"foobar", 6, out, 9),
	    0);
	ck_assert_str_eq(out, "Zm9vYmFy");
	ck_assert_uint_eq((unsigned char)out[9], 'x');
	ck_assert_int_eq(base64_encode((const unsigned char *)"", 0, out, 1), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(base64_encode((const unsigned char *)"", 0, out, 0), -1);
	ck_assert_uint_eq(base64_encoded_size(1), 5);
	ck_assert_uint_eq(base64_encoded_size(3), 5);
	ck_assert_uint_eq(base64_encoded_size(4), 9);
	ck_assert_uint_eq(base64_encoded_size(SIZE_MAX), 0);
	ck_assert_uint_eq(base64_encoded_size(SIZE_MAX / 4 * 3), SIZE_MAX - 2);
	ck_assert_uint_eq(base64_encoded_size((SIZE_MAX / 4 + 1) * 3), 0);
}
END_TEST

/* Every length 0..300 and every byte value survive encode then decode,
 * and the encoding is the one canonical text that decodes to them. */
START_TEST(test_round_trip)
{
	unsigned char in[300], out[300];
	char enc[401];
	size_t len, n, i;
	uint32_t x = 2463534242u;

	for (i = 0; i < sizeof(in); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		in[i] = (unsigned char)(i < 256 ? i : x);
	}
	for (len = 0; len <= sizeof(in); len++) {
		ck_assert_int_eq(base64_encode(in, len, enc, sizeof(enc)), 0);
		ck_assert_uint_eq(strlen(enc) + 1, base64_encoded_size(len));
		ck_assert_int_eq(base64_decode(enc, strlen(enc), out, len, &n), 0);
		ck_assert_uint_eq(n, len);
		ck_assert(memcmp(in, out, len) == 0);
	}
}
END_TEST

/* sasl_plain_parse: a call with outputs pre-filled to see the wipe. */
static int
plain(const char *msg, size_t len, char *user, size_t ucap, char *pass,
    size_t pcap, const char **why)
{
	memset(user, 'U', ucap);
	memset(pass, 'P', pcap);
	*why = NULL;
	return sasl_plain_parse((const unsigned char *)msg, len, user, ucap,
	    pass, pcap, why);
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

#define M(s)	(s), sizeof(s) - 1

START_TEST(test_plain_good)
{
	char user[65], pass[512];
	const char *why;

	ck_assert_int_eq(plain(M("\0alice\0secret"), user, sizeof(user), pass,
	    sizeof(pass), &why), 0);
	ck_assert_str_eq(user, "alice");
	ck_assert_str_eq(pass, "secret");
	ck_assert_int_eq(plain(M("alice\0alice\0s3cr\xc3\xa9t with spaces"), user,
	    sizeof(user), pass, sizeof(pass), &why), 0);
	ck_assert_str_eq(user, "alice");
	ck_assert_str_eq(pass, "s3cr\xc3\xa9t with spaces");
	ck_assert_int_eq(plain(M("\0alice@example.org\0pw\tx"), user, sizeof(user),
	    pass, sizeof(pass), &why), 0);
	ck_assert_str_eq(user, "alice@example.org");
	ck_assert_str_eq(pass, "pw\tx");
}
END_TEST

/* Failing messages: each gives a reason and leaves both outputs zero. */
static const struct { const char *msg; size_t len; const char *why; } bad[] = {
	{ M("bob\0alice\0secret"), "authorization identity not supported" },
	{ M("alic\0alice\0secret"), "authorization identity not supported" },
	{ M("Alice\0alice\0secret"), "authorization identity not supported" },
	{ M("\0\0secret"), "empty user name" },
	{ M("\0alice\0"), "empty password" },
	{ M("alice\0secret"), "missing NUL separator" },
	{ M("alicesecret"), "missing NUL separator" },
	{ M(""), "missing NUL separator" },
	{ M("\0"), "missing NUL separator" },
	{ M("\0alice\0sec\0ret"), "NUL in password" },
	{ M("\0alice\0secret\0"), "NUL in password" },
	{ M("\0\0\0"), "NUL in password" },
	{ M("\0ali\nce\0secret"), "control character in user name" },
	{ M("\0alice\r\0secret"), "control character in user name" },
	{ M("\0alice\x7f\0secret"), "control character in user name" },
};
#define NBAD	(sizeof(bad) / sizeof(bad[0]))

START_TEST(test_plain_bad)
{
	char user[65], pass[512];
	const char *why;

	ck_assert_int_eq(plain(bad[_i].msg, bad[_i].len, user, sizeof(user), pass,
	    sizeof(pass), &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, bad[_i].why);
	ck_assert(all_zero(user, sizeof(user)));
	ck_assert(all_zero(pass, sizeof(pass)));
}
END_TEST

START_TEST(test_plain_limits)
{
	char msg[700], user[65], pass[512], small[5];
	const char *why;
	size_t n;

	/* user name of 64 bytes passes, 65 does not */
	msg[0] = '\0';
	memset(msg + 1, 'u', 65);
	msg[65] = '\0';
	memcpy(msg + 66, "pw", 2);
	ck_assert_int_eq(plain(msg, 68, user, sizeof(user), pass, sizeof(pass),
	    &why), 0);
	ck_assert_uint_eq(strlen(user), 64);
	memset(msg + 1, 'u', 65);
	msg[66] = '\0';
	memcpy(msg + 67, "pw", 2);
	ck_assert_int_eq(plain(msg, 69, user, sizeof(user), pass, sizeof(pass),
	    &why), -1);
	ck_assert_str_eq(why, "user name too long");
	ck_assert(all_zero(user, sizeof(user)) && all_zero(pass, sizeof(pass)));

	/* password of 511 bytes passes, 512 does not */
	memcpy(msg, "\0bob\0", 5);
	memset(msg + 5, 'p', 512);
	ck_assert_int_eq(plain(msg, 5 + 511, user, sizeof(user), pass,
	    sizeof(pass), &why), 0);
	ck_assert_uint_eq(strlen(pass), 511);
	ck_assert_int_eq(plain(msg, 5 + 512, user, sizeof(user), pass,
	    sizeof(pass), &why), -1);
	ck_assert_str_eq(why, "password too long");
	ck_assert(all_zero(user, sizeof(user)) && all_zero(pass, sizeof(pass)));

	/* the caller's capacities bound the copy, NUL included */
	ck_assert_int_eq(plain(M("\0alice\0secret"), small, sizeof(small), pass,
	    sizeof(pass), &why), -1);
	ck_assert_str_eq(why, "credentials too long");
	ck_assert(all_zero(small, sizeof(small)));
	ck_assert_int_eq(plain(M("\0alic\0secret"), small, sizeof(small), pass,
	    sizeof(pass), &why), 0);
	ck_assert_str_eq(small, "alic");
	ck_assert_int_eq(plain(M("\0alic\0secret"), user, sizeof(user), small,
	    sizeof(small), &why), -1);
	ck_assert(all_zero(small, sizeof(small)) && all_zero(user, sizeof(user)));

	/* why may be NULL */
	n = sizeof("\0\0x") - 1;
	ck_assert_int_eq(sasl_plain_parse((const unsigned char *)"\0\0x", n, user,
	    sizeof(user), pass, sizeof(pass), NULL), -1);
}
END_TEST

/* The decoded form as kurir-smtpd sees it: base64 first, then PLAIN. */
START_TEST(test_plain_from_base64)
{
	/* "\0alice\0secret" */
	const char *b64 = "AGFsaWNlAHNlY3JldA==";
	unsigned char msg[64];
	char user[65], pass[512];
	const char *why;
	size_t n;

	ck_assert_int_eq(base64_decode(b64, strlen(b64), msg, sizeof(msg), &n), 0);
	ck_assert_int_eq(sasl_plain_parse(msg, n, user, sizeof(user), pass,
	    sizeof(pass), &why), 0);
	ck_assert_str_eq(user, "alice");
	ck_assert_str_eq(pass, "secret");
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");
	TCase *ts = tcase_create("sasl");

	tcase_add_loop_test(tc, test_vectors, 0, (int)NVECTORS);
	tcase_add_loop_test(tc, test_invalid, 0, (int)NINVALID);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_decode_capacity);
	tcase_add_test(tc, test_encode_capacity);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	tcase_add_test(ts, test_plain_good);
	tcase_add_loop_test(ts, test_plain_bad, 0, (int)NBAD);
	tcase_add_test(ts, test_plain_limits);
	tcase_add_test(ts, test_plain_from_base64);
	suite_add_tcase(s, ts);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(base64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
