/* dia-convolve.c — exact spatially varying correlation of image, variance and mask planes.
 *
 * The hot path of every subtraction.  A kernel solution is first collapsed into its M spatial
 * term kernels K_m (dia_kernel_solution_collapse), so that
 *     out(x, y) = Σ_m T_m(x', y') (K_m ⋆ in)(x, y)          (⋆ = correlation, dia-types.h)
 * is exact per pixel at the price of M correlations, whatever the number of basis functions
 * (PERFORMANCE.md §2.5: never convolve with the basis images themselves).
 *
 * Two interchangeable engines compute K_m ⋆ in:
 *   direct   register-blocked correlation: 64 (AVX) or 32 output pixels live in vector
 *            registers across all K² taps; the input comes from a zero-padded band copy, so
 *            the inner loop has no bounds tests.  GCC vector extensions make the blocking
 *            explicit, so a generic -O2 build vectorises too (SSE halves), and explicit FMA is
 *            used when the target has it (ISO C mode compiles a*b+c without contraction).
 *   FFT      overlap-save tiles on a grid anchored at buffer (0, 0): an N×N window (N from a
 *            short table of sizes that FFTW_ESTIMATE plans well, T = N − K + 1 output pixels
 *            per side) is transformed once; for each term its spectrum is multiplied by the
 *            precomputed conj(K̂_m)/N² (the conjugate turns FFT convolution into correlation)
 *            and transformed back, and T_m · result is accumulated straight into the output.
 *            Only per-thread tile buffers exist: no full-frame complex plane.
 * The choice depends only on K and M (crossover measured on the reference machine), and the
 * tile grid only on K, so a region of interest computes exactly the arithmetic of the full
 * frame for its pixels: ROI results are bit-identical to the crop of a full-frame call.
 *
 * Variance: Σ K_c² ⋆ var, with K_c the kernel at the centre of the 32×32 cell (anchored at
 * buffer (0, 0)) containing the pixel — exact per cell on both engines.  The direct engine
 * squares one kernel per cell and drops the outer rings that hold less than 2·10⁻⁶ of Σ K_c²
 * (dia_kernel_square_radius: K² is √2 narrower than K, so typically 81–121 of 441 taps
 * remain).  The
 * FFT engine uses K_c² = Σ_{m≤n} c_mn T_m T_n (K_m K_n) (c = 2 off the diagonal): one forward
 * transform of the variance window, then one inverse per product kernel (P = M(M+1)/2), each
 * weighted per cell.  A cheaper variant (square of
 * the kernel at the tile centre, rescaled per cell by the exact Σ K_c²) was measured and
 * rejected: with a kernel whose width changes strongly across the frame it was off by up to
 * 14 % next to bright stars (rms 0.2 %), far above the 0.5 % budget.  The engine for the
 * variance is chosen separately (P correlations by FFT against one per cell directly), so
 * order-2 solutions (P = 21) usually take the direct path, and so do order-1 ones (P = 6) whose
 * cropped K² is small (the crop at the domain centre prices the direct pass): the FFT variance pass pays a per-cell weighted write-back for each of its P inverse
 * transforms (CONV_FFT_VAR_FACTOR).
 *
 * Mask: OR over the K×K footprint as two separable passes (rows then columns), each an
 * O(log K) doubling (window P = 2^⌊log2 K⌋, then OR of two overlapping P-windows);
 * DETECTED and DETECTED_NEGATIVE are passed through undilated.
 *
 * Edges (afw doCopyEdge): output pixels whose footprint leaves the input get the input pixel,
 * variance and mask with EDGE added.  Scale and background are applied there too, so the
 * whole output is on one scale: pix = scale · conv + bg, var = scale² · conv_var, where bg is
 * the differential background when params->add_background (not multiplied by scale:
 * ALGORITHMS.md §3.3, "the background is not divided by k₀").
 *
 * Non-finite input pixels are read as 0 by both engines (an FFT tile would otherwise turn one
 * NaN into a tile of NaNs); the input mask is expected to flag them.  Output variances are
 * clamped at 0 (FFT round-off can make exact zeros slightly negative).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-convolve.h"
#include "dia-error.h"
#include "dia-fft.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-wcs.h"

#include <float.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#if defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
#endif

#define CONV_CELL        32     /* variance cell side and direct band height, px          */
#define CONV_MAX_KSIZE   1023   /* larger kernels are refused rather than planned          */
#define CONV_MAX_ORDER   10     /* spatial and background orders we evaluate               */
#define CONV_MAX_TERMS   66     /* (CONV_MAX_ORDER + 1)(CONV_MAX_ORDER + 2) / 2            */
#define CONV_MASK_BAND   64     /* output rows per mask work item                         */
#define CONV_MASK_STRIP  1024   /* output columns per mask work item                      */

#define CONV_STAGE_IMAGE    "convolve-image"
#define CONV_STAGE_VARIANCE "convolve-variance"
#define CONV_STAGE_MASK     "convolve-mask"

/* ---------------------------------------------------------------------------------------- */
/* Register-blocked direct correlation                                                       */

typedef float ConvVec __attribute__ ((vector_size (32)));
typedef float ConvVecU __attribute__ ((vector_size (32), aligned (4), may_alias));

#ifdef __AVX__
#define CONV_BLOCK 64           /* 8 ymm accumulators */
#else
#define CONV_BLOCK 32           /* 4 × (2 xmm) accumulators: 8 of the 16 SSE registers */
#endif

/* Macros rather than inline functions: a function passing 32-byte vectors would change the
 * ABI (-Wpsabi) in builds without AVX, where each ConvVec is a pair of SSE registers. */
#define conv_load(p)     (*(const ConvVecU *) (p))
#define conv_store(p, v) (*(ConvVecU *) (p) = (v))
#if defined(__FMA__) && defined(__AVX__)
#define conv_fma(k, s, acc) _mm256_fmadd_ps ((k), (s), (acc))
#else
#define conv_fma(k, s, acc) ((k) * (s) + (acc))
#endif

/* dst[t] = Σ_{v,u} k[v ks + u] src[v sstride + u + t] for t < 32.  src must be readable for
 * 32 + ks − 1 columns of ks rows.  Each lane does the same operations in the same order,
 * so a pixel's value does not depend on where its block starts. */
static void
conv_block32 (const float *src, size_t sstride, const float *k, int ks, float *dst)
{
  ConvVec a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
  for (int v = 0; v < ks; v++)
    {
      const float *s = src + (size_t) v * sstride;
      const float *kr = k + (size_t) v * ks;
      for (int u = 0; u < ks; u++)
        {
          float c = kr[u];
          ConvVec kv = { c, c, c, c, c, c, c, c };
          a0 = conv_fma (kv, conv_load (s + u), a0);
          a1 = conv_fma (kv, conv_load (s + u + 8), a1);
          a2 = conv_fma (kv, conv_load (s + u + 16), a2);
          a3 = conv_fma (kv, conv_load (s + u + 24), a3);
        }
    }
  conv_store (dst, a0);
  conv_store (dst + 8, a1);
  conv_store (dst + 16, a2);
  conv_store (dst + 24, a3);
}

