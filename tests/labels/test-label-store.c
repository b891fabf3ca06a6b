/* test-label-store.c — the hand-classification store: history, undo, positions, exports,
 * merging, and its behaviour on corrupt and locked files.  No display needed.
 *
 * The CSV and JSONL round trips parse the exported text with small independent readers written
 * here (RFC 4180 and a strict JSON object reader), so an export bug cannot hide behind a matching
 * import bug in the store.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-label-store.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

static char *
tmp_db (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

/* Removes the db and its -wal/-shm side files, then the folder. */
static void
cleanup_dir (const char *dir)
{
  test_tmpdir_remove (dir);
}

static gint64
add_label (DsLabelStore *store, const char *candidate, const char *label, const char *user,
           const char *note)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelRecord) r = ds_label_record_new ();
  gint64 id;
  r->candidate_id = g_strdup (candidate);
  r->label = g_strdup (label);
  r->user = g_strdup (user);
  r->note = g_strdup (note);
  r->science_path = g_strdup ("/data/sci.fits");
  r->template_path = g_strdup ("/data/ref.fits");
  r->difference_path = g_strdup ("/data/diff.fits");
  r->x = 31.0;
  r->y = 30.5;
  id = ds_label_store_add (store, r, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static char *
current (DsLabelStore *store, const char *candidate, gboolean *found)
{
  g_autoptr (GError) error = NULL;
  char *label = NULL;
  *found = ds_label_store_current_label (store, candidate, &label, &error);
  g_assert_no_error (error);
  return label;
}

static void
test_history_and_undo (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = tmp_db (dir, "labels.db");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autofree char *label = NULL;
  g_autofree char *restored = NULL;
  gboolean found;
  DsLabelStore *store;

  store = ds_label_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);

  /* Unknown candidate: no rows, no error. */
  label = current (store, "ztf_1", &found);
  g_assert_false (found);
  g_assert_null (label);

  add_label (store, "ztf_1", "transient", "alice", NULL);
  add_label (store, "ztf_1", "cosmic ray", "alice", "looked again");
  add_label (store, "ztf_1", "variable", "bob", NULL);
  add_label (store, "ztf_2", "dipole or misalignment", "alice", NULL);

  history = ds_label_store_history (store, "ztf_1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 3);
  g_assert_cmpstr (((DsLabelRecord *) history->pdata[0])->label, ==, "transient");
  g_assert_cmpstr (((DsLabelRecord *) history->pdata[1])->note, ==, "looked again");
  g_assert_cmpstr (((DsLabelRecord *) history->pdata[2])->user, ==, "bob");
  g_assert_cmpfloat (((DsLabelRecord *) history->pdata[0])->y, ==, 30.5);
  /* ISO 8601 UTC with milliseconds: 2026-11-21T23:45:01.123Z */
  g_assert_true (g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                       "\\.[0-9]{3}Z$",
                                       ((DsLabelRecord *) history->pdata[0])->time, 0, 0));
  g_clear_pointer (&history, g_ptr_array_unref);

  g_clear_pointer (&label, g_free);
  label = current (store, "ztf_1", &found);
  g_assert_true (found);
  g_assert_cmpstr (label, ==, "variable");

  /* Undo walks back through the stack: variable → cosmic ray → transient → unlabelled. */
  g_assert_cmpint (ds_label_store_undo (store, "ztf_1", "bob", &restored, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (restored, ==, "cosmic ray");
  g_clear_pointer (&restored, g_free);
  g_assert_cmpint (ds_label_store_undo (store, "ztf_1", "bob", &restored, &error), >, 0);
  g_assert_cmpstr (restored, ==, "transient");
  g_clear_pointer (&restored, g_free);
  /* A new label after undos pushes on the reduced stack; undoing it restores "transient". */
  add_label (store, "ztf_1", "ghost", "alice", NULL);
  g_assert_cmpint (ds_label_store_undo (store, "ztf_1", NULL, &restored, &error), >, 0);
  g_assert_cmpstr (restored, ==, "transient");
  g_clear_pointer (&restored, g_free);
  g_assert_cmpint (ds_label_store_undo (store, "ztf_1", NULL, &restored, &error), >, 0);
  g_assert_null (restored);
  g_clear_pointer (&label, g_free);
  label = current (store, "ztf_1", &found);
  g_assert_true (found);
  g_assert_null (label);   /* unlabelled, but history kept */
  g_assert_cmpint (ds_label_store_undo (store, "ztf_1", NULL, NULL, &error), ==, 0);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* Nothing was deleted: 4 acts + 1 new act + 4 undo rows for ztf_1. */
  history = ds_label_store_history (store, "ztf_1", &error);
  g_assert_cmpuint (history->len, ==, 8);
  g_assert_true (((DsLabelRecord *) history->pdata[7])->is_undo);
  g_assert_false (((DsLabelRecord *) history->pdata[5])->is_undo);
  g_clear_pointer (&history, g_ptr_array_unref);

  /* Empty candidate ids are refused. */
  {
    g_autoptr (DsLabelRecord) r = ds_label_record_new ();
    r->candidate_id = g_strdup ("");
    r->label = g_strdup ("noise");
    g_assert_cmpint (ds_label_store_add (store, r, &error), ==, 0);
    g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_INVALID);
    g_clear_error (&error);
  }

  /* Positions. */
  {
    gint64 index = -1;
    g_assert_false (ds_label_store_get_position (store, "/cutouts", &index, &error));
    g_assert_no_error (error);
    g_assert_true (ds_label_store_set_position (store, "/cutouts", 7, &error));
    g_assert_true (ds_label_store_set_position (store, "/cutouts", 12, &error));
    g_assert_true (ds_label_store_set_position (store, "/list.txt", 3, &error));
    g_assert_no_error (error);
  }
  ds_label_store_close (store);

  /* Reopen: everything is there. */
  store = ds_label_store_open (path, &error);
  g_assert_no_error (error);
  {
    g_autoptr (DsLabelStats) stats = ds_label_store_dup_stats (store, &error);
    g_autoptr (GHashTable) labels = ds_label_store_dup_current_labels (store, &error);
    gint64 index = -1;
    g_assert_no_error (error);
    g_assert_cmpint (stats->n_acts, ==, 9);
    g_assert_cmpint (stats->n_candidates, ==, 2);
    g_assert_cmpint (stats->n_labelled, ==, 1);   /* ztf_1 is back to unlabelled */
    g_assert_cmpuint (g_hash_table_size (labels), ==, 2);
    g_assert_true (g_hash_table_contains (labels, "ztf_1"));
    g_assert_null (g_hash_table_lookup (labels, "ztf_1"));
    g_assert_cmpstr (g_hash_table_lookup (labels, "ztf_2"), ==, "dipole or misalignment");
    g_assert_true (ds_label_store_get_position (store, "/cutouts", &index, &error));
    g_assert_cmpint (index, ==, 12);
    g_assert_true (ds_label_store_get_position (store, "/list.txt", &index, &error));
    g_assert_cmpint (index, ==, 3);
    /* Per-user acts: alice 4 (transient, cosmic ray, ztf_2, ghost), bob 3, the 2 undos with
     * user NULL were recorded under the login name. */
    g_assert_cmpuint (stats->per_user->len, >=, 2);
    for (guint i = 0; i < stats->per_user->len; i++)
      {
        DsLabelCount *c = stats->per_user->pdata[i];
        if (g_strcmp0 (c->name, "alice") == 0)
          g_assert_cmpint (c->count, ==, 4);
        else if (g_strcmp0 (c->name, "bob") == 0)
          g_assert_cmpint (c->count, ==, 3);
        else
          g_assert_cmpstr (c->name, ==, g_get_user_name ());
      }
  }
  ds_label_store_close (store);
  cleanup_dir (dir);
}

/* ---- an RFC 4180 reader, independent of the store's writer ----------------------------- */

typedef struct
{
  char *text;       /* NULL for an empty unquoted field */
} CsvField;

/* Parses the whole text into rows of fields (GPtrArray of GPtrArray of char* or NULL). */
static GPtrArray *
csv_parse (const char *text)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
  const char *p = text;

  while (*p != '\0')
    {
      GString *field = g_string_new (NULL);
      gboolean quoted = FALSE;
      if (*p == '"')
        {
          quoted = TRUE;
          p++;
          for (;;)
            {
              g_assert_true (*p != '\0');   /* unterminated quote */
              if (*p == '"' && p[1] == '"')
                g_string_append_c (field, '"'), p += 2;
              else if (*p == '"')
                {
                  p++;
                  break;
                }
              else
                g_string_append_c (field, *p++);
            }
        }
      else
        while (*p != '\0' && *p != ',' && *p != '\r' && *p != '\n')
          {
            g_assert_true (*p != '"');   /* a bare quote inside an unquoted field */
            g_string_append_c (field, *p++);
          }
      g_ptr_array_add (row, quoted || field->len > 0 ? g_string_free (field, FALSE)
                                                     : (g_string_free (field, TRUE), NULL));
      if (*p == ',')
        p++;
      else
        {
          g_assert_true (*p == '\r' && p[1] == '\n');   /* RFC 4180 line ends */
          p += 2;
          g_ptr_array_add (rows, row);
          row = g_ptr_array_new_with_free_func (g_free);
        }
    }
  g_assert_cmpuint (row->len, ==, 0);
  g_ptr_array_unref (row);
  return rows;
}

