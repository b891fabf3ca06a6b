/* dia-fits.c — reading images with cfitsio, and the `info` description of a file.
 *
 * This file is the only place where FITS 1-based pixel numbers and the engine's 0-based
 * buffer coordinates meet: cfitsio's first-pixel vectors are built here, LTV1/LTV2 become
 * x0/y0 here, and WCS cards are handed verbatim to dia-wcs.c (wcslib applies CRPIX itself).
 *
 * Reading works in three steps.  First the file is opened once and its HDUs are classified:
 * an HDU named in the path (cfitsio's extended syntax, "x.fits[SCI]") is used as it is;
 * otherwise an LSST Exposure/MaskedImage layout is recognised by its IMAGE/MASK/VARIANCE
 * EXTNAMEs or EXTTYPEs, and failing that the primary HDU (when it has data) or the first 2-D
 * image extension is taken.  Second, each plane is read in blocks of rows as double (so
 * BZERO/BSCALE, BLANK, float64 and tile-compressed data all go through the same conversion
 * and no value can overflow inside cfitsio), then converted to float.  Third, a single pass
 * turns unusable pixels into NO_DATA (pix 0, var +inf), estimates a variance where the file
 * has none, and flags saturated pixels.
 *
 * Sizes in headers are not trusted: the pixel count is capped, and the last pixel of every
 * plane is read before the planes are allocated, so a truncated file or an absurd NAXISn fails
 * with a clear error instead of a giant allocation.  Every path closes its fitsfile; cfitsio
 * statuses become GErrors only through dia_set_error_from_fits(), with the file name first.
 *
 * Header values (gain, read noise, saturation, …) are parsed from the header strings that
 * fits_hdr2str() returns, looking in the image HDU first and the primary HDU second (LSST and
 * most MEF writers keep exposure metadata in the primary).
 *
 * Writing (and the header-card builder) lives in dia-fits-write.c; `info` is at the end here.
 *
 * Thread safety: every call opens its own fitsfile and the engine requires a reentrant
 * cfitsio (dia_engine_init), so any thread may call any function here concurrently.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-fits.h"
#include "dia-fits-private.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-stats.h"
#include "dia-wcs.h"

#include <fitsio.h>
#include <float.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wcslib/wcs.h>

/* Largest pixel count we allocate for one image (3 planes × 4 bytes × 2^30 = 12 GiB). */
#define FITS_MAX_PIXELS ((gint64) 1 << 30)
#define FITS_MAX_SIDE   (1 << 17)
/* Values at or below this are the −FLT_MAX "no data" sentinel some pipelines write. */
#define FITS_SENTINEL   (-1e38)
/* Pixels per block when converting planes (8 MiB of doubles). */
#define FITS_BLOCK_PIXELS ((gint64) 1 << 20)

/* ------------------------------------------------------------------------------------------ */
/* Parsing header strings                                                                     */

typedef struct
{
  const char *cards; /* 80-character cards, no separators */
  int n;
} HeaderText;

/* Splits one card into its keyword (HIERARCH prefix removed) and the text after the value
 * indicator.  FALSE for commentary cards and cards without a value. */
static gboolean
card_split (const char *card, char key[FLEN_KEYWORD], const char **value)
{
  const char *eq;
  size_t len;

  if (strncmp (card, "HIERARCH ", 9) == 0)
    {
      eq = memchr (card + 9, '=', 71);
      if (eq == NULL)
        return FALSE;
      *value = eq + 1;
      card += 9;
      len = (size_t) (eq - card);
    }
  else
    {
      if (card[8] != '=' || card[9] != ' ')
        return FALSE;
      *value = card + 10;
      len = 8;
    }
  while (len > 0 && card[0] == ' ')
    card++, len--;
  while (len > 0 && card[len - 1] == ' ')
    len--;
  if (len == 0 || len >= FLEN_KEYWORD)
    return FALSE;
  memcpy (key, card, len);
  key[len] = '\0';
  return TRUE;
}

/* Copies the value of a card (string without quotes, or the number's text) into out. */
static void
card_value (const char *value, const char *card_end, char out[FLEN_VALUE])
{
  size_t n = 0;
  const char *p = value;

  while (p < card_end && *p == ' ')
    p++;
  if (p < card_end && *p == '\'')
    {
      for (p++; p < card_end && n < FLEN_VALUE - 1; p++)
        {
          if (*p == '\'')
            {
              if (p + 1 < card_end && p[1] == '\'')
                p++;
              else
                break;
            }
          out[n++] = *p;
        }
      while (n > 0 && out[n - 1] == ' ')
        n--;
    }
  else
    {
      for (; p < card_end && *p != '/' && n < FLEN_VALUE - 1; p++)
        out[n++] = *p;
      while (n > 0 && out[n - 1] == ' ')
        n--;
    }
  out[n] = '\0';
}

/* Looks key up in the headers in order; the first hit wins.  Case-insensitive.  out holds
 * out_len bytes (at least FLEN_VALUE); long strings are cut to fit. */
static gboolean
header_lookup (const HeaderText *hdrs, int n_hdrs, const char *key, char *out, size_t out_len)
{
  for (int h = 0; h < n_hdrs; h++)
    for (int k = 0; hdrs[h].cards && k < hdrs[h].n; k++)
      {
        const char *card = hdrs[h].cards + (size_t) k * 80, *value;
        char name[FLEN_KEYWORD];
        if (!card_split (card, name, &value) || g_ascii_strcasecmp (name, key) != 0)
          continue;
        card_value (value, card + 80, out);
        /* Long strings (cfitsio's CONTINUE convention): a trailing '&' continues the value
         * on the next card, up to the FLEN_VALUE we keep. */
        for (int c = k + 1; c < hdrs[h].n; c++)
          {
            const char *next = hdrs[h].cards + (size_t) c * 80;
            size_t len = strlen (out);
            char more[FLEN_VALUE];
            if (len == 0 || out[len - 1] != '&' || strncmp (next, "CONTINUE  ", 10) != 0)
              break;
            out[len - 1] = '\0';
            card_value (next + 10, next + 80, more);
            g_strlcat (out, more, out_len);
          }
        return TRUE;
      }
  return FALSE;
}

static double
parse_number (const char *text)
{
  char buf[FLEN_VALUE], *end;
  double v;
  g_strlcpy (buf, text, sizeof buf);
  for (char *p = buf; *p; p++)
    if (*p == 'D' || *p == 'd')
      *p = 'E';
  v = g_ascii_strtod (buf, &end);
  if (end == buf)
    return NAN;
  while (*end == ' ')
    end++;
  return *end == '\0' ? v : NAN;
}

/* First finite numeric value among keys (NULL-terminated). */
static double
header_number (const HeaderText *hdrs, int n_hdrs, const char *const *keys)
{
  char val[FLEN_VALUE];
  for (; *keys; keys++)
    if (header_lookup (hdrs, n_hdrs, *keys, val, sizeof val))
      {
        double v = parse_number (val);
        if (isfinite (v))
          return v;
      }
  return NAN;
}

