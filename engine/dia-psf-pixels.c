/* dia-psf-pixels.c — PSFs given as pixel stamps (WebbPSF files and the like): recentring,
 * cropping and the Keys-cubic sub-pixel shift that dia_psf_render() also uses.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-psf.h"
#include "dia-error.h"
#include "dia-psf-private.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

/* Keys' cubic convolution kernel (a = −½).  It reproduces polynomials up to degree 2, so a
 * shifted stamp keeps its sum, its centroid moves by exactly the shift and its second moments
 * are unchanged (Lanczos kernels ring less but miss the centroid by ~0.02 px). */
static double
psf_keys (double x)
{
  x = fabs (x);
  if (x <= 1.0)
    return (1.5 * x - 2.5) * x * x + 1.0;
  if (x < 2.0)
    return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0;
  return 0.0;
}

/* out(i, j) = in(i + off_x + sx, j + off_y + sy) for i < ow, j < oh, with in of w × h (zero
 * outside).  Separable: columns of the needed rows first, then along each row. */
void
_dia_psf_shift (const float *in, int w, int h, double sx, double sy, float *out, int ow, int oh,
                int off_x, int off_y)
{
  double kx[4], ky[4];
  int fx = (int) floor (sx), fy = (int) floor (sy);
  double rx = sx - fx, ry = sy - fy;
  float *tmp = g_new0 (float, (gsize) oh * w);

  /* Sample position n + r (n integer, 0 ≤ r < 1): f = Σ_k in[n + k − 1] K(k − 1 − r). */
  for (int k = 0; k < 4; k++)
    {
      kx[k] = psf_keys (k - 1 - rx);
      ky[k] = psf_keys (k - 1 - ry);
    }
  for (int j = 0; j < oh; j++)
    for (int x = 0; x < w; x++)
      {
        double s = 0.0;
        for (int k = 0; k < 4; k++)
          {
            int yy = j + off_y + fy + k - 1;
            if (yy >= 0 && yy < h)
              s += ky[k] * in[(size_t) yy * w + x];
          }
        tmp[(size_t) j * w + x] = (float) s;
      }
  for (int j = 0; j < oh; j++)
    for (int i = 0; i < ow; i++)
      {
        double s = 0.0;
        for (int k = 0; k < 4; k++)
          {
            int xx = i + off_x + fx + k - 1;
            if (xx >= 0 && xx < w)
              s += kx[k] * tmp[(size_t) j * w + xx];
          }
        out[(size_t) j * ow + i] = (float) s;
      }
  g_free (tmp);
}

DiaPsf *
dia_psf_new_from_pixels (const float *pixels, int width, int height, GError **error)
{
  g_autofree float *clean = NULL;
  g_autofree float *shifted = NULL;
  PsfPlane plane;
  double total = 0.0, cx, cy, m[3], enclosed = 0.0;
  int ncx, ncy, hmax, half, side;
  DiaPsf *psf;

  if (pixels == NULL || width < 3 || height < 3 || width > 4096 || height > 4096)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("PSF image of %d × %d px: need between 3 × 3 and 4096 × 4096 pixels"),
                   width, height);
      return NULL;
    }
  clean = g_new (float, (gsize) width * height);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      clean[i] = isfinite (pixels[i]) ? pixels[i] : 0.0f;
      total += clean[i];
    }
  if (!(total > 0.0))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("PSF image has no positive flux (sum %g); check that the file holds a PSF"),
                   total);
      return NULL;
    }
  /* Start the adaptive centroid at the brightest pixel. */
  {
    gsize best = 0;
    for (gsize i = 1; i < (gsize) width * height; i++)
      if (clean[i] > clean[best])
        best = i;
    plane = (PsfPlane){ clean, 0.0, NULL, 0, width, width, height };
    if (_dia_psf_adaptive_moments (&plane, best % width, best / width, 1.5, 60.0, 10.0, 16.0, &cx, &cy,
                              m)
        != AM_OK)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                     _("PSF image: cannot find a compact core (the centroid or the size does "
                       "not converge); check that the file holds a PSF"));
        return NULL;
      }
  }
  /* Recentre: the new stamp has its centre pixel where the centroid lands. */
  ncx = (int) floor (cx + 0.5);
  ncy = (int) floor (cy + 0.5);
  hmax = MIN (MIN (ncx, width - 1 - ncx), MIN (ncy, height - 1 - ncy));
  hmax = MIN (hmax, (PSF_MAX_STAMP - 1) / 2);
  if (hmax < 1)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("PSF image: its centroid (%.1f, %.1f) lies on the border"), cx, cy);
      return NULL;
    }
  /* The sub-pixel part of the centroid is not resampled away here (every interpolation
   * blurs an undersampled PSF a little); it is kept as an offset and folded into the one
   * interpolation dia_psf_render() does anyway. */
  side = 2 * hmax + 1;
  shifted = g_new (float, (gsize) side * side);
  for (int y = 0; y < side; y++)
    memcpy (shifted + (gsize) y * side, clean + (gsize) (ncy - hmax + y) * width + ncx - hmax,
            side * sizeof (float));
  /* Smallest centred odd square holding 99.5 % of the recentred flux. */
  {
    double tot = 0.0;
    for (int i = 0; i < side * side; i++)
      tot += shifted[i];
    for (half = 1; half <= hmax; half++)
      {
        enclosed = 0.0;
        for (int y = hmax - half; y <= hmax + half; y++)
          for (int x = hmax - half; x <= hmax + half; x++)
            enclosed += shifted[y * side + x];
        if (enclosed >= 0.995 * tot)
          break;
      }
    half = MIN (half, hmax);
  }
  psf = _dia_psf_new (PSF_KIND_PIXELS);
  psf->pix_off_x = cx - ncx;
  psf->pix_off_y = cy - ncy;
  psf->natural_size = 2 * half + 1;
  /* The stored stamp keeps up to 4 px more on each side than the 99.5 % square, so that a
   * shifted rendering of the natural size does not lose the flux that moves in. */
  half = MIN (half + 4, hmax);
  psf->stamp_side = 2 * half + 1;
  psf->stamp = g_new (float, (gsize) psf->stamp_side * psf->stamp_side);
  enclosed = 0.0;
  for (int y = 0; y < psf->stamp_side; y++)
    for (int x = 0; x < psf->stamp_side; x++)
      enclosed += psf->stamp[y * psf->stamp_side + x]
        = shifted[(y + hmax - half) * side + x + hmax - half];
  for (int i = 0; i < psf->stamp_side * psf->stamp_side; i++)
    psf->stamp[i] = (float) (psf->stamp[i] / enclosed);
  plane = (PsfPlane){ psf->stamp, 0.0, NULL, 0, psf->stamp_side, psf->stamp_side,
                      psf->stamp_side };
  _dia_psf_adaptive_moments (&plane, half, half, 1.5, 60.0, 10.0, 16.0, &cx, &cy, psf->pix_m);
  _dia_psf_finish (psf);
  return psf;
}