static double
parse_double_or_nan (const char *s)
{
  return s == NULL ? NAN : g_ascii_strtod (s, NULL);
}

static DsLabelRecord *
record_from_fields (GPtrArray *f)
{
  DsLabelRecord *r = ds_label_record_new ();
  g_assert_cmpuint (f->len, ==, 13);
  r->id = g_ascii_strtoll (f->pdata[0], NULL, 10);
  r->candidate_id = g_strdup (f->pdata[1]);
  r->template_path = g_strdup (f->pdata[2]);
  r->science_path = g_strdup (f->pdata[3]);
  r->difference_path = g_strdup (f->pdata[4]);
  r->x = parse_double_or_nan (f->pdata[5]);
  r->y = parse_double_or_nan (f->pdata[6]);
  r->user = g_strdup (f->pdata[7]);
  r->time = g_strdup (f->pdata[8]);
  r->label = g_strdup (f->pdata[9]);
  r->note = g_strdup (f->pdata[10]);
  r->config_hash = g_strdup (f->pdata[11]);
  g_assert_true (g_strcmp0 (f->pdata[12], "label") == 0 || g_strcmp0 (f->pdata[12], "undo") == 0);
  r->is_undo = g_strcmp0 (f->pdata[12], "undo") == 0;
  return r;
}

