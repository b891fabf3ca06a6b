/* dia-sim.c — the seeded template/science pair generator with exact truth.
 *
 * Design.  One of the two images is "sharp": its point-spread function is an elliptical Moffat
 * whose FWHM and ellipticity change smoothly over the field.  The other is "broad": every
 * source in it is the sharp source stamp cross-correlated with the matching kernel K(x, y), a
 * unit-sum, shifted, separable Gaussian times flux_ratio.  In the SCIENCE_BROADER regime the
 * template is sharp, in SCIENCE_SHARPER the science image is.  Because the broad stamp is
 * computed from the very pixels of the sharp stamp (a "full" correlation of the zero-padded
 * stamp with the kernel sampled at integer offsets), broad = K ⋆ sharp holds to float rounding
 * for every source, with K evaluated at that source's position.  Using one kernel for a whole
 * neighbourhood instead is accurate to ~1e-3 of the peak of a source 10–20 px away near the
 * corners (the FWHMs change by fwhm_variation = 8 % from centre to corner), and far better
 * for the source the kernel was evaluated at.
 *
 * Sky.  Each image has a plane c0 + c1 x + c2 y.  For a linear plane and a unit-sum kernel with
 * centroid s, K ⋆ plane = flux_ratio · plane(x + s) exactly, so the expected difference of the
 * skies is again a plane; its coefficients are in the truth (diff_background).  Sky is not
 * stamped; it is added row by row.
 *
 * Rendering.  Sources are drawn as local stamps, never by full-frame convolution.  Stage 1
 * (serial, one RNG stream) draws the catalogue.  Then, batch by batch of 4096 sources (so
 * stamp memory stays bounded), stage 2 renders unit-sum stamps in parallel over sources (no
 * RNG there, so threads cannot change the result) and stage 3 adds them into the noiseless
 * models in parallel over row bands; every band adds the sources in catalogue order, so the
 * float sums do not depend on the thread count.  Saturation then bleeds
 * the excess charge of each over-full run of pixels up and down its column (charge-conserving).
 * Stage 4 draws noise per row band from an RNG stream keyed by (seed, image, band), and stage
 * 5 propagates the variance of the difference with K² on 64-px tiles.
 *
 * Noise.  Poisson on the model in electrons plus Gaussian read noise.  Above 30 e- the sum is
 * drawn as one Gaussian of variance model + read_noise² (the Poisson part is then normal to far
 * better than the read noise resolves); below, an exact Poisson deviate is used.  The template
 * noise is that deviate scaled by sqrt(template_depth), i.e. a deeper coadd.  The variance plane
 * is the exact expectation scale · (model + read_noise²).  Pixels whose model or noisy value
 * reaches saturation are set to saturation and masked SAT.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-sim.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-json.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-rng.h"
#include "dia-wcs.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SIM_FWHM_TO_SIGMA   0.42466090014400953   /* 1 / (2 sqrt(2 ln 2))               */
#define SIM_MIN_SIDE        32
#define SIM_MAX_SIDE        32768
#define SIM_MAX_PIXELS      ((gint64) 1 << 28)        /* 16384², ~7 GB of planes + truth    */
#define SIM_BATCH           4096                  /* objects whose stamps live at once  */
#define SIM_MAX_KH          40                    /* largest kernel half width          */
#define SIM_BAND_ROWS       32                    /* rows per noise / accumulation band */
#define SIM_TILE            64                    /* diff-variance tile side            */
#define SIM_STAR_MIN_RADIUS 10
#define SIM_STAR_MAX_RADIUS 60
#define SIM_STAMP_MAX_RADIUS 130
#define SIM_GAL_PSF_RADIUS  6
#define SIM_SPIKE_FRACTION  0.01                  /* of a saturated star's flux         */
#define SIM_MARGIN          30                    /* px kept free for injected sources  */
#define SIM_EXPTIME         30.0                  /* s                                   */
#define SIM_STREAM_CATALOGUE 1
#define SIM_STREAM_NOISE    ((guint64) 1 << 32)

enum { SIM_T = 0, SIM_S = 1 };

typedef struct
{
  const DiaSimParams *p;
  int w, h;
  double xc, yc, half_w, half_h;
  int kh;                       /* kernel half width, px                                */
  double sigma_k0;              /* kernel σ at the field centre, px                     */
  double alpha_per_fwhm;        /* Moffat α / FWHM for moffat_beta                     */
  int sharp, broad;             /* SIM_T or SIM_S                                       */
  double sky_plane[2][3];       /* e-/px: c0 + c1 x + c2 y, per image                   */
  double noise_scale[2];        /* variance scale: template_depth for T, 1 for S        */
  double f_sat;                 /* sharp flux whose peak (plus sky) reaches saturation  */
  double nea;                   /* noise-equivalent area of the sharp PSF at the centre */
} SimContext;

typedef struct
{
  int x0, y0, w, h;             /* origin in buffer px and size                         */
  float *data;                  /* unit sum; owned by the SimObject's buf[]             */
} SimStamp;

typedef struct
{
  DiaSimKind kind;
  double pos[2][2];             /* sharp-frame profile centre for the T and S renders  */
  double flux[2];               /* total e- in T and S                                  */
  double flux_sharp_max;        /* largest intrinsic (sharp-image) flux, sizes stamps  */
  double r_d, q, theta;         /* galaxies: scale length px, axis ratio, angle rad   */
  double snr;                   /* transients: requested S/N                           */
  int n_hits;                   /* cosmic rays                                          */
  int hit_x[3], hit_y[3];
  double hit_e[3];
  gboolean saturated;
  SimStamp st[2];
  float *buf[2];
} SimObject;

/* ---------------------------------------------------------------- parameters, field model */

void
dia_sim_params_init (DiaSimParams *params, int width, int height, guint64 seed)
{
  memset (params, 0, sizeof *params);
  params->width = width;
  params->height = height;
  params->seed = seed;
  params->regime = DIA_SIM_SCIENCE_BROADER;
  params->fwhm_sharp = 3.0;
  params->fwhm_broad = 4.2;
  params->fwhm_variation = 0.08;
  params->moffat_beta = 3.5;
  params->shift_x = 0.23;
  params->shift_y = -0.17;
  params->flux_ratio = 1.0;
  params->sky_template = 800.0;
  params->sky_science = 1200.0;
  params->sky_gradient = 0.05;
  params->gain = 1.6;
  params->read_noise = 6.0;
  params->saturation = 60000.0;
  params->template_depth = 0.5;
  params->n_stars = 1200;
  params->n_galaxies = 150;
  params->n_transients = 20;
  params->n_variables = 10;
  params->moving_object = TRUE;
  params->n_cosmic_rays = 30;
  params->bad_column = TRUE;
  params->spikes = TRUE;
  params->transient_snr_min = 8.0;
  params->transient_snr_max = 100.0;
  params->n_threads = 0;
}

static gboolean
sim_validate (const DiaSimParams *p, GError **error)
{
  const char *bad = NULL;

  if (p->width < SIM_MIN_SIDE || p->height < SIM_MIN_SIDE || p->width > SIM_MAX_SIDE
      || p->height > SIM_MAX_SIDE || (gint64) p->width * p->height > SIM_MAX_PIXELS)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Simulator: image size %d×%d is out of range (each side %d to %d px, "
                     "at most %d megapixels)"),
                   p->width, p->height, SIM_MIN_SIDE, SIM_MAX_SIDE,
                   (int) (SIM_MAX_PIXELS >> 20));
      return FALSE;
    }
  if (!(p->fwhm_sharp >= 0.8 && p->fwhm_sharp <= 30.0))
    bad = "fwhm_sharp (0.8 to 30 px)";
  else if (!(p->fwhm_broad >= 1.02 * p->fwhm_sharp && p->fwhm_broad <= 60.0))
    bad = "fwhm_broad (at least 2 % above fwhm_sharp, at most 60 px)";
  else if (!(p->fwhm_variation >= 0.0 && p->fwhm_variation <= 1.0))
    bad = "fwhm_variation (0 to 1)";
  else if (!(p->moffat_beta >= 1.5 && p->moffat_beta <= 20.0))
    bad = "moffat_beta (1.5 to 20)";
  else if (!(fabs (p->shift_x) <= 3.0 && fabs (p->shift_y) <= 3.0))
    bad = "shift_x/shift_y (at most 3 px)";
  else if (!(p->flux_ratio > 0.01 && p->flux_ratio < 100.0))
    bad = "flux_ratio (0.01 to 100)";
  else if (!(p->sky_template >= 0.0 && p->sky_science >= 0.0 && p->sky_template < 1e7
             && p->sky_science < 1e7))
    bad = "sky_template/sky_science (0 to 1e7 e-)";
  else if (!(p->sky_gradient >= 0.0 && p->sky_gradient < 1.0))
    bad = "sky_gradient (0 to 1)";
  else if (!(p->read_noise >= 0.0 && p->read_noise < 1e4))
    bad = "read_noise (0 to 1e4 e-)";
  else if (!(p->gain > 0.0) || !isfinite (p->gain))
    bad = "gain (positive)";
  else if (!(p->saturation > 2.0 * MAX (p->sky_template, p->sky_science) + 100.0)
           || !isfinite (p->saturation))
    bad = "saturation (well above both sky levels)";
  else if (!(p->template_depth > 0.0 && p->template_depth <= 100.0))
    bad = "template_depth (above 0, at most 100)";
  else if (p->n_stars < 0 || p->n_stars > 100000 || p->n_galaxies < 0
           || p->n_galaxies > 20000 || p->n_cosmic_rays < 0 || p->n_cosmic_rays > 100000)
    bad = "n_stars/n_galaxies/n_cosmic_rays (0 to 1e5 per megapixel)";
  else if (p->n_transients < 0 || p->n_transients > 100000 || p->n_variables < 0
           || p->n_variables > 100000)
    bad = "n_transients/n_variables (0 to 1e5)";
  else if (!(p->transient_snr_min > 0.0 && p->transient_snr_max >= p->transient_snr_min
             && p->transient_snr_max < 1e6))
    bad = "transient_snr_min/max (0 < min ≤ max)";
  if (bad)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Simulator: parameter %s is out of range; use dia_sim_params_init() "
                     "defaults as a starting point"), bad);
      return FALSE;
    }
  return TRUE;
}

