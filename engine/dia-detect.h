/* dia-detect.h — detection on a difference (or score) image: DiaCatalog and its parameters.
 *
 * Detection follows ALGORITHMS.md §6.4–6.6.  The difference D (with variance V) is smoothed by
 * a normalised Gaussian g of width σ_s (the determinant radius of D's PSF, which makes g an
 * approximation of the PSF-matched filter) and turned into an S/N image
 *     ν(x) = (g ⋆ D)(x) / sqrt((g² ⋆ V)(x)),
 * with zero padding at the borders and at unusable pixels (BAD, NO_DATA, EDGE), so ν keeps
 * unit variance up to the usable edge and edge sources are found (dia-measure flags them).
 * Because V ignores the pixel covariance a convolved difference has, ν is optionally
 * normalised by its own median and robust σ (catalog->sn_offset, sn_scale;
 * params.rescale_noise).  Pixels with ν ≥ threshold (and ≤ −threshold)
 * form 8-connected footprints; footprints smaller than min_area pixels are dropped.  Peaks
 * are the local maxima of |ν| (sub-pixel position from a quadratic fit), a fainter one kept
 * only where |ν| dips by max(2, 15 %) towards every brighter peak.  All footprints are then
 * grown together by a circular stencil of radius int(grow_sigma·σ_s + 0.5), and footprints
 * whose grown areas overlap are merged.  A merged footprint with at most one positive and one
 * negative peak is one source (a dipole candidate when it has both, measured by dia-measure);
 * with more peaks each peak becomes a source sharing the footprint (a minimal deblend).  On
 * a score image (already a matched-filter output in σ units) the smoothing is skipped.
 *
 * A DiaCatalog is reference-counted.  It is built by dia_detect(), filled in place by
 * dia_measure() (dia-measure.h) and is read-only afterwards: any thread may then read it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef struct _DiaPsf DiaPsf;

/* Detection and measurement knobs; every field is a row of dia-params-table.h (stage DETECT),
 * defaults from dia_detect_params_init(). */
typedef struct
{
  double threshold;             /* |ν| threshold, σ (5)                                   */
  gboolean negative;            /* also detect negative sources (TRUE)                    */
  int min_area;                 /* px above threshold, before growth (1)                  */
  double grow_sigma;            /* growth radius in units of σ_s (2.4)                    */
  gboolean merge;               /* merge overlapping grown footprints (dipoles) (TRUE)    */
  gboolean rescale_noise;       /* divide ν by its robust σ (TRUE)                        */
  double smooth_sigma;          /* σ_s, px; 0 = determinant radius of the PSF (0)         */
  double ap_radius;             /* aperture radius for apFlux, px (12, as LSST)           */
  double dipole_min_snr;        /* lobe S/N for isDipole, 5√2 (7.07)                      */
  double dipole_max_flux_ratio; /* |F_lobe| / (|F₊| + |F₋|) must stay below (0.65)        */
  int dipole_max_area;          /* footprints larger than this are not fitted, px (1200)  */
} DiaDetectParams;

void dia_detect_params_init (DiaDetectParams *params);

/* Fake-injection knobs (dia-fakes.h); rows of dia-params-table.h, stage DETECT. */
typedef struct
{
  int n_fakes;                  /* 500                                                    */
  int seed;                     /* 1                                                      */
  double snr_min, snr_max;      /* S/N range of the fakes on D, log-uniform (2, 100)      */
  double mag_min, mag_max;      /* used instead of S/N when mag_max > mag_min and the     */
                                /* science image has a zero point (0, 0 = off)            */
  double template_fraction;     /* fraction injected into the template (negative) (0)    */
  gboolean allow_masked;        /* allow fakes on masked pixels (FALSE)                   */
  double border;                /* px kept free at the image border (20)                 */
  double match_radius;          /* px (2.0)                                               */
  gboolean add_noise;           /* add the fakes' own photon noise (TRUE)                 */
} DiaFakesParams;

void dia_fakes_params_init (DiaFakesParams *params);

/* One horizontal run of footprint pixels, x0..x1 inclusive, buffer coordinates. */
typedef struct
{
  int y, x0, x1;
} DiaSpan;

typedef struct
{
  double x, y;                  /* sub-pixel position of the extremum of ν, buffer px     */
  int ix, iy;                   /* the pixel itself                                       */
  double significance;          /* ν there, signed (negative for negative footprints)     */
} DiaPeak;

