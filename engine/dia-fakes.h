/* dia-fakes.h — fake-source injection and recovery (ALGORITHMS.md §7).
 *
 * dia_fakes_run() subtracts the pair once (baseline), draws N seeded PSF-shaped fakes with
 * S/N log-uniform in [snr_min, snr_max] on that baseline difference (or magnitudes uniform in
 * [mag_min, mag_max] when the science image has a zero point), injects them into the science
 * image (and a fraction into the template, where they appear negative), reruns the whole
 * subtraction, detects and measures, and matches fakes to sources within match_radius
 * (mutual nearest neighbours with the right sign).  The summary gives recall in S/N bins, SNR½
 * from a maximum-likelihood error-function fit, PSF-flux bias and scatter, centroid offsets and
 * false positives per million pixels.
 *
 * S/N of a fake: the PSF-weighted S/N on the difference, s = F · sqrt(Σ P² / V_D), with V_D
 * the baseline difference's variance plane (the simulator's transient S/N uses the same
 * definition).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-measure.h"

G_BEGIN_DECLS

typedef struct
{
  double x, y;                  /* injected position, buffer px                          */
  double flux;                  /* injected flux on the science scale (template fakes:   */
                                /* flux / kernel sum was added to the template)          */
  double snr;                   /* true PSF S/N on the difference                        */
  gboolean in_template;
  gboolean found;
  int source_id;                /* matched DiaSource id, 0 if none                       */
  double x_meas, y_meas;        /* matched source centroid                               */
  double psf_flux, psf_flux_err;/* of the matched source (sign-corrected for template    */
                                /* fakes, so it estimates flux)                          */
  double snr_meas;              /* its detection significance (absolute)                 */
  double forced_flux, forced_flux_err; /* forced PSF flux at the true position           */
} DiaFake;

typedef struct
{
  double lo, hi;                /* S/N bin edges                                          */
  int n, n_found;
} DiaRecallBin;

typedef struct
{
  GArray *fakes;                /* DiaFake                                               */
  GArray *bins;                 /* DiaRecallBin: [0,3) [3,5) [5,6) [6,8) [8,10) [10,20)  */
                                /* [20,50) [50,∞)                                         */
  double snr_half;              /* S/N at recall 0.5 from the fit (NAN if it failed)      */
  double snr_half_err;          /* its 1σ error (from the likelihood curvature)           */
  double erf_centre, erf_width, erf_max; /* ε(s) = ε_max Φ((s − centre)/width)            */
  double expected_snr_half;     /* threshold · sn_scale / η for the smoothing used        */
  double filter_efficiency;     /* η                                                      */
  double sn_scale;              /* of the detection on the injected difference            */
  double recall_above_10;       /* recall of fakes with S/N > 10                          */
  int n_bright;                 /* fakes with S/N > 20 used for bias and scatter          */
  double flux_bias;             /* median of (F_meas − F)/F over found fakes, S/N > 20    */
  double flux_scatter;          /* robust σ of (F_meas − F)/F, same fakes                 */
  double flux_pull_sigma;       /* robust σ of (F_meas − F)/σ_F                            */
  double centroid_dx, centroid_dy; /* median offset measured − true, px (S/N > 20)        */
  double centroid_rms;          /* rms distance, px (S/N > 20)                            */
  gint64 n_pixels;              /* pixels searched                                       */
  int n_sources, n_unmatched;   /* in the injected run                                   */
  int n_baseline;               /* sources in the baseline run                           */
  double fp_per_mpix;           /* unmatched sources of the injected run not present in  */
                                /* the baseline, per million pixels                      */
  double baseline_per_mpix;     /* all baseline detections per million pixels            */
  double baseline_ms, injected_ms;
} DiaRecovery;

/* The whole experiment on a pair (frozen, same grid) with request (its fakes and detect
 * fields).  Errors from the subtraction propagate. */
DiaRecovery *dia_fakes_run (DiaImage *tmpl, DiaImage *sci, const DiaSubtractRequest *request,
                            DiaMonitor *monitor, GError **error);
void dia_recovery_free (DiaRecovery *recovery);

/* Draws fakes (positions, S/N, flux) for baseline result: positions uniform inside the border,
 * at least 3 FWHM apart, on usable pixels unless allow_masked.  Deterministic in the seed. */
GArray *dia_fakes_draw (const DiaSubtractResult *baseline, const DiaFakesParams *params,
                        GError **error);

/* A copy of image with the PSF-shaped fakes (in_template matching is_template) added, flux
 * scaled by flux_scale (1 for the science, 1/kernel sum for the template), their photon noise
 * added when add_noise (seeded), variance updated and FAKE mask bits set on the 3×3 core.
 * Returns a new frozen image. */
DiaImage *dia_fakes_inject (const DiaImage *image, const DiaPsf *psf, const GArray *fakes,
                            gboolean is_template, double flux_scale, gboolean add_noise,
                            guint64 seed, GError **error);

/* Matches fakes to catalog sources (mutual nearest neighbours within radius px, positive
 * sources for science fakes, negative for template fakes); fills found, source_id and the
 * measured fields, and the forced PSF flux on diff. */
void dia_fakes_match (GArray *fakes, const DiaCatalog *catalog, const DiaImage *diff,
                      const DiaPsf *psf, double radius);

/* Maximum-likelihood fit of ε(s) = ε_max Φ((s − c)/w) to found/not-found outcomes.  Returns
 * FALSE when it does not converge.  *s_half is where ε = 0.5 (NAN if ε_max ≤ 0.5). */
gboolean dia_recall_fit_erf (const double *snr, const gboolean *found, int n, double *centre,
                             double *width, double *emax, double *s_half, double *s_half_err);

/* PREFIX_fakes.csv (one row per fake) and PREFIX_recovery.json (the summary). */
gboolean dia_recovery_write_csv (const DiaRecovery *recovery, const char *path, GError **error);
gboolean dia_recovery_write_json (const DiaRecovery *recovery, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaRecovery, dia_recovery_free)

G_END_DECLS
