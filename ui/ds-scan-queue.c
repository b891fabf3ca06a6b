/* ds-scan-queue.c — loading the scanning queue from a cutout folder, a list or a catalogue.
 *
 * Design: loading only reads names and small text files; the FITS pixels are read later by the
 * view, one candidate at a time, so opening a folder of thousands of triptychs is instant and a
 * broken stamp only affects its own candidate.  Relative image paths in lists and catalogues are
 * resolved against the folder of the file that names them, so a labelled set can be moved as a
 * whole.  Parsing is strict and every error names the file and the line.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-scan-queue.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

void
ds_scan_candidate_free (DsScanCandidate *candidate)
{
  if (candidate == NULL)
    return;
  g_free (candidate->id);
  g_free (candidate->template_path);
  g_free (candidate->science_path);
  g_free (candidate->difference_path);
  g_free (candidate->matched_path);
  g_free (candidate->flags);
  g_free (candidate->config_hash);
  g_free (candidate);
}

static DsScanCandidate *
candidate_new (void)
{
  DsScanCandidate *c = g_new0 (DsScanCandidate, 1);
  c->x = c->y = c->snr = c->flux = c->mag = NAN;
  return c;
}

static GPtrArray *
candidates_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) ds_scan_candidate_free);
}

static char *
resolve_path (const char *base_dir, const char *path)
{
  if (g_path_is_absolute (path))
    return g_strdup (path);
  return g_build_filename (base_dir, path, NULL);
}

static gboolean
parse_double (const char *text, double *value)
{
  char *end = NULL;
  if (text == NULL || *text == '\0')
    return FALSE;
  *value = g_ascii_strtod (text, &end);
  return end != text && *end == '\0' && isfinite (*value);
}

/* ---- (a) cutout folders ---------------------------------------------------------------- */

/* Adds S/N, magnitude and flags from an alerts_index.csv near the folder, when there is one. */
static void
cutouts_add_alert_index (const char *folder, GPtrArray *candidates)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) header = NULL;
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *dir = g_strdup (folder);
  int col_survey = -1, col_candid = -1, col_mag = -1, col_sigma = -1, col_pos = -1;
  int col_rb = -1, col_drb = -1, col_sso = -1;

  for (int up = 0; up < 3 && text == NULL; up++)
    {
      g_autofree char *path = g_build_filename (dir, "alerts_index.csv", NULL);
      char *parent = g_path_get_dirname (dir);
      if (!g_file_get_contents (path, &text, NULL, NULL))
        text = NULL;
      g_free (dir);
      dir = parent;
    }
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return;
  for (guint i = 0; i < candidates->len; i++)
    {
      DsScanCandidate *c = candidates->pdata[i];
      g_hash_table_insert (by_id, c->id, c);
    }
  lines = g_strsplit (text, "\n", -1);
  if (lines[0] == NULL)
    return;
  header = g_strsplit (g_strstrip (lines[0]), ",", -1);
  for (int i = 0; header[i] != NULL; i++)
    {
      const char *h = header[i];
      col_survey = strcmp (h, "survey") == 0 ? i : col_survey;
      col_candid = strcmp (h, "candid") == 0 ? i : col_candid;
      col_mag = strcmp (h, "magpsf") == 0 ? i : col_mag;
      col_sigma = strcmp (h, "sigmapsf") == 0 ? i : col_sigma;
      col_pos = strcmp (h, "isdiffpos") == 0 ? i : col_pos;
      col_rb = strcmp (h, "rb") == 0 ? i : col_rb;
      col_drb = strcmp (h, "drb") == 0 ? i : col_drb;
      col_sso = strcmp (h, "ssdistnr") == 0 ? i : col_sso;
    }
  if (col_survey < 0 || col_candid < 0)
    return;
  for (guint n = 1; lines[n] != NULL; n++)
    {
      g_auto (GStrv) f = g_strsplit (g_strstrip (lines[n]), ",", -1);
      int n_fields = (int) g_strv_length (f);
      g_autofree char *id = NULL;
      g_autoptr (GString) flags = g_string_new (NULL);
      DsScanCandidate *c;
      double v;

      if (n_fields <= MAX (col_survey, col_candid))
        continue;
      id = g_strdup_printf ("%s_%s", f[col_survey], f[col_candid]);
      c = g_hash_table_lookup (by_id, id);
      if (c == NULL)
        continue;
      if (col_mag >= 0 && col_mag < n_fields && parse_double (f[col_mag], &v))
        c->mag = v;
      if (col_sigma >= 0 && col_sigma < n_fields && parse_double (f[col_sigma], &v) && v > 0)
        c->snr = 1.0857 / v;   /* σ_m = 2.5 / ln 10 · σ_F / F */
      if (col_pos >= 0 && col_pos < n_fields)
        g_string_append_printf (flags, "isdiffpos=%s ", f[col_pos]);
      if (col_rb >= 0 && col_rb < n_fields && parse_double (f[col_rb], &v))
        g_string_append_printf (flags, "rb=%.3f ", v);
      if (col_drb >= 0 && col_drb < n_fields && parse_double (f[col_drb], &v))
        g_string_append_printf (flags, "drb=%.3f ", v);
      if (col_sso >= 0 && col_sso < n_fields && parse_double (f[col_sso], &v) && v >= 0
          && v < 5)
        g_string_append (flags, "sso ");
      g_free (c->flags);
      c->flags = g_strdup (g_strstrip (flags->str));
    }
}

