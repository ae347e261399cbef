/*
 * check_maildrop.c - unit tests for the POP3 maildrop of kurir-pop3d
 * (pop3d/maildrop.c), in-process on a temporary Maildir.
 * Covers: a missing Maildir layout (created), messages in new/ and cur/,
 * sizes with LF counted as CRLF (no final LF, empty, 1 MB), uids stable
 * across opens and across the move to cur/, the digest uid of a long or
 * unprintable name, delivery order, the session lock, DELE + commit,
 * DELE + close, RSET, RETR -> cur/ with sorted flags, symlinks, dotfiles
 * and directories skipped, a symlinked new/ refused, messages vanishing
 * before commit, mail arriving after open, and the MAILDROP_MAX cap
 * keeping the oldest.
 * Writes under /tmp; runs as any user.
 */
#include <sys/stat.h>
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pop3d/maildrop.c"

static char topdir[64], maildir[128];
static int root_fd = -1;
static char err[256];

/* ---- harness ------------------------------------------------------------ */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void
setup(void)
{
	log_init("check_maildrop", 1);
	strlcpy(topdir, "/tmp/check_maildrop.XXXXXX", sizeof(topdir));
	ck_assert_ptr_nonnull(mkdtemp(topdir));
	snprintf(maildir, sizeof(maildir), "%s/Maildir", topdir);
	ck_assert_int_eq(mkdir(maildir, 0700), 0);
	ck_assert_int_ne(root_fd = open(maildir, O_RDONLY | O_DIRECTORY), -1);
	err[0] = '\0';
}

