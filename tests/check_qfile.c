/*
 * check_qfile.c - unit tests for common/qfile.c: ids, the envelope format
 * (against a golden file), truncation and corruption, the state log.
 */
#include <sys/stat.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "qfile.h"

#ifndef GOLDEN
#define GOLDEN "tests/golden/queue-entry.txt"
#endif

static char dir[] = "/tmp/check_qfile.XXXXXX";
static int dirfd_, sfd_;

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd_, 0);
}

static void
teardown(void)
{
	char cmd[128];

	close(dirfd_);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/check_qfile.XXXXXX");
}

static void
put(const char *name, const char *data, size_t len)
{
	int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, data, len), 0);
	close(fd);
}

START_TEST(test_qid)
{
	char a[QID_LEN + 1], b[QID_LEN + 1];
	int i;

	qid_new(a);
	ck_assert(qid_valid(a));
	for (i = 0; i < 10000; i++) {
		qid_new(b);
		ck_assert(qid_valid(b));
		ck_assert_int_lt(strcmp(a, b), 0);	/* strictly increasing */
		memcpy(a, b, sizeof(a));
	}
	ck_assert(!qid_valid("000644a1b2c3d4e"));	/* short */
	ck_assert(!qid_valid("000644a1b2c3d4e5f"));	/* long */
	ck_assert(!qid_valid("000644A1B2C3D4E5"));	/* upper case */
	ck_assert(!qid_valid("../../etc/passwd"));
}
END_TEST