static const char *const hostile_notes[] = {
  "plain",
  "comma, inside",
  "a \"quoted\" word",
  "two\nlines",
  "crlf\r\nline",
  "",                                   /* empty string, distinct from NULL */
  "UTF-8: Ångström, 天体, ∆m = −0.3 ✓",
  "\"leading quote",
  ",",
  "tab\tand \\ backslash",
};

static DsLabelStore *
store_with_hostile_rows (const char *path)
{
  g_autoptr (GError) error = NULL;
  DsLabelStore *store = ds_label_store_open (path, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_notes); i++)
    {
      g_autoptr (DsLabelRecord) r = ds_label_record_new ();
      r->candidate_id = g_strdup_printf ("file:a,b.fits:%u:%u", 10 * i, 20 + i);
      r->science_path = g_strdup ("/tmp/with space/and,comma/sci.fits");
      r->label = g_strdup (i % 3 == 0 ? "nuclear/AGN" : "bleed or bad column");
      r->note = g_strdup (hostile_notes[i]);
      r->x = i == 4 ? NAN : 12.25 * i;
      r->y = -0.125 * i;
      r->config_hash = i % 2 ? g_strdup ("sha256:0f3a") : NULL;
      r->user = g_strdup (i % 2 ? "Zoë" : "bob");
      g_assert_cmpint (ds_label_store_add (store, r, &error), >, 0);
      g_assert_no_error (error);
    }
  /* One NULL note and an undo row (NULL label). */
  add_label (store, "file:a,b.fits:0:20", "noise", "carol", NULL);
  g_assert_cmpint (ds_label_store_undo (store, "file:a,b.fits:0:20", "carol", NULL, &error), >,
                   0);
  g_assert_cmpint (ds_label_store_undo (store, "file:a,b.fits:0:20", "carol", NULL, &error), >,
                   0);
  g_assert_no_error (error);
  return store;
}

