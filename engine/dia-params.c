/* dia-params.c — everything generated from dia-params-table.h.
 *
 * Lists (kernel.sigmas, kernel.degrees) have basis.n_gauss elements; setting kernel.n_gauss
 * first and the lists afterwards is the natural order, and a list of a different length sets
 * n_gauss itself (so "--sigmas 0.8,1.6" alone works).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-params.h"
#include "dia-error.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

static const DiaParamInfo params_table[] = {
#define DIA_PARAM(key, type, field, min, max, def, label, unit, stage) \
  { key, DIA_PARAM_##type, offsetof (DiaSubtractRequest, field), min, max, def, label, unit, \
    DIA_STAGE_##stage },
#include "dia-params-table.h"
#undef DIA_PARAM
};

const DiaParamInfo *
dia_params_table (int *n_params)
{
  *n_params = G_N_ELEMENTS (params_table);
  return params_table;
}

const DiaParamInfo *
dia_params_lookup (const char *key)
{
  for (size_t i = 0; i < G_N_ELEMENTS (params_table); i++)
    if (strcmp (params_table[i].key, key) == 0)
      return &params_table[i];
  return NULL;
}

static gboolean
params_range_error (const DiaParamInfo *p, const char *value, GError **error)
{
  g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
               _("Parameter %s: “%s” is outside the allowed range %g to %g"), p->key, value,
               p->min, p->max);
  return FALSE;
}

static gboolean
params_parse_double (const char *text, double *out)
{
  char *end = NULL;
  *out = g_ascii_strtod (text, &end);
  return end != text && *end == '\0' && isfinite (*out);
}

static gboolean
params_parse_int (const char *text, int *out)
{
  char *end = NULL;
  gint64 v = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0' || v < G_MININT || v > G_MAXINT)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

gboolean
dia_params_set (DiaSubtractRequest *request, const char *key, const char *value,
                GError **error)
{
  const DiaParamInfo *p = dia_params_lookup (key);
  guint8 *base = (guint8 *) request;
  g_autofree char *v = NULL;

  if (p == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID, _("Unknown parameter “%s”"), key);
      return FALSE;
    }
  v = g_strstrip (g_strdup (value ? value : ""));
  switch (p->type)
    {
    case DIA_PARAM_INT:
      {
        int x;
        if (!params_parse_int (v, &x) || x < p->min || x > p->max)
          return params_range_error (p, v, error);
        if (strcmp (p->key, "kernel.size") == 0 && x % 2 == 0)
          {
            g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                         _("Parameter %s: the kernel size must be odd (got %d)"), p->key, x);
            return FALSE;
          }
        *(int *) (base + p->offset) = x;
        return TRUE;
      }
    case DIA_PARAM_DOUBLE:
      {
        double x;
        if (!params_parse_double (v, &x) || x < p->min || x > p->max)
          return params_range_error (p, v, error);
        *(double *) (base + p->offset) = x;
        return TRUE;
      }
    case DIA_PARAM_BOOL:
      {
        gboolean b;
        if (g_ascii_strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0
            || g_ascii_strcasecmp (v, "yes") == 0)
          b = TRUE;
        else if (g_ascii_strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0
                 || g_ascii_strcasecmp (v, "no") == 0)
          b = FALSE;
        else
          {
            g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                         _("Parameter %s: “%s” is not true or false"), p->key, v);
            return FALSE;
          }
        *(gboolean *) (base + p->offset) = b;
        return TRUE;
      }
    case DIA_PARAM_FLAVOR:
      {
        const DiaFlavorClass *f = dia_flavor_lookup (v);
        if (f == NULL)
          {
            GString *names = g_string_new (NULL);
            for (int i = 0; i < dia_flavor_count (); i++)
              g_string_append_printf (names, "%s%s", i ? ", " : "", dia_flavor_get (i)->name);
            g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                         _("Unknown flavour “%s” (known: %s)"), v, names->str);
            g_string_free (names, TRUE);
            return FALSE;
          }
        *(DiaFlavorId *) (base + p->offset) = f->id;
        return TRUE;
      }
    case DIA_PARAM_DLIST:
    case DIA_PARAM_ILIST:
      {
        g_auto (GStrv) parts = g_strsplit (v, ",", -1);
        int n = g_strv_length (parts);
        double dv[DIA_KERNEL_MAX_GAUSS];
        int iv[DIA_KERNEL_MAX_GAUSS];
        if (n < 1 || n > DIA_KERNEL_MAX_GAUSS)
          {
            g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                         _("Parameter %s: give 1 to %d comma-separated values"), p->key,
                         DIA_KERNEL_MAX_GAUSS);
            return FALSE;
          }
        for (int i = 0; i < n; i++)
          {
            g_strstrip (parts[i]);
            if (p->type == DIA_PARAM_DLIST
                    ? (!params_parse_double (parts[i], &dv[i]) || dv[i] < p->min
                       || dv[i] > p->max)
                    : (!params_parse_int (parts[i], &iv[i]) || iv[i] < p->min
                       || iv[i] > p->max))
              return params_range_error (p, parts[i], error);
          }
        if (p->type == DIA_PARAM_DLIST)
          memcpy (base + p->offset, dv, sizeof (double) * n);
        else
          memcpy (base + p->offset, iv, sizeof (int) * n);
        if (n != request->basis.n_gauss)
          {
            /* Extend the other list by repeating its last element. */
            int old = request->basis.n_gauss;
            for (int i = old; i < n; i++)
              {
                if (p->type == DIA_PARAM_DLIST)
                  request->basis.degree[i] = request->basis.degree[MAX (old - 1, 0)];
                else
                  request->basis.sigma[i] = request->basis.sigma[MAX (old - 1, 0)] * 2.0;
              }
            request->basis.n_gauss = n;
          }
        return TRUE;
      }
    }
  return FALSE;
}