static gboolean
header_string (const HeaderText *hdrs, int n_hdrs, const char *const *keys, char *out,
               size_t out_len)
{
  char val[FLEN_VALUE];
  for (; *keys; keys++)
    if (header_lookup (hdrs, n_hdrs, *keys, val, sizeof val) && val[0])
      {
        g_strlcpy (out, val, out_len);
        return TRUE;
      }
  return FALSE;
}

/* MJD from an ISO date ("2015-12-27T06:26:24" or "2015-12-27"); NAN when unparsable. */
static double
mjd_from_date (const char *text)
{
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, status = 0;
  double second = 0;
  g_autoptr (GDate) date = NULL, epoch = NULL;

  if (fits_str2time ((char *) text, &year, &month, &day, &hour, &minute, &second, &status)
      != 0)
    {
      fits_clear_errmsg ();
      return NAN;
    }
  if (!g_date_valid_dmy (day, month, year))
    return NAN;
  date = g_date_new_dmy (day, month, year);
  epoch = g_date_new_dmy (17, G_DATE_NOVEMBER, 1858);
  return (double) ((gint64) g_date_get_julian (date) - (gint64) g_date_get_julian (epoch))
         + (hour + minute / 60.0 + second / 3600.0) / 24.0;
}

static void
meta_from_headers (DiaImageMeta *m, const HeaderText *hdrs, int n_hdrs)
{
  static const char *const gain_keys[] = { "GAIN", "EGAIN", "CCDGAIN", NULL };
  static const char *const rn_keys[] = { "RDNOISE", "READNOIS", "RON", NULL };
  static const char *const sat_keys[] = { "SATURATE", "SATLEVEL", "SATURATION", NULL };
  static const char *const exp_keys[] = { "EXPTIME", "EXPOSURE", NULL };
  static const char *const mjd_keys[] = { "MJD-OBS", NULL };
  static const char *const date_keys[] = { "DATE-OBS", NULL };
  static const char *const zp_keys[] = { "MAGZERO", "ZP", NULL };
  static const char *const fm0_keys[] = { "FLUXMAG0", NULL };
  static const char *const fwhm_keys[] = { "FWHM", "SEEING", NULL };
  static const char *const filter_keys[] = { "FILTER", "BAND", NULL };
  static const char *const object_keys[] = { "OBJECT", NULL };
  static const char *const bunit_keys[] = { "BUNIT", NULL };
  static const char *const sky_keys[] = { "DS_SKY", NULL };
  char date[FLEN_VALUE];
  double v;

  v = header_number (hdrs, n_hdrs, gain_keys);
  m->gain = v > 0 ? v : NAN;
  v = header_number (hdrs, n_hdrs, rn_keys);
  m->read_noise = v >= 0 ? v : NAN;
  v = header_number (hdrs, n_hdrs, sat_keys);
  m->saturation = v > 0 ? v : NAN;
  m->exptime = header_number (hdrs, n_hdrs, exp_keys);
  m->mjd = header_number (hdrs, n_hdrs, mjd_keys);
  if (!isfinite (m->mjd) && header_string (hdrs, n_hdrs, date_keys, date, sizeof date))
    m->mjd = mjd_from_date (date);
  m->zeropoint = header_number (hdrs, n_hdrs, zp_keys);
  if (!isfinite (m->zeropoint))
    {
      /* FLUXMAG0 = 0 is afw's "no calibration". */
      v = header_number (hdrs, n_hdrs, fm0_keys);
      if (v > 0)
        m->zeropoint = 2.5 * log10 (v);
    }
  v = header_number (hdrs, n_hdrs, fwhm_keys);
  m->psf_fwhm = v > 0 ? v : NAN;
  m->sky = header_number (hdrs, n_hdrs, sky_keys);
  header_string (hdrs, n_hdrs, filter_keys, m->filter, sizeof m->filter);
  header_string (hdrs, n_hdrs, object_keys, m->object, sizeof m->object);
  header_string (hdrs, n_hdrs, bunit_keys, m->bunit, sizeof m->bunit);
}

/* ------------------------------------------------------------------------------------------ */
/* Opening and classifying HDUs                                                               */

typedef struct
{
  const char *path;     /* as given by the caller, for messages        */
  fitsfile *f;
  int n_hdus;
  gboolean named;       /* the path names an HDU or a section          */
  int image_hdu;        /* 1-based HDU numbers; 0 = absent             */
  int mask_hdu;
  int variance_hdu;
  gboolean lsst;
  int width, height;
} FitsSource;

gboolean
_dia_fits_fail (GError **error, int status, const char *path, const char *what)
{
  g_autofree char *msg = g_strdup_printf ("%s: %s", path, what);
  return dia_set_error_from_fits (error, status, msg);
}

static void
fits_source_close (FitsSource *src)
{
  int status = 0;
  if (src->f)
    fits_close_file (src->f, &status);
  src->f = NULL;
  fits_clear_errmsg ();
}

/* TRUE when the path uses cfitsio's extended syntax to pick an HDU or a section. */
static gboolean
path_names_hdu (const char *path)
{
  char filetype[FLEN_FILENAME], infile[FLEN_FILENAME], outfile[FLEN_FILENAME];
  char extspec[FLEN_FILENAME], filter[FLEN_FILENAME], binspec[FLEN_FILENAME];
  char colspec[FLEN_FILENAME];
  int status = 0;

  if (strlen (path) >= FLEN_FILENAME - 1)
    return FALSE;
  if (fits_parse_input_url ((char *) path, filetype, infile, outfile, extspec, filter, binspec,
                            colspec, &status) != 0)
    {
      fits_clear_errmsg ();
      return strchr (path, '[') != NULL;
    }
  return extspec[0] || filter[0] || binspec[0];
}

/* cfitsio reports a text file or an image in another format as a bare read error; a look at
 * the first bytes of a plain local file gives the user a better message.  Compressed files
 * (gzip, bzip2, compress, zip) and paths cfitsio would interpret are left to cfitsio. */
static gboolean
sniff_fits (const char *path, GError **error)
{
  unsigned char head[32] = { 0 };
  size_t n;
  FILE *fp;
  GString *shown;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  fp = g_fopen (path, "rb");
  if (fp == NULL)
    return TRUE;
  n = fread (head, 1, sizeof head, fp);
  fclose (fp);
  if ((n >= 9 && memcmp (head, "SIMPLE  =", 9) == 0)
      || (n >= 2 && head[0] == 0x1f && (head[1] == 0x8b || head[1] == 0x9d))
      || (n >= 3 && memcmp (head, "BZh", 3) == 0)
      || (n >= 4 && memcmp (head, "PK\003\004", 4) == 0))
    return TRUE;
  shown = g_string_new (NULL);
  for (size_t i = 0; i < MIN (n, (size_t) 16); i++)
    g_string_append_c (shown, g_ascii_isprint (head[i]) ? (char) head[i] : '.');
  g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
               _("%s: not a FITS file (it starts with “%s” instead of “SIMPLE  =”); open a "
                 "FITS image (.fits, .fit, .fz, .fits.gz)"), path, shown->str);
  g_string_free (shown, TRUE);
  return FALSE;
}

