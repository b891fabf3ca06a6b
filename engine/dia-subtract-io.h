/* dia-subtract-io.h — writing a subtraction's products: difference, matched image, kernel file
 * and the metadata JSON.  Shared by diffscope-cli and the app's export.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-subtract.h"

G_BEGIN_DECLS

typedef struct _DiaHeaderCards DiaHeaderCards;

/* Provenance and metadata cards for the difference header: inputs, software version, flavour,
 * which image was convolved, the flux scale (DIA_FSCL = 'science'), kernel sum and range,
 * condition number, basis, PSF FWHMs, stamp counts, quality, and every request parameter
 * (HIERARCH DIA P <key>).  template_path/science_path may be NULL. */
DiaHeaderCards *dia_subtract_dup_header_cards (const DiaSubtractResult *result,
                                               const char *template_path,
                                               const char *science_path);

/* PREFIX_diff.fits, PREFIX_matched.fits (if the result kept it), PREFIX_kernel.fits and
 * PREFIX_meta.json.  extra_timings (may be NULL) are appended to the JSON timings (I/O). */
gboolean dia_subtract_write_products (const DiaSubtractResult *result, const char *prefix,
                                      const char *template_path, const char *science_path,
                                      GError **error);

/* The kernel file: primary HDU = mosaic of the kernel sampled on an n×n grid (keys KGRIDN,
 * KGRIDXn/KGRIDYn give the sample positions), BASIS extension = the basis images stacked
 * vertically, COEFFS extension = coefficient matrix (rows = basis, columns = spatial terms). */
gboolean dia_subtract_write_kernel (const DiaSubtractPlan *plan, const char *path, int n_grid,
                                    GError **error);

/* All metadata as JSON text (caller frees). */
char *dia_subtract_dup_meta_json (const DiaSubtractResult *result, const char *template_path,
                                  const char *science_path);

G_END_DECLS