/* DiaSourceFlags: bits of DiaSource.flags (pixel flags follow §6.8, "anywhere in the
 * footprint" unless named *_CENTER, which means the 3×3 pixels around the centroid). */
typedef enum
{
  DIA_SOURCE_EDGE              = 1u << 0,  /* EDGE pixel in footprint or PSF box clipped   */
  DIA_SOURCE_BAD               = 1u << 1,
  DIA_SOURCE_SATURATED         = 1u << 2,
  DIA_SOURCE_SATURATED_CENTER  = 1u << 3,
  DIA_SOURCE_INTERPOLATED      = 1u << 4,
  DIA_SOURCE_SUSPECT           = 1u << 5,
  DIA_SOURCE_CR                = 1u << 6,
  DIA_SOURCE_NO_DATA           = 1u << 7,
  DIA_SOURCE_BAD_CENTER        = 1u << 8,
  DIA_SOURCE_EDGE_CENTER       = 1u << 9,
  DIA_SOURCE_PSF_FLUX_FAILED   = 1u << 10, /* no usable pixel under the PSF                */
  DIA_SOURCE_DIPOLE_ATTEMPTED  = 1u << 11,
  DIA_SOURCE_DIPOLE_FAILED     = 1u << 12, /* fit attempted but did not converge           */
  DIA_SOURCE_SHAPE_FAILED      = 1u << 13, /* second moments not measurable                */
} DiaSourceFlags;

/* One diaSource: detection fields first, then what dia_measure() fills (NAN until then).
 * Positions are buffer pixels of the detected image; fluxes in its pix units. */
typedef struct
{
  int id;                       /* 1-based, in catalogue order                           */
  int span_first, n_spans;      /* grown footprint: catalog->spans[span_first ..]          */
  int peak_first, n_peaks;      /* catalog->peaks[peak_first ..], by significance desc.    */
  DiaRect bbox;                 /* of the grown footprint                                */
  int area;                     /* px in the grown footprint                             */
  gboolean has_positive, has_negative;

  double x, y;                  /* centroid (dipoles: mean of the lobes)                 */
  double ra, dec;               /* degrees, NAN without WCS                              */
  double psf_flux, psf_flux_err;/* forced PSF flux at (x, y) with D's PSF                 */
  double psf_chi2;              /* Σ (D − F P)² / V over the PSF box                      */
  int psf_npix;
  double ap_flux, ap_flux_err;  /* circular aperture of params.ap_radius                   */
  double snr;                   /* significance of the first peak (signed ν), σ           */
  gboolean is_negative;         /* only negative peaks contributed                       */
  gboolean is_dipole;           /* dipole fit classified it as a dipole                  */
  double dipole_pos_x, dipole_pos_y, dipole_neg_x, dipole_neg_y;
  double dipole_pos_flux, dipole_neg_flux;  /* both ≥ 0: lobes are +F₊ P − F₋ P           */
  double dipole_mean_flux, dipole_mean_flux_err; /* (F₊ + F₋)/2                          */
  double dipole_flux_diff, dipole_flux_diff_err; /* F₊ − F₋                              */
  double dipole_length;         /* lobe separation, px                                   */
  double dipole_angle;          /* atan2(y₊ − y₋, x₊ − x₋), degrees CCW from +x          */
  double dipole_chi2;           /* χ² per degree of freedom of the dipole fit             */
  double dipole_snr;            /* sqrt((F₊/σ₊)² + (F₋/σ₋)²)                             */
  double ixx, iyy, ixy;         /* second moments of |D| (weight-corrected), px²          */
  guint32 flags;                /* DiaSourceFlags                                        */
} DiaSource;

typedef struct _DiaCatalog DiaCatalog;

struct _DiaCatalog
{
  gint ref_count;
  int width, height;            /* of the detected image                                 */
  int x0, y0;                   /* its PARENT origin                                     */
  GArray *sources;              /* DiaSource                                             */
  GArray *spans;                /* DiaSpan, grouped per source                           */
  GArray *peaks;                /* DiaPeak, grouped per source                           */
  DiaDetectParams params;       /* as used                                               */
  gboolean on_score;            /* detected on a score image (no smoothing)              */
  double smooth_sigma;          /* σ_s actually used, px (0 on a score image)            */
  double psf_fwhm;              /* FWHM of the PSF used for measurement, px (NAN before)  */
  double sn_scale;              /* robust σ of the raw ν (1 when not rescaled)            */
  double sn_offset;             /* its median, subtracted before scaling (0 if not)       */
  gint64 n_pixels;              /* usable pixels searched                                */
  int n_footprints_positive;    /* before merging                                        */
  int n_footprints_negative;
  int n_dipoles;                /* after measurement                                     */
  double detect_ms, measure_ms;
  /* With dia_detect_again(): the final ν plane (width × height floats, GBytes) and the
   * image it came from (a reference), so that a new threshold skips the smoothing; NULL
   * otherwise. */
  GBytes *sn_plane;
  DiaImage *sn_image;
};

