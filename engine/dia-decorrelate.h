/* dia-decorrelate.h — the decorrelation afterburner (ALGORITHMS.md §4.1–4.2) and the small
 * Fourier-filter toolkit shared by the flavours that filter whole images (preconvolve, zogy).
 *
 * A PSF-matched difference D = u − κ⋆c has correlated noise: the convolved image's noise is
 * smoothed by κ.  The afterburner multiplies D̂ by a real, even filter ĉ(k) chosen so that the
 * noise power becomes flat again (difference mode), or so that the preconvolved score image
 * becomes the optimal matched filter of the proper difference (score mode).  Both filters have
 * ĉ(0) = 1 (fluxes are preserved) and are compact in pixel space, so the engine applies them
 * as a truncated pixel kernel (|c| ≥ 1e-4 of its peak), which makes region runs equal crops.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"
#include "dia-fft.h"

G_BEGIN_DECLS

typedef struct _DiaSubtractPlan DiaSubtractPlan;
typedef struct _DiaSubtractResult DiaSubtractResult;

typedef enum
{
  DIA_DECORRELATE_DIFFERENCE,   /* ĉ = sqrt((σu² + σc² κs²) / (σu² + σc² |κ̂|²))            */
  DIA_DECORRELATE_SCORE,        /* ĉ = (σu² + σc² κs²) / (σu² + σc² |κ̂|² / |φ̂|²)           */
  /* D = φ⋆u − κ⋆c with φ a smoothing kernel applied to the sharper image so that κ need not
   * deconvolve (forced convolution direction, dia-flavor-al.c): whitens D up to φ, i.e. the
   * noise power of the result is (σu² + σc² κs²) |φ̂|², which keeps ĉ bounded by
   * sqrt(1 + σc² κs² / σu²) where full whitening would deconvolve.
   *   ĉ = sqrt((σu² + σc² κs²) / (σu² + σc² |κ̂|² / |φ̂|²)) */
  DIA_DECORRELATE_PRECONVOLVED,
} DiaDecorrelateMode;

/* Relative level below which a pixel-space filter is truncated. */
#define DIA_DECORRELATE_TRUNCATION 1e-4

/* An immutable decorrelation filter; any thread may apply it. */
typedef struct
{
  DiaDecorrelateMode mode;
  int size;                     /* odd side of `filter`                                  */
  float *filter;                /* size², unit sum, applied as a correlation (it is even) */
  double var_u, var_c;          /* σu², σc²: unconvolved and convolved input, pix units²   */
  double kernel_sum;            /* κ_sum                                                  */
  double weight_u, weight_c;    /* w = Σ (overall filter)² of each input (§4.2, Parseval) */
  double high_k_gain;           /* largest ĉ(k): how much the finest scales are boosted  */
  int psf_size;                 /* odd side of `psf`, 0 when no PSF was given              */
  float *psf;                   /* unit-sum PSF of the filtered image, or NULL             */
} DiaDecorrelation;

/* Builds the filter from the matching kernel at the image centre (kernel, ksize odd, not
 * normalised, applied as a correlation), the two scalar noise variances (pix units²) and, in
 * score and preconvolved modes, the preconvolution kernel phi (unit sum).  psf (unit sum, odd psf_size) is the
 * PSF of the unfiltered image; the PSF of the filtered one is reported (NULL psf: none).
 * Returns a new object (dia_decorrelation_free) or NULL with DIA_ERROR_INVALID when the
 * variances are not positive and finite.  Any thread. */
DiaDecorrelation *dia_decorrelation_new (DiaDecorrelateMode mode, const float *kernel,
                                         int ksize, const float *phi, int phi_size,
                                         const float *psf, int psf_size, double var_u,
                                         double var_c, GError **error);
void dia_decorrelation_free (DiaDecorrelation *dc);

/* Filters `in` (a region-sized image whose buffer pixel (i, j) is input pixel
 * (in_x + i, in_y + j) of the full-frame images var_u / var_c) and returns the out_rect part
 * (buffer coordinates of `in`) as a new, unfrozen image: pix = c ⋆ in, var = var_scale ·
 * (w_u V_u + w_c V_c) per pixel (§4.2 weighted sum), mask copied.  Pixels that are not finite
 * or carry NO_DATA, BAD, SAT or EDGE are read as 0 and keep their input value and variance
 * (§4.1 step 7: restored after filtering).  out_rect must lie at least size/2 inside `in`
 * wherever `in` does not touch the frame edge.  Any thread. */