START_TEST(test_golden_roundtrip)
{
	struct qrcpt r[2] = { { .addr = "bob@example.test" },
	    { .addr = "\"odd name\"@example.test" } };
	struct qenv e = { .id = "000644a1b2c3d4e5", .arrival = 1790000000,
	    .uid = 1000, .client = "local uid 1000",
	    .sender = "alice@example.test", .rcpts = r, .nrcpts = 2,
	    .size = 12 };
	struct buf b;
	char golden[4096];
	size_t off;
	FILE *f;
	size_t n;

	buf_init(&b, 0);
	ck_assert_int_eq(qenv_format(&b, &e, &off), 0);
	buf_addstr(&b, "Subject: x\n\n");
	f = fopen(GOLDEN, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(golden, 1, sizeof(golden), f);
	fclose(f);
	ck_assert_uint_eq(n, b.len);
	ck_assert_int_eq(memcmp(golden, b.data, n), 0);
	ck_assert_int_eq(memcmp(b.data + off, "00000000000000000012", 20), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_open_and_state)
{
	struct qenv e;
	const char *why;
	char golden[4096], body[64];
	FILE *f;
	size_t n;
	int fd;

	f = fopen(GOLDEN, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(golden, 1, sizeof(golden), f);
	fclose(f);
	put("000644a1b2c3d4e5", golden, n);
	fd = qenv_open(dirfd_, "000644a1b2c3d4e5", &e, &why);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(e.sender, "alice@example.test");
	ck_assert_uint_eq(e.nrcpts, 2);
	ck_assert_str_eq(e.rcpts[1].addr, "\"odd name\"@example.test");
	ck_assert_int_eq(e.uid, 1000);
	ck_assert_int_eq(read(fd, body, sizeof(body)), 12);
	ck_assert_int_eq(memcmp(body, "Subject: x\n\n", 12), 0);
	close(fd);

	ck_assert_int_eq(mkdirat(dirfd_, "state", 0700), 0);
	sfd_ = openat(dirfd_, "state", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(sfd_, 0);
	/* the state log: last line per recipient wins, a torn line is ignored */
	ck_assert_int_eq(qstate_append(sfd_, e.id, 0, QS_DEFERRED, 1, 1790000060,
	    "4.4.1 connection refused", 1), 0);
	ck_assert_int_eq(qstate_append(sfd_, e.id, 1, QS_DELIVERED, 1, 0,
	    NULL, 0), 0);
	ck_assert_int_eq(qstate_append(sfd_, e.id, 0, QS_DEFERRED, 2, 1790000180,
	    "4.4.1 still\nrefused", 0), 0);
	ck_assert_int_eq(qstate_apply(sfd_, &e), 0);
	ck_assert_int_eq(e.rcpts[0].state, QS_DEFERRED);
	ck_assert_uint_eq(e.rcpts[0].attempts, 2);
	ck_assert_int_eq(e.rcpts[0].next_try, 1790000180);
	ck_assert_str_eq(e.rcpts[0].last_error, "4.4.1 still refused");
	ck_assert_int_eq(e.rcpts[1].state, QS_DELIVERED);
	ck_assert_ptr_null(e.rcpts[1].last_error);
	qenv_free(&e);

	/* a crash mid-append leaves a torn line; the next append still counts */
	fd = qenv_open(dirfd_, "000644a1b2c3d4e5", &e, &why);
	ck_assert_int_ge(fd, 0);
	close(fd);
	{
		int sfd = openat(sfd_, e.id, O_WRONLY | O_APPEND);
		ck_assert_int_eq(write(sfd, "0 fail", 6), 6);
		close(sfd);
	}
	ck_assert_int_eq(qstate_append(sfd_, e.id, 1, QS_FAILED, 1, 0,
	    "5.1.1 no such user", 1), 0);
	ck_assert_int_eq(qstate_apply(sfd_, &e), 0);
	ck_assert_int_eq(e.rcpts[0].state, QS_DEFERRED);
	ck_assert_int_eq(e.rcpts[1].state, QS_FAILED);
	ck_assert_str_eq(e.rcpts[1].last_error, "5.1.1 no such user");
	qenv_free(&e);
	close(sfd_);
}
END_TEST

/* alias targets: finished ones are remembered (xtext keys), others not */
START_TEST(test_target_lines)
{
	struct qenv e;
	struct buf b;
	const char *why;
	char golden[4096];
	FILE *f;
	size_t n;
	int fd;

	f = fopen(GOLDEN, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(golden, 1, sizeof(golden), f);
	fclose(f);
	put("000644a1b2c3d4e5", golden, n);
	ck_assert_int_eq(mkdirat(dirfd_, "state", 0700), 0);
	sfd_ = openat(dirfd_, "state", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(sfd_, 0);

	buf_init(&b, 0);
	ck_assert_int_eq(qstate_format(&b, 0, "user:alice", QS_DELIVERED, 1, 0,
	    "2.0.0 ok"), 0);
	/* a key with a space, '+' and a control byte stays one field */
	ck_assert_int_eq(qstate_format(&b, 0, "remote:\"a b+c\x01\"@x.test",
	    QS_FAILED, 1, 0, "5.1.1 no"), 0);
	ck_assert_int_eq(qstate_format(&b, 0, "user:bob", QS_DEFERRED, 1,
	    1790000060, "4.2.0 full"), 0);
	ck_assert_int_eq(qstate_format(&b, 0, NULL, QS_DEFERRED, 1, 1790000060,
	    "4.2.0 full"), 0);
	ck_assert_int_eq(qstate_format_warned(&b), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
	    "0/remote:\"a+20b+2Bc+01\"@x.test failed"));
	ck_assert_int_eq(qstate_write(sfd_, "000644a1b2c3d4e5", &b, 1), 0);
	/* malformed keys are ignored, not half-applied */
	buf_reset(&b);
	buf_addstr(&b, "1/user:+zz delivered 1 0 x\n1/ delivered 1 0 x\n"
	    "1/+00 delivered 1 0 x\n9/user:x delivered 1 0 x\n");
	ck_assert_int_eq(qstate_write(sfd_, "000644a1b2c3d4e5", &b, 0), 0);
	buf_free(&b);

	fd = qenv_open(dirfd_, "000644a1b2c3d4e5", &e, &why);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(qstate_apply(sfd_, &e), 0);
	ck_assert_int_eq(e.warned, 1);
	ck_assert_int_eq(e.rcpts[0].state, QS_DEFERRED);
	ck_assert_uint_eq(e.rcpts[0].ndone, 2);
	ck_assert(qrcpt_done(&e.rcpts[0], "user:alice"));
	ck_assert(qrcpt_done(&e.rcpts[0], "remote:\"a b+c\x01\"@x.test"));
	ck_assert(!qrcpt_done(&e.rcpts[0], "user:bob"));
	ck_assert_uint_eq(e.rcpts[1].ndone, 0);
	ck_assert_int_eq(e.rcpts[1].state, QS_PENDING);
	qenv_free(&e);
	close(sfd_);
}
END_TEST

START_TEST(test_truncated_and_corrupt)
{
	struct qenv e;
	const char *why;
	char golden[4096], bad[4096];
	FILE *f;
	size_t n;
	char *p;

	f = fopen(GOLDEN, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(golden, 1, sizeof(golden), f);
	fclose(f);

	/* a message cut short does not match its recorded size */
	put("000644a1b2c3d4e5", golden, n - 1);
	ck_assert_int_eq(qenv_open(dirfd_, "000644a1b2c3d4e5", &e, &why), -1);
	ck_assert_str_eq(why, "message size does not match envelope");
	/* an envelope cut short is never a message */
	put("000644a1b2c3d4e5", golden, 40);
	ck_assert_int_eq(qenv_open(dirfd_, "000644a1b2c3d4e5", &e, &why), -1);
	/* name and recorded id must agree */
	put("000644a1b2c3d4e6", golden, n);
	ck_assert_int_eq(qenv_open(dirfd_, "000644a1b2c3d4e6", &e, &why), -1);
	/* bad names are refused before any open */
	ck_assert_int_eq(qenv_open(dirfd_, "../x", &e, &why), -1);

	/* unknown record, control character, duplicate, missing rcpt */
	memcpy(bad, golden, n);
	p = strstr(bad, "uid ");
	memcpy(p, "xyz ", 4);
	ck_assert_int_eq(qenv_parse(bad, n, &e, &why), -1);
	qenv_free(&e);
	memcpy(bad, golden, n);
	p = strstr(bad, "alice");
	*p = '\t';
	ck_assert_int_eq(qenv_parse(bad, n, &e, &why), -1);
	qenv_free(&e);
	ck_assert_int_eq(qenv_parse("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nsize 0\nend\n", strlen("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nsize 0\nend\n"), &e, &why), -1);
	qenv_free(&e);
	ck_assert_int_eq(qenv_parse("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "id 000644a1b2c3d4e5\narrival 1\nsender \nrcpt a@b\nsize 0\nend\n", strlen("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "id 000644a1b2c3d4e5\narrival 1\nsender \nrcpt a@b\nsize 0\nend\n"), &e, &why), -1);
	qenv_free(&e);
	ck_assert_int_eq(qenv_parse("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nrcpt a@b\nsize 99999999999999999999\nend\n", strlen("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nrcpt a@b\nsize 99999999999999999999\nend\n"), &e, &why), -1);
	qenv_free(&e);
	/* the null sender is an empty sender record */
	ck_assert_int_eq(qenv_parse("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nrcpt a@b\nsize 0\nend\n", strlen("KURIR-QUEUE 1\nid 000644a1b2c3d4e5\n"
	    "arrival 1\nsender \nrcpt a@b\nsize 0\nend\n"), &e, &why), 0);
	ck_assert_str_eq(e.sender, "");
	qenv_free(&e);
}
END_TEST

START_TEST(test_format_refuses_bad_fields)
{
	struct qrcpt r = { .addr = "bob@x\nrcpt evil@y" };
	struct qenv e = { .id = "000644a1b2c3d4e5", .sender = "a@b",
	    .rcpts = &r, .nrcpts = 1, .uid = -1 };
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(qenv_format(&b, &e, NULL), -1);
	r.addr = "bob@x";
	e.sender = "a@b\r";
	ck_assert_int_eq(qenv_format(&b, &e, NULL), -1);
	e.sender = "";
	e.nrcpts = 0;
	ck_assert_int_eq(qenv_format(&b, &e, NULL), -1);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("qfile");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_qid);
	tcase_add_test(tc, test_golden_roundtrip);
	tcase_add_test(tc, test_open_and_state);
	tcase_add_test(tc, test_target_lines);
	tcase_add_test(tc, test_truncated_and_corrupt);
	tcase_add_test(tc, test_format_refuses_bad_fields);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
