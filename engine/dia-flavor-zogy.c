/* dia-flavor-zogy.c — the proper difference image of Zackay, Ofek & Gal-Yam (2016)
 * (ALGORITHMS.md §3.6): D, its PSF P_D, the score S and S_corr.
 *
 * Design.  All four products are linear filters of the two background-subtracted inputs whose
 * Fourier multipliers are built from the PSFs at the image centre (plan->psf_science = P_N,
 * plan->psf_template = P_R; the estimated ones or PSF files from the command line) and the two
 * noise levels (clipped means of the variance planes):
 *     Δ² = σ_N² F_R² |P̂_R|² + σ_R² F_N² |P̂_N|²
 *     D̂ = (F_R P̂_R N̂ − F_N P̂_N R̂) / Δ,      F_D = F_R F_N / √(σ_N² F_R² + σ_R² F_N²)
 *     Ŝ = k̂_N N̂ − k̂_R R̂,  k̂_N = F_N F_R² conj(P̂_N) |P̂_R|² / Δ²,  k̂_R likewise.
 * Each multiplier is smooth and tends to a constant or to a PSF ratio at high frequency, so
 * its pixel-space kernel is compact.  We therefore compute the four kernels once on a small
 * FFT grid (4 × the PSF stamp), truncate them below 1e-4 of their peak and apply them as
 * correlations (a correlation with IFFT(conj(m̂)) equals multiplying by m̂).  This replaces
 * the reference's whole-frame FFTs with padding by local filters: masked pixels (NO_DATA, BAD,
 * SAT, EDGE, non-finite) are set to the local background (0 after background subtraction) and
 * can only affect pixels within a kernel half-width — nothing rings across the image — and a
 * region run equals the crop of the full-frame run.  Those masked bits are dilated by the
 * kernel half-width in the output mask (the reference did not dilate, which leaves unflagged
 * residuals around saturated stars); the other planes are a plain OR.
 *
 * Flux scale.  F_N = 1 (the science scale) and F_R = template flux per science flux, from the
 * kernel sum of an Alard–Lupton fit made at plan time in the non-deconvolving direction
 * (F_R = 1/k0 when the template is convolved, k0 otherwise).  The output D is D/F_D: a
 * transient of science flux f appears with flux f and PSF P_D (result->diff_psf), and its
 * variance is (c_N² ⋆ V_N + c_R² ⋆ V_R) / F_D².  result->score is S_corr = S / √(V_S [+ V_ast])
 * with V_S = k_N² ⋆ V_N + k_R² ⋆ V_R and the optional astrometric term
 * V_ast = σ_a² Σ_{N,R} |∇ S_x|² (request.zogy_astrometric_sigma, per axis, px) and the
 * PSF-model term V_psf = ε² S_R² (request.model_error = ε): the astrometric term vanishes at a
 * star's centre, where the residuals of an imperfect PSF model peak (measured at the field
 * corners of 2048² pairs: 5–6σ at stars of flux 1e5–8e5; docs/flavors.md).
 *
 * Spatial variation.  The reference evaluates the PSFs at the centre only.  We build the four
 * kernels (and the misregistration offset, from the AL kernel centroid) at each node of a
 * coarse grid anchored to the frame and blend the filtered outputs bilinearly between nodes;
 * being linear in the kernels, the blend is a spatially varying filter to first order, and
 * each pixel is filtered by at most four nodes.  What remains at bright unsaturated stars
 * (flux ≳ 4e5) are sub-pixel registration / PSF-model residuals of a few σ, which the
 * astrometric term removes: σ_a = 0.03 px meets the false-positive target in both regimes at
 * an unchanged optimal S/N for faint sources (docs/flavors.md).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract-private.h"
#include "dia-background.h"
#include "dia-convolve.h"
#include "dia-decorrelate.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-psf.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#define ZOGY_FILL_MASK (DIA_MASK_NO_DATA | DIA_MASK_BAD | DIA_MASK_SAT | DIA_MASK_EDGE)

enum { ZK_DN, ZK_DR, ZK_SN, ZK_SR, ZK_N };

/* Nodes per axis of the filter grid: node j sits at the centre of cell j of G equal cells of
 * the full frame (never of the region, so a region run equals a crop), and the blend is
 * clamped beyond the outer nodes rather than extrapolated.  An odd count puts a node at the
 * image centre, whose P_D is reported.  Measured on 1024² transient-free pairs (5σ false
 * positives broader / sharper): G = 1 (centre only) 6 / 7, G = 3 3 / 9, G = 5 with nodes on
 * the frame corners 6 / 15 — the PSF models are least constrained at the edges, so a finer
 * grid trades PSF-variation residuals for PSF-model noise; 3 is the compromise. */
