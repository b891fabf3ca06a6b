/* dia-image.c — allocation, reference counting, views and plane dictionaries of DiaImage.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-image.h"
#include "dia-error.h"
#include "dia-wcs.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <wcslib/wcs.h>

/* Largest side we accept: 2^17 px.  A 131072^2 float plane is 64 GiB, already beyond any
 * machine this runs on; larger NAXISn values can only come from a corrupt header. */
#define IMAGE_MAX_SIDE (1 << 17)

static const char *const core_plane_names[DIA_MASK_N_CORE] = {
  "BAD", "SAT", "INTRP", "CR", "EDGE", "DETECTED", "DETECTED_NEGATIVE", "SUSPECT", "NO_DATA",
  "FAKE", "STREAK",
};

/* calloc, not posix_memalign + memset: large blocks come zeroed from mmap, so a plane that a
 * stage is about to overwrite is not first cleared by a separate pass over 64 MB (the pages are
 * touched once, by the stage).  The block starts 64-byte aligned; the pointer calloc returned
 * is kept just before it for dia_aligned_free(). */
gpointer
dia_aligned_alloc0 (size_t n_bytes)
{
  const size_t extra = 64 + sizeof (void *);
  guint8 *raw, *aligned;

  if (n_bytes > G_MAXSIZE - extra)
    return NULL;
  raw = calloc (1, n_bytes + extra);
  if (raw == NULL)
    return NULL;
  aligned = (guint8 *) (((guintptr) raw + sizeof (void *) + 63) & ~(guintptr) 63);
  ((void **) aligned)[-1] = raw;
  return aligned;
}

void
dia_aligned_free (gpointer p)
{
  if (p != NULL)
    free (((void **) p)[-1]);
}

DiaRect
dia_rect_intersect (const DiaRect *a, const DiaRect *b)
{
  DiaRect r;
  int x1 = MAX (a->x, b->x), y1 = MAX (a->y, b->y);
  int x2 = MIN (a->x + a->width, b->x + b->width), y2 = MIN (a->y + a->height, b->y + b->height);
  r.x = x1;
  r.y = y1;
  r.width = MAX (0, x2 - x1);
  r.height = MAX (0, y2 - y1);
  return r;
}

gboolean
dia_rect_contains (const DiaRect *outer, const DiaRect *inner)
{
  return inner->x >= outer->x && inner->y >= outer->y
         && inner->x + inner->width <= outer->x + outer->width
         && inner->y + inner->height <= outer->y + outer->height;
}

static void
image_init_meta (DiaImageMeta *m)
{
  memset (m, 0, sizeof *m);
  m->gain = m->read_noise = m->saturation = m->exptime = NAN;
  m->mjd = m->zeropoint = m->psf_fwhm = m->sky = NAN;
  m->variance_origin = DIA_VARIANCE_COMPUTED;
}

static DiaImage *
image_alloc_shell (int width, int height)
{
  DiaImage *image = g_new0 (DiaImage, 1);
  image->ref_count = 1;
  image->width = width;
  image->height = height;
  image_init_meta (&image->meta);
  for (int i = 0; i < DIA_MASK_N_CORE; i++)
    image->plane_names[i] = g_strdup (core_plane_names[i]);
  return image;
}

DiaImage *
dia_image_new (int width, int height, GError **error)
{
  DiaImage *image;
  size_t n;

  if (width <= 0 || height <= 0 || width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Image size %d×%d is not supported (each side must be 1 to %d pixels)"),
                   width, height, IMAGE_MAX_SIDE);
      return NULL;
    }
  image = image_alloc_shell (width, height);
  image->stride = (size_t) width;
  n = (size_t) width * (size_t) height;
  image->pix = dia_aligned_alloc0 (n * sizeof (float));
  image->var = dia_aligned_alloc0 (n * sizeof (float));
  image->mask = dia_aligned_alloc0 (n * sizeof (DiaMask));
  if (!image->pix || !image->var || !image->mask)
    {
      dia_image_unref (image);
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Not enough memory for a %d×%d image"), width, height);
      return NULL;
    }
  return image;
}

DiaImage *
dia_image_ref (DiaImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_int_inc (&image->ref_count);
  return image;
}

void
dia_image_unref (DiaImage *image)
{
  if (image == NULL || !g_atomic_int_dec_and_test (&image->ref_count))
    return;
  if (image->parent)
    dia_image_unref (image->parent);
  else
    {
      dia_aligned_free (image->pix);
      dia_aligned_free (image->var);
      dia_aligned_free (image->mask);
    }
  for (int i = 0; i < DIA_MASK_MAX_PLANES; i++)
    g_free (image->plane_names[i]);
  dia_wcs_free (image->wcs);
  g_free (image->header);
  g_free (image->source);
  g_free (image);
}

