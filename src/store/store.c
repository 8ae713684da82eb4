/*
 * store.c - the embedded store on SQLite.
 *
 * Each struct store owns one connection, opened without SQLite's own mutex:
 * a pthread mutex serialises every public call instead, so threads may share
 * a handle.  A writable handle switches the file to WAL mode (readers in other
 * processes never wait for the writer) with synchronous=NORMAL (a power cut
 * may lose the last commits but never corrupts the file), then migrates the
 * schema one step at a time up to the newest version, recorded in PRAGMA
 * user_version.  A read-only handle only checks the version.  The files
 * (the database, -wal and -shm) hold run output, so a writable handle makes
 * them STORE_FILE_MODE first, whatever the umask or an older daemon left:
 * SQLite gives the WAL files the database's mode when it creates them.
 *
 * Statements are prepared once and cached in the handle; each batch of
 * creates or saves runs in one IMMEDIATE transaction.  Retention is amortised:
 * every max(16, retention / 16) final saves of a job (counted in job_state),
 * the job's final runs beyond the newest `retention` are deleted, so a job
 * may hold up to that many final runs more than its retention.  The index
 * on (job, id, status) covers the prune query: it never reads run rows.
 *
 * Captured output (out, err) is stored as TEXT up to its first NUL byte: it
 * reaches the store as C strings.  SQLite result codes never leave this
 * file: callers get ERR_STORE (ERR_STORE_FULL for SQLITE_FULL: no space
 * left for the database or its WAL) and the SQLite message goes to the log,
 * or to *errstr from store_open().  A failed write transaction is rolled
 * back and its statements reset, so the same connection writes again once
 * space is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "distcron/buf.h"
#include "distcron/err.h"
#include "distcron/log.h"
#include "distcron/loop.h"
#include "distcron/store.h"
#include "store_int.h"

#define STORE_BUSY_MS		5000
#define STORE_FILE_MODE		0600
#define STORE_RETENTION		1000	/* runs kept per job by default */
#define STORE_PRUNE_MIN		16	/* final saves of a job between prunes */
#define STORE_QUERY_LIMIT	100
#define STORE_QUERY_MAX		10000
#define STORE_LOST_REASON	"daemon stopped while the run was in progress"
#define STORE_UNSTARTED_REASON	"never started: the daemon stopped before " \
				"launching it"

/* The SQL below writes statuses as numbers: (0, 1, 2) are the unfinished
 * ones, (3, 4, 5) the final ones. */
_Static_assert(RUN_PENDING == 0 && RUN_STARTED == 1 && RUN_RETRY == 2 &&
    RUN_FAILURE == 3 && RUN_SUCCESS == 4 && RUN_LOST == 5,
    "status values are written into SQL");

/*
 * Schema migrations: migrations[i] takes a store from version i to i + 1.
 * A later version appends a step; a step never changes once released.
 */
static const char *const migrations[] = {
	/* 1: runs, their per-node items, per-job state. */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job TEXT NOT NULL,"
	"  scheduled_at INTEGER NOT NULL,"
	"  trigger TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  attempt INTEGER NOT NULL DEFAULT 1,"
	"  created_ms INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL DEFAULT 0,"
	"  ended_ms INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT);"
	"CREATE UNIQUE INDEX runs_tick ON runs (job, scheduled_at)"
	"  WHERE trigger IN ('schedule', 'missed');"
	"CREATE INDEX runs_job ON runs (job, id, status);"
	"CREATE INDEX runs_status ON runs (status, id);"
	"CREATE TABLE run_items ("
	"  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  node TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  exit_code INTEGER NOT NULL DEFAULT -1,"
	"  signal INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL DEFAULT 0,"
	"  ended_ms INTEGER NOT NULL DEFAULT 0,"
	"  out TEXT,"
	"  err TEXT,"
	"  truncated INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT,"
	"  PRIMARY KEY (run_id, node, attempt));"
	"CREATE TABLE job_state ("
	"  job TEXT PRIMARY KEY,"
	"  last_scheduled_at INTEGER NOT NULL DEFAULT 0,"
	"  last_run_id INTEGER NOT NULL DEFAULT 0,"
	"  last_status INTEGER NOT NULL DEFAULT 0,"
	"  last_ended_ms INTEGER NOT NULL DEFAULT 0,"
	"  run_count INTEGER NOT NULL DEFAULT 0,"
	"  final_count INTEGER NOT NULL DEFAULT 0);",
	/* 2: jobs paused through the API stay paused across restarts. */
	"ALTER TABLE job_state ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;",
	/* 3: a local item's process group (orphan.h), ended after a crash. */
	"ALTER TABLE run_items ADD COLUMN proc TEXT;",
	/* 4: the durable outbox (outbox.h): entries a final run creates,
	 * written with its final state; a run keeps its row while any
	 * entry refers to it. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  run_id INTEGER NOT NULL,"
	"  sink TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_ms INTEGER NOT NULL DEFAULT 0,"
	"  parked INTEGER NOT NULL DEFAULT 0,"
	"  why TEXT);"
	"CREATE INDEX outbox_due ON outbox (sink, parked, next_ms, id);"
	"CREATE INDEX outbox_run ON outbox (run_id);",
	/* 5: entries without a run (run_id 0: a tick that did not start)
	 * and entries with their own document (a run's start): the job,
	 * the tick and the document are the row's. */
	"ALTER TABLE outbox ADD COLUMN job TEXT;"
	"ALTER TABLE outbox ADD COLUMN scheduled_at INTEGER;"
	"ALTER TABLE outbox ADD COLUMN doc TEXT;",
	/* 6: when an item began waiting for a free slot under
	 * max_concurrent_runs (0: it never waited). */
	"ALTER TABLE run_items ADD COLUMN queued_ms INTEGER NOT NULL"
	" DEFAULT 0;",
	/* 7: cluster mode: the member that ran the run (NULL: none) and its
	 * claim's fencing token (0: none). */
	"ALTER TABLE runs ADD COLUMN member TEXT;"
	"ALTER TABLE runs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;",
	/* 8: cluster mode: other members' run summaries (remote_id: the
	 * run's id on its member; 0: this daemon's own run), one per
	 * (member, run id); lists are in time order (created_ms, id). */
	"ALTER TABLE runs ADD COLUMN remote_id INTEGER NOT NULL DEFAULT 0;"
	"CREATE UNIQUE INDEX runs_remote ON runs (member, remote_id)"
	"  WHERE remote_id > 0;"
	"CREATE INDEX runs_time ON runs (created_ms, id);"
	"CREATE INDEX runs_job_time ON runs (job, created_ms, id);",
	/* 9: encrypted secrets (storesec.h): each value sealed (secbox.h),
	 * never in the clear. */
	"CREATE TABLE secrets ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  updated_ms INTEGER NOT NULL);",
};
#define SCHEMA_VERSION	((int)(sizeof(migrations) / sizeof(migrations[0])))

#define RUN_COLUMNS \
	"SELECT id, job, scheduled_at, trigger, status, attempt, created_ms," \
	" started_ms, ended_ms, reason, member, fence, remote_id FROM runs"

#define OB_SELECT \
	"SELECT o.id, o.run_id, coalesce(r.job, o.job, ''), o.sink, o.event," \
	" o.created_ms, o.attempts, o.next_ms, o.parked, coalesce(o.why, '')," \
	" coalesce(r.scheduled_at, o.scheduled_at, 0), o.doc IS NOT NULL"
#define OB_JOIN	" LEFT JOIN runs r ON r.id = o.run_id"
#define OB_COLUMNS	OB_SELECT " FROM outbox o" OB_JOIN

