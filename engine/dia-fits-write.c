/* dia-fits-write.c — writing images with cfitsio, and the header-card builder.
 *
 * dia_fits_write_image() produces the LSST layout (empty primary with provenance cards, IMAGE,
 * MASK with MP_* keys, VARIANCE) that dia-fits.c, afw, astropy and DS9 read; NO_DATA pixels are
 * written as NaN.  dia_fits_write_plane()/dia_fits_append_plane() write plain float32 HDUs.
 * Keys longer than 8 characters or in lower case become HIERARCH cards.  Every call opens and
 * closes its own fitsfile, so any thread may call these concurrently.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-fits.h"
#include "dia-fits-private.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-wcs.h"

#include <fitsio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Header cards to write                                                                      */

typedef enum
{
  CARD_STRING,
  CARD_DOUBLE,
  CARD_INT,
  CARD_BOOL,
} CardType;

typedef struct
{
  char *key;
  char *comment;
  CardType type;
  char *s;
  double d;
  gint64 i;
  gboolean b;
} HeaderCard;

struct _DiaHeaderCards
{
  GPtrArray *cards; /* HeaderCard *, in insertion order */
};

static void
header_card_free (gpointer data)
{
  HeaderCard *c = data;
  g_free (c->key);
  g_free (c->comment);
  g_free (c->s);
  g_free (c);
}

/* Returns a new, empty list of cards; free with dia_header_cards_free().  Not thread-safe:
 * one owner adds cards, then any thread may pass it (read-only) to the writers. */
DiaHeaderCards *
dia_header_cards_new (void)
{
  DiaHeaderCards *cards = g_new0 (DiaHeaderCards, 1);
  cards->cards = g_ptr_array_new_with_free_func (header_card_free);
  return cards;
}

void
dia_header_cards_free (DiaHeaderCards *cards)
{
  if (cards == NULL)
    return;
  g_ptr_array_unref (cards->cards);
  g_free (cards);
}

static HeaderCard *
header_cards_push (DiaHeaderCards *cards, const char *key, const char *comment, CardType type)
{
  HeaderCard *c = g_new0 (HeaderCard, 1);
  c->key = g_strdup (key);
  c->comment = g_strdup (comment);
  c->type = type;
  g_ptr_array_add (cards->cards, c);
  return c;
}

/* The add functions copy key, value and comment (comment may be NULL).  A key added twice is
 * written once, with the last value. */
void
dia_header_cards_add_string (DiaHeaderCards *cards, const char *key, const char *value,
                             const char *comment)
{
  g_return_if_fail (cards != NULL && key != NULL);
  header_cards_push (cards, key, comment, CARD_STRING)->s = g_strdup (value ? value : "");
}

/* Non-finite values cannot be represented in FITS and are skipped when writing. */
void
dia_header_cards_add_double (DiaHeaderCards *cards, const char *key, double value,
                             const char *comment)
{
  g_return_if_fail (cards != NULL && key != NULL);
  header_cards_push (cards, key, comment, CARD_DOUBLE)->d = value;
}

void
dia_header_cards_add_int (DiaHeaderCards *cards, const char *key, gint64 value,
                          const char *comment)
{
  g_return_if_fail (cards != NULL && key != NULL);
  header_cards_push (cards, key, comment, CARD_INT)->i = value;
}

void
dia_header_cards_add_bool (DiaHeaderCards *cards, const char *key, gboolean value,
                           const char *comment)
{
  g_return_if_fail (cards != NULL && key != NULL);
  header_cards_push (cards, key, comment, CARD_BOOL)->b = value;
}

/* cfitsio writes a standard card only for names of at most 8 characters from [A-Z0-9_-];
 * anything else is spelt out as HIERARCH so that case and length survive. */
static char *
fits_key_name (const char *key)
{
  gboolean plain = strlen (key) <= 8 && key[0] != '\0';
  if (g_str_has_prefix (key, "HIERARCH "))
    return g_strdup (key);
  for (const char *p = key; plain && *p; p++)
    if (!(g_ascii_isupper (*p) || g_ascii_isdigit (*p) || *p == '_' || *p == '-'))
      plain = FALSE;
  return plain ? g_strdup (key) : g_strconcat ("HIERARCH ", key, NULL);
}