/* 0 at the field centre, about 1 at the corners. */
static double
sim_field_r2 (const SimContext *c, double x, double y)
{
  double dx = (x - c->xc) / c->half_w, dy = (y - c->yc) / c->half_h;
  return 0.5 * (dx * dx + dy * dy);
}

static double
sim_field_scale (const SimContext *c, double x, double y)
{
  return 1.0 + c->p->fwhm_variation * sim_field_r2 (c, x, y);
}

static double
sim_plane (const double *coef, double x, double y)
{
  return coef[0] + coef[1] * x + coef[2] * y;
}

/* Unit-sum Gaussian g[i], i = u + h, centred at u = shift. */
static void
sim_gauss_1d (double sigma, double shift, int h, double *g)
{
  double s = 0.0;
  for (int i = 0; i <= 2 * h; i++)
    {
      double u = i - h - shift;
      g[i] = exp (-0.5 * u * u / (sigma * sigma));
      s += g[i];
    }
  for (int i = 0; i <= 2 * h; i++)
    g[i] /= s;
}

/* The kernel at (x, y) as K(u, v) = flux_ratio · gx[u + h] · gy[v + h]. */
static void
sim_kernel_1d (const SimContext *c, double x, double y, double *gx, double *gy)
{
  double sigma = c->sigma_k0 * sim_field_scale (c, x, y);
  sim_gauss_1d (sigma, c->p->shift_x, c->kh, gx);
  sim_gauss_1d (sigma, c->p->shift_y, c->kh, gy);
}

static void
sim_context_init (SimContext *c, const DiaSimParams *p)
{
  double sigma_s = p->fwhm_sharp * SIM_FWHM_TO_SIGMA, sigma_b = p->fwhm_broad * SIM_FWHM_TO_SIGMA;
  double sigma_max;
  DiaRng rng;

  memset (c, 0, sizeof *c);
  c->p = p;
  c->w = p->width;
  c->h = p->height;
  c->xc = 0.5 * (p->width - 1);
  c->yc = 0.5 * (p->height - 1);
  c->half_w = 0.5 * p->width;
  c->half_h = 0.5 * p->height;
  c->sigma_k0 = sqrt (sigma_b * sigma_b - sigma_s * sigma_s);
  sigma_max = c->sigma_k0 * (1.0 + p->fwhm_variation);
  /* 5 σ plus the shift: the truncated tail is below 1e-6 of the kernel peak. */
  c->kh = (int) ceil (5.0 * sigma_max + MAX (fabs (p->shift_x), fabs (p->shift_y)));
  c->kh = CLAMP (c->kh, 2, SIM_MAX_KH);
  c->alpha_per_fwhm = 1.0 / (2.0 * sqrt (pow (2.0, 1.0 / p->moffat_beta) - 1.0));
  c->sharp = p->regime == DIA_SIM_SCIENCE_SHARPER ? SIM_S : SIM_T;
  c->broad = 1 - c->sharp;
  c->noise_scale[SIM_T] = p->template_depth;
  c->noise_scale[SIM_S] = 1.0;

  /* Sky planes: the gradient direction of each image comes from the seed, the level change
   * across the field is sky_gradient of the mean level. */
  dia_rng_init (&rng, p->seed, 0);
  for (int i = 0; i < 2; i++)
    {
      double level = i == SIM_T ? p->sky_template : p->sky_science;
      double phi = 2.0 * G_PI * dia_rng_uniform (&rng);
      double gx = level * p->sky_gradient * cos (phi) / p->width;
      double gy = level * p->sky_gradient * sin (phi) / p->height;
      c->sky_plane[i][1] = gx;
      c->sky_plane[i][2] = gy;
      c->sky_plane[i][0] = level - gx * c->xc - gy * c->yc;
    }
}

/* ------------------------------------------------------------------------------ stamps */

typedef struct
{
  double a11, a12, a22;         /* ρ² = a11 dx² + 2 a12 dx dy + a22 dy², α units       */
  double beta;
  double alpha_major;           /* px                                                   */
} SimMoffat;

/* Local PSF of the sharp image: FWHM scaled with the field, axis ratio 1 at the centre and
 * 0.95 in the corners, major axis radial (a mild optical-distortion pattern). */
static void
sim_moffat_at (const SimContext *c, double x, double y, SimMoffat *m)
{
  double r2 = sim_field_r2 (c, x, y);
  double fwhm = c->p->fwhm_sharp * (1.0 + c->p->fwhm_variation * r2);
  double alpha = fwhm * c->alpha_per_fwhm;
  double q = 1.0 - 0.05 * MIN (r2, 1.0);
  double th = (x == c->xc && y == c->yc) ? 0.0 : atan2 (y - c->yc, x - c->xc);
  double am = alpha / sqrt (q), an = alpha * sqrt (q);
  double ct = cos (th), st = sin (th);

  m->a11 = ct * ct / (am * am) + st * st / (an * an);
  m->a22 = st * st / (am * am) + ct * ct / (an * an);
  m->a12 = ct * st * (1.0 / (am * am) - 1.0 / (an * an));
  m->beta = c->p->moffat_beta;
  m->alpha_major = am;
}

static inline double
sim_moffat_value (const SimMoffat *m, double dx, double dy)
{
  double rho2 = m->a11 * dx * dx + 2.0 * m->a12 * dx * dy + m->a22 * dy * dy;
  return exp (-m->beta * log1p (rho2));
}

static gboolean
sim_stamp_alloc (SimStamp *st, float **owner, int x0, int y0, int w, int h)
{
  st->x0 = x0;
  st->y0 = y0;
  st->w = w;
  st->h = h;
  st->data = g_try_new0 (float, (gsize) w * h);
  *owner = st->data;
  return st->data != NULL;
}

static void
sim_stamp_normalise (SimStamp *st)
{
  double s = 0.0;
  gsize n = (gsize) st->w * st->h;
  for (gsize i = 0; i < n; i++)
    s += st->data[i];
  if (s > 0.0)
    for (gsize i = 0; i < n; i++)
      st->data[i] = (float) (st->data[i] / s);
}

/* Moffat samples into data (w × h at x0, y0), pixel-integrated by 4×4 sub-sampling in the
 * core where the profile curves fastest, sampled at pixel centres elsewhere.  Not normalised. */
static void
sim_moffat_fill (const SimMoffat *m, double x, double y, int x0, int y0, int w, int h,
                 float *data)
{
  for (int k = 0; k < h; k++)
    for (int i = 0; i < w; i++)
      {
        double dx = x0 + i - x, dy = y0 + k - y, v = 0.0;
        if (fabs (dx) < 2.5 && fabs (dy) < 2.5)
          {
            for (int b = 0; b < 4; b++)
              for (int a = 0; a < 4; a++)
                v += sim_moffat_value (m, dx + (a + 0.5) / 4 - 0.5, dy + (b + 0.5) / 4 - 0.5);
            v /= 16.0;
          }
        else
          v = sim_moffat_value (m, dx, dy);
        data[(gsize) k * w + i] = (float) v;
      }
}

/* Four diffraction spikes along the pixel axes, 1/(1+(t/t0)²) along, Gaussian (σ 0.6 px)
 * across, tapering to zero at length L.  Value at offset (dx, dy) from the star. */
static double
sim_spike_value (double dx, double dy, double t0, double len)
{
  double v = 0.0;
  for (int arm = 0; arm < 4; arm++)
    {
      double t = arm == 0 ? dx : arm == 1 ? -dx : arm == 2 ? dy : -dy;
      double w = arm < 2 ? dy : dx;
      if (t < 1.0 || t > len || fabs (w) > 2.5)
        continue;
      v += exp (-w * w / 0.72) / (1.0 + (t / t0) * (t / t0)) * (1.0 - t / len);
    }
  return v;
}

static int
sim_star_radius (const SimContext *c, const SimMoffat *m, double flux)
{
  /* Radius where the profile falls below 0.5 e- per pixel. */
  double beta = m->beta, a = m->alpha_major;
  double peak = flux * (beta - 1.0) / (G_PI * a * a);
  double r = peak > 0.5 ? a * sqrt (pow (peak / 0.5, 1.0 / beta) - 1.0) : 0.0;
  return CLAMP ((int) ceil (r), SIM_STAR_MIN_RADIUS, SIM_STAR_MAX_RADIUS);
}

static double
sim_spike_length (const SimContext *c, double flux)
{
  return CLAMP (6.0 * c->p->fwhm_sharp * sqrt (flux / c->f_sat), 8.0, 120.0);
}

