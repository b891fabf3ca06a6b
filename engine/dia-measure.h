/* dia-measure.h — measurement of detected sources on a difference image, and catalogue files.
 *
 * For every source of a DiaCatalog (dia-detect.h): centroid (the sub-pixel maximum of the
 * matched-filter S/N image, i.e. the PSF-fit position for a Gaussian-like PSF), forced PSF flux
 * with the difference's PSF (F = Σ P D / Σ P², σ_F = sqrt(Σ P² V) / Σ P², as meas_base
 * PsfFlux), circular-aperture flux, second moments, the pixel flags of ALGORITHMS.md §6.8, a
 * dipole fit (two PSFs of opposite sign, GSL multifit_nlinear) for footprints with positive and
 * negative peaks, and (ra, dec) when the image has a WCS.  Column names of the files follow the
 * LSST diaSource (APDB) names; docs/detection.md defines every column.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-detect.h"
#include "dia-subtract.h"

G_BEGIN_DECLS

typedef struct _DiaJson DiaJson;

/* Measures every source of catalog in place (call once, before the catalogue is shared).
 * image: the frozen difference the catalogue was detected on (same size); psf: its PSF.
 * Runs on n_threads (<= 0: all cores); each worker converts coordinates with its own copy of
 * the WCS.  Errors: DIA_ERROR_SIZE_MISMATCH, DIA_ERROR_CANCELLED. */
gboolean dia_measure (DiaCatalog *catalog, const DiaImage *image, const DiaPsf *psf,
                      int n_threads, DiaMonitor *monitor, GError **error);

/* dia_measure(), copying the measurements of every source whose footprint and peaks are
 * identical in previous (may be NULL), when previous was measured on the same detection
 * image (dia_detect_again) with the same measurement parameters; only the other sources are
 * measured.  The result equals dia_measure()'s (tests/engine/test-detect.c). */
gboolean dia_measure_again (DiaCatalog *catalog, const DiaImage *image, const DiaPsf *psf,
                            const DiaCatalog *previous, int n_threads, DiaMonitor *monitor,
                            GError **error);

/* Forced PSF photometry at (x, y) (buffer px): flux and error in pix units, χ² and the number
 * of pixels used.  Pixels with BAD, NO_DATA, EDGE or a non-finite value are skipped.  Returns
 * FALSE when no pixel is usable.  *clipped (may be NULL) is set when the PSF box leaves the image.
 * Any thread. */
gboolean dia_measure_psf_flux (const DiaImage *image, const DiaPsf *psf, double x, double y,
                               double *flux, double *flux_err, double *chi2, int *n_pixels,
                               gboolean *clipped);

/* The PSF of a subtraction's difference: the science PSF when the template was convolved, the
 * template PSF otherwise (borrowed, may be NULL for flavours without PSFs). */
const DiaPsf *dia_subtract_result_get_diff_psf (const DiaSubtractResult *result);

/* Detection (on the score image when the result has one, else on the difference) plus
 * measurement on the difference, with the request's detection parameters (params NULL) or the
 * given ones.  Returns a new catalogue. */
DiaCatalog *dia_detect_and_measure (const DiaSubtractResult *result,
                                    const DiaDetectParams *params, DiaMonitor *monitor,
                                    GError **error);

/* The same through dia_detect_again(): the catalogue keeps its ν plane, and reuses the one of
 * `previous` (may be NULL) when it was detected on the same result with the same smoothing,
 * so only thresholding, footprints and measurement run (the window's threshold changes). */
DiaCatalog *dia_detect_and_measure_again (const DiaSubtractResult *result,
                                          const DiaDetectParams *params,
                                          const DiaCatalog *previous, DiaMonitor *monitor,
                                          GError **error);

/* CSV with a header line of column names; FITS: one binary-table HDU "DIASOURCE" with TUNITn
 * and TCOMMn.  Both overwrite path. */
gboolean dia_catalog_write_csv (const DiaCatalog *catalog, const char *path, GError **error);
gboolean dia_catalog_write_fits (const DiaCatalog *catalog, const char *path, GError **error);

/* Appends a "detection" object (parameters used, σ_s, noise scale, counts, timings) to json,
 * which must be inside an object. */
void dia_catalog_append_json (const DiaCatalog *catalog, DiaJson *json);

G_END_DECLS
