/* dia-kernel-fit.h — fitting the spatially varying Alard–Lupton kernel (ALGORITHMS.md §2).
 *
 * Model: reference ≈ K(x, y) ⋆ convolved + bg(x, y), where "convolved" is the image the kernel
 * will be applied to (template in the template flavour, science in the science flavour).
 * Per-stamp normal equations (constant variance weighting), kernel-sum clipping, the spatial
 * system, assessment of every visited stamp against the spatial model, up to max_iterations
 * rounds, as in §2.5.  Stamp statuses in the array are updated in place.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-kernel.h"

G_BEGIN_DECLS

typedef struct
{
  int spatial_order;            /* 1                                                */
  int bg_order;                 /* 2; < 0: no background term                       */
  int max_iterations;           /* 3                                                */
  double max_resid_mean;        /* 0.25                                             */
  double max_resid_rms;         /* 1.5                                              */
  double max_ksum_sigma;        /* 3.0                                              */
  double max_condition;         /* 1e10: above this the spatial fit is an error     */
  int n_per_cell;               /* 5                                                */
  int n_threads;                /* 0 = default                                      */
} DiaKernelFitParams;

void dia_kernel_fit_params_init (DiaKernelFitParams *params);

/* Returns the solution, or NULL with DIA_ERROR_NO_STARS (too few good stamps for the number of
 * unknowns — the message says how many were needed) or DIA_ERROR_SINGULAR (condition number
 * too large or a non-finite coefficient).  Never returns NaN coefficients. */
DiaKernelSolution *dia_kernel_fit (const DiaImage *convolved, const DiaImage *reference,
                                   GArray *stamps, const DiaBasisConfig *basis,
                                   const DiaKernelFitParams *params, DiaMonitor *monitor,
                                   GError **error);

G_END_DECLS
