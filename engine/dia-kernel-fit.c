/* dia-kernel-fit.c — the spatially varying Alard–Lupton kernel fit (ALGORITHMS.md §2.2–2.6).
 *
 * Model: reference S ≈ K(x, y) ⋆ T + bg(x, y) with T the "convolved" image.  The fit works on
 * stamps: around each stamp centre (x_c, y_c) it takes T over the (2k+1)² box (k = kernel
 * side = 2h+1) and S over the (k+2)² core, which is exactly the region where B_n ⋆ T is fully
 * defined.  For every stamp the basis images correlated with T (C_n) are computed once, with
 * Q = Cᵀ W C, w = Cᵀ W s (constant weight 1 / median(V_S + V_T) over the core) and the stamp's
 * own solution.  C (as float), Q and w are cached for the whole call: iterations only change
 * which stamps contribute, never their systems.
 *
 * Speed: each raw AL basis image is separable, G(u)(u/h)^i · G(v)(v/h)^j, and the renormalised
 * B_n is α_n X_n + β_n X_0 (§1.4).  So C_n comes from 1-D passes — one horizontal pass per
 * (Gaussian, x power), one vertical pass per basis — about a tenth of the work of direct 2-D
 * correlation.  α, β are recovered by projecting the built basis onto the raw images and the
 * reconstruction is checked; if it does not hold (a basis that is not AL-shaped) the code
 * falls back to direct correlation.  Stamps are processed with dia_parallel_for, each thread
 * owning one scratch block (indexed by thread_index); results go into per-stamp slots only.
 *
 * Loop (§2.5): visit the first n_per_cell non-rejected stamps of each cell (array order, so
 * RESERVE stamps move up when a visited one is rejected); reject stamps whose own fit leaves
 * residuals with |mean| > max_resid_mean or rms > max_resid_rms (of d/√V over the core, with
 * V = V_S + K² ⋆ V_T), repeating until a pass rejects nobody; clip kernel sums (3σ clipped
 * mean/stdev, afw MEANCLIP via dia_stats_clipped) and restart if that rejected anyone; then
 * assemble and solve the spatial system (§2.4), assess every visited stamp against it and
 * reject the failures as SPATIAL.  After max_iterations assessments that still reject, one
 * last solve is made with the survivors.  The spatial system is equilibrated (unit diagonal)
 * before its Cholesky factorisation; a zero diagonal, a failed factorisation, a condition
 * number (of the equilibrated matrix, see fit_solve_spatial) above max_condition or a
 * non-finite coefficient is DIA_ERROR_SINGULAR — never NaNs.
 * The per-stamp systems fall back to an eigen-decomposition pseudo-inverse instead.
 *
 * Statuses in the stamp array are updated in place.  Fit-stage rejections from an earlier
 * call (KERNEL_SUM, RESID_*, SPATIAL, SINGULAR) are reset first, so a refit with other
 * parameters starts from the selection result; selection rejections are left alone.
 *
 * Copyright 2026 The Diffscope authors.  SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-kernel-fit.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-stamps.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

#define FIT_STAGE        "kernel fit"
#define FIT_MAX_DEGREE   10
#define FIT_STATS_EXCLUDE (DIA_MASK_NO_DATA | DIA_MASK_EDGE | DIA_MASK_SAT)
/* Eigenvalues below this fraction of the largest are dropped by the pseudo-inverse. */
#define FIT_PINV_RCOND   1e-12

void
dia_kernel_fit_params_init (DiaKernelFitParams *params)
{
  g_return_if_fail (params != NULL);
  params->spatial_order = 1;
  params->bg_order = 2;
  params->max_iterations = 3;
  params->max_resid_mean = 0.25;
  params->max_resid_rms = 1.5;
  params->max_ksum_sigma = 3.0;
  params->max_condition = 1e10;
  params->n_per_cell = 5;
  params->n_threads = 0;
}

/* Everything cached for one stamp.  Written only by the thread that processes it. */
typedef struct
{
  int xc, yc;                   /* integer centre, buffer px                           */
  gboolean candidate;           /* status was GOOD/RESERVE/fit-rejected on entry      */
  gboolean visited;             /* among the first n_per_cell of its cell right now   */
  gboolean computed;            /* Q, w, c, a filled (or failed)                      */
  gboolean failed;
  DiaStampStatus fail_status;
  float *c;                     /* n_basis × n_corep: C_n = B_n ⋆ T over the core      */
  double *q, *w;                /* n_p × n_p, n_p                                      */
  double *a;                    /* the stamp's own solution, n_p                       */
  double ksum;
  double mean, rms;             /* last statistics computed by a parallel pass         */
} FitStamp;

/* Per-thread workspace. */
typedef struct
{
  double *td;                   /* T over the stamp box, sw × tsw                     */
  float *vt;                    /* V_T over the stamp box, sw × tsw                   */
  float *s, *vs;                /* S and V_S over the core, n_corep                   */
  DiaMask *mask;                /* S | T mask over the core, n_corep                  */
  float *vsum;                  /* V_S + V_T over the core, n_core (for the median)   */
  double *h;                    /* horizontal passes, (FIT_MAX_DEGREE+1) × sw × cwp   */
  double *cd;                   /* C in double, n_basis × n_corep                     */
  double *model;                /* n_corep                                            */
  float *k2;                    /* squared kernel image, size²                         */
  float *kv;                    /* K² ⋆ V_T over the core                             */
  double *mat, *mat2, *vec, *vec2, *scale, *local;
  gsl_eigen_symmv_workspace *eig;
} FitScratch;

typedef struct
{
  const DiaImage *tmpl, *ref;
  const DiaKernelFitParams *params;
  DiaBasisConfig config;
  float *basis;                 /* owned until handed to the solution                 */
  double *bsum;                 /* Σ B_n                                               */
  int nb, np, size, h, sw, cw, n_core;
  int cwp, tsw, n_corep;        /* core row length padded to 4, padded stamp row, cw·cwp */
  gboolean fit_bg;
  int n_spatial, n_bg, n_total, bg_order;
  double domain[4];

  /* separable representation */
  gboolean separable;
  double *fx, *fy;              /* [g][power][t], (FIT_MAX_DEGREE+1) × size per g     */
  int *gid, *ipow, *jpow;
  double *alpha, *beta;

  FitStamp *st;
  DiaStamp *stamps;
  int n_stamps;
  int *list;                    /* indices processed by the current parallel pass     */
  const double *coef;           /* spatial coefficients during assessment             */

  int n_threads;
  FitScratch *scratch;
} FitContext;