/* Unit-sum sharp stamp of a point source (with spikes when it saturates). */
static gboolean
sim_render_point (const SimContext *c, double x, double y, double flux, SimStamp *st,
                  float **owner)
{
  SimMoffat m;
  int radius, ix = (int) lround (x), iy = (int) lround (y);
  gboolean spikes;
  double len = 0.0;

  sim_moffat_at (c, x, y, &m);
  radius = sim_star_radius (c, &m, flux);
  spikes = c->p->spikes && c->f_sat > 0.0 && flux >= c->f_sat;
  if (spikes)
    {
      len = sim_spike_length (c, flux);
      radius = MIN (MAX (radius, (int) ceil (len) + 2), SIM_STAMP_MAX_RADIUS);
    }
  if (!sim_stamp_alloc (st, owner, ix - radius, iy - radius, 2 * radius + 1, 2 * radius + 1))
    return FALSE;
  sim_moffat_fill (&m, x, y, st->x0, st->y0, st->w, st->h, st->data);
  sim_stamp_normalise (st);
  if (spikes)
    {
      double t0 = c->p->fwhm_sharp, s = 0.0;
      gsize n = (gsize) st->w * st->h;
      float *sp = g_try_new0 (float, n);
      if (sp == NULL)
        return FALSE;
      for (int k = 0; k < st->h; k++)
        for (int i = 0; i < st->w; i++)
          {
            double v = sim_spike_value (st->x0 + i - x, st->y0 + k - y, t0, len);
            sp[(gsize) k * st->w + i] = (float) v;
            s += v;
          }
      if (s > 0.0)
        for (gsize i = 0; i < n; i++)
          st->data[i] = (float) ((1.0 - SIM_SPIKE_FRACTION) * st->data[i]
                                 + SIM_SPIKE_FRACTION * sp[i] / s);
      g_free (sp);
    }
  return TRUE;
}

/* Unit-sum sharp stamp of an exponential disc seen through the local sharp PSF: the intrinsic
 * profile (2×2 sub-sampled, truncated at 7 scale lengths) correlated with the pixel-sampled PSF
 * (radius 6 px, renormalised).  The Moffat is point-symmetric, so this correlation is the
 * convolution. */
static gboolean
sim_render_galaxy (const SimContext *c, const SimObject *o, double x, double y, SimStamp *st,
                   float **owner)
{
  const int rp = SIM_GAL_PSF_RADIUS, np = 2 * rp + 1;
  int rg = CLAMP ((int) ceil (7.0 * o->r_d), 3, SIM_STAMP_MAX_RADIUS - rp);
  int ni = 2 * rg + 1, ix = (int) lround (x), iy = (int) lround (y);
  double ct = cos (o->theta), sn = sin (o->theta);
  float psf[(2 * SIM_GAL_PSF_RADIUS + 1) * (2 * SIM_GAL_PSF_RADIUS + 1)];
  SimStamp ps = { -rp, -rp, np, np, psf };
  float *in;
  SimMoffat m;
  double s = 0.0;

  in = g_try_new0 (float, (gsize) ni * ni);
  if (in == NULL)
    return FALSE;
  for (int k = 0; k < ni; k++)
    for (int i = 0; i < ni; i++)
      {
        double v = 0.0;
        for (int b = 0; b < 2; b++)
          for (int a = 0; a < 2; a++)
            {
              double dx = ix - rg + i - x + (a - 0.5) * 0.5, dy = iy - rg + k - y + (b - 0.5) * 0.5;
              double u = dx * ct + dy * sn, w = (-dx * sn + dy * ct) / o->q;
              double r = sqrt (u * u + w * w);
              if (r <= 7.0 * o->r_d)
                v += exp (-r / o->r_d);
            }
        in[(gsize) k * ni + i] = (float) v;
        s += v;
      }
  if (!(s > 0.0))
    in[(gsize) rg * ni + rg] = 1.0f;

  sim_moffat_at (c, x, y, &m);
  sim_moffat_fill (&m, 0.0, 0.0, -rp, -rp, np, np, psf);
  sim_stamp_normalise (&ps);

  if (!sim_stamp_alloc (st, owner, ix - rg - rp, iy - rg - rp, ni + 2 * rp, ni + 2 * rp))
    {
      g_free (in);
      return FALSE;
    }
  /* out(j) = Σ_u P(u) in(j − rp + u): each input pixel scatters into out[i .. i + 2 rp]. */
  for (int k = 0; k < ni; k++)
    for (int i = 0; i < ni; i++)
      {
        float val = in[(gsize) k * ni + i];
        if (val == 0.0f)
          continue;
        for (int t = 0; t < np; t++)
          {
            float *orow = st->data + (gsize) (k + t) * st->w + i;
            const float *prow = psf + (gsize) (np - 1 - t) * np;
            for (int q = 0; q < np; q++)
              orow[q] += prow[np - 1 - q] * val;
          }
      }
  g_free (in);
  sim_stamp_normalise (st);
  return TRUE;
}

/* broad = K ⋆ sharp for the unit-sum kernel at (x, y): the full correlation of the zero-padded
 * sharp stamp, kh px larger on every side.  Separable: rows with gx, then columns with gy. */
static gboolean
sim_render_broad (const SimContext *c, const SimStamp *in, double x, double y, SimStamp *out,
                  float **owner)
{
  double gx[2 * SIM_MAX_KH + 1], gy[2 * SIM_MAX_KH + 1];
  int h = c->kh, wo = in->w + 2 * h, ho = in->h + 2 * h;
  float *tmp;

  sim_kernel_1d (c, x, y, gx, gy);
  tmp = g_try_new0 (float, (gsize) wo * in->h);
  if (tmp == NULL)
    return FALSE;
  if (!sim_stamp_alloc (out, owner, in->x0 - h, in->y0 - h, wo, ho))
    {
      g_free (tmp);
      return FALSE;
    }
  for (int k = 0; k < in->h; k++)
    {
      const float *row = in->data + (gsize) k * in->w;
      float *trow = tmp + (gsize) k * wo;
      for (int j = 0; j < wo; j++)
        {
          int u0 = MAX (-h, h - j), u1 = MIN (h, in->w - 1 - j + h);
          double acc = 0.0;
          for (int u = u0; u <= u1; u++)
            acc += gx[u + h] * row[j - h + u];
          trow[j] = (float) acc;
        }
    }
  for (int k = 0; k < ho; k++)
    {
      int v0 = MAX (-h, h - k), v1 = MIN (h, in->h - 1 - k + h);
      float *orow = out->data + (gsize) k * wo;
      for (int v = v0; v <= v1; v++)
        {
          const float *trow = tmp + (gsize) (k - h + v) * wo;
          float g = (float) gy[v + h];
          for (int j = 0; j < wo; j++)
            orow[j] += g * trow[j];
        }
    }
  g_free (tmp);
  return TRUE;
}

static double
sim_stamp_sum_sq (const SimStamp *st)
{
  double s = 0.0;
  for (gsize i = 0; i < (gsize) st->w * st->h; i++)
    s += (double) st->data[i] * st->data[i];
  return s;
}

/* Expected sky-only variance of the difference at (x, y): the broad image's sky variance plus
 * Σ K² times the sharp image's (the difference convolves the sharp image with K). */
static double
sim_sky_diff_variance (const SimContext *c, double x, double y)
{
  double gx[2 * SIM_MAX_KH + 1], gy[2 * SIM_MAX_KH + 1], sx = 0.0, sy = 0.0;
  double rn2 = c->p->read_noise * c->p->read_noise, fr = c->p->flux_ratio;
  double vb, vs;

  sim_kernel_1d (c, x, y, gx, gy);
  for (int i = 0; i <= 2 * c->kh; i++)
    {
      sx += gx[i] * gx[i];
      sy += gy[i] * gy[i];
    }
  vb = c->noise_scale[c->broad] * (sim_plane (c->sky_plane[c->broad], x, y) + rn2);
  vs = c->noise_scale[c->sharp] * (sim_plane (c->sky_plane[c->sharp], x, y) + rn2);
  return vb + fr * fr * sx * sy * vs;
}

