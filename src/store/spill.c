/*
 * spill.c - the shutdown spill of unsaved results (see spill.h).
 *
 * The file is reserved with fallocate() when the daemon starts, so writing
 * inside it never needs a new block.  Records are JSON lines written with
 * pwrite() at a running offset, each followed by a NUL byte that marks the
 * end: a reader takes everything before the first NUL, so an emptied file
 * is one NUL at offset 0 and stale bytes after the end never count.  Every
 * append is made durable before the caller drops the record from memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "distcron/err.h"
#include "distcron/spill.h"

#define SPILL_READ_MAX	(16 * 1024 * 1024)

struct spill {
	int fd;
	size_t size;
	size_t off;		/* where the next record goes */
};

int
spill_open(const char *path, size_t size, struct spill **out)
{
	struct spill *sp;
	int fd, r;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if ((r = posix_fallocate(fd, 0, (off_t)size)) != 0 ||
	    (pwrite(fd, "", 1, 0) != 1 && (r = errno) != 0) ||
	    (fdatasync(fd) != 0 && (r = errno) != 0) ||
	    (sp = calloc(1, sizeof(*sp))) == NULL) {
		close(fd);
		return r != 0 ? -r : -ENOMEM;
	}
	sp->fd = fd;
	sp->size = size;
	*out = sp;
	return 0;
}

void
spill_close(struct spill *sp)
{
	if (sp == NULL)
		return;
	close(sp->fd);
	free(sp);
}

/*
 * A record's fields, read and written through one table each.  F_STR may
 * be absent (NULL), F_I64_NEW too (0); F_OUT are the captured output, left
 * out when a record does not fit with them.
 */
enum ftype { F_I64, F_INT, F_BOOL, F_STATUS, F_STR, F_OUT,
	F_I64_NEW,	/* int64, 0 when absent: added since the first spills */
};

struct field {
	const char *key;
	enum ftype type;
	size_t off;
};

#define RF(k, t) { #k, t, offsetof(struct store_run, k) }
#define IF(k, t) { #k, t, offsetof(struct store_item, k) }

static const struct field run_fields[] = {
	RF(id, F_I64), RF(job, F_STR), RF(scheduled_at, F_I64),
	RF(trigger, F_STR), RF(status, F_STATUS), RF(attempt, F_INT),
	RF(created_ms, F_I64), RF(started_ms, F_I64), RF(ended_ms, F_I64),
	RF(reason, F_STR), RF(retention, F_INT), RF(member, F_STR),
	RF(fence, F_I64_NEW),
	{ NULL, F_I64, 0 }
};

static const struct field item_fields[] = {
	IF(node, F_STR), IF(attempt, F_INT), IF(status, F_STATUS),
	IF(exit_code, F_INT), IF(signal, F_INT), IF(started_ms, F_I64),
	IF(ended_ms, F_I64), IF(out, F_OUT), IF(err, F_OUT),
	IF(truncated, F_BOOL), IF(error, F_STR), IF(proc, F_STR),
	{ NULL, F_I64, 0 }
};

/* ---- writing ---- */

static int64_t
field_int(const void *obj, const struct field *f)
{
	const char *p = (const char *)obj + f->off;

	switch (f->type) {
	case F_I64:
	case F_I64_NEW:	return *(const int64_t *)p;
	case F_INT:	return *(const int *)p;
	case F_BOOL:	return *(const bool *)p;
	default:	return *(const enum run_status *)p;
	}
}

/* The fields of obj as a JSON object. */
static json_object *
fields_json(const void *obj, const struct field *f, int with_output)
{
	json_object *o = json_object_new_object();
	const char *s;

	for (; f->key != NULL; f++) {
		if (f->type == F_STR || f->type == F_OUT) {
			s = *(char *const *)((const char *)obj + f->off);
			if (s != NULL && (f->type == F_STR || with_output))
				json_object_object_add(o, f->key,
				    json_object_new_string(s));
		} else
			json_object_object_add(o, f->key,
			    json_object_new_int64(field_int(obj, f)));
	}
	return o;
}