/* ---------------------------------------------------------------------------------------- */
/* Separable basis                                                                           */

static double *
fit_factor (FitContext *ctx, double *base, int g, int power)
{
  return base + ((gsize) g * (FIT_MAX_DEGREE + 1) + power) * ctx->size;
}

/* Recovers B_n = α_n X_n + β_n X_0 from the built basis.  FALSE if the reconstruction error
 * exceeds 1e-5 of the basis' peak for any n (then the direct path is used). */
static gboolean
fit_setup_separable (FitContext *ctx)
{
  const DiaBasisConfig *cfg = &ctx->config;
  int size = ctx->size, h = ctx->h, npix = size * size, n = 0;
  double *x0, *xn;
  gboolean ok = TRUE;

  for (int g = 0; g < cfg->n_gauss; g++)
    if (cfg->degree[g] > FIT_MAX_DEGREE)
      return FALSE;

  ctx->fx = g_new0 (double, (gsize) cfg->n_gauss * (FIT_MAX_DEGREE + 1) * size);
  ctx->fy = g_new0 (double, (gsize) cfg->n_gauss * (FIT_MAX_DEGREE + 1) * size);
  ctx->gid = g_new (int, ctx->nb);
  ctx->ipow = g_new (int, ctx->nb);
  ctx->jpow = g_new (int, ctx->nb);
  ctx->alpha = g_new (double, ctx->nb);
  ctx->beta = g_new (double, ctx->nb);

  for (int g = 0; g < cfg->n_gauss; g++)
    {
      double sigma = cfg->sigma[g], z = 0;
      for (int t = 0; t < size; t++)
        z += exp (-(double) (t - h) * (t - h) / (2 * sigma * sigma));
      for (int p = 0; p <= cfg->degree[g]; p++)
        {
          double *fx = fit_factor (ctx, ctx->fx, g, p), *fy = fit_factor (ctx, ctx->fy, g, p);
          for (int t = 0; t < size; t++)
            {
              double gv = exp (-(double) (t - h) * (t - h) / (2 * sigma * sigma));
              double pv = h > 0 ? pow ((double) (t - h) / h, p) : (p == 0);
              fx[t] = gv * pv / (z * z);
              fy[t] = gv * pv;
            }
        }
      for (int deg = 0; deg <= cfg->degree[g]; deg++)
        for (int j = 0; j <= deg; j++)
          {
            ctx->gid[n] = g;
            ctx->ipow[n] = deg - j;
            ctx->jpow[n] = j;
            n++;
          }
    }

  x0 = g_new (double, npix);
  xn = g_new (double, npix);
  for (n = 0; n < ctx->nb && ok; n++)
    {
      const float *b = ctx->basis + (gsize) n * npix;
      const double *fx = fit_factor (ctx, ctx->fx, ctx->gid[n], ctx->ipow[n]);
      const double *fy = fit_factor (ctx, ctx->fy, ctx->gid[n], ctx->jpow[n]);
      double s00 = 0, s0n = 0, snn = 0, sb0 = 0, sbn = 0, peak = 0, err = 0;
      double *x = n == 0 ? x0 : xn;

      for (int v = 0; v < size; v++)
        for (int u = 0; u < size; u++)
          x[v * size + u] = fx[u] * fy[v];
      for (int p = 0; p < npix; p++)
        {
          s00 += x0[p] * x0[p];
          s0n += x0[p] * x[p];
          snn += x[p] * x[p];
          sb0 += b[p] * x0[p];
          sbn += b[p] * x[p];
          peak = MAX (peak, fabs (b[p]));
        }
      if (n == 0 || fabs (s00 * snn - s0n * s0n) <= 1e-12 * s00 * snn)
        {
          ctx->alpha[n] = snn > 0 ? sbn / snn : 0;
          ctx->beta[n] = 0;
        }
      else
        {
          double det = s00 * snn - s0n * s0n;
          ctx->alpha[n] = (sbn * s00 - sb0 * s0n) / det;
          ctx->beta[n] = (sb0 * snn - sbn * s0n) / det;
        }
      for (int p = 0; p < npix; p++)
        err = MAX (err, fabs (ctx->alpha[n] * x[p] + ctx->beta[n] * x0[p] - b[p]));
      if (!(err <= 1e-5 * peak + 1e-12))
        ok = FALSE;
    }
  g_free (x0);
  g_free (xn);
  return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Inner loops.  Lengths are multiples of 4 (rows are padded) and the bodies are written four
 * wide so that GCC's basic-block vectoriser turns them into packed SSE/AVX at -O2; the dot
 * product keeps four partial sums for the same reason (and to break the add latency chain). */

static inline void
fit_axpy_d (double *restrict o, const double *restrict in, double k, int n)
{
  for (int x = 0; x < n; x += 4)
    {
      o[x] += k * in[x];
      o[x + 1] += k * in[x + 1];
      o[x + 2] += k * in[x + 2];
      o[x + 3] += k * in[x + 3];
    }
}

static inline void
fit_axpy_df (double *restrict o, const float *restrict in, double k, int n)
{
  for (int x = 0; x < n; x += 4)
    {
      o[x] += k * in[x];
      o[x + 1] += k * in[x + 1];
      o[x + 2] += k * in[x + 2];
      o[x + 3] += k * in[x + 3];
    }
}

static inline void
fit_axpy_f (float *restrict o, const float *restrict in, float k, int n)
{
  for (int x = 0; x < n; x += 4)
    {
      o[x] += k * in[x];
      o[x + 1] += k * in[x + 1];
      o[x + 2] += k * in[x + 2];
      o[x + 3] += k * in[x + 3];
    }
}

static inline double
fit_dot (const double *restrict a, const double *restrict b, int n)
{
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int x = 0; x < n; x += 4)
    {
      s0 += a[x] * b[x];
      s1 += a[x + 1] * b[x + 1];
      s2 += a[x + 2] * b[x + 2];
      s3 += a[x + 3] * b[x + 3];
    }
  return (s0 + s1) + (s2 + s3);
}

/* ---------------------------------------------------------------------------------------- */
/* Per-stamp work                                                                            */