/* Renders the unit stamps of one object into o->st[SIM_T], o->st[SIM_S]. */
static gboolean
sim_render_object (const SimContext *c, SimObject *o)
{
  SimStamp sharp[2] = { { 0 } }, broadst = { 0 };
  float *own_sharp[2] = { NULL, NULL }, *own_broad = NULL;
  gboolean moving = o->kind == DIA_SIM_MOVING;
  gboolean ok = TRUE;

  if (o->kind == DIA_SIM_COSMIC_RAY)
    {
      int xmin = o->hit_x[0], xmax = o->hit_x[0], ymin = o->hit_y[0], ymax = o->hit_y[0];
      for (int i = 1; i < o->n_hits; i++)
        {
          xmin = MIN (xmin, o->hit_x[i]);
          xmax = MAX (xmax, o->hit_x[i]);
          ymin = MIN (ymin, o->hit_y[i]);
          ymax = MAX (ymax, o->hit_y[i]);
        }
      if (!sim_stamp_alloc (&o->st[SIM_S], &o->buf[SIM_S], xmin, ymin, xmax - xmin + 1,
                            ymax - ymin + 1))
        return FALSE;
      for (int i = 0; i < o->n_hits; i++)
        o->st[SIM_S].data[(gsize) (o->hit_y[i] - ymin) * o->st[SIM_S].w + o->hit_x[i] - xmin]
          += (float) (o->hit_e[i] / o->flux[SIM_S]);
      return TRUE;
    }

  /* The sharp-image render at each image's position (one render unless the object moves). */
  for (int i = 0; i < (moving ? 2 : 1) && ok; i++)
    {
      double x = o->pos[i][0], y = o->pos[i][1];
      if (o->kind == DIA_SIM_GALAXY)
        ok = sim_render_galaxy (c, o, x, y, &sharp[i], &own_sharp[i]);
      else
        ok = sim_render_point (c, x, y, o->flux_sharp_max, &sharp[i], &own_sharp[i]);
    }
  if (ok)
    {
      int bi = moving ? c->broad : 0;
      ok = sim_render_broad (c, &sharp[bi], o->pos[c->broad][0], o->pos[c->broad][1], &broadst,
                             &own_broad);
    }
  if (!ok)
    {
      g_free (own_sharp[0]);
      g_free (own_sharp[1]);
      g_free (own_broad);
      return FALSE;
    }
  o->st[c->broad] = broadst;
  o->buf[c->broad] = own_broad;
  {
    int si = moving ? c->sharp : 0;
    o->st[c->sharp] = sharp[si];
    o->buf[c->sharp] = own_sharp[si];
    g_free (own_sharp[1 - si]);
  }

  if (o->kind == DIA_SIM_TRANSIENT)
    {
      /* In the difference the transient is (flux_ratio · F_sharp) × the unit broad stamp,
       * whichever image is sharp; its PSF-weighted S/N against variance v is
       * A sqrt(Σ B² / v). */
      double x = o->pos[SIM_S][0], y = o->pos[SIM_S][1];
      double v = sim_sky_diff_variance (c, x, y);
      double a = o->snr / sqrt (sim_stamp_sum_sq (&broadst) / v);
      double f_sharp = a / c->p->flux_ratio;
      o->flux[SIM_S] = c->sharp == SIM_S ? f_sharp : a;
      o->flux[SIM_T] = 0.0;
      o->flux_sharp_max = f_sharp;
    }
  return TRUE;
}

typedef struct
{
  const SimContext *c;
  SimObject *objs;
  gint failed;                  /* atomic: an allocation failed                         */
} SimRenderJob;

static void
sim_render_body (int first, int last, int thread_index, gpointer data)
{
  SimRenderJob *job = data;
  for (int i = first; i < last; i++)
    if (!sim_render_object (job->c, &job->objs[i]))
      g_atomic_int_set (&job->failed, 1);
}

/* --------------------------------------------------------------------------- catalogue */

static double
sim_power_law (DiaRng *rng, double fmin, double fmax, double slope)
{
  /* N(>F) ∝ F^−slope between fmin and fmax. */
  double u = dia_rng_uniform (rng);
  double r = pow (fmax / fmin, -slope);
  return fmin * pow (1.0 - u * (1.0 - r), -1.0 / slope);
}

static double
sim_log_uniform (DiaRng *rng, double lo, double hi)
{
  return lo * exp (dia_rng_uniform (rng) * log (hi / lo));
}

static void
sim_uniform_pos (const SimContext *c, DiaRng *rng, int margin, double *x, double *y)
{
  int mx = MIN (margin, c->w / 4), my = MIN (margin, c->h / 4);
  *x = mx + dia_rng_uniform (rng) * (c->w - 1 - 2 * mx);
  *y = my + dia_rng_uniform (rng) * (c->h - 1 - 2 * my);
}

/* Sets both images' fluxes from the intrinsic (sharp-image) fluxes f_t, f_s: the broad image
 * carries flux_ratio times the flux. */
static void
sim_set_flux (const SimContext *c, SimObject *o, double f_t, double f_s)
{
  o->flux[SIM_T] = f_t * (c->sharp == SIM_T ? 1.0 : c->p->flux_ratio);
  o->flux[SIM_S] = f_s * (c->sharp == SIM_S ? 1.0 : c->p->flux_ratio);
  o->flux_sharp_max = MAX (f_t, f_s);
}

static gboolean
sim_far_from (const GArray *objs, guint first, guint last, double x, double y, double r)
{
  for (guint i = first; i < last; i++)
    {
      const SimObject *o = &g_array_index (objs, SimObject, i);
      for (int k = 0; k < 2; k++)
        {
          double dx = o->pos[k][0] - x, dy = o->pos[k][1] - y;
          if (dx * dx + dy * dy < r * r)
            return FALSE;
        }
    }
  return TRUE;
}

static GArray *
sim_catalogue (const SimContext *c)
{
  const DiaSimParams *p = c->p;
  double mpix = (double) c->w * c->h / 1e6;
  double sigma2 = c->noise_scale[c->sharp]
                  * ((c->sharp == SIM_T ? p->sky_template : p->sky_science)
                     + p->read_noise * p->read_noise);
  double fmin = 3.0 * sqrt (c->nea * MAX (sigma2, 1.0));
  double fsat = c->f_sat > 0.0 ? c->f_sat : 1e6;
  GArray *objs = g_array_new (FALSE, TRUE, sizeof (SimObject));
  int n_stars = (int) lround (p->n_stars * mpix), n_gal = (int) lround (p->n_galaxies * mpix);
  int n_cr = (int) lround (p->n_cosmic_rays * mpix);
  guint first_gal, first_special;
  DiaRng rng;

  dia_rng_init (&rng, p->seed, SIM_STREAM_CATALOGUE);

  /* Stars: N(>F) ∝ F^−0.65 from S/N ≈ 3 to 100× the saturating flux (a few saturated stars
   * per megapixel, enough to exercise SAT masks, bleed trails and spikes). */
  for (int i = 0; i < n_stars; i++)
    {
      SimObject o = { .kind = DIA_SIM_STAR };
      double f;
      o.pos[0][0] = -0.5 + dia_rng_uniform (&rng) * c->w;
      o.pos[0][1] = -0.5 + dia_rng_uniform (&rng) * c->h;
      o.pos[1][0] = o.pos[0][0];
      o.pos[1][1] = o.pos[0][1];
      f = sim_power_law (&rng, fmin, MAX (100.0 * fsat, 10.0 * fmin), 0.65);
      sim_set_flux (c, &o, f, f);
      g_array_append_val (objs, o);
    }

  /* Galaxies: exponential discs, scale length 0.8–4 px, axis ratio 0.3–1. */
  first_gal = objs->len;
  for (int i = 0; i < n_gal; i++)
    {
      SimObject o = { .kind = DIA_SIM_GALAXY };
      double f;
      o.pos[0][0] = -0.5 + dia_rng_uniform (&rng) * c->w;
      o.pos[0][1] = -0.5 + dia_rng_uniform (&rng) * c->h;
      o.pos[1][0] = o.pos[0][0];
      o.pos[1][1] = o.pos[0][1];
      o.r_d = sim_log_uniform (&rng, 0.8, 4.0);
      o.q = 0.3 + 0.7 * dia_rng_uniform (&rng);
      o.theta = G_PI * dia_rng_uniform (&rng);
      f = sim_power_law (&rng, 10.0 * fmin, MAX (0.5 * fsat, 20.0 * fmin), 0.75)
          * (1.0 + o.r_d * o.r_d / 4.0);
      sim_set_flux (c, &o, f, f);
      g_array_append_val (objs, o);
    }

  /* Variable stars: S/N 30–300 in the sharp image, flux change +20..+100 % or −16..−80 %. */
  first_special = objs->len;
  for (int i = 0; i < p->n_variables; i++)
    {
      SimObject o = { .kind = DIA_SIM_VARIABLE };
      double f = fmin * sim_log_uniform (&rng, 10.0, 100.0);
      double d = 0.2 + 0.8 * dia_rng_uniform (&rng);
      if (dia_rng_uniform (&rng) < 0.5)
        d = -0.8 * d;
      sim_uniform_pos (c, &rng, SIM_MARGIN, &o.pos[0][0], &o.pos[0][1]);
      o.pos[1][0] = o.pos[0][0];
      o.pos[1][1] = o.pos[0][1];
      sim_set_flux (c, &o, f, f * (1.0 + d));
      g_array_append_val (objs, o);
    }

  /* One asteroid, S/N ≈ 60, moved 12–30 px between the exposures. */
  if (p->moving_object)
    {
      SimObject o = { .kind = DIA_SIM_MOVING };
      double d = 12.0 + 18.0 * dia_rng_uniform (&rng), phi = 2.0 * G_PI * dia_rng_uniform (&rng);
      sim_uniform_pos (c, &rng, SIM_MARGIN + 30, &o.pos[SIM_T][0], &o.pos[SIM_T][1]);
      o.pos[SIM_S][0] = CLAMP (o.pos[SIM_T][0] + d * cos (phi), 10.0, c->w - 11.0);
      o.pos[SIM_S][1] = CLAMP (o.pos[SIM_T][1] + d * sin (phi), 10.0, c->h - 11.0);
      sim_set_flux (c, &o, 20.0 * fmin, 20.0 * fmin);
      g_array_append_val (objs, o);
    }

  /* Transients: every other one on a galaxy (offset 0.5–1.5 scale lengths, a supernova in its
   * host), the others in empty sky (at least 15 px from any catalogued source when possible).
   * Their flux is set from the S/N at render time. */
  for (int i = 0; i < p->n_transients; i++)
    {
      SimObject o = { .kind = DIA_SIM_TRANSIENT };
      gboolean placed = FALSE;
      o.snr = sim_log_uniform (&rng, p->transient_snr_min, p->transient_snr_max);
      if (i % 2 == 1 && n_gal > 0)
        for (int attempt = 0; attempt < 20 && !placed; attempt++)
          {
            guint g = first_gal + (guint) (dia_rng_uniform (&rng) * n_gal);
            const SimObject *h = &g_array_index (objs, SimObject, MIN (g, first_special - 1));
            double phi = 2.0 * G_PI * dia_rng_uniform (&rng);
            double r = h->r_d * (0.5 + dia_rng_uniform (&rng));
            double x = h->pos[0][0] + r * cos (phi), y = h->pos[0][1] + r * sin (phi);
            if (x >= SIM_MARGIN && y >= SIM_MARGIN && x <= c->w - 1 - SIM_MARGIN
                && y <= c->h - 1 - SIM_MARGIN)
              {
                o.pos[0][0] = x;
                o.pos[0][1] = y;
                placed = TRUE;
              }
          }
      for (int attempt = 0; attempt < 200 && !placed; attempt++)
        {
          sim_uniform_pos (c, &rng, SIM_MARGIN, &o.pos[0][0], &o.pos[0][1]);
          placed = sim_far_from (objs, 0, objs->len, o.pos[0][0], o.pos[0][1], 15.0);
        }
      o.pos[1][0] = o.pos[0][0];
      o.pos[1][1] = o.pos[0][1];
      g_array_append_val (objs, o);
    }

  /* Cosmic rays: 1–3 adjacent pixels of 800–30000 e- each, science only, kept 10 px away from
   * the variable, moving and transient sources so their truth stays clean. */
  for (int i = 0; i < n_cr; i++)
    {
      SimObject o = { .kind = DIA_SIM_COSMIC_RAY };
      double x = 0, y = 0;
      int dx = 0, dy = 0;
      for (int attempt = 0; attempt < 50; attempt++)
        {
          sim_uniform_pos (c, &rng, 3, &x, &y);
          if (sim_far_from (objs, first_special, objs->len, x, y, 10.0))
            break;
        }
      o.n_hits = 1 + (int) (dia_rng_uniform (&rng) * 3.0);
      o.n_hits = MIN (o.n_hits, 3);
      switch ((int) (dia_rng_uniform (&rng) * 4.0))
        {
        case 0: dx = 1; break;
        case 1: dy = 1; break;
        case 2: dx = 1; dy = 1; break;
        default: dx = 1; dy = -1; break;
        }
      for (int k = 0; k < o.n_hits; k++)
        {
          o.hit_x[k] = (int) lround (x) + k * dx;
          o.hit_y[k] = (int) lround (y) + k * dy;
          o.hit_e[k] = sim_log_uniform (&rng, 800.0, 30000.0);
          o.flux[SIM_S] += o.hit_e[k];
        }
      o.pos[0][0] = o.pos[1][0] = o.hit_x[0];
      o.pos[0][1] = o.pos[1][1] = o.hit_y[0];
      g_array_append_val (objs, o);
    }
  return objs;
}

