/* dia-subtract.h — PSF-matched image subtraction: request, plan, result.
 *
 * The work is split as FFTW splits planning from execution:
 *   dia_subtract_plan()    measures backgrounds and PSFs, selects stamps and fits the kernel
 *                          (the expensive, whole-frame part; depends only on the request);
 *   dia_subtract_execute() convolves and subtracts any region with that plan (cheap; the app
 *                          reruns it for the visible region when the user pans or zooms).
 * A region run gives exactly the crop of the full-frame run (tested).  Plans and results are
 * immutable once returned and reference-counted; any thread may read them.
 *
 * Flux scale: every flavour returns the difference on the SCIENCE image's flux scale, positive
 * where the science image is brighter (the FITS key DIA_FSCL says so).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-detect.h"
#include "dia-flavor.h"
#include "dia-kernel.h"
#include "dia-kernel-fit.h"
#include "dia-psf.h"
#include "dia-stamps.h"

G_BEGIN_DECLS

typedef struct _DiaBackground DiaBackground;

/* Everything that defines a subtraction.  A plain value: copy it with `=`.  Every scalar field
 * is one row of dia-params-table.h, which gives its range, default and the stage it invalidates. */
typedef struct
{
  int version;                  /* DIA_REQUEST_VERSION                                   */
  DiaFlavorId flavor;
  DiaBasisParams basis;
  DiaKernelFitParams fit;
  DiaStampParams stamps;
  DiaPsfParams psf;
  int bg_mesh;                  /* background mesh cell, px (0 = auto)                   */
  double star_threshold;        /* detection threshold for PSF/stamp stars, σ            */
  gboolean subtract_background; /* remove the fitted differential background from D      */
  gboolean decorrelate;         /* decorrelation afterburner (where supported)           */
  int n_threads;                /* 0 = all cores                                         */
  gboolean scale_variance;      /* rescale each input's variance plane first (§4.3)      */
  double zogy_astrometric_sigma;/* zogy: astrometric noise σ per axis, px (0 = none)      */
  double astrometric_sigma;     /* AL flavours and preconvolve: the same term, px (0 = none) */
  double model_error;           /* every flavour: PSF-model error ε, variance += ε² × (the  */
                                /* template's part of D or of the score)² (0 = none)        */
  DiaDetectParams detect;       /* detection and measurement on D (stage DETECT)         */
  DiaFakesParams fakes;         /* fake injection and recovery (stage DETECT)            */
} DiaSubtractRequest;

#define DIA_REQUEST_VERSION 1

/* Named timing of one stage, ms. */
typedef struct
{
  const char *stage;            /* static string                                         */
  double ms;
} DiaStageTiming;

/* What the plan measured and decided; copied into every result. */
typedef struct
{
  const DiaFlavorClass *flavor; /* after dispatch (auto → template or science)           */
  gboolean convolve_template;   /* TRUE: K ⋆ T; FALSE: K ⋆ S                             */
  double fwhm_template, fwhm_science; /* px, at the image centre                         */
  double sky_template, sky_science;   /* median background levels                        */
  double noise_template, noise_science; /* sky σ, pix units                              */
  double kernel_sum_centre;     /* Σ K at the image centre                               */
  double kernel_sum_min, kernel_sum_max; /* over a 9×9 grid                              */
  double kernel_dx_centre, kernel_dy_centre; /* kernel centroid offset at the centre, px */
  double condition_number;
  int n_stamps_total, n_stamps_used, n_stamps_rejected;
  int n_stars_template, n_stars_science;
  int spatial_order_used;       /* kernel and background orders actually fitted: lower than */
  int bg_order_used;            /* requested when there were too few stamps                */
  gboolean orders_reduced;
  int cell_size_used;
  gboolean psf_fallback_template; /* too few stars: a Gaussian stand-in PSF was used        */
  gboolean psf_fallback_science;           /* stamp cell side after spreading max_stamps over the image */
  DiaBasisConfig basis;         /* σ list, degrees, size actually used                   */
  GArray *timings;              /* DiaStageTiming, plan stages                           */
  double variance_scale_template, variance_scale_science; /* §4.3 factors (1: not scaled) */
  double forced_preconvolve_fwhm; /* template/science flavour forced to deconvolve: FWHM (px) */
                                /* of the Gaussian that smoothed the sharper, unconvolved   */
                                /* image first (dia-flavor-al.c); 0 when not needed         */
} DiaSubtractInfo;

struct _DiaSubtractPlan
{
  gint ref_count;
  DiaSubtractRequest request;
  const DiaFlavorClass *flavor;
  DiaImage *template_image;     /* refs to the inputs                                    */
  DiaImage *science_image;
  DiaBackground *bg_template, *bg_science;
  GArray *stars_template, *stars_science; /* DiaStar                                     */
  DiaPsf *psf_template, *psf_science;
  GArray *stamps;               /* DiaStamp with final statuses                          */
  DiaKernelSolution *kernel;    /* NULL for flavours without a kernel                    */
  double k0;                    /* kernel sum at the centre (science flavour scale)      */
  DiaSubtractInfo info;
  gpointer flavor_data;         /* owned by the flavour, freed with flavor_data_free     */
  GDestroyNotify flavor_data_free;
  DiaSubtractPlan *base;        /* plan whose measurements this one borrows, or NULL     */
  const DiaImage *input_template; /* identities of the caller's inputs (before any       */
  const DiaImage *input_science;  /* variance rescaling), for dia_subtract_plan_derive   */
};