static GPtrArray *
queue_load_cutouts (const char *folder, GError **error)
{
  g_autoptr (GPtrArray) candidates = candidates_new ();
  g_autoptr (GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GList *sorted = NULL;
  GDir *dir = g_dir_open (folder, 0, error);
  const char *entry;

  if (dir == NULL)
    return NULL;
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (entry, "_sci.fits") || g_str_has_suffix (entry, "_ref.fits")
        || g_str_has_suffix (entry, "_diff.fits"))
      g_hash_table_add (names, g_strndup (entry, strrchr (entry, '_') - entry));
  g_dir_close (dir);

  sorted = g_list_sort (g_hash_table_get_keys (names), (GCompareFunc) g_strcmp0);
  for (GList *l = sorted; l != NULL; l = l->next)
    {
      const char *name = l->data;
      DsScanCandidate *c = candidate_new ();
      g_autofree char *sci = g_strdup_printf ("%s_sci.fits", name);
      g_autofree char *ref = g_strdup_printf ("%s_ref.fits", name);
      g_autofree char *diff = g_strdup_printf ("%s_diff.fits", name);
      c->id = g_strdup (name);
      c->science_path = g_build_filename (folder, sci, NULL);
      c->template_path = g_build_filename (folder, ref, NULL);
      c->difference_path = g_build_filename (folder, diff, NULL);
      c->is_cutout = TRUE;
      g_ptr_array_add (candidates, c);
    }
  g_list_free (sorted);
  if (candidates->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   _("Folder “%s” has no cutouts named NAME_sci.fits, NAME_ref.fits, "
                     "NAME_diff.fits; choose a folder of triptychs, a list file or a catalogue"),
                   folder);
      return NULL;
    }
  cutouts_add_alert_index (folder, candidates);
  return g_steal_pointer (&candidates);
}

/* ---- (b) list files and (c) catalogues ------------------------------------------------- */

static char *
list_candidate_id (const char *science, double x, double y)
{
  g_autofree char *base = g_path_get_basename (science);
  char xs[G_ASCII_DTOSTR_BUF_SIZE], ys[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (xs, sizeof xs, "%.1f", x);
  g_ascii_formatd (ys, sizeof ys, "%.1f", y);
  return g_strdup_printf ("%s:%s:%s", base, xs, ys);
}

static GPtrArray *
queue_load_list (const char *path, char **lines, GError **error)
{
  g_autoptr (GPtrArray) candidates = candidates_new ();
  g_autofree char *base_dir = g_path_get_dirname (path);

  for (guint n = 0; lines[n] != NULL; n++)
    {
      g_auto (GStrv) f = NULL;
      char *hash = strchr (lines[n], '#');
      DsScanCandidate *c;
      guint n_fields;
      double x, y;

      if (hash != NULL)
        *hash = '\0';
      f = g_strsplit_set (g_strstrip (lines[n]), " \t", -1);
      /* g_strsplit_set keeps empty fields between repeated separators: squeeze them. */
      n_fields = 0;
      for (guint i = 0; f[i] != NULL; i++)
        if (f[i][0] != '\0')
          {
            char *tmp = f[n_fields];
            f[n_fields++] = f[i];
            f[i] = tmp;
          }
      if (n_fields == 0)
        continue;
      if ((n_fields != 4 && n_fields != 5) || !parse_double (f[2], &x) || !parse_double (f[3], &y))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       _("List “%s”, line %u: expected “TEMPLATE SCIENCE X Y [DIFFERENCE]” with "
                         "numeric X and Y"), path, n + 1);
          return NULL;
        }
      c = candidate_new ();
      c->template_path = resolve_path (base_dir, f[0]);
      c->science_path = resolve_path (base_dir, f[1]);
      c->difference_path = n_fields == 5 ? resolve_path (base_dir, f[4]) : NULL;
      c->x = x;
      c->y = y;
      c->id = list_candidate_id (c->science_path, x, y);
      g_ptr_array_add (candidates, c);
    }
  return g_steal_pointer (&candidates);
}