#ifdef __AVX__
/* As conv_block32 for 64 pixels: 8 independent FMA chains hide the FMA latency. */
static void
conv_block64 (const float *src, size_t sstride, const float *k, int ks, float *dst)
{
  ConvVec a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
  ConvVec a4 = { 0 }, a5 = { 0 }, a6 = { 0 }, a7 = { 0 };
  for (int v = 0; v < ks; v++)
    {
      const float *s = src + (size_t) v * sstride;
      const float *kr = k + (size_t) v * ks;
      for (int u = 0; u < ks; u++)
        {
          float c = kr[u];
          ConvVec kv = { c, c, c, c, c, c, c, c };
          a0 = conv_fma (kv, conv_load (s + u), a0);
          a1 = conv_fma (kv, conv_load (s + u + 8), a1);
          a2 = conv_fma (kv, conv_load (s + u + 16), a2);
          a3 = conv_fma (kv, conv_load (s + u + 24), a3);
          a4 = conv_fma (kv, conv_load (s + u + 32), a4);
          a5 = conv_fma (kv, conv_load (s + u + 40), a5);
          a6 = conv_fma (kv, conv_load (s + u + 48), a6);
          a7 = conv_fma (kv, conv_load (s + u + 56), a7);
        }
    }
  conv_store (dst, a0);
  conv_store (dst + 8, a1);
  conv_store (dst + 16, a2);
  conv_store (dst + 24, a3);
  conv_store (dst + 32, a4);
  conv_store (dst + 40, a5);
  conv_store (dst + 48, a6);
  conv_store (dst + 56, a7);
}
#define conv_block conv_block64
#else
#define conv_block conv_block32
#endif

/* ---------------------------------------------------------------------------------------- */
/* Engine choice                                                                              */

/* FFT sizes that FFTW_ESTIMATE plans well, with the measured time of one r2c + one c2r
 * (µs, reference machine, 1 thread).  Sizes with a factor 3 or 7 plan badly under ESTIMATE
 * (540²: 1.9 ms against 1.0 ms for 512²), so only these are offered. */
static const struct
{
  int n;
  double us;
} conv_fft_sizes[] = {
  { 128, 50 }, { 256, 230 }, { 320, 310 }, { 400, 540 }, { 512, 990 }, { 640, 1730 },
  { 768, 2500 }, { 1024, 7100 }, { 1280, 11000 }, { 1536, 17000 }, { 2048, 33000 },
};

/* The FFT size minimising the cost per output pixel for a kernel of side ksize; depends on
 * ksize only (the tile grid must not depend on the region, see the file comment). */
static int
conv_pick_fft_size (int ksize)
{
  int best = 0;
  double best_cost = G_MAXDOUBLE;
  for (guint i = 0; i < G_N_ELEMENTS (conv_fft_sizes); i++)
    {
      int t = conv_fft_sizes[i].n - ksize + 1;
      double cost;
      if (t < ksize)            /* the halo would dominate the tile */
        continue;
      cost = conv_fft_sizes[i].us / ((double) t * t);
      if (cost < best_cost)
        {
          best_cost = cost;
          best = conv_fft_sizes[i].n;
        }
    }
  return best > 0 ? best : dia_fft_good_size (2 * ksize);
}

/* Cost per output pixel of the direct engine, ns per kernel tap and term, and the FFT
 * engine's per-tile overhead beyond the transforms (copy, products, write-back) in units of
 * one transform; measured on the reference machine (x86-64-v3 build, 1 thread). */
#define CONV_DIRECT_NS_PER_TAP 0.035
#define CONV_FFT_OVERHEAD      0.25
/* The FFT variance pass costs more per transform than the image pass: every one of its P
 * inverse transforms is written back with a per-cell weight lookup, and P grows as M².
 * Measured (K = 21, M = 3, N = 320, 1 thread, CPU time): 19.7 ns per pixel by FFT against
 * 16.2 ns directly, i.e. 1.3× the plain FFT model, which had picked the FFT by 2 %. */
#define CONV_FFT_VAR_FACTOR    1.3

/* Estimated ns per output pixel of n_correlations correlations of a ksize² kernel with one
 * plane: directly, or as FFT tiles (1 forward + n_correlations inverse transforms per
 * tile).  Depends on ksize and n_correlations only, so a region makes the same choice as
 * the full frame. */
static double
conv_direct_cost (int ksize, int n_correlations)
{
  return CONV_DIRECT_NS_PER_TAP * ksize * ksize * n_correlations;
}

static double
conv_fft_cost (int ksize, int n_correlations)
{
  int n = conv_pick_fft_size (ksize), t = n - ksize + 1;
  for (guint i = 0; i < G_N_ELEMENTS (conv_fft_sizes); i++)
    if (conv_fft_sizes[i].n == n)
      return 0.5e3 * conv_fft_sizes[i].us * (1 + n_correlations) * (1 + CONV_FFT_OVERHEAD)
             / ((double) t * t);
  return 0.0;                   /* beyond the table: kernels this large are never direct */
}

/* ---------------------------------------------------------------------------------------- */
/* One pass = one plane (image or variance) through one engine                                */

typedef struct
{
  float *band;                  /* direct: (CONV_CELL + 2h) × band_w input rows           */
  float *kcell;                 /* ksize² scratch kernel                                  */
  float *acc;                   /* CONV_BLOCK scratch                                     */
  float *seg;                   /* background segment, max (rect width, tile) floats      */
  float *win;                   /* FFT: N² input window                                   */
  float *res;                   /* FFT: N² result / kernel buffer                         */
  fftwf_complex *spec;          /* FFT: N (N/2 + 1) spectrum of the window                */
  fftwf_complex *prod;          /* FFT: product spectrum                                  */
  DiaMask *mrows;               /* mask: (CONV_MASK_BAND + 2h) × CONV_MASK_STRIP          */
  DiaMask *mline;               /* mask: CONV_MASK_STRIP + 2h                             */
} ConvWork;

typedef struct
{
  /* source plane, buffer coordinates */
  const float *src;
  int width, height;
  size_t stride;
  /* computed region and its destination (dst[0] is pixel rect.x, rect.y) */
  DiaRect rect;
  float *dst;
  size_t dst_stride;
  /* kernels: n_terms × ksize², weights T_m(x, y) = wx[m][x − rect.x] · wy[m][y − rect.y];
   * wx == NULL means a single unweighted kernel */
  int ksize, half, n_terms;
  const float *kernels;
  const float *const *wx;
  const float *const *wy;
  /* write-back: pix = scale · Σ + Σ_j bg_coef[j] bx[j][x] by[j][y] */
  float scale;
  int n_bg;
  const double *bg_coef;
  const float *const *bx;
  const float *const *by;
  /* variance pass (dia_convolve_image only) */
  gboolean variance;
  const double *domain;
  int spatial_order;
  int n_products;               /* P = M (M + 1) / 2 kernel products K_m K_n, m ≤ n       */
  const double *cell_w;         /* P weights per cell [cell_x0, …) × [cell_y0, …)         */
  int cell_x0, cell_y0, n_cell_x;
  /* engine */
  gboolean use_fft;
  int fft_n, tile;              /* FFT size and output step                              */
  int tile_x0, tile_y0, n_tile_x;
  fftwf_plan r2c, c2r;
  fftwf_complex *kspec;         /* conj(K̂)/N² of the n_terms kernels (image pass) or of  */
                                /* the n_products squares and products (variance pass)   */
  int band_y0, band_w;          /* direct: first cell row, band row length               */
  /* bookkeeping */
  ConvWork *work;
  DiaMonitor *monitor;
  const char *stage;
  gint done;
  int total;
} ConvPass;

