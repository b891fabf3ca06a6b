/* dia-diagnostics.h — kernel diagnostics of a subtraction plan for the UI and PREFIX_meta.json.
 *
 * Kernel images on an n×n grid, the kernel-sum map, the kernel centroid offset field (the
 * quiver data of ALGORITHMS.md §5.3), condition number, the basis σ list, PSF widths and their
 * ratio, and the stamps used and rejected with their residuals.
 *
 * Sign convention (dia-types.h, tested against the simulator in test-detect): kernels are
 * applied as correlations, so a kernel whose marginal centroid sits at +d moves the content of
 * the convolved image by −d.  `dx, dy` below are the kernel centroid offset (label arrows
 * "kernel centroid offset"); `shift_x, shift_y` = −(dx, dy) is the displacement of the
 * convolved image's content.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-subtract.h"

G_BEGIN_DECLS

typedef struct _DiaJson DiaJson;

typedef struct
{
  double x, y;                  /* grid position, buffer px                              */
  double sum;                   /* Σ k (photometric ratio)                               */
  double dx, dy;                /* kernel marginal centroid − centre, px                  */
  double shift_x, shift_y;      /* −dx, −dy: motion of the convolved image's content, px  */
} DiaKernelSample;

typedef struct
{
  int n_grid;                   /* samples per axis (0 when the plan has no kernel)       */
  int kernel_size;
  DiaKernelSample *samples;     /* n_grid², row-major (y outer)                           */
  float *kernels;               /* n_grid² × kernel_size², same order                     */
  double sum_min, sum_max, sum_mean;
  double offset_mean_dx, offset_mean_dy, offset_max;  /* px                               */
  double condition_number;
  DiaBasisConfig basis;
  double fwhm_template, fwhm_science;  /* px                                              */
  double psf_ratio;             /* fwhm_science / fwhm_template                           */
  gboolean convolve_template;
  DiaStamp *stamps;             /* copies of the plan's stamps with final statuses        */
  int n_stamps;
  int n_used, n_rejected;
  double resid_rms_median_used; /* median rms of d/σ over used stamps                     */
} DiaKernelDiagnostics;

/* Computes the diagnostics of plan on an n_grid × n_grid grid spanning the image (n_grid ≥ 1;
 * pixel centres of the first and last rows/columns).  Any thread.  Free with
 * dia_kernel_diagnostics_free(). */
DiaKernelDiagnostics *dia_kernel_diagnostics_new (const DiaSubtractPlan *plan, int n_grid);
void dia_kernel_diagnostics_free (DiaKernelDiagnostics *diag);

/* Appends a "diagnostics" object (grid samples without the kernel images, which are in
 * PREFIX_kernel.fits, plus summaries; the per-stamp residuals are already in the meta JSON's
 * "stamps" list) to json, inside an object. */
void dia_kernel_diagnostics_append_json (const DiaKernelDiagnostics *diag, DiaJson *json);

/* Convenience for dia_subtract_dup_meta_json(): a 9×9 grid of plan appended to json. */
void dia_diagnostics_append_plan_json (const DiaSubtractPlan *plan, DiaJson *json);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaKernelDiagnostics, dia_kernel_diagnostics_free)

G_END_DECLS
