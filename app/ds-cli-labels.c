/* ds-cli-labels.c — `diffscope-cli labels`: export, import and summarise a label store.
 *
 *   diffscope-cli labels export --db FILE.db --format csv|jsonl -o OUT
 *   diffscope-cli labels import --db FILE.db OTHER.db… (or --from OTHER.db, repeatable)
 *   diffscope-cli labels stats  --db FILE.db
 *
 * The store (ui/ds-label-store.c) does the work; this file only parses options and prints.
 * export and stats refuse a --db that does not exist instead of creating an empty store, so a
 * typo in a path is reported rather than silently exporting nothing.  import creates --db when
 * missing (merging into a new file is a normal way to combine several scanners' work).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "ds-label-store.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

static int
labels_usage (void)
{
  fprintf (stderr, "%s",
           _("Usage: diffscope-cli labels export --db FILE.db --format csv|jsonl -o OUT\n"
             "       diffscope-cli labels import --db FILE.db OTHER.db… | --from OTHER.db\n"
             "       diffscope-cli labels stats --db FILE.db\n"));
  return 2;
}

static DsLabelStore *
labels_open_existing (const char *db_path, GError **error)
{
  if (!g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, DS_LABEL_STORE_ERROR, DS_LABEL_STORE_ERROR_IO,
                   _("no label database “%s”; check the --db path"), db_path);
      return NULL;
    }
  return ds_label_store_open (db_path, error);
}

static int
labels_export (const char *db_path, const char *format, const char *out_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) store = NULL;
  gboolean ok;

  if (format == NULL || (strcmp (format, "csv") != 0 && strcmp (format, "jsonl") != 0))
    return ds_cli_failf (_("labels export: --format must be csv or jsonl"));
  if (out_path == NULL)
    return ds_cli_failf (_("labels export: give the output file with -o OUT"));
  store = labels_open_existing (db_path, &error);
  if (store == NULL)
    return ds_cli_fail (error);
  ok = strcmp (format, "csv") == 0 ? ds_label_store_export_csv (store, out_path, &error)
                                   : ds_label_store_export_jsonl (store, out_path, &error);
  if (!ok)
    return ds_cli_fail (error);
  return 0;
}

static int
labels_import (const char *db_path, GPtrArray *sources)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) store = NULL;

  if (sources->len == 0)
    return ds_cli_failf (_("labels import: name at least one store to merge (OTHER.db)"));
  store = ds_label_store_open (db_path, &error);
  if (store == NULL)
    return ds_cli_fail (error);
  for (guint i = 0; i < sources->len; i++)
    {
      const char *other = g_ptr_array_index (sources, i);
      gint64 added = 0, skipped = 0;
      if (!ds_label_store_import (store, other, &added, &skipped, &error))
        return ds_cli_fail (error);
      printf (_("%s: %lld rows added, %lld duplicates skipped\n"), other, (long long) added,
              (long long) skipped);
    }
  return 0;
}

static int
labels_stats (const char *db_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelStore) store = labels_open_existing (db_path, &error);
  g_autoptr (DsLabelStats) stats = NULL;

  if (store == NULL)
    return ds_cli_fail (error);
  stats = ds_label_store_dup_stats (store, &error);
  if (stats == NULL)
    return ds_cli_fail (error);
  printf (_("acts: %lld\n"), (long long) stats->n_acts);
  printf (_("candidates: %lld\n"), (long long) stats->n_candidates);
  printf (_("labelled: %lld\n"), (long long) stats->n_labelled);
  printf (_("per label (current label of each candidate):\n"));
  for (guint i = 0; i < stats->per_label->len; i++)
    {
      const DsLabelCount *c = g_ptr_array_index (stats->per_label, i);
      printf ("  %-28s %" G_GINT64_FORMAT "\n", c->name ? c->name : _("(unlabelled)"),
              c->count);
    }
  printf (_("per user (acts):\n"));
  for (guint i = 0; i < stats->per_user->len; i++)
    {
      const DsLabelCount *c = g_ptr_array_index (stats->per_user, i);
      printf ("  %-28s %" G_GINT64_FORMAT "\n", c->name, c->count);
    }
  return 0;
}

int
ds_cli_labels (int argc, char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *format = NULL;
  g_autofree char *out_path = NULL;
  g_auto (GStrv) from = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) sources = g_ptr_array_new ();
  const char *action;
  int status = 0;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_path, N_("Label database"), N_("FILE.db") },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, N_("Export format: csv or jsonl"),
      N_("FORMAT") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Export to this file"),
      N_("OUT") },
    { "from", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &from, N_("Store to merge (repeatable)"),
      N_("OTHER.db") },
    { NULL },
  };

  context = g_option_context_new (_("export|import|stats — hand-classification labels"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!ds_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc < 2)
    return labels_usage ();
  action = argv[1];
  if (db_path == NULL)
    {
      fprintf (stderr, "%s\n", _("diffscope-cli: labels: --db FILE.db is required"));
      return 2;
    }

  if (strcmp (action, "export") == 0 && argc == 2)
    return labels_export (db_path, format, out_path);
  if (strcmp (action, "stats") == 0 && argc == 2)
    return labels_stats (db_path);
  if (strcmp (action, "import") == 0)
    {
      for (int i = 2; i < argc; i++)
        g_ptr_array_add (sources, argv[i]);
      for (guint i = 0; from != NULL && from[i] != NULL; i++)
        g_ptr_array_add (sources, from[i]);
      return labels_import (db_path, sources);
    }
  return labels_usage ();
}