static gboolean
fits_source_open (FitsSource *src, const char *path, GError **error)
{
  int status = 0;
  GStatBuf st;

  memset (src, 0, sizeof *src);
  src->path = path;
  if (g_stat (path, &st) == 0 && st.st_size == 0)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: the file is empty (0 bytes), so it holds no FITS image; was it "
                     "copied or downloaded completely?"), path);
      return FALSE;
    }
  if (!sniff_fits (path, error))
    return FALSE;
  if (strlen (path) >= FLEN_FILENAME - 1)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_IO,
                   _("%s: the path is too long for cfitsio (at most %d characters)"), path,
                   FLEN_FILENAME - 2);
      return FALSE;
    }
  if (fits_open_file (&src->f, path, READONLY, &status) != 0)
    {
      src->f = NULL;
      if (status == FILE_NOT_OPENED && !g_file_test (path, G_FILE_TEST_EXISTS)
          && !path_names_hdu (path))
        {
          fits_clear_errmsg ();
          g_set_error (error, DIA_ERROR, DIA_ERROR_IO,
                       _("%s: no such file; check the path and the name"), path);
          return FALSE;
        }
      return _dia_fits_fail (error, status, path,
                        _("cannot be opened as FITS (is it a FITS file, and does the "
                          "named HDU exist?)"));
    }
  if (fits_get_num_hdus (src->f, &src->n_hdus, &status) != 0)
    {
      fits_source_close (src);
      return _dia_fits_fail (error, status, path, _("counting HDUs"));
    }
  src->named = path_names_hdu (path);
  return TRUE;
}

/* Reads EXTNAME, or EXTTYPE when there is none, of the current HDU into out (upper case). */
static void
hdu_name (fitsfile *f, char out[FLEN_VALUE], char type_out[FLEN_VALUE])
{
  int status = 0;
  out[0] = type_out[0] = '\0';
  if (fits_read_key (f, TSTRING, "EXTNAME", out, NULL, &status) != 0)
    out[0] = '\0';
  status = 0;
  if (fits_read_key (f, TSTRING, "EXTTYPE", type_out, NULL, &status) != 0)
    type_out[0] = '\0';
  fits_clear_errmsg ();
  g_strstrip (out);
  g_strstrip (type_out);
}

/* Checks the current (image) HDU's dimensions and sets the width and height.  Accepts 2-D
 * images and higher-dimensional ones whose extra axes have length 1; anything else (cubes,
 * empty or absurdly large images) gets an error that says what to do. */
static gboolean
hdu_check_dims (FitsSource *src, int hdu, int *width, int *height, GError **error)
{
  LONGLONG naxes[9] = { 0 };
  int bitpix = 0, naxis = 0, status = 0;
  g_autofree char *what = g_strdup_printf (_("reading the size of HDU %d"), hdu);

  if (fits_get_img_paramll (src->f, 9, &bitpix, &naxis, naxes, &status) != 0)
    return _dia_fits_fail (error, status, src->path, what);
  if (naxis == 0)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: HDU %d has no image data (NAXIS=0); name the HDU that holds the "
                     "image, e.g. %s[1]"), src->path, hdu, src->path);
      return FALSE;
    }
  if (naxis == 1)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: HDU %d is one-dimensional (NAXIS=1, a spectrum or a vector); "
                     "Diffscope needs a 2-D image"), src->path, hdu);
      return FALSE;
    }
  if (naxis > 9)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: HDU %d has %d axes; Diffscope needs a 2-D image"), src->path, hdu,
                   naxis);
      return FALSE;
    }
  for (int k = 2; k < naxis; k++)
    if (naxes[k] != 1)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                     _("%s: HDU %d is a %d-D cube (NAXIS=%d); Diffscope needs a 2-D image — "
                       "name the plane with %s[%d][*,*,1:1]"), src->path, hdu, naxis, naxis,
                     src->path, hdu - 1);
        return FALSE;
      }
  if (naxes[0] <= 0 || naxes[1] <= 0)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: HDU %d has an empty image (NAXIS1=%lld, NAXIS2=%lld)"), src->path,
                   hdu, (long long) naxes[0], (long long) naxes[1]);
      return FALSE;
    }
  if (naxes[0] > FITS_MAX_SIDE || naxes[1] > FITS_MAX_SIDE
      || naxes[0] * naxes[1] > FITS_MAX_PIXELS)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("%s: HDU %d claims %lld×%lld pixels, more than Diffscope can hold (at most "
                     "%d per side and %lld in all); the header is probably corrupt"),
                   src->path, hdu, (long long) naxes[0], (long long) naxes[1], FITS_MAX_SIDE,
                   (long long) FITS_MAX_PIXELS);
      return FALSE;
    }
  *width = (int) naxes[0];
  *height = (int) naxes[1];
  return TRUE;
}

/* Moves to hdu (1-based) and reports whether it is an image HDU with NAXIS >= 1. */
static gboolean
hdu_move (FitsSource *src, int hdu, gboolean *is_image, int *naxis, GError **error)
{
  int type = 0, status = 0;
  g_autofree char *what = g_strdup_printf (_("moving to HDU %d"), hdu);
  if (fits_movabs_hdu (src->f, hdu, &type, &status) != 0)
    return _dia_fits_fail (error, status, src->path, what);
  *naxis = 0;
  *is_image = type == IMAGE_HDU;
  if (*is_image && fits_get_img_dim (src->f, naxis, &status) != 0)
    return _dia_fits_fail (error, status, src->path, what);
  return TRUE;
}

/* Reads the last pixel of the current HDU.  Header sizes are not trusted: a truncated file,
 * or a header claiming far more data than the file holds, fails here, before any plane is
 * allocated. */
static gboolean
hdu_probe_last_pixel (FitsSource *src, int hdu, int width, int height, GError **error)
{
  LONGLONG last[9] = { width, height, 1, 1, 1, 1, 1, 1, 1 };
  double nan_value = NAN, value;
  int status = 0, anynul = 0;

  if (fits_read_pixll (src->f, TDOUBLE, last, 1, &nan_value, &value, &anynul, &status) != 0)
    {
      g_autofree char *what = g_strdup_printf (_("reading the pixels of HDU %d (the file may "
                                                 "be truncated)"), hdu);
      return _dia_fits_fail (error, status, src->path, what);
    }
  return TRUE;
}

