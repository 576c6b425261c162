/* outbox_store_file.c - the outbox's file store: SQLite in WAL mode, in a
 * locked directory (see outbox_store.h for the interface).
 *
 * Files, all mode 0600 in a directory made 0700: outbox.db (and SQLite's
 * outbox.db-wal and -shm, which take the database's mode), and lock, held
 * with flock() while the proxy runs so that a second process cannot share
 * the store (the kernel drops the lock when the process dies, SIGKILL
 * included).
 *
 * Schema (version 1, in meta):
 *   message(seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- acceptance order
 *           id TEXT UNIQUE, state INTEGER,          -- enum outbox_state
 *           created_ms, next_ms, expire_ms INTEGER, -- expire: queued =
 *                                                   -- created + max_age,
 *                                                   -- finished = + retention
 *           bytes INTEGER,                          -- the request's size; 0 once purged
 *           idem_key TEXT UNIQUE, idem_hash BLOB,
 *           request BLOB,                           -- outbox_record.h; NULL once purged
 *           status TEXT)                            -- outbox_record.h
 *   quota(minute INTEGER PRIMARY KEY, n REAL)       -- recipients sent per minute
 *
 * Durability and the event loop. An fsync here takes 3 ms at the median
 * and 12-35 ms at the tail (measured on the project's VM), far too long to
 * hold the loop that serves every synchronous call. So:
 *   - puts are grouped: every put of one loop turn goes into one
 *     transaction, committed at the end of that turn (flush_ev);
 *   - commits run with synchronous=NORMAL: SQLite writes the WAL but does
 *     not fsync it, which takes microseconds, on the loop;
 *   - a thread of this store then fdatasync()s the WAL file and tells the
 *     loop (a pipe); only then are that group's 202s answered and its
 *     messages handed to delivery (durable_seq). While it syncs, the next
 *     groups gather: one fsync serves them all (group commit);
 *   - another thread runs the checkpoints (a second connection,
 *     synchronous=FULL, PASSIVE mode so it never waits for the loop's
 *     connection) once the WAL passes 16 MiB, apart from the fsyncs that
 *     202s wait for; the loop's connection has wal_autocheckpoint off, so
 *     it never fsyncs at all. A checkpoint catches up with the WAL (which
 *     then restarts instead of growing) only if nothing is written
 *     meanwhile, so after a first pass that runs beside the loop's writes,
 *     the loop holds its commits of new messages (they wait in their
 *     group) while a second pass copies the rest: two small fsyncs every
 *     16 MiB of WAL. State changes are not held (a change held back is a
 *     message sent but not recorded a little longer); one that comes
 *     during the pause spoils it, and the checkpointer tries again.
 * State changes after acceptance (sending, sent, failed) are committed the
 * same way without waiting for the fsync: a process crash keeps them (they
 * are in the kernel), a power loss may lose the last ones, and then a
 * message may be sent again, which at-least-once allows.
 *
 * A full disk (or a file-size limit) fails the commit: the group's puts
 * are answered 503 and nothing of them is stored; messages already stored
 * stay. State changes that fail are kept and written again each second. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/outbox/outbox_quota.h"
#include "proxy/outbox/outbox_store.h"

#define SCHEMA_VERSION 1
#define CHECKPOINT_BYTES (16 << 20)
#define PAGE_BYTES 4096      /* SQLite's default page size, which the store keeps */
#define PAUSE_MAX_FRAMES 256 /* left for the pause to copy: about 1 MiB */
#define PUT_RETRY_AFTER_S 5
#define PURGE_EVERY_MS 10000
#define PURGE_BATCH 1000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(k, v) VALUES('schema', 1);"
    "CREATE TABLE IF NOT EXISTS message("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " state INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " next_ms INTEGER NOT NULL,"
    " expire_ms INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " idem_key TEXT UNIQUE,"
    " idem_hash BLOB,"
    " request BLOB,"
    " status TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS message_state ON message(state, seq);"
    "CREATE INDEX IF NOT EXISTS message_expire ON message(state, expire_ms);"
    "CREATE TABLE IF NOT EXISTS quota(minute INTEGER PRIMARY KEY, n REAL NOT NULL);";

/* ------------------------------------------------------------ the syncer */

/* The thread that makes commits durable (and checkpoints). `want` and
 * `done` are commit generations. */
struct syncer {
    pthread_t th, ckpt_th;
    int started, ckpt_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t want, done;
    int stop;
    int sync_errno; /* the last fdatasync's failure, 0 = none */
    int wal_fd;
    sqlite3 *ckpt; /* used by the checkpointer only */
    int pipe_r, pipe_w;
    /* A checkpoint can catch up with a WAL only while nothing is written
     * to it (else the WAL never restarts and grows without bound): the
     * checkpointer asks (WANTED), the loop stops committing new messages
     * (PAUSED), the checkpoint runs, the loop resumes (DONE, then IDLE). */
    enum { CK_IDLE, CK_WANTED, CK_PAUSED, CK_DONE } ckpt_phase;
};

/* ------------------------------------------------------------ the store */

enum put_kind { PK_STORE, PK_ANSWER };

struct outbox_wait {
    struct file_store *fs;
    int is_put;
    enum put_kind kind;
    struct outbox_put_answer answer; /* PK_ANSWER: decided at once */
    char id[OUTBOX_ID_LEN + 1];
    char *key; /* idempotency key being stored (PK_STORE) */
    int64_t seq;
    size_t bytes;
    uint8_t *record;
    size_t record_len;
    char *status;
    uint8_t idem_hash[32];
    int64_t created_ms, expire_ms;
    outbox_put_fn cb; /* NULL once cancelled */
    void *arg;
    uint64_t gen; /* the commit it is in */
    TAILQ_ENTRY(outbox_wait) link;
};
TAILQ_HEAD(wait_list, outbox_wait);