/* ------------------------------------------------------------------------ accumulation */

typedef struct
{
  const SimContext *c;
  const SimObject *objs;
  int n_objs;
  float *model[2];
  gboolean init_sky;            /* first batch: the rows are set to the sky plane first  */
} SimAccumJob;

static void
sim_accum_body (int first, int last, int thread_index, gpointer data)
{
  SimAccumJob *job = data;
  const SimContext *c = job->c;

  for (int b = first; b < last; b++)
    {
      int y0 = b * SIM_BAND_ROWS, y1 = MIN (c->h, y0 + SIM_BAND_ROWS);
      for (int im = 0; im < 2; im++)
        {
          float *model = job->model[im];
          for (int y = y0; y < y1 && job->init_sky; y++)
            {
              float *row = model + (gsize) y * c->w;
              for (int x = 0; x < c->w; x++)
                row[x] = (float) sim_plane (c->sky_plane[im], x, y);
            }
          for (int n = 0; n < job->n_objs; n++)
            {
              const SimObject *o = &job->objs[n];
              const SimStamp *st = &o->st[im];
              int sy0, sy1, sx0, sx1;
              float a = (float) o->flux[im];
              if (st->data == NULL || o->flux[im] == 0.0)
                continue;
              sy0 = MAX (y0, st->y0);
              sy1 = MIN (y1, st->y0 + st->h);
              sx0 = MAX (0, st->x0);
              sx1 = MIN (c->w, st->x0 + st->w);
              for (int y = sy0; y < sy1; y++)
                {
                  float *row = model + (gsize) y * c->w;
                  const float *srow = st->data + (gsize) (y - st->y0) * st->w - st->x0;
                  for (int x = sx0; x < sx1; x++)
                    row[x] += a * srow[x];
                }
            }
        }
    }
}

/* Charge above saturation runs up and down the column (half each way), filling wells to
 * saturation; it passes through wells that are already full and is lost at the edges. */
static void
sim_bleed (const SimContext *c, float *model)
{
  const float sat = (float) c->p->saturation;
  gboolean *col = g_new0 (gboolean, c->w);

  for (gsize i = 0; i < (gsize) c->w * c->h; i++)
    if (model[i] > sat)
      col[i % c->w] = TRUE;
  for (int x = 0; x < c->w; x++)
    {
      if (!col[x])
        continue;
      for (int y = 0; y < c->h; y++)
        {
          double excess = 0.0;
          int y_end = y;
          if (!(model[(gsize) y * c->w + x] > sat))
            continue;
          while (y_end < c->h && model[(gsize) y_end * c->w + x] > sat)
            {
              excess += model[(gsize) y_end * c->w + x] - sat;
              model[(gsize) y_end * c->w + x] = sat;
              y_end++;
            }
          for (int dir = -1; dir <= 1; dir += 2)
            {
              double left = 0.5 * excess;
              for (int j = dir < 0 ? y - 1 : y_end; j >= 0 && j < c->h && left > 0.0; j += dir)
                {
                  float *v = &model[(gsize) j * c->w + x];
                  double room = sat - *v;
                  if (room <= 0.0)
                    continue;
                  if (room <= left)
                    {
                      *v = sat;
                      left -= room;
                    }
                  else
                    {
                      *v = (float) (*v + left);
                      left = 0.0;
                    }
                }
            }
          y = y_end;
        }
    }
  g_free (col);
}

/* ------------------------------------------------------------------------------- noise */

typedef struct
{
  DiaRng rng;
  double spare;
  gboolean have_spare;
} SimGauss;

/* Both deviates of each Marsaglia polar draw are used: half the cost of dia_rng_gaussian. */
static inline double
sim_gauss (SimGauss *g)
{
  double u, v, s, f;
  if (g->have_spare)
    {
      g->have_spare = FALSE;
      return g->spare;
    }
  do
    {
      u = 2.0 * dia_rng_uniform (&g->rng) - 1.0;
      v = 2.0 * dia_rng_uniform (&g->rng) - 1.0;
      s = u * u + v * v;
    }
  while (s >= 1.0 || s == 0.0);
  f = sqrt (-2.0 * log (s) / s);
  g->spare = v * f;
  g->have_spare = TRUE;
  return u * f;
}

typedef struct
{
  const SimContext *c;
  const float *model[2];
  DiaImage *img[2];
  int bad_column;
} SimNoiseJob;

static void
sim_noise_body (int first, int last, int thread_index, gpointer data)
{
  SimNoiseJob *job = data;
  const SimContext *c = job->c;
  const double rn = c->p->read_noise, rn2 = rn * rn;
  const float sat = (float) c->p->saturation;

  for (int b = first; b < last; b++)
    for (int im = 0; im < 2; im++)
      {
        int y0 = b * SIM_BAND_ROWS, y1 = MIN (c->h, y0 + SIM_BAND_ROWS);
        double scale = c->noise_scale[im], sq = sqrt (scale);
        DiaImage *img = job->img[im];
        SimGauss g = { .have_spare = FALSE };

        dia_rng_init (&g.rng, c->p->seed, SIM_STREAM_NOISE + ((guint64) im << 24) + (guint64) b);
        for (int y = y0; y < y1; y++)
          {
            const float *m = job->model[im] + (gsize) y * c->w;
            float *pix = img->pix + dia_image_index (img, 0, y);
            float *var = img->var + dia_image_index (img, 0, y);
            DiaMask *mask = img->mask + dia_image_index (img, 0, y);
            for (int x = 0; x < c->w; x++)
              {
                double mv = m[x], v;
                var[x] = (float) (scale * (mv + rn2));
                if (mv >= sat)
                  {
                    pix[x] = sat;
                    mask[x] |= DIA_MASK_SAT;
                    continue;
                  }
                if (mv >= 30.0)
                  v = mv + sqrt (scale * (mv + rn2)) * sim_gauss (&g);
                else
                  v = mv + sq * (dia_rng_poisson (&g.rng, mv) - mv + rn * sim_gauss (&g));
                if (v >= sat)
                  {
                    v = sat;
                    mask[x] |= DIA_MASK_SAT;
                  }
                pix[x] = (float) v;
              }
            if (im == SIM_S && job->bad_column >= 0)
              {
                /* A dead-and-hot column: values unrelated to the sky, flagged BAD. */
                int x = job->bad_column;
                pix[x] = (float) (m[x] * (0.2 + 2.5 * dia_rng_uniform (&g.rng)));
                mask[x] |= DIA_MASK_BAD;
              }
          }
      }
}

