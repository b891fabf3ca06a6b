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
 * V_ast = σ_a² Σ_{N,R} |∇ S_x|² (request.zogy_astrometric_sigma, per axis, px).
 *
 * Limits: the PSFs are evaluated at the centre only (the reference's default), so PSF
 * variation across the field leaves residuals at bright stars that a spatially varying AL
 * kernel would absorb; see docs/flavors.md for the measured cost.
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

typedef struct
{
  float *k[ZK_N];               /* correlation kernels: D from N, D from R, S from N, S from R */
  float *k2[ZK_N];              /* their squares (variance propagation)                  */
  int size[ZK_N];
  int half;                     /* largest half-width                                    */
  double f_r, f_d;              /* flux zero points (F_N = 1)                            */
  double var_n, var_r;
  double shift_x, shift_y;      /* template PSF offset from the science positions, px     */
  float *psf_d;                 /* P_D, unit sum                                          */
  int psf_d_size;
} ZogyData;

static void
zogy_data_free (gpointer p)
{
  ZogyData *z = p;
  if (z == NULL)
    return;
  for (int i = 0; i < ZK_N; i++)
    {
      g_free (z->k[i]);
      g_free (z->k2[i]);
    }
  g_free (z->psf_d);
  g_free (z);
}

static gboolean
zogy_build (ZogyData *z, const DiaPsf *psf_n, const DiaPsf *psf_r, double cx, double cy,
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
  z->f_d = fr * fn / d0;
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
  z->half = 0;
  for (int k = 0; k < ZK_N; k++)
    {
      z->k[k] = dia_filter_kernel_from_spectrum (cache, spec[k], n, DIA_DECORRELATE_TRUNCATION,
                                                 n / 4, &z->size[k]);
      if (z->k[k] == NULL)
        goto out;
      z->k2[k] = g_new (float, z->size[k] * z->size[k]);
      for (int i = 0; i < z->size[k] * z->size[k]; i++)
        z->k2[k][i] = z->k[k][i] * z->k[k][i];
      z->half = MAX (z->half, z->size[k] / 2);
    }
  z->psf_d = dia_filter_kernel_from_spectrum (cache, spec[ZK_N], n, 1e-5, n / 4,
                                              &z->psf_d_size);
  if (z->psf_d == NULL)
    goto out;
  {
    double s = 0;
    for (int i = 0; i < z->psf_d_size * z->psf_d_size; i++)
      s += z->psf_d[i];
    for (int i = 0; i < z->psf_d_size * z->psf_d_size && s != 0; i++)
      z->psf_d[i] /= (float) s;
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
  /* The PSF models are centred on their stars' centroids, so they lose any misregistration
   * of the two images; the kernel centroid measures it (a kernel centred at +d moves content
   * by −d), and P_R is rendered at the template's offset from the science positions. */
  z->shift_x = conv_t ? plan->info.kernel_dx_centre : -plan->info.kernel_dx_centre;
  z->shift_y = conv_t ? plan->info.kernel_dy_centre : -plan->info.kernel_dy_centre;
  if (!zogy_build (z, plan->psf_science, plan->psf_template, (s->width - 1) / 2.0,
                   (s->height - 1) / 2.0, z->shift_x, z->shift_y, error))
    return FALSE;
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

static gboolean
zogy_corr (const ZogyData *z, int k, gboolean square, const float *in, const DiaRect *g,
           float *out, int n_threads, DiaMonitor *monitor, GError **error)
{
  return dia_convolve_plane (in, g->width, g->height, g->width, square ? z->k2[k] : z->k[k],
                             z->size[k], out, g->width, n_threads, monitor, error);
}

static gboolean
flavor_zogy_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                   DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  const ZogyData *z = plan->flavor_data;
  const DiaImage *sci = plan->science_image, *tpl = plan->template_image;
  DiaRect whole = { 0, 0, sci->width, sci->height };
  int h = z->half + 1, nt = plan->request.n_threads;
  DiaRect g = { region->x - h, region->y - h, region->width + 2 * h, region->height + 2 * h };
  size_t n;
  enum { B_N, B_R, B_VN, B_VR, B_1, B_2, B_3, B_4, B_NB };
  float *b[B_NB] = { NULL };
  g_autoptr (DiaImage) diff = NULL;
  g_autoptr (DiaImage) score = NULL;
  g_autofree DiaMask *ms = NULL;
  g_autofree DiaMask *mt = NULL;
  DiaMask map[DIA_MASK_MAX_PLANES];
  double sa2 = plan->request.zogy_astrometric_sigma * plan->request.zogy_astrometric_sigma;
  gboolean ok = FALSE;
  gint64 t0 = g_get_monotonic_time ();

  g = dia_rect_intersect (&g, &whole);
  n = (size_t) g.width * g.height;
  for (int i = 0; i < B_NB; i++)
    if ((b[i] = g_try_new (float, n)) == NULL)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                     _("ZOGY: out of memory for a %d×%d region"), g.width, g.height);
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

  /* D and V_D. */
  if (!zogy_corr (z, ZK_DN, FALSE, b[B_N], &g, b[B_1], nt, monitor, error)
      || !zogy_corr (z, ZK_DR, FALSE, b[B_R], &g, b[B_2], nt, monitor, error)
      || !zogy_corr (z, ZK_DN, TRUE, b[B_VN], &g, b[B_3], nt, monitor, error)
      || !zogy_corr (z, ZK_DR, TRUE, b[B_VR], &g, b[B_4], nt, monitor, error))
    goto out;
  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++)
      {
        size_t o = dia_image_index (diff, x, y);
        size_t i = (size_t) (region->y - g.y + y) * g.width + (region->x - g.x + x);
        diff->pix[o] = (float) ((b[B_1][i] - b[B_2][i]) / z->f_d);
        diff->var[o] = (float) (MAX (b[B_3][i] + b[B_4][i], 0.0f) / (z->f_d * z->f_d));
      }
  /* S, V_S and the astrometric term from S_N and S_R separately. */
  if (!zogy_corr (z, ZK_SN, FALSE, b[B_N], &g, b[B_1], nt, monitor, error)
      || !zogy_corr (z, ZK_SR, FALSE, b[B_R], &g, b[B_2], nt, monitor, error)
      || !zogy_corr (z, ZK_SN, TRUE, b[B_VN], &g, b[B_3], nt, monitor, error)
      || !zogy_corr (z, ZK_SR, TRUE, b[B_VR], &g, b[B_4], nt, monitor, error))
    goto out;
  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++)
      {
        int gx = region->x - g.x + x, gy = region->y - g.y + y;
        size_t o = dia_image_index (score, x, y), i = (size_t) gy * g.width + gx;
        double vs = MAX (b[B_3][i] + b[B_4][i], 0.0f);
        if (sa2 > 0)
          for (int k = B_1; k <= B_2; k++)
            {
              const float *sp = b[k];
              int xl = MAX (gx - 1, 0), xr = MIN (gx + 1, g.width - 1);
              int yl = MAX (gy - 1, 0), yr = MIN (gy + 1, g.height - 1);
              double dx = (sp[(size_t) gy * g.width + xr] - sp[(size_t) gy * g.width + xl])
                          / MAX (xr - xl, 1);
              double dy = (sp[(size_t) yr * g.width + gx] - sp[(size_t) yl * g.width + gx])
                          / MAX (yr - yl, 1);
              vs += sa2 * (dx * dx + dy * dy);
            }
        score->var[o] = (float) vs;
        score->pix[o] = vs > 0 ? (float) ((b[B_1][i] - b[B_2][i]) / sqrt (vs)) : 0.0f;
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
  result->diff_psf = dia_psf_new_from_pixels (z->psf_d, z->psf_d_size, z->psf_d_size, NULL);
  dia_subtract_timing_add (result->timings, "zogy", (g_get_monotonic_time () - t0) / 1000.0);
  ok = TRUE;

out:
  for (int i = 0; i < B_NB; i++)
    g_free (b[i]);
  return ok;
}

static DiaRect
flavor_zogy_input_region (const DiaSubtractPlan *plan, const DiaRect *region)
{
  const ZogyData *z = plan->flavor_data;
  int h = z ? z->half + 1 : 0;
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
