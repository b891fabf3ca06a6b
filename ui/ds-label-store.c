/* ds-label-store.c — an append-only SQLite log of hand classifications.
 *
 * Design.  Each labelling act is one INSERT in its own transaction, so a crash or SIGKILL of the
 * application loses nothing that was acknowledged.  The journal is WAL (readers such as
 * `diffscope-cli labels stats` never block the scanner) with synchronous=FULL: in WAL mode FULL
 * costs one fsync of the log per commit, which is negligible at human labelling rates (a few
 * acts per second) and means an acknowledged label also survives a power cut; NORMAL would
 * survive an application crash but could lose the last acts on power loss.
 *
 * Tables: schema_version(version), labels(the log, see ds-label-store.h), positions(source →
 * index).  Rows are never updated or deleted; "current label" is the latest row per candidate
 * and undo is a new row (action 'undo') carrying the label restored, so every reader can take
 * the latest row without replaying anything.  Only ds_label_store_undo() replays the stack.
 *
 * Errors are translated at the edge (store_set_error): SQLITE_NOTADB/CORRUPT become CORRUPT,
 * SQLITE_BUSY/LOCKED become LOCKED, and every message names the file and suggests a fix.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-label-store.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

struct _DsLabelStore
{
  sqlite3 *db;
  char *path;
};

G_DEFINE_QUARK (ds-label-store-error-quark, ds_label_store_error)

static const char store_schema[] =
  "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS labels ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  candidate_id TEXT NOT NULL,"
  "  template_path TEXT, science_path TEXT, difference_path TEXT,"
  "  x REAL, y REAL,"
  "  user TEXT NOT NULL,"
  "  time TEXT NOT NULL,"
  "  label TEXT,"
  "  note TEXT,"
  "  config_hash TEXT,"
  "  action TEXT NOT NULL DEFAULT 'label' CHECK (action IN ('label', 'undo')));"
  "CREATE INDEX IF NOT EXISTS labels_by_candidate ON labels (candidate_id, id);"
  "CREATE INDEX IF NOT EXISTS labels_by_identity ON labels (candidate_id, time, user);"
  "CREATE TABLE IF NOT EXISTS positions ("
  "  source TEXT PRIMARY KEY,"
  "  idx INTEGER NOT NULL,"
  "  time TEXT NOT NULL);";

/* Column list shared by SELECTs so that record_from_row() can read by index. */
#define RECORD_COLUMNS "id, candidate_id, template_path, science_path, difference_path, x, y, " \
                       "user, time, label, note, config_hash, action"

/* ---- records --------------------------------------------------------------------------- */

DsLabelRecord *
ds_label_record_new (void)
{
  DsLabelRecord *record = g_new0 (DsLabelRecord, 1);
  record->x = NAN;
  record->y = NAN;
  return record;
}

DsLabelRecord *
ds_label_record_copy (const DsLabelRecord *record)
{
  DsLabelRecord *copy = g_new0 (DsLabelRecord, 1);
  *copy = *record;
  copy->candidate_id = g_strdup (record->candidate_id);
  copy->template_path = g_strdup (record->template_path);
  copy->science_path = g_strdup (record->science_path);
  copy->difference_path = g_strdup (record->difference_path);
  copy->user = g_strdup (record->user);
  copy->time = g_strdup (record->time);
  copy->label = g_strdup (record->label);
  copy->note = g_strdup (record->note);
  copy->config_hash = g_strdup (record->config_hash);
  return copy;
}

void
ds_label_record_free (DsLabelRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->candidate_id);
  g_free (record->template_path);
  g_free (record->science_path);
  g_free (record->difference_path);
  g_free (record->user);
  g_free (record->time);
  g_free (record->label);
  g_free (record->note);
  g_free (record->config_hash);
  g_free (record);
}

static gboolean
double_same (double a, double b)
{
  return (isnan (a) && isnan (b)) || a == b;
}

