/* ds-label-store.h — the durable store of hand classifications (labels) of candidates.
 *
 * A label store is one SQLite file (WAL journal, synchronous=FULL).  It is an append-only log:
 * every labelling act is one row, committed before ds_label_store_add() returns, and no row is
 * ever deleted or changed.  Relabelling appends a row; the CURRENT label of a candidate is the
 * label of its latest row (highest id).  Undo appends a row with action "undo" whose label is
 * the label the candidate had before the act being undone (NULL when it had none, meaning
 * "unlabelled").  A NULL label therefore always means "unlabelled".
 *
 * Only GLib and SQLite are used, so the headless diffscope-cli links this file.  A store is not
 * thread-safe: use it from one thread (the UI thread, or the CLI's main thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DS_LABEL_STORE_ERROR (ds_label_store_error_quark ())
GQuark ds_label_store_error_quark (void);

typedef enum
{
  DS_LABEL_STORE_ERROR_FAILED,   /* any other SQLite failure                              */
  DS_LABEL_STORE_ERROR_IO,       /* cannot open or create the file                        */
  DS_LABEL_STORE_ERROR_CORRUPT,  /* not an SQLite file, damaged, or not a label store      */
  DS_LABEL_STORE_ERROR_LOCKED,   /* another program holds the write lock (after ~2 s)      */
  DS_LABEL_STORE_ERROR_VERSION,  /* written by a newer Diffscope (schema version too high) */
  DS_LABEL_STORE_ERROR_INVALID,  /* bad argument (empty candidate id, nothing to undo…)   */
} DsLabelStoreError;

/* The schema version this code writes; stored in the schema_version table. */
#define DS_LABEL_STORE_SCHEMA_VERSION 1

/* How long a write waits for another connection's lock before failing with LOCKED (ms). */
#define DS_LABEL_STORE_BUSY_TIMEOUT_MS 2000

typedef struct _DsLabelStore DsLabelStore;

/* One row of the log.  Strings are owned by the record (freed by ds_label_record_free).
 * x, y are 0-based pixel coordinates in the science image (NAN when unknown). */
typedef struct
{
  gint64 id;                /* row id in its store (0 for a record not yet stored)          */
  char *candidate_id;       /* stable id, e.g. "ztf_1127561440015015001" or "file:x:y"      */
  char *template_path;      /* may be NULL                                                   */
  char *science_path;       /* may be NULL                                                   */
  char *difference_path;    /* may be NULL                                                   */
  double x, y;
  char *user;               /* login name                                                    */
  char *time;               /* ISO 8601 UTC with milliseconds: 2026-11-21T23:45:01.123Z       */
  char *label;              /* NULL = unlabelled (an undo back to nothing)                   */
  char *note;               /* may be NULL                                                   */
  char *config_hash;        /* subtraction configuration hash; NULL for cutout folders      */
  gboolean is_undo;         /* TRUE for rows written by ds_label_store_undo()                */
} DsLabelRecord;

DsLabelRecord *ds_label_record_new (void);          /* all NULL, x = y = NAN          */
DsLabelRecord *ds_label_record_copy (const DsLabelRecord *record);
void ds_label_record_free (DsLabelRecord *record);
/* TRUE when every field but id is equal (NULL ≠ ""; x/y equal or both NAN). */
gboolean ds_label_record_equal (const DsLabelRecord *a, const DsLabelRecord *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsLabelRecord, ds_label_record_free)

/* A name with a count, for ds_label_store_dup_stats(). */
typedef struct
{
  char *name;               /* label or user; NULL label = unlabelled                        */
  gint64 count;
} DsLabelCount;

typedef struct
{
  gint64 n_acts;            /* rows, undo rows included                                      */
  gint64 n_candidates;      /* distinct candidates with any row                              */
  gint64 n_labelled;        /* candidates whose current label is not NULL                    */
  GPtrArray *per_label;     /* DsLabelCount: current label → candidates, most frequent first */
  GPtrArray *per_user;      /* DsLabelCount: user → acts, most active first                  */
} DsLabelStats;

void ds_label_stats_free (DsLabelStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsLabelStats, ds_label_stats_free)