/* Decides which HDUs hold the image, mask and variance. */
static gboolean
fits_source_classify (FitsSource *src, gboolean allow_lsst, GError **error)
{
  int hdu, first_2d = 0, first_cube = 0, primary_naxis = 0;

  if (src->named)
    {
      fits_get_hdu_num (src->f, &src->image_hdu);
      return hdu_check_dims (src, src->image_hdu, &src->width, &src->height, error)
             && hdu_probe_last_pixel (src, src->image_hdu, src->width, src->height, error);
    }
  for (hdu = 1; hdu <= src->n_hdus; hdu++)
    {
      char name[FLEN_VALUE], type[FLEN_VALUE];
      gboolean is_image;
      int naxis;
      if (!hdu_move (src, hdu, &is_image, &naxis, error))
        return FALSE;
      if (hdu == 1)
        primary_naxis = naxis;
      if (!is_image)
        continue;
      hdu_name (src->f, name, type);
      if (allow_lsst && naxis >= 2)
        {
          const char *label = name[0] ? name : type;
          if (g_ascii_strcasecmp (label, "IMAGE") == 0 && !src->image_hdu)
            src->image_hdu = hdu;
          else if (g_ascii_strcasecmp (label, "MASK") == 0 && !src->mask_hdu)
            src->mask_hdu = hdu;
          else if (g_ascii_strcasecmp (label, "VARIANCE") == 0 && !src->variance_hdu)
            src->variance_hdu = hdu;
        }
      if (naxis >= 2 && !first_2d && !first_cube)
        {
          LONGLONG naxes[9] = { 0 };
          int bitpix, n2, status = 0;
          gboolean flat = TRUE;
          fits_get_img_paramll (src->f, 9, &bitpix, &n2, naxes, &status);
          fits_clear_errmsg ();
          for (int k = 2; k < n2 && k < 9; k++)
            flat = flat && naxes[k] == 1;
          if (flat)
            first_2d = hdu;
          else
            first_cube = hdu;
        }
    }
  if (src->image_hdu && (src->mask_hdu || src->variance_hdu))
    src->lsst = TRUE;
  else
    {
      src->mask_hdu = src->variance_hdu = 0;
      if (primary_naxis > 0)
        src->image_hdu = 1;
      else if (first_2d)
        src->image_hdu = first_2d;
      else if (first_cube)
        src->image_hdu = first_cube;
      else
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                       _("%s: none of its %d HDUs holds an image (only empty HDUs or tables)"),
                       src->path, src->n_hdus);
          return FALSE;
        }
    }
  {
    gboolean is_image;
    int naxis;
    if (!hdu_move (src, src->image_hdu, &is_image, &naxis, error))
      return FALSE;
  }
  if (!hdu_check_dims (src, src->image_hdu, &src->width, &src->height, error)
      || !hdu_probe_last_pixel (src, src->image_hdu, src->width, src->height, error))
    return FALSE;
  /* The mask and variance HDUs must share the image's grid. */
  for (int k = 0; k < 2; k++)
    {
      int plane_hdu = k == 0 ? src->mask_hdu : src->variance_hdu, w = 0, h = 0;
      gboolean is_image;
      int naxis;
      if (!plane_hdu)
        continue;
      if (!hdu_move (src, plane_hdu, &is_image, &naxis, error)
          || !hdu_check_dims (src, plane_hdu, &w, &h, error))
        return FALSE;
      if (w != src->width || h != src->height)
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                       _("%s: the %s HDU (%d) is %d×%d but the IMAGE HDU is %d×%d"), src->path,
                       k == 0 ? "MASK" : "VARIANCE", plane_hdu, w, h, src->width,
                       src->height);
          return FALSE;
        }
      if (!hdu_probe_last_pixel (src, plane_hdu, w, h, error))
        return FALSE;
    }
  return TRUE;
}

/* The current HDU's header as cards (fits_hdr2str converts compressed HDUs to the image
 * header they describe).  Caller frees with g_free. */