static void
test_csv_round_trip (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = tmp_db (dir, "labels.db");
  g_autofree char *csv_path = tmp_db (dir, "labels.csv");
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (DsLabelStore) store = store_with_hostile_rows (path);
  guint n_null_labels = 0;

  g_assert_true (ds_label_store_export_csv (store, csv_path, &error));
  g_assert_no_error (error);
  history = ds_label_store_history (store, NULL, &error);
  g_assert_cmpuint (history->len, ==, G_N_ELEMENTS (hostile_notes) + 3);

  g_assert_true (g_file_get_contents (csv_path, &text, NULL, &error));
  rows = csv_parse (text);
  g_assert_cmpuint (rows->len, ==, history->len + 1);
  g_assert_cmpstr (g_ptr_array_index ((GPtrArray *) rows->pdata[0], 1), ==, "candidate_id");
  for (guint i = 0; i < history->len; i++)
    {
      g_autoptr (DsLabelRecord) parsed = record_from_fields (rows->pdata[i + 1]);
      DsLabelRecord *stored = history->pdata[i];
      g_assert_cmpint (parsed->id, ==, stored->id);
      if (!ds_label_record_equal (parsed, stored))
        g_error ("row %u differs after the CSV round trip (note “%s” vs “%s”)", i,
                 parsed->note ? parsed->note : "(null)", stored->note ? stored->note : "(null)");
      n_null_labels += parsed->label == NULL;
    }
  /* The empty note is "" and the NULL note is NULL after parsing. */
  g_assert_cmpstr (((DsLabelRecord *) history->pdata[5])->note, ==, "");
  g_assert_null (((DsLabelRecord *) history->pdata[10])->note);
  g_assert_cmpuint (n_null_labels, ==, 1);
  cleanup_dir (dir);
}

/* ---- a strict JSON reader for one flat object per line --------------------------------- */

static char *
json_read_string (const char **pp)
{
  const char *p = *pp;
  GString *s = g_string_new (NULL);
  g_assert_true (*p == '"');
  p++;
  while (*p != '"')
    {
      g_assert_true (*p != '\0' && (guchar) *p >= 0x20);   /* control chars must be escaped */
      if (*p == '\\')
        {
          p++;
          switch (*p)
            {
            case '"': g_string_append_c (s, '"'); break;
            case '\\': g_string_append_c (s, '\\'); break;
            case '/': g_string_append_c (s, '/'); break;
            case 'n': g_string_append_c (s, '\n'); break;
            case 'r': g_string_append_c (s, '\r'); break;
            case 't': g_string_append_c (s, '\t'); break;
            case 'b': g_string_append_c (s, '\b'); break;
            case 'f': g_string_append_c (s, '\f'); break;
            case 'u':
              {
                char hex[5] = { p[1], p[2], p[3], p[4], 0 };
                g_string_append_unichar (s, (gunichar) g_ascii_strtoull (hex, NULL, 16));
                p += 4;
                break;
              }
            default:
              g_assert_not_reached ();
            }
          p++;
        }
      else
        g_string_append_c (s, *p++);
    }
  *pp = p + 1;
  g_assert_true (g_utf8_validate (s->str, -1, NULL));
  return g_string_free (s, FALSE);
}

/* Parses {"k":v,...} where v is a string, a number or null; returns key → value (NULL value
 * for null; numbers kept as their text). */