#define ZOGY_GRID 3

typedef struct
{
  float *k[ZK_N];               /* correlation kernels: D from N, D from R, S from N, S from R */
  float *k2[ZK_N];              /* their squares (variance propagation)                  */
  int size[ZK_N];
  int half;                     /* largest half-width of this node's kernels             */
  float *psf_d;                 /* P_D, unit sum                                          */
  int psf_d_size;
} ZogyNode;

typedef struct
{
  ZogyNode node[ZOGY_GRID * ZOGY_GRID];
  double node_x[ZOGY_GRID], node_y[ZOGY_GRID];
  int half;                     /* largest half-width over all nodes                     */
  double f_r, f_d;              /* flux zero points (F_N = 1)                            */
  double var_n, var_r;
} ZogyData;

static void
zogy_data_free (gpointer p)
{
  ZogyData *z = p;
  if (z == NULL)
    return;
  for (int j = 0; j < ZOGY_GRID * ZOGY_GRID; j++)
    {
      for (int i = 0; i < ZK_N; i++)
        {
          g_free (z->node[j].k[i]);
          g_free (z->node[j].k2[i]);
        }
      g_free (z->node[j].psf_d);
    }
  g_free (z);
}

static gboolean
zogy_build (const ZogyData *z, ZogyNode *node, const DiaPsf *psf_n, const DiaPsf *psf_r, double cx, double cy,
            double shift_x, double shift_y, GError **error)
{
  g_autoptr (DiaFftCache) cache = dia_fft_cache_new ();
  int m = MAX (dia_psf_stamp_size (psf_n), dia_psf_stamp_size (psf_r)) | 1;
  int n = dia_filter_grid_size (m, 1, 1), nh = n / 2 + 1, ne = n * nh;
  g_autofree float *pn = g_new (float, m * m);
  g_autofree float *pr = g_new (float, m * m);
  fftwf_complex *sn, *sr, *spec[ZK_N + 1] = { NULL };
  double fn = 1.0, fr = z->f_r, vn = z->var_n, vr = z->var_r;
  double d0 = sqrt (vn * fr * fr + vr * fn * fn), dmax = 0;
  gboolean ok = FALSE;

  dia_psf_render (psf_n, cx, cy, 0, 0, pn, m);
  dia_psf_render (psf_r, cx, cy, shift_x, shift_y, pr, m);
  sn = dia_filter_spectrum (cache, pn, m, n);
  sr = dia_filter_spectrum (cache, pr, m, n);
  for (int i = 0; i <= ZK_N; i++)
    spec[i] = fftwf_malloc (sizeof (fftwf_complex) * ne);
  if (sn == NULL || sr == NULL)
    goto out;
  for (int i = 0; i <= ZK_N; i++)
    if (spec[i] == NULL)
      goto out;
  /* Δ² is largest at k = 0, where both unit-sum PSFs have P̂ = 1. */
  dmax = vn * fr * fr + vr * fn * fn;
  for (int i = 0; i < ne; i++)
    {
      double anr = sn[i][0], ani = sn[i][1], arr = sr[i][0], ari = sr[i][1];
      double pn2 = anr * anr + ani * ani, pr2 = arr * arr + ari * ari;
      double d2 = vn * fr * fr * pr2 + vr * fn * fn * pn2, d = sqrt (d2);
      /* Kernels applied as correlations: the multiplier m̂ becomes the kernel IFFT(conj m̂). */
      if (d2 < 1e-12 * dmax)
        {
          /* Both PSFs vanish: D gets the k = 0 normalisation, P_D and S nothing (reference). */
          spec[ZK_DN][i][0] = (float) (fr / d0);
          spec[ZK_DR][i][0] = (float) (fn / d0);
          spec[ZK_DN][i][1] = spec[ZK_DR][i][1] = 0.0f;
          for (int k = ZK_SN; k <= ZK_N; k++)
            spec[k][i][0] = spec[k][i][1] = 0.0f;
          continue;
        }
      /* conj(F_R P̂_R / Δ) and conj(F_N P̂_N / Δ). */
      spec[ZK_DN][i][0] = (float) (fr * arr / d);
      spec[ZK_DN][i][1] = (float) (-fr * ari / d);
      spec[ZK_DR][i][0] = (float) (fn * anr / d);
      spec[ZK_DR][i][1] = (float) (-fn * ani / d);
      /* conj(k̂_N) = F_N F_R² P̂_N |P̂_R|² / Δ², conj(k̂_R) = F_R F_N² P̂_R |P̂_N|² / Δ². */
      spec[ZK_SN][i][0] = (float) (fn * fr * fr * anr * pr2 / d2);
      spec[ZK_SN][i][1] = (float) (fn * fr * fr * ani * pr2 / d2);
      spec[ZK_SR][i][0] = (float) (fr * fn * fn * arr * pn2 / d2);
      spec[ZK_SR][i][1] = (float) (fr * fn * fn * ari * pn2 / d2);
      /* P̂_D = F_R F_N P̂_R P̂_N / (F_D Δ) (an image, not a correlation kernel). */
      spec[ZK_N][i][0] = (float) (fr * fn * (arr * anr - ari * ani) / (z->f_d * d));
      spec[ZK_N][i][1] = (float) (fr * fn * (arr * ani + ari * anr) / (z->f_d * d));
    }
  node->half = 0;
  for (int k = 0; k < ZK_N; k++)
    {
      node->k[k] = dia_filter_kernel_from_spectrum (cache, spec[k], n, DIA_DECORRELATE_TRUNCATION,
                                                 n / 4, &node->size[k]);
      if (node->k[k] == NULL)
        goto out;
      node->k2[k] = g_new (float, node->size[k] * node->size[k]);
      for (int i = 0; i < node->size[k] * node->size[k]; i++)
        node->k2[k][i] = node->k[k][i] * node->k[k][i];
      node->half = MAX (node->half, node->size[k] / 2);
    }
  node->psf_d = dia_filter_kernel_from_spectrum (cache, spec[ZK_N], n, 1e-5, n / 4,
                                              &node->psf_d_size);
  if (node->psf_d == NULL)
    goto out;
  {
    double s = 0;
    for (int i = 0; i < node->psf_d_size * node->psf_d_size; i++)
      s += node->psf_d[i];
    for (int i = 0; i < node->psf_d_size * node->psf_d_size && s != 0; i++)
      node->psf_d[i] /= (float) s;
  }
  ok = TRUE;

out:
  fftwf_free (sn);
  fftwf_free (sr);
  for (int i = 0; i <= ZK_N; i++)
    fftwf_free (spec[i]);
  if (!ok)
    g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                 _("ZOGY: out of memory while building the %d×%d filter grid"), n, n);
  return ok;
}

