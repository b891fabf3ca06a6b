/* dia-measure.c — per-source measurement on the difference image and catalogue writers.
 *
 * Design.  Sources are independent, so dia_measure() runs them on dia_parallel_for with one
 * workspace per thread (PSF stamps, a private wcsprm copy, since wcslib mutates its struct).
 * The centroid is the sub-pixel peak of the matched-filter S/N image found by dia-detect.c,
 * which for a PSF close to Gaussian is the maximum-likelihood position and stays stable at low
 * S/N where first moments of D wander.  Dipoles are fitted only where detection saw positive
 * and negative peaks in one merged footprint (as ip_diffim_DipoleFit with
 * fitAllDiaSources=False): the model F₊ P(x − x₊) − F₋ P(x − x₋) over the footprint's usable
 * pixels, weighted by 1/V, solved with GSL's trust-region Levenberg–Marquardt (finite-difference
 * Jacobian: the PSF is a sampled model, analytic derivatives would buy nothing).  Separate lobe
 * fluxes are fitted so that dipoleFluxDiff measures a flux change on top of a misregistration.
 *
 * The column table below is the single source of truth for the CSV and FITS writers and for
 * docs/detection.md.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-measure.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-json.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-psf.h"
#include "dia-wcs.h"

#include <fitsio.h>
#include <glib/gi18n-lib.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define MEASURE_EXCLUDE (DIA_MASK_BAD | DIA_MASK_NO_DATA | DIA_MASK_EDGE)

static inline gboolean
measure_usable (const DiaImage *im, size_t i)
{
  return !(im->mask[i] & MEASURE_EXCLUDE) && isfinite (im->pix[i]) && isfinite (im->var[i])
         && im->var[i] >= 0;
}

const DiaPsf *
dia_subtract_result_get_diff_psf (const DiaSubtractResult *result)
{
  const DiaSubtractPlan *plan = result->plan;
  return plan->info.convolve_template ? plan->psf_science : plan->psf_template;
}

/* PSF stamp of `size` centred on the pixel nearest (x, y), drawn at the sub-pixel offset. */
static void
render_at (const DiaPsf *psf, double x, double y, float *out, int size, int *ix, int *iy)
{
  *ix = (int) floor (x + 0.5);
  *iy = (int) floor (y + 0.5);
  dia_psf_render (psf, x, y, x - *ix, y - *iy, out, size);
}

static gboolean
psf_flux_with (const DiaImage *im, const float *p, int size, int ix, int iy, double *flux,
               double *flux_err, double *chi2, int *n_pixels, gboolean *clipped)
{
  int h = size / 2, n = 0;
  double spd = 0, spp = 0, sppv = 0, f, c2 = 0;
  gboolean clip = FALSE;

  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      {
        int x = ix + u, y = iy + v;
        size_t i;
        double pp;
        if (x < 0 || y < 0 || x >= im->width || y >= im->height)
          {
            clip = TRUE;
            continue;
          }
        i = dia_image_index (im, x, y);
        if (!measure_usable (im, i))
          continue;
        pp = p[(v + h) * size + u + h];
        spd += pp * im->pix[i];
        spp += pp * pp;
        sppv += pp * pp * im->var[i];
        n++;
      }
  if (clipped)
    *clipped = clip;
  if (n == 0 || !(spp > 0))
    {
      *flux = *flux_err = NAN;
      if (chi2)
        *chi2 = NAN;
      if (n_pixels)
        *n_pixels = 0;
      return FALSE;
    }
  f = spd / spp;
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      {
        int x = ix + u, y = iy + v;
        size_t i;
        double r;
        if (x < 0 || y < 0 || x >= im->width || y >= im->height)
          continue;
        i = dia_image_index (im, x, y);
        if (!measure_usable (im, i) || !(im->var[i] > 0))
          continue;
        r = im->pix[i] - f * p[(v + h) * size + u + h];
        c2 += r * r / im->var[i];
      }
  *flux = f;
  *flux_err = sqrt (sppv) / spp;
  if (chi2)
    *chi2 = c2;
  if (n_pixels)
    *n_pixels = n;
  return TRUE;
}

gboolean
dia_measure_psf_flux (const DiaImage *image, const DiaPsf *psf, double x, double y,
                      double *flux, double *flux_err, double *chi2, int *n_pixels,
                      gboolean *clipped)
{
  int size = dia_psf_stamp_size (psf), ix, iy;
  g_autofree float *p = g_new (float, (size_t) size * size);
  render_at (psf, x, y, p, size, &ix, &iy);
  return psf_flux_with (image, p, size, ix, iy, flux, flux_err, chi2, n_pixels, clipped);
}

/* ---- dipole fit --------------------------------------------------------------------------- */

typedef struct
{
  const DiaPsf *psf;
  int size;
  float *pa, *pb;               /* PSF stamps of the two lobes                         */
  int n;
  const int *px, *py;           /* data pixels                                         */
  const double *val, *wt;       /* D and 1/σ                                           */
} DipoleData;

