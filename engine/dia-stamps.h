/* dia-stamps.h — kernel candidates (stamps) and the bookkeeping of their fate.
 *
 * Selection (ALGORITHMS.md §2.1): stars found on the science image, S/N in (10, 500) by
 * default, unresolved, isolated, box of side 2·kernel_size+1 fully inside the image (ip_diffim
 * keeps a further kernel width away from the edge; we do not, see dia-stamps.c), no
 * NO_DATA/BAD/SAT/EDGE pixel in the box of either image.  Stamps go into
 * 128-px cells, brightest first; at most n_per_cell of the good ones per cell are used.  Every
 * rejection is recorded with its reason so the UI can draw it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef enum
{
  DIA_STAMP_GOOD,
  DIA_STAMP_RESERVE,            /* good, but beyond n_per_cell in its cell (not yet used) */
  DIA_STAMP_REJECT_EDGE,
  DIA_STAMP_REJECT_MASKED,
  DIA_STAMP_REJECT_SATURATED,
  DIA_STAMP_REJECT_SNR,
  DIA_STAMP_REJECT_CROWDED,
  DIA_STAMP_REJECT_EXTENDED,
  DIA_STAMP_REJECT_KERNEL_SUM,  /* kernel-sum clipping (§2.5)                    */
  DIA_STAMP_REJECT_RESID_MEAN,  /* |mean of d/σ| > 0.25 (§2.3)                   */
  DIA_STAMP_REJECT_RESID_RMS,   /* rms of d/σ > 1.5                              */
  DIA_STAMP_REJECT_SPATIAL,     /* failed the test against the spatial model      */
  DIA_STAMP_REJECT_SINGULAR,    /* its own system could not be solved            */
} DiaStampStatus;

typedef struct
{
  double x, y;                  /* centre, buffer pixels (integer-rounded for the box) */
  double flux, snr;             /* of the star it was made from                        */
  int cell;                     /* index of its 128-px cell                            */
  DiaStampStatus status;
  int iteration;                /* fit iteration in which the status was set          */
  double kernel_sum;            /* from its own single-stamp fit (NAN if not fitted)  */
  double resid_mean, resid_rms; /* of d/σ after the last fit that visited it          */
} DiaStamp;

typedef struct
{
  double min_snr, max_snr;      /* 10, 500                                           */
  int cell_size;                /* 128                                               */
  int n_per_cell;               /* 5                                                 */
  int max_stamps;               /* 1000                                              */
  int min_stamps;               /* 3                                                 */
} DiaStampParams;

void dia_stamp_params_init (DiaStampParams *params);

/* Translatable short reason, e.g. "masked pixel", "kernel sum outlier". */
const char *dia_stamp_status_to_string (DiaStampStatus status);

/* The same reason untranslated, for files (JSON keys and values must not depend on the
 * locale). */
const char *dia_stamp_status_to_key (DiaStampStatus status);

/* stars: GArray of DiaStar found on `science` (dia-psf.h).  kernel_size: odd kernel side.
 * Returns a GArray of DiaStamp, good ones first within each cell.  Errors: DIA_ERROR_NO_STARS
 * when fewer than min_stamps are good, naming the main rejection reasons. */
GArray *dia_stamps_select (const DiaImage *science, const DiaImage *tmpl, const GArray *stars,
                           int kernel_size, const DiaStampParams *params, GError **error);

G_END_DECLS