/* The outbox rows a record carries: [{"sink", "event"[, "doc"]}]. */
static json_object *
outrows_json(const struct store_run *run)
{
	json_object *a = json_object_new_array(), *r;
	size_t i;

	for (i = 0; a != NULL && i < run->noutrows; i++) {
		r = json_object_new_object();
		json_object_object_add(r, "sink",
		    json_object_new_string(run->outrows[i].sink));
		json_object_object_add(r, "event",
		    json_object_new_string(run->outrows[i].event));
		if (run->outrows[i].doc != NULL)
			json_object_object_add(r, "doc",
			    json_object_new_string(run->outrows[i].doc));
		json_object_array_add(a, r);
	}
	return a;
}

static json_object *
run_json(const struct store_run *run, int with_output)
{
	json_object *o = fields_json(run, run_fields, with_output), *items, *it;
	size_t i;

	items = json_object_new_array();
	for (i = 0; i < run->nitems; i++) {
		it = fields_json(&run->items[i], item_fields, with_output);
		if (!with_output)
			json_object_object_add(it, "truncated",
			    json_object_new_int64(1));
		json_object_array_add(items, it);
	}
	json_object_object_add(o, "items", items);
	if (run->noutrows > 0)
		json_object_object_add(o, "outbox", outrows_json(run));
	if (run->missed > 0)	/* a missed tick: no run, its rows only */
		json_object_object_add(o, "missed",
		    json_object_new_int64(run->missed));
	return o;
}

