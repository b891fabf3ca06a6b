/* dia-wcs.c — wcslib wrappers: parse, copy, convert, describe, write.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-wcs.h"
#include "dia-error.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcsfix.h>
#include <wcslib/wcsutil.h>

/* wcspih() keeps parser state in static storage in some wcslib builds; the header parser is
 * the only wcslib entry point we serialise.  This is the one piece of process-wide state in the
 * engine and it exists only to protect a library we do not control. */
static GMutex wcs_parse_lock;

struct wcsprm *
dia_wcs_from_header (const char *cards, int n_cards, GError **error)
{
  struct wcsprm *all = NULL, *out = NULL;
  int nreject = 0, nwcs = 0, status, stat[NWCSFIX];
  char *copy;

  if (cards == NULL || n_cards <= 0)
    return NULL;
  copy = g_strndup (cards, (size_t) n_cards * 80);
  g_mutex_lock (&wcs_parse_lock);
  status = wcspih (copy, n_cards, WCSHDR_all, 0, &nreject, &nwcs, &all);
  g_mutex_unlock (&wcs_parse_lock);
  g_free (copy);
  if (status != 0)
    {
      dia_set_error_from_wcs (error, status, NULL, _("Reading the WCS from the header"));
      return NULL;
    }
  /* Take the primary description (the unlettered one) if it is celestial. */
  for (int i = 0; i < nwcs; i++)
    {
      if (all[i].alt[0] != ' ' && all[i].alt[0] != '\0')
        continue;
      if (all[i].naxis < 2)
        continue;
      out = calloc (1, sizeof *out);
      out->flag = -1;
      if (wcssub (1, &all[i], NULL, NULL, out) != 0)
        {
          free (out);
          out = NULL;
          break;
        }
      wcsfix (7, NULL, out, stat);
      if (wcsset (out) != 0 || out->lng < 0 || out->lat < 0)
        {
          /* Linear or broken WCS: nothing celestial to show. */
          wcsfree (out);
          free (out);
          out = NULL;
        }
      break;
    }
  wcsvfree (&nwcs, &all);
  return out;
}

struct wcsprm *
dia_wcs_copy (const struct wcsprm *src)
{
  struct wcsprm *dst;
  if (src == NULL)
    return NULL;
  dst = calloc (1, sizeof *dst);
  dst->flag = -1;
  if (wcssub (1, src, NULL, NULL, dst) != 0 || wcsset (dst) != 0)
    {
      wcsfree (dst);
      free (dst);
      return NULL;
    }
  return dst;
}

void
dia_wcs_free (struct wcsprm *wcs)
{
  if (wcs == NULL)
    return;
  wcsfree (wcs);
  free (wcs);
}

void
dia_wcs_shift (struct wcsprm *wcs, double dx, double dy)
{
  wcs->crpix[0] -= dx;
  wcs->crpix[1] -= dy;
  wcs->flag = 0;
  wcsset (wcs);
}

gboolean
dia_wcs_pix2sky (struct wcsprm *wcs, double x, double y, double *ra, double *dec)
{
  double pix[2] = { x + 1.0, y + 1.0 }, img[2], phi, theta, world[2];
  int stat = 0;
  if (wcs == NULL || wcsp2s (wcs, 1, 2, pix, img, &phi, &theta, world, &stat) != 0)
    return FALSE;
  *ra = world[wcs->lng];
  *dec = world[wcs->lat];
  return TRUE;
}

gboolean
dia_wcs_sky2pix (struct wcsprm *wcs, double ra, double dec, double *x, double *y)
{
  double world[2], img[2], phi, theta, pix[2];
  int stat = 0;
  if (wcs == NULL)
    return FALSE;
  world[wcs->lng] = ra;
  world[wcs->lat] = dec;
  if (wcss2p (wcs, 1, 2, world, &phi, &theta, img, pix, &stat) != 0)
    return FALSE;
  *x = pix[0] - 1.0;
  *y = pix[1] - 1.0;
  return TRUE;
}

double
dia_wcs_pixel_scale (struct wcsprm *wcs, double x, double y)
{
  double r0, d0, r1, d1, r2, d2, a, b;
  if (!dia_wcs_pix2sky (wcs, x, y, &r0, &d0) || !dia_wcs_pix2sky (wcs, x + 1, y, &r1, &d1)
      || !dia_wcs_pix2sky (wcs, x, y + 1, &r2, &d2))
    return NAN;
  a = hypot ((r1 - r0) * cos (d0 * G_PI / 180.0), d1 - d0);
  b = hypot ((r2 - r0) * cos (d0 * G_PI / 180.0), d2 - d0);
  return sqrt (a * b) * 3600.0;
}

char *
dia_wcs_dup_summary (struct wcsprm *wcs, int width, int height)
{
  double ra, dec, scale;
  if (wcs == NULL)
    return g_strdup (_("no celestial WCS"));
  scale = dia_wcs_pixel_scale (wcs, (width - 1) / 2.0, (height - 1) / 2.0);
  if (!dia_wcs_pix2sky (wcs, (width - 1) / 2.0, (height - 1) / 2.0, &ra, &dec))
    return g_strdup_printf (_("%s/%s (centre not convertible)"), wcs->ctype[0], wcs->ctype[1]);
  return g_strdup_printf (_("%.8s/%.8s, centre RA %.6f° Dec %+.6f°, %.4f arcsec/px"),
                          wcs->ctype[0], wcs->ctype[1], ra, dec, scale);
}

char *
dia_wcs_dup_header (struct wcsprm *wcs, int *n_cards)
{
  char *hdr = NULL, *out;
  int n = 0;
  *n_cards = 0;
  if (wcs == NULL || wcshdo (WCSHDO_safe, wcs, &n, &hdr) != 0 || hdr == NULL)
    return NULL;
  out = g_strndup (hdr, (size_t) n * 80);
  wcsdealloc (hdr);
  *n_cards = n;
  return out;
}