/* The kernel Σ_m T_m(x, y) K_m at a point, into out[ksize²]. */
static void
conv_kernel_at (const ConvPass *p, double x, double y, float *out)
{
  double f[CONV_MAX_TERMS];
  int npix = p->ksize * p->ksize;

  dia_kernel_spatial_terms (p->domain, p->spatial_order, x, y, f);
  for (int i = 0; i < npix; i++)
    {
      double s = 0;
      for (int m = 0; m < p->n_terms; m++)
        s += f[m] * p->kernels[(size_t) m * npix + i];
      out[i] = (float) s;
    }
}

static void
conv_progress (ConvPass *p)
{
  int done = g_atomic_int_add (&p->done, 1) + 1;
  if (done < p->total)
    dia_monitor_stage (p->monitor, p->stage, (double) done / p->total);
}

/* Copies columns [x0, x0 + n) of source row y into buf, 0 outside the image and for
 * non-finite values. */
static void
conv_load_row (const ConvPass *p, int y, int x0, int n, float *buf)
{
  int a, b;
  const float *s;

  if (y < 0 || y >= p->height)
    {
      memset (buf, 0, sizeof (float) * n);
      return;
    }
  a = CLAMP (-x0, 0, n);                 /* first column inside the image */
  b = CLAMP (p->width - x0, a, n);       /* one past the last             */
  memset (buf, 0, sizeof (float) * a);
  s = p->src + (size_t) y * p->stride + x0;
  for (int i = a; i < b; i++)
    {
      float v = s[i];
      buf[i] = fabsf (v) <= FLT_MAX ? v : 0.0f;
    }
  memset (buf + b, 0, sizeof (float) * (n - b));
}

/* bg(x, y) for x in [x0, x0 + n) of row y into seg (all buffer coordinates inside rect). */
static void
conv_background_segment (const ConvPass *p, int y, int x0, int n, float *seg)
{
  memset (seg, 0, sizeof (float) * n);
  for (int j = 0; j < p->n_bg; j++)
    {
      float c = (float) (p->bg_coef[j] * p->by[j][y - p->rect.y]);
      const float *bx = p->bx[j] + (x0 - p->rect.x);
      for (int i = 0; i < n; i++)
        seg[i] += c * bx[i];
    }
}

/* Adds term m's correlation r[0 … n) to the output segment at (x0, y): the first term
 * assigns, the last one applies scale and background.  Shared by both engines so that the
 * write-back arithmetic is the same. */
static void
conv_accumulate (const ConvPass *p, ConvWork *w, int m, int y, int x0, int n, const float *r)
{
  float *o = p->dst + (size_t) (y - p->rect.y) * p->dst_stride + (x0 - p->rect.x);
  gboolean last = m == p->n_terms - 1;

  if (p->wx == NULL)
    memcpy (o, r, sizeof (float) * n);
  else
    {
      const float *wx = p->wx[m] + (x0 - p->rect.x);
      float wy = p->wy[m][y - p->rect.y];
      if (m == 0)
        for (int i = 0; i < n; i++)
          o[i] = (wy * wx[i]) * r[i];
      else
        for (int i = 0; i < n; i++)
          o[i] += (wy * wx[i]) * r[i];
    }
  if (!last)
    return;
  if (p->n_bg > 0)
    {
      conv_background_segment (p, y, x0, n, w->seg);
      for (int i = 0; i < n; i++)
        o[i] = p->scale * o[i] + w->seg[i];
    }
  else if (p->scale != 1.0f)
    for (int i = 0; i < n; i++)
      o[i] *= p->scale;
}

/* Variance write-back: scale² · ratio · r, clamped at 0. */
static void
conv_store_variance (const ConvPass *p, int y, int x0, int n, const float *r, float factor)
{
  float *o = p->dst + (size_t) (y - p->rect.y) * p->dst_stride + (x0 - p->rect.x);
  for (int i = 0; i < n; i++)
    {
      float v = factor * r[i];
      o[i] = v > 0.0f ? v : 0.0f;
    }
}

/* Crops a squared kernel k2 (ks × ks, centre ks/2) in place to the centred square of half-width
 * dia_kernel_square_radius(), compacted to (2r + 1)² at the start of k2; returns r. */
static int
conv_square_crop (float *k2, int ks)
{
  int h = ks / 2, r = dia_kernel_square_radius (k2, ks), kc = 2 * r + 1, off = h - r;

  for (int v = 0; v < kc && off > 0; v++)
    memmove (k2 + (size_t) v * kc, k2 + (size_t) (v + off) * ks + off, sizeof (float) * kc);
  return r;
}

/* Direct engine, one band = output rows of cell row (band_y0 + index) inside rect. */
static void
conv_direct_band (int first, int last, int thread_index, gpointer data)
{
  ConvPass *p = data;
  ConvWork *w = &p->work[thread_index];
  int h = p->half, ks = p->ksize, npix = ks * ks;

  for (int b = first; b < last; b++)
    {
      int y0 = MAX ((p->band_y0 + b) * CONV_CELL, p->rect.y);
      int y1 = MIN ((p->band_y0 + b + 1) * CONV_CELL, p->rect.y + p->rect.height);
      int bx0 = p->rect.x - h;

      for (int y = y0 - h; y < y1 + h; y++)
        conv_load_row (p, y, bx0, p->band_w, w->band + (size_t) (y - y0 + h) * p->band_w);

      if (!p->variance)
        {
          for (int y = y0; y < y1; y++)
            for (int xo = 0; xo < p->rect.width; xo += CONV_BLOCK)
              {
                int n = MIN (CONV_BLOCK, p->rect.width - xo);
                const float *s = w->band + (size_t) (y - y0) * p->band_w + xo;
                for (int m = 0; m < p->n_terms; m++)
                  {
                    conv_block (s, p->band_w, p->kernels + (size_t) m * npix, ks, w->acc);
                    conv_accumulate (p, w, m, y, p->rect.x + xo, n, w->acc);
                  }
              }
        }
      else
        {
          /* One exact squared kernel per cell; blocks start at the cell's first column. */
          int cy = (p->band_y0 + b);
          int cx_first = p->rect.x / CONV_CELL;
          int cx_last = (p->rect.x + p->rect.width - 1) / CONV_CELL;
          float s2 = p->scale * p->scale;
          for (int cx = cx_first; cx <= cx_last; cx++)
            {
              int xs = MAX (cx * CONV_CELL, p->rect.x);
              int xe = MIN ((cx + 1) * CONV_CELL, p->rect.x + p->rect.width);
              conv_kernel_at (p, cx * CONV_CELL + 0.5 * (CONV_CELL - 1),
                              cy * CONV_CELL + 0.5 * (CONV_CELL - 1), w->kcell);
              for (int i = 0; i < npix; i++)
                w->kcell[i] *= w->kcell[i];
              int r = conv_square_crop (w->kcell, ks);
              int off = h - r, kc = 2 * r + 1;
              for (int y = y0; y < y1; y++)
                {
                  const float *s = w->band + (size_t) (y - y0 + off) * p->band_w
                                   + (xs - p->rect.x) + off;
                  conv_block32 (s, p->band_w, w->kcell, kc, w->acc);
                  conv_store_variance (p, y, xs, xe - xs, w->acc, s2);
                }
            }
        }
      conv_progress (p);
    }
}

