/*
 * check_local.c - unit tests for kurir-local (deliver/): the whole
 * program but main(), in-process.  Each test gets a temporary mail_dir
 * and a temporary "queue entry" (an envelope prefix, then the message);
 * requests go through local_batch_run directly or, for the link, over a
 * socketpair into a real event loop.
 * Covers: the stored bytes (Return-Path, Delivered-To, byte-exact body,
 * binary and large messages), Maildir creation, tmp/ left empty, unique
 * names (1000 deliveries, 20000 names), the host name escaping, path
 * traversal in the mailbox name, symlinked mailbox / tmp / new / mail
 * refused with nothing written outside, Delivered-To loops, short queue
 * files, an unwritable Maildir, a full disk (tmpfs, root only), a
 * link that meets an existing name, malformed requests, a batch of 50
 * over the socket, descriptors matched to their own frames, and the
 * protocol violations that end the link.
 * Writes under /tmp; runs as any user (as root, the permission test
 * drops to nobody in its forked child, and the disk-full test mounts a
 * tmpfs in a private mount namespace).
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "../deliver/batch.c"
#include "../deliver/link.c"
#include "../deliver/maildir.c"
#include "../deliver/req.c"

#define ENVELOPE	"S<bob@example.test>\nR<alice@example.test>\nend\n"
#define MSG		"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\n" \
			"Subject: hello\nFrom: bob@example.test\n\nbody line\n" \
			"\n.leading dot\nlast line without newline"

static char topdir[64], maildir[128], outside[128];
static int root_fd = -1;
static struct local_ctx ctx;

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
	log_init("check_local", 1);
	strlcpy(topdir, "/tmp/check_local.XXXXXX", sizeof(topdir));
	ck_assert_ptr_nonnull(mkdtemp(topdir));
	snprintf(maildir, sizeof(maildir), "%s/mail", topdir);
	snprintf(outside, sizeof(outside), "%s/outside", topdir);
	ck_assert_int_eq(mkdir(maildir, 0750), 0);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	ck_assert_int_ne(root_fd = open(maildir, O_RDONLY | O_DIRECTORY), -1);
	ck_assert_int_eq(local_init(&ctx, root_fd, "host.example"), 0);
}

static void
teardown(void)
{
	local_free(&ctx);
	close(root_fd);
	nftw(topdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A queue entry: ENVELOPE then msg (len bytes), unlinked; a read-only
 * descriptor, as kurir-send hands over, and the message offset in *off.
 */
static int
qfd_new(const char *msg, size_t len, long long *off)
{
	char path[160];
	int fd, ro;

	snprintf(path, sizeof(path), "%s/q.XXXXXX", topdir);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, ENVELOPE, strlen(ENVELOPE)),
	    (ssize_t)strlen(ENVELOPE));
	ck_assert_int_eq(write(fd, msg, len), (ssize_t)len);
	ck_assert_int_ne(ro = open(path, O_RDONLY | O_CLOEXEC), -1);
	unlink(path);
	close(fd);
	*off = (long long)strlen(ENVELOPE);
	return ro;
}

/* "offset\0size\0mailbox\0sender\0rcpt\0" into p; its length */
static size_t
payload(char *p, size_t plen, long long off, long long size,
    const char *mbox, const char *sender, const char *rcpt)
{
	int n;

	n = snprintf(p, plen, "%lld%c%lld%c%s%c%s%c%s%c", off, 0, size, 0,
	    mbox, 0, sender, 0, rcpt, 0);
	ck_assert(n > 0 && (size_t)n < plen);
	return (size_t)n;
}

/* Deliver msg to mbox in a batch of one; the request for inspection. */
static void
deliver(struct delivery *d, const char *mbox, const char *sender,
    const char *rcpt, const char *msg, size_t len)
{
	char p[LOCAL_REQ_MAX + 64];
	long long off;
	int fd = qfd_new(msg, len, &off);
	size_t n = payload(p, sizeof(p), off, (long long)len, mbox, sender,
	    rcpt);

	delivery_init(d, 1, p, n, fd);
	local_batch_run(&ctx, d, 1);
	ck_assert_int_eq(d->qfd, -1);
}