/* Copies the stamp's pixels into the scratch block: T and V_T with row length tsw (zero
 * padded), S, V_S and the mask over the core with row length cwp (padding: 0 and NO_DATA).
 * FALSE when a value needed by the fit is not finite or a variance is negative (the stamp is
 * then rejected as masked). */
static gboolean
fit_load_stamp (const FitContext *ctx, FitScratch *s, int xc, int yc)
{
  const DiaImage *t = ctx->tmpl, *r = ctx->ref;
  int sw = ctx->sw, cw = ctx->cw, cwp = ctx->cwp, tsw = ctx->tsw, k = ctx->size;
  int off = ctx->h + 1;

  for (int y = 0; y < sw; y++)
    {
      size_t row = dia_image_index (t, xc - k, yc - k + y);
      for (int x = 0; x < sw; x++)
        {
          float tv = t->pix[row + x], vv = t->var[row + x];
          if (!isfinite (tv) || !isfinite (vv) || vv < 0)
            return FALSE;
          s->td[y * tsw + x] = tv;
          s->vt[y * tsw + x] = vv;
        }
      for (int x = sw; x < tsw; x++)
        {
          s->td[y * tsw + x] = 0;
          s->vt[y * tsw + x] = 0;
        }
    }
  for (int y = 0; y < cw; y++)
    {
      size_t rrow = dia_image_index (r, xc - off, yc - off + y);
      size_t trow = dia_image_index (t, xc - off, yc - off + y);
      for (int x = 0; x < cw; x++)
        {
          float sv = r->pix[rrow + x], vv = r->var[rrow + x];
          int p = y * cwp + x;
          if (!isfinite (sv) || !isfinite (vv) || vv < 0)
            return FALSE;
          s->s[p] = sv;
          s->vs[p] = vv;
          s->mask[p] = r->mask[rrow + x] | t->mask[trow + x];
          s->vsum[y * cw + x] = vv + t->var[trow + x];
          if (!(s->vsum[y * cw + x] > 0))
            return FALSE;
        }
      for (int x = cw; x < cwp; x++)
        {
          s->s[y * cwp + x] = 0;
          s->vs[y * cwp + x] = 1;
          s->mask[y * cwp + x] = DIA_MASK_NO_DATA;
        }
    }
  return TRUE;
}

/* C_n for every basis into s->cd (double, n_basis × cw × cwp, padding columns zero) from
 * s->td. */
static void
fit_correlate_bases (const FitContext *ctx, FitScratch *s)
{
  int size = ctx->size, sw = ctx->sw, cw = ctx->cw, cwp = ctx->cwp, tsw = ctx->tsw;
  int ncp = ctx->n_corep, nb = ctx->nb;

  if (!ctx->separable)
    {
      for (int n = 0; n < nb; n++)
        {
          const float *b = ctx->basis + (gsize) n * size * size;
          double *out = s->cd + (gsize) n * ncp;
          memset (out, 0, sizeof (double) * ncp);
          for (int tv = 0; tv < size; tv++)
            for (int tu = 0; tu < size; tu++)
              {
                double kv = b[tv * size + tu];
                if (kv == 0)
                  continue;
                for (int y = 0; y < cw; y++)
                  fit_axpy_d (out + y * cwp, s->td + (y + tv) * tsw + tu, kv, cwp);
              }
        }
    }
  else
    {
      for (int n = 0, g = -1; n < nb; n++)
        {
          double *out = s->cd + (gsize) n * ncp;
          const double *fy, *hp;

          if (ctx->gid[n] != g)
            {
              /* New Gaussian: one horizontal pass per x power, over all sw rows. */
              g = ctx->gid[n];
              for (int p = 0; p <= ctx->config.degree[g]; p++)
                {
                  const double *fx = ctx->fx + ((gsize) g * (FIT_MAX_DEGREE + 1) + p) * size;
                  double *hout = s->h + (gsize) p * sw * cwp;
                  memset (hout, 0, sizeof (double) * sw * cwp);
                  for (int y = 0; y < sw; y++)
                    for (int t = 0; t < size; t++)
                      fit_axpy_d (hout + y * cwp, s->td + y * tsw + t, fx[t], cwp);
                }
            }
          fy = ctx->fy + ((gsize) g * (FIT_MAX_DEGREE + 1) + ctx->jpow[n]) * size;
          hp = s->h + (gsize) ctx->ipow[n] * sw * cwp;
          memset (out, 0, sizeof (double) * ncp);
          for (int y = 0; y < cw; y++)
            for (int t = 0; t < size; t++)
              fit_axpy_d (out + y * cwp, hp + (y + t) * cwp, fy[t], cwp);
        }
      /* Raw → renormalised; X_0 (raw) is needed by the others, so it is scaled last. */
      for (int n = 1; n < nb; n++)
        {
          double *o = s->cd + (gsize) n * ncp;
          for (int p = 0; p < ncp; p++)
            o[p] = ctx->alpha[n] * o[p] + ctx->beta[n] * s->cd[p];
        }
      for (int p = 0; p < ncp; p++)
        s->cd[p] *= ctx->alpha[0];
    }
  /* The padding columns saw zero-padded input; clear them so they add nothing to Q and w. */
  for (int n = 0; n < nb; n++)
    for (int y = 0; y < cw; y++)
      for (int x = cw; x < cwp; x++)
        s->cd[(gsize) n * ncp + y * cwp + x] = 0;
}

/* Solves the small symmetric system q a = w (n × n).  Equilibrated Cholesky first; if that
 * fails, the eigen-decomposition pseudo-inverse (eigenvalues below FIT_PINV_RCOND of the
 * largest dropped).  FALSE when the result is not finite. */