DiaImage *dia_decorrelation_apply (const DiaDecorrelation *dc, const DiaImage *in, int in_x,
                                   int in_y, const DiaRect *out_rect, const DiaImage *var_u,
                                   const DiaImage *var_c, double var_scale, int n_threads,
                                   DiaMonitor *monitor, GError **error);

/* σ²: 3σ-clipped (3 iterations) mean of the variance plane over pixels without INTRP, EDGE,
 * DETECTED, SAT, CR, BAD, NO_DATA, DETECTED_NEGATIVE (§4.1 step 2).  NAN when none. */
double dia_decorrelate_noise_variance (const DiaImage *image);

/* The afterburner for the AL flavours: computes the plain AL difference over `region` grown
 * by the filter half-width, decorrelates it (kernel at the image centre) and stores the crop in
 * result->diff (result->matched is cropped too, but not filtered); result->diff_psf gets the
 * corrected PSF.  Called by _dia_subtract_apply_al when request.decorrelate is set. */
gboolean dia_decorrelate_apply_al (const DiaSubtractPlan *plan, const DiaRect *region,
                                   DiaSubtractResult *result, gboolean keep_matched,
                                   DiaMonitor *monitor, GError **error);

/* Half-width the afterburner adds to a region (0 when decorrelation is off). */
int dia_decorrelate_al_margin (const DiaSubtractPlan *plan);

/* ---- Fourier toolkit for the whole-image filters ---------------------------------------- */

/* Even FFT side ≥ 4 × the largest of the given odd sizes (and ≥ 64), so that pixel kernels of
 * up to half the grid compose without wrapping. */
int dia_filter_grid_size (int size_a, int size_b, int size_c);

/* r2c spectrum (n rows × (n/2+1)) of an odd size² array placed with its centre pixel at the
 * grid origin (wrap-around).  fftwf_free the result.  NULL on allocation failure. */
fftwf_complex *dia_filter_spectrum (DiaFftCache *cache, const float *img, int size, int n);

/* Inverse of a half spectrum (destroyed) into a pixel kernel centred at (h, h): values below
 * rel_threshold × the peak magnitude are cut by choosing the smallest odd box that holds every
 * larger value, at most 2 max_half + 1 wide.  *size_out receives the side.  g_free the
 * result; NULL on allocation failure. */
float *dia_filter_kernel_from_spectrum (DiaFftCache *cache, fftwf_complex *spec, int n,
                                        double rel_threshold, int max_half, int *size_out);

/* Σ |X(k)|² / n² over the full grid from an r2c half spectrum (= Σ x² in pixel space). */
double dia_filter_spectrum_power (const fftwf_complex *spec, int n);

/* φ ⋆ image over the whole frame (φ: phi_size² correlation kernel, unit sum, odd size) as a
 * new frozen image: unusable pixels (NO_DATA, BAD, SAT, EDGE, non-finite) are replaced by the
 * image median before smoothing (and their variance by the median variance), var = φ² ⋆ V,
 * the mask dilated by φ's half-width (except the DETECTED planes), EDGE on the border φ cannot
 * cover.  `what` is an English note for the variance origin.  Any thread. */
DiaImage *dia_filter_preconvolve_image (const DiaImage *image, const float *phi, int phi_size,
                                        const char *what, int n_threads, DiaMonitor *monitor,
                                        GError **error);

/* mask_out(x, y) for x, y in rect (buffer coordinates of image) = image mask at (x, y) with
 * every bit of `dilate` OR-ed over the (2 radius + 1)² box around it (clipped to the frame).
 * out has rect's size and row stride out_stride.  FALSE only on allocation failure. */
gboolean dia_mask_dilate (const DiaImage *image, const DiaRect *rect, DiaMask dilate,
                          int radius, DiaMask *out, size_t out_stride, GError **error);

G_END_DECLS