/* ----------------------------------------------------------------------- diff variance */

typedef struct
{
  const SimContext *c;
  const DiaImage *conv;         /* the image the difference convolves (sharp)         */
  const DiaImage *other;        /* the broad one                                        */
  float *out;
  int ntx, nty;
  gint failed;
} SimDiffVarJob;

static void
sim_diffvar_body (int first, int last, int thread_index, gpointer data)
{
  SimDiffVarJob *job = data;
  const SimContext *c = job->c;
  const int h = c->kh;
  const double fr2 = c->p->flux_ratio * c->p->flux_ratio;
  float *tmp = g_try_new (float, (gsize) (SIM_TILE + 2 * h) * SIM_TILE);

  if (tmp == NULL)
    {
      g_atomic_int_set (&job->failed, 1);
      return;
    }
  for (int t = first; t < last; t++)
    {
      int tx0 = (t % job->ntx) * SIM_TILE, ty0 = (t / job->ntx) * SIM_TILE;
      int tw = MIN (SIM_TILE, c->w - tx0), th = MIN (SIM_TILE, c->h - ty0);
      double gx[2 * SIM_MAX_KH + 1], gy[2 * SIM_MAX_KH + 1];

      sim_kernel_1d (c, tx0 + 0.5 * (tw - 1), ty0 + 0.5 * (th - 1), gx, gy);
      for (int i = 0; i <= 2 * h; i++)
        {
          gx[i] *= gx[i];
          gy[i] *= gy[i];
        }
      /* Rows with K² along x; beyond the edges the variance is taken as the edge value. */
      for (int k = 0; k < th + 2 * h; k++)
        {
          int y = CLAMP (ty0 - h + k, 0, c->h - 1);
          const float *src = job->conv->var + dia_image_index (job->conv, 0, y);
          for (int i = 0; i < tw; i++)
            {
              double acc = 0.0;
              for (int u = -h; u <= h; u++)
                acc += gx[u + h] * src[CLAMP (tx0 + i + u, 0, c->w - 1)];
              tmp[(gsize) k * SIM_TILE + i] = (float) acc;
            }
        }
      for (int k = 0; k < th; k++)
        {
          const float *ov = job->other->var + dia_image_index (job->other, 0, ty0 + k);
          float *orow = job->out + (gsize) (ty0 + k) * c->w;
          for (int i = 0; i < tw; i++)
            {
              double acc = 0.0;
              for (int v = -h; v <= h; v++)
                acc += gy[v + h] * tmp[(gsize) (k + h + v) * SIM_TILE + i];
              orow[tx0 + i] = (float) (ov[tx0 + i] + fr2 * acc);
            }
        }
    }
  g_free (tmp);
}

/* ----------------------------------------------------------------------- image set-up */

static void
sim_card (GString *s, const char *text)
{
  g_string_append_printf (s, "%-80.80s", text);
}

/* A TAN WCS at 0.2"/px so the UI can show RA/Dec; the science reference pixel is moved by the
 * kernel shift because its content is displaced by −shift relative to the template. */
static void
sim_attach_wcs (DiaImage *img, double crpix1, double crpix2)
{
  g_autoptr (GString) s = g_string_new (NULL);
  char buf[128], num[G_ASCII_DTOSTR_BUF_SIZE];
  struct wcsprm *wcs;

  sim_card (s, "WCSAXES =                    2");
  sim_card (s, "CTYPE1  = 'RA---TAN'");
  sim_card (s, "CTYPE2  = 'DEC--TAN'");
  sim_card (s, "CUNIT1  = 'deg'");
  sim_card (s, "CUNIT2  = 'deg'");
  g_snprintf (buf, sizeof buf, "CRPIX1  = %20s",
              g_ascii_formatd (num, sizeof num, "%.6f", crpix1));
  sim_card (s, buf);
  g_snprintf (buf, sizeof buf, "CRPIX2  = %20s",
              g_ascii_formatd (num, sizeof num, "%.6f", crpix2));
  sim_card (s, buf);
  sim_card (s, "CRVAL1  =                150.1");
  sim_card (s, "CRVAL2  =                  2.2");
  sim_card (s, "CD1_1   = -5.5555555555556E-05");
  sim_card (s, "CD1_2   =                  0.0");
  sim_card (s, "CD2_1   =                  0.0");
  sim_card (s, "CD2_2   =  5.5555555555556E-05");
  sim_card (s, "RADESYS = 'ICRS'");
  sim_card (s, "EQUINOX =               2000.0");
  wcs = dia_wcs_from_header (s->str, (int) (s->len / 80), NULL);
  if (wcs)
    dia_image_take_wcs (img, wcs);
}

static void
sim_set_meta (const SimContext *c, DiaImage *img, int im)
{
  const DiaSimParams *p = c->p;
  double shift = im == c->broad ? 1.0 : 0.0;
  DiaImageMeta *m = &img->meta;

  m->gain = p->gain;
  m->read_noise = p->read_noise;
  m->saturation = p->saturation;
  m->exptime = SIM_EXPTIME;
  m->mjd = im == SIM_T ? 60000.25 : 60000.25 + 31.0 + (p->seed % 97) / 7.0;
  m->psf_fwhm = im == c->sharp ? p->fwhm_sharp : p->fwhm_broad;
  g_strlcpy (m->filter, "r", sizeof m->filter);
  g_snprintf (m->object, sizeof m->object, "diffscope-sim seed %" G_GUINT64_FORMAT " %s",
              p->seed, im == SIM_T ? "template" : "science");
  g_strlcpy (m->bunit, "electron", sizeof m->bunit);
  m->variance_origin = DIA_VARIANCE_SIMULATED;
  /* ASCII and short: the note travels in a FITS header card. */
  if (im == SIM_T)
    g_snprintf (m->variance_note, sizeof m->variance_note,
                "simulated: %g*(model + read_noise^2), exact expectation",
                p->template_depth);
  else
    g_strlcpy (m->variance_note, "simulated: model + read_noise^2, exact expectation",
               sizeof m->variance_note);
  sim_attach_wcs (img, c->xc + 1.0 - shift * p->shift_x, c->yc + 1.0 - shift * p->shift_y);
  {
    g_autofree char *src = g_strdup_printf ("dia-sim seed %" G_GUINT64_FORMAT " (%s)", p->seed,
                                            im == SIM_T ? "template" : "science");
    dia_image_set_source (img, src);
  }
}

/* The unit-sum sharp PSF at the centre gives the saturating flux and the NEA that sets the
 * faint end of the star counts. */
static gboolean
sim_calibrate (SimContext *c)
{
  SimStamp st;
  float *own = NULL, peak = 0.0f;
  double sky;

  c->f_sat = 0.0;
  if (!sim_render_point (c, c->xc, c->yc, 1.0, &st, &own))
    {
      g_free (own);
      return FALSE;
    }
  for (gsize i = 0; i < (gsize) st.w * st.h; i++)
    peak = MAX (peak, st.data[i]);
  c->nea = 1.0 / sim_stamp_sum_sq (&st);
  sky = sim_plane (c->sky_plane[c->sharp], c->xc, c->yc);
  c->f_sat = (c->p->saturation - sky) / peak;
  g_free (own);
  return TRUE;
}

static gboolean
sim_model_saturated (const SimContext *c, const float *model, double x, double y)
{
  int ix = (int) lround (x), iy = (int) lround (y);
  for (int k = iy - 1; k <= iy + 1; k++)
    for (int i = ix - 1; i <= ix + 1; i++)
      if (i >= 0 && k >= 0 && i < c->w && k < c->h
          && model[(gsize) k * c->w + i] >= c->p->saturation)
        return TRUE;
  return FALSE;
}

/* Truth position of object o in image im: the sharp image shows the profile where it was
 * rendered, the broad one displaced by −shift (K's centroid is +shift). */
static void
sim_truth_pos (const SimContext *c, const SimObject *o, int im, double *x, double *y)
{
  double d = (im == c->broad && o->kind != DIA_SIM_COSMIC_RAY) ? 1.0 : 0.0;
  *x = o->pos[im][0] - d * c->p->shift_x;
  *y = o->pos[im][1] - d * c->p->shift_y;
}

static void
sim_free_objects (GArray *objs)
{
  if (objs == NULL)
    return;
  for (guint i = 0; i < objs->len; i++)
    {
      SimObject *o = &g_array_index (objs, SimObject, i);
      g_free (o->buf[0]);
      g_free (o->buf[1]);
      o->buf[0] = o->buf[1] = NULL;
      o->st[0].data = o->st[1].data = NULL;
    }
  g_array_unref (objs);
}

static gboolean
sim_no_memory (GError **error, const char *what)
{
  g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
               _("Simulator: not enough memory for %s; try a smaller --size"), what);
  return FALSE;
}