static char *
hdu_dup_header (FitsSource *src, int hdu, int *n_cards, GError **error)
{
  char *raw = NULL, *out;
  int status = 0, n = 0, type = 0;
  g_autofree char *what = g_strdup_printf (_("reading the header of HDU %d"), hdu);

  *n_cards = 0;
  if (fits_movabs_hdu (src->f, hdu, &type, &status) != 0
      || fits_hdr2str (src->f, 0, NULL, 0, &raw, &n, &status) != 0)
    {
      if (raw)
        fits_free_memory (raw, &status);
      _dia_fits_fail (error, status, src->path, what);
      return NULL;
    }
  /* Drop the END card: the stored header holds keywords only. */
  if (n > 0 && strncmp (raw + (size_t) (n - 1) * 80, "END ", 4) == 0)
    n--;
  out = g_strndup (raw, (size_t) n * 80);
  status = 0;
  fits_free_memory (raw, &status);
  *n_cards = n;
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading planes                                                                             */

typedef enum
{
  PLANE_PIX,    /* into image->pix                                 */
  PLANE_VAR,    /* into image->var                                 */
  PLANE_SIGMA,  /* into image->var, squared; σ < 0 becomes NaN      */
  PLANE_MASK,   /* raw bits into image->mask                        */
} PlaneKind;

static gboolean
read_plane (FitsSource *src, int hdu, DiaImage *image, PlaneKind kind, GError **error)
{
  const int w = image->width, h = image->height;
  gint64 rows_per_block = MAX (1, FITS_BLOCK_PIXELS / w);
  double nan_value = NAN;
  /* cfitsio reads NAXIS entries: degenerate axes beyond the second are 1. */
  LONGLONG first[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  int status = 0, type = 0, anynul = 0;
  g_autofree double *buf = NULL;
  g_autofree char *what = g_strdup_printf (_("reading the pixels of HDU %d"), hdu);

  if (fits_movabs_hdu (src->f, hdu, &type, &status) != 0)
    return _dia_fits_fail (error, status, src->path, what);
  rows_per_block = MIN (rows_per_block, h);
  buf = g_try_new (double, (gsize) (rows_per_block * w));
  if (buf == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("%s: not enough memory to read HDU %d"), src->path, hdu);
      return FALSE;
    }
  for (int y0 = 0; y0 < h; y0 += (int) rows_per_block)
    {
      int rows = (int) MIN (rows_per_block, h - y0);
      first[0] = 1;
      first[1] = y0 + 1;
      if (fits_read_pixll (src->f, TDOUBLE, first, (LONGLONG) rows * w, &nan_value, buf, &anynul,
                           &status) != 0)
        return _dia_fits_fail (error, status, src->path, what);
      for (int r = 0; r < rows; r++)
        {
          const double *in = buf + (size_t) r * w;
          size_t o = dia_image_index (image, 0, y0 + r);
          switch (kind)
            {
            case PLANE_PIX:
              for (int x = 0; x < w; x++)
                image->pix[o + x] = (float) in[x];
              break;
            case PLANE_VAR:
              for (int x = 0; x < w; x++)
                image->var[o + x] = (float) in[x];
              break;
            case PLANE_SIGMA:
              for (int x = 0; x < w; x++)
                image->var[o + x] = in[x] >= 0 ? (float) (in[x] * in[x]) : NAN;
              break;
            case PLANE_MASK:
              for (int x = 0; x < w; x++)
                {
                  /* Blank or out-of-range mask values mean nothing usable: BAD. */
                  double v = in[x];
                  if (isfinite (v) && v >= INT32_MIN && v <= UINT32_MAX)
                    image->mask[o + x] = (DiaMask) (guint32) (gint64) v;
                  else
                    image->mask[o + x] = DIA_MASK_BAD;
                }
              break;
            }
        }
    }
  return TRUE;
}

/* Mask planes as declared by MP_<NAME> = bit keys. */
typedef struct
{
  char *names[32];
  gboolean any;
} FileMaskPlanes;

static void
file_mask_planes_clear (FileMaskPlanes *p)
{
  for (int i = 0; i < 32; i++)
    g_clear_pointer (&p->names[i], g_free);
  p->any = FALSE;
}

static void
file_mask_planes_parse (FileMaskPlanes *p, const char *cards, int n)
{
  for (int k = 0; cards && k < n; k++)
    {
      const char *card = cards + (size_t) k * 80, *value;
      char key[FLEN_KEYWORD], val[FLEN_VALUE];
      double bit;
      if (!card_split (card, key, &value) || g_ascii_strncasecmp (key, "MP_", 3) != 0
          || key[3] == '\0')
        continue;
      card_value (value, card + 80, val);
      bit = parse_number (val);
      if (!(bit >= 0 && bit < 32) || bit != floor (bit) || p->names[(int) bit])
        continue;
      p->names[(int) bit] = g_ascii_strup (key + 3, -1);
      p->any = TRUE;
    }
}

/* Rewrites the raw file bits in image->mask as engine bits, by plane name.  Core names go to
 * their fixed bits; other names keep their file bit when it is free (so files we write
 * round-trip bit for bit) and otherwise get the next free bit.  Bits the file uses but does
 * not name become planes "BIT<n>"; without any MP_ keys every non-zero value is BAD. */
static void
remap_mask (DiaImage *image, const FileMaskPlanes *planes)
{
  DiaMask map[32] = { 0 }, used = 0;
  const size_t n_rows = (size_t) image->height;

  for (int y = 0; y < (int) n_rows; y++)
    for (int x = 0; x < image->width; x++)
      used |= image->mask[dia_image_index (image, x, y)];
  if (used == 0)
    return;
  if (!planes->any)
    {
      for (int y = 0; y < (int) n_rows; y++)
        for (int x = 0; x < image->width; x++)
          {
            size_t i = dia_image_index (image, x, y);
            image->mask[i] = image->mask[i] ? DIA_MASK_BAD : 0;
          }
      return;
    }
  /* Pass 1: core names. */
  for (int b = 0; b < 32; b++)
    if (planes->names[b])
      {
        DiaMask bit = dia_image_mask_bit (image, planes->names[b]);
        if (bit && __builtin_ctz (bit) < DIA_MASK_N_CORE)
          map[b] = bit;
      }
  /* Pass 2: extra names at their own bit when free. */
  for (int b = DIA_MASK_FIRST_EXTRA_BIT; b < 32; b++)
    if (planes->names[b] && !map[b] && image->plane_names[b] == NULL
        && !dia_image_mask_bit (image, planes->names[b]))
      {
        image->plane_names[b] = g_strdup (planes->names[b]);
        map[b] = 1u << b;
      }
  /* Pass 3: everything else, including used bits without a name. */
  for (int b = 0; b < 32; b++)
    {
      if (map[b])
        continue;
      if (planes->names[b])
        map[b] = dia_image_add_mask_plane (image, planes->names[b]);
      else if (used & (1u << b))
        {
          char name[16];
          g_snprintf (name, sizeof name, "BIT%d", b);
          map[b] = dia_image_add_mask_plane (image, name);
        }
      if (!map[b] && (used & (1u << b)))
        g_debug ("mask bit %d of the file has no free engine bit; it is dropped", b);
    }
  for (int y = 0; y < (int) n_rows; y++)
    for (int x = 0; x < image->width; x++)
      {
        size_t i = dia_image_index (image, x, y);
        DiaMask in = image->mask[i], out = 0;
        while (in)
          {
            int b = __builtin_ctz (in);
            out |= map[b];
            in &= in - 1;
          }
        image->mask[i] = out;
      }
}

/* Turns unusable pixels (and unusable variances when the variance came from a file) into
 * NO_DATA: pix 0, var +inf.  Returns the number of such pixels. */
static gint64
flag_no_data (DiaImage *image, gboolean check_var)
{
  gint64 n = 0;
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        size_t i = dia_image_index (image, x, y);
        float p = image->pix[i], v = image->var[i];
        gboolean bad = !isfinite (p) || p <= FITS_SENTINEL;
        if (check_var)
          bad = bad || !isfinite (v) || v < 0;
        if (bad)
          {
            image->pix[i] = 0.0f;
            image->var[i] = INFINITY;
            image->mask[i] |= DIA_MASK_NO_DATA;
            n++;
          }
      }
  return n;
}

/* Sky level and noise from blocks: the median over blocks of each block's 3σ-clipped mean and
 * stdev.  A global robust σ is inflated by smooth structure (galaxy halos, intracluster light,
 * gradients); within a block such structure is nearly flat, so the median block stdev is the
 * pixel noise of the sky.  FALSE when no block has enough usable pixels. */
static gboolean
estimate_sky_blocks (const DiaImage *image, DiaMask exclude, double *sky, double *sigma)
{
  int b = CLAMP (MIN (image->width, image->height) / 8, 16, 64);
  int nbx = MAX (1, image->width / b), nby = MAX (1, image->height / b);
  g_autofree float *vals = g_new (float, (size_t) b * b * 4);
  g_autofree float *means = g_new (float, (size_t) nbx * nby);
  g_autofree float *sds = g_new (float, (size_t) nbx * nby);
  g_autofree float *scratch = g_new (float, (size_t) nbx * nby);
  gint64 nb = 0;

  for (int by = 0; by < nby; by++)
    for (int bx = 0; bx < nbx; bx++)
      {
        int x0 = bx * b, y0 = by * b;
        int x1 = bx == nbx - 1 ? image->width : x0 + b, y1 = by == nby - 1 ? image->height : y0 + b;
        gint64 n = 0;
        double m, sd;
        if ((gint64) (x1 - x0) * (y1 - y0) > (gint64) b * b * 4)
          continue;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++)
            {
              size_t i = dia_image_index (image, x, y);
              if (!(image->mask[i] & exclude) && isfinite (image->pix[i]))
                vals[n++] = image->pix[i];
            }
        if (n < b * b / 4)
          continue;
        dia_stats_clipped (vals, n, 3.0, 3, &m, &sd);
        if (isfinite (m) && sd > 0 && isfinite (sd))
          {
            means[nb] = (float) m;
            sds[nb] = (float) sd;
            nb++;
          }
      }
  if (nb == 0)
    return FALSE;
  *sky = dia_stats_median (means, nb, scratch);
  *sigma = dia_stats_median (sds, nb, scratch);
  return TRUE;
}