static gboolean
fit_solve_local (FitScratch *s, int n, const double *q, const double *w, double *a)
{
  gsl_matrix_view m = gsl_matrix_view_array (s->mat, n, n);
  gsl_vector_view b = gsl_vector_view_array (s->vec, n);
  gsl_vector_view x = gsl_vector_view_array (s->vec2, n);
  gboolean all_pos = TRUE;

  for (int i = 0; i < n; i++)
    {
      double d = q[i * n + i];
      s->scale[i] = (d > 0 && isfinite (d)) ? 1.0 / sqrt (d) : 0.0;
      if (s->scale[i] == 0)
        all_pos = FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      s->vec[i] = w[i] * s->scale[i];
      for (int j = 0; j < n; j++)
        s->mat[i * n + j] = q[i * n + j] * s->scale[i] * s->scale[j];
    }
  memcpy (s->mat2, s->mat, sizeof (double) * n * n);

  if (all_pos && gsl_linalg_cholesky_decomp1 (&m.matrix) == GSL_SUCCESS
      && gsl_linalg_cholesky_solve (&m.matrix, &b.vector, &x.vector) == GSL_SUCCESS)
    {
      for (int i = 0; i < n; i++)
        a[i] = s->vec2[i] * s->scale[i];
    }
  else
    {
      gsl_matrix_view m2 = gsl_matrix_view_array (s->mat2, n, n);
      gsl_matrix_view evec = gsl_matrix_view_array (s->mat, n, n);
      gsl_vector_view eval = gsl_vector_view_array (s->vec2, n);
      double lmax = 0;

      /* mat2 still holds the equilibrated matrix; vec the scaled right-hand side. */
      if (gsl_eigen_symmv (&m2.matrix, &eval.vector, &evec.matrix, s->eig) != GSL_SUCCESS)
        return FALSE;
      for (int k = 0; k < n; k++)
        lmax = MAX (lmax, s->vec2[k]);
      for (int i = 0; i < n; i++)
        a[i] = 0;
      if (lmax > 0)
        for (int k = 0; k < n; k++)
          {
            double lk = s->vec2[k], proj = 0;
            if (lk <= FIT_PINV_RCOND * lmax)
              continue;
            for (int i = 0; i < n; i++)
              proj += s->mat[i * n + k] * s->vec[i];
            proj /= lk;
            for (int i = 0; i < n; i++)
              a[i] += s->mat[i * n + k] * proj;
          }
      for (int i = 0; i < n; i++)
        a[i] *= s->scale[i];
    }
  for (int i = 0; i < n; i++)
    if (!isfinite (a[i]))
      return FALSE;
  return TRUE;
}

/* Mean and rms of (S − K ⋆ T − bg) / √(V_S + K² ⋆ V_T) over the usable core pixels for the
 * local coefficients a (background at a[nb] when fitted).  The stamp must be loaded in s. */
static void
fit_resid_stats (const FitContext *ctx, FitScratch *s, const float *c, const double *a,
                 double *mean, double *rms)
{
  int size = ctx->size, npix = size * size, cw = ctx->cw, cwp = ctx->cwp, tsw = ctx->tsw;
  int ncp = ctx->n_corep;
  double bg = ctx->fit_bg ? a[ctx->nb] : 0.0, sum = 0, sum2 = 0;
  gint64 count = 0;

  for (int p = 0; p < npix; p++)
    {
      double k = 0;
      for (int n = 0; n < ctx->nb; n++)
        k += a[n] * ctx->basis[(gsize) n * npix + p];
      s->k2[p] = (float) (k * k);
    }
  for (int p = 0; p < ncp; p++)
    s->model[p] = bg;
  for (int n = 0; n < ctx->nb; n++)
    fit_axpy_df (s->model, c + (gsize) n * ncp, a[n], ncp);
  memset (s->kv, 0, sizeof (float) * ncp);
  int h = size / 2, r = dia_kernel_square_radius (s->k2, size);
  for (int tv = h - r; tv <= h + r; tv++)
    for (int tu = h - r; tu <= h + r; tu++)
      {
        float kk = s->k2[tv * size + tu];
        if (kk == 0)
          continue;
        for (int y = 0; y < cw; y++)
          fit_axpy_f (s->kv + y * cwp, s->vt + (y + tv) * tsw + tu, kk, cwp);
      }
  for (int p = 0; p < ncp; p++)
    {
      double v, r;
      if (s->mask[p] & FIT_STATS_EXCLUDE)
        continue;
      v = (double) s->vs[p] + s->kv[p];
      if (!(v > 0) || !isfinite (v))
        continue;
      r = (s->s[p] - s->model[p]) / sqrt (v);
      sum += r;
      sum2 += r * r;
      count++;
    }
  if (count < 2)
    {
      *mean = *rms = NAN;
      return;
    }
  *mean = sum / count;
  *rms = sqrt (MAX (0.0, (sum2 / count - *mean * *mean) * count / (count - 1)));
}

static void
fit_compute_stamp (FitContext *ctx, FitScratch *s, FitStamp *st)
{
  int nb = ctx->nb, np = ctx->np, ncp = ctx->n_corep;
  double inv_var, med;

  st->computed = TRUE;
  if (!fit_load_stamp (ctx, s, st->xc, st->yc))
    {
      st->failed = TRUE;
      st->fail_status = DIA_STAMP_REJECT_MASKED;
      return;
    }
  med = dia_stats_median (s->vsum, ctx->n_core, s->kv);
  inv_var = (med > 0 && isfinite (med)) ? 1.0 / med : 1.0;

  fit_correlate_bases (ctx, s);

  /* s as double for the dot products (padding is 0). */
  for (int p = 0; p < ncp; p++)
    s->model[p] = s->s[p];
  for (int n = 0; n < nb; n++)
    {
      const double *cn = s->cd + (gsize) n * ncp;
      double sum = 0;
      for (int m = 0; m <= n; m++)
        st->q[n * np + m] = st->q[m * np + n] = fit_dot (cn, s->cd + (gsize) m * ncp, ncp)
                                                * inv_var;
      st->w[n] = fit_dot (cn, s->model, ncp) * inv_var;
      for (int p = 0; p < ncp; p++)
        sum += cn[p];
      if (ctx->fit_bg)
        st->q[n * np + nb] = st->q[nb * np + n] = sum * inv_var;
    }
  if (ctx->fit_bg)
    {
      double sum = 0;
      for (int p = 0; p < ncp; p++)
        sum += s->s[p];
      st->q[nb * np + nb] = ctx->n_core * inv_var;
      st->w[nb] = sum * inv_var;
    }
  for (gsize p = 0; p < (gsize) nb * ncp; p++)
    st->c[p] = (float) s->cd[p];

  if (!fit_solve_local (s, np, st->q, st->w, st->a))
    {
      st->failed = TRUE;
      st->fail_status = DIA_STAMP_REJECT_SINGULAR;
      return;
    }
  st->ksum = 0;
  for (int n = 0; n < nb; n++)
    st->ksum += st->a[n] * ctx->bsum[n];
  fit_resid_stats (ctx, s, st->c, st->a, &st->mean, &st->rms);
}

