/* dia-psf.h — star finding and PSF models that vary across the field.
 *
 * dia_stars_find() finds local maxima of the background-subtracted image above a threshold in
 * σ of the local sky noise, measures centroid, flux (aperture), peak, S/N and second moments,
 * and flags each star (saturated, masked, near edge, not isolated).  dia_psf_estimate() takes
 * the isolated, unsaturated, unmasked stars with S/N in a useful range, fits an analytic model
 * to each (elliptical Moffat, or Gaussian, with GSL multifit_nlinear), fits the model parameters
 * as a low-order polynomial over the field, and also builds a mean pixel stamp of the residual
 * (model + mean residual = pixel PSF).  A DiaPsf is immutable and reference-counted; every
 * query below is safe from any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef struct _DiaBackground DiaBackground;
typedef struct _DiaPsf DiaPsf;

typedef enum
{
  DIA_STAR_SATURATED    = 1 << 0, /* a pixel within 2 FWHM is SAT or above saturation     */
  DIA_STAR_MASKED       = 1 << 1, /* a pixel of its box carries an unusable mask bit      */
  DIA_STAR_EDGE         = 1 << 2, /* too close to the image edge                          */
  DIA_STAR_CROWDED      = 1 << 3, /* a neighbour brighter than 10 % lies within 3 FWHM   */
  DIA_STAR_EXTENDED     = 1 << 4, /* second moments much larger than the PSF (galaxy)     */
  DIA_STAR_COSMIC       = 1 << 5, /* sharper than any PSF (cosmic ray, hot pixel)         */
} DiaStarFlags;

typedef struct
{
  double x, y;                  /* centroid, buffer pixels                             */
  double flux;                  /* background-subtracted aperture flux, pix units      */
  double flux_err;
  double peak;                  /* background-subtracted peak value                   */
  double snr;                   /* flux / flux_err                                      */
  double ixx, iyy, ixy;         /* second moments, px²                                  */
  guint flags;                  /* DiaStarFlags                                         */
  double r_aperture;            /* px, radius of the aperture `flux` was measured in    */
} DiaStar;

/* threshold_sigma: detection threshold in sky σ (e.g. 10).  max_stars caps the list (the
 * brightest are kept), 0 = no cap.  Returns a GArray of DiaStar sorted by decreasing flux.
 * An image without any star gives an empty array, not an error. */
GArray *dia_stars_find (const DiaImage *image, const DiaBackground *bg, double threshold_sigma,
                        int max_stars, DiaMonitor *monitor, GError **error);

typedef struct
{
  double min_snr, max_snr;      /* stars used for the PSF (default 20 .. 2000)          */
  int max_stars;                /* default 200                                          */
  int spatial_order;            /* polynomial order of the parameter fields, default 2 */
  int stamp_size;               /* odd size of the pixel PSF stamp, default 0 = auto   */
} DiaPsfParams;

void dia_psf_params_init (DiaPsfParams *params);

/* Estimates the PSF of image.  stars may be NULL (found internally).  Errors: DIA_ERROR_NO_STARS
 * when fewer than 3 usable stars exist, with a message that says how many were found and why
 * they were rejected. */
DiaPsf *dia_psf_estimate (const DiaImage *image, const DiaBackground *bg, const GArray *stars,
                          const DiaPsfParams *params, DiaMonitor *monitor, GError **error);

/* A circular Gaussian PSF, constant over the field (for images with a known FWHM and no stars,
 * and for tests). */
DiaPsf *dia_psf_new_gaussian (double fwhm);

/* A constant PSF from a pixel image (e.g. a WebbPSF file): recentred on its centroid,
 * normalised to unit sum, cropped or padded to an odd size. */
DiaPsf *dia_psf_new_from_pixels (const float *pixels, int width, int height, GError **error);

DiaPsf *dia_psf_ref (DiaPsf *psf);
void    dia_psf_unref (DiaPsf *psf);

/* FWHM in px at (x, y): 2.35482 sqrt((Ixx+Iyy)/2) of the model. */
double dia_psf_fwhm (const DiaPsf *psf, double x, double y);

/* Second moments (px²) of the PSF at (x, y). */
void dia_psf_moments (const DiaPsf *psf, double x, double y, double *ixx, double *iyy,
                      double *ixy);

/* Noise-equivalent area 1 / Σ p² (px²) of the unit-sum PSF at (x, y). */
double dia_psf_nea (const DiaPsf *psf, double x, double y);

/* Renders the unit-sum PSF centred at pixel (size/2, size/2) plus the sub-pixel offset
 * (dx, dy) into out[size*size].  size must be odd. */
void dia_psf_render (const DiaPsf *psf, double x, double y, double dx, double dy, float *out,
                     int size);

/* Natural stamp size (odd) covering the PSF to ~99.5 % of its flux. */
int dia_psf_stamp_size (const DiaPsf *psf);

/* Number of stars the model was built from (0 for analytic or pixel PSFs), and a one-line
 * description for metadata ("Moffat β=3.1, FWHM 3.02–3.41 px, 87 stars"). Caller frees. */
int   dia_psf_n_stars (const DiaPsf *psf);
char *dia_psf_dup_description (const DiaPsf *psf);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaPsf, dia_psf_unref)

G_END_DECLS
