/* ds-scan-taxonomy.c — parsing of taxonomy files and the default taxonomy.
 *
 * Design: explicit keys are assigned first, then the remaining labels get the free digits 1–9
 * and then free letters in order, so adding an explicit key to one line never moves the keys of
 * the lines before it that had explicit keys.  Duplicate labels, duplicate or reserved keys and
 * more labels than keys are errors that name the file and line, since a silently shadowed key
 * would store the wrong label.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-scan-taxonomy.h"

#include <glib/gi18n.h>
#include <string.h>

/* Keep equal to data/taxonomy-default.txt (test-scan-queue checks it). */
static const char default_taxonomy[] =
  "real | transient\n"
  "real | variable\n"
  "real | nuclear/AGN\n"
  "real | moving object\n"
  "bogus | dipole or misalignment\n"
  "bogus | bad subtraction\n"
  "bogus | bright-star residual\n"
  "bogus | diffraction spike\n"
  "bogus | bleed or bad column\n"
  "bogus | cosmic ray\n"
  "bogus | hot pixel\n"
  "bogus | streak or satellite\n"
  "bogus | ghost\n"
  "bogus | edge\n"
  "bogus | noise\n"
  "unsure | unsure | u\n";

static void
scan_label_free (gpointer data)
{
  DsScanLabel *label = data;
  g_free (label->group);
  g_free (label->label);
  g_free (label);
}

void
ds_scan_taxonomy_free (DsScanTaxonomy *taxonomy)
{
  if (taxonomy == NULL)
    return;
  g_ptr_array_unref (taxonomy->labels);
  g_free (taxonomy->source);
  g_free (taxonomy);
}

DsScanTaxonomy *
ds_scan_taxonomy_new_default (void)
{
  DsScanTaxonomy *taxonomy = ds_scan_taxonomy_new_from_text (default_taxonomy, NULL, NULL);
  g_assert (taxonomy != NULL);   /* a constant that the tests parse */
  return taxonomy;
}

static gboolean
key_is_taken (const DsScanTaxonomy *taxonomy, gunichar key)
{
  for (guint i = 0; i < taxonomy->labels->len; i++)
    if (((DsScanLabel *) taxonomy->labels->pdata[i])->key == key)
      return TRUE;
  return FALSE;
}

DsScanTaxonomy *
ds_scan_taxonomy_new_from_text (const char *text, const char *source, GError **error)
{
  g_autoptr (DsScanTaxonomy) taxonomy = g_new0 (DsScanTaxonomy, 1);
  g_auto (GStrv) lines = NULL;
  const char *name = source != NULL ? source : _("built-in taxonomy");
  const char *pool = "123456789abcdefhilmopqrstuvwxyz";

  taxonomy->labels = g_ptr_array_new_with_free_func (scan_label_free);
  taxonomy->source = g_strdup (source);
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("Taxonomy %s is not UTF-8 text"), name);
      return NULL;
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint n = 0; lines[n] != NULL; n++)
    {
      g_auto (GStrv) parts = NULL;
      g_autofree char *line = g_strstrip (g_strdup (lines[n]));
      DsScanLabel *label;
      guint n_parts;

      if (line[0] == '\0' || line[0] == '#')
        continue;
      parts = g_strsplit (line, "|", -1);
      n_parts = g_strv_length (parts);
      for (guint i = 0; i < n_parts; i++)
        g_strstrip (parts[i]);
      if (n_parts < 2 || n_parts > 3 || parts[0][0] == '\0' || parts[1][0] == '\0'
          || (n_parts == 3 && g_utf8_strlen (parts[2], -1) != 1))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       _("Taxonomy %s, line %u: expected “GROUP | LABEL” or “GROUP | LABEL | KEY” "
                         "with a one-character key"), name, n + 1);
          return NULL;
        }
      for (guint i = 0; i < taxonomy->labels->len; i++)
        if (g_strcmp0 (((DsScanLabel *) taxonomy->labels->pdata[i])->label, parts[1]) == 0)
          {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         _("Taxonomy %s, line %u: label “%s” appears twice"), name, n + 1,
                         parts[1]);
            return NULL;
          }
      label = g_new0 (DsScanLabel, 1);
      label->group = g_strdup (parts[0]);
      label->label = g_strdup (parts[1]);
      if (n_parts == 3)
        {
          gunichar key = g_unichar_tolower (g_utf8_get_char (parts[2]));
          if (strchr (DS_SCAN_RESERVED_KEYS, (int) key) != NULL || key_is_taken (taxonomy, key)
              || !g_unichar_isalnum (key))
            {
              scan_label_free (label);
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           _("Taxonomy %s, line %u: key “%s” is reserved or already used; "
                             "choose another digit or letter"), name, n + 1, parts[2]);
              return NULL;
            }
          label->key = key;
        }
      g_ptr_array_add (taxonomy->labels, label);
    }
  if (taxonomy->labels->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("Taxonomy %s has no labels"), name);
      return NULL;
    }
  for (guint i = 0; i < taxonomy->labels->len; i++)
    {
      DsScanLabel *label = taxonomy->labels->pdata[i];
      while (label->key == 0 && *pool != '\0')
        {
          if (!key_is_taken (taxonomy, (gunichar) *pool))
            label->key = (gunichar) *pool;
          pool++;
        }
      if (label->key == 0)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       _("Taxonomy %s has more labels than free keys (%u); use fewer labels"),
                       name, taxonomy->labels->len);
          return NULL;
        }
    }
  return g_steal_pointer (&taxonomy);
}

DsScanTaxonomy *
ds_scan_taxonomy_new_from_file (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  return ds_scan_taxonomy_new_from_text (text, path, error);
}

const DsScanLabel *
ds_scan_taxonomy_lookup_key (const DsScanTaxonomy *taxonomy, gunichar key)
{
  key = g_unichar_tolower (key);
  for (guint i = 0; i < taxonomy->labels->len; i++)
    {
      const DsScanLabel *label = taxonomy->labels->pdata[i];
      if (label->key == key)
        return label;
    }
  return NULL;
}