static void
fit_compute_body (int first, int last, int thread_index, gpointer data)
{
  FitContext *ctx = data;
  for (int i = first; i < last; i++)
    fit_compute_stamp (ctx, &ctx->scratch[thread_index], &ctx->st[ctx->list[i]]);
}

/* Local coefficients of the spatial solution ctx->coef at a stamp centre. */
static void
fit_local_from_spatial (const FitContext *ctx, int xc, int yc, double *a)
{
  double f[528], g[528];
  int ns = ctx->n_spatial;

  dia_kernel_spatial_terms (ctx->domain, ctx->params->spatial_order, xc, yc, f);
  a[0] = ctx->coef[0];
  for (int n = 1; n < ctx->nb; n++)
    {
      const double *c = ctx->coef + 1 + (gsize) (n - 1) * ns;
      double v = 0;
      for (int j = 0; j < ns; j++)
        v += c[j] * f[j];
      a[n] = v;
    }
  if (ctx->fit_bg)
    {
      const double *e = ctx->coef + 1 + (gsize) (ctx->nb - 1) * ns;
      double v = 0;
      dia_kernel_spatial_terms (ctx->domain, ctx->bg_order, xc, yc, g);
      for (int j = 0; j < ctx->n_bg; j++)
        v += e[j] * g[j];
      a[ctx->nb] = v;
    }
}

static void
fit_assess_body (int first, int last, int thread_index, gpointer data)
{
  FitContext *ctx = data;
  FitScratch *s = &ctx->scratch[thread_index];
  for (int i = first; i < last; i++)
    {
      FitStamp *st = &ctx->st[ctx->list[i]];
      if (!fit_load_stamp (ctx, s, st->xc, st->yc))
        {
          st->mean = st->rms = NAN;
          continue;
        }
      fit_local_from_spatial (ctx, st->xc, st->yc, s->local);
      fit_resid_stats (ctx, s, st->c, s->local, &st->mean, &st->rms);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Bookkeeping                                                                               */

static gboolean
fit_status_is_fit_rejection (DiaStampStatus status)
{
  return status == DIA_STAMP_REJECT_KERNEL_SUM || status == DIA_STAMP_REJECT_RESID_MEAN
         || status == DIA_STAMP_REJECT_RESID_RMS || status == DIA_STAMP_REJECT_SPATIAL
         || status == DIA_STAMP_REJECT_SINGULAR;
}

/* Marks the first n_per_cell non-rejected candidates of every cell (array order) as visited
 * and GOOD, the rest RESERVE.  Returns the number visited. */
static int
fit_update_visited (FitContext *ctx)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  int n_per_cell = ctx->params->n_per_cell, n_visited = 0;

  for (int i = 0; i < ctx->n_stamps; i++)
    {
      FitStamp *st = &ctx->st[i];
      DiaStamp *ds = &ctx->stamps[i];
      int count;
      if (!st->candidate)
        continue;
      st->visited = FALSE;
      if (ds->status != DIA_STAMP_GOOD && ds->status != DIA_STAMP_RESERVE)
        continue;
      count = GPOINTER_TO_INT (g_hash_table_lookup (counts, GINT_TO_POINTER (ds->cell)));
      if (n_per_cell <= 0 || count < n_per_cell)
        {
          st->visited = TRUE;
          ds->status = DIA_STAMP_GOOD;
          g_hash_table_insert (counts, GINT_TO_POINTER (ds->cell), GINT_TO_POINTER (count + 1));
          n_visited++;
        }
      else
        ds->status = DIA_STAMP_RESERVE;
    }
  return n_visited;
}

static gboolean
fit_alloc_stamp (FitContext *ctx, FitStamp *st, GError **error)
{
  st->c = g_try_new (float, (gsize) ctx->nb * ctx->n_corep);
  st->q = g_try_new0 (double, (gsize) ctx->np * ctx->np);
  st->w = g_try_new0 (double, ctx->np);
  st->a = g_try_new0 (double, ctx->np);
  if (st->c == NULL || st->q == NULL || st->w == NULL || st->a == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Kernel fit: out of memory while caching the stamp systems; use fewer "
                     "stamps per cell or a smaller kernel."));
      return FALSE;
    }
  return TRUE;
}

/* Single-kernel phase: computes newly visited stamps and rejects failures until a pass
 * rejects nobody (§2.5 inner loop). */
static gboolean
fit_single_phase (FitContext *ctx, int iteration, DiaMonitor *monitor, GError **error)
{
  const DiaKernelFitParams *p = ctx->params;
  int rejected;

  do
    {
      int n_todo = 0;
      rejected = 0;
      fit_update_visited (ctx);
      for (int i = 0; i < ctx->n_stamps; i++)
        {
          FitStamp *st = &ctx->st[i];
          if (!st->visited || st->computed)
            continue;
          if (!fit_alloc_stamp (ctx, st, error))
            return FALSE;
          ctx->list[n_todo++] = i;
        }
      if (!dia_parallel_for (n_todo, 1, ctx->n_threads, fit_compute_body, ctx, monitor, error))
        return FALSE;
      for (int k = 0; k < n_todo; k++)
        {
          int i = ctx->list[k];
          FitStamp *st = &ctx->st[i];
          DiaStamp *ds = &ctx->stamps[i];
          ds->iteration = iteration;
          if (st->failed)
            {
              ds->status = st->fail_status;
              rejected++;
              continue;
            }
          ds->kernel_sum = st->ksum;
          ds->resid_mean = st->mean;
          ds->resid_rms = st->rms;
          if (!isfinite (st->mean) || !isfinite (st->rms) || st->rms > p->max_resid_rms)
            {
              ds->status = DIA_STAMP_REJECT_RESID_RMS;
              rejected++;
            }
          else if (fabs (st->mean) > p->max_resid_mean)
            {
              ds->status = DIA_STAMP_REJECT_RESID_MEAN;
              rejected++;
            }
        }
    }
  while (rejected > 0);
  return TRUE;
}

