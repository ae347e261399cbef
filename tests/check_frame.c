/*
 * check_frame.c - unit tests for common/frame.c: packing, partial input,
 * length and header checks, descriptor passing.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

START_TEST(test_pack_peek)
{
	struct buf b;
	struct frame f;

	buf_init(&b, 0);
	ck_assert_int_eq(frame_pack(&b, 7, 42, "hello", 5), 0);
	ck_assert_int_eq(frame_pack(&b, 8, 43, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 2 * FRAME_HDR + 5);
	ck_assert_int_eq(frame_peek(&b, &f), 1);
	ck_assert_uint_eq(f.type, 7);
	ck_assert_uint_eq(f.id, 42);
	ck_assert_uint_eq(f.len, 5);
	ck_assert_int_eq(memcmp(f.data, "hello", 5), 0);
	frame_consume(&b, &f);
	ck_assert_int_eq(frame_peek(&b, &f), 1);
	ck_assert_uint_eq(f.type, 8);
	ck_assert_uint_eq(f.len, 0);
	frame_consume(&b, &f);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_partial)
{
	struct buf b, in;
	struct frame f;
	size_t i;

	buf_init(&b, 0);
	buf_init(&in, 0);
	frame_pack(&b, 1, 1, "0123456789", 10);
	/* byte by byte: incomplete until the very last byte */
	for (i = 0; i < b.len - 1; i++) {
		buf_add(&in, b.data + i, 1);
		ck_assert_int_eq(frame_peek(&in, &f), 0);
	}
	buf_add(&in, b.data + i, 1);
	ck_assert_int_eq(frame_peek(&in, &f), 1);
	buf_free(&b);
	buf_free(&in);
}
END_TEST

START_TEST(test_limits)
{
	struct buf b;
	struct frame f;
	unsigned char h[FRAME_HDR];
	uint32_t n;
	static char big[FRAME_MAX + 1];

	buf_init(&b, 0);
	errno = 0;
	ck_assert_int_eq(frame_pack(&b, 1, 1, big, FRAME_MAX + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(frame_pack(&b, 1, 1, big, FRAME_MAX), 0);
	buf_reset(&b);
	/* a header announcing more than FRAME_MAX is refused at once */
	memset(h, 0, sizeof(h));
	n = htonl(FRAME_MAX + 1);
	memcpy(h, &n, 4);
	buf_add(&b, h, sizeof(h));
	ck_assert_int_eq(frame_peek(&b, &f), -1);
	/* so are reserved bits */
	buf_reset(&b);
	memset(h, 0, sizeof(h));
	h[6] = 1;
	buf_add(&b, h, sizeof(h));
	ck_assert_int_eq(frame_peek(&b, &f), -1);
	/* a huge length (wrap-around bait) too */
	buf_reset(&b);
	memset(h, 0xff, 4);
	memset(h + 4, 0, 8);
	buf_add(&b, h, sizeof(h));
	ck_assert_int_eq(frame_peek(&b, &f), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_socket_and_fd)
{
	int sp[2], p[2];
	struct buf in;
	struct frame f;
	char c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(pipe(p), 0);
	buf_init(&in, 0);
	ck_assert_int_eq(frame_write(sp[0], 3, 9, "abc", 3), 0);
	ck_assert_int_eq(frame_write_fd(sp[0], 4, 10, "x", 1, p[0]), 0);
	ck_assert_int_eq(frame_read(sp[1], &in, &f), 1);
	ck_assert_uint_eq(f.type, 3);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(memcmp(f.data, "abc", 3), 0);
	ck_assert_int_eq(frame_read(sp[1], &in, &f), 1);
	ck_assert_uint_eq(f.type, 4);
	ck_assert_int_ge(f.fd, 0);
	/* the passed descriptor is the pipe's read end */
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	ck_assert_int_eq(read(f.fd, &c, 1), 1);
	ck_assert_int_eq(c, 'z');
	close(f.fd);
	close(sp[0]);
	ck_assert_int_eq(frame_read(sp[1], &in, &f), 0);	/* clean EOF */
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	buf_free(&in);
}
END_TEST

START_TEST(test_truncated_stream)
{
	int sp[2];
	struct buf b, in;
	struct frame f;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	buf_init(&b, 0);
	buf_init(&in, 0);
	frame_pack(&b, 1, 1, "0123456789", 10);
	ck_assert_int_eq(write(sp[0], b.data, b.len - 3), (ssize_t)b.len - 3);
	close(sp[0]);
	ck_assert_int_eq(frame_read(sp[1], &in, &f), -1);
	close(sp[1]);
	buf_free(&b);
	buf_free(&in);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_pack_peek);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_socket_and_fd);
	tcase_add_test(tc, test_truncated_stream);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