static void
fits_put_string (fitsfile *f, const char *key, const char *value, const char *comment,
                 int *status)
{
  g_autofree char *name = fits_key_name (key);
  if (strlen (value) > 68)
    fits_update_key_longstr (f, name, value, comment, status);
  else
    fits_update_key_str (f, name, value, comment, status);
}

static void
fits_put_double (fitsfile *f, const char *key, double value, const char *comment, int *status)
{
  g_autofree char *name = fits_key_name (key);
  if (!isfinite (value))
    return;
  /* 17 significant digits make every double round-trip exactly. */
  fits_update_key_dbl (f, name, value, -17, comment, status);
}

static void
fits_put_int (fitsfile *f, const char *key, gint64 value, const char *comment, int *status)
{
  g_autofree char *name = fits_key_name (key);
  fits_update_key_lng (f, name, (LONGLONG) value, comment, status);
}

static void
header_cards_write (fitsfile *f, const DiaHeaderCards *cards, int *status)
{
  if (cards == NULL)
    return;
  for (guint k = 0; k < cards->cards->len && *status == 0; k++)
    {
      const HeaderCard *c = g_ptr_array_index (cards->cards, k);
      g_autofree char *name = fits_key_name (c->key);
      switch (c->type)
        {
        case CARD_STRING:
          fits_put_string (f, c->key, c->s, c->comment, status);
          break;
        case CARD_DOUBLE:
          fits_put_double (f, c->key, c->d, c->comment, status);
          break;
        case CARD_INT:
          fits_put_int (f, c->key, c->i, c->comment, status);
          break;
        case CARD_BOOL:
          fits_update_key_log (f, name, c->b ? 1 : 0, c->comment, status);
          break;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                    */

static char *
create_path (const char *path)
{
  /* cfitsio refuses to overwrite unless the name starts with '!'. */
  return path[0] == '!' ? g_strdup (path) : g_strconcat ("!", path, NULL);
}

static void
write_meta (fitsfile *f, const DiaImageMeta *m, int *status)
{
  fits_put_double (f, "GAIN", m->gain, "e-/unit", status);
  fits_put_double (f, "RDNOISE", m->read_noise, "read noise, e-", status);
  fits_put_double (f, "SATURATE", m->saturation, "saturation level, pix units", status);
  fits_put_double (f, "EXPTIME", m->exptime, "exposure time, s", status);
  fits_put_double (f, "MJD-OBS", m->mjd, "MJD of exposure start", status);
  fits_put_double (f, "MAGZERO", m->zeropoint, "magnitude of one pix unit of flux", status);
  fits_put_double (f, "FWHM", m->psf_fwhm, "PSF FWHM, px", status);
  fits_put_double (f, "DS_SKY", m->sky, "robust background level, pix units", status);
  if (m->filter[0])
    fits_put_string (f, "FILTER", m->filter, NULL, status);
  if (m->object[0])
    fits_put_string (f, "OBJECT", m->object, NULL, status);
  if (m->bunit[0])
    fits_put_string (f, "BUNIT", m->bunit, NULL, status);
  fits_put_string (f, "DS_VARORIGIN", _dia_fits_variance_origin_name (m->variance_origin),
                   "how the variance plane was obtained", status);
  if (m->variance_note[0])
    fits_put_string (f, "DS_VARNOTE", m->variance_note, NULL, status);
}

/* WCS, xy0 (LTV and the LSST "A" WCS) and names for one of the three planes. */
static void
write_plane_keys (fitsfile *f, const DiaImage *image, const char *extname, int *status)
{
  int n_wcs = 0;
  g_autofree char *wcs_cards = NULL;

  fits_update_key_str (f, "EXTNAME", extname, NULL, status);
  fits_update_key_str (f, "EXTTYPE", extname, NULL, status);
  fits_update_key_log (f, "INHERIT", 1, "primary keywords apply", status);
  if (image->wcs)
    wcs_cards = dia_wcs_dup_header (image->wcs, &n_wcs);
  for (int k = 0; k < n_wcs && *status == 0; k++)
    {
      char card[81];
      memcpy (card, wcs_cards + (size_t) k * 80, 80);
      card[80] = '\0';
      if (strncmp (card, "COMMENT", 7) == 0 || strncmp (card, "        ", 8) == 0)
        continue;
      fits_write_record (f, card, status);
    }
  fits_update_key_lng (f, "LTV1", -(LONGLONG) image->x0, "-x0: PARENT = buffer + x0", status);
  fits_update_key_lng (f, "LTV2", -(LONGLONG) image->y0, "-y0: PARENT = buffer + y0", status);
  if (image->x0 != 0 || image->y0 != 0)
    {
      fits_update_key_str (f, "CTYPE1A", "LINEAR", "PARENT pixel frame", status);
      fits_update_key_str (f, "CTYPE2A", "LINEAR", "PARENT pixel frame", status);
      fits_update_key_lng (f, "CRPIX1A", 1, NULL, status);
      fits_update_key_lng (f, "CRPIX2A", 1, NULL, status);
      fits_update_key_lng (f, "CRVAL1A", image->x0, "x0", status);
      fits_update_key_lng (f, "CRVAL2A", image->y0, "y0", status);
      fits_update_key_str (f, "CUNIT1A", "PIXEL", NULL, status);
      fits_update_key_str (f, "CUNIT2A", "PIXEL", NULL, status);
    }
}

typedef enum
{
  WRITE_PIX,
  WRITE_VAR,
  WRITE_MASK,
} WriteKind;

static void
write_image_rows (fitsfile *f, const DiaImage *image, WriteKind kind, int *status)
{
  const int w = image->width;
  g_autofree float *row = g_try_new (float, w);
  g_autofree gint32 *mrow = g_try_new (gint32, w);

  if (row == NULL || mrow == NULL)
    {
      *status = MEMORY_ALLOCATION;
      return;
    }
  for (int y = 0; y < image->height && *status == 0; y++)
    {
      LONGLONG first[2] = { 1, y + 1 };
      size_t o = dia_image_index (image, 0, y);
      if (kind == WRITE_MASK)
        {
          for (int x = 0; x < w; x++)
            mrow[x] = (gint32) image->mask[o + x];
          fits_write_pixll (f, TINT, first, w, mrow, status);
          continue;
        }
      for (int x = 0; x < w; x++)
        {
          float v = kind == WRITE_PIX ? image->pix[o + x] : image->var[o + x];
          row[x] = (image->mask[o + x] & DIA_MASK_NO_DATA) ? NAN : v;
        }
      fits_write_pixll (f, TFLOAT, first, w, row, status);
    }
}

/* Writes image to path in the LSST layout (see dia-fits.h); cards (may be NULL) go into the
 * primary header with the metadata.  Overwrites path.  Thread-safe; image is only read. */
gboolean
dia_fits_write_image (const char *path, const DiaImage *image, const DiaHeaderCards *cards,
                      GError **error)
{
  fitsfile *f = NULL;
  int status = 0, close_status = 0;
  long naxes[2];
  g_autofree char *cpath = NULL;

  g_return_val_if_fail (path != NULL && image != NULL, FALSE);
  naxes[0] = image->width;
  naxes[1] = image->height;
  cpath = create_path (path);
  if (fits_create_file (&f, cpath, &status) != 0)
    return _dia_fits_fail (error, status, path, _("cannot be created (is the folder writable?)"));
  fits_create_img (f, BYTE_IMG, 0, NULL, &status);
  write_meta (f, &image->meta, &status);
  header_cards_write (f, cards, &status);

  fits_create_img (f, FLOAT_IMG, 2, naxes, &status);
  write_plane_keys (f, image, "IMAGE", &status);
  if (image->meta.bunit[0])
    fits_update_key_str (f, "BUNIT", image->meta.bunit, NULL, &status);
  write_image_rows (f, image, WRITE_PIX, &status);

  fits_create_img (f, LONG_IMG, 2, naxes, &status);
  write_plane_keys (f, image, "MASK", &status);
  for (int b = 0; b < DIA_MASK_MAX_PLANES && status == 0; b++)
    if (image->plane_names[b])
      {
        g_autofree char *key = g_strconcat ("MP_", image->plane_names[b], NULL);
        fits_put_int (f, key, b, NULL, &status);
      }
  write_image_rows (f, image, WRITE_MASK, &status);

  fits_create_img (f, FLOAT_IMG, 2, naxes, &status);
  write_plane_keys (f, image, "VARIANCE", &status);
  write_image_rows (f, image, WRITE_VAR, &status);

  fits_close_file (f, &close_status);
  if (status == 0)
    status = close_status;
  if (status != 0)
    {
      g_remove (path);
      return _dia_fits_fail (error, status, path, _("writing the image"));
    }
  return TRUE;
}

static gboolean
write_plane_hdu (fitsfile *f, const char *extname, const float *data, int width, int height,
                 size_t stride, const DiaHeaderCards *cards, int *status)
{
  long naxes[2] = { width, height };
  fits_create_img (f, FLOAT_IMG, 2, naxes, status);
  if (extname)
    fits_update_key_str (f, "EXTNAME", extname, NULL, status);
  header_cards_write (f, cards, status);
  for (int y = 0; y < height && *status == 0; y++)
    {
      LONGLONG first[2] = { 1, y + 1 };
      fits_write_pixll (f, TFLOAT, first, width, (void *) (data + (size_t) y * stride), status);
    }
  return *status == 0;
}

static gboolean
plane_args_ok (const float *data, int width, int height, size_t stride, GError **error)
{
  if (data == NULL || width <= 0 || height <= 0 || stride < (size_t) width)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Cannot write a %d×%d plane with row stride %zu"), width, height, stride);
      return FALSE;
    }
  return TRUE;
}

/* Writes one float32 plane as the primary HDU of a new file.  Overwrites path. */
gboolean
dia_fits_write_plane (const char *path, const float *data, int width, int height,
                      size_t stride, const DiaHeaderCards *cards, GError **error)
{
  fitsfile *f = NULL;
  int status = 0, close_status = 0;
  g_autofree char *cpath = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  if (!plane_args_ok (data, width, height, stride, error))
    return FALSE;
  cpath = create_path (path);
  if (fits_create_file (&f, cpath, &status) != 0)
    return _dia_fits_fail (error, status, path, _("cannot be created (is the folder writable?)"));
  write_plane_hdu (f, NULL, data, width, height, stride, cards, &status);
  fits_close_file (f, &close_status);
  if (status == 0)
    status = close_status;
  if (status != 0)
    {
      g_remove (path);
      return _dia_fits_fail (error, status, path, _("writing the plane"));
    }
  return TRUE;
}

/* Appends a float32 HDU named extname; creates the file (the plane becomes its primary HDU,
 * still named) when it does not exist. */
gboolean
dia_fits_append_plane (const char *path, const char *extname, const float *data, int width,
                       int height, size_t stride, const DiaHeaderCards *cards, GError **error)
{
  fitsfile *f = NULL;
  int status = 0, close_status = 0;

  g_return_val_if_fail (path != NULL && extname != NULL, FALSE);
  if (!plane_args_ok (data, width, height, stride, error))
    return FALSE;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (fits_open_file (&f, path, READWRITE, &status) != 0)
        return _dia_fits_fail (error, status, path, _("cannot be opened for appending"));
    }
  else
    {
      g_autofree char *cpath = create_path (path);
      if (fits_create_file (&f, cpath, &status) != 0)
        return _dia_fits_fail (error, status, path,
                          _("cannot be created (is the folder writable?)"));
    }
  write_plane_hdu (f, extname, data, width, height, stride, cards, &status);
  fits_close_file (f, &close_status);
  if (status == 0)
    status = close_status;
  if (status != 0)
    return _dia_fits_fail (error, status, path, _("appending a plane"));
  return TRUE;
}