static int
dipole_f (const gsl_vector *p, void *data, gsl_vector *f)
{
  DipoleData *d = data;
  double fp = gsl_vector_get (p, 0), xp = gsl_vector_get (p, 1), yp = gsl_vector_get (p, 2);
  double fn = gsl_vector_get (p, 3), xn = gsl_vector_get (p, 4), yn = gsl_vector_get (p, 5);
  int h = d->size / 2, ixp, iyp, ixn, iyn;

  if (!isfinite (xp + yp + xn + yn + fp + fn))
    return GSL_EDOM;
  render_at (d->psf, xp, yp, d->pa, d->size, &ixp, &iyp);
  render_at (d->psf, xn, yn, d->pb, d->size, &ixn, &iyn);
  for (int k = 0; k < d->n; k++)
    {
      int ua = d->px[k] - ixp + h, va = d->py[k] - iyp + h;
      int ub = d->px[k] - ixn + h, vb = d->py[k] - iyn + h;
      double m = 0;
      if (ua >= 0 && va >= 0 && ua < d->size && va < d->size)
        m += fp * d->pa[va * d->size + ua];
      if (ub >= 0 && vb >= 0 && ub < d->size && vb < d->size)
        m -= fn * d->pb[vb * d->size + ub];
      gsl_vector_set (f, k, (d->val[k] - m) * d->wt[k]);
    }
  return GSL_SUCCESS;
}

/* Fits the dipole model to the usable pixels of source s; fills its dipole fields. */
static void
fit_dipole (const DiaCatalog *cat, DiaSource *s, const DiaImage *im, const DiaPsf *psf,
            const DiaPeak *pos, const DiaPeak *neg)
{
  const DiaDetectParams *prm = &cat->params;
  DipoleData d = { 0 };
  g_autofree int *px = g_new (int, s->area);
  g_autofree int *py = g_new (int, s->area);
  g_autofree double *val = g_new (double, s->area);
  g_autofree double *wt = g_new (double, s->area);
  gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters ();
  gsl_multifit_nlinear_fdf fdf = { 0 };
  gsl_multifit_nlinear_workspace *ws;
  gsl_matrix *covar;
  double init[6], f0p, f0n, e0, e1, chi2;
  int n = 0, status, info, size = dia_psf_stamp_size (psf);
  double sigma_psf = dia_psf_determinant_radius (psf, s->x, s->y);
  gsl_vector_view x0;

  s->flags |= DIA_SOURCE_DIPOLE_ATTEMPTED;
  for (int k = 0; k < s->n_spans; k++)
    {
      const DiaSpan *sp = &g_array_index (cat->spans, DiaSpan, s->span_first + k);
      for (int x = sp->x0; x <= sp->x1; x++)
        {
          size_t i = dia_image_index (im, x, sp->y);
          if (!measure_usable (im, i) || !(im->var[i] > 0))
            continue;
          px[n] = x;
          py[n] = sp->y;
          val[n] = im->pix[i];
          wt[n] = 1.0 / sqrt (im->var[i]);
          n++;
        }
    }
  if (n < 12)
    {
      s->flags |= DIA_SOURCE_DIPOLE_FAILED;
      return;
    }
  d.psf = psf;
  d.size = size;
  d.pa = g_new (float, (size_t) size * size);
  d.pb = g_new (float, (size_t) size * size);
  d.n = n;
  d.px = px;
  d.py = py;
  d.val = val;
  d.wt = wt;
  if (!dia_measure_psf_flux (im, psf, pos->x, pos->y, &f0p, &e0, NULL, NULL, NULL))
    f0p = 1;
  if (!dia_measure_psf_flux (im, psf, neg->x, neg->y, &f0n, &e1, NULL, NULL, NULL))
    f0n = -1;
  init[0] = MAX (fabs (f0p), 1e-3);
  init[1] = pos->x;
  init[2] = pos->y;
  init[3] = MAX (fabs (f0n), 1e-3);
  init[4] = neg->x;
  init[5] = neg->y;
  x0 = gsl_vector_view_array (init, 6);
  fdf.f = dipole_f;
  fdf.df = NULL;
  fdf.fvv = NULL;
  fdf.n = n;
  fdf.p = 6;
  fdf.params = &d;
  fp.scale = gsl_multifit_nlinear_scale_more;
  ws = gsl_multifit_nlinear_alloc (gsl_multifit_nlinear_trust, &fp, n, 6);
  covar = gsl_matrix_alloc (6, 6);
  if (ws == NULL || covar == NULL)
    {
      s->flags |= DIA_SOURCE_DIPOLE_FAILED;
      goto out;
    }
  gsl_multifit_nlinear_init (&x0.vector, &fdf, ws);
  status = gsl_multifit_nlinear_driver (250, 1e-7, 1e-7, 1e-7, NULL, NULL, &info, ws);
  {
    const gsl_vector *p = ws->x;
    double Fp = gsl_vector_get (p, 0), Fn = gsl_vector_get (p, 3);
    double xp = gsl_vector_get (p, 1), yp = gsl_vector_get (p, 2);
    double xn = gsl_vector_get (p, 4), yn = gsl_vector_get (p, 5);
    double c00, c33, c03, sp, sn, limit = 5.0 * (sigma_psf > 0 ? sigma_psf : 2.0);
    gboolean ok = (status == GSL_SUCCESS || status == GSL_EMAXITER) && isfinite (Fp + Fn)
                  && hypot (xp - pos->x, yp - pos->y) < limit
                  && hypot (xn - neg->x, yn - neg->y) < limit;
    if (!ok)
      {
        s->flags |= DIA_SOURCE_DIPOLE_FAILED;
        goto out;
      }
    gsl_blas_ddot (ws->f, ws->f, &chi2);
    gsl_multifit_nlinear_covar (gsl_multifit_nlinear_jac (ws), 0.0, covar);
    c00 = gsl_matrix_get (covar, 0, 0);
    c33 = gsl_matrix_get (covar, 3, 3);
    c03 = gsl_matrix_get (covar, 0, 3);
    sp = sqrt (MAX (c00, 0));
    sn = sqrt (MAX (c33, 0));
    s->dipole_pos_flux = Fp;
    s->dipole_neg_flux = Fn;
    s->dipole_pos_x = xp;
    s->dipole_pos_y = yp;
    s->dipole_neg_x = xn;
    s->dipole_neg_y = yn;
    s->dipole_mean_flux = 0.5 * (Fp + Fn);
    s->dipole_mean_flux_err = 0.5 * sqrt (MAX (c00 + c33 + 2 * c03, 0));
    s->dipole_flux_diff = Fp - Fn;
    s->dipole_flux_diff_err = sqrt (MAX (c00 + c33 - 2 * c03, 0));
    s->dipole_length = hypot (xp - xn, yp - yn);
    s->dipole_angle = atan2 (yp - yn, xp - xn) * 180.0 / G_PI;
    s->dipole_chi2 = n > 6 ? chi2 / (n - 6) : NAN;
    s->dipole_snr = sqrt ((sp > 0 ? (Fp / sp) * (Fp / sp) : 0)
                          + (sn > 0 ? (Fn / sn) * (Fn / sn) : 0));
    s->is_dipole = Fp > 0 && Fn > 0 && s->dipole_snr > prm->dipole_min_snr
                   && Fp / (Fp + Fn) < prm->dipole_max_flux_ratio
                   && Fn / (Fp + Fn) < prm->dipole_max_flux_ratio;
    if (s->is_dipole)
      {
        s->x = 0.5 * (xp + xn);
        s->y = 0.5 * (yp + yn);
      }
  }
out:
  if (ws)
    gsl_multifit_nlinear_free (ws);
  if (covar)
    gsl_matrix_free (covar);
  g_free (d.pa);
  g_free (d.pb);
}