gboolean
ds_label_record_equal (const DsLabelRecord *a, const DsLabelRecord *b)
{
  return g_strcmp0 (a->candidate_id, b->candidate_id) == 0
         && g_strcmp0 (a->template_path, b->template_path) == 0
         && g_strcmp0 (a->science_path, b->science_path) == 0
         && g_strcmp0 (a->difference_path, b->difference_path) == 0
         && double_same (a->x, b->x) && double_same (a->y, b->y)
         && g_strcmp0 (a->user, b->user) == 0 && g_strcmp0 (a->time, b->time) == 0
         && g_strcmp0 (a->label, b->label) == 0 && g_strcmp0 (a->note, b->note) == 0
         && g_strcmp0 (a->config_hash, b->config_hash) == 0 && !a->is_undo == !b->is_undo;
}

static void
label_count_free (gpointer data)
{
  DsLabelCount *count = data;
  g_free (count->name);
  g_free (count);
}

void
ds_label_stats_free (DsLabelStats *stats)
{
  if (stats == NULL)
    return;
  g_clear_pointer (&stats->per_label, g_ptr_array_unref);
  g_clear_pointer (&stats->per_user, g_ptr_array_unref);
  g_free (stats);
}

char *
ds_label_store_now_iso8601 (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

/* ---- errors ---------------------------------------------------------------------------- */

/* Translates an SQLite result code into the store's error domain.  what says which operation
 * failed, in the user's words ("saving the label"). */
static gboolean
store_set_error (GError **error, sqlite3 *db, int rc, const char *path, const char *what)
{
  int primary = rc & 0xff;
  const char *detail = db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc);

  switch (primary)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_LOCKED,
                   _("Label database “%s” is locked by another program (%s while %s); close the "
                     "other program or choose another file — labels cannot be saved until then"),
                   path, detail, what);
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT,
                   _("“%s” is not a usable label database (%s while %s); move it away or choose "
                     "another file — labels cannot be saved until then"),
                   path, detail, what);
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO,
                   _("Cannot write label database “%s” (%s while %s); check that the folder "
                     "exists, is writable and the disk is not full"),
                   path, detail, what);
      break;
    default:
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_FAILED,
                   _("Label database “%s” failed (%s while %s)"), path, detail, what);
      break;
    }
  return FALSE;
}

static gboolean
store_exec (DsLabelStore *store, const char *sql, const char *what, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return store_set_error (error, store->db, rc, store->path, what);
  return TRUE;
}

static sqlite3_stmt *
store_prepare (DsLabelStore *store, const char *sql, const char *what, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      store_set_error (error, store->db, rc, store->path, what);
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

/* Rolls back after a failure without touching the error already set. */
static void
store_rollback (DsLabelStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open / close ---------------------------------------------------------------------- */

/* Checks that the file is SQLite, undamaged and, if it already has tables, a label store of a
 * version we understand.  schema_name is "main" or an attached name. */
static gboolean
store_check_schema (DsLabelStore *store, const char *schema_name, const char *path,
                    gboolean *is_empty, GError **error)
{
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt;
  int rc;
  gboolean has_version = FALSE, has_labels = FALSE;
  int n_tables = 0;

  sql = g_strdup_printf ("PRAGMA %s.quick_check(1)", schema_name);
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return store_set_error (error, store->db, sqlite3_errcode (store->db), path,
                            _("checking the file"));
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), "ok") != 0)
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT,
                   _("“%s” is a damaged SQLite database (%s); restore it from a backup or "
                     "choose another file — labels cannot be saved until then"),
                   path, (const char *) sqlite3_column_text (stmt, 0));
      sqlite3_finalize (stmt);
      return FALSE;
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, path, _("checking the file"));

  g_free (sql);
  sql = g_strdup_printf ("SELECT name FROM %s.sqlite_master WHERE type = 'table'", schema_name);
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return store_set_error (error, store->db, sqlite3_errcode (store->db), path,
                            _("reading the table list"));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (stmt, 0);
      if (g_str_has_prefix (name, "sqlite_"))
        continue;
      n_tables++;
      has_version |= g_strcmp0 (name, "schema_version") == 0;
      has_labels |= g_strcmp0 (name, "labels") == 0;
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, path, _("reading the table list"));

  *is_empty = n_tables == 0;
  if (n_tables == 0)
    return TRUE;
  if (!has_version || !has_labels)
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT,
                   _("“%s” is an SQLite database but not a Diffscope label store; choose "
                     "another file name"), path);
      return FALSE;
    }

  g_free (sql);
  sql = g_strdup_printf ("SELECT max(version) FROM %s.schema_version", schema_name);
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return store_set_error (error, store->db, sqlite3_errcode (store->db), path,
                            _("reading the schema version"));
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && sqlite3_column_int64 (stmt, 0) > DS_LABEL_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_VERSION,
                   _("Label database “%s” has schema version %lld, newer than "
                     "this Diffscope understands (%d); update Diffscope"),
                   path, (long long) sqlite3_column_int64 (stmt, 0),
                   DS_LABEL_STORE_SCHEMA_VERSION);
      sqlite3_finalize (stmt);
      return FALSE;
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, path, _("reading the schema version"));
  return TRUE;
}

