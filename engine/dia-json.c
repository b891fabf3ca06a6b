/* dia-json.c — see dia-json.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-json.h"

#include <math.h>

struct _DiaJson
{
  GString *text;
  int depth;
  gboolean need_comma[64];      /* per depth: a value was already written */
};

DiaJson *
dia_json_new (void)
{
  DiaJson *json = g_new0 (DiaJson, 1);
  json->text = g_string_new (NULL);
  return json;
}

void
dia_json_free (DiaJson *json)
{
  if (json == NULL)
    return;
  g_string_free (json->text, TRUE);
  g_free (json);
}

static void
json_escape (GString *s, const char *v)
{
  g_string_append_c (s, '"');
  for (const unsigned char *p = (const unsigned char *) v; p && *p; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (s, "\\\""); break;
        case '\\': g_string_append (s, "\\\\"); break;
        case '\n': g_string_append (s, "\\n"); break;
        case '\r': g_string_append (s, "\\r"); break;
        case '\t': g_string_append (s, "\\t"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (s, "\\u%04x", *p);
          else
            g_string_append_c (s, (char) *p);
        }
    }
  g_string_append_c (s, '"');
}

static void
json_prefix (DiaJson *json, const char *key)
{
  if (json->need_comma[json->depth])
    g_string_append_c (json->text, ',');
  if (json->depth > 0)
    {
      g_string_append_c (json->text, '\n');
      for (int i = 0; i < json->depth; i++)
        g_string_append (json->text, "  ");
    }
  json->need_comma[json->depth] = TRUE;
  if (key)
    {
      json_escape (json->text, key);
      g_string_append (json->text, ": ");
    }
}

static void
json_open (DiaJson *json, const char *key, char c)
{
  json_prefix (json, key);
  g_string_append_c (json->text, c);
  if (json->depth < 63)
    json->depth++;
  json->need_comma[json->depth] = FALSE;
}

static void
json_close (DiaJson *json, char c)
{
  gboolean had = json->need_comma[json->depth];
  if (json->depth > 0)
    json->depth--;
  if (had)
    {
      g_string_append_c (json->text, '\n');
      for (int i = 0; i < json->depth; i++)
        g_string_append (json->text, "  ");
    }
  g_string_append_c (json->text, c);
}

void dia_json_begin_object (DiaJson *json, const char *key) { json_open (json, key, '{'); }
void dia_json_end_object (DiaJson *json) { json_close (json, '}'); }
void dia_json_begin_array (DiaJson *json, const char *key) { json_open (json, key, '['); }
void dia_json_end_array (DiaJson *json) { json_close (json, ']'); }

void
dia_json_string (DiaJson *json, const char *key, const char *value)
{
  json_prefix (json, key);
  if (value)
    json_escape (json->text, value);
  else
    g_string_append (json->text, "null");
}

void
dia_json_double (DiaJson *json, const char *key, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_prefix (json, key);
  if (!isfinite (value))
    g_string_append (json->text, "null");
  else
    g_string_append (json->text, g_ascii_formatd (buf, sizeof buf, "%.10g", value));
}

void
dia_json_int (DiaJson *json, const char *key, gint64 value)
{
  json_prefix (json, key);
  g_string_append_printf (json->text, "%" G_GINT64_FORMAT, value);
}

void
dia_json_bool (DiaJson *json, const char *key, gboolean value)
{
  json_prefix (json, key);
  g_string_append (json->text, value ? "true" : "false");
}

const char *
dia_json_get_text (const DiaJson *json)
{
  return json->text->str;
}

gboolean
dia_json_write_file (const DiaJson *json, const char *path, GError **error)
{
  g_autofree char *s = g_strconcat (json->text->str, "\n", NULL);
  return g_file_set_contents (path, s, -1, error);
}