/* ---- one source --------------------------------------------------------------------------- */

typedef struct
{
  DiaCatalog *cat;
  const DiaImage *im;
  const DiaPsf *psf;
  struct wcsprm **wcs;          /* one per thread (NULL entries without WCS)            */
  const int *todo;              /* source indices to measure, or NULL for all            */
} MeasureJob;

static guint32
mask_to_flags (DiaMask m)
{
  guint32 f = 0;
  if (m & DIA_MASK_EDGE)
    f |= DIA_SOURCE_EDGE;
  if (m & DIA_MASK_BAD)
    f |= DIA_SOURCE_BAD;
  if (m & DIA_MASK_SAT)
    f |= DIA_SOURCE_SATURATED;
  if (m & DIA_MASK_INTRP)
    f |= DIA_SOURCE_INTERPOLATED;
  if (m & DIA_MASK_SUSPECT)
    f |= DIA_SOURCE_SUSPECT;
  if (m & DIA_MASK_CR)
    f |= DIA_SOURCE_CR;
  if (m & DIA_MASK_NO_DATA)
    f |= DIA_SOURCE_NO_DATA;
  return f;
}

static void
measure_moments (DiaSource *s, const DiaImage *im, double sigma_w, double sign)
{
  int R = (int) ceil (3.0 * sigma_w), cx = (int) floor (s->x + 0.5), cy = (int) floor (s->y + 0.5);
  double sw = 0, sxx = 0, syy = 0, sxy = 0, w2 = sigma_w * sigma_w;
  double a, b, c, det, ia, ib, ic, idet;

  for (int y = cy - R; y <= cy + R; y++)
    for (int x = cx - R; x <= cx + R; x++)
      {
        double dx = x - s->x, dy = y - s->y, wgt, v;
        size_t i;
        if (x < 0 || y < 0 || x >= im->width || y >= im->height)
          continue;
        i = dia_image_index (im, x, y);
        if (!measure_usable (im, i))
          continue;
        wgt = exp (-0.5 * (dx * dx + dy * dy) / w2);
        v = sign * im->pix[i] * wgt;
        sw += v;
        sxx += v * dx * dx;
        syy += v * dy * dy;
        sxy += v * dx * dy;
      }
  if (!(sw > 0))
    {
      s->flags |= DIA_SOURCE_SHAPE_FAILED;
      return;
    }
  /* Moments measured under a Gaussian weight W are (M⁻¹ + W⁻¹)⁻¹ of the true M, so invert. */
  a = sxx / sw;
  b = sxy / sw;
  c = syy / sw;
  det = a * c - b * b;
  if (!(det > 0))
    {
      s->flags |= DIA_SOURCE_SHAPE_FAILED;
      return;
    }
  ia = c / det - 1.0 / w2;
  ic = a / det - 1.0 / w2;
  ib = -b / det;
  idet = ia * ic - ib * ib;
  if (!(ia > 0 && ic > 0 && idet > 0))
    {
      s->flags |= DIA_SOURCE_SHAPE_FAILED;
      return;
    }
  s->ixx = ic / idet;
  s->iyy = ia / idet;
  s->ixy = -ib / idet;
}

