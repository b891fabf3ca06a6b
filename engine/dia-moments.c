/* dia-moments.c — adaptive second moments and small 2 × 2 helpers shared by the star finder
 * (dia-stars.c) and the PSF estimator (dia-psf.c); private to the engine (dia-psf-private.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-psf-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Inverse of the symmetric 2 × 2 matrix (xx, yy, xy); FALSE when not positive definite. */
gboolean
_dia_psf_inverse (const double m[3], double inv[3])
{
  double det = m[0] * m[1] - m[2] * m[2];
  if (!(det > 0.0) || !(m[0] > 0.0))
    return FALSE;
  inv[0] = m[1] / det;
  inv[1] = m[0] / det;
  inv[2] = -m[2] / det;
  return TRUE;
}

double
_dia_psf_max_eigen (const double m[3])
{
  double h = 0.5 * (m[0] + m[1]), d = 0.5 * (m[0] - m[1]);
  return h + sqrt (d * d + m[2] * m[2]);
}

int
_dia_psf_cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

double
_dia_psf_median (double *v, int n)
{
  if (n <= 0)
    return NAN;
  qsort (v, n, sizeof (double), _dia_psf_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline double
plane_value (const PsfPlane *p, int x, int y)
{
  size_t i = (size_t) y * p->stride + x;
  return p->pix[i] - p->offset;
}

static inline gboolean
plane_usable (const PsfPlane *p, int x, int y)
{
  size_t i = (size_t) y * p->stride + x;
  return (p->mask == NULL || (p->mask[i] & p->bad) == 0) && isfinite (p->pix[i]);
}


/* Iterates an elliptical Gaussian weight until it matches the object (Bernstein & Jarvis
 * 2002): with weight covariance W and weighted moments Q, a Gaussian object has covariance
 * (Q⁻¹ − W⁻¹)⁻¹ and sits at c + C Q⁻¹ δ, δ being the weighted centroid offset.  When the noise
 * makes Q⁻¹ − W⁻¹ indefinite the slower fixed point W ← 2Q is used.  m[] receives the object
 * covariance (= final W).  max_radius bounds the window (px); the weight is cut at
 * dᵀ W⁻¹ d = cut: 16 (4σ) where the moments are the product (pixel PSFs), 9 (3σ) for the
 * star finder, where they only set the aperture and the shape flags and speed matters (the
 * truncation shrinks the moments by ~2 %). */
AmStatus
_dia_psf_adaptive_moments (const PsfPlane *p, double x_start, double y_start, double sigma0,
                      double max_radius, double max_drift, double cut, double *xc, double *yc,
                      double m[3])
{
  double w[3] = { sigma0 * sigma0, sigma0 * sigma0, 0.0 };
  double cx = x_start, cy = y_start;
  AmStatus status = AM_DIVERGED;

  for (int it = 0; it < 20; it++)
    {
      double winv[3], q[3], qinv[3], a[3], mn[3], step_x, step_y;
      double s0 = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      int r, iy;
      if (!_dia_psf_inverse (w, winv))
        break;
      /* Visit only the ellipse dᵀ W⁻¹ d ≤ cut: its half-height is √(cut W_yy) and, on each
       * row, the x extent solves a quadratic. */
      r = (int) ceil (sqrt (cut * w[1]));
      r = CLAMP (r, 1, (int) max_radius);
      iy = (int) floor (cy + 0.5);
      for (int y = MAX (0, iy - r); y <= MIN (p->height - 1, iy + r); y++)
        {
          double dy = y - cy, bq = winv[2] * dy, disc, x_lo, x_hi;
          disc = bq * bq - winv[0] * (winv[1] * dy * dy - cut);
          if (disc <= 0.0)
            continue;
          disc = sqrt (disc);
          x_lo = cx + (-bq - disc) / winv[0];
          x_hi = cx + (-bq + disc) / winv[0];
          x_lo = MAX (x_lo, cx - max_radius);
          x_hi = MIN (x_hi, cx + max_radius);
          for (int x = MAX (0, (int) ceil (x_lo)); x <= MIN (p->width - 1, (int) floor (x_hi));
               x++)
            {
              double dx = x - cx, qq, wt, val;
              if (!plane_usable (p, x, y))
                continue;
              qq = winv[0] * dx * dx + 2.0 * winv[2] * dx * dy + winv[1] * dy * dy;
              wt = expf ((float) (-0.5 * qq));   /* float precision is ample for a weight */
              val = wt * plane_value (p, x, y);
              s0 += val;
              sx += val * dx;
              sy += val * dy;
              sxx += val * dx * dx;
              syy += val * dy * dy;
              sxy += val * dx * dy;
            }
        }
      if (!(s0 > 0.0))
        {
          /* A weight already far below a pixel that loses its flux sits on a single hot
           * pixel; anything else has no positive flux at all. */
          status = w[0] + w[1] < 0.5 ? AM_COLLAPSED : AM_DIVERGED;
          break;
        }
      sx /= s0;
      sy /= s0;
      q[0] = sxx / s0 - sx * sx;
      q[1] = syy / s0 - sy * sy;
      q[2] = sxy / s0 - sx * sy;
      if (_dia_psf_inverse (q, qinv))
        {
          a[0] = qinv[0] - winv[0];
          a[1] = qinv[1] - winv[1];
          a[2] = qinv[2] - winv[2];
        }
      if (_dia_psf_inverse (q, qinv) && _dia_psf_inverse (a, mn))
        {
          /* Newton-like step; C Q⁻¹ δ. */
          step_x = (mn[0] * qinv[0] + mn[2] * qinv[2]) * sx
                   + (mn[0] * qinv[2] + mn[2] * qinv[1]) * sy;
          step_y = (mn[2] * qinv[0] + mn[1] * qinv[2]) * sx
                   + (mn[2] * qinv[2] + mn[1] * qinv[1]) * sy;
        }
      else if (q[0] > 0 && q[1] > 0 && q[0] * q[1] > q[2] * q[2])
        {
          mn[0] = 2.0 * q[0];
          mn[1] = 2.0 * q[1];
          mn[2] = 2.0 * q[2];
          step_x = 2.0 * sx;
          step_y = 2.0 * sy;
        }
      else if (q[0] + q[1] < 0.25 * (w[0] + w[1]))
        {
          /* Q is noise-dominated and tiny against the weight: the object is far sharper than
           * the weight (a hot pixel or cosmic ray), so shrink towards it. */
          mn[0] = 0.25 * w[0];
          mn[1] = 0.25 * w[1];
          mn[2] = 0.25 * w[2];
          step_x = sx;
          step_y = sy;
        }
      else
        {
          status = w[0] + w[1] < 0.5 ? AM_COLLAPSED : AM_DIVERGED;
          break;
        }
      /* Damp: a single noisy pass may not change the size by more than ×4 or move > 1 px. */
      for (int k = 0; k < 2; k++)
        mn[k] = CLAMP (mn[k], 0.25 * w[k], 4.0 * w[k]);
      mn[2] = CLAMP (mn[2], -0.95 * sqrt (mn[0] * mn[1]), 0.95 * sqrt (mn[0] * mn[1]));
      step_x = CLAMP (step_x, -1.0, 1.0);
      step_y = CLAMP (step_y, -1.0, 1.0);
      cx += step_x;
      cy += step_y;
      if (hypot (cx - x_start, cy - y_start) > max_drift)
        {
          status = AM_DRIFTED;
          break;
        }
      if (mn[0] + mn[1] < 0.2)
        {
          status = AM_COLLAPSED;
          memcpy (w, mn, sizeof w);
          break;
        }
      if (sqrt (_dia_psf_max_eigen (mn)) * 4.0 > max_radius * 1.5)
        {
          status = AM_DIVERGED;
          memcpy (w, mn, sizeof w);
          break;
        }
      {
        double change = fabs (mn[0] - w[0]) + fabs (mn[1] - w[1]) + fabs (mn[2] - w[2]);
        memcpy (w, mn, sizeof w);
        if (fabs (step_x) < 1e-3 && fabs (step_y) < 1e-3 && change < 1e-3 * (w[0] + w[1]))
          {
            status = AM_OK;
            break;
          }
        /* Noise-limited objects wander at the 10⁻² level for ever: after a few passes that
         * is as good as it gets (the flags need the size to ~5 %). */
        if (it >= 4 && fabs (step_x) < 5e-3 && fabs (step_y) < 5e-3
            && change < 1e-2 * (w[0] + w[1]))
          {
            status = AM_OK;
            break;
          }
      }
      status = AM_OK;        /* ran out of passes without diverging: accept */
    }
  *xc = cx;
  *yc = cy;
  memcpy (m, w, sizeof w);
  return status;
}
