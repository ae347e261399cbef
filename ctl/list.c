/*
 * list.c - kurirctl queue [--json] and kurirctl delete ID.
 *
 * Reads msg/ and state/ under <state_dir>/queue; writes nothing but the
 * two unlinks of delete.  Needs read access to the queue (root or the
 * queue user).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fsutil.h"
#include "qfile.h"
#include "setup.h"

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* the ids in msg/, sorted (ids sort by arrival) */
static char **
list_ids(int dirfd, size_t *n)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cap = 0;
	int fd;

	*n = 0;
	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), id_cmp);
	return v;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
iso_time(long long t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long
rcpt_next_try(const struct qenv *e, const struct qrcpt *r)
{
	if (r->state == QS_PENDING)
		return r->next_try ? r->next_try : e->arrival;
	return r->state == QS_DEFERRED ? r->next_try : 0;
}

static void
print_json(const struct qenv *e, int first)
{
	size_t i;
	const struct qrcpt *r;

	printf("%s\n {\"id\": \"%s\", \"size\": %llu, \"arrival\": %lld, "
	    "\"sender\": ", first ? "" : ",", e->id,
	    (unsigned long long)e->size, e->arrival);
	json_str(e->sender);
	printf(", \"recipients\": [");
	for (i = 0; i < e->nrcpts; i++) {
		r = &e->rcpts[i];
		printf("%s{\"address\": ", i ? ", " : "");
		json_str(r->addr);
		printf(", \"state\": \"%s\", \"last_error\": ",
		    qstate_name(r->state));
		if (r->last_error)
			json_str(r->last_error);
		else
			printf("null");
		if (r->state == QS_PENDING || r->state == QS_DEFERRED)
			printf(", \"next_try\": %lld}", rcpt_next_try(e, r));
		else
			printf(", \"next_try\": null}");
	}
	printf("]}");
}

static void
print_text(const struct qenv *e)
{
	char when[32];
	size_t i;
	const struct qrcpt *r;

	iso_time(e->arrival, when, sizeof(when));
	printf("%s %llu %s <%s>", e->id, (unsigned long long)e->size, when,
	    e->sender);
	for (i = 0; i < e->nrcpts; i++) {
		r = &e->rcpts[i];
		printf(" %s (%s", r->addr, qstate_name(r->state));
		if (r->state == QS_DEFERRED) {
			iso_time(rcpt_next_try(e, r), when, sizeof(when));
			printf(", next try %s", when);
		}
		if (r->last_error)
			printf(", \"%s\"", r->last_error);
		printf(")");
	}
	putchar('\n');
}

int
ctl_queue_list(const struct conf *c, int json)
{
	char path[4096];
	int msgfd, statefd, fd, first = 1;
	char **ids;
	size_t n, i;
	struct qenv e;
	const char *why;

	if (queue_path(c, "msg", path, sizeof(path)) == -1 ||
	    (msgfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "kurirctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (queue_path(c, "state", path, sizeof(path)) == -1 ||
	    (statefd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "kurirctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	ids = list_ids(msgfd, &n);
	if (json)
		printf("[");
	for (i = 0; i < n; i++) {
		/* an entry may finish and vanish while we look: skip it */
		if ((fd = qenv_open(msgfd, ids[i], &e, &why)) == -1) {
			if (strcmp(why, strerror(ENOENT)) != 0)
				fprintf(stderr, "kurirctl: %s: %s\n", ids[i], why);
			free(ids[i]);
			continue;
		}
		close(fd);
		qstate_apply(statefd, &e);
		if (json)
			print_json(&e, first);
		else
			print_text(&e);
		first = 0;
		qenv_free(&e);
		free(ids[i]);
	}
	free(ids);
	if (json)
		printf("%s]\n", first ? "" : "\n");
	else if (first)
		printf("queue is empty\n");
	close(msgfd);
	close(statefd);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
ctl_queue_delete(const struct conf *c, const char *id)
{
	char path[4096];

	if (!qid_valid(id)) {
		fprintf(stderr, "kurirctl: %s: not a queue id\n", id);
		return 1;
	}
	if (path_fmt(path, sizeof(path), "%s/queue/msg/%s", c->state_dir, id) == -1)
		return 1;
	if (unlink(path) == -1) {
		fprintf(stderr, "kurirctl: %s: %s\n", id, errno == ENOENT ?
		    "no such message in the queue" : strerror(errno));
		return 1;
	}
	if (path_fmt(path, sizeof(path), "%s/queue/state/%s", c->state_dir,
	    id) == 0)
		unlink(path);
	if (path_fmt(path, sizeof(path), "%s/queue/msg", c->state_dir) == 0)
		fsync_dir(path);
	printf("%s: deleted\n", id);
	return 0;
}