DsLabelStore *
ds_label_store_open (const char *path, GError **error)
{
  g_autoptr (DsLabelStore) store = NULL;
  gboolean is_empty = FALSE;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO,
                   _("“%s” is a folder, not a label database; give a file name such as "
                     "labels.db"), path);
      return NULL;
    }

  store = g_new0 (DsLabelStore, 1);
  store->path = g_strdup (path);
  rc = sqlite3_open_v2 (path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      store_set_error (error, store->db, rc, path, _("opening the file"));
      return NULL;
    }
  sqlite3_busy_timeout (store->db, DS_LABEL_STORE_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes (store->db, 0);

  if (!store_check_schema (store, "main", path, &is_empty, error))
    return NULL;
  /* journal_mode returns the resulting mode as a row; sqlite3_exec discards it. */
  if (!store_exec (store, "PRAGMA journal_mode = WAL", _("switching to WAL mode"), error)
      || !store_exec (store, "PRAGMA synchronous = FULL", _("setting durability"), error)
      || !store_exec (store, "PRAGMA foreign_keys = ON", _("configuring"), error))
    return NULL;
  if (is_empty)
    {
      g_autofree char *sql = g_strdup_printf ("BEGIN IMMEDIATE; %s INSERT INTO schema_version "
                                              "VALUES (%d); COMMIT;", store_schema,
                                              DS_LABEL_STORE_SCHEMA_VERSION);
      if (!store_exec (store, sql, _("creating the tables"), error))
        {
          store_rollback (store);
          return NULL;
        }
    }
  return g_steal_pointer (&store);
}

void
ds_label_store_close (DsLabelStore *store)
{
  if (store == NULL)
    return;
  /* sqlite3_close_v2 defers the close until any forgotten statement is finalized. */
  sqlite3_close_v2 (store->db);
  g_free (store->path);
  g_free (store);
}

const char *
ds_label_store_get_path (DsLabelStore *store)
{
  return store->path;
}

/* ---- writing --------------------------------------------------------------------------- */

static void
bind_text_or_null (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

static void
bind_double_or_null (sqlite3_stmt *stmt, int index, double value)
{
  if (isfinite (value))
    sqlite3_bind_double (stmt, index, value);
  else
    sqlite3_bind_null (stmt, index);
}

/* Inserts one row in its own implicit transaction (autocommit), so it is durable on return. */
static gint64
store_insert (DsLabelStore *store, const DsLabelRecord *record, gboolean is_undo,
              GError **error)
{
  g_autofree char *now = NULL;
  sqlite3_stmt *stmt;
  int rc;

  if (record->candidate_id == NULL || record->candidate_id[0] == '\0')
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_INVALID,
                   _("Cannot save a label without a candidate id"));
      return 0;
    }
  if (record->label != NULL && !g_utf8_validate (record->label, -1, NULL))
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_INVALID,
                   _("The label of candidate %s is not valid UTF-8"), record->candidate_id);
      return 0;
    }
  stmt = store_prepare (store,
                        "INSERT INTO labels (candidate_id, template_path, science_path, "
                        "difference_path, x, y, user, time, label, note, config_hash, action) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        _("saving the label"), error);
  if (stmt == NULL)
    return 0;
  if (record->time == NULL)
    now = ds_label_store_now_iso8601 ();
  bind_text_or_null (stmt, 1, record->candidate_id);
  bind_text_or_null (stmt, 2, record->template_path);
  bind_text_or_null (stmt, 3, record->science_path);
  bind_text_or_null (stmt, 4, record->difference_path);
  bind_double_or_null (stmt, 5, record->x);
  bind_double_or_null (stmt, 6, record->y);
  bind_text_or_null (stmt, 7, record->user != NULL ? record->user : g_get_user_name ());
  bind_text_or_null (stmt, 8, record->time != NULL ? record->time : now);
  bind_text_or_null (stmt, 9, record->label);
  bind_text_or_null (stmt, 10, record->note);
  bind_text_or_null (stmt, 11, record->config_hash);
  bind_text_or_null (stmt, 12, is_undo ? "undo" : "label");
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      store_set_error (error, store->db, rc, store->path, _("saving the label"));
      return 0;
    }
  return sqlite3_last_insert_rowid (store->db);
}