static GHashTable *
json_parse_object (const char *line)
{
  GHashTable *obj = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *p = line;
  g_assert_true (*p == '{');
  p++;
  while (*p != '}')
    {
      char *key = json_read_string (&p);
      char *value = NULL;
      g_assert_true (*p == ':');
      p++;
      if (*p == '"')
        value = json_read_string (&p);
      else if (g_str_has_prefix (p, "null"))
        p += 4;
      else
        {
          char *end;
          g_ascii_strtod (p, &end);
          g_assert_true (end > p);
          value = g_strndup (p, end - p);
          p = end;
        }
      g_assert_false (g_hash_table_contains (obj, key));
      g_hash_table_insert (obj, key, value);
      g_assert_true (*p == ',' || *p == '}');
      if (*p == ',')
        p++;
    }
  g_assert_true (p[1] == '\0');
  return obj;
}

static void
test_jsonl_export (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = tmp_db (dir, "labels.db");
  g_autofree char *out = tmp_db (dir, "labels.jsonl");
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (DsLabelStore) store = store_with_hostile_rows (path);
  g_auto (GStrv) lines = NULL;

  g_assert_true (ds_label_store_export_jsonl (store, out, &error));
  g_assert_no_error (error);
  history = ds_label_store_history (store, NULL, &error);
  g_assert_true (g_file_get_contents (out, &text, NULL, &error));
  g_assert_true (g_str_has_suffix (text, "}\n"));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, history->len + 1);   /* + empty after last \n */
  for (guint i = 0; i < history->len; i++)
    {
      g_autoptr (GHashTable) obj = json_parse_object (lines[i]);
      DsLabelRecord *r = history->pdata[i];
      g_assert_cmpuint (g_hash_table_size (obj), ==, 13);
      g_assert_cmpint (g_ascii_strtoll (g_hash_table_lookup (obj, "id"), NULL, 10), ==, r->id);
      g_assert_cmpstr (g_hash_table_lookup (obj, "candidate_id"), ==, r->candidate_id);
      g_assert_cmpstr (g_hash_table_lookup (obj, "science"), ==, r->science_path);
      g_assert_cmpstr (g_hash_table_lookup (obj, "note"), ==, r->note);
      g_assert_cmpstr (g_hash_table_lookup (obj, "label"), ==, r->label);
      g_assert_cmpstr (g_hash_table_lookup (obj, "user"), ==, r->user);
      g_assert_cmpstr (g_hash_table_lookup (obj, "config_hash"), ==, r->config_hash);
      g_assert_cmpstr (g_hash_table_lookup (obj, "action"), ==, r->is_undo ? "undo" : "label");
      if (isnan (r->x))
        g_assert_null (g_hash_table_lookup (obj, "x"));
      else
        g_assert_cmpfloat (g_ascii_strtod (g_hash_table_lookup (obj, "x"), NULL), ==, r->x);
      g_assert_cmpfloat (g_ascii_strtod (g_hash_table_lookup (obj, "y"), NULL), ==, r->y);
    }
  cleanup_dir (dir);
}