static void
teardown(void)
{
	close(root_fd);
	nftw(topdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
mkdirs(void)
{
	ck_assert_int_eq(mkdirat(root_fd, "tmp", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "new", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "cur", 0700), 0);
}

/* Write len bytes of data to <Maildir>/rel. */
static void
put(const char *rel, const char *data, size_t len)
{
	int fd;

	ck_assert_int_ne(fd = openat(root_fd, rel,
	    O_WRONLY | O_CREAT | O_EXCL, 0600), -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
puts_(const char *rel, const char *s)
{
	put(rel, s, strlen(s));
}

static int
exists(const char *rel)
{
	struct stat st;

	return fstatat(root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Entries in <Maildir>/rel, not . and .. */
static int
count(const char *rel)
{
	DIR *dir;
	struct dirent *e;
	int fd, n = 0;

	ck_assert_int_ne(fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY),
	    -1);
	ck_assert_ptr_nonnull(dir = fdopendir(fd));
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static void
md_open_ok(struct maildrop *md)
{
	int r = maildrop_open(md, root_fd, err, sizeof(err));

	ck_assert_msg(r == 0, "maildrop_open: %d %s", r, err);
}

/* Index of the message named name, or -1. */
static long
find(const struct maildrop *md, const char *name)
{
	size_t i;

	for (i = 0; i < md->n; i++)
		if (strcmp(md->msgs[i].name, name) == 0)
			return (long)i;
	return -1;
}

#define N1	"1700000001.M1P1Q1Raaaa.host"
#define N2	"1700000002.M1P1Q2Rbbbb.host"
#define N3	"1700000003.M1P1Q3Rcccc.host"

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_empty_created)
{
	struct maildrop md;
	struct stat st;
	size_t n;
	unsigned long long oct;

	/* a user with no mail yet: no tmp/ new/ cur/ */
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 0);
	maildrop_stat(&md, &n, &oct);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(oct, 0);
	ck_assert(exists("tmp") && exists("new") && exists("cur"));
	ck_assert_int_eq(fstatat(root_fd, "new", &st, 0), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(fstatat(root_fd, MAILDROP_LOCK, &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert_int_eq(md.lockfd, -1);
	ck_assert_int_eq(md.dirfd, -1);
}
END_TEST

START_TEST(test_sizes)
{
	struct maildrop md;
	char *big;
	size_t i, bigsz = 1024 * 1024, lfs = 0, n;
	unsigned long long oct;
	long k;
	char line[256];
	int fd;
	ssize_t r;

	mkdirs();
	puts_("new/" N1, "a\nb\n");			/* 4 + 2 */
	puts_("new/" N2, "abc");			/* 3 + 0 + 2 */
	puts_("cur/" N3 ":2,S", "");			/* 0 */
	ck_assert_ptr_nonnull(big = malloc(bigsz));
	for (i = 0; i < bigsz; i++) {
		big[i] = (i % 77 == 76) ? '\n' : 'x';
		if (big[i] == '\n')
			lfs++;
	}
	put("cur/1700000004.big.host:2,RS", big, bigsz);
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 4);
	ck_assert_int_eq(k = find(&md, N1), 0);
	ck_assert_uint_eq(md.msgs[k].size, 6);
	ck_assert(md.msgs[k].in_new);
	ck_assert_int_eq(k = find(&md, N2), 1);
	ck_assert_uint_eq(md.msgs[k].size, 5);
	ck_assert_int_eq(k = find(&md, N3 ":2,S"), 2);
	ck_assert_uint_eq(md.msgs[k].size, 0);
	ck_assert(!md.msgs[k].in_new);
	ck_assert_int_eq(k = find(&md, "1700000004.big.host:2,RS"), 3);
	/* 1 MB ends in 'x': its last line gets a CRLF too */
	ck_assert(big[bigsz - 1] != '\n');
	ck_assert_uint_eq(md.msgs[k].size, bigsz + lfs + 2);
	maildrop_stat(&md, &n, &oct);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(oct, 6 + 5 + 0 + bigsz + lfs + 2);

	/* the caller streams the bytes as stored */
	ck_assert_int_ne(fd = maildrop_open_msg(&md, 0), -1);
	ck_assert_int_eq(r = read(fd, line, sizeof(line)), 4);
	ck_assert(memcmp(line, "a\nb\n", 4) == 0);
	close(fd);
	errno = 0;
	ck_assert_int_eq(maildrop_open_msg(&md, 4), -1);
	ck_assert_int_eq(errno, EINVAL);
	maildrop_close(&md);
	free(big);
}
END_TEST

START_TEST(test_uid_stable)
{
	struct maildrop md;
	char uid1[UIDL_MAX + 1], uid2[UIDL_MAX + 1];
	long k;

	mkdirs();
	puts_("new/" N1, "one\n");
	puts_("cur/" N2 ":2,", "two\n");
	md_open_ok(&md);
	ck_assert_str_eq(md.msgs[0].uid, N1);
	ck_assert_str_eq(md.msgs[1].uid, N2);
	strlcpy(uid1, md.msgs[0].uid, sizeof(uid1));
	strlcpy(uid2, md.msgs[1].uid, sizeof(uid2));
	maildrop_close(&md);

	md_open_ok(&md);
	ck_assert_str_eq(md.msgs[0].uid, uid1);
	ck_assert_str_eq(md.msgs[1].uid, uid2);
	md.msgs[0].seen = 1;			/* RETR 1 */
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert(exists("cur/" N1 ":2,S"));
	ck_assert(!exists("new/" N1));

	/* moved to cur/: same uid, same number */
	md_open_ok(&md);
	ck_assert_int_eq(k = find(&md, N1 ":2,S"), 0);
	ck_assert(!md.msgs[k].in_new);
	ck_assert_str_eq(md.msgs[k].uid, uid1);
	ck_assert_str_eq(md.msgs[1].uid, uid2);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_uid_digest)
{
	struct maildrop md;
	char longname[200], uid[UIDL_MAX + 1], cur[220];
	const char *p;
	long k;

	mkdirs();
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "1700000001.", 11);
	longname[150] = '\0';
	snprintf(cur, sizeof(cur), "new/%s", longname);
	puts_(cur, "x\n");
	puts_("new/1700000002.sp ace.host", "y\n");
	puts_("new/1700000003.seventy", "z\n");
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 3);
	ck_assert_int_eq(k = find(&md, longname), 0);
	p = md.msgs[k].uid;
	ck_assert_uint_eq(strlen(p), 33);
	ck_assert(p[0] == 'h');
	for (; *p != '\0'; p++)
		ck_assert(*p >= 0x21 && *p <= 0x7e);
	strlcpy(uid, md.msgs[k].uid, sizeof(uid));
	/* a space is outside 0x21..0x7E: a digest too, a different one */
	ck_assert(md.msgs[1].uid[0] == 'h');
	ck_assert_str_ne(md.msgs[1].uid, uid);
	ck_assert_str_eq(md.msgs[2].uid, "1700000003.seventy");
	md.msgs[k].seen = 1;
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);

	/* stable across sessions and the move to cur/ */
	md_open_ok(&md);
	snprintf(cur, sizeof(cur), "%s:2,S", longname);
	ck_assert_int_eq(k = find(&md, cur), 0);
	ck_assert_str_eq(md.msgs[k].uid, uid);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_order)
{
	struct maildrop md;

	mkdirs();
	puts_("new/1700000002.x", "");
	puts_("new/1700000001.z", "");
	puts_("cur/1700000001.y:2,S", "");
	puts_("new/999.a", "");			/* fewer digits: older */
	puts_("cur/1600000000.b:2,", "");
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 5);
	ck_assert_str_eq(md.msgs[0].name, "999.a");
	ck_assert_str_eq(md.msgs[1].name, "1600000000.b:2,");
	ck_assert_str_eq(md.msgs[2].name, "1700000001.y:2,S");
	ck_assert_str_eq(md.msgs[3].name, "1700000001.z");
	ck_assert_str_eq(md.msgs[4].name, "1700000002.x");
	maildrop_close(&md);
}
END_TEST

START_TEST(test_lock)
{
	struct maildrop a, b;

	mkdirs();
	puts_("new/" N1, "x\n");
	md_open_ok(&a);
	ck_assert_int_eq(maildrop_open(&b, root_fd, err, sizeof(err)), 1);
	ck_assert_int_eq(b.lockfd, -1);
	ck_assert_int_eq(b.dirfd, -1);
	maildrop_close(&a);
	md_open_ok(&b);
	ck_assert_uint_eq(b.n, 1);
	maildrop_close(&b);
	/* the caller's descriptor was not taken over */
	ck_assert_int_ne(fcntl(root_fd, F_GETFD), -1);
}
END_TEST

START_TEST(test_dele_commit_close_rset)
{
	struct maildrop md;
	size_t n;
	unsigned long long oct;

	mkdirs();
	puts_("new/" N1, "1\n");
	puts_("cur/" N2 ":2,S", "22\n");
	puts_("new/" N3, "333\n");

	/* DELE then a dropped connection: nothing deleted */
	md_open_ok(&md);
	md.msgs[0].deleted = md.msgs[1].deleted = 1;
	md.msgs[2].seen = 1;
	maildrop_stat(&md, &n, &oct);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(oct, 5);
	errno = 0;
	ck_assert_int_eq(maildrop_open_msg(&md, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	maildrop_close(&md);
	ck_assert(exists("new/" N1) && exists("cur/" N2 ":2,S") &&
	    exists("new/" N3));

	/* RSET unmarks */
	md_open_ok(&md);
	md.msgs[0].deleted = md.msgs[1].deleted = 1;
	maildrop_reset(&md);
	maildrop_stat(&md, &n, &oct);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(oct, 3 + 4 + 5);
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert_int_eq(count("new"), 2);
	ck_assert_int_eq(count("cur"), 1);

	/* DELE + QUIT: gone, from new/ and cur/ */
	md_open_ok(&md);
	md.msgs[0].deleted = md.msgs[1].deleted = 1;
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert(!exists("new/" N1) && !exists("cur/" N2 ":2,S"));
	ck_assert(exists("new/" N3));
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 1);
	ck_assert_str_eq(md.msgs[0].name, N3);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_seen_flags)
{
	struct maildrop md;
	size_t i;

	mkdirs();
	puts_("new/1700000001.a", "a\n");
	puts_("cur/1700000002.b:2,R", "b\n");
	puts_("cur/1700000003.c:2,S", "c\n");
	puts_("cur/1700000004.d:2,FT", "d\n");
	puts_("cur/1700000005.e", "e\n");	/* no info part */
	puts_("cur/1700000006.f:2,", "f\n");
	puts_("cur/1700000007.g:2,R", "g\n");	/* not retrieved */
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 7);
	for (i = 0; i < 6; i++)
		md.msgs[i].seen = 1;
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert_int_eq(count("new"), 0);
	ck_assert_int_eq(count("cur"), 7);
	ck_assert(exists("cur/1700000001.a:2,S"));
	ck_assert(exists("cur/1700000002.b:2,RS"));
	ck_assert(exists("cur/1700000003.c:2,S"));
	ck_assert(exists("cur/1700000004.d:2,FST"));
	ck_assert(exists("cur/1700000005.e:2,S"));
	ck_assert(exists("cur/1700000006.f:2,S"));
	ck_assert(exists("cur/1700000007.g:2,R"));
}
END_TEST

START_TEST(test_skipped_entries)
{
	struct maildrop md;
	char target[256];

	mkdirs();
	snprintf(target, sizeof(target), "%s/secret", topdir);
	ck_assert_int_eq(close(open(target, O_WRONLY | O_CREAT, 0600)), 0);
	puts_("new/" N1, "x\n");
	ck_assert_int_eq(symlinkat(target, root_fd, "new/1700000000.link"),
	    0);
	ck_assert_int_eq(symlinkat(target, root_fd, "cur/1700000000.l:2,"),
	    0);
	puts_("new/.1700000000.dot", "hidden\n");
	puts_("cur/.hidden:2,S", "hidden\n");
	ck_assert_int_eq(mkdirat(root_fd, "new/1700000000.dir", 0700), 0);
	ck_assert_int_eq(mkfifoat(root_fd, "new/1700000000.fifo", 0600), 0);
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 1);
	ck_assert_str_eq(md.msgs[0].name, N1);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_symlinked_new)
{
	struct maildrop md;
	char target[256];

	snprintf(target, sizeof(target), "%s/elsewhere", topdir);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "cur", 0700), 0);
	ck_assert_int_eq(mkdirat(root_fd, "tmp", 0700), 0);
	ck_assert_int_eq(symlinkat(target, root_fd, "new"), 0);
	ck_assert_int_eq(maildrop_open(&md, root_fd, err, sizeof(err)), -1);
	ck_assert(strstr(err, "new") != NULL);
	ck_assert_int_eq(md.lockfd, -1);
	/* the lock went with the failed open */
	ck_assert_int_eq(unlinkat(root_fd, "new", 0), 0);
	md_open_ok(&md);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_vanished_and_late)
{
	struct maildrop md;
	size_t n;
	unsigned long long oct;

	mkdirs();
	puts_("new/" N1, "1\n");
	puts_("cur/" N2 ":2,", "2\n");
	puts_("new/" N3, "3\n");
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 3);
	md.msgs[0].deleted = 1;
	md.msgs[1].seen = 1;
	md.msgs[2].seen = 1;
	/* another client takes two of them meanwhile */
	ck_assert_int_eq(unlinkat(root_fd, "new/" N1, 0), 0);
	ck_assert_int_eq(unlinkat(root_fd, "cur/" N2 ":2,", 0), 0);
	errno = 0;
	ck_assert_int_eq(maildrop_open_msg(&md, 1), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* and new mail arrives: not shown in this session */
	puts_("new/1700000009.late", "late\n");
	ck_assert_uint_eq(md.n, 3);
	maildrop_stat(&md, &n, &oct);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), 0);
	maildrop_close(&md);
	ck_assert(exists("cur/" N3 ":2,S"));
	ck_assert(exists("new/1700000009.late"));
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, 2);
	ck_assert_str_eq(md.msgs[1].name, "1700000009.late");
	maildrop_close(&md);
}
END_TEST

