/* dia-kernel.h — the Alard–Lupton basis and the fitted, spatially varying kernel solution.
 *
 * Basis (ALGORITHMS.md §1.2–1.4): Gaussians × polynomials evaluated at integer offsets
 * u, v ∈ [−h, h], polynomial in (u/h, v/h); renormalised so that B_0 has unit sum and every
 * other basis has zero sum and unit L2 norm, hence kernel sum = a_0.
 *
 * Solution (§1.5, §2.4): a_0 is spatially constant; a_n(x, y) = Σ_j c_{n,j} T_j(x', y') for
 * n ≥ 1, where T_j are Chebyshev products of total order ≤ spatial_order on the fit domain
 * (x' = 2 (x − x_mid) / (x_max − x_min), domain = fit rectangle ± 0.5 px), in the order
 * 1, x, y, x², xy, y², ….  The differential background is Σ_j e_j T_j with its own order.
 * Coordinates are buffer pixels of the images the kernel was fitted on.
 *
 * Convention (dia-types.h): K is applied as a cross-correlation, K stored with its centre at
 * (h, h), row-major, v (rows) outer, u (columns) inner.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

#define DIA_KERNEL_MAX_GAUSS 8

typedef enum
{
  DIA_BASIS_MODE_CONFIG,        /* σ list as configured                         */
  DIA_BASIS_MODE_CONVOLUTION,   /* the convolved image is the sharper one       */
  DIA_BASIS_MODE_DECONVOLUTION, /* the convolved image is the broader one       */
} DiaBasisMode;

typedef struct
{
  int n_gauss;
  double sigma[DIA_KERNEL_MAX_GAUSS];  /* px */
  int degree[DIA_KERNEL_MAX_GAUSS];
  int size;                            /* odd kernel side, px */
  DiaBasisMode mode;
} DiaBasisConfig;

/* Knobs of §1.1 with their defaults filled by dia_basis_params_init(). */
typedef struct
{
  int n_gauss;                         /* 3                          */
  double sigma[DIA_KERNEL_MAX_GAUSS];  /* 0.7, 1.5, 3.0 (config mode) */
  int degree[DIA_KERNEL_MAX_GAUSS];    /* 4, 2, 2                    */
  double beta;                         /* 2.0                        */
  double min_sigma;                    /* 0.7                        */
  double min_sigma_deconv;             /* 0.4                        */
  gboolean scale_by_fwhm;              /* TRUE                       */
  int kernel_size;                     /* 21 (used in config mode, or forced when > 0 and
                                          fixed_size is TRUE)         */
  gboolean fixed_size;                 /* FALSE: size from FWHMs     */
  gboolean fixed_sigmas;               /* FALSE: σ list from FWHMs   */
  double size_fwhm_scaling;            /* 6.0                        */
  int size_min, size_max;              /* 21, 35                     */
} DiaBasisParams;

void dia_basis_params_init (DiaBasisParams *params);

/* §1.2: σ list, degrees, size from the FWHM of the image to be convolved and of the image it
 * is matched to (either may be NAN → config mode). */
void dia_basis_config_from_fwhm (const DiaBasisParams *params, double fwhm_convolved,
                                 double fwhm_reference, DiaBasisConfig *out);

/* Number of basis images: Σ (d+1)(d+2)/2. */
int dia_basis_count (const DiaBasisConfig *config);

/* Builds the renormalised basis: returns n_basis × size² floats (g_free), basis n at
 * offset n * size². */
float *dia_basis_build (const DiaBasisConfig *config, int *n_basis);

typedef struct _DiaKernelSolution DiaKernelSolution;

struct _DiaKernelSolution
{
  gint ref_count;
  DiaBasisConfig config;
  int n_basis;
  float *basis;                 /* n_basis × size², renormalised                          */
  int spatial_order, n_spatial; /* kernel coefficient fields                              */
  int bg_order, n_bg;           /* differential background (n_bg = 0: not fitted)         */
  double *coef;                 /* 1 + (n_basis−1)·n_spatial + n_bg unknowns (§2.4 order) */
  double domain[4];             /* x_min, x_max, y_min, y_max of the Chebyshev domain     */
  double condition_number;      /* λ_max / λ_min of the spatial normal matrix scaled to a  */
                                /* unit diagonal, so it does not depend on flux units      */
  int n_stamps_used;
};

/* Takes ownership of basis and coef. */
DiaKernelSolution *dia_kernel_solution_new (const DiaBasisConfig *config, float *basis,
                                            int n_basis, int spatial_order, int bg_order,
                                            double *coef, const double domain[4]);
DiaKernelSolution *dia_kernel_solution_ref (DiaKernelSolution *sol);
void               dia_kernel_solution_unref (DiaKernelSolution *sol);

/* Chebyshev products T_j(x', y') for j < n_terms(order) into f. */
void dia_kernel_spatial_terms (const double domain[4], int order, double x, double y,
                               double *f);
int  dia_kernel_n_terms (int order);   /* (order+1)(order+2)/2 */

/* The kernel image at (x, y) into out[size²] (not normalised). */
void dia_kernel_solution_eval (const DiaKernelSolution *sol, double x, double y, float *out);
double dia_kernel_solution_sum (const DiaKernelSolution *sol, double x, double y);
double dia_kernel_solution_background (const DiaKernelSolution *sol, double x, double y);

/* The n_spatial "collapsed" kernels K_m (each size²) such that
 * K(x, y) = Σ_m T_m(x', y') K_m.  K_0 includes a_0 B_0.  Returns g_malloc'd floats. */
float *dia_kernel_solution_collapse (const DiaKernelSolution *sol);

/* Kernel centroid offset (§5.3) at (x, y): marginal centroid minus the centre, px. */
void dia_kernel_solution_centroid (const DiaKernelSolution *sol, double x, double y,
                                   double *dx, double *dy);

/* The variance of a correlation with K is a correlation with K², which is √2 narrower than K
 * while the kernel's side is set by its widest basis function.  Returns the half-width r of
 * the smallest centred square of the size² squared kernel k2 (centre size/2, non-negative
 * values) outside which lies at most DIA_KERNEL_SQUARE_EPS of Σ k2; only those taps need to
 * be visited.  The dropped weight bounds the relative error where the variance is locally
 * uniform (tests/engine/test-convolve.c bounds it next to bright stars). */
#define DIA_KERNEL_SQUARE_EPS 2e-6
int dia_kernel_square_radius (const float *k2, int size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaKernelSolution, dia_kernel_solution_unref)

G_END_DECLS