/* A state change whose write failed (full disk), written again later. */
struct redo {
    int64_t seq;
    int state;
    int64_t next_ms, expire_ms;
    int purge;
    char *status;
    TAILQ_ENTRY(redo) link;
};

struct file_store {
    struct outbox_store base;
    struct event_base *ev;
    char *dir;
    int lock_fd;
    sqlite3 *db;
    sqlite3_stmt *ins, *by_key, *by_id, *take, *save, *finish, *quota_up, *oldest;
    struct wait_list open;    /* puts for the next commit */
    struct wait_list syncing; /* committed, waiting for the fsync */
    struct event *flush_ev;
    struct event *synced_ev;
    struct syncer sync;
    uint64_t gen;
    int64_t durable_seq;
    int64_t open_count, open_bytes; /* unfinished messages, stored or being stored */
    double counts[OUTBOX_N_STATES];
    struct outbox_quota quota;
    TAILQ_HEAD(, redo) redo;
    int paused; /* a checkpoint runs: no put is committed (see struct syncer) */
    uint64_t paused_at_us;
    int failing; /* the last commit failed */
    char failing_why[200];
    int64_t last_purge_ms;
};

static struct file_store *fs_of(struct outbox_store *s) { return (struct file_store *)(void *)s; }

static const char *db_err(struct file_store *fs) { return sqlite3_errmsg(fs->db); }

/* ---- the syncer thread ---- */

/* A PASSIVE checkpoint: never waits for the loop's connection, so it
 * cannot make the loop see SQLITE_BUSY. *left gets the frames it could not
 * copy (written since it started). Returns the WAL's frames. */
static int checkpoint(struct syncer *sy, int *left) {
    int log_frames = 0, done_frames = 0;
    if (sqlite3_wal_checkpoint_v2(sy->ckpt, "main", SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                  &done_frames) != SQLITE_OK) {
        *left = 0;
        return 0;
    }
    *left = log_frames - done_frames;
    return log_frames;
}

/* Copies while the loop writes, until what is left is small: 1 when the
 * WAL is big enough to ask the loop for a pause to finish the copy and let
 * the WAL restart. */
static int precopy(struct syncer *sy) {
    int left = 0;
    int frames = checkpoint(sy, &left);
    if ((int64_t)frames * PAGE_BYTES < CHECKPOINT_BYTES) {
        return 0;
    }
    for (int i = 0; i < 4 && left > PAUSE_MAX_FRAMES; i++) {
        (void)checkpoint(sy, &left);
    }
    return 1;
}

static void poke(struct syncer *sy) {
    char b = 1;
    (void)!write(sy->pipe_w, &b, 1);
}

static void *syncer_main(void *arg) {
    struct syncer *sy = arg;
    pthread_mutex_lock(&sy->mu);
    while (!sy->stop) {
        if (sy->want > sy->done) {
            uint64_t target = sy->want;
            pthread_mutex_unlock(&sy->mu);
            int rc = fdatasync(sy->wal_fd);
            int e = rc < 0 ? errno : 0;
            pthread_mutex_lock(&sy->mu);
            sy->sync_errno = e;
            sy->done = target;
            pthread_mutex_unlock(&sy->mu);
            poke(sy);
            pthread_mutex_lock(&sy->mu);
            continue;
        }
        pthread_cond_wait(&sy->cv, &sy->mu);
    }
    pthread_mutex_unlock(&sy->mu);
    return NULL;
}

/* The checkpointer: a thread of its own, so that a checkpoint (two fsyncs
 * and the copy) never delays a group's fsync, and so its 202s. */
static void *checkpointer_main(void *arg) {
    struct syncer *sy = arg;
    pthread_mutex_lock(&sy->mu);
    while (!sy->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&sy->cv, &sy->mu, &ts);
        if (sy->stop) {
            break;
        }
        if (sy->ckpt_phase == CK_IDLE) {
            pthread_mutex_unlock(&sy->mu);
            /* Most of the copying, while the loop goes on writing: the
             * pause then copies (and fsyncs) only what came since. */
            int big = precopy(sy);
            pthread_mutex_lock(&sy->mu);
            if (big && sy->ckpt_phase == CK_IDLE) {
                sy->ckpt_phase = CK_WANTED;
                pthread_mutex_unlock(&sy->mu);
                poke(sy);
                pthread_mutex_lock(&sy->mu);
            }
        } else if (sy->ckpt_phase == CK_PAUSED) {
            pthread_mutex_unlock(&sy->mu);
            int left = 0;
            (void)checkpoint(sy, &left);
            pthread_mutex_lock(&sy->mu);
            sy->ckpt_phase = CK_DONE;
            pthread_mutex_unlock(&sy->mu);
            poke(sy);
            pthread_mutex_lock(&sy->mu);
        }
    }
    pthread_mutex_unlock(&sy->mu);
    return NULL;
}