/* Detects on a difference image.  psf: D's PSF (its determinant radius at the image centre
 * gives σ_s unless params->smooth_sigma > 0; it may then be NULL).  image must be frozen.
 * n_threads <= 0: all cores.  Returns a new catalogue (ref 1), possibly without sources.
 * Errors: DIA_ERROR_INVALID (no PSF and no σ_s), DIA_ERROR_NO_MEMORY, DIA_ERROR_CANCELLED. */
DiaCatalog *dia_detect (const DiaImage *image, const DiaPsf *psf, const DiaDetectParams *params,
                        int n_threads, DiaMonitor *monitor, GError **error);

/* Detects directly on a score image (σ units, or pix/√var when it has a finite variance): no
 * smoothing; psf only sets the growth radius (NULL: 1.5 px). */
DiaCatalog *dia_detect_score (const DiaImage *score, const DiaPsf *psf,
                              const DiaDetectParams *params, int n_threads,
                              DiaMonitor *monitor, GError **error);

/* Like dia_detect() (score: like dia_detect_score()), but the new catalogue keeps its ν plane,
 * and when `previous` (may be NULL) kept one for the same image, smoothing width and noise
 * rescaling, it is reused: only thresholding, footprints and merging run.  This is what
 * makes a threshold change in the window cost milliseconds instead of a full detection. */
DiaCatalog *dia_detect_again (const DiaCatalog *previous, const DiaImage *image,
                              const DiaPsf *psf, gboolean score, const DiaDetectParams *params,
                              int n_threads, DiaMonitor *monitor, GError **error);

/* A deep copy (sources, spans, peaks; the kept ν plane is shared), ref 1: to measure a
 * catalogue that has already been handed to another thread. */
DiaCatalog *dia_catalog_dup (const DiaCatalog *catalog);

DiaCatalog *dia_catalog_ref (DiaCatalog *catalog);
void        dia_catalog_unref (DiaCatalog *catalog);

/* Determinant radius (Ixx·Iyy − Ixy²)^¼ of psf at (x, y), px. */
double dia_psf_determinant_radius (const DiaPsf *psf, double x, double y);

/* Efficiency η = Σ P g / sqrt(Σ P² · Σ g²) of a Gaussian filter of width sigma_s against the
 * PSF at (x, y) (1 for the ideal matched filter).  A source of true PSF S/N s then has an
 * expected smoothed significance s·η (white noise), so with a threshold ν_t half of the
 * sources with s = ν_t·sn_scale/η are found. */
double dia_detect_filter_efficiency (const DiaPsf *psf, double x, double y, double sigma_s);

/* Expected number of detections above ν per pixel (one polarity) in a unit-variance Gaussian
 * random field made by smoothing white noise with a Gaussian of width sigma_s (px) and sampled
 * on the pixel grid.  Continuous field: at high ν each excursion component holds one maximum
 * and their density is the Euler-characteristic density in 2-D,
 *     ρ(ν) = λ₂ ν exp(−ν²/2) / (2π)^{3/2},  λ₂ = Var(∂ν/∂x) = 1 / (2 σ_s²)
 * (the smoothed field's autocorrelation is exp(−r²/4σ_s²)).  Sampling: an excursion is only
 * seen if it covers a pixel centre.  Excursion areas above a high level are exponentially
 * distributed with mean Ā = 2π / (ν² λ₂) (Slepian model: overshoot ~ Exp(mean 1/ν), area
 * 2π·overshoot/(ν λ₂)), and a region of area A covers a lattice point with probability
 * ≈ 1 − e^{−A}; averaging gives the factor Ā / (1 + Ā).  Returns ρ(ν) Ā / (1 + Ā). */
double dia_detect_expected_peak_density (double nu, double sigma_s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaCatalog, dia_catalog_unref)

G_END_DECLS