/* Kernel-sum clipping over the visited stamps; returns the number rejected. */
static int
fit_clip_kernel_sums (FitContext *ctx, int iteration)
{
  g_autofree float *sums = g_new (float, MAX (ctx->n_stamps, 1));
  double mu, sd;
  int n = 0, rejected = 0;

  for (int i = 0; i < ctx->n_stamps; i++)
    if (ctx->st[i].visited)
      sums[n++] = (float) ctx->st[i].ksum;
  if (n < 3 || !(ctx->params->max_ksum_sigma > 0))
    return 0;
  dia_stats_clipped (sums, n, 3.0, 3, &mu, &sd);
  if (!isfinite (mu) || !(sd > 0) || !isfinite (sd))
    return 0;
  for (int i = 0; i < ctx->n_stamps; i++)
    if (ctx->st[i].visited && fabs (ctx->st[i].ksum - mu) > ctx->params->max_ksum_sigma * sd)
      {
        ctx->stamps[i].status = DIA_STAMP_REJECT_KERNEL_SUM;
        ctx->stamps[i].iteration = iteration;
        rejected++;
      }
  return rejected;
}

/* Builds and solves the spatial system from the visited stamps.  On success coef (n_total)
 * and *cond are set. */
static gboolean
fit_solve_spatial (FitContext *ctx, double *coef, double *cond, int *n_used, GError **error)
{
  int nt = ctx->n_total, np = ctx->np, nb = ctx->nb, ns = ctx->n_spatial, need, used = 0;
  int *gidx = g_new (int, np * 64), *glen = g_new (int, np);
  double *gfac = g_new (double, np * 64);
  g_autofree double *m = g_try_new0 (double, (gsize) nt * nt);
  g_autofree double *meq = g_try_new (double, (gsize) nt * nt);
  g_autofree double *b = g_new0 (double, nt);
  g_autofree double *scale = g_new (double, nt);
  gboolean ok = FALSE;
  gsl_eigen_symm_workspace *ew = NULL;

  if (m == NULL || meq == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Kernel fit: out of memory for the spatial system (%d unknowns); lower "
                     "the spatial orders."), nt);
      goto out;
    }

  for (int i = 0; i < ctx->n_stamps; i++)
    {
      FitStamp *st = &ctx->st[i];
      double f[528], g[528];
      if (!st->visited)
        continue;
      used++;
      dia_kernel_spatial_terms (ctx->domain, ctx->params->spatial_order, st->xc, st->yc, f);
      if (ctx->fit_bg)
        dia_kernel_spatial_terms (ctx->domain, ctx->bg_order, st->xc, st->yc, g);
      /* P: local unknown l ↦ (global index, factor) pairs. */
      glen[0] = 1;
      gidx[0] = 0;
      gfac[0] = 1.0;
      for (int l = 1; l < nb; l++)
        {
          glen[l] = ns;
          for (int j = 0; j < ns; j++)
            {
              gidx[l * 64 + j] = 1 + (l - 1) * ns + j;
              gfac[l * 64 + j] = f[j];
            }
        }
      if (ctx->fit_bg)
        {
          glen[nb] = ctx->n_bg;
          for (int j = 0; j < ctx->n_bg; j++)
            {
              gidx[nb * 64 + j] = 1 + (nb - 1) * ns + j;
              gfac[nb * 64 + j] = g[j];
            }
        }
      for (int l1 = 0; l1 < np; l1++)
        {
          for (int j1 = 0; j1 < glen[l1]; j1++)
            {
              int gi = gidx[l1 * 64 + j1];
              double fi = gfac[l1 * 64 + j1];
              b[gi] += st->w[l1] * fi;
              for (int l2 = 0; l2 < np; l2++)
                {
                  double qf = st->q[l1 * np + l2] * fi;
                  for (int j2 = 0; j2 < glen[l2]; j2++)
                    m[(gsize) gi * nt + gidx[l2 * 64 + j2]] += qf * gfac[l2 * 64 + j2];
                }
            }
        }
    }
  *n_used = used;

  need = MAX (MAX (ns, ctx->n_bg), 1);
  if (used < need)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_STARS,
                   _("Kernel fit: only %d usable stamp(s) remain, but a spatial kernel of "
                     "order %d with a background of order %d needs at least %d; add stars, "
                     "relax the stamp selection or lower the spatial orders."),
                   used, ctx->params->spatial_order, ctx->fit_bg ? ctx->bg_order : 0, need);
      goto out;
    }

  for (int i = 0; i < nt; i++)
    {
      double d = m[(gsize) i * nt + i];
      if (!(d > 0) || !isfinite (d))
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                       _("Kernel fit: the spatial system is singular (unknown %d of %d gets "
                         "no signal from the %d stamps: is the convolved image empty or "
                         "constant?)."), i, nt, used);
          goto out;
        }
      scale[i] = 1.0 / sqrt (d);
    }

  /* Condition number λ_max/λ_min (§2.6) of the equilibrated matrix D M D, D = diag(M)^−½.
   * Unlike the raw matrix's, it does not depend on the flux units of the images (the kernel
   * columns scale with the image values, the background columns do not), so one limit works
   * for electrons and ADU alike; it only grows with true degeneracy. */
  for (int i = 0; i < nt; i++)
    {
      b[i] *= scale[i];
      for (int j = 0; j < nt; j++)
        meq[(gsize) i * nt + j] = m[(gsize) i * nt + j] * scale[i] * scale[j];
    }
  {
    gsl_matrix_view mv = gsl_matrix_view_array (m, nt, nt);
    gsl_vector *ev = gsl_vector_alloc (nt);
    double lmin = INFINITY, lmax = -INFINITY;
    memcpy (m, meq, sizeof (double) * nt * nt);
    ew = gsl_eigen_symm_alloc (nt);
    if (ev == NULL || ew == NULL || gsl_eigen_symm (&mv.matrix, ev, ew) != GSL_SUCCESS)
      {
        gsl_vector_free (ev);
        g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                     _("Kernel fit: the eigenvalues of the spatial system could not be "
                       "computed (%d unknowns, %d stamps)."), nt, used);
        goto out;
      }
    for (int i = 0; i < nt; i++)
      {
        lmin = MIN (lmin, gsl_vector_get (ev, i));
        lmax = MAX (lmax, gsl_vector_get (ev, i));
      }
    gsl_vector_free (ev);
    *cond = lmin > 0 ? lmax / lmin : INFINITY;
  }
  if (!(*cond <= ctx->params->max_condition))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                   _("Kernel fit: the spatial system is degenerate (condition number %.3g, "
                     "limit %.3g) with %d stamps for %d unknowns; spread the stamps over the "
                     "field or lower the spatial orders."), *cond, ctx->params->max_condition,
                   used, nt);
      goto out;
    }

  {
    gsl_matrix_view mv = gsl_matrix_view_array (meq, nt, nt);
    gsl_vector_view bv = gsl_vector_view_array (b, nt);
    gsl_vector_view xv = gsl_vector_view_array (coef, nt);
    if (gsl_linalg_cholesky_decomp1 (&mv.matrix) != GSL_SUCCESS
        || gsl_linalg_cholesky_solve (&mv.matrix, &bv.vector, &xv.vector) != GSL_SUCCESS)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                     _("Kernel fit: the spatial system (%d unknowns, %d stamps) is not "
                       "positive definite; spread the stamps over the field or lower the "
                       "spatial orders."), nt, used);
        goto out;
      }
    for (int i = 0; i < nt; i++)
      {
        coef[i] *= scale[i];
        if (!isfinite (coef[i]))
          {
            g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                         _("Kernel fit: the spatial solution is not finite (%d unknowns, %d "
                           "stamps)."), nt, used);
            goto out;
          }
      }
  }
  ok = TRUE;