static void syncer_request(struct syncer *sy, uint64_t gen) {
    pthread_mutex_lock(&sy->mu);
    sy->want = gen;
    pthread_cond_broadcast(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
}

static void syncer_stop(struct syncer *sy) {
    pthread_mutex_lock(&sy->mu);
    sy->stop = 1;
    pthread_cond_broadcast(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    if (sy->started) {
        pthread_join(sy->th, NULL);
        sy->started = 0;
    }
    if (sy->ckpt_started) {
        pthread_join(sy->ckpt_th, NULL);
        sy->ckpt_started = 0;
    }
    if (sy->ckpt != NULL) {
        sqlite3_close(sy->ckpt);
        sy->ckpt = NULL;
    }
    if (sy->wal_fd >= 0) {
        close(sy->wal_fd);
        sy->wal_fd = -1;
    }
    if (sy->pipe_r >= 0) {
        close(sy->pipe_r);
        close(sy->pipe_w);
        sy->pipe_r = sy->pipe_w = -1;
    }
}

/* ---- small SQL helpers ---- */

static int exec(struct file_store *fs, const char *sql, struct sp_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(fs->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sp_fail(err, "StoreError", "%s: %s", fs->dir, msg != NULL ? msg : db_err(fs));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int prepare(struct file_store *fs, const char *sql, sqlite3_stmt **st, struct sp_err *err) {
    if (sqlite3_prepare_v3(fs->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        return sp_fail(err, "StoreError", "%s: %s", fs->dir, db_err(fs));
    }
    return 0;
}

/* Runs a statement that returns no rows; resets it. */
static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void rollback_if_open(struct file_store *fs) {
    if (!sqlite3_get_autocommit(fs->db)) {
        (void)sqlite3_exec(fs->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static void note_failing(struct file_store *fs, const char *what) {
    if (!fs->failing) {
        log_event(LOG_ERROR,
                  "outbox store: a write failed; new messages are refused until one "
                  "succeeds",
                  "path", fs->dir, "error", what, NULL);
    }
    fs->failing = 1;
    snprintf(fs->failing_why, sizeof(fs->failing_why), "the outbox store cannot write: %s", what);
}

static void note_ok(struct file_store *fs) {
    if (fs->failing) {
        log_event(LOG_INFO, "outbox store: writes succeed again", "path", fs->dir, NULL);
    }
    fs->failing = 0;
}

/* ------------------------------------------------------------------ puts */

static void free_wait(struct outbox_wait *w) {
    free(w->key);
    free(w->record);
    free(w->status);
    free(w);
}

static void answer(struct outbox_wait *w, const struct outbox_put_answer *a) {
    if (w->cb != NULL) {
        w->cb(w->arg, a);
    }
}

/* Is key being stored now (in a group not yet durable)? */
static int key_busy(struct file_store *fs, const char *key) {
    struct wait_list *lists[] = {&fs->open, &fs->syncing};
    for (size_t i = 0; i < 2; i++) {
        struct outbox_wait *w;
        TAILQ_FOREACH(w, lists[i], link) {
            if (w->kind == PK_STORE && w->key != NULL && strcmp(w->key, key) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* The stored message with this idempotency key: EXISTING or KEY_REUSED,
 * or 0 when there is none. */
static int find_key(struct file_store *fs, const struct outbox_new *m,
                    struct outbox_put_answer *a) {
    sqlite3_stmt *st = fs->by_key;
    sqlite3_bind_text(st, 1, m->idem_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        const void *h = sqlite3_column_blob(st, 1);
        if (sqlite3_column_bytes(st, 1) != 32 || memcmp(h, m->idem_hash, 32) != 0) {
            a->result = OUTBOX_PUT_KEY_REUSED;
        } else {
            struct sp_err err;
            sp_err_clear(&err);
            snprintf(a->id, sizeof(a->id), "%s", (const char *)sqlite3_column_text(st, 0));
            const char *text = (const char *)sqlite3_column_text(st, 2);
            if (outbox_status_decode(text, (size_t)sqlite3_column_bytes(st, 2), &a->st, &err) < 0) {
                a->result = OUTBOX_PUT_UNAVAILABLE;
                snprintf(a->why, sizeof(a->why), "stored status: %.150s", err.msg);
            } else {
                a->result = OUTBOX_PUT_EXISTING;
            }
        }
    } else if (rc != SQLITE_DONE) {
        found = 1;
        a->result = OUTBOX_PUT_UNAVAILABLE;
        snprintf(a->why, sizeof(a->why), "the outbox store cannot read: %s", db_err(fs));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

/* Decides what a put gets without storing: an answer now, or 0 to store. */
static int decide(struct file_store *fs, const struct outbox_new *m, struct outbox_put_answer *a) {
    memset(a, 0, sizeof(*a));
    if (m->idem_key != NULL) {
        if (key_busy(fs, m->idem_key)) {
            a->result = OUTBOX_PUT_KEY_BUSY;
            return 1;
        }
        if (find_key(fs, m, a)) {
            return 1;
        }
    }
    const struct outbox_limits *l = &fs->base.limits;
    if (fs->open_count >= l->max_messages ||
        fs->open_bytes + (int64_t)m->record_len > l->max_bytes) {
        a->result = OUTBOX_PUT_FULL;
        snprintf(a->why, sizeof(a->why),
                 "the outbox is full (%lld messages, %lld bytes held; outbox.max_messages %lld, "
                 "outbox.max_bytes %lld)",
                 (long long)fs->open_count, (long long)fs->open_bytes, (long long)l->max_messages,
                 (long long)l->max_bytes);
        return 1;
    }
    return 0;
}

static void fs_put(struct outbox_store *s, const struct outbox_new *m, outbox_put_fn cb, void *arg,
                   struct outbox_wait **wp) {
    struct file_store *fs = fs_of(s);
    struct outbox_wait *w = calloc(1, sizeof(*w));
    *wp = w;
    struct outbox_put_answer a;
    if (w == NULL) {
        /* No way to call back later without memory: the caller sees a NULL
         * handle and answers 503 itself. */
        return;
    }
    w->fs = fs;
    w->is_put = 1;
    w->cb = cb;
    w->arg = arg;
    if (decide(fs, m, &a)) {
        w->kind = PK_ANSWER;
        w->answer = a;
        if (a.result == OUTBOX_PUT_EXISTING) {
            memcpy(w->id, a.id, sizeof(w->id));
        }
    } else {
        w->kind = PK_STORE;
        memcpy(w->id, m->id, sizeof(w->id));
        w->key = m->idem_key != NULL ? strdup(m->idem_key) : NULL;
        w->record = malloc(m->record_len > 0 ? m->record_len : 1);
        w->status = outbox_status_encode(&m->st);
        if ((m->idem_key != NULL && w->key == NULL) || w->record == NULL || w->status == NULL) {
            w->kind = PK_ANSWER;
            w->answer.result = OUTBOX_PUT_UNAVAILABLE;
            snprintf(w->answer.why, sizeof(w->answer.why), "out of memory");
        } else {
            memcpy(w->record, m->record, m->record_len);
            w->record_len = m->record_len;
            memcpy(w->idem_hash, m->idem_hash, 32);
            w->created_ms = m->st.created_ms;
            w->expire_ms = m->st.created_ms + fs->base.limits.max_age_ms;
            w->bytes = m->record_len;
            fs->open_count++;
            fs->open_bytes += (int64_t)m->record_len;
        }
    }
    TAILQ_INSERT_TAIL(&fs->open, w, link);
    event_active(fs->flush_ev, EV_TIMEOUT, 0);
}

static int insert(struct file_store *fs, struct outbox_wait *w) {
    sqlite3_stmt *st = fs->ins;
    sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, w->created_ms);
    sqlite3_bind_int64(st, 3, w->expire_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)w->bytes);
    if (w->key != NULL) {
        sqlite3_bind_text(st, 5, w->key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 6, w->idem_hash, 32, SQLITE_STATIC);
    }
    sqlite3_bind_blob(st, 7, w->record, (int)w->record_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, w->status, -1, SQLITE_STATIC);
    if (step_done(st) < 0) {
        return -1;
    }
    w->seq = sqlite3_last_insert_rowid(fs->db);
    return 0;
}

/* The puts of a group that could not be committed. */
static void refuse_group(struct file_store *fs, struct wait_list *group, const char *why) {
    struct outbox_wait *w;
    while ((w = TAILQ_FIRST(group)) != NULL) {
        TAILQ_REMOVE(group, w, link);
        struct outbox_put_answer a;
        memset(&a, 0, sizeof(a));
        a.result = OUTBOX_PUT_FULL;
        snprintf(a.why, sizeof(a.why), "%s", why);
        fs->open_count--;
        fs->open_bytes -= (int64_t)w->bytes;
        answer(w, &a);
        free_wait(w);
    }
}

/* One loop turn's puts: the decided ones answered, the rest committed in
 * one transaction and handed to the syncer. */
static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct file_store *fs = arg;
    struct wait_list group;
    TAILQ_INIT(&group);
    struct outbox_wait *w, *next;
    for (w = TAILQ_FIRST(&fs->open); w != NULL; w = next) {
        next = TAILQ_NEXT(w, link);
        if (fs->paused && w->kind == PK_STORE) {
            continue; /* committed once the checkpoint is done */
        }
        TAILQ_REMOVE(&fs->open, w, link);
        if (w->kind == PK_ANSWER) {
            answer(w, &w->answer);
            outbox_status_clear(&w->answer.st);
            free_wait(w);
        } else {
            TAILQ_INSERT_TAIL(&group, w, link);
        }
    }
    if (TAILQ_EMPTY(&group)) {
        return;
    }
    int ok = sqlite3_exec(fs->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    TAILQ_FOREACH(w, &group, link) { ok = ok && insert(fs, w) == 0; }
    ok = ok && sqlite3_exec(fs->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        char why[200];
        snprintf(why, sizeof(why), "the outbox store cannot write: %s", db_err(fs));
        rollback_if_open(fs);
        note_failing(fs, db_err(fs));
        refuse_group(fs, &group, why);
        return;
    }
    note_ok(fs);
    fs->gen++;
    while ((w = TAILQ_FIRST(&group)) != NULL) {
        TAILQ_REMOVE(&group, w, link);
        w->gen = fs->gen;
        free(w->record); /* committed: only the answer is left to give */
        w->record = NULL;
        TAILQ_INSERT_TAIL(&fs->syncing, w, link);
    }
    syncer_request(&fs->sync, fs->gen);
}

/* After a checkpoint: the puts that waited are committed (the WAL restarts
 * with this write when the checkpoint caught up). */
static void resume_writes(struct file_store *fs) {
    if (!TAILQ_EMPTY(&fs->open)) {
        event_active(fs->flush_ev, EV_TIMEOUT, 0);
    }
}

/* The syncer finished a generation (those puts are durable), or the
 * checkpointer asks for a pause or ends one. */
static void on_synced(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct file_store *fs = arg;
    char buf[64];
    (void)!read(fd, buf, sizeof(buf));
    pthread_mutex_lock(&fs->sync.mu);
    uint64_t done = fs->sync.done;
    int e = fs->sync.sync_errno;
    int phase = fs->sync.ckpt_phase;
    if (phase == CK_WANTED) {
        fs->sync.ckpt_phase = CK_PAUSED; /* every write of the loop is done */
        pthread_cond_broadcast(&fs->sync.cv);
    } else if (phase == CK_DONE) {
        fs->sync.ckpt_phase = CK_IDLE;
    }
    pthread_mutex_unlock(&fs->sync.mu);
    if (phase == CK_WANTED) {
        fs->paused = 1;
        fs->paused_at_us = clock_monotonic_us();
    } else if (phase == CK_DONE && fs->paused) {
        fs->paused = 0;
        if (log_enabled(LOG_DEBUG)) {
            char ms[32];
            snprintf(ms, sizeof(ms), "%.1f",
                     (double)(clock_monotonic_us() - fs->paused_at_us) / 1000.0);
            log_event(LOG_DEBUG, "outbox store: checkpoint", "writes_held_ms", ms, NULL);
        }
        resume_writes(fs);
    }
    struct outbox_wait *w;
    int any = 0;
    while ((w = TAILQ_FIRST(&fs->syncing)) != NULL && w->gen <= done) {
        TAILQ_REMOVE(&fs->syncing, w, link);
        struct outbox_put_answer a;
        memset(&a, 0, sizeof(a));
        if (e != 0) {
            /* Committed but not known to be on disk: not promised. It may
             * still be delivered (it is in the database). */
            a.result = OUTBOX_PUT_UNAVAILABLE;
            snprintf(a.why, sizeof(a.why), "the outbox store cannot sync: %s", strerror(e));
            note_failing(fs, strerror(e));
        } else {
            a.result = OUTBOX_PUT_STORED;
            memcpy(a.id, w->id, sizeof(a.id));
            fs->counts[OUTBOX_QUEUED]++;
        }
        if (w->seq > fs->durable_seq) {
            fs->durable_seq = w->seq;
        }
        any = 1;
        answer(w, &a);
        free_wait(w);
    }
    if (any && fs->base.wake != NULL) {
        fs->base.wake(fs->base.wake_arg);
    }
}

static void fs_cancel(struct outbox_store *s, struct outbox_wait *w) {
    (void)s;
    if (w != NULL) {
        w->cb = NULL; /* still stored (or refused) as it would have been */
    }
}

/* ------------------------------------------------------------------ reads */

static void fs_get(struct outbox_store *s, const char *id, outbox_get_fn cb, void *arg,
                   struct outbox_wait **w) {
    struct file_store *fs = fs_of(s);
    *w = NULL;
    sqlite3_stmt *st = fs->by_id;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, fs->durable_seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        struct outbox_status stat;
        struct sp_err err;
        sp_err_clear(&err);
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (outbox_status_decode(text, (size_t)sqlite3_column_bytes(st, 0), &stat, &err) < 0) {
            sqlite3_reset(st);
            cb(arg, -1, NULL, err.msg);
        } else {
            sqlite3_reset(st);
            cb(arg, 1, &stat, NULL);
            outbox_status_clear(&stat);
        }
    } else {
        char why[200];
        snprintf(why, sizeof(why), "%s", rc == SQLITE_DONE ? "" : db_err(fs));
        sqlite3_reset(st);
        cb(arg, rc == SQLITE_DONE ? 0 : -1, NULL, why);
    }
    sqlite3_clear_bindings(st);
}

static void redo_writes(struct file_store *fs);

static void fs_take(struct outbox_store *s, size_t n, int64_t now_ms, outbox_take_fn cb,
                    void *arg) {
    struct file_store *fs = fs_of(s);
    struct outbox_msg_list list;
    TAILQ_INIT(&list);
    /* While a state change waits to be written (a full disk), the rows do
     * not say what is under way: a message whose "sending" was not written
     * still reads as queued and would be taken, and sent, again. Nothing is
     * taken until the writes go through (fs_tick tries them each second). */
    redo_writes(fs);
    if (!TAILQ_EMPTY(&fs->redo)) {
        cb(arg, &list);
        return;
    }
    sqlite3_stmt *st = fs->take;
    sqlite3_bind_int64(st, 1, fs->durable_seq);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)n);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct sp_err err;
        sp_err_clear(&err);
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        struct outbox_msg *m = outbox_msg_load(
            id, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
            (const char *)sqlite3_column_text(st, 3), (size_t)sqlite3_column_bytes(st, 3), &err);
        if (m == NULL) {
            /* Logged each time it comes up: an operator must look at it. */
            log_event(LOG_ERROR, "outbox store: a stored message cannot be read; skipped",
                      "outbox_id", id != NULL ? id : "", "error", err.msg, NULL);
            continue;
        }
        m->seq = seq;
        TAILQ_INSERT_TAIL(&list, m, link);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    cb(arg, &list);
}

/* ---------------------------------------------------------- state changes */

static void add_redo(struct file_store *fs, const struct outbox_msg *m, int purge,
                     int64_t expire_ms, char *status) {
    struct redo *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        free(status);
        return;
    }
    r->seq = m->seq;
    r->state = (int)m->st.state;
    r->next_ms = m->st.next_ms;
    r->expire_ms = expire_ms;
    r->purge = purge;
    r->status = status;
    TAILQ_INSERT_TAIL(&fs->redo, r, link);
}

/* UPDATE one row; 0 or -1. status is borrowed. */
static int write_state(struct file_store *fs, int64_t seq, int state, int64_t next_ms,
                       int64_t expire_ms, int purge, const char *status) {
    sqlite3_stmt *st = purge ? fs->finish : fs->save;
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, purge ? expire_ms : next_ms);
    sqlite3_bind_int64(st, 4, seq);
    int rc = step_done(st);
    if (rc < 0) {
        note_failing(fs, db_err(fs));
    }
    return rc;
}

static void count_move(struct file_store *fs, enum outbox_state from, enum outbox_state to) {
    fs->counts[from]--;
    fs->counts[to]++;
}

/* Writes m's state (and counts it); a failed write is kept and tried
 * again, in order. */
static void store_state(struct file_store *fs, struct outbox_msg *m, int purge, int64_t expire_ms) {
    count_move(fs, m->stored, m->st.state);
    m->stored = m->st.state;
    char *status = outbox_status_encode(&m->st);
    if (status == NULL) {
        log_event(LOG_ERROR, "outbox store: out of memory; a state change is lost", "outbox_id",
                  m->id, NULL);
        return;
    }
    if (!TAILQ_EMPTY(&fs->redo) ||
        write_state(fs, m->seq, (int)m->st.state, m->st.next_ms, expire_ms, purge, status) < 0) {
        add_redo(fs, m, purge, expire_ms, status);
        return;
    }
    free(status);
}

static void redo_writes(struct file_store *fs) {
    struct redo *r;
    while ((r = TAILQ_FIRST(&fs->redo)) != NULL) {
        if (write_state(fs, r->seq, r->state, r->next_ms, r->expire_ms, r->purge, r->status) < 0) {
            return;
        }
        TAILQ_REMOVE(&fs->redo, r, link);
        free(r->status);
        free(r);
    }
}

static void fs_save(struct outbox_store *s, struct outbox_msg *m) {
    store_state(fs_of(s), m, 0, 0);
}

static void fs_release(struct outbox_store *s, struct outbox_msg *m) {
    struct file_store *fs = fs_of(s);
    store_state(fs, m, 0, 0);
}

static void fs_finish(struct outbox_store *s, struct outbox_msg *m) {
    struct file_store *fs = fs_of(s);
    store_state(fs, m, 1, m->st.updated_ms + fs->base.limits.retention_ms);
    fs->open_count--;
    fs->open_bytes -= (int64_t)m->record_len;
}

/* ------------------------------------------------------------------ quota */

static void quota_persist(struct file_store *fs, int64_t now_ms, double n) {
    sqlite3_stmt *st = fs->quota_up;
    sqlite3_bind_int64(st, 1, now_ms / 60000);
    sqlite3_bind_double(st, 2, n);
    if (step_done(st) < 0) {
        note_failing(fs, db_err(fs));
    }
}

static void fs_quota_reserve(struct outbox_store *s, double n, int64_t now_ms, outbox_quota_fn cb,
                             void *arg, struct outbox_wait **w) {
    struct file_store *fs = fs_of(s);
    *w = NULL;
    int ok = outbox_quota_reserve(&fs->quota, now_ms, n);
    if (ok) {
        quota_persist(fs, now_ms, n);
    }
    cb(arg, ok);
}

static void fs_quota_add(struct outbox_store *s, double n, int64_t now_ms) {
    struct file_store *fs = fs_of(s);
    outbox_quota_add(&fs->quota, now_ms, n);
    quota_persist(fs, now_ms, n);
}

static void fs_quota_set_ses(struct outbox_store *s, double max24, double sent24) {
    outbox_quota_set_ses(&fs_of(s)->quota, max24, sent24);
}

static void fs_quota_exceeded(struct outbox_store *s) {
    outbox_quota_set_exceeded(&fs_of(s)->quota);
}

static void fs_quota_view(struct outbox_store *s, int64_t now_ms, struct outbox_quota_view *v) {
    struct outbox_quota *q = &fs_of(s)->quota;
    v->known = q->have_ses;
    v->max = q->ses_max;
    v->used = outbox_quota_used(q, now_ms);
    v->left = outbox_quota_left(q, now_ms);
    v->own_used = outbox_quota_own(q, now_ms);
}

/* ------------------------------------------------------- stats and upkeep */

static void fs_stats(struct outbox_store *s, int64_t now_ms, struct outbox_store_stats *out) {
    struct file_store *fs = fs_of(s);
    memcpy(out->messages, fs->counts, sizeof(out->messages));
    out->oldest_age_s = 0;
    int64_t oldest = INT64_MAX;
    for (int state = OUTBOX_QUEUED; state <= OUTBOX_SENDING; state++) {
        sqlite3_bind_int(fs->oldest, 1, state);
        if (sqlite3_step(fs->oldest) == SQLITE_ROW) {
            int64_t c = sqlite3_column_int64(fs->oldest, 0);
            oldest = c < oldest ? c : oldest;
        }
        sqlite3_reset(fs->oldest);
    }
    if (oldest != INT64_MAX && now_ms > oldest) {
        out->oldest_age_s = (double)(now_ms - oldest) / 1000.0;
    }
}

static int fs_ready(struct outbox_store *s, const char **why) {
    struct file_store *fs = fs_of(s);
    if (fs->failing) {
        *why = fs->failing_why;
        return 0;
    }
    const struct outbox_limits *l = &fs->base.limits;
    if (fs->open_count >= l->max_messages || fs->open_bytes >= l->max_bytes) {
        *why = "the outbox is full (outbox.max_messages or outbox.max_bytes)";
        return 0;
    }
    return 1;
}

/* Finished messages past their retention, and old quota minutes. */
static void purge(struct file_store *fs, int64_t now_ms) {
    char sql[256];
    for (int state = OUTBOX_SENT; state <= OUTBOX_FAILED; state++) {
        snprintf(sql, sizeof(sql),
                 "DELETE FROM message WHERE seq IN (SELECT seq FROM message WHERE state = %d "
                 "AND expire_ms < %lld LIMIT %d)",
                 state, (long long)now_ms, PURGE_BATCH);
        if (sqlite3_exec(fs->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            note_failing(fs, db_err(fs));
            return;
        }
        fs->counts[state] -= sqlite3_changes(fs->db);
    }
    snprintf(sql, sizeof(sql), "DELETE FROM quota WHERE minute <= %lld",
             (long long)(now_ms / 60000 - OUTBOX_QUOTA_MINUTES));
    (void)sqlite3_exec(fs->db, sql, NULL, NULL, NULL);
}

/* Every write is done (or kept to redo) before its call returns. */
static size_t fs_pending(struct outbox_store *s) {
    (void)s;
    return 0;
}

static void fs_tick(struct outbox_store *s, int64_t now_ms) {
    struct file_store *fs = fs_of(s);
    redo_writes(fs);
    if (now_ms - fs->last_purge_ms >= PURGE_EVERY_MS) {
        fs->last_purge_ms = now_ms;
        purge(fs, now_ms);
    }
}

/* -------------------------------------------------------------- lifecycle */

static void fs_free(struct outbox_store *s) {
    struct file_store *fs = fs_of(s);
    if (fs == NULL) {
        return;
    }
    /* Puts not committed yet: nobody waits for them any more (the server
     * is gone); they are committed like any other, not promised. */
    fs->paused = 0; /* the checkpointer stops below; the last writes go in */
    if (fs->db != NULL && fs->flush_ev != NULL) {
        struct outbox_wait *w;
        TAILQ_FOREACH(w, &fs->open, link) { w->cb = NULL; }
        on_flush(-1, 0, fs);
    }
    syncer_stop(&fs->sync);
    struct wait_list *lists[] = {&fs->open, &fs->syncing};
    for (size_t i = 0; i < 2; i++) {
        struct outbox_wait *w;
        while ((w = TAILQ_FIRST(lists[i])) != NULL) {
            TAILQ_REMOVE(lists[i], w, link);
            outbox_status_clear(&w->answer.st);
            free_wait(w);
        }
    }
    if (fs->db != NULL) {
        redo_writes(fs);
    }
    struct redo *r;
    while ((r = TAILQ_FIRST(&fs->redo)) != NULL) {
        TAILQ_REMOVE(&fs->redo, r, link);
        free(r->status);
        free(r);
    }
    sqlite3_stmt *sts[] = {fs->ins,  fs->by_key, fs->by_id,    fs->take,
                           fs->save, fs->finish, fs->quota_up, fs->oldest};
    for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
        sqlite3_finalize(sts[i]);
    }
    if (fs->db != NULL) {
        sqlite3_close(fs->db); /* the last connection: checkpoints, syncs, removes the WAL */
    }
    if (fs->flush_ev != NULL) {
        event_free(fs->flush_ev);
    }
    if (fs->synced_ev != NULL) {
        event_free(fs->synced_ev);
    }
    if (fs->lock_fd >= 0) {
        close(fs->lock_fd); /* drops the lock */
    }
    free(fs->dir);
    free(fs);
}

/* Makes dir (and missing parents) with mode 0700. */
static int make_dir(const char *dir, struct sp_err *err) {
    char buf[4096];
    ENSURE(strlen(dir) < sizeof(buf), err, "ConfigError", "outbox.path is too long");
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
                return sp_fail(err, "ConfigError", "outbox.path: cannot create %s: %s", buf,
                               strerror(errno));
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    struct stat st;
    ENSURE(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), err, "ConfigError",
           "outbox.path: %s is not a directory", dir);
    return 0;
}

static int lock_dir(struct file_store *fs, struct sp_err *err) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/lock", fs->dir);
    fs->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ENSURE(fs->lock_fd >= 0, err, "ConfigError", "outbox.path: cannot open %s: %s", path,
           strerror(errno));
    if (flock(fs->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(fs->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return sp_fail(err, "ConfigError",
                       "outbox.path: %s is in use by another process (pid %s); two proxies "
                       "cannot share a file store",
                       fs->dir, pid[0] != '\0' ? pid : "?");
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fs->lock_fd, 0) < 0 || pwrite(fs->lock_fd, pid, (size_t)n, 0) != n) {
        return sp_fail(err, "ConfigError", "outbox.path: cannot write %s: %s", path,
                       strerror(errno));
    }
    return 0;
}

/* The database file exists with mode 0600 before SQLite opens it, so the
 * WAL and shm files SQLite makes beside it get the same mode. */
static int create_db_file(const char *path, struct sp_err *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ENSURE(fd >= 0, err, "ConfigError", "outbox.path: cannot create %s: %s", path, strerror(errno));
    int rc = fchmod(fd, 0600);
    close(fd);
    ENSURE(rc == 0, err, "ConfigError", "outbox.path: cannot chmod %s: %s", path, strerror(errno));
    return 0;
}

static int open_db(struct file_store *fs, const char *path, struct sp_err *err) {
    GUARD(create_db_file(path, err));
    if (sqlite3_open_v2(path, &fs->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        return sp_fail(err, "ConfigError", "outbox: cannot open %s: %s", path,
                       fs->db != NULL ? db_err(fs) : "out of memory");
    }
    /* Busy only if something else opened the file despite the lock. */
    sqlite3_busy_timeout(fs->db, 200);
    GUARD(exec(fs, "PRAGMA journal_mode=WAL", err));
    GUARD(exec(fs,
               "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; "
               "PRAGMA journal_size_limit=33554432; PRAGMA foreign_keys=OFF; "
               "PRAGMA secure_delete=ON",
               err));
    GUARD(exec(fs, schema, err));
    /* The files exist now: make their directory entries durable. */
    int dfd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int prepare_all(struct file_store *fs, struct sp_err *err) {
    GUARD(prepare(fs,
                  "INSERT INTO message(id, state, created_ms, next_ms, expire_ms, bytes, "
                  "idem_key, idem_hash, request, status) VALUES(?1, 0, ?2, 0, ?3, ?4, ?5, ?6, "
                  "?7, ?8)",
                  &fs->ins, err));
    GUARD(prepare(fs, "SELECT id, idem_hash, status FROM message WHERE idem_key = ?1", &fs->by_key,
                  err));
    GUARD(prepare(fs, "SELECT status FROM message WHERE id = ?1 AND seq <= ?2", &fs->by_id, err));
    GUARD(prepare(fs,
                  "SELECT seq, id, request, status FROM message WHERE state = 0 AND seq <= ?1 "
                  "AND next_ms <= ?2 ORDER BY seq LIMIT ?3",
                  &fs->take, err));
    GUARD(prepare(fs, "UPDATE message SET state = ?1, status = ?2, next_ms = ?3 WHERE seq = ?4",
                  &fs->save, err));
    GUARD(prepare(fs,
                  "UPDATE message SET state = ?1, status = ?2, expire_ms = ?3, request = NULL, "
                  "bytes = 0 WHERE seq = ?4",
                  &fs->finish, err));
    GUARD(prepare(fs,
                  "INSERT INTO quota(minute, n) VALUES(?1, ?2) ON CONFLICT(minute) DO UPDATE "
                  "SET n = n + excluded.n",
                  &fs->quota_up, err));
    GUARD(prepare(fs, "SELECT created_ms FROM message WHERE state = ?1 ORDER BY seq LIMIT 1",
                  &fs->oldest, err));
    return 0;
}

/* What a crash left: messages that were being sent go back to the queue
 * (they may have reached SES: at-least-once), and the counts. */
static int recover(struct file_store *fs, int64_t now_ms, struct sp_err *err) {
    sqlite3_stmt *st = NULL;
    GUARD(prepare(fs, "SELECT seq, id, status FROM message WHERE state = 1", &st, err));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct outbox_msg m;
        memset(&m, 0, sizeof(m));
        struct sp_err e;
        sp_err_clear(&e);
        m.seq = sqlite3_column_int64(st, 0);
        snprintf(m.id, sizeof(m.id), "%s", (const char *)sqlite3_column_text(st, 1));
        if (outbox_status_decode((const char *)sqlite3_column_text(st, 2),
                                 (size_t)sqlite3_column_bytes(st, 2), &m.st, &e) < 0) {
            log_event(LOG_ERROR, "outbox store: a stored status cannot be read", "outbox_id", m.id,
                      "error", e.msg, NULL);
            continue;
        }
        m.stored = OUTBOX_SENDING;
        m.st.state = OUTBOX_QUEUED;
        m.st.updated_ms = now_ms;
        log_event(LOG_WARN, "outbox: queued again (was being sent when the proxy stopped)",
                  "outbox_id", m.id, "request_id", m.st.request_id, "status", "queued", "reason",
                  "recovered", NULL);
        store_state(fs, &m, 0, 0);
        outbox_status_clear(&m.st);
    }
    sqlite3_finalize(st);
    memset(fs->counts, 0, sizeof(fs->counts)); /* store_state counted the moves above */
    GUARD(prepare(fs, "SELECT state, COUNT(*), COALESCE(SUM(bytes), 0) FROM message GROUP BY state",
                  &st, err));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < OUTBOX_N_STATES) {
            fs->counts[state] = (double)sqlite3_column_int64(st, 1);
        }
        if (state == OUTBOX_QUEUED || state == OUTBOX_SENDING) {
            fs->open_count += sqlite3_column_int64(st, 1);
            fs->open_bytes += sqlite3_column_int64(st, 2);
        }
    }
    sqlite3_finalize(st);
    GUARD(prepare(fs, "SELECT COALESCE(MAX(seq), 0) FROM message", &st, err));
    if (sqlite3_step(st) == SQLITE_ROW) {
        fs->durable_seq = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    GUARD(prepare(fs, "SELECT minute, n FROM quota WHERE minute > ?1", &st, err));
    sqlite3_bind_int64(st, 1, now_ms / 60000 - OUTBOX_QUOTA_MINUTES);
    while (sqlite3_step(st) == SQLITE_ROW) {
        outbox_quota_add(&fs->quota, sqlite3_column_int64(st, 0) * 60000,
                         sqlite3_column_double(st, 1));
    }
    sqlite3_finalize(st);
    return 0;
}

static int start_syncer(struct file_store *fs, const char *db_path, struct sp_err *err) {
    struct syncer *sy = &fs->sync;
    char wal[4300];
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    sy->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
    ENSURE(sy->wal_fd >= 0, err, "ConfigError", "outbox: cannot open %s: %s", wal, strerror(errno));
    if (sqlite3_open_v2(db_path, &sy->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(sy->ckpt, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        return sp_fail(err, "ConfigError", "outbox: cannot open %s twice", db_path);
    }
    int p[2];
    ENSURE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, err, "InternalError", "pipe: %s",
           strerror(errno));
    sy->pipe_r = p[0];
    sy->pipe_w = p[1];
    fs->synced_ev = event_new(fs->ev, sy->pipe_r, EV_READ | EV_PERSIST, on_synced, fs);
    ENSURE_REF(fs->synced_ev, err);
    event_add(fs->synced_ev, NULL);
    ENSURE(pthread_create(&sy->th, NULL, syncer_main, sy) == 0, err, "InternalError",
           "cannot start the outbox's sync thread");
    sy->started = 1;
    ENSURE(pthread_create(&sy->ckpt_th, NULL, checkpointer_main, sy) == 0, err, "InternalError",
           "cannot start the outbox's checkpoint thread");
    sy->ckpt_started = 1;
    return 0;
}

static const struct outbox_store_ops file_ops = {
    .put = fs_put,
    .get = fs_get,
    .cancel = fs_cancel,
    .take = fs_take,
    .save = fs_save,
    .release = fs_release,
    .finish = fs_finish,
    .quota_reserve = fs_quota_reserve,
    .quota_add = fs_quota_add,
    .quota_set_ses = fs_quota_set_ses,
    .quota_exceeded = fs_quota_exceeded,
    .quota_view = fs_quota_view,
    .stats = fs_stats,
    .ready = fs_ready,
    .pending = fs_pending,
    .tick = fs_tick,
    .free = fs_free,
};

struct outbox_store *outbox_store_file_open(struct event_base *base, const struct config *cfg,
                                            struct sp_err *err) {
    /* A write past RLIMIT_FSIZE must fail like a full disk (EFBIG), not
     * kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    struct file_store *fs = calloc(1, sizeof(*fs));
    if (fs == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    fs->base.ops = &file_ops;
    fs->ev = base;
    fs->lock_fd = -1;
    fs->sync.wal_fd = fs->sync.pipe_r = fs->sync.pipe_w = -1;
    pthread_mutex_init(&fs->sync.mu, NULL);
    pthread_cond_init(&fs->sync.cv, NULL);
    TAILQ_INIT(&fs->open);
    TAILQ_INIT(&fs->syncing);
    TAILQ_INIT(&fs->redo);
    outbox_quota_init(&fs->quota);
    fs->dir = strdup(cfg->outbox.path);
    char db_path[4200];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    fs->flush_ev = event_new(base, -1, 0, on_flush, fs);
    if (fs->dir == NULL || fs->flush_ev == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        goto fail;
    }
    snprintf(db_path, sizeof(db_path), "%s/outbox.db", fs->dir);
    if (make_dir(fs->dir, err) < 0 || lock_dir(fs, err) < 0 || open_db(fs, db_path, err) < 0 ||
        prepare_all(fs, err) < 0 || recover(fs, now_ms, err) < 0 ||
        start_syncer(fs, db_path, err) < 0) {
        goto fail;
    }
    log_event(LOG_INFO, "outbox: file store open", "path", fs->dir, NULL);
    return &fs->base;
fail:
    fs_free(&fs->base);
    return NULL;
}