static gboolean
flavor_zogy_prepare (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error)
{
  ZogyData *z = g_new0 (ZogyData, 1);
  double tx, ty, sx, sy;
  gboolean conv_t;
  const DiaImage *s = plan->science_image;
  gint64 t0;

  plan->flavor_data = z;
  plan->flavor_data_free = zogy_data_free;
  /* The photometric ratio from an AL fit in the direction that does not deconvolve (§3.4
   * rule); ZOGY itself needs only F_R / F_N. */
  _dia_subtract_psf_axis_fwhm (plan->psf_template, plan->template_image, &tx, &ty);
  _dia_subtract_psf_axis_fwhm (plan->psf_science, plan->science_image, &sx, &sy);
  conv_t = tx <= sx || ty <= sy;
  if (!_dia_subtract_fit_al (plan, conv_t, monitor, error))
    return FALSE;
  t0 = g_get_monotonic_time ();
  z->f_r = conv_t ? 1.0 / plan->k0 : plan->k0;
  z->var_n = dia_decorrelate_noise_variance (plan->science_image);
  z->var_r = dia_decorrelate_noise_variance (plan->template_image);
  if (!(z->var_n > 0) || !(z->var_r > 0) || !isfinite (z->var_n) || !isfinite (z->var_r))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("ZOGY: the noise levels of the inputs (variance %g science, %g template) "
                     "are not usable; check both variance planes"), z->var_n, z->var_r);
      return FALSE;
    }
  z->f_d = z->f_r / sqrt (z->var_n * z->f_r * z->f_r + z->var_r);
  /* One filter set per grid node, from both PSF models evaluated there.  The PSF models are
   * centred on their stars' centroids, so they lose any misregistration of the two images;
   * the AL kernel centroid at the node measures it (a kernel centred at +d moves content by
   * −d), and P_R is rendered at the template's offset from the science positions. */
  for (int j = 0; j < ZOGY_GRID; j++)
    {
      z->node_x[j] = (j + 0.5) * s->width / ZOGY_GRID - 0.5;
      z->node_y[j] = (j + 0.5) * s->height / ZOGY_GRID - 0.5;
    }
  z->half = 0;
  for (int jy = 0; jy < ZOGY_GRID; jy++)
    for (int jx = 0; jx < ZOGY_GRID; jx++)
      {
        ZogyNode *node = &z->node[jy * ZOGY_GRID + jx];
        double kdx, kdy;
        dia_kernel_solution_centroid (plan->kernel, z->node_x[jx], z->node_y[jy], &kdx, &kdy);
        if (!conv_t)
          kdx = -kdx, kdy = -kdy;
        if (!zogy_build (z, node, plan->psf_science, plan->psf_template, z->node_x[jx],
                         z->node_y[jy], kdx, kdy, error))
          return FALSE;
        z->half = MAX (z->half, node->half);
      }
  dia_subtract_timing_add (plan->info.timings, "zogy filters",
                           (g_get_monotonic_time () - t0) / 1000.0);
  return TRUE;
}