gint64
ds_label_store_add (DsLabelStore *store, const DsLabelRecord *record, GError **error)
{
  g_return_val_if_fail (store != NULL && record != NULL, 0);
  return store_insert (store, record, FALSE, error);
}

static char *
column_dup_text (sqlite3_stmt *stmt, int column)
{
  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NULL;
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static double
column_double_or_nan (sqlite3_stmt *stmt, int column)
{
  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NAN;
  return sqlite3_column_double (stmt, column);
}

static DsLabelRecord *
record_from_row (sqlite3_stmt *stmt)
{
  DsLabelRecord *record = ds_label_record_new ();
  record->id = sqlite3_column_int64 (stmt, 0);
  record->candidate_id = column_dup_text (stmt, 1);
  record->template_path = column_dup_text (stmt, 2);
  record->science_path = column_dup_text (stmt, 3);
  record->difference_path = column_dup_text (stmt, 4);
  record->x = column_double_or_nan (stmt, 5);
  record->y = column_double_or_nan (stmt, 6);
  record->user = column_dup_text (stmt, 7);
  record->time = column_dup_text (stmt, 8);
  record->label = column_dup_text (stmt, 9);
  record->note = column_dup_text (stmt, 10);
  record->config_hash = column_dup_text (stmt, 11);
  record->is_undo = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 12), "undo") == 0;
  return record;
}

GPtrArray *
ds_label_store_history (DsLabelStore *store, const char *candidate_id, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
    (GDestroyNotify) ds_label_record_free);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);
  stmt = store_prepare (store,
                        candidate_id != NULL
                          ? "SELECT " RECORD_COLUMNS " FROM labels WHERE candidate_id = ?1 "
                            "ORDER BY id"
                          : "SELECT " RECORD_COLUMNS " FROM labels ORDER BY id",
                        _("reading the label history"), error);
  if (stmt == NULL)
    return NULL;
  if (candidate_id != NULL)
    sqlite3_bind_text (stmt, 1, candidate_id, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (rows, record_from_row (stmt));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      store_set_error (error, store->db, rc, store->path, _("reading the label history"));
      return NULL;
    }
  return g_steal_pointer (&rows);
}

gint64
ds_label_store_undo (DsLabelStore *store, const char *candidate_id, const char *user,
                     char **restored_label, GError **error)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) stack = NULL;
  g_autoptr (DsLabelRecord) undo = NULL;
  DsLabelRecord *undone;
  gint64 id;

  g_return_val_if_fail (store != NULL && candidate_id != NULL, 0);
  rows = ds_label_store_history (store, candidate_id, error);
  if (rows == NULL)
    return 0;
  /* Replay: label rows push, undo rows pop; the top is the act to undo. */
  stack = g_ptr_array_new ();
  for (guint i = 0; i < rows->len; i++)
    {
      DsLabelRecord *row = g_ptr_array_index (rows, i);
      if (!row->is_undo)
        g_ptr_array_add (stack, row);
      else if (stack->len > 0)
        g_ptr_array_set_size (stack, stack->len - 1);
    }
  if (stack->len == 0)
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_INVALID,
                   _("Nothing to undo for candidate %s"), candidate_id);
      return 0;
    }
  undone = g_ptr_array_index (stack, stack->len - 1);
  undo = ds_label_record_copy (undone);
  g_clear_pointer (&undo->label, g_free);
  g_clear_pointer (&undo->time, g_free);
  g_clear_pointer (&undo->user, g_free);
  g_clear_pointer (&undo->note, g_free);
  if (stack->len >= 2)
    undo->label = g_strdup (((DsLabelRecord *) g_ptr_array_index (stack, stack->len - 2))->label);
  undo->user = g_strdup (user);
  undo->note = g_strdup_printf ("undo of #%" G_GINT64_FORMAT, undone->id);
  id = store_insert (store, undo, TRUE, error);
  if (id > 0 && restored_label != NULL)
    *restored_label = g_strdup (undo->label);
  return id;
}

