/* dia-convolve.h — applying a spatially varying kernel solution to an image.
 *
 * Exact per spatial term: out(x, y) = Σ_m T_m(x', y') (K_m ⋆ in)(x, y), with K_m the collapsed
 * kernels (dia_kernel_solution_collapse); direct correlation for small kernels, overlap-save
 * FFT tiles (dia-fft.h) above the crossover.  Variance: Σ K(x,y)² ⋆ var with K evaluated at
 * the centre of each 32×32 cell of a grid anchored at the image origin, so that any region
 * gives bit-for-bit the same cells as the full frame.  Mask: OR over the kernel footprint
 * (all planes except DETECTED/DETECTED_NEGATIVE); output pixels whose footprint leaves the
 * input get the input values and EDGE (afw doCopyEdge).
 *
 * Region of interest: only out_rect (buffer coordinates of `in`) is computed; the result must
 * equal the same crop of a full-frame call to float rounding (tested).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-kernel.h"

G_BEGIN_DECLS

typedef struct
{
  int n_threads;                /* 0 = default                                     */
  int direct_max_size;          /* kernels up to this side use direct correlation;  */
                                /* 0 = measured crossover                          */
  gboolean add_background;      /* add the solution's differential background      */
  double scale;                 /* multiply image by this and variance by its square */
                                /* (1/k0 for the science flavour); 0 means 1       */
} DiaConvolveParams;

void dia_convolve_params_init (DiaConvolveParams *params);

/* Returns a new image of out_rect's size whose x0/y0 are those of `in` shifted by out_rect,
 * with pix, var and mask filled as described above and plane names copied from `in`. */
DiaImage *dia_convolve_image (const DiaImage *in, const DiaKernelSolution *sol,
                              const DiaRect *out_rect, const DiaConvolveParams *params,
                              DiaMonitor *monitor, GError **error);

/* Plain correlation of a float plane with one fixed kernel (size odd), same size output, zero
 * outside — used for PSF smoothing, preconvolution and tests.  Chooses direct or FFT. */
gboolean dia_convolve_plane (const float *in, int width, int height, size_t stride,
                             const float *kernel, int ksize, float *out, size_t out_stride,
                             int n_threads, DiaMonitor *monitor, GError **error);

G_END_DECLS