out:
  if (ew != NULL)
    gsl_eigen_symm_free (ew);
  g_free (gidx);
  g_free (glen);
  g_free (gfac);
  return ok;
}

/* ---------------------------------------------------------------------------------------- */

static void
fit_context_clear (FitContext *ctx)
{
  if (ctx->st != NULL)
    for (int i = 0; i < ctx->n_stamps; i++)
      {
        g_free (ctx->st[i].c);
        g_free (ctx->st[i].q);
        g_free (ctx->st[i].w);
        g_free (ctx->st[i].a);
      }
  if (ctx->scratch != NULL)
    for (int t = 0; t < ctx->n_threads; t++)
      {
        FitScratch *s = &ctx->scratch[t];
        g_free (s->td);
        g_free (s->vt);
        g_free (s->s);
        g_free (s->vs);
        g_free (s->mask);
        g_free (s->vsum);
        g_free (s->h);
        g_free (s->cd);
        g_free (s->model);
        g_free (s->k2);
        g_free (s->kv);
        g_free (s->mat);
        g_free (s->mat2);
        g_free (s->vec);
        g_free (s->vec2);
        g_free (s->scale);
        g_free (s->local);
        if (s->eig != NULL)
          gsl_eigen_symmv_free (s->eig);
      }
  g_free (ctx->scratch);
  g_free (ctx->st);
  g_free (ctx->list);
  g_free (ctx->basis);
  g_free (ctx->bsum);
  g_free (ctx->fx);
  g_free (ctx->fy);
  g_free (ctx->gid);
  g_free (ctx->ipow);
  g_free (ctx->jpow);
  g_free (ctx->alpha);
  g_free (ctx->beta);
}

static gboolean
fit_alloc_scratch (FitContext *ctx, GError **error)
{
  int ts = ctx->sw * ctx->tsw, nc = ctx->n_core, ncp = ctx->n_corep, np = ctx->np;
  int npix = ctx->size * ctx->size;
  ctx->scratch = g_new0 (FitScratch, ctx->n_threads);
  for (int t = 0; t < ctx->n_threads; t++)
    {
      FitScratch *s = &ctx->scratch[t];
      s->td = g_try_new (double, ts);
      s->vt = g_try_new (float, ts);
      s->s = g_try_new (float, ncp);
      s->vs = g_try_new (float, ncp);
      s->mask = g_try_new (DiaMask, ncp);
      s->vsum = g_try_new (float, nc);
      s->h = g_try_new (double, (gsize) (FIT_MAX_DEGREE + 1) * ctx->sw * ctx->cwp);
      s->cd = g_try_new (double, (gsize) ctx->nb * ncp);
      s->model = g_try_new (double, ncp);
      s->k2 = g_try_new (float, npix);
      s->kv = g_try_new (float, MAX (ncp, nc));
      s->mat = g_try_new (double, np * np);
      s->mat2 = g_try_new (double, np * np);
      s->vec = g_try_new (double, np);
      s->vec2 = g_try_new (double, np);
      s->scale = g_try_new (double, np);
      s->local = g_try_new (double, np);
      s->eig = gsl_eigen_symmv_alloc (np);
      if (!s->td || !s->vt || !s->s || !s->vs || !s->mask || !s->vsum || !s->h || !s->cd
          || !s->model || !s->k2 || !s->kv || !s->mat || !s->mat2 || !s->vec || !s->vec2
          || !s->scale || !s->local || !s->eig)
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                       _("Kernel fit: out of memory for the per-thread workspace."));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
fit_check_inputs (const DiaImage *convolved, const DiaImage *reference, GArray *stamps,
                  const DiaBasisConfig *basis, const DiaKernelFitParams *params, GError **error)
{
  if (convolved == NULL || reference == NULL || stamps == NULL || basis == NULL
      || params == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: an image, the stamp list, the basis or the parameters are "
                     "missing."));
      return FALSE;
    }
  if (g_array_get_element_size (stamps) != sizeof (DiaStamp))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: the stamp list does not hold DiaStamp records."));
      return FALSE;
    }
  if (convolved->width != reference->width || convolved->height != reference->height)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                   _("Kernel fit: the images differ in size (%d×%d and %d×%d); resample them "
                     "onto one grid first."), convolved->width, convolved->height,
                   reference->width, reference->height);
      return FALSE;
    }
  if (convolved->var == NULL || reference->var == NULL || convolved->mask == NULL
      || reference->mask == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: an image has no variance or mask plane."));
      return FALSE;
    }
  if (params->spatial_order < 0 || params->spatial_order > 8 || params->bg_order > 8)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: spatial kernel order %d or background order %d is outside "
                     "0–8."), params->spatial_order, params->bg_order);
      return FALSE;
    }
  if (basis->size < 3 || basis->size > 101 || basis->size % 2 == 0)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: kernel size %d must be odd and between 3 and 101."),
                   basis->size);
      return FALSE;
    }
  return TRUE;
}

/* See dia-kernel-fit.h.  Threads: runs its own dia_parallel_for over stamps; the images must
 * not be modified during the call.  Returns a new solution (unref it) or NULL with error. */