START_TEST(test_delete_fails)
{
	struct maildrop md;

	mkdirs();
	puts_("new/" N1, "1\n");
	puts_("new/" N2, "2\n");
	puts_("new/" N3, "3\n");
	md_open_ok(&md);
	md.msgs[0].deleted = md.msgs[1].deleted = md.msgs[2].deleted = 1;
	/*
	 * Two names turn into directories meanwhile: unlink fails (EISDIR),
	 * as root too, unlike a read-only directory.
	 */
	ck_assert_int_eq(unlinkat(root_fd, "new/" N1, 0), 0);
	ck_assert_int_eq(mkdirat(root_fd, "new/" N1, 0700), 0);
	ck_assert_int_eq(unlinkat(root_fd, "new/" N2, 0), 0);
	ck_assert_int_eq(mkdirat(root_fd, "new/" N2, 0700), 0);
	ck_assert_int_eq(maildrop_commit(&md, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, N1) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "1 more") != NULL, "%s", err);
	maildrop_close(&md);
	ck_assert(!exists("new/" N3));
	ck_assert_int_eq(count("new"), 2);
}
END_TEST

START_TEST(test_max_keeps_oldest)
{
	struct maildrop md;
	char name[64];
	size_t i, total = MAILDROP_MAX + 50;
	int fd;

	mkdirs();
	/* created newest first, so readdir order does not favour the old */
	for (i = total; i-- > 0;) {
		snprintf(name, sizeof(name), "%s/%zu.m", i % 2 ? "new" : "cur",
		    1000000000 + i);
		ck_assert_int_ne(fd = openat(root_fd, name,
		    O_WRONLY | O_CREAT | O_EXCL, 0600), -1);
		close(fd);
	}
	md_open_ok(&md);
	ck_assert_uint_eq(md.n, MAILDROP_MAX);
	for (i = 0; i < md.n; i++) {
		snprintf(name, sizeof(name), "%zu.m", 1000000000 + i);
		ck_assert_str_eq(md.msgs[i].name, name);
	}
	maildrop_close(&md);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("maildrop");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_empty_created);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_uid_stable);
	tcase_add_test(tc, test_uid_digest);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_dele_commit_close_rset);
	tcase_add_test(tc, test_seen_flags);
	tcase_add_test(tc, test_skipped_entries);
	tcase_add_test(tc, test_symlinked_new);
	tcase_add_test(tc, test_vanished_and_late);
	tcase_add_test(tc, test_delete_fails);
	tcase_add_test(tc, test_max_keeps_oldest);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
