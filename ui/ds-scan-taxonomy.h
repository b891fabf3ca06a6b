/* ds-scan-taxonomy.h — the list of labels offered by the scanning view, with their keys.
 *
 * GLib only (tested headless).  The file format is documented in data/taxonomy-default.txt.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *group;      /* "real", "bogus", "unsure", …                                   */
  char *label;      /* stored in the label database                                     */
  gunichar key;     /* lower-case digit or letter that selects it                       */
} DsScanLabel;

typedef struct
{
  GPtrArray *labels;   /* DsScanLabel, in file order                                    */
  char *source;        /* file it came from, or NULL for the built-in default            */
} DsScanTaxonomy;

/* The built-in default (identical to data/taxonomy-default.txt).  Free with _free. */
DsScanTaxonomy *ds_scan_taxonomy_new_default (void);

/* Parses text in the documented format; source names it in error messages. */
DsScanTaxonomy *ds_scan_taxonomy_new_from_text (const char *text, const char *source,
                                                GError **error);
DsScanTaxonomy *ds_scan_taxonomy_new_from_file (const char *path, GError **error);
void ds_scan_taxonomy_free (DsScanTaxonomy *taxonomy);

/* The label selected by key (case-insensitive), or NULL (borrowed). */
const DsScanLabel *ds_scan_taxonomy_lookup_key (const DsScanTaxonomy *taxonomy, gunichar key);

/* Keys the scanning view reserves for navigation (never given to labels). */
#define DS_SCAN_RESERVED_KEYS "gjkn "

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsScanTaxonomy, ds_scan_taxonomy_free)

G_END_DECLS