gboolean
ds_label_store_current_label (DsLabelStore *store, const char *candidate_id, char **label,
                              GError **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (store != NULL && candidate_id != NULL && label != NULL, FALSE);
  *label = NULL;
  stmt = store_prepare (store, "SELECT label FROM labels WHERE candidate_id = ?1 "
                               "ORDER BY id DESC LIMIT 1", _("reading a label"), error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, candidate_id, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *label = column_dup_text (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, store->path, _("reading a label"));
  return rc == SQLITE_ROW;
}

GHashTable *
ds_label_store_dup_current_labels (DsLabelStore *store, GError **error)
{
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sqlite3_stmt *stmt;
  int rc;

  /* The latest row per candidate: max(id) picks the row whose label SQLite returns with it. */
  stmt = store_prepare (store, "SELECT candidate_id, label, max(id) FROM labels "
                               "GROUP BY candidate_id", _("reading the labels"), error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_hash_table_insert (table, column_dup_text (stmt, 0), column_dup_text (stmt, 1));
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      store_set_error (error, store->db, rc, store->path, _("reading the labels"));
      return NULL;
    }
  return g_steal_pointer (&table);
}

static GPtrArray *
store_count_query (DsLabelStore *store, const char *sql, GError **error)
{
  g_autoptr (GPtrArray) counts = g_ptr_array_new_with_free_func (label_count_free);
  sqlite3_stmt *stmt = store_prepare (store, sql, _("counting labels"), error);
  int rc;
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      DsLabelCount *count = g_new0 (DsLabelCount, 1);
      count->name = column_dup_text (stmt, 0);
      count->count = sqlite3_column_int64 (stmt, 1);
      g_ptr_array_add (counts, count);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    {
      store_set_error (error, store->db, rc, store->path, _("counting labels"));
      return NULL;
    }
  return g_steal_pointer (&counts);
}

DsLabelStats *
ds_label_store_dup_stats (DsLabelStore *store, GError **error)
{
  g_autoptr (DsLabelStats) stats = g_new0 (DsLabelStats, 1);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);
  stmt = store_prepare (store,
                        "SELECT (SELECT count(*) FROM labels), "
                        "(SELECT count(DISTINCT candidate_id) FROM labels), "
                        "(SELECT count(*) FROM labels l WHERE l.label IS NOT NULL AND l.id = "
                        "  (SELECT max(id) FROM labels m WHERE m.candidate_id = l.candidate_id))",
                        _("counting labels"), error);
  if (stmt == NULL)
    return NULL;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      stats->n_acts = sqlite3_column_int64 (stmt, 0);
      stats->n_candidates = sqlite3_column_int64 (stmt, 1);
      stats->n_labelled = sqlite3_column_int64 (stmt, 2);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    {
      store_set_error (error, store->db, rc, store->path, _("counting labels"));
      return NULL;
    }
  stats->per_label = store_count_query (store,
                                        "SELECT label, count(*) AS n FROM labels l WHERE l.id = "
                                        "(SELECT max(id) FROM labels m WHERE m.candidate_id = "
                                        "l.candidate_id) GROUP BY label ORDER BY n DESC, label",
                                        error);
  if (stats->per_label == NULL)
    return NULL;
  stats->per_user = store_count_query (store, "SELECT user, count(*) AS n FROM labels "
                                              "GROUP BY user ORDER BY n DESC, user", error);
  if (stats->per_user == NULL)
    return NULL;
  return g_steal_pointer (&stats);
}

/* ---- export ---------------------------------------------------------------------------- */

static const char *const export_columns[] = {
  "id", "candidate_id", "template", "science", "difference", "x", "y", "user", "time", "label",
  "note", "config_hash", "action",
};