static void
measure_one (MeasureJob *job, DiaSource *s, struct wcsprm *wcs)
{
  const DiaCatalog *cat = job->cat;
  const DiaImage *im = job->im;
  const DiaPeak *first = &g_array_index (cat->peaks, DiaPeak, s->peak_first);
  const DiaPeak *last = &g_array_index (cat->peaks, DiaPeak, s->peak_first + s->n_peaks - 1);
  DiaMask any = 0, centre = 0;
  double r2 = cat->params.ap_radius * cat->params.ap_radius, ap = 0, apv = 0, sigma_psf;
  gboolean clipped = FALSE;
  int cx, cy, R;

  for (int k = 0; k < s->n_spans; k++)
    {
      const DiaSpan *sp = &g_array_index (cat->spans, DiaSpan, s->span_first + k);
      for (int x = sp->x0; x <= sp->x1; x++)
        any |= im->mask[dia_image_index (im, x, sp->y)];
    }
  s->flags |= mask_to_flags (any);

  if (s->has_positive && s->has_negative && first->significance > 0 && last->significance < 0)
    {
      if (s->area <= cat->params.dipole_max_area)
        fit_dipole (cat, s, im, job->psf, first, last);
    }

  cx = (int) floor (s->x + 0.5);
  cy = (int) floor (s->y + 0.5);
  for (int y = cy - 1; y <= cy + 1; y++)
    for (int x = cx - 1; x <= cx + 1; x++)
      {
        if (x < 0 || y < 0 || x >= im->width || y >= im->height)
          {
            centre |= DIA_MASK_EDGE;
            continue;
          }
        centre |= im->mask[dia_image_index (im, x, y)];
      }
  if (centre & DIA_MASK_SAT)
    s->flags |= DIA_SOURCE_SATURATED_CENTER;
  if (centre & (DIA_MASK_BAD | DIA_MASK_NO_DATA))
    s->flags |= DIA_SOURCE_BAD_CENTER;
  if (centre & DIA_MASK_EDGE)
    s->flags |= DIA_SOURCE_EDGE_CENTER;

  if (!dia_measure_psf_flux (im, job->psf, s->x, s->y, &s->psf_flux, &s->psf_flux_err,
                             &s->psf_chi2, &s->psf_npix, &clipped))
    s->flags |= DIA_SOURCE_PSF_FLUX_FAILED;
  if (clipped)
    s->flags |= DIA_SOURCE_EDGE;

  R = (int) ceil (cat->params.ap_radius);
  for (int y = cy - R; y <= cy + R; y++)
    for (int x = cx - R; x <= cx + R; x++)
      {
        double dx = x - s->x, dy = y - s->y;
        size_t i;
        if (dx * dx + dy * dy > r2 || x < 0 || y < 0 || x >= im->width || y >= im->height)
          continue;
        i = dia_image_index (im, x, y);
        if (!measure_usable (im, i))
          continue;
        ap += im->pix[i];
        apv += im->var[i];
      }
  s->ap_flux = ap;
  s->ap_flux_err = sqrt (apv);

  sigma_psf = dia_psf_determinant_radius (job->psf, s->x, s->y);
  if (!s->is_dipole && sigma_psf > 0)
    measure_moments (s, im, sigma_psf, s->snr < 0 ? -1.0 : 1.0);
  else
    s->flags |= DIA_SOURCE_SHAPE_FAILED;

  if (wcs && !dia_wcs_pix2sky (wcs, s->x, s->y, &s->ra, &s->dec))
    s->ra = s->dec = NAN;
}

static void
measure_body (int first, int last, int thread_index, gpointer data)
{
  MeasureJob *job = data;
  for (int i = first; i < last; i++)
    measure_one (job, &g_array_index (job->cat->sources, DiaSource, job->todo ? job->todo[i] : i),
                 job->wcs[thread_index]);
}

/* ---- reuse on a new threshold ------------------------------------------------------------- */

/* A source of a catalogue, as a hash key: equal when footprint and peaks are identical, which
 * with the same image, PSF and measurement parameters makes every measured field identical. */