/* Variance from the data when the file has none (see dia-fits.h and the note written into
 * meta.variance_note).  Model, in pix units: var = max(pix − sky, 0) / g_eff + σ_sky², with sky
 * and σ_sky from estimate_sky_blocks (falling back to the global median and robust σ).  g_eff
 * is the header gain when known (pix then counts ADU: a source of s ADU adds s/g ADU² of
 * Poisson variance); otherwise it is derived from the sky itself, g_eff = sky / σ_sky², which
 * is exact for a sky-noise-limited image that was not background-subtracted.  When the sky is
 * below 3 σ_sky the image was background-subtracted and that calibration means nothing, so only
 * the sky variance is used (sources then get too little variance: said in the note). */
static gboolean
estimate_variance (DiaImage *image, GError **error)
{
  DiaStats st;
  double sky, sigma, var_sky, g_eff = INFINITY;
  const char *gain_from;
  const DiaMask exclude = DIA_MASK_NO_DATA | DIA_MASK_BAD | DIA_MASK_SAT;

  if (!dia_stats_image (image, NULL, FALSE, exclude, 1 << 20, &st, error))
    return FALSE;
  sky = st.median;
  sigma = st.robust_sigma;
  if (!estimate_sky_blocks (image, exclude, &sky, &sigma))
    {
      sky = st.median;
      sigma = st.robust_sigma;
    }
  if (!(sigma > 0) || !isfinite (sigma))
    sigma = isfinite (st.clipped_stdev) && st.clipped_stdev > 0 ? st.clipped_stdev : st.stdev;
  if (!(sigma > 0) || !isfinite (sigma))
    sigma = 1.0;
  if (!isfinite (sky))
    sky = 0.0;
  var_sky = sigma * sigma;
  if (isfinite (image->meta.gain) && image->meta.gain > 0)
    {
      g_eff = image->meta.gain;
      gain_from = "from header GAIN";
    }
  else if (sky > 3.0 * sigma)
    {
      g_eff = sky / var_sky;
      gain_from = "from sky level/sigma^2";
    }
  else
    gain_from = "unknown (background-subtracted sky): sky noise only";
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        size_t i = dia_image_index (image, x, y);
        double excess;
        if (image->mask[i] & DIA_MASK_NO_DATA && isinf (image->var[i]))
          continue;
        excess = MAX ((double) image->pix[i] - sky, 0.0);
        image->var[i] = (float) (var_sky + (isfinite (g_eff) ? excess / g_eff : 0.0));
      }
  image->meta.sky = sky;
  image->meta.variance_origin = DIA_VARIANCE_ESTIMATED;
  if (isfinite (g_eff))
    g_snprintf (image->meta.variance_note, sizeof image->meta.variance_note,
                "estimated: sky %.4g, sky sigma=%.4g (median of blocks), effective gain %.4g "
                "e-/unit %s",
                sky, sigma, g_eff, gain_from);
  else
    g_snprintf (image->meta.variance_note, sizeof image->meta.variance_note,
                "estimated: sky %.4g, sky sigma=%.4g (median of blocks), gain %s", sky, sigma,
                gain_from);
  return TRUE;
}

static void
flag_saturated (DiaImage *image)
{
  const float sat = (float) image->meta.saturation;
  if (!isfinite (image->meta.saturation))
    return;
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        size_t i = dia_image_index (image, x, y);
        if (!(image->mask[i] & DIA_MASK_NO_DATA) && image->pix[i] >= sat)
          image->mask[i] |= DIA_MASK_SAT;
      }
}

/* Names of DiaVarianceOrigin values in the DS_VARORIGIN card, in enum order. */
static const char *const variance_origin_names[] = { "FROM_FILE", "FROM_SIGMA_FILE", "ESTIMATED",
                                                     "COMPUTED", "SIMULATED" };

static DiaVarianceOrigin
origin_from_name (const char *name, DiaVarianceOrigin fallback)
{
  for (guint k = 0; k < G_N_ELEMENTS (variance_origin_names); k++)
    if (g_ascii_strcasecmp (name, variance_origin_names[k]) == 0)
      return (DiaVarianceOrigin) k;
  return fallback;
}

const char *
_dia_fits_variance_origin_name (DiaVarianceOrigin origin)
{
  return (guint) origin < G_N_ELEMENTS (variance_origin_names) ? variance_origin_names[origin]
                                                                : "COMPUTED";
}

/* Reads the image (and, for the LSST layout, mask and variance) of an open, classified
 * source into a new unfrozen image with header, WCS and metadata; the variance is left as
 * read, or zero when the source has none (*has_var tells which). */
