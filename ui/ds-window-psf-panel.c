/* ds-window-psf-panel.c — the PSF & kernel panel of the inspector window.
 *
 *
 * PSF & kernel panel (win.show-psf, F11): for the image position under the pointer of any pane
 * (the image centre until the pointer has moved), the template, science and difference PSFs
 * (asinh, min–max) and the kernel (diverging, symmetric limits) of the last full result, each
 * rendered at 4× with nearest sampling into a GdkMemoryTexture.  Pointer motion only records
 * the position; a 50 ms timeout redraws, so fast motion costs at most 20 redraws a second, and
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

#define PSF_STAMP_SIZE 25     /* PSF stamps, px                                                */
#define PSF_DISPLAY_ZOOM 4    /* output pixels per stamp pixel (nearest sampling)              */

/* Renders size × size floats at PSF_DISPLAY_ZOOM into a new texture shown by picture. */
static void
psf_picture_set_data (GtkPicture *picture, const float *data, int size,
                      const DiaRenderParams *params)
{
  int out_size = size * PSF_DISPLAY_ZOOM;
  size_t stride = (size_t) out_size * 4;
  guint8 *bytes = g_try_malloc ((size_t) out_size * stride);
  g_autoptr (GBytes) gbytes = NULL;
  g_autoptr (GdkTexture) texture = NULL;

  if (bytes == NULL)
    {
      gtk_picture_set_paintable (picture, NULL);
      return;
    }
  dia_render_region (data, NULL, size, size, size, params, -0.5, -0.5, PSF_DISPLAY_ZOOM, bytes,
                     out_size, out_size, stride);
  gbytes = g_bytes_new_take (bytes, (size_t) out_size * stride);
  texture = gdk_memory_texture_new (out_size, out_size, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED,
                                    gbytes, stride);
  gtk_picture_set_paintable (picture, GDK_PAINTABLE (texture));
}

static void
psf_show (GtkPicture *picture, GtkLabel *label, const DiaPsf *psf, double x, double y)
{
  float stamp[PSF_STAMP_SIZE * PSF_STAMP_SIZE];
  DiaRenderParams params;
  g_autofree char *text = NULL;

  if (psf == NULL)
    {
      gtk_picture_set_paintable (picture, NULL);
      gtk_label_set_text (label, _("No PSF model"));
      return;
    }
  dia_psf_render (psf, x, y, 0.0, 0.0, stamp, PSF_STAMP_SIZE);
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MINMAX;
  params.stretch = DIA_STRETCH_ASINH;
  params.colormap = DIA_COLORMAP_GRAY;
  dia_render_compute_limits (stamp, NULL, 0, PSF_STAMP_SIZE, PSF_STAMP_SIZE, PSF_STAMP_SIZE,
                             &params);
  psf_picture_set_data (picture, stamp, PSF_STAMP_SIZE, &params);
  /* Translators: PSF width and noise-equivalent radius in pixels */
  text = g_strdup_printf (_("FWHM %.2f px, NEA radius %.2f px"), dia_psf_fwhm (psf, x, y),
                          sqrt (dia_psf_nea (psf, x, y) / G_PI));
  gtk_label_set_text (label, text);
}

static void
psf_show_kernel (DsWindow *self, const DiaKernelSolution *kernel, double x, double y)
{
  int size = kernel != NULL ? kernel->config.size : 0;
  g_autofree float *k = NULL;
  g_autofree char *text = NULL;
  DiaRenderParams params;
  double peak = 0, dx = 0, dy = 0;

  if (size <= 0 || size > 1024
      || (k = g_try_new (float, (size_t) size * size)) == NULL)
    {
      gtk_picture_set_paintable (self->psf_kernel_picture, NULL);
      gtk_label_set_text (self->psf_kernel_label, _("This flavour has no convolution kernel"));
      return;
    }
  dia_kernel_solution_eval (kernel, x, y, k);
  for (int i = 0; i < size * size; i++)
    if (isfinite (k[i]))
      peak = MAX (peak, fabs (k[i]));
  /* Symmetric limits ±max|K|, so that zero is the diverging map's white. */
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = -(peak > 0 ? peak : 1.0);
  params.high = peak > 0 ? peak : 1.0;
  params.stretch = DIA_STRETCH_LINEAR;
  params.colormap = DIA_COLORMAP_DIVERGING;
  psf_picture_set_data (self->psf_kernel_picture, k, size, &params);
  dia_kernel_solution_centroid (kernel, x, y, &dx, &dy);
  /* Translators: kernel sum (flux scale) and centroid offset in pixels */
  text = g_strdup_printf (_("Sum %.4f\ncentroid offset (%+.3f, %+.3f) px"),
                          dia_kernel_solution_sum (kernel, x, y), dx, dy);
  gtk_label_set_text (self->psf_kernel_label, text);
}

/* Redraws the panel now (main thread), at the pointer position or the centre of the inputs. */
void
ds_window_psf_panel_update (DsWindow *self)
{
  const DiaSubtractPlan *plan = self->result != NULL ? self->result->plan : NULL;
  const DiaPsf *diff_psf = NULL;
  g_autofree char *where = NULL;
  double x, y;

  if (!gtk_widget_get_visible (self->psf_box))
    return;
  if (plan == NULL)
    {
      gtk_label_set_text (self->psf_position_label, _("No subtraction yet"));
      return;
    }
  if (self->psf_have_position)
    {
      x = self->psf_x;
      y = self->psf_y;
    }
  else
    {
      x = 0.5 * (plan->science_image->width - 1);
      y = 0.5 * (plan->science_image->height - 1);
    }
  /* Translators: image position the PSF panel describes */
  where = g_strdup_printf (_("At x %.1f  y %.1f"), x, y);
  gtk_label_set_text (self->psf_position_label, where);
  if (self->result->diff_psf != NULL)
    diff_psf = self->result->diff_psf;
  else
    diff_psf = plan->info.convolve_template ? plan->psf_science : plan->psf_template;
  psf_show (self->psf_template_picture, self->psf_template_label, plan->psf_template, x, y);
  psf_show (self->psf_science_picture, self->psf_science_label, plan->psf_science, x, y);
  psf_show (self->psf_difference_picture, self->psf_difference_label, diff_psf, x, y);
  psf_show_kernel (self, plan->kernel, x, y);
}

static gboolean
on_psf_timeout (gpointer user_data)
{
  DsWindow *self = user_data;

  self->psf_timeout_id = 0;
  ds_window_psf_panel_update (self);
  return G_SOURCE_REMOVE;
}

/* Throttles pointer-driven redraws to one per 50 ms, and none while the panel is hidden. */
void
ds_window_psf_panel_queue (DsWindow *self)
{
  if (self->psf_timeout_id == 0 && gtk_widget_get_visible (self->psf_box))
    self->psf_timeout_id = g_timeout_add (50, on_psf_timeout, self);
}

void
ds_window_psf_panel_on_show_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->psf_box, g_variant_get_boolean (state));
  ds_window_update_side_box (self);
  ds_window_psf_panel_update (self);
}