/* Background-subtracted pixels and variances of one input over rect, unusable pixels set to
 * 0 and σ². */
static void
zogy_fill (const DiaImage *img, const DiaBackground *bg, const DiaRect *rect, double var,
           float *pix, float *v)
{
  size_t w = rect->width;
  dia_background_render (bg, rect, pix, w);
  for (int y = 0; y < rect->height; y++)
    for (int x = 0; x < rect->width; x++)
      {
        size_t i = dia_image_index (img, rect->x + x, rect->y + y), o = y * w + x;
        gboolean bad = (img->mask[i] & ZOGY_FILL_MASK) || !isfinite (img->pix[i])
                       || !isfinite (img->var[i]);
        pix[o] = bad ? 0.0f : img->pix[i] - pix[o];
        v[o] = bad ? (float) var : img->var[i];
      }
}

/* Grid coordinate of pixel x along an axis of n pixels: node j sits at the centre of cell j
 * of G equal cells, and the coordinate is clamped to the outer nodes, so the filters are never
 * extrapolated beyond the PSF models' well-constrained interior. */
static inline double
zogy_grid_coord (int x, int n)
{
  return CLAMP ((x + 0.5) * ZOGY_GRID / n - 0.5, 0.0, ZOGY_GRID - 1.0);
}

/* Bilinear weight of node j: the hat function of the grid, so the weights of neighbouring
 * nodes sum to 1 everywhere. */
static inline double
zogy_weight (int x, int n, int j)
{
  return MAX (0.0, 1.0 - fabs (zogy_grid_coord (x, n) - j));
}