static void
csv_append_string (GString *out, const char *value)
{
  if (value == NULL)
    return;
  if (value[0] != '\0' && strpbrk (value, ",\"\r\n") == NULL)
    {
      g_string_append (out, value);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static void
csv_append_double (GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  if (isfinite (value))
    g_string_append (out, g_ascii_dtostr (buffer, sizeof buffer, value));
}

static void
json_append_string (GString *out, const char *key, const char *value)
{
  g_string_append_printf (out, "\"%s\":", key);
  if (value == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) value; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

static void
json_append_double (GString *out, const char *key, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_printf (out, "\"%s\":%s", key,
                          isfinite (value) ? g_ascii_dtostr (buffer, sizeof buffer, value)
                                           : "null");
}

typedef enum
{
  EXPORT_CSV,
  EXPORT_JSONL,
} ExportFormat;

static gboolean
store_export (DsLabelStore *store, const char *path, ExportFormat format, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) local_error = NULL;

  rows = ds_label_store_history (store, NULL, error);
  if (rows == NULL)
    return FALSE;
  if (format == EXPORT_CSV)
    {
      for (guint c = 0; c < G_N_ELEMENTS (export_columns); c++)
        g_string_append_printf (out, "%s%s", c ? "," : "", export_columns[c]);
      g_string_append (out, "\r\n");
    }
  for (guint i = 0; i < rows->len; i++)
    {
      const DsLabelRecord *r = g_ptr_array_index (rows, i);
      const char *action = r->is_undo ? "undo" : "label";
      if (format == EXPORT_CSV)
        {
          g_string_append_printf (out, "%" G_GINT64_FORMAT ",", r->id);
          csv_append_string (out, r->candidate_id), g_string_append_c (out, ',');
          csv_append_string (out, r->template_path), g_string_append_c (out, ',');
          csv_append_string (out, r->science_path), g_string_append_c (out, ',');
          csv_append_string (out, r->difference_path), g_string_append_c (out, ',');
          csv_append_double (out, r->x), g_string_append_c (out, ',');
          csv_append_double (out, r->y), g_string_append_c (out, ',');
          csv_append_string (out, r->user), g_string_append_c (out, ',');
          csv_append_string (out, r->time), g_string_append_c (out, ',');
          csv_append_string (out, r->label), g_string_append_c (out, ',');
          csv_append_string (out, r->note), g_string_append_c (out, ',');
          csv_append_string (out, r->config_hash), g_string_append_c (out, ',');
          csv_append_string (out, action);
          g_string_append (out, "\r\n");
        }
      else
        {
          g_string_append_printf (out, "{\"id\":%" G_GINT64_FORMAT ",", r->id);
          json_append_string (out, "candidate_id", r->candidate_id), g_string_append_c (out, ',');
          json_append_string (out, "template", r->template_path), g_string_append_c (out, ',');
          json_append_string (out, "science", r->science_path), g_string_append_c (out, ',');
          json_append_string (out, "difference", r->difference_path);
          g_string_append_c (out, ',');
          json_append_double (out, "x", r->x), g_string_append_c (out, ',');
          json_append_double (out, "y", r->y), g_string_append_c (out, ',');
          json_append_string (out, "user", r->user), g_string_append_c (out, ',');
          json_append_string (out, "time", r->time), g_string_append_c (out, ',');
          json_append_string (out, "label", r->label), g_string_append_c (out, ',');
          json_append_string (out, "note", r->note), g_string_append_c (out, ',');
          json_append_string (out, "config_hash", r->config_hash), g_string_append_c (out, ',');
          json_append_string (out, "action", action);
          g_string_append (out, "}\n");
        }
    }
  if (!g_file_set_contents (path, out->str, (gssize) out->len, &local_error))
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO,
                   _("Cannot write the label export (%s); check the output folder"),
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
ds_label_store_export_csv (DsLabelStore *store, const char *path, GError **error)
{
  return store_export (store, path, EXPORT_CSV, error);
}

gboolean
ds_label_store_export_jsonl (DsLabelStore *store, const char *path, GError **error)
{
  return store_export (store, path, EXPORT_JSONL, error);
}

/* ---- import ---------------------------------------------------------------------------- */

gboolean
ds_label_store_import (DsLabelStore *store, const char *other_path, gint64 *n_added,
                       gint64 *n_skipped, GError **error)
{
  g_autofree char *uri = NULL;
  g_autofree char *escaped = NULL;
  sqlite3_stmt *stmt;
  gboolean is_empty = FALSE;
  gint64 n_other = 0, added = 0;
  int rc;

  g_return_val_if_fail (store != NULL && other_path != NULL, FALSE);
  if (!g_file_test (other_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO,
                   _("Cannot import labels from “%s”: no such file"), other_path);
      return FALSE;
    }
  /* Read-only URI so a damaged or foreign file is never modified by the merge. */
  escaped = g_uri_escape_string (other_path, "/", FALSE);
  uri = g_strdup_printf ("file:%s?mode=ro", escaped);
  stmt = store_prepare (store, "ATTACH DATABASE ?1 AS other", _("opening the other store"),
                        error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, uri, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, other_path, _("opening it for import"));

  if (!store_check_schema (store, "other", other_path, &is_empty, error))
    goto detach;
  if (is_empty)
    {
      if (n_added)
        *n_added = 0;
      if (n_skipped)
        *n_skipped = 0;
      sqlite3_exec (store->db, "DETACH DATABASE other", NULL, NULL, NULL);
      return TRUE;
    }
  if (!store_exec (store, "BEGIN IMMEDIATE", _("importing labels"), error))
    goto detach;
  stmt = store_prepare (store, "SELECT count(*) FROM other.labels", _("importing labels"),
                        error);
  if (stmt == NULL)
    goto rollback;
  rc = sqlite3_step (stmt);
  n_other = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    {
      store_set_error (error, store->db, rc, other_path, _("importing labels"));
      goto rollback;
    }
  /* The identity of an act is (candidate_id, time, user, label); IS compares NULL labels. */
  if (!store_exec (store,
                   "INSERT INTO main.labels (candidate_id, template_path, science_path, "
                   "difference_path, x, y, user, time, label, note, config_hash, action) "
                   "SELECT o.candidate_id, o.template_path, o.science_path, o.difference_path, "
                   "o.x, o.y, o.user, o.time, o.label, o.note, o.config_hash, o.action "
                   "FROM other.labels o WHERE NOT EXISTS (SELECT 1 FROM main.labels m "
                   "WHERE m.candidate_id = o.candidate_id AND m.time = o.time "
                   "AND m.user = o.user AND m.label IS o.label) ORDER BY o.id",
                   _("importing labels"), error))
    goto rollback;
  added = sqlite3_changes64 (store->db);
  if (!store_exec (store, "COMMIT", _("importing labels"), error))
    goto rollback;
  sqlite3_exec (store->db, "DETACH DATABASE other", NULL, NULL, NULL);
  if (n_added)
    *n_added = added;
  if (n_skipped)
    *n_skipped = n_other - added;
  return TRUE;

rollback:
  store_rollback (store);
detach:
  sqlite3_exec (store->db, "DETACH DATABASE other", NULL, NULL, NULL);
  return FALSE;
}

/* ---- queue positions ------------------------------------------------------------------- */

gboolean
ds_label_store_get_position (DsLabelStore *store, const char *source, gint64 *index,
                             GError **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (store != NULL && source != NULL && index != NULL, FALSE);
  stmt = store_prepare (store, "SELECT idx FROM positions WHERE source = ?1",
                        _("reading the queue position"), error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, source, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *index = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, store->path, _("reading the queue position"));
  return rc == SQLITE_ROW;
}

gboolean
ds_label_store_set_position (DsLabelStore *store, const char *source, gint64 index,
                             GError **error)
{
  g_autofree char *now = ds_label_store_now_iso8601 ();
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (store != NULL && source != NULL, FALSE);
  stmt = store_prepare (store, "INSERT INTO positions (source, idx, time) VALUES (?1, ?2, ?3) "
                               "ON CONFLICT (source) DO UPDATE SET idx = excluded.idx, "
                               "time = excluded.time",
                        _("saving the queue position"), error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, index);
  sqlite3_bind_text (stmt, 3, now, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return store_set_error (error, store->db, rc, store->path, _("saving the queue position"));
  return TRUE;
}
