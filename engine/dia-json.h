/* dia-json.h — a minimal streaming JSON writer for metadata and summaries.
 *
 * GLib core has no JSON and the engine may not use json-glib (it is GObject based).  The writer
 * tracks nesting and commas; numbers that are not finite are written as null.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiaJson DiaJson;

DiaJson *dia_json_new (void);
void     dia_json_free (DiaJson *json);

void dia_json_begin_object (DiaJson *json, const char *key);  /* key NULL inside arrays/top */
void dia_json_end_object (DiaJson *json);
void dia_json_begin_array (DiaJson *json, const char *key);
void dia_json_end_array (DiaJson *json);
void dia_json_string (DiaJson *json, const char *key, const char *value);
void dia_json_double (DiaJson *json, const char *key, double value);
void dia_json_int (DiaJson *json, const char *key, gint64 value);
void dia_json_bool (DiaJson *json, const char *key, gboolean value);

/* The text so far (borrowed). */
const char *dia_json_get_text (const DiaJson *json);

/* Writes the text to path, with a final newline. */
gboolean dia_json_write_file (const DiaJson *json, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaJson, dia_json_free)

G_END_DECLS
