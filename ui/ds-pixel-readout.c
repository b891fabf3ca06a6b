/* ds-pixel-readout.c — pixel readout text (see ds-pixel-readout.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-pixel-readout.h"

#include <glib/gi18n.h>
#include <math.h>

char *
ds_pixel_readout_dup_mask_names (const DiaImage *image, DiaMask bits)
{
  GString *s;

  g_return_val_if_fail (image != NULL, NULL);
  s = g_string_new (NULL);
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    {
      if ((bits & ((DiaMask) 1u << b)) == 0)
        continue;
      if (s->len > 0)
        g_string_append_c (s, ',');
      if (image->plane_names[b] != NULL)
        g_string_append (s, image->plane_names[b]);
      else
        /* Translators: a mask bit that has no plane name */
        g_string_append_printf (s, _("bit %d"), b);
    }
  return g_string_free (s, FALSE);
}

char *
ds_pixel_readout_format (const DiaImage *image, int x, int y)
{
  GString *s;
  size_t i;
  float v, var;
  DiaMask m;

  if (image == NULL)
    return g_strdup ("");
  if (x < 0 || y < 0 || x >= image->width || y >= image->height)
    return g_strdup (_("outside the image"));
  i = dia_image_index (image, x, y);
  v = image->pix[i];
  var = image->var != NULL ? image->var[i] : NAN;
  m = image->mask != NULL ? image->mask[i] : 0;
  s = g_string_new (NULL);
  /* Translators: pixel readout under a pane title: value and variance of the pixel */
  g_string_append_printf (s, _("value %.6g  var %.6g"), v, var);
  if (isfinite (var) && var > 0)
    /* Translators: signal to noise ratio of one pixel */
    g_string_append_printf (s, _("  S/N %.1f"), v / sqrt (var));
  else
    g_string_append (s, _("  S/N –"));
  if (m != 0)
    {
      g_autofree char *names = ds_pixel_readout_dup_mask_names (image, m);

      /* Translators: the mask planes set on the pixel */
      g_string_append_printf (s, _("  mask %s"), names);
    }
  return g_string_free (s, FALSE);
}