void
dia_image_freeze (DiaImage *image)
{
  g_return_if_fail (image != NULL);
  image->frozen = TRUE;
}

static void
image_copy_descriptors (DiaImage *dst, const DiaImage *src)
{
  dia_image_copy_plane_names (dst, src);
  dst->meta = src->meta;
  dst->x0 = src->x0;
  dst->y0 = src->y0;
  if (src->header)
    dia_image_set_header (dst, src->header, src->n_header_cards);
  dia_image_set_source (dst, src->source);
  if (src->wcs)
    dia_image_take_wcs (dst, dia_wcs_copy (src->wcs));
}

DiaImage *
dia_image_crop (DiaImage *image, const DiaRect *rect, GError **error)
{
  DiaRect whole = { 0, 0, image->width, image->height };
  DiaImage *view;
  size_t off;

  g_return_val_if_fail (image != NULL && rect != NULL, NULL);
  if (dia_rect_is_empty (rect) || !dia_rect_contains (&whole, rect))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Region %d,%d %d×%d lies outside the %d×%d image"), rect->x, rect->y,
                   rect->width, rect->height, image->width, image->height);
      return NULL;
    }
  view = image_alloc_shell (rect->width, rect->height);
  image_copy_descriptors (view, image);
  if (view->wcs)
    dia_wcs_shift (view->wcs, rect->x, rect->y);
  view->x0 = image->x0 + rect->x;
  view->y0 = image->y0 + rect->y;
  view->stride = image->stride;
  off = dia_image_index (image, rect->x, rect->y);
  view->pix = image->pix + off;
  view->var = image->var + off;
  view->mask = image->mask + off;
  view->parent = dia_image_ref (image);
  view->frozen = image->frozen;
  return view;
}

DiaImage *
dia_image_new_like (const DiaImage *like, GError **error)
{
  DiaImage *image = dia_image_new (like->width, like->height, error);
  if (image == NULL)
    return NULL;
  image_copy_descriptors (image, like);
  return image;
}

DiaImage *
dia_image_copy (const DiaImage *src, GError **error)
{
  DiaImage *dst = dia_image_new_like (src, error);
  if (dst == NULL)
    return NULL;
  for (int y = 0; y < src->height; y++)
    {
      size_t is = dia_image_index (src, 0, y), id = dia_image_index (dst, 0, y);
      memcpy (dst->pix + id, src->pix + is, sizeof (float) * src->width);
      memcpy (dst->var + id, src->var + is, sizeof (float) * src->width);
      memcpy (dst->mask + id, src->mask + is, sizeof (DiaMask) * src->width);
    }
  return dst;
}

DiaMask
dia_image_mask_bit (const DiaImage *image, const char *name)
{
  for (int i = 0; i < DIA_MASK_MAX_PLANES; i++)
    if (image->plane_names[i] && g_ascii_strcasecmp (image->plane_names[i], name) == 0)
      return 1u << i;
  return 0;
}

DiaMask
dia_image_add_mask_plane (DiaImage *image, const char *name)
{
  DiaMask bit = dia_image_mask_bit (image, name);
  if (bit)
    return bit;
  for (int i = DIA_MASK_FIRST_EXTRA_BIT; i < DIA_MASK_MAX_PLANES; i++)
    if (image->plane_names[i] == NULL)
      {
        image->plane_names[i] = g_ascii_strup (name, -1);
        return 1u << i;
      }
  return 0;
}

void
dia_image_copy_plane_names (DiaImage *dst, const DiaImage *src)
{
  for (int i = 0; i < DIA_MASK_MAX_PLANES; i++)
    {
      g_free (dst->plane_names[i]);
      dst->plane_names[i] = g_strdup (src->plane_names[i]);
    }
}

void
dia_image_set_header (DiaImage *image, const char *cards, int n_cards)
{
  g_free (image->header);
  image->header = NULL;
  image->n_header_cards = 0;
  if (cards && n_cards > 0)
    {
      image->header = g_malloc ((size_t) n_cards * 80 + 1);
      memcpy (image->header, cards, (size_t) n_cards * 80);
      image->header[(size_t) n_cards * 80] = '\0';
      image->n_header_cards = n_cards;
    }
}

void
dia_image_set_source (DiaImage *image, const char *source)
{
  if (source == image->source)
    return;
  g_free (image->source);
  image->source = g_strdup (source);
}

void
dia_image_take_wcs (DiaImage *image, struct wcsprm *wcs)
{
  if (image->wcs == wcs)
    return;
  dia_wcs_free (image->wcs);
  image->wcs = wcs;
}