enum stmt_id {
	S_BEGIN_WRITE,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_RUN_INSERT,
	S_RUN_UPDATE,
	S_RUN_GET,
	S_ITEM_INSERT,
	S_ITEM_DELETE,
	S_ITEMS_GET,
	S_JOB_SCHEDULED,
	S_JOB_FINISHED,
	S_JOB_FINAL_COUNT,
	S_JOB_GET,
	S_JOB_ALL,
	S_JOB_PAUSE,
	S_PRUNE,
	S_REMOTE_PRUNE,
	S_RUN_ANCHOR,
	S_RECOVER_JOBS,
	S_RECOVER_ITEMS,
	S_RECOVER_RUNS,
	S_RECOVER_OUTBOX,
	S_ORPHANS,
	S_RUN_REASON,
	S_OB_INSERT,
	S_OB_DOC,
	S_OB_DUE,
	S_OB_DUE_AFTER,
	S_OB_PARKED,
	S_OB_DELETE,
	S_OB_UPDATE,
	S_OB_REQUEUE,
	S_OB_COUNT,
	S_OB_TRIM_COUNT,
	S_OB_TRIM,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_RUN_INSERT] =
	    "INSERT INTO runs (job, scheduled_at, trigger, status, attempt,"
	    " created_ms, started_ms, ended_ms, reason, member, fence,"
	    " remote_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT DO NOTHING",
	[S_RUN_UPDATE] =
	    "UPDATE runs SET status = ?, attempt = ?, started_ms = ?,"
	    " ended_ms = ?, reason = ?, member = ?, fence = ? WHERE id = ?",
	[S_RUN_GET] = RUN_COLUMNS " WHERE id = ?",
	[S_ITEM_INSERT] =
	    "INSERT INTO run_items (run_id, node, attempt, status, exit_code,"
	    " signal, started_ms, ended_ms, out, err, truncated, error, proc,"
	    " queued_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[S_ITEM_DELETE] = "DELETE FROM run_items WHERE run_id = ?",
	[S_ITEMS_GET] =
	    "SELECT node, attempt, status, exit_code, signal, started_ms,"
	    " ended_ms, CASE WHEN ?2 THEN out END, CASE WHEN ?2 THEN err END,"
	    " truncated, error, queued_ms FROM run_items WHERE run_id = ?1"
	    " ORDER BY attempt, node",
	[S_JOB_SCHEDULED] =
	    "INSERT INTO job_state (job, last_scheduled_at, run_count)"
	    " VALUES (?, ?, 1) ON CONFLICT (job) DO UPDATE SET"
	    " run_count = run_count + 1, last_scheduled_at ="
	    " max(last_scheduled_at, excluded.last_scheduled_at)",
	/* The newest run (by id) to reach a final state wins. */
	[S_JOB_FINISHED] =
	    "INSERT INTO job_state (job, last_run_id, last_status,"
	    " last_ended_ms, final_count) VALUES (?, ?, ?, ?, 1)"
	    " ON CONFLICT (job) DO UPDATE SET final_count = final_count + 1,"
	    " last_status = CASE WHEN excluded.last_run_id >= last_run_id"
	    "   THEN excluded.last_status ELSE last_status END,"
	    " last_ended_ms = CASE WHEN excluded.last_run_id >= last_run_id"
	    "   THEN excluded.last_ended_ms ELSE last_ended_ms END,"
	    " last_run_id = max(last_run_id, excluded.last_run_id)",
	[S_JOB_FINAL_COUNT] = "SELECT final_count FROM job_state WHERE job = ?",
	[S_JOB_GET] =
	    "SELECT last_scheduled_at, last_run_id, last_status, last_ended_ms,"
	    " run_count, paused FROM job_state WHERE job = ?",
	[S_JOB_ALL] =
	    "SELECT last_scheduled_at, last_run_id, last_status, last_ended_ms,"
	    " run_count, paused, job FROM job_state ORDER BY job",
	[S_JOB_PAUSE] =
	    "INSERT INTO job_state (job, paused) VALUES (?, ?)"
	    " ON CONFLICT (job) DO UPDATE SET paused = excluded.paused",
	/* ?2 is retention - 1: the offset of the oldest final run kept. */
	[S_PRUNE] =
	    "DELETE FROM runs WHERE job = ?1 AND status IN (3, 4, 5) AND"
	    " remote_id = 0 AND id < (SELECT id FROM runs WHERE job = ?1 AND"
	    "  status IN (3, 4, 5) AND remote_id = 0"
	    "  ORDER BY id DESC LIMIT 1 OFFSET ?2)"
	    " AND id NOT IN (SELECT run_id FROM outbox)",
	/* Other members' summaries of a job: the newest ?2 are kept. */
	[S_REMOTE_PRUNE] =
	    "DELETE FROM runs WHERE job = ?1 AND remote_id > 0 AND id NOT IN"
	    " (SELECT id FROM runs WHERE job = ?1 AND remote_id > 0"
	    "  ORDER BY created_ms DESC, id DESC LIMIT ?2)",
	/* Where a page before run ?1 starts: that run, or (gone) the
	 * newest with a smaller id. */
	[S_RUN_ANCHOR] =
	    "SELECT created_ms, id FROM runs WHERE id <= ?1"
	    " ORDER BY id DESC LIMIT 1",
	[S_RECOVER_JOBS] =
	    "INSERT INTO job_state (job, last_run_id, last_status,"
	    " last_ended_ms) SELECT job, max(id), 5, ?1 FROM runs"
	    " WHERE status IN (0, 1, 2) GROUP BY job"
	    " ON CONFLICT (job) DO UPDATE SET"
	    " last_run_id = excluded.last_run_id,"
	    " last_status = excluded.last_status,"
	    " last_ended_ms = excluded.last_ended_ms"
	    " WHERE excluded.last_run_id >= last_run_id",
	[S_RECOVER_ITEMS] =
	    "UPDATE run_items SET status = 5,"
	    " ended_ms = CASE WHEN ended_ms = 0 THEN ?1 ELSE ended_ms END,"
	    " error = coalesce(error, CASE WHEN status = 0 AND queued_ms > 0"
	    "   THEN '" STORE_WAITING_REASON "'"
	    "   WHEN status = 0 THEN ?3 ELSE ?2 END)"
	    " WHERE status IN (0, 1, 2) AND"
	    " run_id IN (SELECT id FROM runs WHERE status IN (0, 1, 2))",
	[S_RECOVER_RUNS] =
	    "UPDATE runs SET status = 5, ended_ms = ?1,"
	    " reason = CASE status WHEN 0 THEN ?3 ELSE ?2 END"
	    " WHERE status IN (0, 1, 2)",
	[S_RECOVER_OUTBOX] =
	    "INSERT INTO outbox (run_id, sink, event, created_ms, job,"
	    " scheduled_at) SELECT id, ?2, ?3, ?1, job, scheduled_at FROM runs"
	    " WHERE status IN (0, 1, 2) ORDER BY id",
	[S_ORPHANS] =
	    "SELECT run_id, proc FROM run_items WHERE proc IS NOT NULL AND"
	    " status IN (0, 1, 2) AND"
	    " run_id IN (SELECT id FROM runs WHERE status IN (0, 1, 2))",
	[S_RUN_REASON] = "UPDATE runs SET reason = ?2 WHERE id = ?1",
	[S_OB_INSERT] =
	    "INSERT INTO outbox (run_id, sink, event, created_ms, job,"
	    " scheduled_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[S_OB_DOC] = "SELECT doc FROM outbox WHERE id = ? AND doc IS NOT NULL",
	[S_OB_DUE] = OB_COLUMNS " WHERE o.sink = ?1 AND o.parked = 0 AND"
	    " o.next_ms <= ?2 ORDER BY o.id LIMIT ?3",
	/* In id order from ?4 on, not through outbox_due: that index would
	 * sort every due row of a backlog for each batch of it. */
	[S_OB_DUE_AFTER] = OB_SELECT " FROM outbox o NOT INDEXED" OB_JOIN
	    " WHERE o.id > ?4 AND"
	    " o.sink = ?1 AND o.parked = 0 AND o.next_ms <= ?2"
	    " ORDER BY o.id LIMIT ?3",
	[S_OB_PARKED] = OB_COLUMNS " WHERE o.parked = 1 ORDER BY o.id"
	    " LIMIT ?1",
	[S_OB_DELETE] = "DELETE FROM outbox WHERE id BETWEEN ?1 AND ?2",
	[S_OB_UPDATE] = "UPDATE outbox SET attempts = ?2, next_ms = ?3,"
	    " parked = ?4, why = ?5 WHERE id = ?1",
	[S_OB_REQUEUE] = "UPDATE outbox SET parked = 0, next_ms = 0,"
	    " attempts = 0 WHERE parked = 1 AND (?1 = 0 OR id = ?1)",
	[S_OB_COUNT] = "SELECT count(*), coalesce(sum(parked), 0),"
	    " coalesce(min(created_ms), 0),"
	    " coalesce(min(CASE WHEN parked = 0 THEN next_ms END), -1)"
	    " FROM outbox WHERE sink = ?",
	/* ?1: how many of the oldest go */
	[S_OB_TRIM_COUNT] = "SELECT sink, count(*) FROM (SELECT sink FROM"
	    " outbox ORDER BY id LIMIT ?1) GROUP BY sink",
	[S_OB_TRIM] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
	    " ORDER BY id LIMIT ?1)",
};