typedef struct
{
  const DiaCatalog *cat;
  const DiaSource *s;
} SourceKey;

static guint
source_key_hash (gconstpointer p)
{
  const SourceKey *k = p;
  const DiaSource *s = k->s;
  guint h = (guint) s->bbox.x * 73856093u ^ (guint) s->bbox.y * 19349663u
            ^ (guint) s->area * 83492791u ^ (guint) s->n_peaks;
  if (s->n_peaks > 0)
    {
      const DiaPeak *pk = &g_array_index (k->cat->peaks, DiaPeak, s->peak_first);
      h ^= (guint) pk->ix * 2654435761u ^ (guint) pk->iy * 40503u;
    }
  return h;
}

static gboolean
source_key_equal (gconstpointer pa, gconstpointer pb)
{
  const SourceKey *a = pa, *b = pb;
  const DiaSource *x = a->s, *y = b->s;
  if (x->n_spans != y->n_spans || x->n_peaks != y->n_peaks || x->area != y->area
      || x->has_positive != y->has_positive || x->has_negative != y->has_negative
      || memcmp (&x->bbox, &y->bbox, sizeof x->bbox) != 0)
    return FALSE;
  return memcmp (&g_array_index (a->cat->spans, DiaSpan, x->span_first),
                 &g_array_index (b->cat->spans, DiaSpan, y->span_first),
                 sizeof (DiaSpan) * x->n_spans) == 0
         && memcmp (&g_array_index (a->cat->peaks, DiaPeak, x->peak_first),
                    &g_array_index (b->cat->peaks, DiaPeak, y->peak_first),
                    sizeof (DiaPeak) * x->n_peaks) == 0;
}

/* Whether previous was measured on the same detection image with the same measurement
 * parameters (the detection ones — threshold, area, growth, merging — only change which
 * footprints exist, which the key compares). */
static gboolean
measure_can_reuse (const DiaCatalog *catalog, const DiaCatalog *previous)
{
  const DiaDetectParams *a = &catalog->params, *b = &previous->params;
  return previous->sn_image != NULL && previous->sn_image == catalog->sn_image
         && isfinite (previous->psf_fwhm) && a->ap_radius == b->ap_radius
         && a->dipole_min_snr == b->dipole_min_snr
         && a->dipole_max_flux_ratio == b->dipole_max_flux_ratio
         && a->dipole_max_area == b->dipole_max_area;
}

gboolean
dia_measure (DiaCatalog *catalog, const DiaImage *image, const DiaPsf *psf, int n_threads,
             DiaMonitor *monitor, GError **error)
{
  return dia_measure_again (catalog, image, psf, NULL, n_threads, monitor, error);
}

gboolean
dia_measure_again (DiaCatalog *catalog, const DiaImage *image, const DiaPsf *psf,
                   const DiaCatalog *previous, int n_threads, DiaMonitor *monitor,
                   GError **error)
{
  MeasureJob job = { catalog, image, psf, NULL, NULL };
  g_autofree int *todo = NULL;
  int n_todo = (int) catalog->sources->len;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok;

  if (image->width != catalog->width || image->height != catalog->height)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                   _("Measurement: the image (%d×%d) is not the one the sources were detected "
                     "on (%d×%d)"), image->width, image->height, catalog->width,
                   catalog->height);
      return FALSE;
    }
  if (psf == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Measurement needs the difference image's PSF; give a PSF FWHM"));
      return FALSE;
    }
  if (n_threads <= 0)
    n_threads = dia_parallel_default_threads ();
  if (previous != NULL && measure_can_reuse (catalog, previous))
    {
      /* Copy what an identical footprint measured before; measure only the new ones. */
      g_autoptr (GHashTable) old = g_hash_table_new_full (source_key_hash, source_key_equal,
                                                          g_free, NULL);
      for (guint i = 0; i < previous->sources->len; i++)
        {
          SourceKey *k = g_new (SourceKey, 1);
          k->cat = previous;
          k->s = &g_array_index (previous->sources, DiaSource, i);
          g_hash_table_add (old, k);
        }
      todo = g_new (int, MAX (catalog->sources->len, 1));
      n_todo = 0;
      for (guint i = 0; i < catalog->sources->len; i++)
        {
          DiaSource *s = &g_array_index (catalog->sources, DiaSource, i);
          SourceKey k = { catalog, s }, *hit;
          hit = g_hash_table_lookup (old, &k);
          if (hit != NULL)
            {
              DiaSource keep = *s;
              *s = *hit->s;
              s->id = keep.id;
              s->span_first = keep.span_first;
              s->peak_first = keep.peak_first;
            }
          else
            todo[n_todo++] = (int) i;
        }
      job.todo = todo;
    }
  job.wcs = g_new0 (struct wcsprm *, n_threads);
  for (int t = 0; t < n_threads && image->wcs && n_todo > 0; t++)
    job.wcs[t] = dia_wcs_copy (image->wcs);
  dia_monitor_stage (monitor, "measure", 0.0);
  ok = dia_parallel_for (n_todo, 4, n_threads, measure_body, &job, monitor, error);
  for (int t = 0; t < n_threads; t++)
    dia_wcs_free (job.wcs[t]);
  g_free (job.wcs);
  if (!ok)
    return FALSE;
  catalog->psf_fwhm = dia_psf_fwhm (psf, image->width / 2.0, image->height / 2.0);
  catalog->n_dipoles = 0;
  for (guint i = 0; i < catalog->sources->len; i++)
    catalog->n_dipoles += g_array_index (catalog->sources, DiaSource, i).is_dipole;
  catalog->measure_ms = (g_get_monotonic_time () - t0) / 1000.0;
  dia_monitor_stage (monitor, "measure", 1.0);
  return TRUE;
}