/* Writes text plus its end mark at the offset if it fits. */
static int
spill_put(struct spill *sp, const char *text)
{
	size_t len = strlen(text);
	char *line;
	ssize_t w;

	if (sp->off + len + 2 > sp->size)
		return ERR_TOOBIG;
	if ((line = malloc(len + 2)) == NULL)
		return -ENOMEM;
	memcpy(line, text, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	w = pwrite(sp->fd, line, len + 2, (off_t)sp->off);
	free(line);
	if (w != (ssize_t)(len + 2))
		return w < 0 ? -errno : -EIO;
	if (fdatasync(sp->fd) != 0)
		return -errno;
	sp->off += len + 1;	/* the next record overwrites the mark */
	return 0;
}

int
spill_append(struct spill *sp, const struct store_run *run)
{
	json_object *o;
	int r = ERR_TOOBIG, with_output;

	for (with_output = 1; with_output >= 0 && r == ERR_TOOBIG;
	    with_output--) {
		if ((o = run_json(run, with_output)) == NULL)
			return -ENOMEM;
		r = spill_put(sp, json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	return r;
}

/* ---- reading ---- */

/* Reads the file up to its first NUL byte.  A missing file is empty. */
static int
read_text(const char *path, char **out)
{
	struct stat stt;
	char *text;
	ssize_t n;
	int fd, r = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &stt) != 0 || stt.st_size > SPILL_READ_MAX) {
		r = errno != 0 ? -errno : ERR_TOOBIG;
		goto out;
	}
	if ((text = calloc(1, (size_t)stt.st_size + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((n = pread(fd, text, (size_t)stt.st_size, 0)) < 0) {
		r = -errno;
		free(text);
		goto out;
	}
	*out = text;
 out:
	close(fd);
	return r;
}

/* Reads obj's fields from o; *bad names the first one missing or of the
 * wrong type (or "(out of memory)"). */
static void
fields_read(json_object *o, void *obj, const struct field *f,
    const char **bad)
{
	char *p, **sp;
	json_object *v;
	int64_t n;

	for (; f->key != NULL && *bad == NULL; f++) {
		p = (char *)obj + f->off;
		if (!json_object_object_get_ex(o, f->key, &v)) {
			if (f->type != F_STR && f->type != F_OUT &&
			    f->type != F_I64_NEW)
				*bad = f->key;
			continue;
		}
		if (f->type == F_STR || f->type == F_OUT) {
			sp = (char **)p;
			if (!json_object_is_type(v, json_type_string))
				*bad = f->key;
			else if ((*sp = strdup(json_object_get_string(v))) ==
			    NULL)
				*bad = "(out of memory)";
			continue;
		}
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) ||
		    (f->type == F_STATUS && (n < RUN_PENDING || n > RUN_LOST)))
			*bad = f->key;
		else if (f->type == F_I64 || f->type == F_I64_NEW)
			*(int64_t *)p = n;
		else if (f->type == F_STATUS)
			*(enum run_status *)p = (enum run_status)n;
		else if (f->type == F_BOOL)
			*(bool *)p = n != 0;
		else
			*(int *)p = (int)n;
	}
}

static int
items_read(json_object *o, struct store_run *run, const char **bad)
{
	json_object *items;
	size_t i, n;

	if (!json_object_object_get_ex(o, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		*bad = "items";
		return 0;
	}
	n = json_object_array_length(items);
	if (n == 0)
		return 0;
	if ((run->items = calloc(n, sizeof(*run->items))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n && *bad == NULL; i++) {
		fields_read(json_object_array_get_idx(items, i),
		    &run->items[i], item_fields, bad);
		run->nitems++;
		if (*bad == NULL && run->items[i].node == NULL)
			*bad = "node";
	}
	return 0;
}

/* The optional "outbox" rows of a record. */
static int
outrows_read(json_object *o, struct store_run *run, const char **bad)
{
	json_object *rows, *sink, *event, *row, *doc;
	size_t i, n;

	if (!json_object_object_get_ex(o, "outbox", &rows))
		return 0;
	if (!json_object_is_type(rows, json_type_array) ||
	    (n = json_object_array_length(rows)) == 0) {
		*bad = "outbox";
		return 0;
	}
	if ((run->outrows = calloc(n, sizeof(*run->outrows))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n && *bad == NULL; i++) {
		row = json_object_array_get_idx(rows, i);
		if (!json_object_object_get_ex(row, "sink", &sink) ||
		    !json_object_object_get_ex(row, "event", &event) ||
		    !json_object_is_type(sink, json_type_string) ||
		    !json_object_is_type(event, json_type_string)) {
			*bad = "outbox";
			break;
		}
		run->outrows[i].sink = strdup(json_object_get_string(sink));
		run->outrows[i].event = strdup(json_object_get_string(event));
		run->noutrows++;
		if (json_object_object_get_ex(row, "doc", &doc) &&
		    json_object_is_type(doc, json_type_string) &&
		    (run->outrows[i].doc = strdup(json_object_get_string(doc)))
		    == NULL)
			return -ENOMEM;
		if (run->outrows[i].sink == NULL ||
		    run->outrows[i].event == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* One record; *bad names the faulty field, or stays NULL. */
static struct store_run *
run_read(json_object *o, const char **bad)
{
	struct store_run *run = calloc(1, sizeof(*run));

	if (run == NULL)
		return NULL;
	fields_read(o, run, run_fields, bad);
	if (json_object_is_type(json_object_object_get(o, "missed"),
	    json_type_int))
		run->missed = json_object_get_int64(json_object_object_get(o,
		    "missed"));
	if (*bad == NULL && ((run->id <= 0 && run->missed <= 0) ||
	    run->job == NULL))
		*bad = run->job != NULL ? "id" : "job";
	if (*bad == NULL && (items_read(o, run, bad) != 0 ||
	    outrows_read(o, run, bad) != 0))
		*bad = "(out of memory)";
	return run;
}

/* Parses one line into runs[*n]. */
static int
line_read(const char *line, const char *path, size_t lineno,
    struct store_run **slot, char *err, size_t errlen)
{
	json_object *o = json_tokener_parse(line);
	const char *bad = NULL;

	*slot = NULL;
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: line %zu: not a JSON object", path,
		    lineno);
		json_object_put(o);
		return ERR_PARSE;
	}
	*slot = run_read(o, &bad);
	json_object_put(o);
	if (*slot == NULL)
		return -ENOMEM;
	if (bad != NULL) {
		snprintf(err, errlen, "%s: line %zu: field \"%s\" missing or "
		    "invalid", path, lineno, bad);
		return ERR_PARSE;
	}
	return 0;
}

int
spill_load(const char *path, struct store_run ***runs, size_t *n,
    char *err, size_t errlen)
{
	char *text, *line, *save = NULL;
	struct store_run **v = NULL, **nv;
	size_t count = 0, lineno = 0;
	int r;

	*runs = NULL;
	*n = 0;
	if ((r = read_text(path, &text)) != 0 || text == NULL) {
		if (r != 0)
			snprintf(err, errlen, "%s: %s", path, err_str(r));
		return r;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL && r == 0;
	    line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if ((nv = reallocarray(v, count + 1, sizeof(*v))) == NULL) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		r = line_read(line, path, lineno, &v[count], err, errlen);
		if (v[count] != NULL)
			count++;
	}
	free(text);
	if (r != 0) {
		store_runs_free(v, count);
		return r;
	}
	*runs = v;
	*n = count;
	return 0;
}