/* Entries in <mail_dir>/rel (not . and ..), -1 if it cannot be read. */
static int
count(const char *rel)
{
	char path[512];
	DIR *dir;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", maildir, rel);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

/* The contents of <mail_dir>/mbox/new/name (malloc'd) and its length. */
static char *
slurp(const char *mbox, const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/new/%s", maildir, mbox, name);
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_ptr_nonnull(p = malloc((size_t)st.st_size + 1));
	ck_assert_int_eq(read(fd, p, (size_t)st.st_size), st.st_size);
	p[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void
expect_stored(const struct delivery *d, const char *mbox, const char *head,
    const char *msg, size_t len)
{
	char *got;
	size_t n, hl = strlen(head);

	ck_assert_uint_eq(d->status, LP_OK);
	ck_assert_str_eq(d->text + strlen("2.0.0 delivered to maildir as "),
	    d->newname);
	got = slurp(mbox, d->newname, &n);
	ck_assert_uint_eq(n, hl + len);
	ck_assert(memcmp(got, head, hl) == 0);
	ck_assert(memcmp(got + hl, msg, len) == 0);
	free(got);
}

static void
expect_status(const struct delivery *d, uint16_t st, const char *prefix)
{
	ck_assert_uint_eq(d->status, st);
	if (strncmp(d->text, prefix, strlen(prefix)) != 0)
		ck_abort_msg("answer \"%s\", expected \"%s...\"", d->text,
		    prefix);
}

/* ---- what is stored ------------------------------------------------------ */

START_TEST(test_deliver_basic)
{
	struct delivery d;
	struct stat st;
	char path[256];
	const char *n;

	deliver(&d, "alice", "bob@example.test", "alice@example.test", MSG,
	    strlen(MSG));
	expect_stored(&d, "alice", "Return-Path: <bob@example.test>\n"
	    "Delivered-To: alice@example.test\n", MSG, strlen(MSG));
	ck_assert_str_eq(d.text + 30, d.newname);
	ck_assert_int_eq(count("alice/new"), 1);
	ck_assert_int_eq(count("alice/tmp"), 0);
	ck_assert_int_eq(count("alice/cur"), 0);
	snprintf(path, sizeof(path), "%s/alice", maildir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	/* <sec>.M<usec>P<pid>Q<n>R<16 hex>.<host>, no info part in new/ */
	n = d.newname;
	ck_assert(strchr(n, ':') == NULL && strchr(n, '/') == NULL);
	ck_assert_ptr_nonnull(strstr(n, ".M"));
	ck_assert_ptr_nonnull(n = strstr(n, "R"));
	ck_assert_uint_eq(strspn(n + 1, "0123456789abcdef"), 16);
	ck_assert_str_eq(n + 17, ".host.example");
}
END_TEST

START_TEST(test_null_sender_and_binary)
{
	struct delivery d;
	char big[700 * 1024];
	size_t i;

	/* <> as Return-Path; CR, NUL and 8-bit bytes kept as they are */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 1000);
	memcpy(big, "Subject: x\n\n", 12);
	deliver(&d, "bob", "", "bob@example.test", big, sizeof(big));
	expect_stored(&d, "bob", "Return-Path: <>\nDelivered-To: "
	    "bob@example.test\n", big, sizeof(big));
	/* an empty message is stored as the two fields alone */
	deliver(&d, "bob", "a@b", "bob@example.test", "", 0);
	expect_stored(&d, "bob", "Return-Path: <a@b>\nDelivered-To: "
	    "bob@example.test\n", "", 0);
	ck_assert_int_eq(count("bob/new"), 2);
	ck_assert_int_eq(count("bob/tmp"), 0);
}
END_TEST

START_TEST(test_maildir_partly_there)
{
	struct delivery d;
	char path[256];

	/* a mailbox with only cur/: tmp/ and new/ are added */
	snprintf(path, sizeof(path), "%s/carol", maildir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/carol/cur", maildir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	deliver(&d, "carol", "x@y", "carol@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
	ck_assert_int_eq(count("carol/new"), 1);
	/* and an existing one is used as it is */
	deliver(&d, "carol", "x@y", "carol@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
	ck_assert_int_eq(count("carol/new"), 2);
	ck_assert_int_eq(count("carol/tmp"), 0);
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_unique_names)
{
	static struct delivery v[250];
	char p[LOCAL_REQ_MAX], (*names)[LOCAL_NAME_MAX];
	char **sorted;
	long long off;
	size_t i, k, n;

	/* 1000 deliveries in four batches: 1000 distinct files */
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 250; i++) {
			int fd = qfd_new(MSG, strlen(MSG), &off);

			n = payload(p, sizeof(p), off, (long long)strlen(MSG),
			    "dave", "", "dave@example.test");
			delivery_init(&v[i], (uint32_t)i, p, n, fd);
		}
		local_batch_run(&ctx, v, 250);
		for (i = 0; i < 250; i++)
			ck_assert_uint_eq(v[i].status, LP_OK);
	}
	ck_assert_int_eq(count("dave/new"), 1000);
	ck_assert_int_eq(count("dave/tmp"), 0);
	/* and the name maker alone, in one second: never a repeat */
	ck_assert_ptr_nonnull(names = calloc(20000, LOCAL_NAME_MAX));
	ck_assert_ptr_nonnull(sorted = calloc(20000, sizeof(*sorted)));
	for (i = 0; i < 20000; i++) {
		maildir_uniq(&ctx, i % 2 ? "00066148b680fc15-3" : NULL, names[i],
		    LOCAL_NAME_MAX);
		sorted[i] = names[i];
	}
	qsort(sorted, 20000, sizeof(*sorted), cmp_str);
	for (i = 1; i < 20000; i++)
		ck_assert_str_ne(sorted[i - 1], sorted[i]);
	free(sorted);
	free(names);
}
END_TEST

START_TEST(test_host_escape)
{
	char out[LOCAL_HOST_MAX], small[9];
	char longhost[300];

	maildir_host("a/b:c.example", out, sizeof(out));
	ck_assert_str_eq(out, "a\\057b\\072c.example");
	maildir_host("", out, sizeof(out));
	ck_assert_str_eq(out, "localhost");
	maildir_host("x\ny", out, sizeof(out));
	ck_assert_str_eq(out, "x\\012y");
	/* cut to fit, never in the middle of an escape */
	maildir_host("abcde/fgh", small, sizeof(small));
	ck_assert_str_eq(small, "abcde");
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	maildir_host(longhost, out, sizeof(out));
	ck_assert_uint_eq(strlen(out), LOCAL_HOST_MAX - 1);
	/* the longest name still fits a file name */
	local_free(&ctx);
	ck_assert_int_eq(local_init(&ctx, root_fd, longhost), 0);
	maildir_uniq(&ctx, NULL, out, sizeof(out));
	ck_assert_uint_lt(strlen(out), 255);
}
END_TEST

/* ---- what is refused ----------------------------------------------------- */

START_TEST(test_path_traversal)
{
	static const char *bad[] = {
		"../x", "..", ".", ".hidden", "a/b", "/etc", "x\n", "x\r", "",
		"a..b", "x.", "Alice", "-x", "a b", "a\x7f",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct delivery d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		deliver(&d, bad[i], "x@y", "alice@example.test", MSG,
		    strlen(MSG));
		expect_status(&d, LP_PERM, "5.3.5 malformed delivery request");
	}
	ck_assert_int_eq(count(""), 0);
	ck_assert_int_eq(count("../outside"), 0);
	{
		/* "../x" would have been <topdir>/x, next to mail_dir */
		char up[600];

		snprintf(up, sizeof(up), "%s/x", topdir);
		ck_assert_int_eq(access(up, F_OK), -1);
	}
	/* 64 characters is the longest name and still fine */
	deliver(&d, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "x@y", "a@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
}
END_TEST

START_TEST(test_symlinks_refused)
{
	struct delivery d;
	char path[256];

	/* the mailbox itself, to a directory outside and dangling */
	snprintf(path, sizeof(path), "%s/alice", maildir);
	ck_assert_int_eq(symlink(outside, path), 0);
	deliver(&d, "alice", "x@y", "alice@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.3.0 mailbox is a symlink, refusing");
	snprintf(path, sizeof(path), "%s/bob", maildir);
	ck_assert_int_eq(symlink("../outside/made", path), 0);
	deliver(&d, "bob", "x@y", "bob@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.3.0 mailbox is a symlink, refusing");
	/* new/ */
	snprintf(path, sizeof(path), "%s/carol", maildir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/carol/new", maildir);
	ck_assert_int_eq(symlink(outside, path), 0);
	deliver(&d, "carol", "x@y", "carol@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.3.0 mailbox is a symlink, refusing: "
	    "maildir carol/new");
	ck_assert_int_eq(count("carol/tmp"), 0);
	/* tmp/ */
	snprintf(path, sizeof(path), "%s/dave", maildir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/dave/tmp", maildir);
	ck_assert_int_eq(symlink(outside, path), 0);
	deliver(&d, "dave", "x@y", "dave@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.3.0 mailbox is a symlink, refusing: "
	    "maildir dave/tmp");
	/* a file where the mailbox should be */
	snprintf(path, sizeof(path), "%s/erin", maildir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	deliver(&d, "erin", "x@y", "erin@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.3.0 mailbox is not a directory");
	/* nothing went anywhere */
	ck_assert_int_eq(count("../outside"), 0);
	ck_assert_int_le(count("dave/new"), 0);
}
END_TEST

START_TEST(test_loop_refused)
{
	static const char *loops[] = {
		"Delivered-To: alice@example.test\nSubject: x\n\nbody\n",
		"Subject: x\nDELIVERED-TO:   ALICE@Example.TEST  \n\nbody\n",
		"Received: a\nDelivered-to: <alice@example.test>\n\nbody\n",
		"Subject: x\nDelivered-To:\n alice@example.test\n\nbody\n",
	};
	static const char *fine[] = {
		"Delivered-To: bob@example.test\nSubject: x\n\nbody\n",
		"Subject: x\n\nDelivered-To: alice@example.test\n",
		"X-Delivered-To: alice@example.test\n\nbody\n",
		"Delivered-To: alice@example.test.evil\n\nbody\n",
	};
	struct delivery d;
	size_t i;

	for (i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		deliver(&d, "alice", "x@y", "alice@example.test", loops[i],
		    strlen(loops[i]));
		expect_status(&d, LP_PERM, "5.4.6 mail forwarding loop for "
		    "alice@example.test");
	}
	/* nothing written, not even the Maildir */
	ck_assert_int_eq(count("alice"), -1);
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		deliver(&d, "alice", "x@y", "alice@example.test", fine[i],
		    strlen(fine[i]));
		ck_assert_uint_eq(d.status, LP_OK);
	}
	ck_assert_int_eq(count("alice/new"), 4);
}
END_TEST

START_TEST(test_short_queue_file)
{
	struct delivery d;
	char p[LOCAL_REQ_MAX];
	long long off;
	size_t n;
	int fd;

	/* size beyond the end */
	fd = qfd_new(MSG, strlen(MSG), &off);
	n = payload(p, sizeof(p), off, (long long)strlen(MSG) + 1, "alice",
	    "", "alice@example.test");
	delivery_init(&d, 1, p, n, fd);
	local_batch_run(&ctx, &d, 1);
	expect_status(&d, LP_TEMP, "4.3.0 queue file is shorter than the "
	    "message");
	/* offset beyond the end */
	fd = qfd_new(MSG, strlen(MSG), &off);
	n = payload(p, sizeof(p), off + 100000, 1, "alice", "",
	    "alice@example.test");
	delivery_init(&d, 1, p, n, fd);
	local_batch_run(&ctx, &d, 1);
	expect_status(&d, LP_TEMP, "4.3.0 queue file is shorter");
	/* a descriptor that cannot be read */
	ck_assert_int_ne(fd = open("/dev/null", O_WRONLY), -1);
	n = payload(p, sizeof(p), 0, 0, "alice", "", "alice@example.test");
	delivery_init(&d, 1, p, n, fd);
	local_batch_run(&ctx, &d, 1);
	expect_status(&d, LP_PERM, "5.3.5 malformed delivery request");
	ck_assert_int_le(count("alice/new"), 0);
	ck_assert_int_le(count("alice/tmp"), 0);
}
END_TEST

/* As root, become nobody (the forked test child only) so that modes count. */
static int
drop_to_nobody(void)
{
	char cmd[256];

	if (geteuid() != 0)
		return 1;
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "chown -R 65534:65534 %s", topdir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
	ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);
	return 1;
}

START_TEST(test_unwritable)
{
	struct delivery d;
	char path[256];

	if (!drop_to_nobody())
		return;
	deliver(&d, "alice", "x@y", "alice@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
	/* new/ read-only: temporary, and tmp/ cleaned up */
	snprintf(path, sizeof(path), "%s/alice/new", maildir);
	ck_assert_int_eq(chmod(path, 0500), 0);
	deliver(&d, "alice", "x@y", "alice@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.2.0 linking into alice/new: ");
	ck_assert_int_eq(count("alice/tmp"), 0);
	ck_assert_int_eq(count("alice/new"), 1);
	ck_assert_int_eq(chmod(path, 0700), 0);
	/* tmp/ read-only */
	snprintf(path, sizeof(path), "%s/alice/tmp", maildir);
	ck_assert_int_eq(chmod(path, 0500), 0);
	deliver(&d, "alice", "x@y", "alice@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.2.0 creating a file in alice/tmp: ");
	ck_assert_int_eq(chmod(path, 0700), 0);
	/* mail_dir read-only: a new Maildir cannot be made */
	ck_assert_int_eq(chmod(maildir, 0500), 0);
	deliver(&d, "bob", "x@y", "bob@example.test", MSG, strlen(MSG));
	expect_status(&d, LP_TEMP, "4.2.0 maildir bob: ");
	ck_assert_int_eq(chmod(maildir, 0750), 0);
	/* and once fixed, it goes */
	deliver(&d, "bob", "x@y", "bob@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
}
END_TEST

/*
 * Make the mounts that hold path private in this mount namespace, so a
 * mount made below it never propagates to the rest of the system: from
 * "/" down, or, in a chroot whose root is no mount point, from the
 * nearest directory above path that is one.  0, or -1 when none is.
 */
static int
mount_private_above(const char *path)
{
	char dir[sizeof(maildir)];
	char *slash;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		return 0;
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -1;
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mount(NULL, dir, NULL, MS_REC | MS_PRIVATE, NULL) == 0)
			return 0;
	}
	return -1;
}

START_TEST(test_disk_full)
{
	struct delivery d;
	char *big;
	size_t len = 512 * 1024;

	if (geteuid() != 0 || (getenv("CK_FORK") != NULL &&
	    strcmp(getenv("CK_FORK"), "no") == 0))
		return;
	/* a private 128k tmpfs over mail_dir, in this child only */
	if (unshare(CLONE_NEWNS) == -1 || mount_private_above(maildir) == -1 ||
	    mount("tmpfs", maildir, "tmpfs", 0, "size=128k,mode=0750") == -1) {
		fprintf(stderr, "check_local: no tmpfs, disk-full test "
		    "skipped\n");
		return;
	}
	local_free(&ctx);
	close(root_fd);
	ck_assert_int_ne(root_fd = open(maildir, O_RDONLY | O_DIRECTORY), -1);
	ck_assert_int_eq(local_init(&ctx, root_fd, "host.example"), 0);
	ck_assert_ptr_nonnull(big = malloc(len));
	memset(big, 'x', len);
	memcpy(big, "Subject: big\n\n", 14);
	deliver(&d, "alice", "x@y", "alice@example.test", big, len);
	expect_status(&d, LP_TEMP, "4.2.2 mailbox full or disk full");
	ck_assert_int_eq(count("alice/tmp"), 0);
	ck_assert_int_eq(count("alice/new"), 0);
	/* a small one still fits */
	deliver(&d, "alice", "x@y", "alice@example.test", MSG, strlen(MSG));
	ck_assert_uint_eq(d.status, LP_OK);
	free(big);
	/* leave the plain directory for teardown */
	local_free(&ctx);
	close(root_fd);
	ck_assert_int_eq(umount(maildir), 0);
	ck_assert_int_ne(root_fd = open(maildir, O_RDONLY | O_DIRECTORY), -1);
	ck_assert_int_eq(local_init(&ctx, root_fd, "host.example"), 0);
}
END_TEST

START_TEST(test_link_name_taken)
{
	struct delivery d;
	char p[LOCAL_REQ_MAX], what[256], path[512];
	long long off;
	size_t n;
	int fd;

	/* a file in tmp/ whose name already exists in new/ */
	fd = qfd_new(MSG, strlen(MSG), &off);
	n = payload(p, sizeof(p), off, (long long)strlen(MSG), "alice", "",
	    "alice@example.test");
	delivery_init(&d, 1, p, n, fd);
	close(d.qfd);
	d.qfd = -1;
	ck_assert_ptr_nonnull(d.md = maildir_get(&ctx, "alice", what,
	    sizeof(what)));
	strlcpy(d.tmpname, "1.M1P1Q1R0000000000000000.taken", sizeof(d.tmpname));
	snprintf(path, sizeof(path), "%s/alice/tmp/%s", maildir, d.tmpname);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/alice/new/%s", maildir, d.tmpname);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	deliver_link(&ctx, &d);
	ck_assert_uint_eq(d.status, 0);
	ck_assert_str_ne(d.newname, "1.M1P1Q1R0000000000000000.taken");
	ck_assert_int_eq(count("alice/new"), 2);
	ck_assert_int_eq(count("alice/tmp"), 0);
	maildir_close_all(&ctx);
}
END_TEST

START_TEST(test_malformed)
{
	static const struct { const char *p; size_t len; } bad[] = {
#define P(s)	{ s, sizeof(s) - 1 }
		P(""),
		P("0\0" "5\0" "alice\0" "x@y\0"),		/* four */
		P("0\0" "5\0" "alice\0" "x@y\0" "a@b\0" "z\0"),	/* six */
		P("0\0" "5\0" "alice\0" "x@y\0" "a@b"),		/* no NUL */
		P("0\0" "5\0" "alice\0" "x@y\0" "a@b\0" "z"),
		P(" 0\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("+0\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("-1\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("0x1\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("0\0" "\0" "alice\0" "x@y\0" "a@b\0"),
		P("0\0" "5 \0" "alice\0" "x@y\0" "a@b\0"),
		P("99999999999999999999\0" "5\0" "alice\0" "x@y\0" "a@b\0"),
		P("9223372036854775807\0" "1\0" "alice\0" "x@y\0" "a@b\0"),
		P("000000000000000000000\0" "1\0" "alice\0" "x@y\0" "a@b\0"),
		P("01\0" "1\0" "alice\0" "x@y\0" "a@b\0"),
		P("1\0" "00\0" "alice\0" "x@y\0" "a@b\0"),
		P("0\0" "5\0" "alice\0" "x@y\nX: injected\0" "a@b\0"),
		P("0\0" "5\0" "alice\0" "x@y\0" "a@b\r\nX: y\0"),
		P("0\0" "5\0" "alice\0" "x@y\0" "\0"),
		P("0\0" "5\0" "alice\0" "x\ty\0" "a@b\0"),
#undef P
	};
	struct delivery d;
	char p[2000];
	long long off;
	size_t i, n;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = qfd_new(MSG, strlen(MSG), &off);
		delivery_init(&d, (uint32_t)i, bad[i].p, bad[i].len, fd);
		local_batch_run(&ctx, &d, 1);
		if (d.status != LP_PERM || strncmp(d.text,
		    "5.3.5 malformed delivery request", 32) != 0)
			ck_abort_msg("case %zu: %u %s", i, d.status, d.text);
	}
	/* too long for any valid request */
	memset(p, 'a', sizeof(p));
	fd = qfd_new(MSG, strlen(MSG), &off);
	delivery_init(&d, 1, p, sizeof(p), fd);
	local_batch_run(&ctx, &d, 1);
	expect_status(&d, LP_PERM, "5.3.5 malformed delivery request: too long");
	/* no descriptor */
	n = payload(p, sizeof(p), 0, 1, "alice", "", "a@b");
	delivery_init(&d, 1, p, n, -1);
	local_batch_run(&ctx, &d, 1);
	expect_status(&d, LP_PERM, "5.3.5 malformed delivery request: no "
	    "queue file descriptor");
	ck_assert_int_eq(count(""), 0);
}
END_TEST

START_TEST(test_parser)
{
	struct local_req r;
	const char *why;
	static const char ok[] = "12\0" "345\0" "alice\0" "\0" "A@B.test\0";

	ck_assert_int_eq(local_req_parse(ok, sizeof(ok) - 1, &r, &why), 0);
	ck_assert_int_eq(r.offset, 12);
	ck_assert_int_eq(r.size, 345);
	ck_assert_str_eq(r.mailbox, "alice");
	ck_assert_str_eq(r.sender, "");
	ck_assert_str_eq(r.rcpt, "A@B.test");
	ck_assert_int_eq(local_req_parse(ok, sizeof(ok) - 2, &r, &why), -1);
	ck_assert_ptr_null(r.mailbox);
	ck_assert_str_eq(why, "not five fields");
}
END_TEST

/* ---- the link, over a socketpair ----------------------------------------- */

static struct event_base *base;
static struct local_link lnk;
static int sp[2];		/* [0] kurir-local's end, [1] kurir-send's */
static struct buf rin;

static void
link_start(void)
{
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(link_setup(&lnk, base, sp[0], &ctx), 0);
	buf_init(&rin, FRAME_HDR + FRAME_MAX);
}

static void
link_stop(void)
{
	link_teardown(&lnk);
	close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	event_base_free(base);
	buf_free(&rin);
}

static void
pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Send one request for mbox; with a queue descriptor unless nofd. */
static void
send_req(uint32_t id, const char *mbox, int nofd)
{
	char p[LOCAL_REQ_MAX];
	long long off;
	size_t n;
	int fd = qfd_new(MSG, strlen(MSG), &off);

	n = payload(p, sizeof(p), off, (long long)strlen(MSG), mbox, "",
	    "x@example.test");
	ck_assert_int_eq(frame_write_fd(sp[1], LP_DELIVER, id, p, n,
	    nofd ? -1 : fd), 0);
	close(fd);
}

/* The next answer: its type, id and text. */
static void
get_answer(uint16_t *type, uint32_t *id, char *text, size_t len)
{
	struct pollfd pf = { sp[1], POLLIN, 0 };
	struct frame f;
	int i;

	for (i = 0; i < 400 && poll(&pf, 1, 0) == 0; i++)
		pump(5);
	ck_assert_int_eq(frame_read(sp[1], &rin, &f), 1);
	ck_assert_uint_lt(f.len, len);
	memcpy(text, f.data, f.len);
	text[f.len] = '\0';
	*type = f.type;
	*id = f.id;
}

START_TEST(test_link_batch_50)
{
	uint16_t type;
	uint32_t id, i;
	char text[LOCAL_TEXT_MAX];

	link_start();
	for (i = 0; i < 50; i++)
		send_req(1000 + i, i % 2 ? "alice" : "bob", 0);
	for (i = 0; i < 50; i++) {
		get_answer(&type, &id, text, sizeof(text));
		ck_assert_uint_eq(type, LP_OK);
		ck_assert_uint_eq(id, 1000 + i);
		ck_assert(strncmp(text, "2.0.0 delivered to maildir as ", 30) == 0);
	}
	ck_assert_int_eq(count("alice/new"), 25);
	ck_assert_int_eq(count("bob/new"), 25);
	ck_assert_int_eq(lnk.done, 0);
	/* EOF: exit 0 */
	close(sp[1]);
	sp[1] = -1;
	pump(50);
	ck_assert_int_eq(lnk.done, 1);
	ck_assert_int_eq(lnk.exit_code, 0);
	link_stop();
}
END_TEST

/* Requests of a kurir-send that died are not delivered: no one would
 * record them, and the next kurir-send sends them again.  A peer that
 * only shut its writing side still gets its answers. */
/*
 * The delivery tag: in the file name, and with '!' a copy made before a
 * crash (in new/ or already moved to cur/ by a reader) is found instead
 * of made again.  Bad tags are refused.
 */
static void
deliver_tagged(struct delivery *d, const char *mbox, const char *tag)
{
	char p[LOCAL_REQ_MAX + 64];
	long long off;
	int fd = qfd_new(MSG, strlen(MSG), &off);
	size_t n = payload(p, sizeof(p), off, (long long)strlen(MSG), mbox, "",
	    "alice@example.test");
	size_t tl = strlen(tag) + 1;

	ck_assert_uint_lt(n + tl, sizeof(p));
	memcpy(p + n, tag, tl);
	delivery_init(d, 1, p, n + tl, fd);
	local_batch_run(&ctx, d, 1);
}

START_TEST(test_tag_and_check)
{
	struct delivery d;
	char path[600], to[600];
	static const char *const bad[] = { "", "!", "00066148b680fc15",
	    "00066148b680fc15-", "00066148B680FC15-1", "00066148b680fc15-123456",
	    "0006614/b680fc15-1", "00066148b680fc15-1/..", "!!00066148b680fc15-1",
	    "00066148b680fc1-1" };
	size_t i;

	deliver_tagged(&d, "alice", "00066148b680fc15-0");
	ck_assert_uint_eq(d.status, LP_OK);
	ck_assert_ptr_nonnull(strstr(d.newname, "K00066148b680fc15-0.host"));
	ck_assert_int_eq(count("alice/new"), 1);
	/* asked to check: the copy is there, none is made */
	deliver_tagged(&d, "alice", "!00066148b680fc15-0");
	ck_assert_uint_eq(d.status, LP_OK);
	ck_assert_ptr_nonnull(strstr(d.text, "(found)"));
	ck_assert_int_eq(count("alice/new"), 1);
	/* another recipient index is another copy */
	deliver_tagged(&d, "alice", "!00066148b680fc15-1");
	ck_assert_uint_eq(d.status, LP_OK);
	ck_assert_int_eq(count("alice/new"), 2);
	/* a reader moved it to cur/ and added flags: still found */
	snprintf(path, sizeof(path), "%s/alice/new/%s", maildir, d.newname);
	snprintf(to, sizeof(to), "%s/alice/cur/%s:2,S", maildir, d.newname);
	ck_assert_int_eq(rename(path, to), 0);
	deliver_tagged(&d, "alice", "!00066148b680fc15-1");
	ck_assert_ptr_nonnull(strstr(d.text, "(found)"));
	ck_assert_int_eq(count("alice/new"), 1);
	ck_assert_int_eq(count("alice/cur"), 1);
	/* without '!' nobody looks */
	deliver_tagged(&d, "alice", "00066148b680fc15-1");
	ck_assert_int_eq(count("alice/new"), 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		deliver_tagged(&d, "alice", bad[i]);
		ck_assert_uint_eq(d.status, LP_PERM);
	}
	ck_assert_int_eq(count("alice/new"), 2);
}
END_TEST

START_TEST(test_link_peer_gone)
{
	uint16_t type;
	uint32_t id, i;
	char text[LOCAL_TEXT_MAX];

	link_start();
	ctx.peer_fd = sp[0];
	ck_assert_int_eq(local_peer_gone(&ctx), 0);
	for (i = 0; i < 20; i++)
		send_req(2000 + i, "alice", 0);
	close(sp[1]);
	sp[1] = -1;
	ck_assert_int_eq(local_peer_gone(&ctx), 1);
	pump(50);
	ck_assert_int_eq(lnk.done, 1);
	ck_assert_int_eq(lnk.exit_code, 0);
	ck_assert_int_le(count("alice/new"), 0);	/* -1: not even created */
	ctx.peer_fd = -1;
	link_stop();

	link_start();
	ctx.peer_fd = sp[0];
	send_req(3000, "alice", 0);
	ck_assert_int_eq(shutdown(sp[1], SHUT_WR), 0);
	ck_assert_int_eq(local_peer_gone(&ctx), 0);
	pump(50);
	get_answer(&type, &id, text, sizeof(text));
	ck_assert_uint_eq(type, LP_OK);
	ck_assert_uint_eq(id, 3000);
	ck_assert_int_eq(count("alice/new"), 1);
	ctx.peer_fd = -1;
	link_stop();
}
END_TEST

START_TEST(test_link_fds_matched)
{
	uint16_t type;
	uint32_t id, i;
	char text[LOCAL_TEXT_MAX];

	/* frames with and without descriptors, in one burst */
	link_start();
	for (i = 0; i < 20; i++)
		send_req(i, "alice", i % 3 == 1);
	for (i = 0; i < 20; i++) {
		get_answer(&type, &id, text, sizeof(text));
		ck_assert_uint_eq(id, i);
		ck_assert_uint_eq(type, i % 3 == 1 ? LP_PERM : LP_OK);
	}
	link_stop();
}
END_TEST

/* One frame sent by hand: the descriptor rides on byte 0 alone. */
static void
send_split(uint32_t id)
{
	struct buf b;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	char p[LOCAL_REQ_MAX];
	long long off;
	size_t n;
	int fd = qfd_new(MSG, strlen(MSG), &off);

	n = payload(p, sizeof(p), off, (long long)strlen(MSG), "carol", "",
	    "x@example.test");
	buf_init(&b, 0);
	ck_assert_int_eq(frame_pack(&b, LP_DELIVER, id, p, n), 0);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = b.data;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ck_assert_int_eq(sendmsg(sp[1], &msg, 0), 1);
	pump(10);		/* kurir-local sees a partial frame */
	ck_assert_int_eq(write(sp[1], b.data + 1, b.len - 1),
	    (ssize_t)(b.len - 1));
	close(fd);
	buf_free(&b);
}

START_TEST(test_link_split_frame)
{
	uint16_t type;
	uint32_t id;
	char text[LOCAL_TEXT_MAX];

	link_start();
	send_req(1, "carol", 1);	/* no descriptor: refused */
	send_split(2);			/* its descriptor is not taken by 1 */
	send_req(3, "carol", 1);	/* nor does 3 take 2's */
	get_answer(&type, &id, text, sizeof(text));
	ck_assert(type == LP_PERM && id == 1);
	get_answer(&type, &id, text, sizeof(text));
	ck_assert(type == LP_OK && id == 2);
	get_answer(&type, &id, text, sizeof(text));
	ck_assert(type == LP_PERM && id == 3);
	ck_assert_int_eq(count("carol/new"), 1);
	link_stop();
}
END_TEST

/* Raw header bytes (length, type, reserved), then optionally EOF. */
static void
link_raw(uint32_t len, uint16_t type, uint16_t rsv, int eof, int code)
{
	unsigned char hdr[FRAME_HDR] = { 0 };
	uint32_t n32 = htonl(len);
	uint16_t n16 = htons(type);

	memcpy(hdr, &n32, 4);
	memcpy(hdr + 4, &n16, 2);
	n16 = htons(rsv);
	memcpy(hdr + 6, &n16, 2);
	link_start();
	ck_assert_int_eq(write(sp[1], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	if (len > 0 && len <= FRAME_MAX && !eof)
		ck_assert_int_eq(write(sp[1], "x", 1), 1);
	if (eof) {
		close(sp[1]);
		sp[1] = -1;
	}
	pump(50);
	ck_assert_int_eq(lnk.done, 1);
	ck_assert_int_eq(lnk.exit_code, code);
	link_stop();
}

START_TEST(test_link_protocol_errors)
{
	link_raw(1, 77, 0, 0, EX_PROTOCOL);		/* an unknown type */
	link_raw(1, LP_OK, 0, 0, EX_PROTOCOL);		/* an answer type */
	link_raw(FRAME_MAX + 1, LP_DELIVER, 0, 0, EX_PROTOCOL);
	link_raw(1, LP_DELIVER, 1, 0, EX_PROTOCOL);	/* reserved bits */
	/* EOF in the middle of a frame: a clean stop, nothing delivered */
	link_raw(40, LP_DELIVER, 0, 1, 0);
	ck_assert_int_eq(count(""), 0);
}
END_TEST

START_TEST(test_link_answers_before_violation)
{
	uint16_t type;
	uint32_t id;
	char text[LOCAL_TEXT_MAX];

	/* requests complete before a bad frame are still answered */
	link_start();
	send_req(5, "alice", 0);
	ck_assert_int_eq(frame_write(sp[1], 200, 6, NULL, 0), 0);
	pump(50);
	get_answer(&type, &id, text, sizeof(text));
	ck_assert(type == LP_OK && id == 5);
	ck_assert_int_eq(lnk.exit_code, EX_PROTOCOL);
	link_stop();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deliver_basic);
	tcase_add_test(tc, test_null_sender_and_binary);
	tcase_add_test(tc, test_maildir_partly_there);
	tcase_add_test(tc, test_unique_names);
	tcase_add_test(tc, test_host_escape);
	tcase_add_test(tc, test_path_traversal);
	tcase_add_test(tc, test_symlinks_refused);
	tcase_add_test(tc, test_loop_refused);
	tcase_add_test(tc, test_short_queue_file);
	tcase_add_test(tc, test_unwritable);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_link_name_taken);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_parser);
	tcase_add_test(tc, test_link_batch_50);
	tcase_add_test(tc, test_link_peer_gone);
	tcase_add_test(tc, test_tag_and_check);
	tcase_add_test(tc, test_link_fds_matched);
	tcase_add_test(tc, test_link_split_frame);
	tcase_add_test(tc, test_link_protocol_errors);
	tcase_add_test(tc, test_link_answers_before_violation);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
