/*
 * user.c - kurirctl user add NAME: set a mailbox's password.
 *
 * Reads the password from the first line of standard input (never from
 * argv, where ps(1) would show it), hashes it with yescrypt ($y$) and
 * writes users_file anew: temp file, fsync, rename, so a reader (or a
 * SIGHUP reload) sees either the old or the new table, never half.
 *
 * The file holds password hashes, so it is written 0600 whatever mode
 * the old one had (a 0644 one would keep offline guessing open to every
 * local user), and as root the new file keeps the old one's owner (root
 * on an installed host; kurird opens it as root and hands kurir-auth
 * the descriptor, so nobody else needs to read it).
 * ctl_users_mode_warn says so when a file is readable by others.
 */
#include <sys/stat.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "frame.h"
#include "fsutil.h"
#include "table.h"

static int
read_password(char *pw, size_t len)
{
	size_t n;

	if (fgets(pw, (int)len, stdin) == NULL)
		return -1;
	n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == len - 1)
		return -1;		/* longer than we take */
	pw[n] = '\0';
	return n > 0 ? 0 : -1;
}

/*
 * Copy users_file to out without the line for name (any case); *st
 * gets the old file's owner (st_uid -1: there was none).
 */
static int
copy_without(const char *path, const char *name, struct buf *out,
    struct stat *st)
{
	FILE *f;
	char line[4200];
	size_t nlen = strlen(name);

	st->st_uid = (uid_t)-1;
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fileno(f), st) == -1) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':')
			continue;
		if (buf_addstr(out, line) == -1)
			break;
	}
	fclose(f);
	return 0;
}

int
ctl_user_add(const struct conf *c, const char *given)
{
	char pw[1024], salt[CRYPT_GENSALT_OUTPUT_SIZE], tmp[4096], name[80];
	struct crypt_data *cd;
	struct buf out;
	struct stat old;
	int fd, rc = 1;

	size_t i;

	/* mailbox names match without regard to case: store them lower */
	if (strlcpy(name, given, sizeof(name)) >= sizeof(name))
		name[0] = '\0';
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (!users_name_valid(name)) {
		fprintf(stderr, "kurirctl: %s: not a valid user name "
		    "(letters, digits, '.', '_', '-'; at most 64)\n", given);
		return 1;
	}
	if (read_password(pw, sizeof(pw)) == -1) {
		fprintf(stderr, "kurirctl: give the password on the first line "
		    "of standard input\n");
		return 1;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL ||
	    crypt_r(pw, salt, cd) == NULL || cd->output[0] != '$') {
		fprintf(stderr, "kurirctl: cannot hash the password\n");
		goto out;
	}
	buf_init(&out, 0);
	if (copy_without(c->users_file, name, &out, &old) == -1) {
		fprintf(stderr, "kurirctl: %s: %s\n", c->users_file,
		    strerror(errno));
		goto done;
	}
	if (out.len > 0 && out.data[out.len - 1] != '\n')
		buf_addch(&out, '\n');
	if (buf_printf(&out, "%s:%s\n", name, cd->output) == -1 ||
	    path_fmt(tmp, sizeof(tmp), "%s.tmp%ld", c->users_file,
	    (long)getpid()) == -1)
		goto done;
	/* fchmod: the umask cannot widen 0600, but be explicit about it */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    USERS_FILE_MODE)) == -1 || fchmod(fd, USERS_FILE_MODE) == -1 ||
	    (geteuid() == 0 && old.st_uid != (uid_t)-1 &&
	    fchown(fd, old.st_uid, old.st_gid) == -1) ||
	    write_all(fd, out.data, out.len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, c->users_file) == -1) {
		fprintf(stderr, "kurirctl: writing %s: %s\n", c->users_file,
		    strerror(errno));
		unlink(tmp);
		goto done;
	}
	printf("user %s: password set in %s (mode 0600)\n", name,
	    c->users_file);
	rc = 0;
done:
	buf_free(&out);
out:
	explicit_bzero(pw, sizeof(pw));
	if (cd) {
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
	}
	return rc;
}

/*
 * A users_file that group or others can read gives every local user the
 * hashes to guess at offline.  Warn (kurirctl check, setup) rather than
 * tighten it silently: the admin may have set the mode on purpose and
 * should know; user add rewrites it 0600 anyway.  Returns 1 if it
 * warned, 0 if not (no file is no warning: check reports that itself).
 */
int
ctl_users_mode_warn(const struct conf *c)
{
	struct stat st;

	if (stat(c->users_file, &st) == -1 || (st.st_mode & 077) == 0)
		return 0;
	fprintf(stderr, "kurirctl: warning: %s is readable by %s (mode %04o) "
	    "and holds password hashes: chmod 600 %s\n", c->users_file,
	    (st.st_mode & 007) != 0 ? "others" : "its group",
	    (unsigned)(st.st_mode & 07777), c->users_file);
	return 1;
}
