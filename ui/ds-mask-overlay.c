/* ds-mask-overlay.c — per-bit mask planes drawn as translucent colours over an image.
 *
 * Design.  The table maps upper-case plane names to entries; lookups happen once per render
 * (ds_mask_overlay_apply() resolves the image's 32 bits to colours first), so the pixel loop
 * only tests the mask value against the union of shown bits and blends the few masked pixels.
 * Sampling follows the contract of dia_render_region() (dia-render.h): output column c shows
 * image column floor(src_x + (c + ½)/zoom + ½), output row r (0 = top) image row
 * floor(src_y + (out_height − 1 − r + ½)/zoom + ½), so the overlay is pixel-exact over the
 * rendered image.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-mask-overlay.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  gboolean shown;
  guint32 rgb;
  double alpha;
} OverlayEntry;

struct _DsMaskOverlay
{
  gint ref_count;
  GHashTable *entries;          /* upper-case name (owned) → OverlayEntry (owned)          */
  guint serial;
};

DsMaskOverlay *
ds_mask_overlay_new (void)
{
  DsMaskOverlay *self = g_new0 (DsMaskOverlay, 1);

  self->ref_count = 1;
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

DsMaskOverlay *
ds_mask_overlay_ref (DsMaskOverlay *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
ds_mask_overlay_unref (DsMaskOverlay *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;
  g_hash_table_unref (self->entries);
  g_free (self);
}

guint32
ds_mask_overlay_default_colour (const char *name)
{
  static const struct
  {
    const char *name;
    guint32 rgb;
  } known[] = {
    { "BAD", 0xFF0000 }, { "SAT", 0x00FF00 }, { "EDGE", 0xFFFF00 },
    { "NO_DATA", 0xFFA500 }, { "CR", 0xFF00FF }, { "DETECTED", 0x0000FF },
    { "DETECTED_NEGATIVE", 0x00FFFF }, { "INTRP", 0x80FF80 }, { "SUSPECT", 0xFFC080 },
    { "FAKE", 0xA050FF }, { "STREAK", 0xFF6080 },
  };
  /* Other planes: a fixed palette indexed by the name's hash, so a name keeps its colour. */
  static const guint32 palette[] = { 0x8080FF, 0xFF8080, 0x80FFFF, 0xC0C040, 0x40C0C0,
                                     0xC040C0, 0xFFFFFF, 0x60A0FF };

  if (name == NULL)
    return palette[0];
  for (size_t i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_ascii_strcasecmp (name, known[i].name) == 0)
      return known[i].rgb;
  {
    g_autofree char *up = g_ascii_strup (name, -1);

    return palette[g_str_hash (up) % G_N_ELEMENTS (palette)];
  }
}

void
ds_mask_overlay_set_plane (DsMaskOverlay *self, const char *name, gboolean shown, guint32 rgb,
                           double alpha)
{
  OverlayEntry *e;

  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL);

  e = g_new (OverlayEntry, 1);
  e->shown = shown;
  e->rgb = rgb & 0xFFFFFFu;
  e->alpha = isfinite (alpha) ? CLAMP (alpha, 0.0, 1.0) : DS_MASK_OVERLAY_DEFAULT_ALPHA;
  g_hash_table_replace (self->entries, g_ascii_strup (name, -1), e);
  self->serial++;
}

void
ds_mask_overlay_get_plane (const DsMaskOverlay *self, const char *name, gboolean *shown,
                           guint32 *rgb, double *alpha)
{
  g_autofree char *up = NULL;
  const OverlayEntry *e = NULL;

  g_return_if_fail (self != NULL);
  if (name != NULL)
    {
      up = g_ascii_strup (name, -1);
      e = g_hash_table_lookup (self->entries, up);
    }
  if (shown != NULL)
    *shown = e != NULL ? e->shown : TRUE;
  if (rgb != NULL)
    *rgb = e != NULL ? e->rgb : ds_mask_overlay_default_colour (name);
  if (alpha != NULL)
    *alpha = e != NULL ? e->alpha : DS_MASK_OVERLAY_DEFAULT_ALPHA;
}

guint
ds_mask_overlay_get_serial (const DsMaskOverlay *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->serial;
}

GVariant *
ds_mask_overlay_to_variant (const DsMaskOverlay *self)
{
  GVariantBuilder b;
  g_autoptr (GList) keys = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{s(bsd)}"));
  /* Sorted, so equal tables give equal variants (GSettings then sees no change). */
  keys = g_list_sort (g_hash_table_get_keys (self->entries), (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const OverlayEntry *e = g_hash_table_lookup (self->entries, l->data);
      char colour[8];

      g_snprintf (colour, sizeof colour, "#%06x", e->rgb);
      g_variant_builder_add (&b, "{s(bsd)}", (const char *) l->data, e->shown, colour,
                             e->alpha);
    }
  return g_variant_builder_end (&b);
}

void
ds_mask_overlay_load_variant (DsMaskOverlay *self, GVariant *variant)
{
  GVariantIter iter;
  const char *name, *colour;
  gboolean shown;
  double alpha;

  g_return_if_fail (self != NULL);
  if (variant == NULL || !g_variant_is_of_type (variant, G_VARIANT_TYPE ("a{s(bsd)}")))
    return;
  g_variant_iter_init (&iter, variant);
  while (g_variant_iter_next (&iter, "{&s(b&sd)}", &name, &shown, &colour, &alpha))
    {
      unsigned int rgb;
      char tail;

      if (strlen (colour) == 7 && sscanf (colour, "#%6x%c", &rgb, &tail) == 1)
        ds_mask_overlay_set_plane (self, name, shown, rgb, alpha);
    }
}

/* The shown colours of the 32 bits for plane_names; returns the union of shown bits. */
static DiaMask
overlay_resolve (const DsMaskOverlay *self, char *const *plane_names, guint32 rgb[32],
                 double alpha[32])
{
  DiaMask shown_bits = 0;

  for (int b = 0; b < DIA_MASK_MAX_PLANES && b < 32; b++)
    {
      gboolean shown = FALSE;

      rgb[b] = 0;
      alpha[b] = 0.0;
      if (plane_names == NULL || plane_names[b] == NULL)
        continue;
      ds_mask_overlay_get_plane (self, plane_names[b], &shown, &rgb[b], &alpha[b]);
      if (shown && alpha[b] > 0.0)
        shown_bits |= (DiaMask) 1u << b;
    }
  return shown_bits;
}

static guint32
overlay_blend_resolved (const guint32 rgb[32], const double alpha[32], DiaMask m,
                        guint32 base)
{
  double c[3] = { (base >> 16) & 0xFF, (base >> 8) & 0xFF, base & 0xFF };

  for (int b = 0; b < 32 && m != 0; b++, m >>= 1)
    if (m & 1u)
      {
        double a = alpha[b];

        c[0] = c[0] * (1.0 - a) + ((rgb[b] >> 16) & 0xFF) * a;
        c[1] = c[1] * (1.0 - a) + ((rgb[b] >> 8) & 0xFF) * a;
        c[2] = c[2] * (1.0 - a) + (rgb[b] & 0xFF) * a;
      }
  return (base & 0xFF000000u) | ((guint32) lround (CLAMP (c[0], 0, 255)) << 16)
         | ((guint32) lround (CLAMP (c[1], 0, 255)) << 8)
         | (guint32) lround (CLAMP (c[2], 0, 255));
}

guint32
ds_mask_overlay_blend (const DsMaskOverlay *self, char *const *plane_names, DiaMask m,
                       guint32 base)
{
  guint32 rgb[32];
  double alpha[32];
  DiaMask shown;

  g_return_val_if_fail (self != NULL, base);
  shown = overlay_resolve (self, plane_names, rgb, alpha);
  return overlay_blend_resolved (rgb, alpha, m & shown, base);
}

void
ds_mask_overlay_apply (const DsMaskOverlay *self, const DiaImage *image, double src_x,
                       double src_y, double zoom, guint8 *out, int out_width, int out_height,
                       size_t out_stride)
{
  guint32 rgb[32];
  double alpha[32];
  DiaMask shown;
  g_autofree int *col = NULL;

  g_return_if_fail (self != NULL);
  if (image == NULL || image->mask == NULL || out == NULL || out_width <= 0 || out_height <= 0
      || !(zoom > 0) || !isfinite (src_x) || !isfinite (src_y))
    return;
  shown = overlay_resolve (self, image->plane_names, rgb, alpha);
  if (shown == 0)
    return;
  col = g_new (int, out_width);
  for (int c = 0; c < out_width; c++)
    {
      double xi = floor (src_x + (c + 0.5) / zoom + 0.5);

      col[c] = (xi >= 0 && xi < image->width) ? (int) xi : -1;
    }
  for (int r = 0; r < out_height; r++)
    {
      double yi = floor (src_y + (out_height - 1 - r + 0.5) / zoom + 0.5);
      const DiaMask *mrow;
      guint8 *orow = out + (size_t) r * out_stride;

      if (!(yi >= 0 && yi < image->height))
        continue;
      mrow = image->mask + (size_t) yi * image->stride;
      for (int c = 0; c < out_width; c++)
        {
          DiaMask m;
          guint8 *px;
          guint32 base, res;

          if (col[c] < 0 || (m = mrow[col[c]] & shown) == 0)
            continue;
          px = orow + (size_t) c * 4;
          base = ((guint32) px[3] << 24) | ((guint32) px[2] << 16) | ((guint32) px[1] << 8)
                 | px[0];
          res = overlay_blend_resolved (rgb, alpha, m, base);
          px[0] = (guint8) (res & 0xFF);
          px[1] = (guint8) ((res >> 8) & 0xFF);
          px[2] = (guint8) ((res >> 16) & 0xFF);
        }
    }
}
