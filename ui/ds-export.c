/* ds-export.c — every product of a subtraction under one prefix (see ds-export.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-export.h"

#include "dia-fits.h"
#include "dia-measure.h"
#include "dia-params.h"
#include "dia-subtract-io.h"

#include <string.h>

typedef struct
{
  DiaSubtractResult *result;
  DiaCatalog *catalog;
  char *prefix, *template_path, *science_path;
} ExportData;

static void
export_data_free (gpointer data)
{
  ExportData *d = data;

  dia_subtract_result_unref (d->result);
  if (d->catalog != NULL)
    dia_catalog_unref (d->catalog);
  g_free (d->prefix);
  g_free (d->template_path);
  g_free (d->science_path);
  g_free (d);
}

/* "# key: absolute path" when path names a file (an HDU suffix "[SCI]" allowed); not for
 * the demo's simulated images, whose source is a description. */
static void
append_path_line (GString *s, const char *key, const char *path)
{
  g_autofree char *abs = NULL;
  g_autofree char *file = NULL;
  const char *bracket;

  if (path == NULL)
    return;
  bracket = g_str_has_suffix (path, "]") ? strrchr (path, '[') : NULL;
  file = bracket != NULL ? g_strndup (path, bracket - path) : g_strdup (path);
  if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
    return;
  abs = g_canonicalize_filename (path, NULL);
  g_string_append_printf (s, "# %s: %s\n", key, abs);
}

/* Puts the provenance comment lines in front of the catalogue CSV, so that `diffscope --scan
 * PREFIX_sources.csv` finds the images and the configuration is recorded. */
static gboolean
export_annotate_csv (const char *csv, const DiaSubtractResult *result, const char *prefix,
                     const char *template_path, const char *science_path, gboolean matched,
                     GError **error)
{
  g_autofree char *body = NULL;
  g_autofree char *diff = g_strconcat (prefix, "_diff.fits", NULL);
  g_autofree char *matched_path = g_strconcat (prefix, "_matched.fits", NULL);
  g_autoptr (GString) s = g_string_new (NULL);

  if (!g_file_get_contents (csv, &body, NULL, error))
    return FALSE;
  append_path_line (s, "template", template_path);
  append_path_line (s, "science", science_path);
  append_path_line (s, "difference", diff);
  if (matched)
    append_path_line (s, "matched", matched_path);
  g_string_append_printf (s, "# config_hash: %016" G_GINT64_MODIFIER "x\n",
                          dia_params_hash (&result->plan->request, DIA_STAGE_APPLY));
  g_string_append (s, body);
  return g_file_set_contents (csv, s->str, (gssize) s->len, error);
}

char **
ds_export_products (DiaSubtractResult *result, DiaCatalog *catalog, const char *prefix,
                    const char *template_path, const char *science_path, GError **error)
{
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (DiaSubtractResult) full = NULL;
  g_autofree char *base = NULL;

  g_return_val_if_fail (result != NULL && prefix != NULL, NULL);
  base = g_path_get_basename (prefix);
  /* The matched image is not kept by the app's live reruns: one more full-frame execute of
   * the same plan gives it (and the same difference). */
  if (result->matched == NULL)
    {
      full = dia_subtract_execute (result->plan, NULL, TRUE, NULL, error);
      if (full == NULL)
        return NULL;
    }
  else
    full = dia_subtract_result_ref (result);
  if (!dia_subtract_write_products (full, prefix, template_path, science_path, error))
    return NULL;
  g_ptr_array_add (written, g_strconcat (base, "_diff.fits", NULL));
  if (full->matched != NULL)
    g_ptr_array_add (written, g_strconcat (base, "_matched.fits", NULL));
  if (full->plan->kernel != NULL)
    g_ptr_array_add (written, g_strconcat (base, "_kernel.fits", NULL));
  g_ptr_array_add (written, g_strconcat (base, "_meta.json", NULL));
  if (full->score != NULL)
    {
      g_autofree char *path = g_strconcat (prefix, "_score.fits", NULL);

      if (!dia_fits_write_image (path, full->score, NULL, error))
        return NULL;
      g_ptr_array_add (written, g_strconcat (base, "_score.fits", NULL));
    }
  if (catalog != NULL)
    {
      g_autofree char *csv = g_strconcat (prefix, "_sources.csv", NULL);
      g_autofree char *fits = g_strconcat (prefix, "_sources.fits", NULL);

      if (!dia_catalog_write_csv (catalog, csv, error)
          || !export_annotate_csv (csv, full, prefix, template_path, science_path,
                                   full->matched != NULL, error))
        return NULL;
      g_ptr_array_add (written, g_strconcat (base, "_sources.csv", NULL));
      if (!dia_catalog_write_fits (catalog, fits, error))
        return NULL;
      g_ptr_array_add (written, g_strconcat (base, "_sources.fits", NULL));
    }
  g_ptr_array_add (written, NULL);
  return (char **) g_ptr_array_steal (written, NULL);
}

static void
export_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ExportData *d = task_data;
  GError *error = NULL;
  char **written = ds_export_products (d->result, d->catalog, d->prefix, d->template_path,
                                       d->science_path, &error);

  if (written == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, written, (GDestroyNotify) g_strfreev);
}

void
ds_export_products_async (DiaSubtractResult *result, DiaCatalog *catalog, const char *prefix,
                          const char *template_path, const char *science_path,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  ExportData *d = g_new0 (ExportData, 1);

  g_return_if_fail (result != NULL && prefix != NULL);
  d->result = dia_subtract_result_ref (result);
  d->catalog = catalog != NULL ? dia_catalog_ref (catalog) : NULL;
  d->prefix = g_strdup (prefix);
  d->template_path = g_strdup (template_path);
  d->science_path = g_strdup (science_path);
  g_task_set_source_tag (task, ds_export_products_async);
  g_task_set_task_data (task, d, export_data_free);
  g_task_run_in_thread (task, export_thread);
}

char **
ds_export_products_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