/* store_runs_query() filters, as bits of a statement shape. */
enum {
	Q_JOB = 1 << 0,
	Q_STATUS = 1 << 1,
	Q_SINCE = 1 << 2,
	Q_BEFORE = 1 << 3,
	Q_SHAPES = 1 << 4
};

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
	bool readonly;
	sqlite3_stmt *stmt[S_COUNT];
	sqlite3_stmt *query[Q_SHAPES];	/* by filter mask, prepared on use */
	size_t outbox_written;	/* outbox rows in the open transaction */
	void (*outbox_fn)(void *);	/* told after they are committed */
	void *outbox_arg;
	const char *report_sinks[STORE_REPORT_SINKS];	/* store_recover's */
	size_t nreport_sinks;
	const char *failure_sinks[STORE_REPORT_SINKS];	/* ... and these */
	size_t nfailure_sinks;
};

/* Binds parameters in order and keeps the first failure. */
struct binder {
	sqlite3_stmt *s;
	int n;
	int rc;
};

static const char *const status_names[] = {
	[RUN_PENDING] = "PENDING",
	[RUN_STARTED] = "STARTED",
	[RUN_RETRY] = "RETRY",
	[RUN_FAILURE] = "FAILURE",
	[RUN_SUCCESS] = "SUCCESS",
	[RUN_LOST] = "LOST",
};
#define NSTATUS	((int)(sizeof(status_names) / sizeof(status_names[0])))

const char *
store_status_str(enum run_status s)
{
	if ((int)s < 0 || (int)s >= NSTATUS)
		return "UNKNOWN";
	return status_names[s];
}

const char *
store_run_node(const struct store_run *run)
{
	const char *node = "-";
	size_t i, n = 0;

	for (i = 0; i < run->nitems; i++)
		if (run->items[i].attempt == run->attempt) {
			node = run->items[i].node;
			n++;
		}
	return n > 1 ? "(all)" : node;
}

int
store_status_parse(const char *s, enum run_status *out)
{
	int i;

	for (i = 0; s != NULL && i < NSTATUS; i++) {
		if (strcasecmp(s, status_names[i]) == 0) {
			*out = (enum run_status)i;
			return 0;
		}
	}
	return ERR_INVALID;
}

bool
store_status_final(enum run_status s)
{
	return s == RUN_FAILURE || s == RUN_SUCCESS || s == RUN_LOST;
}

/* Logs the connection's last error about `what` and returns ERR_STORE, or
 * ERR_STORE_FULL when the disk (or the database's size limit) is full:
 * the store thread retries those and says when the store is back, so each
 * failed try is only a debug line. */
static int
store_fail(struct store *st, const char *what)
{
	if (sqlite3_errcode(st->db) == SQLITE_FULL) {
		log_debug("store: %s: %s", what, sqlite3_errmsg(st->db));
		return ERR_STORE_FULL;
	}
	log_error("store: %s: %s", what, sqlite3_errmsg(st->db));
	return ERR_STORE;
}

static sqlite3_stmt *
stmt_prepare(struct store *st, sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL && sqlite3_prepare_v3(st->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
		store_fail(st, "cannot prepare statement");
		*slot = NULL;
	}
	return *slot;
}

/* Makes a statement reusable and drops its bindings (they may point into
 * the caller's memory). */
static void
stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int
bind_begin(struct binder *b, struct store *st, enum stmt_id id)
{
	b->n = 0;
	b->rc = SQLITE_OK;
	b->s = stmt_prepare(st, &st->stmt[id], stmt_sql[id]);
	return b->s == NULL ? ERR_STORE : 0;
}

static void
bind_int(struct binder *b, int64_t v)
{
	b->n++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->s, b->n, v);
}

static void
bind_text(struct binder *b, const char *v)
{
	b->n++;
	if (b->rc != SQLITE_OK)
		return;
	if (v == NULL)
		b->rc = sqlite3_bind_null(b->s, b->n);
	else
		b->rc = sqlite3_bind_text(b->s, b->n, v, -1, SQLITE_STATIC);
}

/* Steps a bound statement that returns no row we need, then resets it. */
static int
bind_exec(struct store *st, struct binder *b, const char *what)
{
	int r = 0, rc = b->rc;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(b->s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail(st, what);
	stmt_done(b->s);
	return r;
}

/* Steps a bound statement expecting at most one row: *found says whether
 * it came; the caller reads it and calls stmt_done(). */
static int
bind_row(struct store *st, struct binder *b, bool *found, const char *what)
{
	int rc = b->rc, r;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(b->s);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	r = store_fail(st, what);
	stmt_done(b->s);
	return r;
}

static int
stmt_run(struct store *st, enum stmt_id id, const char *what)
{
	struct binder b;

	if (bind_begin(&b, st, id) != 0)
		return ERR_STORE;
	return bind_exec(st, &b, what);
}

/* Ends the transaction: commits when r is 0, else (or if that fails) rolls
 * back.  Returns r, or ERR_STORE if the commit failed. */
static int
tx_end(struct store *st, int r)
{
	if (r == 0)
		r = stmt_run(st, S_COMMIT, "commit");
	if (r != 0 && !sqlite3_get_autocommit(st->db))
		stmt_run(st, S_ROLLBACK, "rollback");
	return r;
}

/* Copies a text column; NULL stays NULL.  Returns 0 or -ENOMEM. */
static int
col_dup(sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *v;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	if ((v = sqlite3_column_text(s, col)) == NULL ||
	    (*out = strdup((const char *)v)) == NULL)
		return -ENOMEM;
	return 0;
}

static int64_t
col_int(sqlite3_stmt *s, int col)
{
	return sqlite3_column_int64(s, col);
}

/* ---- opening and migrating ---- */

/* Reads one integer from a one-row query. */
static int
db_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) == SQLITE_OK &&
	    (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int
wal_cb(void *arg, int ncol, char **vals, char **names)
{
	bool *wal = arg;

	*wal = ncol > 0 && vals[0] != NULL && strcasecmp(vals[0], "wal") == 0;
	return 0;
}

/*
 * Creates path if needed and makes it and its WAL files STORE_FILE_MODE.
 * A file that exists is never opened here: closing a descriptor of the
 * database drops every POSIX lock this process holds on it, those of the
 * connections already open included (the outbox opens the store after the
 * daemon), and a reader in another process that then closes believes it
 * is the last one, checkpoints and deletes the WAL the daemon still
 * writes to: what the daemon writes next is seen by no one and lost.
 * Returns 0 or -errno.
 */
static int
store_private(const char *path)
{
	static const char *const wal[] = { "-wal", "-shm" };
	char p[4096];
	size_t i;
	int fd, r = 0;

	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOCTTY, STORE_FILE_MODE)) >= 0)
		close(fd);	/* new: no connection has it open */
	else if (errno != EEXIST)
		return -errno;
	if (chmod(path, STORE_FILE_MODE) != 0)
		return -errno;
	for (i = 0; r == 0 && i < sizeof(wal) / sizeof(wal[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, wal[i]);
		if (chmod(p, STORE_FILE_MODE) != 0 && errno != ENOENT)
			r = -errno;
	}
	return r;
}