DiaKernelSolution *
dia_kernel_fit (const DiaImage *convolved, const DiaImage *reference, GArray *stamps,
                const DiaBasisConfig *basis, const DiaKernelFitParams *params,
                DiaMonitor *monitor, GError **error)
{
  FitContext ctx;
  DiaKernelSolution *sol = NULL;
  double *coef = NULL, cond = NAN;
  int iteration = 0, n_used = 0, max_iter;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!fit_check_inputs (convolved, reference, stamps, basis, params, error))
    return NULL;
  if (!dia_monitor_check (monitor, error))
    return NULL;

  memset (&ctx, 0, sizeof ctx);
  ctx.tmpl = convolved;
  ctx.ref = reference;
  ctx.params = params;
  ctx.config = *basis;
  ctx.basis = dia_basis_build (basis, &ctx.nb);
  if (ctx.basis == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Kernel fit: the kernel basis could not be built (check the σ list, "
                     "degrees and kernel size)."));
      return NULL;
    }
  ctx.size = basis->size;
  ctx.h = ctx.size / 2;
  ctx.sw = 2 * ctx.size + 1;
  ctx.cw = ctx.size + 2;
  ctx.n_core = ctx.cw * ctx.cw;
  ctx.cwp = (ctx.cw + 3) & ~3;
  ctx.tsw = ctx.cwp + ctx.size - 1;
  ctx.n_corep = ctx.cw * ctx.cwp;
  ctx.fit_bg = params->bg_order >= 0;
  ctx.bg_order = ctx.fit_bg ? params->bg_order : -1;
  ctx.np = ctx.nb + (ctx.fit_bg ? 1 : 0);
  ctx.n_spatial = dia_kernel_n_terms (params->spatial_order);
  ctx.n_bg = ctx.fit_bg ? dia_kernel_n_terms (params->bg_order) : 0;
  ctx.n_total = 1 + (ctx.nb - 1) * ctx.n_spatial + ctx.n_bg;
  /* The fit region is the common buffer; the Chebyshev domain is its pixel-edge box. */
  ctx.domain[0] = -0.5;
  ctx.domain[1] = convolved->width - 0.5;
  ctx.domain[2] = -0.5;
  ctx.domain[3] = convolved->height - 0.5;
  ctx.bsum = g_new0 (double, ctx.nb);
  for (int n = 0; n < ctx.nb; n++)
    for (int p = 0; p < ctx.size * ctx.size; p++)
      ctx.bsum[n] += ctx.basis[(gsize) n * ctx.size * ctx.size + p];
  ctx.separable = fit_setup_separable (&ctx);

  ctx.stamps = (DiaStamp *) (void *) stamps->data;
  ctx.n_stamps = (int) stamps->len;
  ctx.st = g_new0 (FitStamp, MAX (ctx.n_stamps, 1));
  ctx.list = g_new (int, MAX (ctx.n_stamps, 1));
  ctx.n_threads = params->n_threads > 0 ? params->n_threads : dia_parallel_default_threads ();
  ctx.n_threads = CLAMP (ctx.n_threads, 1, 64);
  if (!fit_alloc_scratch (&ctx, error))
    goto fail;

  for (int i = 0; i < ctx.n_stamps; i++)
    {
      DiaStamp *ds = &ctx.stamps[i];
      FitStamp *st = &ctx.st[i];
      if (ds->status != DIA_STAMP_GOOD && ds->status != DIA_STAMP_RESERVE
          && !fit_status_is_fit_rejection (ds->status))
        continue;
      ds->kernel_sum = ds->resid_mean = ds->resid_rms = NAN;
      ds->iteration = 0;
      ds->status = DIA_STAMP_GOOD;
      if (!isfinite (ds->x) || !isfinite (ds->y) || fabs (ds->x) > 1e8 || fabs (ds->y) > 1e8)
        {
          ds->status = DIA_STAMP_REJECT_EDGE;
          continue;
        }
      st->xc = (int) floor (ds->x + 0.5);
      st->yc = (int) floor (ds->y + 0.5);
      if (st->xc - ctx.size < 0 || st->yc - ctx.size < 0 || st->xc + ctx.size >= convolved->width
          || st->yc + ctx.size >= convolved->height)
        {
          ds->status = DIA_STAMP_REJECT_EDGE;
          continue;
        }
      st->candidate = TRUE;
    }

  coef = g_new0 (double, ctx.n_total);
  max_iter = MAX (params->max_iterations, 1);
  for (;;)
    {
      gboolean final = iteration >= max_iter;
      int rejected = 0;

      dia_monitor_stage (monitor, FIT_STAGE, MIN (1.0, (double) iteration / (max_iter + 1)));
      if (!dia_monitor_check (monitor, error))
        goto fail;
      if (!fit_single_phase (&ctx, iteration, monitor, error))
        goto fail;
      if (fit_clip_kernel_sums (&ctx, iteration) > 0)
        continue;              /* §2.5: restart without counting an iteration */
      if (!fit_solve_spatial (&ctx, coef, &cond, &n_used, error))
        goto fail;

      /* Assess every visited stamp against the spatial solution. */
      {
        int n_list = 0;
        for (int i = 0; i < ctx.n_stamps; i++)
          if (ctx.st[i].visited)
            ctx.list[n_list++] = i;
        ctx.coef = coef;
        if (!dia_parallel_for (n_list, 1, ctx.n_threads, fit_assess_body, &ctx, monitor, error))
          goto fail;
        for (int k = 0; k < n_list; k++)
          {
            int i = ctx.list[k];
            FitStamp *st = &ctx.st[i];
            DiaStamp *ds = &ctx.stamps[i];
            ds->resid_mean = st->mean;
            ds->resid_rms = st->rms;
            ds->iteration = iteration;
            if (final)
              continue;
            if (!isfinite (st->mean) || !isfinite (st->rms) || st->rms > params->max_resid_rms
                || fabs (st->mean) > params->max_resid_mean)
              {
                ds->status = DIA_STAMP_REJECT_SPATIAL;
                rejected++;
              }
          }
      }
      if (final || rejected == 0)
        break;
      iteration++;
    }

  {
    float *basis_copy = ctx.basis;
    ctx.basis = NULL;
    sol = dia_kernel_solution_new (&ctx.config, basis_copy, ctx.nb, params->spatial_order,
                                   ctx.bg_order, coef, ctx.domain);
    coef = NULL;
    sol->condition_number = cond;
    sol->n_stamps_used = n_used;
  }
  dia_monitor_stage (monitor, FIT_STAGE, 1.0);
  fit_context_clear (&ctx);
  return sol;

fail:
  g_free (coef);
  fit_context_clear (&ctx);
  return NULL;
}
