/* ds-export.h — writing every product of the window's subtraction under one prefix.
 *
 * GLib/GIO and the engine only (no GTK).  The files are those of `diffscope-cli subtract
 * --detect`, written with the same engine writers:
 *   PREFIX_diff.fits      the difference (MEF: IMAGE, MASK, VARIANCE) with provenance cards
 *   PREFIX_matched.fits   the convolved image (the app's results do not keep it, so the
 *                         export executes the plan once more on the full frame for it)
 *   PREFIX_kernel.fits    the kernel mosaic, basis and coefficients (flavours with a kernel)
 *   PREFIX_meta.json      all metadata
 *   PREFIX_score.fits     the score image (score flavours only)
 *   PREFIX_sources.csv    the catalogue, with "# template/science/difference/config_hash"
 *   PREFIX_sources.fits   comment lines first as the CLI writes them (catalogue given only)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dia-detect.h"
#include "dia-subtract.h"

G_BEGIN_DECLS

/* Runs the export on a worker thread.  result (full frame) and catalog (detected on
 * result->diff, may be NULL) are referenced until the task ends; template_path/science_path
 * (may be NULL, e.g. for the demo) are recorded in the headers and the CSV. */
void ds_export_products_async (DiaSubtractResult *result, DiaCatalog *catalog,
                               const char *prefix, const char *template_path,
                               const char *science_path, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);

/* The base names of the files written, in the order above (NULL-terminated; g_strfreev), or
 * NULL with error set (the files written before the failure stay). */
char **ds_export_products_finish (GAsyncResult *result, GError **error);

/* The same, synchronously (any thread). */
char **ds_export_products (DiaSubtractResult *result, DiaCatalog *catalog, const char *prefix,
                           const char *template_path, const char *science_path,
                           GError **error);

G_END_DECLS