/* prod = spec · k over n complex values (k holds conj(K̂)/N²); prod may alias k. */
static void
conv_spectrum_product (const fftwf_complex *spec, const fftwf_complex *k, fftwf_complex *prod,
                       size_t n)
{
  const float *a = (const float *) spec, *b = (const float *) k;
  float *c = (float *) prod;
  for (size_t i = 0; i < n; i++)
    {
      float ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i], bi = b[2 * i + 1];
      c[2 * i] = ar * br - ai * bi;
      c[2 * i + 1] = ar * bi + ai * br;
    }
}

/* Turns the r2c of a kernel placed at [0, K)² into conj(K̂)/N², the factor for which
 * IFFT(Ŵ · factor) is the correlation of the window with the kernel, normalised. */
static void
conv_conjugate_scale (fftwf_complex *k, size_t n, float norm)
{
  float *f = (float *) k;
  for (size_t i = 0; i < n; i++)
    {
      f[2 * i] *= norm;
      f[2 * i + 1] *= -norm;
    }
}

/* Loads the N×N window of tile (tx, ty): source pixels from (tx − h, ty − h). */
static void
conv_load_window (const ConvPass *p, int tx, int ty, float *win)
{
  int n = p->fft_n;
  for (int j = 0; j < n; j++)
    conv_load_row (p, ty - p->half + j, tx - p->half, n, win + (size_t) j * n);
}

/* FFT engine, one tile of the global grid (index over the tiles touching rect). */
static void
conv_fft_tile (int first, int last, int thread_index, gpointer data)
{
  ConvPass *p = data;
  ConvWork *w = &p->work[thread_index];
  int n = p->fft_n;
  size_t ncplx = (size_t) n * (n / 2 + 1);

  for (int t = first; t < last; t++)
    {
      int tx = (p->tile_x0 + t % p->n_tile_x) * p->tile;
      int ty = (p->tile_y0 + t / p->n_tile_x) * p->tile;
      int x0 = MAX (tx, p->rect.x), x1 = MIN (tx + p->tile, p->rect.x + p->rect.width);
      int y0 = MAX (ty, p->rect.y), y1 = MIN (ty + p->tile, p->rect.y + p->rect.height);

      conv_load_window (p, tx, ty, w->win);
      fftwf_execute_dft_r2c (p->r2c, w->win, w->spec);

      if (!p->variance)
        {
          for (int m = 0; m < p->n_terms; m++)
            {
              conv_spectrum_product (w->spec, p->kspec + (size_t) m * ncplx, w->prod, ncplx);
              fftwf_execute_dft_c2r (p->c2r, w->prod, w->res);
              for (int y = y0; y < y1; y++)
                conv_accumulate (p, w, m, y, x0, x1 - x0,
                                 w->res + (size_t) (y - ty) * n + (x0 - tx));
            }
        }
      else
        {
          /* Exact per cell: Σ_p w_p(cell) (G_p ⋆ var) over the P = M(M+1)/2 products
           * G_p = K_m K_n, with w_p = c_mn T_m T_n at the cell centre (c = 2 off-diagonal). */
          float s2 = p->scale * p->scale;
          for (int q = 0; q < p->n_products; q++)
            {
              conv_spectrum_product (w->spec, p->kspec + (size_t) q * ncplx, w->prod, ncplx);
              fftwf_execute_dft_c2r (p->c2r, w->prod, w->res);
              for (int y = y0; y < y1; y++)
                {
                  const double *crow = p->cell_w + (size_t) (y / CONV_CELL - p->cell_y0)
                                                   * p->n_cell_x * p->n_products;
                  float *o = p->dst + (size_t) (y - p->rect.y) * p->dst_stride;
                  const float *r = w->res + (size_t) (y - ty) * n - tx;
                  for (int xs = x0; xs < x1;)
                    {
                      int cx = xs / CONV_CELL;
                      int xe = MIN ((cx + 1) * CONV_CELL, x1);
                      float wq = (float) crow[(size_t) (cx - p->cell_x0) * p->n_products + q];
                      float *oo = o - p->rect.x;
                      if (q == 0 && p->n_products > 1)
                        for (int x = xs; x < xe; x++)
                          oo[x] = wq * r[x];
                      else if (q == 0)
                        for (int x = xs; x < xe; x++)
                          {
                            float v = s2 * (wq * r[x]);
                            oo[x] = v > 0.0f ? v : 0.0f;
                          }
                      else if (q < p->n_products - 1)
                        for (int x = xs; x < xe; x++)
                          oo[x] += wq * r[x];
                      else
                        for (int x = xs; x < xe; x++)
                          {
                            float v = s2 * (oo[x] + wq * r[x]);
                            oo[x] = v > 0.0f ? v : 0.0f;
                          }
                      xs = xe;
                    }
                }
            }
        }
      conv_progress (p);
    }
}

static void
conv_work_free (ConvWork *work, int n)
{
  if (work == NULL)
    return;
  for (int i = 0; i < n; i++)
    {
      dia_aligned_free (work[i].band);
      dia_aligned_free (work[i].kcell);
      dia_aligned_free (work[i].acc);
      dia_aligned_free (work[i].seg);
      fftwf_free (work[i].win);
      fftwf_free (work[i].res);
      fftwf_free (work[i].spec);
      fftwf_free (work[i].prod);
      dia_aligned_free (work[i].mrows);
      dia_aligned_free (work[i].mline);
    }
  g_free (work);
}

/* Per-thread buffers for the passes over rect: FFT tiles of fft_n² (0: none), direct bands,
 * mask strips. */