/* Opens (creating if needed) the store at path and checks it: a file that is not SQLite, is
 * damaged, or is an SQLite file of something else gives DS_LABEL_STORE_ERROR_CORRUPT; a schema
 * newer than this code gives _VERSION; a lock held by another writer for longer than the busy
 * timeout gives _LOCKED.  Every message names the file and says what to do.  Returns a new
 * store (free with ds_label_store_close) or NULL. */
DsLabelStore *ds_label_store_open (const char *path, GError **error);

/* Closes the database and frees the store.  NULL is ignored. */
void ds_label_store_close (DsLabelStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsLabelStore, ds_label_store_close)

/* The path given to ds_label_store_open (borrowed). */
const char *ds_label_store_get_path (DsLabelStore *store);

/* Appends one act and commits it.  record->candidate_id must be non-empty; record->user and
 * record->time are filled with g_get_user_name() and the current UTC time when NULL; id and
 * is_undo are ignored (add never writes undo rows).  Returns the new row id (> 0), or 0 with
 * error set (LOCKED when another program holds the database). */
gint64 ds_label_store_add (DsLabelStore *store, const DsLabelRecord *record, GError **error);

/* Undoes the latest act on candidate_id that is not itself undone: appends an undo row whose
 * label is the label the candidate had before that act (NULL when none).  Acts and undos
 * replay as a stack in id order: a label row pushes, an undo row pops.  user NULL means
 * g_get_user_name().  Returns the new row id, or 0 with error (INVALID when there is nothing
 * to undo).  If restored_label is not NULL it receives the new current label (caller frees). */
gint64 ds_label_store_undo (DsLabelStore *store, const char *candidate_id, const char *user,
                            char **restored_label, GError **error);

/* The current label of candidate_id: TRUE and *label (caller frees; NULL = unlabelled) when
 * the candidate has rows, FALSE without error when it has none, FALSE with error on failure. */
gboolean ds_label_store_current_label (DsLabelStore *store, const char *candidate_id,
                                       char **label, GError **error);

/* Current labels of every candidate: candidate_id → label (both owned by the table; a value
 * of NULL = unlabelled).  NULL on error. */
GHashTable *ds_label_store_dup_current_labels (DsLabelStore *store, GError **error);

/* All rows of candidate_id (or of every candidate when candidate_id is NULL) in id order, as
 * DsLabelRecord (the array frees them).  NULL on error. */
GPtrArray *ds_label_store_history (DsLabelStore *store, const char *candidate_id,
                                   GError **error);

/* Counts per current label and per user, acts and candidates.  NULL on error. */
DsLabelStats *ds_label_store_dup_stats (DsLabelStore *store, GError **error);

/* Writes every row, in id order, to path (overwritten).  CSV: RFC 4180, a header line, CRLF
 * line ends, fields quoted when they contain a comma, quote, CR or LF; a NULL string is an
 * EMPTY UNQUOTED field and an empty string is "" (quoted), so NULL survives a round trip;
 * x/y NAN is an empty field.  Columns: id, candidate_id, template, science, difference, x, y,
 * user, time, label, note, config_hash, action ("label" or "undo").
 * JSONL: one JSON object per row with the same keys (null for NULL, strings UTF-8). */
gboolean ds_label_store_export_csv (DsLabelStore *store, const char *path, GError **error);
gboolean ds_label_store_export_jsonl (DsLabelStore *store, const char *path, GError **error);

/* Merges the rows of another store file into this one in one transaction, in the other's id
 * order, skipping rows whose (candidate_id, time, user, label) already exist here.  n_added
 * and n_skipped (may be NULL) receive the counts.  The other file is opened read-only and
 * checked like ds_label_store_open does. */
gboolean ds_label_store_import (DsLabelStore *store, const char *other_path, gint64 *n_added,
                                gint64 *n_skipped, GError **error);

/* Queue position of a source (folder, list or catalogue path as given): TRUE and *index when
 * one was saved, FALSE without error when none, FALSE with error on failure. */
gboolean ds_label_store_get_position (DsLabelStore *store, const char *source, gint64 *index,
                                      GError **error);
gboolean ds_label_store_set_position (DsLabelStore *store, const char *source, gint64 index,
                                      GError **error);

/* The current time as ISO 8601 UTC with milliseconds (caller frees). */
char *ds_label_store_now_iso8601 (void);

G_END_DECLS
