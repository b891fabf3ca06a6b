/* ds-window-readout.c — the inspector window's pixel readouts.
 *
 * The status bar names the pane and pixel under the pointer with its value, variance, S/N,
 * mask planes and, for the inputs, RA/Dec from the pane's private WCS copy; a line under each
 * pane title (ds-pixel-readout.h) shows the same input-grid position in every pane.  Pointer
 * motion also records the position the PSF & kernel panel describes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"
#include "ds-pixel-readout.h"

#include <glib/gi18n.h>
#include <math.h>

static void
append_sexagesimal (GString *s, double value, gboolean hours)
{
  double v = hours ? value / 15.0 : fabs (value);
  int a, b;
  double c;

  if (hours)
    v = fmod (fmod (v, 24.0) + 24.0, 24.0);
  a = (int) floor (v);
  b = (int) floor ((v - a) * 60.0);
  c = ((v - a) * 60.0 - b) * 60.0;
  if (hours)
    g_string_append_printf (s, "%02d:%02d:%05.2f", a, b, c);
  else
    g_string_append_printf (s, "%c%02d:%02d:%04.1f", value < 0 ? '-' : '+', a, b, c);
}

/* The readout under each pane title for the same input-grid position (gx, gy) in every pane;
 * images other than the inputs (differences, score) may be a region of that grid. */
static void
window_update_readouts (DsWindow *self, double gx, double gy)
{
  for (int p = 0; p < DS_N_PANES; p++)
    {
      DiaImage *im = ds_image_view_get_image (self->views[p]);
      int ox = 0, oy = 0;
      g_autofree char *text = NULL;

      if (self->readouts[p] == NULL)
        continue;
      if (im != NULL && im != self->inputs[0] && im != self->inputs[1] && self->result != NULL)
        {
          ox = self->result->region.x;
          oy = self->result->region.y;
        }
      text = ds_pixel_readout_format (im, (int) floor (gx + 0.5) - ox,
                                      (int) floor (gy + 0.5) - oy);
      gtk_label_set_text (self->readouts[p], text);
    }
}

void
ds_window_readout_on_pointer_moved (DsImageView *view, gboolean inside, double ix, double iy,
                                    DsWindow *self)
{
  DiaImage *im = ds_image_view_get_image (view);
  g_autoptr (GString) s = NULL;
  int pane = DS_PANE_TEMPLATE;
  int x, y;

  for (int i = 0; i < DS_N_PANES; i++)
    if (view == self->views[i])
      pane = i;

  if (inside)
    self->active_view = view;
  if (!inside || im == NULL)
    {
      gtk_label_set_text (self->pixel_label, "");
      return;
    }
  self->psf_have_position = TRUE;
  self->psf_x = ix;
  self->psf_y = iy;
  if (pane == DS_PANE_DIFFERENCE && self->result != NULL && im == self->result->diff)
    {
      /* The difference may be a cropped region of the inputs' grid. */
      self->psf_x += self->result->region.x;
      self->psf_y += self->result->region.y;
    }
  ds_window_psf_panel_queue (self);
  window_update_readouts (self, self->psf_x, self->psf_y);
  x = (int) floor (ix + 0.5);
  y = (int) floor (iy + 0.5);
  s = g_string_new (ds_window_pane_name (pane));
  /* Translators: pixel coordinates in the status bar */
  g_string_append_printf (s, _("   x %d  y %d"), x, y);
  if (x < 0 || y < 0 || x >= im->width || y >= im->height)
    {
      g_string_append (s, _("   (outside the image)"));
    }
  else
    {
      size_t i = dia_image_index (im, x, y);
      float v = im->pix[i], var = im->var != NULL ? im->var[i] : NAN;
      DiaMask m = im->mask != NULL ? im->mask[i] : 0;

      g_string_append_printf (s, _("   value %.6g"), v);
      g_string_append_printf (s, _("   variance %.6g"), var);
      if (var > 0 && isfinite (var))
        g_string_append_printf (s, _("   S/N %.1f"), v / sqrt (var));
      if (m != 0)
        {
          gboolean first = TRUE;

          g_string_append (s, _("   mask "));
          for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
            if ((m & (1u << b)) != 0)
              {
                g_string_append_printf (s, "%s%s", first ? "" : ",",
                                        im->plane_names[b] != NULL ? im->plane_names[b] : "?");
                first = FALSE;
              }
        }
    }
  if (pane != DS_PANE_DIFFERENCE && self->wcs[pane] != NULL)
    {
      double ra, dec;

      if (dia_wcs_pix2sky (self->wcs[pane], ix, iy, &ra, &dec))
        {
          g_string_append (s, _("   RA "));
          append_sexagesimal (s, ra, TRUE);
          g_string_append (s, _("  Dec "));
          append_sexagesimal (s, dec, FALSE);
        }
    }
  gtk_label_set_text (self->pixel_label, s->str);
}

/* The per-pane pixel readouts: a line under each pane title, added beside the title's row
 * so the template stays untouched. */
void
ds_window_readout_init (DsWindow *self)
{
  for (int i = 0; i < DS_N_PANES; i++)
    {
      GtkWidget *row = gtk_widget_get_parent (GTK_WIDGET (self->titles[i]));
      GtkWidget *pane = row != NULL ? gtk_widget_get_parent (row) : NULL;
      GtkWidget *label;
      PangoAttrList *attrs;

      if (!GTK_IS_BOX (pane))
        continue;
      label = gtk_label_new (NULL);
      gtk_label_set_xalign (GTK_LABEL (label), 0.0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
      gtk_widget_add_css_class (label, "ds-pixel-readout");
      gtk_widget_add_css_class (label, "caption");
      /* Light tabular digits on the panes' dark background (style.css .ds-panes). */
      attrs = pango_attr_list_new ();
      pango_attr_list_insert (attrs, pango_attr_foreground_new (0xd0d0, 0xd0d0, 0xd0d0));
      pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum"));
      gtk_label_set_attributes (GTK_LABEL (label), attrs);
      pango_attr_list_unref (attrs);
      gtk_widget_set_margin_start (label, 4);
      gtk_widget_set_tooltip_text (label, _("Value, variance, S/N and mask planes of the pixel "
                                            "under the pointer, at the same position in every "
                                            "pane"));
      gtk_box_insert_child_after (GTK_BOX (pane), label, row);
      self->readouts[i] = GTK_LABEL (label);
    }
}