static ConvWork *
conv_work_new (int n_threads, const DiaRect *rect, int ksize, int fft_n, gboolean with_band,
               gboolean with_mask, int *band_w, GError **error)
{
  ConvWork *work = g_new0 (ConvWork, n_threads);
  int h = ksize / 2;
  size_t bw;
  gboolean ok = TRUE;

  /* Band rows must hold the last 32- or 64-wide block of the row plus its halo, and a
   * cell-aligned 32-wide block starting anywhere in the row. */
  bw = (size_t) ((rect->width + CONV_BLOCK - 1) / CONV_BLOCK) * CONV_BLOCK + CONV_CELL
       + (size_t) ksize;
  *band_w = (int) bw;
  for (int i = 0; i < n_threads && ok; i++)
    {
      ConvWork *w = &work[i];
      size_t seg = (size_t) MAX (rect->width, fft_n) + 64;
      w->kcell = dia_aligned_alloc0 (sizeof (float) * ksize * ksize);
      w->acc = dia_aligned_alloc0 (sizeof (float) * CONV_BLOCK);
      w->seg = dia_aligned_alloc0 (sizeof (float) * seg);
      ok = w->kcell && w->acc && w->seg;
      if (ok && fft_n > 0)
        {
          size_t nr = (size_t) fft_n * fft_n, nc = (size_t) fft_n * (fft_n / 2 + 1);
          w->win = fftwf_malloc (sizeof (float) * nr);
          w->res = fftwf_malloc (sizeof (float) * nr);
          w->spec = fftwf_malloc (sizeof (fftwf_complex) * nc);
          w->prod = fftwf_malloc (sizeof (fftwf_complex) * nc);
          ok = w->win && w->res && w->spec && w->prod;
        }
      if (ok && with_band)
        {
          w->band = dia_aligned_alloc0 (sizeof (float) * bw * (CONV_CELL + 2 * h));
          ok = w->band != NULL;
        }
      if (ok && with_mask)
        {
          int sw = MIN (rect->width, CONV_MASK_STRIP);
          int sh = MIN (rect->height, CONV_MASK_BAND);
          w->mrows = dia_aligned_alloc0 (sizeof (DiaMask) * (size_t) sw * (sh + 2 * h));
          w->mline = dia_aligned_alloc0 (sizeof (DiaMask) * (size_t) (sw + 2 * h));
          ok = w->mrows && w->mline;
        }
    }
  if (!ok)
    {
      conv_work_free (work, n_threads);
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Convolution: not enough memory for the work buffers of %d threads; "
                     "try fewer threads or a smaller region"), n_threads);
      return NULL;
    }
  return work;
}

/* conj(K̂_m)/N² for each kernel, n_terms × N (N/2 + 1), fftwf_malloc'd. */
static fftwf_complex *
conv_kernel_spectra (const float *kernels, int n_terms, int ksize, int n, fftwf_plan r2c)
{
  size_t nc = (size_t) n * (n / 2 + 1);
  fftwf_complex *ks = fftwf_malloc (sizeof (fftwf_complex) * nc * n_terms);
  float *buf = fftwf_malloc (sizeof (float) * n * n);
  float norm = 1.0f / ((float) n * (float) n);

  if (ks == NULL || buf == NULL)
    {
      fftwf_free (ks);
      fftwf_free (buf);
      return NULL;
    }
  for (int m = 0; m < n_terms; m++)
    {
      const float *k = kernels + (size_t) m * ksize * ksize;
      memset (buf, 0, sizeof (float) * n * n);
      for (int v = 0; v < ksize; v++)
        memcpy (buf + (size_t) v * n, k + (size_t) v * ksize, sizeof (float) * ksize);
      fftwf_execute_dft_r2c (r2c, buf, ks + (size_t) m * nc);
      conv_conjugate_scale (ks + (size_t) m * nc, nc, norm);
    }
  fftwf_free (buf);
  return ks;
}

/* The products K_m K_n (m ≤ n, in that order) of the term kernels, P × ksize² floats. */
static float *
conv_kernel_products (const float *kernels, int n_terms, int ksize)
{
  int npix = ksize * ksize, q = 0;
  float *g = g_new (float, (size_t) npix * n_terms * (n_terms + 1) / 2);
  for (int m = 0; m < n_terms; m++)
    for (int n = m; n < n_terms; n++, q++)
      for (int i = 0; i < npix; i++)
        g[(size_t) q * npix + i] = kernels[(size_t) m * npix + i] * kernels[(size_t) n * npix + i];
  return g;
}

/* Sets up the engine geometry of a pass whose plane fields are filled, and runs it. */
static gboolean
conv_run_pass (ConvPass *p, int n_threads, DiaFftCache *cache, GError **error)
{
  gboolean ok;

  if (p->use_fft)
    {
      int tx1, ty1;
      p->tile = p->fft_n - p->ksize + 1;
      p->tile_x0 = p->rect.x / p->tile;
      p->tile_y0 = p->rect.y / p->tile;
      tx1 = (p->rect.x + p->rect.width - 1) / p->tile;
      ty1 = (p->rect.y + p->rect.height - 1) / p->tile;
      p->n_tile_x = tx1 - p->tile_x0 + 1;
      p->total = p->n_tile_x * (ty1 - p->tile_y0 + 1);
      p->r2c = dia_fft_plan_r2c (cache, p->fft_n, p->fft_n);
      p->c2r = dia_fft_plan_c2r (cache, p->fft_n, p->fft_n);
      if (p->r2c == NULL || p->c2r == NULL)
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                       _("Convolution: FFTW could not plan a %d×%d transform (out of memory?)"),
                       p->fft_n, p->fft_n);
          return FALSE;
        }
    }
  else
    {
      p->band_y0 = p->rect.y / CONV_CELL;
      p->total = (p->rect.y + p->rect.height - 1) / CONV_CELL - p->band_y0 + 1;
    }
  p->done = 0;
  dia_monitor_stage (p->monitor, p->stage, 0.0);
  ok = dia_parallel_for (p->total, 1, n_threads, p->use_fft ? conv_fft_tile : conv_direct_band,
                         p, p->monitor, error);
  if (ok)
    dia_monitor_stage (p->monitor, p->stage, 1.0);
  return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Mask                                                                                       */

typedef struct
{
  const DiaImage *in;
  DiaRect rect;
  DiaImage *out;
  int ksize, n_strips;
  ConvWork *work;
  DiaMonitor *monitor;
  gint done;
  int total;
} ConvMaskPass;

/* In place: w[i] = OR of the original w[i … i + P − 1] for i + P ≤ n, P = 2^⌊log2 K⌋. */
static int
conv_mask_doubling_1d (DiaMask *w, int n, int ksize)
{
  int p = 1;
  while (2 * p <= ksize)
    {
      for (int i = 0; i + p < n; i++)
        w[i] |= w[i + p];
      p *= 2;
    }
  return p;
}