DiaCatalog *
dia_detect_and_measure (const DiaSubtractResult *result, const DiaDetectParams *params,
                        DiaMonitor *monitor, GError **error)
{
  const DiaPsf *psf = dia_subtract_result_get_diff_psf (result);
  const DiaDetectParams *p = params ? params : &result->plan->request.detect;
  int nt = result->plan->request.n_threads;
  g_autoptr (DiaCatalog) cat = NULL;

  if (result->score)
    cat = dia_detect_score (result->score, psf, p, nt, monitor, error);
  else
    cat = dia_detect (result->diff, psf, p, nt, monitor, error);
  if (cat == NULL || !dia_measure (cat, result->diff, psf, nt, monitor, error))
    return NULL;
  return g_steal_pointer (&cat);
}

DiaCatalog *
dia_detect_and_measure_again (const DiaSubtractResult *result, const DiaDetectParams *params,
                              const DiaCatalog *previous, DiaMonitor *monitor, GError **error)
{
  const DiaPsf *psf = dia_subtract_result_get_diff_psf (result);
  const DiaDetectParams *p = params ? params : &result->plan->request.detect;
  int nt = result->plan->request.n_threads;
  const DiaImage *image = result->score ? result->score : result->diff;
  g_autoptr (DiaCatalog) cat = NULL;

  cat = dia_detect_again (previous, image, psf, result->score != NULL, p, nt, monitor, error);
  if (cat == NULL || !dia_measure_again (cat, result->diff, psf, previous, nt, monitor, error))
    return NULL;
  return g_steal_pointer (&cat);
}

/* ---- files -------------------------------------------------------------------------------- */

typedef enum
{
  COL_INT,
  COL_DOUBLE,
  COL_BOOL,
  COL_FLAG,
  COL_NPEAKS,
} ColType;

typedef struct
{
  const char *name;
  ColType type;
  size_t offset;                /* into DiaSource; the flag bit for COL_FLAG            */
  const char *unit;
  const char *comment;
} Column;