static void
test_import_merge (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *a_path = tmp_db (dir, "a.db");
  g_autofree char *b_path = tmp_db (dir, "b.db");
  g_autofree char *empty_path = tmp_db (dir, "empty.db");
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) a = ds_label_store_open (a_path, &error);
  g_autoptr (DsLabelStore) b = ds_label_store_open (b_path, &error);
  g_autoptr (DsLabelStats) stats = NULL;
  g_autoptr (GPtrArray) b_rows = NULL;
  gint64 added = -1, skipped = -1;
  g_autofree char *label = NULL;

  g_assert_no_error (error);
  add_label (a, "c1", "transient", "alice", NULL);
  add_label (a, "c2", "noise", "alice", NULL);
  add_label (b, "c2", "ghost", "bob", NULL);
  add_label (b, "c3", "hot pixel", "bob", "hot");
  add_label (b, "c4", "edge", "bob", NULL);
  g_assert_cmpint (ds_label_store_undo (b, "c4", "bob", NULL, &error), >, 0);

  /* Copy two of a's rows into b verbatim (same time/user/label): they must be skipped. */
  b_rows = ds_label_store_history (a, NULL, &error);
  for (guint i = 0; i < b_rows->len; i++)
    g_assert_cmpint (ds_label_store_add (b, b_rows->pdata[i], &error), >, 0);
  g_assert_no_error (error);

  g_assert_true (ds_label_store_import (a, b_path, &added, &skipped, &error));
  g_assert_no_error (error);
  g_assert_cmpint (added, ==, 4);
  g_assert_cmpint (skipped, ==, 2);

  /* Importing again adds nothing. */
  g_assert_true (ds_label_store_import (a, b_path, &added, &skipped, &error));
  g_assert_cmpint (added, ==, 0);
  g_assert_cmpint (skipped, ==, 6);

  stats = ds_label_store_dup_stats (a, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stats->n_acts, ==, 6);
  g_assert_cmpint (stats->n_candidates, ==, 4);
  g_assert_cmpint (stats->n_labelled, ==, 3);   /* c4 was undone in b */
  g_assert_true (ds_label_store_current_label (a, "c2", &label, &error));
  g_assert_cmpstr (label, ==, "ghost");           /* b's act came later in a's log */

  /* An empty store imports as nothing; a missing file is an error naming it. */
  ds_label_store_close (ds_label_store_open (empty_path, &error));
  g_assert_true (ds_label_store_import (a, empty_path, &added, &skipped, &error));
  g_assert_cmpint (added, ==, 0);
  g_assert_false (ds_label_store_import (a, "/nonexistent/x.db", NULL, NULL, &error));
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/x.db"));
  g_clear_error (&error);
  cleanup_dir (dir);
}

static void
test_import_10000 (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *a_path = tmp_db (dir, "a.db");
  g_autofree char *b_path = tmp_db (dir, "b.db");
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) a = ds_label_store_open (a_path, &error);
  g_autoptr (DsLabelStats) stats = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 added = 0, skipped = 0, t0;

  g_assert_no_error (error);
  /* Fill b through the store (creates the schema), then bulk-insert in one transaction so the
   * test stays fast even with fsync on every commit. */
  ds_label_store_close (ds_label_store_open (b_path, &error));
  g_assert_cmpint (sqlite3_open (b_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "INSERT INTO labels (candidate_id, x, y, user, time, "
                                           "label) VALUES (?1, ?2, ?3, 'bulk', ?4, ?5)", -1,
                                       &stmt, NULL), ==, SQLITE_OK);
  for (int i = 0; i < 10000; i++)
    {
      g_autofree char *cand = g_strdup_printf ("file:sci.fits:%d:%d", i % 1000, i / 1000);
      g_autofree char *time = g_strdup_printf ("2026-11-21T10:%02d:%02d.%03dZ", i / 6000 % 60,
                                               i / 100 % 60, i % 1000);
      sqlite3_bind_text (stmt, 1, cand, -1, SQLITE_TRANSIENT);
      sqlite3_bind_double (stmt, 2, i % 1000);
      sqlite3_bind_double (stmt, 3, i / 1000);
      sqlite3_bind_text (stmt, 4, time, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 5, i % 7 ? "bad subtraction" : "transient", -1, SQLITE_STATIC);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
      sqlite3_reset (stmt);
    }
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  add_label (a, "file:sci.fits:0:0", "transient", "alice", NULL);
  t0 = g_get_monotonic_time ();
  g_assert_true (ds_label_store_import (a, b_path, &added, &skipped, &error));
  g_test_message ("imported 10000 rows in %.1f ms (benchmark, not asserted)",
                  (g_get_monotonic_time () - t0) / 1000.0);
  g_assert_no_error (error);
  g_assert_cmpint (added, ==, 10000);
  g_assert_cmpint (skipped, ==, 0);
  stats = ds_label_store_dup_stats (a, &error);
  g_assert_cmpint (stats->n_acts, ==, 10001);
  g_assert_cmpint (stats->n_candidates, ==, 10000);
  /* Current labels: i % 7 == 0 → transient (1429 of 10000), the rest bad subtraction. */
  for (guint i = 0; i < stats->per_label->len; i++)
    {
      DsLabelCount *c = stats->per_label->pdata[i];
      g_assert_cmpint (c->count, ==, g_strcmp0 (c->name, "transient") == 0 ? 1429 : 8571);
    }
  cleanup_dir (dir);
}