static void
conv_mask_item (int first, int last, int thread_index, gpointer data)
{
  ConvMaskPass *mp = data;
  ConvWork *w = &mp->work[thread_index];
  const DiaImage *in = mp->in;
  int ks = mp->ksize, h = ks / 2;
  const DiaMask keep = DIA_MASK_DETECTED | DIA_MASK_DETECTED_NEGATIVE;

  for (int item = first; item < last; item++)
    {
      int sx = mp->rect.x + (item % mp->n_strips) * CONV_MASK_STRIP;
      int sy = mp->rect.y + (item / mp->n_strips) * CONV_MASK_BAND;
      int sw = MIN (CONV_MASK_STRIP, mp->rect.x + mp->rect.width - sx);
      int sh = MIN (CONV_MASK_BAND, mp->rect.y + mp->rect.height - sy);
      int nrows = sh + 2 * h, nline = sw + 2 * h, p = 1;

      /* Rows sy − h … sy + sh + h − 1, each dilated along x into mrows. */
      for (int r = 0; r < nrows; r++)
        {
          int y = sy - h + r;
          DiaMask *dst = w->mrows + (size_t) r * sw;
          if (y < 0 || y >= in->height)
            {
              memset (dst, 0, sizeof (DiaMask) * sw);
              continue;
            }
          {
            const DiaMask *src = in->mask + (size_t) y * in->stride;
            int x0 = sx - h;
            int a = CLAMP (-x0, 0, nline), b = CLAMP (in->width - x0, a, nline);
            memset (w->mline, 0, sizeof (DiaMask) * a);
            memcpy (w->mline + a, src + x0 + a, sizeof (DiaMask) * (b - a));
            memset (w->mline + b, 0, sizeof (DiaMask) * (nline - b));
          }
          p = conv_mask_doubling_1d (w->mline, nline, ks);
          for (int i = 0; i < sw; i++)
            dst[i] = w->mline[i] | w->mline[i + ks - p];
        }
      /* Same doubling down the columns, whole rows at a time. */
      p = 1;
      while (2 * p <= ks)
        {
          for (int r = 0; r + p < nrows; r++)
            {
              DiaMask *a = w->mrows + (size_t) r * sw;
              const DiaMask *b = w->mrows + (size_t) (r + p) * sw;
              for (int i = 0; i < sw; i++)
                a[i] |= b[i];
            }
          p *= 2;
        }
      for (int r = 0; r < sh; r++)
        {
          int y = sy + r;
          const DiaMask *a = w->mrows + (size_t) r * sw;
          const DiaMask *b = w->mrows + (size_t) (r + ks - p) * sw;
          const DiaMask *src = in->mask + (size_t) y * in->stride + sx;
          DiaMask *o = mp->out->mask + (size_t) (y - mp->rect.y) * mp->out->stride
                       + (sx - mp->rect.x);
          for (int i = 0; i < sw; i++)
            o[i] = ((a[i] | b[i]) & ~keep) | (src[i] & keep);
        }
      {
        int done = g_atomic_int_add (&mp->done, 1) + 1;
        if (done < mp->total)
          dia_monitor_stage (mp->monitor, CONV_STAGE_MASK, (double) done / mp->total);
      }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Public entry points                                                                        */

void
dia_convolve_params_init (DiaConvolveParams *params)
{
  g_return_if_fail (params != NULL);
  memset (params, 0, sizeof *params);
  params->scale = 1.0;
}

static gboolean
conv_check_ksize (int ksize, const char *what, GError **error)
{
  if (ksize < 1 || ksize % 2 == 0 || ksize > CONV_MAX_KSIZE)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("%s: kernel side %d is not usable (it must be odd, 1 to %d pixels); "
                     "check the kernel size setting"), what, ksize, CONV_MAX_KSIZE);
      return FALSE;
    }
  return TRUE;
}

static int
conv_resolve_threads (int n_threads, int n_items)
{
  if (n_threads <= 0)
    n_threads = dia_parallel_default_threads ();
  return CLAMP (n_items, 1, n_threads);
}

/* Correlates one plane with one kernel, zero outside.  in and out must not overlap.
 * Threads: any; runs n_threads workers (0 = default).  Units: out has in's units × the
 * kernel's.  Cancellable through monitor (DIA_ERROR_CANCELLED; out is then incomplete). */
gboolean
dia_convolve_plane (const float *in, int width, int height, size_t stride,
                    const float *kernel, int ksize, float *out, size_t out_stride,
                    int n_threads, DiaMonitor *monitor, GError **error)
{
  ConvPass p = { 0 };
  g_autoptr (DiaFftCache) cache = NULL;
  gboolean ok;
  int nt, n_items;

  g_return_val_if_fail (in != NULL && kernel != NULL && out != NULL, FALSE);
  if (!conv_check_ksize (ksize, _("Plane convolution"), error))
    return FALSE;
  if (width <= 0 || height <= 0 || stride < (size_t) width || out_stride < (size_t) width)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Plane convolution: invalid plane geometry %d×%d (strides %zu, %zu)"),
                   width, height, stride, out_stride);
      return FALSE;
    }
  if ((const float *) out < in + (size_t) (height - 1) * stride + width
      && in < (const float *) out + (size_t) (height - 1) * out_stride + width)
    {
      g_set_error_literal (error, DIA_ERROR, DIA_ERROR_INVALID,
                           _("Plane convolution: the output must not overlap the input; "
                             "use a separate buffer"));
      return FALSE;
    }

  p.src = in;
  p.width = width;
  p.height = height;
  p.stride = stride;
  p.rect = (DiaRect) { 0, 0, width, height };
  p.dst = out;
  p.dst_stride = out_stride;
  p.ksize = ksize;
  p.half = ksize / 2;
  p.n_terms = 1;
  p.kernels = kernel;
  p.scale = 1.0f;
  p.monitor = monitor;
  p.stage = CONV_STAGE_IMAGE;
  p.use_fft = conv_fft_cost (ksize, 1) < conv_direct_cost (ksize, 1);
  p.fft_n = p.use_fft ? conv_pick_fft_size (ksize) : 0;

  if (p.use_fft)
    {
      int t = p.fft_n - ksize + 1;
      n_items = ((width + t - 1) / t) * ((height + t - 1) / t);
    }
  else
    n_items = (height + CONV_CELL - 1) / CONV_CELL;
  nt = conv_resolve_threads (n_threads, n_items);
  p.work = conv_work_new (nt, &p.rect, ksize, p.fft_n, !p.use_fft, FALSE, &p.band_w, error);
  if (p.work == NULL)
    return FALSE;

  if (p.use_fft)
    {
      cache = dia_fft_cache_new ();
      p.r2c = dia_fft_plan_r2c (cache, p.fft_n, p.fft_n);
      p.kspec = p.r2c ? conv_kernel_spectra (kernel, 1, ksize, p.fft_n, p.r2c) : NULL;
      if (p.kspec == NULL)
        {
          conv_work_free (p.work, nt);
          g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                       _("Plane convolution: not enough memory for the kernel spectrum"));
          return FALSE;
        }
    }
  ok = conv_run_pass (&p, nt, cache, error);
  fftwf_free (p.kspec);
  conv_work_free (p.work, nt);
  return ok;
}

/* Chebyshev T_0 … T_order of the domain-scaled coordinate of pixels c0 … c0 + n − 1, as
 * table[a n + i]; the scaling is dia_kernel_spatial_terms' (degenerate domain → 0). */