struct _DiaSubtractResult
{
  gint ref_count;
  DiaSubtractPlan *plan;        /* ref                                                    */
  DiaRect region;               /* in buffer pixels of the inputs                         */
  DiaImage *diff;               /* frozen; region-sized; var and mask filled              */
  DiaImage *matched;            /* frozen convolved image (on D's scale), or NULL         */
  DiaImage *score;              /* frozen score image in σ units, or NULL                  */
  double diff_sigma_ratio;      /* robust σ of D/√V over unmasked region pixels           */
  double diff_sigma_ratio_stars;/* same over the footprints of the used stamps            */
  GArray *timings;              /* DiaStageTiming, execute stages                         */
  DiaPsf *diff_psf;             /* PSF of diff when it is neither input PSF (decorrelated,  */
                                /* ZOGY P_D, score), unit sum; NULL otherwise              */
};

void dia_subtract_request_init (DiaSubtractRequest *request);

/* Checks every field against dia-params-table.h; FALSE with DIA_ERROR_INVALID naming the key. */
gboolean dia_subtract_request_validate (const DiaSubtractRequest *request, GError **error);

/* tmpl and sci must be frozen, on the same pixel grid (same size; DIA_ERROR_SIZE_MISMATCH).
 * Returns a new plan (ref 1). */
DiaSubtractPlan *dia_subtract_plan (DiaImage *tmpl, DiaImage *sci,
                                    const DiaSubtractRequest *request, DiaMonitor *monitor,
                                    GError **error);
/* Like dia_subtract_plan(), but reuses what it can of base (which may be NULL): with the same
 * inputs and PSF-stage parameters the backgrounds, stars and PSFs are shared; when only
 * APPLY-stage parameters changed the kernel is shared too, so the new plan costs nothing.
 * This is what makes a slider feel live: a threshold or display change never refits. */
DiaSubtractPlan *dia_subtract_plan_derive (DiaSubtractPlan *base, DiaImage *tmpl,
                                           DiaImage *sci, const DiaSubtractRequest *request,
                                           DiaMonitor *monitor, GError **error);
DiaSubtractPlan *dia_subtract_plan_ref (DiaSubtractPlan *plan);
void             dia_subtract_plan_unref (DiaSubtractPlan *plan);

/* Like dia_subtract_plan(), but psf_template / psf_science (either may be NULL), when given,
 * replace the PSFs the plan would estimate (e.g. PSF files from the command line).  The plan
 * takes its own references. */
DiaSubtractPlan *dia_subtract_plan_with_psfs (DiaImage *tmpl, DiaImage *sci,
                                              DiaPsf *psf_template, DiaPsf *psf_science,
                                              const DiaSubtractRequest *request,
                                              DiaMonitor *monitor, GError **error);

/* A display-resolution preview of an Alard–Lupton difference: D (pixel, variance and mask
 * planes) at the pixels (region.x + step·i, region.y + step·j) only, as an image of
 * ceil(region.width / step) × ceil(region.height / step).  The kernel is taken constant over
 * each 32×32 cell (its value at the cell centre, as the variance pass does) and the mask is
 * not grown, so values differ from dia_subtract_execute() by a small fraction of σ
 * (tests/engine/test-subtract.c); at 1/step of the pixels it costs about 1/step² of the
 * convolution.  For the live view zoomed out: the app shows it before the exact frame.
 * Returns NULL without an error when the plan's flavour has no such preview (score flavours,
 * decorrelation, a forced direction); DIA_ERROR_INVALID for a bad region or step. */
DiaImage *dia_subtract_preview (const DiaSubtractPlan *plan, const DiaRect *region, int step,
                                DiaMonitor *monitor, GError **error);

/* region NULL = the whole frame.  keep_matched: also return the convolved image (costs one more
 * image of memory). */
DiaSubtractResult *dia_subtract_execute (DiaSubtractPlan *plan, const DiaRect *region,
                                         gboolean keep_matched, DiaMonitor *monitor,
                                         GError **error);
DiaSubtractResult *dia_subtract_result_ref (DiaSubtractResult *result);
void               dia_subtract_result_unref (DiaSubtractResult *result);

/* Convenience: plan + execute on the full frame. */
DiaSubtractResult *dia_subtract_run (DiaImage *tmpl, DiaImage *sci,
                                     const DiaSubtractRequest *request, gboolean keep_matched,
                                     DiaMonitor *monitor, GError **error);

/* Appends a stage timing (stage must be a static string). */
void dia_subtract_timing_add (GArray *timings, const char *stage, double ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaSubtractPlan, dia_subtract_plan_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaSubtractResult, dia_subtract_result_unref)

G_END_DECLS