/* Pixel range [*lo, *hi] (a superset) where node j has non-zero weight along an axis of n. */
static void
zogy_support (int n, int j, int *lo, int *hi)
{
  double cell = (double) n / ZOGY_GRID;
  *lo = j == 0 ? 0 : MAX (0, (int) floor ((j - 0.5) * cell) - 1);
  *hi = j == ZOGY_GRID - 1 ? n - 1 : MIN (n - 1, (int) ceil ((j + 1.5) * cell) + 1);
}

static gboolean
flavor_zogy_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                   DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  const ZogyData *z = plan->flavor_data;
  const DiaImage *sci = plan->science_image, *tpl = plan->template_image;
  DiaRect whole = { 0, 0, sci->width, sci->height };
  int nt = plan->request.n_threads;
  /* acc: the region plus one pixel (the astrometric gradient); g: acc plus the filter reach. */
  DiaRect acc = { region->x - 1, region->y - 1, region->width + 2, region->height + 2 };
  DiaRect g;
  size_t n, na;
  enum { B_N, B_R, B_VN, B_VR, B_T1, B_T2, B_T3, B_T4, B_NB };
  enum { A_D, A_VD, A_SN, A_SR, A_VS, A_NB };
  float *b[B_NB] = { NULL };
  double *a[A_NB] = { NULL };
  g_autoptr (DiaImage) diff = NULL;
  g_autoptr (DiaImage) score = NULL;
  g_autofree DiaMask *ms = NULL;
  g_autofree DiaMask *mt = NULL;
  DiaMask map[DIA_MASK_MAX_PLANES];
  double sa2 = plan->request.zogy_astrometric_sigma * plan->request.zogy_astrometric_sigma;
  double eps2 = plan->request.model_error * plan->request.model_error;
  gboolean ok = FALSE;
  gint64 t0 = g_get_monotonic_time ();

  acc = dia_rect_intersect (&acc, &whole);
  g = (DiaRect) { acc.x - z->half, acc.y - z->half, acc.width + 2 * z->half,
                  acc.height + 2 * z->half };
  g = dia_rect_intersect (&g, &whole);
  n = (size_t) g.width * g.height;
  na = (size_t) acc.width * acc.height;
  for (int i = 0; i < B_NB; i++)
    if ((b[i] = g_try_new (float, n)) == NULL)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                     _("ZOGY: out of memory for a %d×%d region"), g.width, g.height);
        goto out;
      }
  for (int i = 0; i < A_NB; i++)
    if ((a[i] = g_try_new0 (double, na)) == NULL)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                     _("ZOGY: out of memory for a %d×%d region"), acc.width, acc.height);
        goto out;
      }
  diff = dia_image_new (region->width, region->height, error);
  score = diff ? dia_image_new (region->width, region->height, error) : NULL;
  ms = g_try_new (DiaMask, (size_t) region->width * region->height);
  mt = g_try_new (DiaMask, (size_t) region->width * region->height);
  if (score == NULL || ms == NULL || mt == NULL)
    goto out;
  zogy_fill (sci, plan->bg_science, &g, z->var_n, b[B_N], b[B_VN]);
  zogy_fill (tpl, plan->bg_template, &g, z->var_r, b[B_R], b[B_VR]);

  /* Each node filters the part of acc where its weight is non-zero (plus its own reach), and
   * the weighted outputs are summed: the blend is linear in the kernels, i.e. a spatially
   * varying filter to first order.  Variances blend the squared kernels, which differs from
   * the square of the blended kernel only to second order in the node-to-node change. */
  for (int jy = 0; jy < ZOGY_GRID; jy++)
    for (int jx = 0; jx < ZOGY_GRID; jx++)
      {
        const ZogyNode *node = &z->node[jy * ZOGY_GRID + jx];
        int xlo, xhi, ylo, yhi, hn = node->half;
        DiaRect sub, sg;
        size_t off;
        zogy_support (sci->width, jx, &xlo, &xhi);
        zogy_support (sci->height, jy, &ylo, &yhi);
        sub = (DiaRect) { xlo, ylo, xhi - xlo + 1, yhi - ylo + 1 };
        sub = dia_rect_intersect (&sub, &acc);
        if (sub.width <= 0 || sub.height <= 0)
          continue;
        sg = (DiaRect) { sub.x - hn, sub.y - hn, sub.width + 2 * hn, sub.height + 2 * hn };
        sg = dia_rect_intersect (&sg, &g);
        off = (size_t) (sg.y - g.y) * g.width + (sg.x - g.x);
        for (int pass = 0; pass < 2; pass++)
          {
            int kn = pass == 0 ? ZK_DN : ZK_SN, kr = pass == 0 ? ZK_DR : ZK_SR;
            const float *kk[4] = { node->k[kn], node->k[kr], node->k2[kn], node->k2[kr] };
            int ksz[4] = { node->size[kn], node->size[kr], node->size[kn], node->size[kr] };
            const float *src[4] = { b[B_N], b[B_R], b[B_VN], b[B_VR] };
            for (int c = 0; c < 4; c++)
              if (!dia_convolve_plane (src[c] + off, sg.width, sg.height, g.width, kk[c], ksz[c],
                                       b[B_T1 + c], sg.width, nt, monitor, error))
                goto out;
            for (int y = sub.y; y < sub.y + sub.height; y++)
              {
                double wy = zogy_weight (y, sci->height, jy);
                if (wy <= 0)
                  continue;
                for (int x = sub.x; x < sub.x + sub.width; x++)
                  {
                    double w = wy * zogy_weight (x, sci->width, jx);
                    size_t i = (size_t) (y - sg.y) * sg.width + (x - sg.x);
                    size_t q = (size_t) (y - acc.y) * acc.width + (x - acc.x);
                    if (w <= 0)
                      continue;
                    if (pass == 0)
                      {
                        a[A_D][q] += w * (b[B_T1][i] - b[B_T2][i]);
                        a[A_VD][q] += w * (b[B_T3][i] + b[B_T4][i]);
                      }
                    else
                      {
                        a[A_SN][q] += w * b[B_T1][i];
                        a[A_SR][q] += w * b[B_T2][i];
                        a[A_VS][q] += w * (b[B_T3][i] + b[B_T4][i]);
                      }
                  }
              }
          }
      }

  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++)
      {
        int gx = region->x - acc.x + x, gy = region->y - acc.y + y;
        size_t o = dia_image_index (diff, x, y), i = (size_t) gy * acc.width + gx;
        double vs = MAX (a[A_VS][i], 0.0);
        diff->pix[o] = (float) (a[A_D][i] / z->f_d);
        diff->var[o] = (float) (MAX (a[A_VD][i], 0.0) / (z->f_d * z->f_d));
        /* The astrometric term from the gradients of S_N and S_R separately. */
        if (sa2 > 0)
          for (int k = A_SN; k <= A_SR; k++)
            {
              const double *sp = a[k];
              int xl = MAX (gx - 1, 0), xr = MIN (gx + 1, acc.width - 1);
              int yl = MAX (gy - 1, 0), yr = MIN (gy + 1, acc.height - 1);
              double dx = (sp[(size_t) gy * acc.width + xr] - sp[(size_t) gy * acc.width + xl])
                          / MAX (xr - xl, 1);
              double dy = (sp[(size_t) yr * acc.width + gx] - sp[(size_t) yl * acc.width + gx])
                          / MAX (yr - yl, 1);
              vs += sa2 * (dx * dx + dy * dy);
            }
        /* The PSF-model error of the static scene (request.model_error): a fraction ε of the
         * template's part of the score, which a transient absent from the template lacks. */
        vs += eps2 * a[A_SR][i] * a[A_SR][i];
        o = dia_image_index (score, x, y);
        score->var[o] = (float) vs;
        score->pix[o] = vs > 0 ? (float) ((a[A_SN][i] - a[A_SR][i]) / sqrt (vs)) : 0.0f;
      }

  /* Masks: unusable bits dilated by the kernel half-width, others OR-ed; EDGE where a kernel
   * leaves the frame.  Template planes are mapped onto the science dictionary by name. */
  dia_image_copy_plane_names (diff, sci);
  for (int bit = 0; bit < DIA_MASK_MAX_PLANES; bit++)
    map[bit] = tpl->plane_names[bit] ? dia_image_add_mask_plane (diff, tpl->plane_names[bit])
                                     : 0;
  dia_image_copy_plane_names (score, diff);
  if (!dia_mask_dilate (sci, region, ZOGY_FILL_MASK, z->half, ms, region->width, error)
      || !dia_mask_dilate (tpl, region, ZOGY_FILL_MASK, z->half, mt, region->width, error))
    goto out;
  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++)
      {
        size_t o = dia_image_index (diff, x, y), q = (size_t) y * region->width + x;
        int ax = region->x + x, ay = region->y + y;
        DiaMask m = ms[q], t = mt[q];
        while (t)
          {
            int bit = g_bit_nth_lsf (t, -1);
            m |= map[bit];
            t &= t - 1;
          }
        if (ax < z->half || ay < z->half || ax >= sci->width - z->half
            || ay >= sci->height - z->half)
          m |= DIA_MASK_EDGE;
        if (m & DIA_MASK_NO_DATA)
          {
            diff->pix[o] = 0.0f;
            diff->var[o] = INFINITY;
            score->pix[o] = 0.0f;
          }
        diff->mask[o] = score->mask[dia_image_index (score, x, y)] = m;
        score->var[dia_image_index (score, x, y)] = isfinite (diff->var[o]) ? 1.0f : INFINITY;
      }
  diff->x0 = sci->x0 + region->x;
  diff->y0 = sci->y0 + region->y;
  score->x0 = diff->x0;
  score->y0 = diff->y0;
  diff->meta = sci->meta;
  diff->meta.variance_origin = DIA_VARIANCE_COMPUTED;
  g_strlcpy (diff->meta.variance_note, "ZOGY: c_N^2 * V_N + c_R^2 * V_R, over F_D^2",
             sizeof diff->meta.variance_note);
  score->meta = diff->meta;
  g_strlcpy (score->meta.variance_note, "ZOGY S_corr in units of its standard deviation",
             sizeof score->meta.variance_note);
  dia_image_freeze (diff);
  dia_image_freeze (score);
  result->diff = g_steal_pointer (&diff);
  result->score = g_steal_pointer (&score);
  {
    const ZogyNode *c = &z->node[(ZOGY_GRID / 2) * ZOGY_GRID + ZOGY_GRID / 2];
    result->diff_psf = dia_psf_new_from_pixels (c->psf_d, c->psf_d_size, c->psf_d_size, NULL);
  }
  dia_subtract_timing_add (result->timings, "zogy", (g_get_monotonic_time () - t0) / 1000.0);
  ok = TRUE;

out:
  for (int i = 0; i < B_NB; i++)
    g_free (b[i]);
  for (int i = 0; i < A_NB; i++)
    g_free (a[i]);
  return ok;
}

static DiaRect
flavor_zogy_input_region (const DiaSubtractPlan *plan, const DiaRect *region)
{
  const ZogyData *z = plan->flavor_data;
  int h = z ? z->half + 1 : 0;   /* filter reach plus the astrometric gradient */
  DiaRect grown = { region->x - h, region->y - h, region->width + 2 * h, region->height + 2 * h };
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  return dia_rect_intersect (&grown, &whole);
}

const DiaFlavorClass dia_flavor_zogy = {
  .id = DIA_FLAVOR_ZOGY,
  .name = "zogy",
  .label = N_("ZOGY (proper image)"),
  .description = N_("Zackay–Ofek–Gal-Yam proper difference and score images from the two PSFs "
                    "and noise levels."),
  .caps = DIA_FLAVOR_CAP_SCORE,
  .prepare = flavor_zogy_prepare,
  .apply = flavor_zogy_apply,
  .input_region = flavor_zogy_input_region,
};