#define D(field) offsetof (DiaSource, field)
static const Column columns[] = {
  { "id", COL_INT, D (id), "", "1-based source number" },
  { "x", COL_DOUBLE, D (x), "pix", "centroid x, 0-based, pixel centres on integers" },
  { "y", COL_DOUBLE, D (y), "pix", "centroid y, 0-based" },
  { "ra", COL_DOUBLE, D (ra), "deg", "right ascension of the centroid (NaN without WCS)" },
  { "dec", COL_DOUBLE, D (dec), "deg", "declination of the centroid" },
  { "psfFlux", COL_DOUBLE, D (psf_flux), "count", "forced PSF flux on the difference" },
  { "psfFluxErr", COL_DOUBLE, D (psf_flux_err), "count", "its 1-sigma error" },
  { "psfChi2", COL_DOUBLE, D (psf_chi2), "", "chi2 of the PSF model over its box" },
  { "psfNdata", COL_INT, D (psf_npix), "", "pixels used by the PSF flux" },
  { "apFlux", COL_DOUBLE, D (ap_flux), "count", "circular aperture flux" },
  { "apFluxErr", COL_DOUBLE, D (ap_flux_err), "count", "its 1-sigma error" },
  { "snr", COL_DOUBLE, D (snr), "", "signed detection significance of the first peak" },
  { "isNegative", COL_BOOL, D (is_negative), "", "only negative peaks" },
  { "isDipole", COL_BOOL, D (is_dipole), "", "classified as a dipole" },
  { "dipoleMeanFlux", COL_DOUBLE, D (dipole_mean_flux), "count", "(F+ + F-)/2" },
  { "dipoleMeanFluxErr", COL_DOUBLE, D (dipole_mean_flux_err), "count", "its error" },
  { "dipoleFluxDiff", COL_DOUBLE, D (dipole_flux_diff), "count", "F+ - F-" },
  { "dipoleFluxDiffErr", COL_DOUBLE, D (dipole_flux_diff_err), "count", "its error" },
  { "dipoleLength", COL_DOUBLE, D (dipole_length), "pix", "lobe separation" },
  { "dipoleAngle", COL_DOUBLE, D (dipole_angle), "deg", "atan2(y+ - y-, x+ - x-)" },
  { "dipoleChi2", COL_DOUBLE, D (dipole_chi2), "", "chi2 per dof of the dipole fit" },
  { "dipolePosX", COL_DOUBLE, D (dipole_pos_x), "pix", "positive lobe x" },
  { "dipolePosY", COL_DOUBLE, D (dipole_pos_y), "pix", "positive lobe y" },
  { "dipoleNegX", COL_DOUBLE, D (dipole_neg_x), "pix", "negative lobe x" },
  { "dipoleNegY", COL_DOUBLE, D (dipole_neg_y), "pix", "negative lobe y" },
  { "dipoleFitAttempted", COL_FLAG, DIA_SOURCE_DIPOLE_ATTEMPTED, "", "dipole fit was run" },
  { "dipoleFitFailed", COL_FLAG, DIA_SOURCE_DIPOLE_FAILED, "", "dipole fit did not converge" },
  { "ixx", COL_DOUBLE, D (ixx), "pix2", "second moment xx" },
  { "iyy", COL_DOUBLE, D (iyy), "pix2", "second moment yy" },
  { "ixy", COL_DOUBLE, D (ixy), "pix2", "second moment xy" },
  { "footprintArea", COL_INT, D (area), "pix", "pixels in the grown footprint" },
  { "nPeaks", COL_NPEAKS, D (n_peaks), "", "peaks in the footprint" },
  { "pixelFlags_edge", COL_FLAG, DIA_SOURCE_EDGE, "", "EDGE in footprint or PSF box clipped" },
  { "pixelFlags_edgeCenter", COL_FLAG, DIA_SOURCE_EDGE_CENTER, "", "EDGE in the central 3x3" },
  { "pixelFlags_bad", COL_FLAG, DIA_SOURCE_BAD, "", "BAD in footprint" },
  { "pixelFlags_badCenter", COL_FLAG, DIA_SOURCE_BAD_CENTER, "", "BAD/NO_DATA in central 3x3" },
  { "pixelFlags_saturated", COL_FLAG, DIA_SOURCE_SATURATED, "", "SAT in footprint" },
  { "pixelFlags_saturatedCenter", COL_FLAG, DIA_SOURCE_SATURATED_CENTER, "", "SAT in 3x3" },
  { "pixelFlags_interpolated", COL_FLAG, DIA_SOURCE_INTERPOLATED, "", "INTRP in footprint" },
  { "pixelFlags_suspect", COL_FLAG, DIA_SOURCE_SUSPECT, "", "SUSPECT in footprint" },
  { "pixelFlags_cr", COL_FLAG, DIA_SOURCE_CR, "", "CR in footprint" },
  { "pixelFlags_nodata", COL_FLAG, DIA_SOURCE_NO_DATA, "", "NO_DATA in footprint" },
  { "psfFlux_flag", COL_FLAG, DIA_SOURCE_PSF_FLUX_FAILED, "", "no usable pixel under the PSF" },
  { "shape_flag", COL_FLAG, DIA_SOURCE_SHAPE_FAILED, "", "second moments not measured" },
};
#undef D

static double
col_double (const Column *c, const DiaSource *s)
{
  return *(const double *) ((const char *) s + c->offset);
}

static int
col_int (const Column *c, const DiaSource *s)
{
  switch (c->type)
    {
    case COL_FLAG:
      return (s->flags & c->offset) != 0;
    default:
      return *(const int *) ((const char *) s + c->offset);
    }
}

gboolean
dia_catalog_write_csv (const DiaCatalog *catalog, const char *path, GError **error)
{
  GString *out = g_string_new (NULL);
  gboolean ok;

  for (size_t c = 0; c < G_N_ELEMENTS (columns); c++)
    g_string_append_printf (out, "%s%s", c ? "," : "", columns[c].name);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *s = &g_array_index (catalog->sources, DiaSource, i);
      for (size_t c = 0; c < G_N_ELEMENTS (columns); c++)
        {
          const Column *col = &columns[c];
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          if (c)
            g_string_append_c (out, ',');
          if (col->type == COL_DOUBLE)
            {
              double v = col_double (col, s);
              if (isfinite (v))
                g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.10g", v));
              else
                g_string_append (out, "nan");
            }
          else
            g_string_append_printf (out, "%d", col_int (col, s));
        }
      g_string_append_c (out, '\n');
    }
  ok = g_file_set_contents (path, out->str, (gssize) out->len, error);
  if (!ok)
    g_prefix_error (error, _("Cannot write the source catalogue %s: "), path);
  g_string_free (out, TRUE);
  return ok;
}

