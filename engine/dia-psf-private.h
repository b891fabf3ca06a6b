/* dia-psf-private.h — what the PSF files (dia-psf.c: models and estimation; dia-psf-fit.c:
 * one-star fits; dia-psf-pixels.c: stamp PSFs; dia-stars.c: star finding; dia-moments.c:
 * adaptive moments) share inside the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-psf.h"

G_BEGIN_DECLS

#define FWHM_PER_SIGMA 2.3548200450309493
#define PSF_MAX_TERMS  15        /* (4 + 1)(4 + 2) / 2 */
#define PSF_MAX_STAMP  255

/* The PSF object (dia-psf.h keeps it opaque). */
typedef enum
{
  PSF_KIND_GAUSSIAN,
  PSF_KIND_MOFFAT,
  PSF_KIND_PIXELS,
} PsfKind;

struct _DiaPsf
{
  gint ref_count;
  PsfKind kind;
  /* Analytic fields: value(x, y) = Σ c[k] u^i v^j, u, v ∈ [−1, 1] over the image. */
  int order, n_terms;
  double width, height;         /* image size the fields are scaled to (1 for constants)   */
  double c_fwhm[PSF_MAX_TERMS], c_e1[PSF_MAX_TERMS], c_e2[PSF_MAX_TERMS];
  double c_beta[PSF_MAX_TERMS];
  /* Pixel PSF: unit-sum stamp of odd side, centroid within ½ px of the central pixel. */
  float *stamp;
  int stamp_side;
  double pix_m[3];              /* adaptive moments of the stamp (xx, yy, xy)              */
  double pix_off_x, pix_off_y;  /* centroid − central pixel, |·| ≤ ½ px                    */
  int natural_size;             /* dia_psf_stamp_size()                                    */
  int n_stars;
  double fwhm_lo, fwhm_hi, beta_mid;
};

/* A new PSF of kind (ref 1, fields zero); _dia_psf_finish() sets its natural size and FWHM
 * range once its fields are filled. */
DiaPsf  *_dia_psf_new (PsfKind kind);
void     _dia_psf_finish (DiaPsf *psf);
/* out(i, j) = in shifted by (sx, sy) with Keys' cubic interpolation (dia-psf-pixels.c). */
void     _dia_psf_shift (const float *in, int w, int h, double sx, double sy, float *out, int ow,
                         int oh, int off_x, int off_y);

/* A plane seen by the adaptive moments: pix − offset where usable. */
typedef struct
{
  const float *pix;
  double offset;                /* subtracted from every pixel (the local background)     */
  const DiaMask *mask;          /* or NULL                                                */
  DiaMask bad;                  /* pixels with these bits are skipped                     */
  size_t stride;
  int width, height;
} PsfPlane;

typedef enum
{
  AM_OK,
  AM_COLLAPSED,                 /* the weight shrank below a pixel: sharper than any PSF */
  AM_DIVERGED,                  /* no positive flux, or grew beyond the window limit    */
  AM_DRIFTED,                   /* the centroid walked away (a wing bump of a neighbour) */
} AmStatus;

/* Inverse of the symmetric 2 × 2 matrix (xx, yy, xy); FALSE when not positive definite. */
gboolean _dia_psf_inverse (const double m[3], double inv[3]);
/* Largest eigenvalue of the symmetric 2 × 2 matrix (xx, yy, xy). */
double   _dia_psf_max_eigen (const double m[3]);
/* qsort comparison of doubles, ascending. */
int      _dia_psf_cmp_double (gconstpointer a, gconstpointer b);
/* Median of v[0..n−1] (sorted in place); NAN when n ≤ 0. */
double   _dia_psf_median (double *v, int n);
/* Adaptive moments (see dia-moments.c): centroid *xc, *yc and covariance m[] of the object
 * near (x_start, y_start). */
AmStatus _dia_psf_adaptive_moments (const PsfPlane *p, double x_start, double y_start,
                                    double sigma0, double max_radius, double max_drift,
                                    double cut, double *xc, double *yc, double m[3]);
/* One star's fit (dia-psf-fit.c): ok, the model, the centre and the Gaussian-equivalent
 * moments' FWHM, ellipticity and β. */
typedef struct
{
  gboolean ok, moffat;
  double x, y;                  /* fitted centre, buffer px                               */
  double fwhm, e1, e2, beta;    /* of the Gaussian-equivalent moments                     */
  double flux;
} StarFit;

/* Fits the star at (xs, ys) of image − bg_level in a box of ±2 fwhm_guess; a Moffat with β
 * free, or held at beta_fixed, or a Gaussian (moffat FALSE). */
StarFit  _dia_psf_fit_star (const DiaImage *im, double bg_level, double xs, double ys,
                            double fwhm_guess, double peak, gboolean moffat, double beta_fixed);
/* Orders DiaStars by decreasing flux (g_array_sort / qsort). */
int      _dia_star_cmp_flux (gconstpointer a, gconstpointer b);

G_END_DECLS