gboolean
dia_sim_generate (const DiaSimParams *params, DiaImage **template_out, DiaImage **science_out,
                  DiaSimTruth **truth, DiaMonitor *monitor, GError **error)
{
  SimContext c;
  GArray *objs = NULL;
  float *model[2] = { NULL, NULL }, *diffvar = NULL;
  DiaImage *img[2] = { NULL, NULL };
  int n_bands, bad_column = -1, nt;
  gboolean ok = FALSE;

  g_return_val_if_fail (params != NULL && template_out != NULL && science_out != NULL, FALSE);
  *template_out = *science_out = NULL;
  if (truth)
    *truth = NULL;
  if (!sim_validate (params, error))
    return FALSE;
  nt = params->n_threads;
  sim_context_init (&c, params);
  dia_monitor_stage (monitor, "simulate", 0.0);
  if (!sim_calibrate (&c))
    return sim_no_memory (error, "the PSF");

  /* Stage 1: catalogue.  The bad column is drawn from its own stream so that switching it off
   * leaves everything else unchanged. */
  objs = sim_catalogue (&c);
  if (params->bad_column)
    {
      DiaRng rng;
      dia_rng_init (&rng, params->seed, 2);
      bad_column = c.w / 4 + (int) (dia_rng_uniform (&rng) * (c.w / 2));
    }

  /* Stages 2 and 3, in batches of objects so that stamp memory stays bounded: unit stamps in
   * parallel over objects, then sky and stamps into the models in parallel over row bands.
   * Each band adds batch after batch in catalogue order, whatever the thread count. */
  for (int i = 0; i < 2; i++)
    {
      model[i] = dia_aligned_alloc0 ((gsize) c.w * c.h * sizeof (float));
      if (model[i] == NULL)
        {
          sim_no_memory (error, "the noiseless models");
          goto out;
        }
    }
  n_bands = (c.h + SIM_BAND_ROWS - 1) / SIM_BAND_ROWS;
  for (guint first = 0; first == 0 || first < objs->len; first += SIM_BATCH)
    {
      int n = (int) MIN ((guint) SIM_BATCH, objs->len - first);
      SimObject *batch = &g_array_index (objs, SimObject, first);
      SimRenderJob rjob = { &c, batch, 0 };
      SimAccumJob ajob = { &c, batch, n, { model[0], model[1] }, first == 0 };

      if (!dia_parallel_for (n, 16, nt, sim_render_body, &rjob, monitor, error))
        goto out;
      if (rjob.failed)
        {
          sim_no_memory (error, "source stamps");
          goto out;
        }
      if (!dia_parallel_for (n_bands, 1, nt, sim_accum_body, &ajob, monitor, error))
        goto out;
      for (int i = 0; i < n; i++)
        {
          g_free (batch[i].buf[0]);
          g_free (batch[i].buf[1]);
          batch[i].buf[0] = batch[i].buf[1] = NULL;
          batch[i].st[0].data = batch[i].st[1].data = NULL;
        }
      dia_monitor_stage (monitor, "simulate",
                         0.05 + 0.45 * (first + n) / MAX (1.0, (double) objs->len));
    }
  for (guint i = 0; i < objs->len; i++)
    {
      SimObject *o = &g_array_index (objs, SimObject, i);
      o->saturated = FALSE;
      if (o->kind == DIA_SIM_COSMIC_RAY)
        continue;
      for (int im = 0; im < 2; im++)
        {
          double x, y;
          sim_truth_pos (&c, o, im, &x, &y);
          if (o->flux[im] > 0.0 && sim_model_saturated (&c, model[im], x, y))
            o->saturated = TRUE;
        }
    }
  sim_bleed (&c, model[0]);
  sim_bleed (&c, model[1]);
  dia_monitor_stage (monitor, "simulate", 0.5);

  /* Stage 4: noise, variance and masks. */
  for (int i = 0; i < 2; i++)
    {
      img[i] = dia_image_new (c.w, c.h, error);
      if (img[i] == NULL)
        goto out;
    }
  {
    SimNoiseJob job = { &c, { model[0], model[1] }, { img[0], img[1] }, bad_column };
    if (!dia_parallel_for (n_bands, 1, nt, sim_noise_body, &job, monitor, error))
      goto out;
  }
  dia_monitor_stage (monitor, "simulate", 0.8);

  /* Stage 5: truth. */
  if (truth)
    {
      DiaSimTruth *t;
      int ks = 2 * c.kh + 1;
      SimDiffVarJob job = { &c, img[c.sharp], img[c.broad], NULL, 0, 0, 0 };

      diffvar = dia_aligned_alloc0 ((gsize) c.w * c.h * sizeof (float));
      if (diffvar == NULL)
        {
          sim_no_memory (error, "the difference variance");
          goto out;
        }
      job.out = diffvar;
      job.ntx = (c.w + SIM_TILE - 1) / SIM_TILE;
      job.nty = (c.h + SIM_TILE - 1) / SIM_TILE;
      if (!dia_parallel_for (job.ntx * job.nty, 4, nt, sim_diffvar_body, &job, monitor, error))
        goto out;
      if (job.failed)
        {
          sim_no_memory (error, "the difference variance");
          goto out;
        }

      t = g_new0 (DiaSimTruth, 1);
      t->params = *params;
      t->sources = g_array_sized_new (FALSE, TRUE, sizeof (DiaSimSource), objs->len);
      for (guint i = 0; i < objs->len; i++)
        {
          const SimObject *o = &g_array_index (objs, SimObject, i);
          DiaSimSource s = { 0 };
          s.kind = o->kind;
          sim_truth_pos (&c, o, SIM_S, &s.x, &s.y);
          sim_truth_pos (&c, o, SIM_T, &s.x2, &s.y2);
          s.flux_template = o->flux[SIM_T];
          s.flux_science = o->flux[SIM_S];
          s.saturated = o->saturated;
          s.snr = o->kind == DIA_SIM_TRANSIENT ? o->snr : 0.0;
          g_array_append_val (t->sources, s);
        }
      t->kernel_size = ks;
      t->kernel_centre = g_new (float, (gsize) ks * ks);
      dia_sim_truth_kernel (t, c.xc, c.yc, t->kernel_centre);
      t->kernel_sum = params->flux_ratio;
      t->diff_variance = diffvar;
      t->template_model = model[SIM_T];
      t->science_model = model[SIM_S];
      diffvar = model[0] = model[1] = NULL;
      memcpy (t->sky_template_plane, c.sky_plane[SIM_T], sizeof t->sky_template_plane);
      memcpy (t->sky_science_plane, c.sky_plane[SIM_S], sizeof t->sky_science_plane);
      {
        /* broad − flux_ratio · sharp(x + shift), both planes. */
        const double *pb = c.sky_plane[c.broad], *ps = c.sky_plane[c.sharp];
        double fr = params->flux_ratio;
        double sign = c.broad == SIM_S ? 1.0 : -1.0;   /* the difference is always S − T */
        t->diff_background[0] = sign * (pb[0] - fr * (ps[0] + ps[1] * params->shift_x
                                                      + ps[2] * params->shift_y));
        t->diff_background[1] = sign * (pb[1] - fr * ps[1]);
        t->diff_background[2] = sign * (pb[2] - fr * ps[2]);
      }
      t->bad_column = bad_column;
      *truth = t;
    }

  for (int i = 0; i < 2; i++)
    {
      sim_set_meta (&c, img[i], i);
      dia_image_freeze (img[i]);
    }
  *template_out = img[SIM_T];
  *science_out = img[SIM_S];
  img[0] = img[1] = NULL;
  dia_monitor_stage (monitor, "simulate", 1.0);
  ok = TRUE;

out:
  sim_free_objects (objs);
  dia_aligned_free (model[0]);
  dia_aligned_free (model[1]);
  dia_aligned_free (diffvar);
  dia_image_unref (img[0]);
  dia_image_unref (img[1]);
  return ok;
}

void
dia_sim_truth_kernel (const DiaSimTruth *truth, double x, double y, float *out)
{
  SimContext c;
  double gx[2 * SIM_MAX_KH + 1], gy[2 * SIM_MAX_KH + 1];
  int n;

  g_return_if_fail (truth != NULL && out != NULL);
  sim_context_init (&c, &truth->params);
  g_return_if_fail (2 * c.kh + 1 == truth->kernel_size);
  n = truth->kernel_size;
  sim_kernel_1d (&c, x, y, gx, gy);
  for (int v = 0; v < n; v++)
    for (int u = 0; u < n; u++)
      out[v * n + u] = (float) (truth->params.flux_ratio * gy[v] * gx[u]);
}

void
dia_sim_truth_psf (const DiaSimTruth *truth, gboolean science, double x, double y, double flux,
                   float *out, int size)
{
  SimContext c;
  SimStamp sharp = { 0 }, broad = { 0 };
  float *own_sharp = NULL, *own_broad = NULL;
  const SimStamp *st;
  gboolean want_broad;
  int ix = (int) lround (x), iy = (int) lround (y), h = size / 2;

  g_return_if_fail (truth != NULL && out != NULL && size % 2 == 1);
  memset (out, 0, sizeof (float) * size * size);
  sim_context_init (&c, &truth->params);
  /* The broad image is the science image in the usual regime and the template otherwise. */
  want_broad = (truth->params.regime == DIA_SIM_SCIENCE_BROADER) == science;
  /* (x, y) is the centroid in the requested image; the broad image's sources were drawn at
   * the sharp position and moved by −shift by the kernel (sim_truth_pos). */
  if (!sim_render_point (&c, want_broad ? x + c.p->shift_x : x, want_broad ? y + c.p->shift_y : y,
                         MAX (flux, 1.0), &sharp, &own_sharp))
    goto out;
  st = &sharp;
  if (want_broad)
    {
      if (!sim_render_broad (&c, &sharp, x + c.p->shift_x, y + c.p->shift_y, &broad, &own_broad))
        goto out;
      sim_stamp_normalise (&broad);
      st = &broad;
    }
  for (int k = 0; k < st->h; k++)
    for (int i = 0; i < st->w; i++)
      {
        int u = st->x0 + i - ix + h, v = st->y0 + k - iy + h;
        if (u >= 0 && u < size && v >= 0 && v < size)
          out[v * size + u] = st->data[(gsize) k * st->w + i];
      }
out:
  g_free (own_sharp);
  g_free (own_broad);
}