gboolean
dia_catalog_write_fits (const DiaCatalog *catalog, const char *path, GError **error)
{
  int nc = G_N_ELEMENTS (columns), status = 0;
  long nrows = catalog->sources->len;
  fitsfile *f = NULL;
  char *ttype[G_N_ELEMENTS (columns)], *tform[G_N_ELEMENTS (columns)];
  char *tunit[G_N_ELEMENTS (columns)];
  g_autofree char *cpath = path[0] == '!' ? g_strdup (path) : g_strconcat ("!", path, NULL);
  g_autofree double *dbuf = g_new (double, MAX (1, nrows));
  g_autofree int *ibuf = g_new (int, MAX (1, nrows));
  g_autofree char *lbuf = g_new (char, MAX (1, nrows));

  for (int c = 0; c < nc; c++)
    {
      ttype[c] = (char *) columns[c].name;
      tform[c] = (char *) (columns[c].type == COL_DOUBLE ? "1D"
                           : columns[c].type == COL_INT || columns[c].type == COL_NPEAKS ? "1J"
                                                                                         : "1L");
      tunit[c] = (char *) columns[c].unit;
    }
  if (fits_create_file (&f, cpath, &status))
    return dia_set_error_from_fits (error, status, path);
  fits_create_tbl (f, BINARY_TBL, nrows, nc, ttype, tform, tunit, "DIASOURCE", &status);
  for (int c = 0; c < nc && !status; c++)
    {
      char key[16];
      g_snprintf (key, sizeof key, "TCOMM%d", c + 1);
      fits_write_key (f, TSTRING, key, (void *) columns[c].comment, NULL, &status);
    }
  {
    double v;
    fits_write_key (f, TDOUBLE, "THRESH", (v = catalog->params.threshold, &v),
                    "detection threshold, sigma", &status);
    fits_write_key (f, TDOUBLE, "SMOOTHSG", (v = catalog->smooth_sigma, &v),
                    "smoothing Gaussian sigma, px", &status);
    fits_write_key (f, TDOUBLE, "SNSCALE", (v = catalog->sn_scale, &v),
                    "robust sigma of raw S/N image", &status);
    if (isfinite (catalog->psf_fwhm))
      fits_write_key (f, TDOUBLE, "PSFFWHM", (v = catalog->psf_fwhm, &v), "PSF FWHM, px",
                      &status);
  }
  for (int c = 0; c < nc && nrows > 0 && !status; c++)
    {
      const Column *col = &columns[c];
      for (long i = 0; i < nrows; i++)
        {
          const DiaSource *s = &g_array_index (catalog->sources, DiaSource, i);
          if (col->type == COL_DOUBLE)
            dbuf[i] = col_double (col, s);
          else if (col->type == COL_BOOL || col->type == COL_FLAG)
            lbuf[i] = (char) (col->type == COL_BOOL ? *(const gboolean *) ((const char *) s
                                                                           + col->offset) != 0
                                                    : col_int (col, s));
          else
            ibuf[i] = col_int (col, s);
        }
      if (col->type == COL_DOUBLE)
        fits_write_colnull (f, TDOUBLE, c + 1, 1, 1, nrows, dbuf, NULL, &status);
      else if (col->type == COL_BOOL || col->type == COL_FLAG)
        fits_write_col (f, TLOGICAL, c + 1, 1, 1, nrows, lbuf, &status);
      else
        fits_write_col (f, TINT, c + 1, 1, 1, nrows, ibuf, &status);
    }
  if (status)
    {
      int s2 = 0;
      fits_close_file (f, &s2);
      return dia_set_error_from_fits (error, status, path);
    }
  fits_close_file (f, &status);
  if (status)
    return dia_set_error_from_fits (error, status, path);
  return TRUE;
}

void
dia_catalog_append_json (const DiaCatalog *catalog, DiaJson *j)
{
  const DiaDetectParams *p = &catalog->params;
  int n_neg = 0, n_flag_edge = 0, n_flag_sat = 0;
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *s = &g_array_index (catalog->sources, DiaSource, i);
      n_neg += s->is_negative;
      n_flag_edge += (s->flags & DIA_SOURCE_EDGE) != 0;
      n_flag_sat += (s->flags & DIA_SOURCE_SATURATED) != 0;
    }
  dia_json_begin_object (j, "detection");
  dia_json_bool (j, "on_score", catalog->on_score);
  dia_json_double (j, "threshold_sigma", p->threshold);
  dia_json_double (j, "smoothing_sigma_px", catalog->smooth_sigma);
  dia_json_double (j, "sn_scale", catalog->sn_scale);
  dia_json_double (j, "psf_fwhm_px", catalog->psf_fwhm);
  dia_json_int (j, "min_area", p->min_area);
  dia_json_double (j, "grow_sigma", p->grow_sigma);
  dia_json_int (j, "pixels_searched", catalog->n_pixels);
  dia_json_int (j, "footprints_positive", catalog->n_footprints_positive);
  dia_json_int (j, "footprints_negative", catalog->n_footprints_negative);
  dia_json_int (j, "sources", catalog->sources->len);
  dia_json_int (j, "negative", n_neg);
  dia_json_int (j, "dipoles", catalog->n_dipoles);
  dia_json_int (j, "flagged_edge", n_flag_edge);
  dia_json_int (j, "flagged_saturated", n_flag_sat);
  dia_json_double (j, "detect_ms", catalog->detect_ms);
  dia_json_double (j, "measure_ms", catalog->measure_ms);
  dia_json_end_object (j);
}