char *
dia_params_dup_value (const DiaSubtractRequest *request, const char *key)
{
  const DiaParamInfo *p = dia_params_lookup (key);
  const guint8 *base = (const guint8 *) request;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (p == NULL)
    return NULL;
  switch (p->type)
    {
    case DIA_PARAM_INT:
      return g_strdup_printf ("%d", *(const int *) (base + p->offset));
    case DIA_PARAM_DOUBLE:
      return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.10g",
                                        *(const double *) (base + p->offset)));
    case DIA_PARAM_BOOL:
      return g_strdup (*(const gboolean *) (base + p->offset) ? "true" : "false");
    case DIA_PARAM_FLAVOR:
      return g_strdup (dia_flavor_get (*(const DiaFlavorId *) (base + p->offset))->name);
    case DIA_PARAM_DLIST:
    case DIA_PARAM_ILIST:
      {
        GString *s = g_string_new (NULL);
        for (int i = 0; i < request->basis.n_gauss; i++)
          {
            if (i)
              g_string_append_c (s, ',');
            if (p->type == DIA_PARAM_DLIST)
              g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.6g",
                                                   ((const double *) (base + p->offset))[i]));
            else
              g_string_append_printf (s, "%d", ((const int *) (base + p->offset))[i]);
          }
        return g_string_free (s, FALSE);
      }
    }
  return NULL;
}

guint64
dia_params_hash (const DiaSubtractRequest *request, DiaStage stage)
{
  /* FNV-1a over the text forms, so the hash is stable across builds and padding. */
  guint64 h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < G_N_ELEMENTS (params_table); i++)
    {
      g_autofree char *v = NULL;
      if (params_table[i].stage > stage)
        continue;
      v = dia_params_dup_value (request, params_table[i].key);
      for (const char *s = params_table[i].key; *s; s++)
        h = (h ^ (guint8) *s) * 0x100000001b3ULL;
      h = (h ^ '=') * 0x100000001b3ULL;
      for (const char *s = v; *s; s++)
        h = (h ^ (guint8) *s) * 0x100000001b3ULL;
      h = (h ^ ';') * 0x100000001b3ULL;
    }
  return h;
}

void
dia_params_save (const DiaSubtractRequest *request, GKeyFile *key_file, const char *group)
{
  g_key_file_set_integer (key_file, group, "version", DIA_REQUEST_VERSION);
  for (size_t i = 0; i < G_N_ELEMENTS (params_table); i++)
    {
      g_autofree char *v = dia_params_dup_value (request, params_table[i].key);
      g_key_file_set_string (key_file, group, params_table[i].key, v);
    }
}

gboolean
dia_params_load (DiaSubtractRequest *request, GKeyFile *key_file, const char *group,
                 GError **error)
{
  DiaSubtractRequest r = *request;
  if (g_key_file_has_key (key_file, group, "version", NULL))
    {
      int version = g_key_file_get_integer (key_file, group, "version", NULL);
      if (version > DIA_REQUEST_VERSION)
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                       _("The parameters were saved by a newer Diffscope (version %d; this one "
                         "reads up to %d)"), version, DIA_REQUEST_VERSION);
          return FALSE;
        }
    }
  /* n_gauss before the lists so that their length check sees the saved count. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < G_N_ELEMENTS (params_table); i++)
      {
        const DiaParamInfo *p = &params_table[i];
        g_autofree char *v = NULL;
        gboolean is_list = p->type == DIA_PARAM_DLIST || p->type == DIA_PARAM_ILIST;
        if ((pass == 0) == is_list)
          continue;
        v = g_key_file_get_string (key_file, group, p->key, NULL);
        if (v && !dia_params_set (&r, p->key, v, error))
          return FALSE;
      }
  *request = r;
  return TRUE;
}