static DiaImage *
read_source (FitsSource *src, gboolean *has_var, GError **error)
{
  g_autoptr (DiaImage) image = NULL;
  g_autofree char *img_hdr = NULL, *prim_hdr = NULL, *mask_hdr = NULL;
  g_autoptr (GError) wcs_error = NULL;
  int n_img = 0, n_prim = 0, n_mask = 0;
  HeaderText hdrs[2];
  int n_hdrs = 0;
  char val[sizeof ((DiaImageMeta *) NULL)->variance_note];

  *has_var = FALSE;
  image = dia_image_new (src->width, src->height, error);
  if (image == NULL)
    {
      g_prefix_error (error, "%s: ", src->path);
      return NULL;
    }
  img_hdr = hdu_dup_header (src, src->image_hdu, &n_img, error);
  if (img_hdr == NULL)
    return NULL;
  hdrs[n_hdrs++] = (HeaderText) { img_hdr, n_img };
  if (src->image_hdu != 1 && !src->named)
    {
      prim_hdr = hdu_dup_header (src, 1, &n_prim, error);
      if (prim_hdr == NULL)
        return NULL;
      hdrs[n_hdrs++] = (HeaderText) { prim_hdr, n_prim };
    }
  else if (src->named)
    {
      /* A named extension still inherits exposure metadata from the primary. */
      int cur = 0;
      fits_get_hdu_num (src->f, &cur);
      if (cur != 1)
        {
          prim_hdr = hdu_dup_header (src, 1, &n_prim, NULL);
          if (prim_hdr)
            hdrs[n_hdrs++] = (HeaderText) { prim_hdr, n_prim };
        }
    }

  if (!read_plane (src, src->image_hdu, image, PLANE_PIX, error))
    return NULL;
  if (src->variance_hdu)
    {
      if (!read_plane (src, src->variance_hdu, image, PLANE_VAR, error))
        return NULL;
      *has_var = TRUE;
    }
  if (src->mask_hdu)
    {
      FileMaskPlanes planes = { 0 };
      if (!read_plane (src, src->mask_hdu, image, PLANE_MASK, error))
        return NULL;
      mask_hdr = hdu_dup_header (src, src->mask_hdu, &n_mask, error);
      if (mask_hdr == NULL)
        return NULL;
      file_mask_planes_parse (&planes, mask_hdr, n_mask);
      if (!planes.any)
        file_mask_planes_parse (&planes, prim_hdr, n_prim);
      remap_mask (image, &planes);
      file_mask_planes_clear (&planes);
    }

  dia_image_set_header (image, img_hdr, n_img);
  meta_from_headers (&image->meta, hdrs, n_hdrs);
  {
    static const char *const ltv1[] = { "LTV1", NULL }, *const ltv2[] = { "LTV2", NULL };
    double l1 = header_number (hdrs, 1, ltv1), l2 = header_number (hdrs, 1, ltv2);
    if (isfinite (l1) && fabs (l1) < G_MAXINT / 2)
      image->x0 = (int) lround (-l1);
    if (isfinite (l2) && fabs (l2) < G_MAXINT / 2)
      image->y0 = (int) lround (-l2);
  }
  image->wcs = dia_wcs_from_header (img_hdr, n_img, &wcs_error);
  if (wcs_error)
    g_debug ("%s: the WCS was not usable and is ignored: %s", src->path, wcs_error->message);
  if (*has_var)
    {
      image->meta.variance_origin = DIA_VARIANCE_FROM_FILE;
      g_snprintf (image->meta.variance_note, sizeof image->meta.variance_note,
                  "from the VARIANCE HDU of the file");
      if (header_lookup (hdrs, n_hdrs, "DS_VARORIGIN", val, sizeof val))
        image->meta.variance_origin = origin_from_name (val, DIA_VARIANCE_FROM_FILE);
      if (header_lookup (hdrs, n_hdrs, "DS_VARNOTE", val, sizeof val) && val[0])
        g_strlcpy (image->meta.variance_note, val, sizeof image->meta.variance_note);
    }
  if (src->named || src->image_hdu == 1 || src->lsst)
    dia_image_set_source (image, src->path);
  else
    {
      g_autofree char *source = g_strdup_printf ("%s[%d]", src->path, src->image_hdu - 1);
      dia_image_set_source (image, source);
    }
  return g_steal_pointer (&image);
}

static gboolean
finish_image (DiaImage *image, gboolean has_var, GError **error)
{
  flag_no_data (image, has_var);
  if (!has_var && !estimate_variance (image, error))
    return FALSE;
  flag_saturated (image);
  return TRUE;
}

/* Reads one image, detecting the layout (see dia-fits.h).  Returns a new frozen image owned
 * by the caller, or NULL with error set (DIA_ERROR_IO, _FORMAT, _SIZE_MISMATCH, _NO_MEMORY).
 * Thread-safe. */
DiaImage *
dia_fits_read_image (const char *path, GError **error)
{
  FitsSource src;
  g_autoptr (DiaImage) image = NULL;
  gboolean has_var = FALSE;

  g_return_val_if_fail (path != NULL, NULL);
  if (!fits_source_open (&src, path, error))
    return NULL;
  if (fits_source_classify (&src, TRUE, error))
    image = read_source (&src, &has_var, error);
  fits_source_close (&src);
  if (image == NULL || !finish_image (image, has_var, error))
    return NULL;
  dia_image_freeze (image);
  return g_steal_pointer (&image);
}

/* Reads a single plane file (variance, σ or mask) onto image's grid. */
static gboolean
read_extra_plane (DiaImage *image, const char *image_path, const char *path, PlaneKind kind,
                  GError **error)
{
  FitsSource src;
  gboolean ok = FALSE;

  if (!fits_source_open (&src, path, error))
    return FALSE;
  if (!fits_source_classify (&src, FALSE, error))
    goto out;
  if (src.width != image->width || src.height != image->height)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                   _("%s is %d×%d but the image %s is %d×%d; the %s file must be on the same "
                     "pixel grid"), path, src.width, src.height, image_path, image->width,
                   image->height, kind == PLANE_MASK ? _("mask") : _("variance"));
      goto out;
    }
  if (!read_plane (&src, src.image_hdu, image, kind, error))
    goto out;
  if (kind == PLANE_MASK)
    {
      FileMaskPlanes planes = { 0 };
      int n = 0;
      g_autofree char *hdr = hdu_dup_header (&src, src.image_hdu, &n, error);
      if (hdr == NULL)
        goto out;
      file_mask_planes_parse (&planes, hdr, n);
      remap_mask (image, &planes);
      file_mask_planes_clear (&planes);
    }
  ok = TRUE;
out:
  fits_source_close (&src);
  return ok;
}

/* Layout 3 of dia-fits.h.  The image file is read as by dia_fits_read_image (an LSST file's
 * own planes are replaced by the given ones).  Returns a new frozen image, or NULL with error
 * (DIA_ERROR_SIZE_MISMATCH when a plane's size differs).  Thread-safe. */
DiaImage *
dia_fits_read_with_planes (const char *image_path, const char *variance_path,
                           gboolean variance_is_sigma, const char *mask_path, GError **error)
{
  FitsSource src;
  g_autoptr (DiaImage) image = NULL;
  gboolean has_var = FALSE;

  g_return_val_if_fail (image_path != NULL, NULL);
  if (!fits_source_open (&src, image_path, error))
    return NULL;
  if (fits_source_classify (&src, TRUE, error))
    image = read_source (&src, &has_var, error);
  fits_source_close (&src);
  if (image == NULL)
    return NULL;
  if (variance_path)
    {
      if (!read_extra_plane (image, image_path, variance_path,
                             variance_is_sigma ? PLANE_SIGMA : PLANE_VAR, error))
        return NULL;
      has_var = TRUE;
      image->meta.variance_origin = variance_is_sigma ? DIA_VARIANCE_FROM_SIGMA_FILE
                                                      : DIA_VARIANCE_FROM_FILE;
      g_snprintf (image->meta.variance_note, sizeof image->meta.variance_note,
                  variance_is_sigma ? "squared noise map %s" : "variance file %s",
                  variance_path);
    }
  if (mask_path)
    {
      for (int i = DIA_MASK_FIRST_EXTRA_BIT; i < DIA_MASK_MAX_PLANES; i++)
        g_clear_pointer (&image->plane_names[i], g_free);
      if (!read_extra_plane (image, image_path, mask_path, PLANE_MASK, error))
        return NULL;
    }
  if (!finish_image (image, has_var, error))
    return NULL;
  dia_image_freeze (image);
  return g_steal_pointer (&image);
}