static GPtrArray *
queue_load_catalogue (const char *path, char **lines, GError **error)
{
  g_autoptr (GPtrArray) candidates = candidates_new ();
  g_autofree char *base_dir = g_path_get_dirname (path);
  g_autofree char *template = NULL, *science = NULL, *difference = NULL, *hash = NULL;
  g_autofree char *matched = NULL;
  int col_x = -1, col_y = -1, col_id = -1, col_snr = -1, col_flux = -1, col_flags = -1;
  gboolean have_header = FALSE;

  for (guint n = 0; lines[n] != NULL; n++)
    {
      g_autofree char *line = g_strstrip (g_strdup (lines[n]));
      g_auto (GStrv) f = NULL;
      DsScanCandidate *c;
      int n_fields;
      double x, y, v;

      if (line[0] == '\0')
        continue;
      if (line[0] == '#')
        {
          char *colon = strchr (line, ':');
          g_autofree char *key = NULL;
          if (colon == NULL)
            continue;
          key = g_strstrip (g_strndup (line + 1, colon - line - 1));
          colon = g_strstrip (colon + 1);
          if (g_ascii_strcasecmp (key, "template") == 0)
            g_free (template), template = resolve_path (base_dir, colon);
          else if (g_ascii_strcasecmp (key, "science") == 0)
            g_free (science), science = resolve_path (base_dir, colon);
          else if (g_ascii_strcasecmp (key, "difference") == 0)
            g_free (difference), difference = resolve_path (base_dir, colon);
          else if (g_ascii_strcasecmp (key, "matched") == 0)
            g_free (matched), matched = resolve_path (base_dir, colon);
          else if (g_ascii_strcasecmp (key, "config_hash") == 0)
            g_free (hash), hash = g_strdup (colon);
          continue;
        }
      f = g_strsplit (line, ",", -1);
      n_fields = (int) g_strv_length (f);
      for (int i = 0; i < n_fields; i++)
        g_strstrip (f[i]);
      if (!have_header)
        {
          for (int i = 0; i < n_fields; i++)
            {
              const char *h = f[i];
              col_x = g_ascii_strcasecmp (h, "x") == 0 ? i : col_x;
              col_y = g_ascii_strcasecmp (h, "y") == 0 ? i : col_y;
              col_id = g_ascii_strcasecmp (h, "id") == 0 ? i : col_id;
              col_snr = g_ascii_strcasecmp (h, "snr") == 0 ? i : col_snr;
              col_flux = g_ascii_strcasecmp (h, "flux") == 0 ? i : col_flux;
              col_flags = g_ascii_strcasecmp (h, "flags") == 0 ? i : col_flags;
            }
          if (col_x < 0 || col_y < 0)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           _("Catalogue “%s”, line %u: the header needs x and y columns"), path,
                           n + 1);
              return NULL;
            }
          if (science == NULL)
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           _("Catalogue “%s” does not name its images: add “# science: PATH” "
                             "and “# template: PATH” lines before the header"), path);
              return NULL;
            }
          have_header = TRUE;
          continue;
        }
      if (n_fields <= MAX (col_x, col_y) || !parse_double (f[col_x], &x)
          || !parse_double (f[col_y], &y))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       _("Catalogue “%s”, line %u: x and y must be numbers"), path, n + 1);
          return NULL;
        }
      c = candidate_new ();
      c->template_path = g_strdup (template);
      c->science_path = g_strdup (science);
      c->difference_path = g_strdup (difference);
      c->matched_path = g_strdup (matched);
      c->config_hash = g_strdup (hash);
      c->x = x;
      c->y = y;
      if (col_id >= 0 && col_id < n_fields && f[col_id][0] != '\0')
        c->id = g_strdup (f[col_id]);
      else
        c->id = list_candidate_id (science, x, y);
      if (col_snr >= 0 && col_snr < n_fields && parse_double (f[col_snr], &v))
        c->snr = v;
      if (col_flux >= 0 && col_flux < n_fields && parse_double (f[col_flux], &v))
        c->flux = v;
      if (col_flags >= 0 && col_flags < n_fields && f[col_flags][0] != '\0')
        c->flags = g_strdup (f[col_flags]);
      g_ptr_array_add (candidates, c);
    }
  return g_steal_pointer (&candidates);
}

GPtrArray *
ds_scan_queue_load (const char *source, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) candidates = NULL;
  gboolean is_catalogue = FALSE;
  gsize length = 0;

  g_return_val_if_fail (source != NULL, NULL);
  if (g_file_test (source, G_FILE_TEST_IS_DIR))
    return queue_load_cutouts (source, error);
  if (!g_file_get_contents (source, &text, &length, error))
    return NULL;
  if (!g_utf8_validate (text, (gssize) length, NULL) || memchr (text, '\0', length) != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("“%s” is not a text list or catalogue (binary data); give a folder of "
                     "cutouts, a list file or a catalogue CSV"), source);
      return NULL;
    }
  lines = g_strsplit_set (text, "\r\n", -1);
  for (guint n = 0; lines[n] != NULL && !is_catalogue; n++)
    is_catalogue = g_str_has_prefix (lines[n], "#")
                   && g_regex_match_simple ("^#\\s*science\\s*:", lines[n], G_REGEX_CASELESS, 0);
  candidates = is_catalogue ? queue_load_catalogue (source, lines, error)
                            : queue_load_list (source, lines, error);
  if (candidates == NULL)
    return NULL;
  if (candidates->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("“%s” lists no candidates"), source);
      return NULL;
    }
  return g_steal_pointer (&candidates);
}