static void
test_corrupt_files (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *random_path = tmp_db (dir, "random.db");
  g_autofree char *foreign_path = tmp_db (dir, "foreign.db");
  g_autofree char *newer_path = tmp_db (dir, "newer.db");
  g_autofree char *good_path = tmp_db (dir, "good.db");
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261121);
  guint8 bytes[8192];
  sqlite3 *db = NULL;
  DsLabelStore *store;

  for (guint i = 0; i < sizeof bytes; i++)
    bytes[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_assert_true (g_file_set_contents (random_path, (char *) bytes, sizeof bytes, NULL));
  store = ds_label_store_open (random_path, &error);
  g_assert_null (store);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, random_path));
  g_clear_error (&error);

  /* An SQLite file of something else. */
  g_assert_cmpint (sqlite3_open (foreign_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE photos (x INTEGER)", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  sqlite3_close (db);
  store = ds_label_store_open (foreign_path, &error);
  g_assert_null (store);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT);
  g_clear_error (&error);

  /* A store written by a newer version. */
  ds_label_store_close (ds_label_store_open (newer_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_open (newer_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO schema_version VALUES (99)", NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);
  store = ds_label_store_open (newer_path, &error);
  g_assert_null (store);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_VERSION);
  g_clear_error (&error);

  /* Importing the random file is refused without touching the good store. */
  store = ds_label_store_open (good_path, &error);
  add_label (store, "c1", "ghost", "alice", NULL);
  g_assert_false (ds_label_store_import (store, random_path, NULL, NULL, &error));
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_false (ds_label_store_import (store, foreign_path, NULL, NULL, &error));
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_CORRUPT);
  g_clear_error (&error);
  /* The store still works after the failed imports. */
  add_label (store, "c1", "noise", "alice", NULL);
  {
    g_autoptr (GPtrArray) h = ds_label_store_history (store, NULL, &error);
    g_assert_cmpuint (h->len, ==, 2);
  }
  ds_label_store_close (store);

  /* A folder is not a database. */
  store = ds_label_store_open (dir, &error);
  g_assert_null (store);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO);
  g_clear_error (&error);
  cleanup_dir (dir);
}

static void
test_locked (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = tmp_db (dir, "labels.db");
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) store = ds_label_store_open (path, &error);
  g_autofree char *label = NULL;
  sqlite3 *other = NULL;
  g_autoptr (DsLabelRecord) r = ds_label_record_new ();

  g_assert_no_error (error);
  add_label (store, "c1", "streak or satellite", "alice", NULL);

  /* A second connection holds the write lock. */
  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN EXCLUSIVE; INSERT INTO positions VALUES "
                                        "('x', 1, 'now');", NULL, NULL, NULL), ==, SQLITE_OK);
  r->candidate_id = g_strdup ("c2");
  r->label = g_strdup ("ghost");
  g_assert_cmpint (ds_label_store_add (store, r, &error), ==, 0);
  g_assert_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, path));
  g_test_message ("locked: %s", error->message);
  g_clear_error (&error);
  /* WAL: reading still works while the other writer holds the lock. */
  g_assert_true (ds_label_store_current_label (store, "c1", &label, &error));
  g_assert_cmpstr (label, ==, "streak or satellite");

  /* Once the other program lets go, saving works again. */
  g_assert_cmpint (sqlite3_exec (other, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (other);
  g_assert_cmpint (ds_label_store_add (store, r, &error), >, 0);
  g_assert_no_error (error);
  cleanup_dir (dir);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/labels/history-undo-positions", test_history_and_undo);
  g_test_add_func ("/labels/csv-round-trip", test_csv_round_trip);
  g_test_add_func ("/labels/jsonl-export", test_jsonl_export);
  g_test_add_func ("/labels/import-merge", test_import_merge);
  g_test_add_func ("/labels/import-10000", test_import_10000);
  g_test_add_func ("/labels/corrupt", test_corrupt_files);
  g_test_add_func ("/labels/locked", test_locked);
  return g_test_run ();
}