static float *
conv_chebyshev_table (double lo, double hi, int c0, int n, int order)
{
  float *t = g_new (float, (size_t) (order + 1) * n);
  double span = hi - lo, mid = 0.5 * (lo + hi);
  for (int i = 0; i < n; i++)
    {
      double s = span != 0 ? 2.0 * ((c0 + i) - mid) / span : 0.0;
      double tm2 = 1.0, tm1 = s;
      t[i] = 1.0f;
      if (order >= 1)
        t[(size_t) n + i] = (float) s;
      for (int a = 2; a <= order; a++)
        {
          double ta = 2.0 * s * tm1 - tm2;
          t[(size_t) a * n + i] = (float) ta;
          tm2 = tm1;
          tm1 = ta;
        }
    }
  return t;
}

/* Pointers to the x and y tables of each term in the dia-kernel.h order 1, x, y, x², xy,
 * y², …: term (degree d, index j) is T_{d−j}(x') T_j(y'). */
static void
conv_term_tables (int order, const float *tx, int nx, const float *ty, int ny,
                  const float **wx, const float **wy)
{
  int m = 0;
  for (int d = 0; d <= order; d++)
    for (int j = 0; j <= d; j++, m++)
      {
        wx[m] = tx + (size_t) (d - j) * nx;
        wy[m] = ty + (size_t) j * ny;
      }
}

static DiaImage *
conv_output_new (const DiaImage *in, const DiaRect *rect, GError **error)
{
  DiaImage *out = dia_image_new (rect->width, rect->height, error);
  if (out == NULL)
    return NULL;
  dia_image_copy_plane_names (out, in);
  out->meta = in->meta;
  out->meta.variance_origin = DIA_VARIANCE_COMPUTED;
  g_strlcpy (out->meta.variance_note, _("propagated through the PSF-matching convolution"),
             sizeof out->meta.variance_note);
  out->x0 = in->x0 + rect->x;
  out->y0 = in->y0 + rect->y;
  if (in->wcs != NULL)
    {
      struct wcsprm *wcs = dia_wcs_copy (in->wcs);
      if (wcs != NULL)
        {
          dia_wcs_shift (wcs, rect->x, rect->y);
          dia_image_take_wcs (out, wcs);
        }
    }
  return out;
}

/* Output pixels whose K×K footprint leaves the input: input copied (scaled), EDGE set. */
static void
conv_copy_edges (const ConvPass *pix, const DiaImage *in, DiaImage *out, float *seg)
{
  const DiaRect *r = &pix->rect;
  int h = pix->half;
  float s2 = pix->scale * pix->scale;

  for (int y = r->y; y < r->y + r->height; y++)
    {
      gboolean row_edge = y < h || y >= in->height - h;
      for (int x = r->x; x < r->x + r->width;)
        {
          int xe;
          if (row_edge)
            xe = r->x + r->width;
          else if (x < h)
            xe = MIN (h, r->x + r->width);
          else if (x < in->width - h)
            {
              x = in->width - h;     /* skip the interior */
              continue;
            }
          else
            xe = r->x + r->width;
          if (xe <= x)
            break;
          if (pix->n_bg > 0)
            conv_background_segment (pix, y, x, xe - x, seg);
          for (int i = x; i < xe; i++)
            {
              size_t si = dia_image_index (in, i, y);
              size_t oi = dia_image_index (out, i - r->x, y - r->y);
              out->pix[oi] = pix->scale * in->pix[si] + (pix->n_bg > 0 ? seg[i - x] : 0.0f);
              out->var[oi] = s2 * in->var[si];
              out->mask[oi] = in->mask[si] | DIA_MASK_EDGE;
            }
          x = xe;
        }
    }
}