/* Opens the connection and sets the pragmas.  Returns an SQLite code. */
static int
store_connect(struct store *st, const char *path)
{
	int flags, rc;
	bool wal = false;

	flags = SQLITE_OPEN_NOMUTEX | (st->readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if ((rc = sqlite3_open_v2(path, &st->db, flags, NULL)) != SQLITE_OK)
		return rc;
	sqlite3_extended_result_codes(st->db, 0);
	if ((rc = sqlite3_busy_timeout(st->db, STORE_BUSY_MS)) != SQLITE_OK ||
	    (rc = sqlite3_exec(st->db, "PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL)) != SQLITE_OK || st->readonly)
		return rc;
	if ((rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", wal_cb,
	    &wal, NULL)) != SQLITE_OK)
		return rc;
	if (!wal)
		log_warn("store %s: WAL mode unavailable, readers will wait "
		    "for the writer", path);
	return sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL",
	    NULL, NULL, NULL);
}

/* A migration failed: says why (before the rollback, which clears
 * SQLite's message) and rolls back. */
static void
migrate_failed(struct store *st, const char *path, int64_t version, int step,
    char *msg, size_t msglen)
{
	if (step >= 0)
		snprintf(msg, msglen, "cannot migrate store %s from schema "
		    "version %" PRId64 " to %d: the step to version %d failed: "
		    "%s; the store is left as it was", path, version,
		    SCHEMA_VERSION, step + 1, sqlite3_errmsg(st->db));
	else
		snprintf(msg, msglen, "cannot migrate store %s to schema "
		    "version %d: %s; the store is left as it was", path,
		    SCHEMA_VERSION, sqlite3_errmsg(st->db));
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Applies the missing migration steps in one transaction: a step that fails
 * rolls every step back, leaving the store as it was.  Returns an SQLite
 * code; on failure msg says from which version, at which step and why.
 */
static int
store_migrate(struct store *st, const char *path, char *msg, size_t msglen)
{
	char pragma[64];
	int64_t version = -1;
	int rc, v = -1;

	if ((rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL)) != SQLITE_OK)
		goto out;
	/* Read again: another process may have migrated meanwhile. */
	if ((rc = db_int(st->db, "PRAGMA user_version", &version)) != SQLITE_OK)
		goto out;
	for (v = (int)version; v < SCHEMA_VERSION && rc == SQLITE_OK; v++)
		if ((rc = sqlite3_exec(st->db, migrations[v], NULL, NULL,
		    NULL)) != SQLITE_OK)
			goto out;
	v = -1;		/* the steps went through */
	if (version < SCHEMA_VERSION) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    SCHEMA_VERSION);
		rc = sqlite3_exec(st->db, pragma, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
 out:
	if (rc != SQLITE_OK)
		migrate_failed(st, path, version, v, msg, msglen);
	return rc;
}

/*
 * Checks that the file is a distcron store we understand, and migrates it
 * unless read-only.  Returns 0, or ERR_STORE with msg filled.
 */
static int
store_schema(struct store *st, const char *path, char *msg, size_t msglen)
{
	int64_t version, ntables;
	int rc;

	if ((rc = db_int(st->db, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    (rc = db_int(st->db, "SELECT count(*) FROM sqlite_master",
	    &ntables)) != SQLITE_OK)
		goto fail;
	if (version > SCHEMA_VERSION) {
		snprintf(msg, msglen, "store %s has schema version %" PRId64
		    ", newer than this distcron knows (%d)", path, version,
		    SCHEMA_VERSION);
		return ERR_STORE;
	}
	if (version == 0 && (st->readonly || ntables > 0)) {
		snprintf(msg, msglen, "%s is not a distcron store (%s)", path,
		    ntables > 0 ? "foreign tables, no schema version" :
		    "empty: the daemon creates it");
		return ERR_STORE;
	}
	if (st->readonly && version < SCHEMA_VERSION) {
		snprintf(msg, msglen, "store %s has schema version %" PRId64
		    ", older than this distcron's (%d): start the daemon once "
		    "to migrate it", path, version, SCHEMA_VERSION);
		return ERR_STORE;
	}
	if (st->readonly || version == SCHEMA_VERSION)
		return 0;
	if (store_migrate(st, path, msg, msglen) == SQLITE_OK)
		return 0;
	return ERR_STORE;
 fail:
	snprintf(msg, msglen, "cannot open store %s: %s", path,
	    sqlite3_errmsg(st->db));
	return ERR_STORE;
}

int
store_open(const char *path, bool readonly, struct store **out,
    const char **errstr)
{
	static __thread char msg[1024];
	struct store *st = NULL;
	int r = ERR_STORE, rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(msg, sizeof(msg), "cannot open store %s: %s", path,
		    err_str(-ENOMEM));
		goto out;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->readonly = readonly;
	if (!readonly && (rc = store_private(path)) != 0) {
		snprintf(msg, sizeof(msg), "cannot open store %s: %s", path,
		    err_str(rc));
		goto out;
	}
	if ((rc = store_connect(st, path)) != SQLITE_OK) {
		snprintf(msg, sizeof(msg), "cannot open store %s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto out;
	}
	if ((r = store_schema(st, path, msg, sizeof(msg))) != 0)
		goto out;
	*out = st;
	st = NULL;
	r = 0;
 out:
	store_close(st);
	if (r != 0 && errstr != NULL)
		*errstr = msg;
	return r;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	for (i = 0; i < Q_SHAPES; i++)
		sqlite3_finalize(st->query[i]);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_error("store: close: %s", sqlite3_errmsg(st->db));
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- writing ---- */

static bool
trigger_scheduled(const char *trigger)
{
	return trigger != NULL && (strcmp(trigger, "schedule") == 0 ||
	    strcmp(trigger, "missed") == 0);
}

static int
item_insert(struct store *st, int64_t run_id, const struct store_item *it)
{
	struct binder b;

	if (bind_begin(&b, st, S_ITEM_INSERT) != 0)
		return ERR_STORE;
	bind_int(&b, run_id);
	bind_text(&b, it->node);
	bind_int(&b, it->attempt);
	bind_int(&b, it->status);
	bind_int(&b, it->exit_code);
	bind_int(&b, it->signal);
	bind_int(&b, it->started_ms);
	bind_int(&b, it->ended_ms);
	bind_text(&b, it->out);
	bind_text(&b, it->err);
	bind_int(&b, it->truncated);
	bind_text(&b, it->error);
	bind_text(&b, it->proc);
	bind_int(&b, it->queued_ms);
	return bind_exec(st, &b, "insert run item");
}

static int
items_insert(struct store *st, const struct store_run *run)
{
	size_t i;
	int r;

	for (i = 0; i < run->nitems; i++)
		if ((r = item_insert(st, run->id, &run->items[i])) != 0)
			return r;
	return 0;
}

/* The member written for run: NULL outside cluster mode. */
static const char *
run_member(const struct store_run *run)
{
	return run->member != NULL && run->member[0] != '\0' ?
	    run->member : NULL;
}

/* Inserts the run row; run->id becomes its id, or 0 for a duplicate tick. */
static int
run_insert(struct store *st, struct store_run *run)
{
	struct binder b;
	int r;

	if (bind_begin(&b, st, S_RUN_INSERT) != 0)
		return ERR_STORE;
	bind_text(&b, run->job);
	bind_int(&b, run->scheduled_at);
	bind_text(&b, run->trigger);
	bind_int(&b, run->status);
	bind_int(&b, run->attempt);
	bind_int(&b, run->created_ms);
	bind_int(&b, run->started_ms);
	bind_int(&b, run->ended_ms);
	bind_text(&b, run->reason);
	bind_text(&b, run_member(run));
	bind_int(&b, run->fence);
	bind_int(&b, run->remote_id);
	if ((r = bind_exec(st, &b, "insert run")) != 0)
		return r;
	run->id = sqlite3_changes(st->db) > 0 ?
	    sqlite3_last_insert_rowid(st->db) : 0;
	return 0;
}

static int
job_scheduled(struct store *st, const struct store_run *run)
{
	struct binder b;

	if (bind_begin(&b, st, S_JOB_SCHEDULED) != 0)
		return ERR_STORE;
	bind_text(&b, run->job);
	bind_int(&b, run->scheduled_at);
	return bind_exec(st, &b, "update job state");
}

static int
run_create_one(struct store *st, struct store_run *run)
{
	int r;

	if ((r = run_insert(st, run)) != 0 || run->id == 0)
		return r;
	if (trigger_scheduled(run->trigger) &&
	    (r = job_scheduled(st, run)) != 0)
		return r;
	return items_insert(st, run);
}

/* Updates the run row; *found is false when no such run exists. */
static int
run_update(struct store *st, const struct store_run *run, bool *found)
{
	struct binder b;
	int r;

	if (bind_begin(&b, st, S_RUN_UPDATE) != 0)
		return ERR_STORE;
	bind_int(&b, run->status);
	bind_int(&b, run->attempt);
	bind_int(&b, run->started_ms);
	bind_int(&b, run->ended_ms);
	bind_text(&b, run->reason);
	bind_text(&b, run_member(run));
	bind_int(&b, run->fence);
	bind_int(&b, run->id);
	if ((r = bind_exec(st, &b, "update run")) != 0)
		return r;
	*found = sqlite3_changes(st->db) > 0;
	return 0;
}

static int
items_replace(struct store *st, const struct store_run *run)
{
	struct binder b;
	int r;

	if (bind_begin(&b, st, S_ITEM_DELETE) != 0)
		return ERR_STORE;
	bind_int(&b, run->id);
	if ((r = bind_exec(st, &b, "delete run items")) != 0)
		return r;
	return items_insert(st, run);
}

/* Records a final run in the job state; *nfinal receives the number of
 * final saves of the job so far. */
static int
job_finished(struct store *st, const struct store_run *run, int64_t *nfinal)
{
	struct binder b;
	bool found;
	int r;

	if (bind_begin(&b, st, S_JOB_FINISHED) != 0)
		return ERR_STORE;
	bind_text(&b, run->job);
	bind_int(&b, run->id);
	bind_int(&b, run->status);
	bind_int(&b, run->ended_ms);
	if ((r = bind_exec(st, &b, "update job state")) != 0 ||
	    (r = bind_begin(&b, st, S_JOB_FINAL_COUNT)) != 0)
		return r;
	bind_text(&b, run->job);
	if ((r = bind_row(st, &b, &found, "read job state")) != 0)
		return r;
	*nfinal = found ? col_int(b.s, 0) : 0;
	stmt_done(b.s);
	return 0;
}

static int
job_prune(struct store *st, const char *job, int keep)
{
	struct binder b;

	if (bind_begin(&b, st, S_PRUNE) != 0)
		return ERR_STORE;
	bind_text(&b, job);
	bind_int(&b, keep - 1);
	return bind_exec(st, &b, "prune runs");
}

/* Writes the outbox rows a run carries (a final one, a start, or a tick
 * that did not start: id 0). */
static int
outrows_insert(struct store *st, const struct store_run *run)
{
	struct binder b;
	int64_t now = loop_real_ms();
	size_t i;
	int r;

	for (i = 0; i < run->noutrows; i++) {
		if (bind_begin(&b, st, S_OB_INSERT) != 0)
			return ERR_STORE;
		bind_int(&b, run->id);
		bind_text(&b, run->outrows[i].sink);
		bind_text(&b, run->outrows[i].event);
		bind_int(&b, now);
		bind_text(&b, run->job);
		bind_int(&b, run->scheduled_at);
		bind_text(&b, run->outrows[i].doc);
		if ((r = bind_exec(st, &b, "insert outbox entry")) != 0)
			return r;
		st->outbox_written++;
	}
	return 0;
}

/* Another member's summary: inserted unless it is here already (by
 * member and id, or its tick), without output; the job's summaries
 * beyond run->retention go. */
static int
remote_insert(struct store *st, struct store_run *run)
{
	struct binder b;
	size_t i;
	int r;

	for (i = 0; i < run->nitems; i++) {
		free(run->items[i].out);
		free(run->items[i].err);
		run->items[i].out = run->items[i].err = NULL;
	}
	if ((r = run_insert(st, run)) != 0 || run->id == 0 ||
	    (r = items_insert(st, run)) != 0)
		return r;
	if (bind_begin(&b, st, S_REMOTE_PRUNE) != 0)
		return ERR_STORE;
	bind_text(&b, run->job);
	bind_int(&b, run->retention > 0 ? run->retention : STORE_RETENTION);
	return bind_exec(st, &b, "prune remote runs");
}

static int
run_save_one(struct store *st, struct store_run *run)
{
	int64_t nfinal;
	bool found;
	int every, keep, r;

	if (run->missed > 0)	/* no run: outbox entries only (store.h) */
		return outrows_insert(st, run);
	if (run->remote_id > 0)	/* another member's summary */
		return remote_insert(st, run);
	if ((r = run_update(st, run, &found)) != 0)
		return r;
	if (!found) {
		log_warn("store: run %" PRId64 " of job %s is gone, not saved "
		    "job=%s run=%" PRId64 " node=%s", run->id, run->job != NULL ?
		    run->job : "?", run->job != NULL ? run->job : "?", run->id,
		    store_run_node(run));
		return 0;
	}
	if ((r = items_replace(st, run)) != 0 ||
	    (r = outrows_insert(st, run)) != 0 ||
	    !store_status_final(run->status))
		return r;
	keep = run->retention > 0 ? run->retention : STORE_RETENTION;
	every = keep / 16 > STORE_PRUNE_MIN ? keep / 16 : STORE_PRUNE_MIN;
	if ((r = job_finished(st, run, &nfinal)) != 0 || nfinal % every != 0)
		return r;
	return job_prune(st, run->job, keep);
}

/* Applies fn to every run inside one write transaction. */
static int
store_batch(struct store *st, struct store_run *const *runs, size_t n,
    int (*fn)(struct store *, struct store_run *))
{
	void (*told)(void *) = NULL;
	void *told_arg = NULL;
	size_t i;
	int r;

	pthread_mutex_lock(&st->lock);
	st->outbox_written = 0;
	r = stmt_run(st, S_BEGIN_WRITE, "begin transaction");
	for (i = 0; i < n && r == 0; i++)
		r = fn(st, runs[i]);
	if (r == 0 || !sqlite3_get_autocommit(st->db))
		r = tx_end(st, r);
	if (r == 0 && st->outbox_written > 0) {
		told = st->outbox_fn;
		told_arg = st->outbox_arg;
	}
	pthread_mutex_unlock(&st->lock);
	if (told != NULL)	/* outside the lock: it may take others */
		told(told_arg);
	return r;
}

int
store_runs_create(struct store *st, struct store_run *const *runs, size_t n)
{
	size_t i;
	int r;

	if ((r = store_batch(st, runs, n, run_create_one)) != 0) {
		/* Rolled back: nothing was recorded, nothing may launch. */
		for (i = 0; i < n; i++)
			runs[i]->id = 0;
	}
	return r;
}

int
store_runs_save(struct store *st, struct store_run *const *runs, size_t n)
{
	return store_batch(st, runs, n, run_save_one);
}

int
store_probe(struct store *st)
{
	char pragma[64];
	int r;

	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
	    SCHEMA_VERSION);
	pthread_mutex_lock(&st->lock);
	if ((r = stmt_run(st, S_BEGIN_WRITE, "begin transaction")) == 0 &&
	    sqlite3_exec(st->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		r = store_fail(st, "write probe");
	if (r == 0 || !sqlite3_get_autocommit(st->db))
		r = tx_end(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int
recover_step(struct store *st, enum stmt_id id, int64_t now_ms,
    const char *what)
{
	struct binder b;

	if (bind_begin(&b, st, id) != 0)
		return ERR_STORE;
	bind_int(&b, now_ms);
	if (id != S_RECOVER_JOBS) {
		bind_text(&b, STORE_LOST_REASON);
		bind_text(&b, STORE_UNSTARTED_REASON);
	}
	return bind_exec(st, &b, what);
}

/* The entries of event for sinks[0..n-1] of the runs about to be marked
 * LOST. */
static int
recover_entries(struct store *st, int64_t now_ms, const char *const *sinks,
    size_t n, const char *event)
{
	struct binder b;
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		if (bind_begin(&b, st, S_RECOVER_OUTBOX) != 0)
			return ERR_STORE;
		bind_int(&b, now_ms);
		bind_text(&b, sinks[i]);
		bind_text(&b, event);
		r = bind_exec(st, &b, "recover outbox entries");
	}
	return r;
}

/* Their report and failure entries. */
static int
recover_reports(struct store *st, int64_t now_ms)
{
	int r;

	if ((r = recover_entries(st, now_ms, st->report_sinks,
	    st->nreport_sinks, "report")) != 0)
		return r;
	return recover_entries(st, now_ms, st->failure_sinks,
	    st->nfailure_sinks, "failure");
}

/* Keeps sinks[0..n-1] (at most STORE_REPORT_SINKS) in v, *nv of them. */
static void
recover_sinks_set(struct store *st, const char **v, size_t *nv,
    const char *const *sinks, size_t n)
{
	size_t i;

	pthread_mutex_lock(&st->lock);
	*nv = 0;
	for (i = 0; i < n && i < STORE_REPORT_SINKS; i++)
		v[(*nv)++] = sinks[i];
	pthread_mutex_unlock(&st->lock);
}

void
store_recover_reports(struct store *st, const char *const *sinks, size_t n)
{
	recover_sinks_set(st, st->report_sinks, &st->nreport_sinks, sinks, n);
}

void
store_recover_failures(struct store *st, const char *const *sinks, size_t n)
{
	recover_sinks_set(st, st->failure_sinks, &st->nfailure_sinks, sinks,
	    n);
}

int
store_orphans(struct store *st,
    int (*fn)(int64_t run_id, const char *proc, void *arg), void *arg)
{
	struct binder b;
	int r = ERR_STORE, rc;

	pthread_mutex_lock(&st->lock);
	if (bind_begin(&b, st, S_ORPHANS) != 0)
		goto out;
	r = 0;
	while (r == 0 && (rc = sqlite3_step(b.s)) == SQLITE_ROW)
		r = fn(col_int(b.s, 0), (const char *)sqlite3_column_text(b.s,
		    1), arg);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(st, "read process groups");
	stmt_done(b.s);
 out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
store_run_reason_set(struct store *st, int64_t run_id, const char *reason)
{
	struct binder b;
	int r = ERR_STORE;

	pthread_mutex_lock(&st->lock);
	if (bind_begin(&b, st, S_RUN_REASON) == 0) {
		bind_int(&b, run_id);
		bind_text(&b, reason);
		r = bind_exec(st, &b, "update run reason");
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
store_recover(struct store *st, int64_t now_ms, int *nlost)
{
	int n = 0, r;

	pthread_mutex_lock(&st->lock);
	if ((r = stmt_run(st, S_BEGIN_WRITE, "begin transaction")) != 0)
		goto out;
	/* Job state and items first: both select the runs still unfinished. */
	if ((r = recover_step(st, S_RECOVER_JOBS, now_ms,
	    "recover job state")) == 0 &&
	    (r = recover_step(st, S_RECOVER_ITEMS, now_ms,
	    "recover run items")) == 0 &&
	    (r = recover_reports(st, now_ms)) == 0 &&
	    (r = recover_step(st, S_RECOVER_RUNS, now_ms,
	    "recover runs")) == 0)
		n = sqlite3_changes(st->db);
	r = tx_end(st, r);
 out:
	pthread_mutex_unlock(&st->lock);
	if (r == 0 && nlost != NULL)
		*nlost = n;
	return r;
}

/* ---- reading ---- */

static void
item_clear(struct store_item *it)
{
	free(it->node);
	free(it->out);
	free(it->err);
	free(it->error);
	free(it->proc);
}

void
store_run_outrows_free(struct store_run *run)
{
	size_t i;

	for (i = 0; i < run->noutrows; i++) {
		free(run->outrows[i].sink);
		free(run->outrows[i].event);
		free(run->outrows[i].doc);
	}
	free(run->outrows);
	run->outrows = NULL;
	run->noutrows = 0;
}

void
store_run_free(struct store_run *run)
{
	size_t i;

	if (run == NULL)
		return;
	for (i = 0; i < run->nitems; i++)
		item_clear(&run->items[i]);
	store_run_outrows_free(run);
	free(run->items);
	free(run->job);
	free(run->trigger);
	free(run->reason);
	free(run->member);
	free(run);
}

void
store_runs_free(struct store_run **runs, size_t n)
{
	size_t i;

	if (runs == NULL)
		return;
	for (i = 0; i < n; i++)
		store_run_free(runs[i]);
	free(runs);
}

/* Makes room for one more element in a growing array. */
static int
array_grow(void *arrayp, size_t n, size_t *cap, size_t size)
{
	void **array = arrayp;
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if ((p = reallocarray(*array, ncap, size)) == NULL)
		return -ENOMEM;
	*array = p;
	*cap = ncap;
	return 0;
}

static int
item_from_row(sqlite3_stmt *s, struct store_item *it)
{
	memset(it, 0, sizeof(*it));
	it->attempt = (int)col_int(s, 1);
	it->status = (enum run_status)col_int(s, 2);
	it->exit_code = (int)col_int(s, 3);
	it->signal = (int)col_int(s, 4);
	it->started_ms = col_int(s, 5);
	it->ended_ms = col_int(s, 6);
	it->truncated = col_int(s, 9) != 0;
	it->queued_ms = col_int(s, 11);
	if (col_dup(s, 0, &it->node) != 0 || col_dup(s, 7, &it->out) != 0 ||
	    col_dup(s, 8, &it->err) != 0 || col_dup(s, 10, &it->error) != 0) {
		item_clear(it);
		return -ENOMEM;
	}
	return 0;
}

static int
run_load_items(struct store *st, struct store_run *run, bool with_output)
{
	struct binder b;
	size_t cap = 0;
	int r = 0, rc;

	if (bind_begin(&b, st, S_ITEMS_GET) != 0)
		return ERR_STORE;
	bind_int(&b, run->id);
	bind_int(&b, with_output);
	rc = b.rc;
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) &&
	    (rc = sqlite3_step(b.s)) == SQLITE_ROW) {
		if ((r = array_grow(&run->items, run->nitems, &cap,
		    sizeof(*run->items))) != 0 ||
		    (r = item_from_row(b.s, &run->items[run->nitems])) != 0)
			break;
		run->nitems++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(st, "read run items");
	stmt_done(b.s);
	return r;
}

static int
run_from_row(sqlite3_stmt *s, struct store_run **out)
{
	struct store_run *run;

	if ((run = calloc(1, sizeof(*run))) == NULL)
		return -ENOMEM;
	run->id = col_int(s, 0);
	run->scheduled_at = col_int(s, 2);
	run->status = (enum run_status)col_int(s, 4);
	run->attempt = (int)col_int(s, 5);
	run->created_ms = col_int(s, 6);
	run->started_ms = col_int(s, 7);
	run->ended_ms = col_int(s, 8);
	run->fence = col_int(s, 11);
	run->remote_id = col_int(s, 12);
	if (col_dup(s, 1, &run->job) != 0 || col_dup(s, 3, &run->trigger) != 0 ||
	    col_dup(s, 9, &run->reason) != 0 ||
	    col_dup(s, 10, &run->member) != 0) {
		store_run_free(run);
		return -ENOMEM;
	}
	*out = run;
	return 0;
}

static int
run_get(struct store *st, int64_t id, struct store_run **out)
{
	struct binder b;
	bool found;
	int r;

	if (bind_begin(&b, st, S_RUN_GET) != 0)
		return ERR_STORE;
	bind_int(&b, id);
	if ((r = bind_row(st, &b, &found, "read run")) != 0)
		return r;
	r = found ? run_from_row(b.s, out) : ERR_NOTFOUND;
	stmt_done(b.s);
	return r;
}

int
store_run_get(struct store *st, int64_t id, struct store_run **out)
{
	struct store_run *run = NULL;
	int r;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	/* One read transaction: the run and its items from one snapshot. */
	if ((r = stmt_run(st, S_BEGIN_READ, "begin transaction")) != 0)
		goto out;
	if ((r = run_get(st, id, &run)) == 0)
		r = run_load_items(st, run, true);
	r = tx_end(st, r);
	if (r == 0) {
		*out = run;
		run = NULL;
	}
 out:
	pthread_mutex_unlock(&st->lock);
	store_run_free(run);
	return r;
}

int
store_runs_get(struct store *st, const int64_t *ids, size_t n,
    struct store_run **out)
{
	size_t i;
	int r;

	memset(out, 0, n * sizeof(*out));
	pthread_mutex_lock(&st->lock);
	if ((r = stmt_run(st, S_BEGIN_READ, "begin transaction")) != 0)
		goto out;
	for (i = 0; i < n && (r == 0 || r == ERR_NOTFOUND); i++)
		if ((r = run_get(st, ids[i], &out[i])) == 0)
			r = run_load_items(st, out[i], true);
	r = tx_end(st, r == ERR_NOTFOUND ? 0 : r);
 out:
	pthread_mutex_unlock(&st->lock);
	for (i = 0; r != 0 && i < n; i++) {
		store_run_free(out[i]);
		out[i] = NULL;
	}
	return r;
}

static int
query_mask(const struct store_query *q)
{
	return (q->job != NULL ? Q_JOB : 0) | (q->status >= 0 ? Q_STATUS : 0) |
	    (q->since_ms > 0 ? Q_SINCE : 0) | (q->before_id > 0 ? Q_BEFORE : 0);
}

/* Returns the cached statement for a filter mask, preparing it once. */
static sqlite3_stmt *
query_stmt(struct store *st, int mask)
{
	struct buf sql;
	sqlite3_stmt *s = NULL;

	if (st->query[mask] != NULL)
		return st->query[mask];
	buf_init(&sql, 1024);
	if (buf_puts(&sql, RUN_COLUMNS " WHERE 1") == 0 &&
	    ((mask & Q_JOB) == 0 || buf_puts(&sql, " AND job = ?") == 0) &&
	    ((mask & Q_STATUS) == 0 || buf_puts(&sql, " AND status = ?") == 0) &&
	    ((mask & Q_SINCE) == 0 ||
	    buf_puts(&sql, " AND created_ms >= ?") == 0) &&
	    ((mask & Q_BEFORE) == 0 ||
	    buf_puts(&sql, " AND (created_ms, id) < (?, ?)") == 0) &&
	    buf_puts(&sql, " ORDER BY created_ms DESC, id DESC LIMIT ?") == 0)
		s = stmt_prepare(st, &st->query[mask], buf_str(&sql));
	else
		log_error("store: query: %s", err_str(-ENOMEM));
	buf_free(&sql);
	return s;
}

/*
 * Lists are in time order, newest first: by created_ms, then id (other
 * members' summaries come in late: their ids do not follow their time).
 * A page before run id starts below that run's place, or when it is
 * gone (pruned), at the newest run with a smaller id; none: *ms -1.
 */
static int
query_anchor(struct store *st, int64_t id, int64_t *ms, int64_t *below)
{
	struct binder b;
	bool found;
	int r;

	if (bind_begin(&b, st, S_RUN_ANCHOR) != 0)
		return ERR_STORE;
	bind_int(&b, id);
	if ((r = bind_row(st, &b, &found, "read run")) != 0)
		return r;
	*ms = found ? col_int(b.s, 0) : -1;
	*below = !found ? 0 : col_int(b.s, 1) == id ? id : col_int(b.s, 1) + 1;
	stmt_done(b.s);
	return 0;
}

static int
query_bind(struct store *st, const struct store_query *q, struct binder *b)
{
	int limit = q->limit > 0 ? q->limit : STORE_QUERY_LIMIT;
	int mask = query_mask(q);
	int64_t ms = 0, below = 0;

	if ((mask & Q_BEFORE) && query_anchor(st, q->before_id, &ms, &below) != 0)
		return ERR_STORE;
	b->n = 0;
	b->rc = SQLITE_OK;
	if ((b->s = query_stmt(st, mask)) == NULL)
		return ERR_STORE;
	if (mask & Q_JOB)
		bind_text(b, q->job);
	if (mask & Q_STATUS)
		bind_int(b, q->status);
	if (mask & Q_SINCE)
		bind_int(b, q->since_ms);
	if (mask & Q_BEFORE) {
		bind_int(b, ms);
		bind_int(b, below);
	}
	bind_int(b, limit < STORE_QUERY_MAX ? limit : STORE_QUERY_MAX);
	return 0;
}

/* Collects the matching runs, without items. */
static int
query_runs(struct store *st, const struct store_query *q,
    struct store_run ***runs, size_t *n)
{
	struct binder b;
	size_t cap = 0;
	int r, rc;

	if ((r = query_bind(st, q, &b)) != 0)
		return r;
	rc = b.rc;
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) &&
	    (rc = sqlite3_step(b.s)) == SQLITE_ROW) {
		if ((r = array_grow(runs, *n, &cap, sizeof(**runs))) != 0 ||
		    (r = run_from_row(b.s, &(*runs)[*n])) != 0)
			break;
		(*n)++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(st, "query runs");
	stmt_done(b.s);
	return r;
}

int
store_runs_query(struct store *st, const struct store_query *q,
    struct store_run ***out, size_t *n)
{
	struct store_run **runs = NULL;
	size_t i, nruns = 0;
	int r;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	if ((r = stmt_run(st, S_BEGIN_READ, "begin transaction")) != 0)
		goto out;
	r = query_runs(st, q, &runs, &nruns);
	for (i = 0; i < nruns && r == 0; i++)
		r = run_load_items(st, runs[i], q->with_output);
	if ((r = tx_end(st, r)) == 0) {
		*out = runs;
		*n = nruns;
		runs = NULL;
	}
 out:
	pthread_mutex_unlock(&st->lock);
	store_runs_free(runs, nruns);
	return r;
}

/* The columns of S_JOB_GET and S_JOB_ALL, in their order. */
static void
job_state_from_row(sqlite3_stmt *s, struct store_job_state *out)
{
	out->last_scheduled_at = col_int(s, 0);
	out->last_run_id = col_int(s, 1);
	out->last_status = (enum run_status)col_int(s, 2);
	out->last_ended_ms = col_int(s, 3);
	out->run_count = col_int(s, 4);
	out->paused = col_int(s, 5) != 0;
}

int
store_job_state_get(struct store *st, const char *job,
    struct store_job_state *out)
{
	struct binder b;
	bool found = false;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_JOB_GET)) != 0)
		goto out;
	bind_text(&b, job);
	if ((r = bind_row(st, &b, &found, "read job state")) != 0 || !found)
		goto out;
	job_state_from_row(b.s, out);
 out:
	if (r == 0 && b.s != NULL)
		stmt_done(b.s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* The rows in name order; each name is at an offset into one block of
 * names, so a million rows cost two allocations. */
struct store_job_states {
	struct store_job_row {
		size_t name;		/* offset in names */
		struct store_job_state state;
	} *rows;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
};

/* Appends the current row of s to states.  Returns 0 or -ENOMEM. */
static int
job_states_add(struct store_job_states *j, sqlite3_stmt *s)
{
	const char *name = (const char *)sqlite3_column_text(s, 6);
	size_t len = name != NULL ? strlen(name) + 1 : 0;
	char *p;

	if (len == 0 || array_grow(&j->rows, j->n, &j->cap,
	    sizeof(*j->rows)) != 0)
		return -ENOMEM;
	while (j->nlen + len > j->ncap) {
		if ((p = realloc(j->names, j->ncap ? j->ncap * 2 : 4096)) ==
		    NULL)
			return -ENOMEM;
		j->names = p;
		j->ncap = j->ncap ? j->ncap * 2 : 4096;
	}
	memcpy(j->names + j->nlen, name, len);
	j->rows[j->n].name = j->nlen;
	job_state_from_row(s, &j->rows[j->n++].state);
	j->nlen += len;
	return 0;
}

int
store_job_states_read(struct store *st, struct store_job_states **out)
{
	struct store_job_states *j;
	struct binder b;
	int r, rc;

	if ((*out = j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_JOB_ALL)) == 0) {
		while ((rc = sqlite3_step(b.s)) == SQLITE_ROW &&
		    (r = job_states_add(j, b.s)) == 0)
			;
		if (r == 0 && rc != SQLITE_DONE)
			r = store_fail(st, "read job states");
		stmt_done(b.s);
	}
	pthread_mutex_unlock(&st->lock);
	if (r != 0) {
		store_job_states_free(j);
		*out = NULL;
	}
	return r;
}

void
store_job_states_find(const struct store_job_states *j, const char *job,
    struct store_job_state *out)
{
	size_t lo = 0, hi = j->n, mid;
	int c;

	memset(out, 0, sizeof(*out));
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(j->names + j->rows[mid].name, job)) == 0) {
			*out = j->rows[mid].state;
			return;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
}

void
store_job_states_free(struct store_job_states *j)
{
	if (j == NULL)
		return;
	free(j->rows);
	free(j->names);
	free(j);
}

int
store_job_pause_set(struct store *st, const char *job, bool paused)
{
	struct binder b;
	int r;

	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_JOB_PAUSE)) == 0) {
		bind_text(&b, job);
		bind_int(&b, paused ? 1 : 0);
		r = bind_exec(st, &b, "pause job");
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- the outbox table ---- */

void
store_on_outbox(struct store *st, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->outbox_fn = fn;
	st->outbox_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

/* Copies a text column into a capped array. */
static void
col_copy(sqlite3_stmt *s, int col, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(out, len, "%s", v != NULL ? (const char *)v : "");
}

static void
ob_from_row(sqlite3_stmt *s, struct store_outbox_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->id = col_int(s, 0);
	e->run_id = col_int(s, 1);
	col_copy(s, 2, e->job, sizeof(e->job));
	col_copy(s, 3, e->sink, sizeof(e->sink));
	col_copy(s, 4, e->event, sizeof(e->event));
	e->created_ms = col_int(s, 5);
	e->attempts = (int)col_int(s, 6);
	e->next_ms = col_int(s, 7);
	e->parked = col_int(s, 8) != 0;
	col_copy(s, 9, e->why, sizeof(e->why));
	e->scheduled_at = col_int(s, 10);
	e->has_doc = col_int(s, 11) != 0;
}

/* Steps a bound listing into a malloc'd array of at most max entries. */
static int
ob_list(struct store *st, struct binder *b, size_t max,
    struct store_outbox_entry **out, size_t *n)
{
	int r = 0, rc = b->rc;

	if (max > 0 && (*out = calloc(max, sizeof(**out))) == NULL)
		r = -ENOMEM;
	while (r == 0 && *n < max && (rc == SQLITE_OK || rc == SQLITE_ROW) &&
	    (rc = sqlite3_step(b->s)) == SQLITE_ROW)
		ob_from_row(b->s, &(*out)[(*n)++]);
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail(st, "read outbox");
	stmt_done(b->s);
	if (r != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}

int
store_outbox_due(struct store *st, const char *sink, int64_t now_ms,
    size_t max, struct store_outbox_entry **out, size_t *n)
{
	return store_outbox_due_after(st, sink, now_ms, -1, max, out, n);
}

int
store_outbox_due_after(struct store *st, const char *sink, int64_t now_ms,
    int64_t after_id, size_t max, struct store_outbox_entry **out, size_t *n)
{
	struct binder b;
	int r;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, after_id < 0 ? S_OB_DUE :
	    S_OB_DUE_AFTER)) == 0) {
		bind_text(&b, sink);
		bind_int(&b, now_ms);
		bind_int(&b, (int64_t)max);
		if (after_id >= 0)
			bind_int(&b, after_id);
		r = ob_list(st, &b, max, out, n);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
store_outbox_doc(struct store *st, int64_t id, char **doc)
{
	struct binder b;
	bool found = false;
	int r;

	*doc = NULL;
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_OB_DOC)) != 0)
		goto out;
	bind_int(&b, id);
	if ((r = bind_row(st, &b, &found, "read outbox document")) != 0)
		goto out;
	if (!found)
		r = ERR_NOTFOUND;
	else if ((*doc = strdup((const char *)sqlite3_column_text(b.s,
	    0))) == NULL)
		r = -ENOMEM;
	stmt_done(b.s);
 out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
store_outbox_parked(struct store *st, size_t max,
    struct store_outbox_entry **out, size_t *n)
{
	struct binder b;
	int r;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_OB_PARKED)) == 0) {
		bind_int(&b, (int64_t)max);
		r = ob_list(st, &b, max, out, n);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Ids lo to hi, both included. */
struct ob_range {
	int64_t lo, hi;
};

static int
ob_delete_range(struct store *st, const void *v)
{
	const struct ob_range *g = v;
	struct binder b;

	if (bind_begin(&b, st, S_OB_DELETE) != 0)
		return ERR_STORE;
	bind_int(&b, g->lo);
	bind_int(&b, g->hi);
	return bind_exec(st, &b, "delete outbox entries");
}

static int
ob_update_one(struct store *st, const void *v)
{
	const struct store_outbox_entry *e = v;
	struct binder b;

	if (bind_begin(&b, st, S_OB_UPDATE) != 0)
		return ERR_STORE;
	bind_int(&b, e->id);
	bind_int(&b, e->attempts);
	bind_int(&b, e->next_ms);
	bind_int(&b, e->parked ? 1 : 0);
	bind_text(&b, e->why[0] != '\0' ? e->why : NULL);
	return bind_exec(st, &b, "update outbox entry");
}

/* Applies fn to n elements of size bytes at v in one write transaction. */
static int
ob_batch(struct store *st, const void *v, size_t n, size_t size,
    int (*fn)(struct store *, const void *))
{
	size_t i;
	int r;

	pthread_mutex_lock(&st->lock);
	r = stmt_run(st, S_BEGIN_WRITE, "begin transaction");
	for (i = 0; i < n && r == 0; i++)
		r = fn(st, (const char *)v + i * size);
	if (r == 0 || !sqlite3_get_autocommit(st->db))
		r = tx_end(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* One statement per run of consecutive ids (a delivered batch is mostly
 * one run), in one transaction. */
int
store_outbox_delete(struct store *st, const int64_t *ids, size_t n)
{
	struct ob_range *g;
	size_t i, k = 0;
	int r;

	if (n == 0)
		return 0;
	if ((g = calloc(n, sizeof(*g))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (k > 0 && ids[i] == g[k - 1].hi + 1)
			g[k - 1].hi = ids[i];
		else {
			g[k].lo = ids[i];
			g[k++].hi = ids[i];
		}
	}
	r = ob_batch(st, g, k, sizeof(*g), ob_delete_range);
	free(g);
	return r;
}

int
store_outbox_update(struct store *st, const struct store_outbox_entry *e,
    size_t n)
{
	return n == 0 ? 0 : ob_batch(st, e, n, sizeof(*e), ob_update_one);
}

int
store_outbox_requeue(struct store *st, int64_t id, size_t *n)
{
	struct binder b;
	int r;

	*n = 0;
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_OB_REQUEUE)) == 0) {
		bind_int(&b, id);
		if ((r = bind_exec(st, &b, "re-queue outbox entries")) == 0)
			*n = (size_t)sqlite3_changes(st->db);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
store_outbox_count(struct store *st, const char *sink,
    struct store_outbox_count *out)
{
	struct binder b;
	bool found = false;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	if ((r = bind_begin(&b, st, S_OB_COUNT)) != 0)
		goto out;
	bind_text(&b, sink);
	if ((r = bind_row(st, &b, &found, "count outbox")) != 0)
		goto out;
	if (found) {
		out->depth = (size_t)col_int(b.s, 0);
		out->parked = (size_t)col_int(b.s, 1);
		out->oldest_ms = col_int(b.s, 2);
		out->next_ms = col_int(b.s, 3);
	}
	stmt_done(b.s);
 out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Inside the trim's transaction: reports who loses what, then deletes. */
static int
ob_trim_tx(struct store *st, int64_t over,
    void (*fn)(const char *sink, size_t count, void *arg), void *arg)
{
	struct binder b;
	int r, rc;

	if ((r = bind_begin(&b, st, S_OB_TRIM_COUNT)) != 0)
		return r;
	bind_int(&b, over);
	rc = b.rc;
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) &&
	    (rc = sqlite3_step(b.s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(b.s, 0),
		    (size_t)col_int(b.s, 1), arg);
	if (rc != SQLITE_DONE)
		r = store_fail(st, "count outbox overflow");
	stmt_done(b.s);
	if (r != 0 || (r = bind_begin(&b, st, S_OB_TRIM)) != 0)
		return r;
	bind_int(&b, over);
	return bind_exec(st, &b, "trim outbox");
}

int
store_outbox_trim(struct store *st, size_t max,
    void (*fn)(const char *sink, size_t count, void *arg), void *arg)
{
	int64_t total = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	if ((r = stmt_run(st, S_BEGIN_WRITE, "begin transaction")) != 0)
		goto out;
	if (db_int(st->db, "SELECT count(*) FROM outbox", &total) != SQLITE_OK)
		r = store_fail(st, "count outbox");
	else if (total > (int64_t)max)
		r = ob_trim_tx(st, total - (int64_t)max, fn, arg);
	r = tx_end(st, r);
 out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- the connection, for the store's other files (store_int.h) ---- */

sqlite3 *
store_db_lock(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	return st->db;
}

void
store_db_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->lock);
}

int
store_db_fail(struct store *st, const char *what)
{
	return store_fail(st, what);
}