/* ------------------------------------------------------------------------------------------ */
/* Description                                                                                */

static void
info_hdus (GString *out, FitsSource *src)
{
  for (int hdu = 1; hdu <= src->n_hdus; hdu++)
    {
      int type = 0, status = 0, bitpix = 0, naxis = 0;
      LONGLONG naxes[9] = { 0 };
      char name[FLEN_VALUE], etype[FLEN_VALUE], zcmp[FLEN_VALUE] = "";
      const char *kind;

      if (fits_movabs_hdu (src->f, hdu, &type, &status) != 0)
        {
          g_string_append_printf (out, _("  HDU %d: unreadable (cfitsio status %d)\n"), hdu,
                                  status);
          fits_clear_errmsg ();
          break;
        }
      hdu_name (src->f, name, etype);
      g_string_append_printf (out, "  HDU %d [%d]", hdu, hdu - 1);
      if (name[0])
        g_string_append_printf (out, " EXTNAME=%s", name);
      if (etype[0] && g_strcmp0 (etype, name) != 0)
        g_string_append_printf (out, " EXTTYPE=%s", etype);
      if (type == IMAGE_HDU)
        {
          int compressed = fits_is_compressed_image (src->f, &status);
          fits_get_img_paramll (src->f, 9, &bitpix, &naxis, naxes, &status);
          if (compressed)
            {
              int s2 = 0;
              if (fits_read_key (src->f, TSTRING, "ZCMPTYPE", zcmp, NULL, &s2) != 0)
                g_strlcpy (zcmp, "?", sizeof zcmp);
            }
          kind = compressed ? _("compressed image") : _("image");
          g_string_append_printf (out, ": %s, BITPIX=%d, NAXIS=%d", kind, bitpix, naxis);
          for (int k = 0; k < naxis && k < 9; k++)
            g_string_append_printf (out, "%s%lld", k == 0 ? " (" : "×", (long long) naxes[k]);
          if (naxis > 0)
            g_string_append (out, ")");
          if (naxis == 0)
            g_string_append (out, _(", no data"));
          if (zcmp[0])
            g_string_append_printf (out, _(", %s compression"), g_strstrip (zcmp));
        }
      else
        {
          long nrows = 0;
          int ncols = 0;
          fits_get_num_rows (src->f, &nrows, &status);
          fits_get_num_cols (src->f, &ncols, &status);
          kind = type == BINARY_TBL ? _("binary table") : _("ASCII table");
          g_string_append_printf (out, _(": %s, %d columns × %ld rows"), kind, ncols, nrows);
        }
      g_string_append_c (out, '\n');
      fits_clear_errmsg ();
    }
}

static void
info_meta_number (GString *out, const char *label, double v, const char *unit)
{
  if (isfinite (v))
    g_string_append_printf (out, "    %-11s %.10g%s%s\n", label, v, unit[0] ? " " : "", unit);
}

static void
info_image (GString *out, const DiaImage *image)
{
  static const char *const origins[] = { N_("from file"), N_("from a noise (σ) map"),
                                         N_("estimated"), N_("computed"), N_("simulated") };
  const DiaImageMeta *m = &image->meta;
  gint64 counts[DIA_MASK_MAX_PLANES] = { 0 };
  g_autofree char *wcs = dia_wcs_dup_summary (image->wcs, image->width, image->height);
  DiaStats st;
  g_autoptr (GError) err = NULL;

  g_string_append_printf (out, _("Image: %s\n"), image->source ? image->source : "?");
  g_string_append_printf (out, _("  size %d × %d px, origin x0=%d y0=%d\n"), image->width,
                          image->height, image->x0, image->y0);
  g_string_append_printf (out, _("  WCS: %s\n"), wcs);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        DiaMask v = image->mask[dia_image_index (image, x, y)];
        while (v)
          {
            counts[__builtin_ctz (v)]++;
            v &= v - 1;
          }
      }
  {
    int n_planes = 0;
    for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
      n_planes += image->plane_names[b] != NULL;
    g_string_append_printf (out, _("  mask planes (%d):"), n_planes);
  }
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    if (image->plane_names[b])
      g_string_append_printf (out, " %s(bit %d)=%" G_GINT64_FORMAT, image->plane_names[b], b,
                              counts[b]);
  g_string_append_c (out, '\n');
  g_string_append (out, _("  metadata:\n"));
  info_meta_number (out, _("gain"), m->gain, "e-/unit");
  info_meta_number (out, _("read noise"), m->read_noise, "");
  info_meta_number (out, _("saturation"), m->saturation, "");
  info_meta_number (out, _("exptime"), m->exptime, "s");
  info_meta_number (out, _("MJD"), m->mjd, "");
  info_meta_number (out, _("zeropoint"), m->zeropoint, "mag");
  info_meta_number (out, _("PSF FWHM"), m->psf_fwhm, "px");
  info_meta_number (out, _("sky"), m->sky, "");
  if (m->filter[0])
    g_string_append_printf (out, "    %-11s %s\n", _("filter"), m->filter);
  if (m->object[0])
    g_string_append_printf (out, "    %-11s %s\n", _("object"), m->object);
  if (m->bunit[0])
    g_string_append_printf (out, "    %-11s %s\n", _("unit"), m->bunit);
  g_string_append_printf (out, _("  variance: %s (%s)\n"),
                          (guint) m->variance_origin < G_N_ELEMENTS (origins)
                              ? _(origins[m->variance_origin]) : "?",
                          m->variance_note);
  if (dia_stats_image (image, NULL, FALSE, DIA_MASK_NO_DATA, 0, &st, &err))
    g_string_append_printf (out,
                            _("  statistics: median %.6g, robust σ %.6g, min %.6g, max %.6g, "
                              "NO_DATA %lld px\n"),
                            st.median, st.robust_sigma, st.min, st.max,
                            (long long) counts[__builtin_ctz (DIA_MASK_NO_DATA)]);
}

/* A multi-line description of path for `diffscope-cli info`: every HDU, then the image that
 * dia_fits_read_image() loads.  Returns a newly allocated string, or NULL with error when the
 * file cannot be opened or its image cannot be loaded (the error says why).  Thread-safe. */
char *
dia_fits_dup_info (const char *path, GError **error)
{
  FitsSource src;
  GString *out;
  g_autoptr (DiaImage) image = NULL;
  g_autoptr (GError) load_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!fits_source_open (&src, path, error))
    return NULL;
  out = g_string_new (NULL);
  g_string_append_printf (out, _("%s: %d HDU(s)\n"), path, src.n_hdus);
  info_hdus (out, &src);
  fits_source_close (&src);

  image = dia_fits_read_image (path, &load_error);
  if (image == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&load_error));
      g_string_free (out, TRUE);
      return NULL;
    }
  info_image (out, image);
  return g_string_free (out, FALSE);
}