DiaImage *
dia_convolve_image (const DiaImage *in, const DiaKernelSolution *sol, const DiaRect *out_rect,
                    const DiaConvolveParams *params, DiaMonitor *monitor, GError **error)
{
  DiaConvolveParams defaults;
  DiaRect whole, rect;
  g_autoptr (DiaImage) out = NULL;
  g_autoptr (DiaFftCache) cache = NULL;
  g_autofree float *kernels = NULL;
  g_autofree float *tx = NULL;
  g_autofree float *ty = NULL;
  g_autofree float *products = NULL;
  g_autofree double *cell_w = NULL;
  const float *wx[CONV_MAX_TERMS], *wy[CONV_MAX_TERMS], *bx[CONV_MAX_TERMS], *by[CONV_MAX_TERMS];
  ConvPass pix = { 0 }, var = { 0 };
  ConvMaskPass mp = { 0 };
  int ks, n_terms, n_products, order_max, nt, fft_n, n_items;
  double scale;
  gboolean ok = TRUE, interior;

  g_return_val_if_fail (in != NULL && sol != NULL, NULL);
  if (params == NULL)
    {
      dia_convolve_params_init (&defaults);
      params = &defaults;
    }
  whole = (DiaRect) { 0, 0, in->width, in->height };
  rect = out_rect ? *out_rect : whole;
  if (dia_rect_is_empty (&rect) || !dia_rect_contains (&whole, &rect))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Convolution: region %d,%d %d×%d is empty or lies outside the %d×%d "
                     "image; choose a region inside the image"), rect.x, rect.y, rect.width,
                   rect.height, in->width, in->height);
      return NULL;
    }
  if (in->pix == NULL || in->var == NULL || in->mask == NULL)
    {
      g_set_error_literal (error, DIA_ERROR, DIA_ERROR_INVALID,
                           _("Convolution: the input image lacks a pixel, variance or mask "
                             "plane; load it through the FITS reader"));
      return NULL;
    }
  ks = sol->config.size;
  if (!conv_check_ksize (ks, _("Convolution"), error))
    return NULL;
  n_terms = sol->n_spatial;
  if (sol->spatial_order < 0 || sol->spatial_order > CONV_MAX_ORDER
      || n_terms != dia_kernel_n_terms (sol->spatial_order) || sol->bg_order > CONV_MAX_ORDER
      || (params->add_background && sol->n_bg != dia_kernel_n_terms (sol->bg_order)))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Convolution: kernel solution with spatial order %d and background "
                     "order %d is not supported (at most %d); refit with a lower order"),
                   sol->spatial_order, sol->bg_order, CONV_MAX_ORDER);
      return NULL;
    }
  scale = params->scale == 0 ? 1.0 : params->scale;
  if (!isfinite (scale))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Convolution: the flux scale %g is not a finite number; check the "
                     "kernel sum k₀"), scale);
      return NULL;
    }

  out = conv_output_new (in, &rect, error);
  if (out == NULL)
    return NULL;
  kernels = dia_kernel_solution_collapse (sol);

  /* Separable Chebyshev tables over the region, shared by kernel terms and background. */
  order_max = MAX (sol->spatial_order, params->add_background ? sol->bg_order : 0);
  tx = conv_chebyshev_table (sol->domain[0], sol->domain[1], rect.x, rect.width, order_max);
  ty = conv_chebyshev_table (sol->domain[2], sol->domain[3], rect.y, rect.height, order_max);
  conv_term_tables (sol->spatial_order, tx, rect.width, ty, rect.height, wx, wy);

  pix.src = in->pix;
  pix.width = in->width;
  pix.height = in->height;
  pix.stride = in->stride;
  pix.rect = rect;
  pix.dst = out->pix;
  pix.dst_stride = out->stride;
  pix.ksize = ks;
  pix.half = ks / 2;
  pix.n_terms = n_terms;
  pix.kernels = kernels;
  pix.wx = wx;
  pix.wy = wy;
  pix.scale = (float) scale;
  if (params->add_background && sol->n_bg > 0)
    {
      pix.n_bg = sol->n_bg;
      pix.bg_coef = sol->coef + 1 + (size_t) (sol->n_basis - 1) * n_terms;
      conv_term_tables (sol->bg_order, tx, rect.width, ty, rect.height, bx, by);
      pix.bx = bx;
      pix.by = by;
    }
  pix.domain = sol->domain;
  pix.spatial_order = sol->spatial_order;
  pix.monitor = monitor;
  pix.stage = CONV_STAGE_IMAGE;

  /* Engines: forced by direct_max_size, else by the cost model; the variance pass needs
   * P = M(M+1)/2 correlations on the FFT engine but one per cell on the direct one. */
  n_products = n_terms * (n_terms + 1) / 2;
  if (params->direct_max_size > 0)
    pix.use_fft = var.use_fft = ks > params->direct_max_size;
  else
    {
      pix.use_fft = conv_fft_cost (ks, n_terms) < conv_direct_cost (ks, n_terms);
      /* The direct variance pass crops K_c²; the crop of the kernel at the domain centre
       * (region-independent) prices it. */
      g_autofree float *kc = g_new (float, (size_t) ks * ks);
      int r;
      pix.ksize = ks;
      pix.n_terms = n_terms;
      pix.kernels = kernels;
      pix.domain = sol->domain;
      pix.spatial_order = sol->spatial_order;
      conv_kernel_at (&pix, 0.5 * (sol->domain[0] + sol->domain[1]),
                      0.5 * (sol->domain[2] + sol->domain[3]), kc);
      for (int i = 0; i < ks * ks; i++)
        kc[i] *= kc[i];
      r = conv_square_crop (kc, ks);
      var.use_fft = CONV_FFT_VAR_FACTOR * conv_fft_cost (ks, n_products)
                    < conv_direct_cost (2 * r + 1, 1);
    }
  fft_n = conv_pick_fft_size (ks);
  pix.fft_n = var.fft_n = fft_n;

  /* Per-cell weights of the kernel products over the region's cells. */
  pix.n_products = n_products;
  pix.cell_x0 = rect.x / CONV_CELL;
  pix.cell_y0 = rect.y / CONV_CELL;
  pix.n_cell_x = (rect.x + rect.width - 1) / CONV_CELL - pix.cell_x0 + 1;
  {
    int n_cell_y = (rect.y + rect.height - 1) / CONV_CELL - pix.cell_y0 + 1;
    double f[CONV_MAX_TERMS];
    cell_w = g_new (double, (size_t) pix.n_cell_x * n_cell_y * n_products);
    for (int j = 0; j < n_cell_y; j++)
      for (int i = 0; i < pix.n_cell_x; i++)
        {
          double *cw = cell_w + ((size_t) j * pix.n_cell_x + i) * n_products;
          int q = 0;
          dia_kernel_spatial_terms (sol->domain, sol->spatial_order,
                                    (pix.cell_x0 + i) * CONV_CELL + 0.5 * (CONV_CELL - 1),
                                    (pix.cell_y0 + j) * CONV_CELL + 0.5 * (CONV_CELL - 1), f);
          for (int m = 0; m < n_terms; m++)
            for (int n = m; n < n_terms; n++)
              cw[q++] = (m == n ? 1.0 : 2.0) * f[m] * f[n];
        }
  }
  pix.cell_w = cell_w;

  /* Work items: tiles or bands for the planes, strips for the mask. */
  {
    int t = fft_n - ks + 1;
    int n_tiles = ((rect.x + rect.width - 1) / t - rect.x / t + 1)
                  * ((rect.y + rect.height - 1) / t - rect.y / t + 1);
    int n_bands = (rect.y + rect.height - 1) / CONV_CELL - rect.y / CONV_CELL + 1;
    n_items = MAX (pix.use_fft ? n_tiles : n_bands, var.use_fft ? n_tiles : n_bands);
  }
  mp.n_strips = (rect.width + CONV_MASK_STRIP - 1) / CONV_MASK_STRIP;
  mp.total = mp.n_strips * ((rect.height + CONV_MASK_BAND - 1) / CONV_MASK_BAND);
  nt = conv_resolve_threads (params->n_threads, MAX (n_items, mp.total));

  /* The interior (pixels whose footprint stays inside) may be empty for tiny inputs. */
  interior = in->width > 2 * pix.half && in->height > 2 * pix.half;

  pix.work = conv_work_new (nt, &rect, ks, (pix.use_fft || var.use_fft) ? fft_n : 0,
                            !pix.use_fft || !var.use_fft, TRUE, &pix.band_w, error);
  if (pix.work == NULL)
    return NULL;

  if (interior)
    {
      gboolean use_fft_var = var.use_fft;
      var = pix;
      var.use_fft = use_fft_var;
      var.src = in->var;
      var.dst = out->var;
      var.variance = TRUE;
      var.stage = CONV_STAGE_VARIANCE;
      var.kspec = NULL;
      if (pix.use_fft || var.use_fft)
        {
          fftwf_plan r2c;
          cache = dia_fft_cache_new ();
          r2c = dia_fft_plan_r2c (cache, fft_n, fft_n);
          if (r2c && pix.use_fft)
            pix.kspec = conv_kernel_spectra (kernels, n_terms, ks, fft_n, r2c);
          if (r2c && var.use_fft)
            {
              products = conv_kernel_products (kernels, n_terms, ks);
              var.kspec = conv_kernel_spectra (products, n_products, ks, fft_n, r2c);
            }
          if ((pix.use_fft && pix.kspec == NULL) || (var.use_fft && var.kspec == NULL))
            {
              g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                           _("Convolution: not enough memory for the kernel spectra of %d×%d "
                             "tiles; try a smaller region"), fft_n, fft_n);
              ok = FALSE;
            }
        }
      if (ok)
        ok = conv_run_pass (&pix, nt, cache, error);
      if (ok)
        ok = conv_run_pass (&var, nt, cache, error);
    }

  if (ok && interior)
    {
      mp.in = in;
      mp.rect = rect;
      mp.out = out;
      mp.ksize = ks;
      mp.work = pix.work;
      mp.monitor = monitor;
      dia_monitor_stage (monitor, CONV_STAGE_MASK, 0.0);
      ok = dia_parallel_for (mp.total, 1, nt, conv_mask_item, &mp, monitor, error);
      if (ok)
        dia_monitor_stage (monitor, CONV_STAGE_MASK, 1.0);
    }

  if (ok)
    conv_copy_edges (&pix, in, out, pix.work[0].seg);

  fftwf_free (pix.kspec);
  fftwf_free (var.kspec);
  conv_work_free (pix.work, nt);
  if (!ok)
    return NULL;
  return g_steal_pointer (&out);
}