void
dia_sim_truth_free (DiaSimTruth *truth)
{
  if (truth == NULL)
    return;
  if (truth->sources)
    g_array_unref (truth->sources);
  g_free (truth->kernel_centre);
  dia_aligned_free (truth->diff_variance);
  dia_aligned_free (truth->template_model);
  dia_aligned_free (truth->science_model);
  g_free (truth);
}

/* ------------------------------------------------------------------------------ output */

static const char *
sim_kind_name (DiaSimKind kind)
{
  switch (kind)
    {
    case DIA_SIM_STAR: return "star";
    case DIA_SIM_GALAXY: return "galaxy";
    case DIA_SIM_TRANSIENT: return "transient";
    case DIA_SIM_VARIABLE: return "variable";
    case DIA_SIM_MOVING: return "moving";
    case DIA_SIM_COSMIC_RAY: return "cosmic_ray";
    case DIA_SIM_FAKE: return "fake";
    default: return "unknown";
    }
}

static void
sim_append_double (GString *s, const char *format, double v, gboolean comma)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (s, g_ascii_formatd (buf, sizeof buf, format, v));
  if (comma)
    g_string_append_c (s, ',');
}

static void
sim_json_plane (DiaJson *json, const char *key, const double *c)
{
  dia_json_begin_array (json, key);
  for (int i = 0; i < 3; i++)
    dia_json_double (json, NULL, c[i]);
  dia_json_end_array (json);
}

gboolean
dia_sim_truth_write (const DiaSimTruth *truth, const char *prefix, GError **error)
{
  const DiaSimParams *p;
  g_autofree char *csv_path = NULL, *kernel_path = NULL, *var_path = NULL, *json_path = NULL;
  g_autoptr (GString) csv = NULL;
  g_autoptr (DiaHeaderCards) cards = NULL;
  g_autoptr (DiaJson) json = NULL;
  g_autoptr (GError) local = NULL;
  int counts[DIA_SIM_FAKE + 1] = { 0 }, n_sat = 0, ks;
  SimContext c;

  g_return_val_if_fail (truth != NULL && prefix != NULL, FALSE);
  p = &truth->params;
  ks = truth->kernel_size;
  sim_context_init (&c, p);
  csv_path = g_strconcat (prefix, "_truth_sources.csv", NULL);
  kernel_path = g_strconcat (prefix, "_truth_kernel.fits", NULL);
  var_path = g_strconcat (prefix, "_truth_diffvar.fits", NULL);
  json_path = g_strconcat (prefix, "_truth.json", NULL);

  csv = g_string_new ("kind,x,y,x2,y2,flux_template,flux_science,saturated\n");
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (truth->sources, DiaSimSource, i);
      g_string_append_printf (csv, "%s,", sim_kind_name (s->kind));
      sim_append_double (csv, "%.4f", s->x, TRUE);
      sim_append_double (csv, "%.4f", s->y, TRUE);
      sim_append_double (csv, "%.4f", s->x2, TRUE);
      sim_append_double (csv, "%.4f", s->y2, TRUE);
      sim_append_double (csv, "%.3f", s->flux_template, TRUE);
      sim_append_double (csv, "%.3f", s->flux_science, TRUE);
      g_string_append_printf (csv, "%d\n", s->saturated ? 1 : 0);
      if (s->kind <= DIA_SIM_FAKE)
        counts[s->kind]++;
      n_sat += s->saturated ? 1 : 0;
    }
  if (!g_file_set_contents (csv_path, csv->str, (gssize) csv->len, &local))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_IO,
                   _("Cannot write the truth catalogue %s: %s; check that the folder exists "
                     "and is writable"), csv_path, local->message);
      return FALSE;
    }

  cards = dia_header_cards_new ();
  dia_header_cards_add_double (cards, "KSUM", truth->kernel_sum, "kernel sum = flux ratio");
  dia_header_cards_add_double (cards, "KSIGMA", c.sigma_k0, "[px] Gaussian sigma at the centre");
  dia_header_cards_add_double (cards, "KSHIFTX", p->shift_x, "[px] kernel centroid x");
  dia_header_cards_add_double (cards, "KSHIFTY", p->shift_y, "[px] kernel centroid y");
  dia_header_cards_add_double (cards, "KPOSX", c.xc, "[px] 0-based position of this kernel");
  dia_header_cards_add_double (cards, "KPOSY", c.yc, "[px] 0-based position of this kernel");
  dia_header_cards_add_string (cards, "KCONV", "correlation",
                               "S(x) = sum_u K(u) T(x+u), centre at (h, h)");
  if (!dia_fits_write_plane (kernel_path, truth->kernel_centre, ks, ks, (size_t) ks, cards,
                             error))
    return FALSE;
  /* A 3×3 grid of kernels at the quarter points of the field, for spatial-variation checks. */
  {
    g_autofree float *k = g_new (float, (gsize) ks * ks);
    for (int j = 0; j < 3; j++)
      for (int i = 0; i < 3; i++)
        {
          double x = (i + 1) * p->width / 4.0 - 0.5, y = (j + 1) * p->height / 4.0 - 0.5;
          g_autoptr (DiaHeaderCards) gc = dia_header_cards_new ();
          char name[32];
          g_snprintf (name, sizeof name, "KERNEL_%d_%d", i, j);
          dia_header_cards_add_double (gc, "KPOSX", x, "[px] 0-based position of this kernel");
          dia_header_cards_add_double (gc, "KPOSY", y, "[px] 0-based position of this kernel");
          dia_sim_truth_kernel (truth, x, y, k);
          if (!dia_fits_append_plane (kernel_path, name, k, ks, ks, (size_t) ks, gc, error))
            return FALSE;
        }
  }

  if (truth->diff_variance)
    {
      g_autoptr (DiaHeaderCards) vc = dia_header_cards_new ();
      dia_header_cards_add_string (vc, "BUNIT", "electron2", "expected var(S - K*T)");
      if (!dia_fits_write_plane (var_path, truth->diff_variance, p->width, p->height,
                                 (size_t) p->width, vc, error))
        return FALSE;
    }

  json = dia_json_new ();
  dia_json_begin_object (json, NULL);
  dia_json_string (json, "generator", "diffscope dia-sim");
  dia_json_begin_object (json, "params");
  dia_json_int (json, "width", p->width);
  dia_json_int (json, "height", p->height);
  dia_json_int (json, "seed", (gint64) p->seed);
  dia_json_string (json, "regime",
                   p->regime == DIA_SIM_SCIENCE_SHARPER ? "science_sharper" : "science_broader");
  dia_json_double (json, "fwhm_sharp", p->fwhm_sharp);
  dia_json_double (json, "fwhm_broad", p->fwhm_broad);
  dia_json_double (json, "fwhm_variation", p->fwhm_variation);
  dia_json_double (json, "moffat_beta", p->moffat_beta);
  dia_json_double (json, "shift_x", p->shift_x);
  dia_json_double (json, "shift_y", p->shift_y);
  dia_json_double (json, "flux_ratio", p->flux_ratio);
  dia_json_double (json, "sky_template", p->sky_template);
  dia_json_double (json, "sky_science", p->sky_science);
  dia_json_double (json, "sky_gradient", p->sky_gradient);
  dia_json_double (json, "gain", p->gain);
  dia_json_double (json, "read_noise", p->read_noise);
  dia_json_double (json, "saturation", p->saturation);
  dia_json_double (json, "template_depth", p->template_depth);
  dia_json_int (json, "n_stars_per_mpix", p->n_stars);
  dia_json_int (json, "n_galaxies_per_mpix", p->n_galaxies);
  dia_json_int (json, "n_transients", p->n_transients);
  dia_json_int (json, "n_variables", p->n_variables);
  dia_json_bool (json, "moving_object", p->moving_object);
  dia_json_int (json, "n_cosmic_rays_per_mpix", p->n_cosmic_rays);
  dia_json_bool (json, "bad_column", p->bad_column);
  dia_json_bool (json, "spikes", p->spikes);
  dia_json_double (json, "transient_snr_min", p->transient_snr_min);
  dia_json_double (json, "transient_snr_max", p->transient_snr_max);
  dia_json_end_object (json);
  dia_json_string (json, "kernel_convention", "science(x) = sum_u K(u) template(x+u)");
  dia_json_int (json, "kernel_size", ks);
  dia_json_double (json, "kernel_sum", truth->kernel_sum);
  dia_json_double (json, "kernel_sigma_centre", c.sigma_k0);
  sim_json_plane (json, "sky_template_plane", truth->sky_template_plane);
  sim_json_plane (json, "sky_science_plane", truth->sky_science_plane);
  sim_json_plane (json, "diff_background", truth->diff_background);
  dia_json_int (json, "bad_column", truth->bad_column);
  dia_json_begin_object (json, "counts");
  for (int k = 0; k <= DIA_SIM_FAKE; k++)
    dia_json_int (json, sim_kind_name ((DiaSimKind) k), counts[k]);
  dia_json_int (json, "saturated", n_sat);
  dia_json_end_object (json);
  dia_json_end_object (json);
  return dia_json_write_file (json, json_path, error);
}
