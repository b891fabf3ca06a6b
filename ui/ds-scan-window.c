/* ds-scan-window.c — keyboard-first hand classification of candidate stamps.
 *
 * Design.  The window walks a queue (ds-scan-queue.c) and records every decision in a
 * DsLabelStore at once; there is no Save step.  One key per label (from the taxonomy), shown on
 * its button.  Keys are read by one GtkEventControllerKey on the window in the bubble phase and
 * ignored while a text field has focus, so typing a note or a filter never labels a candidate
 * (text widgets consume printable keys before the bubble phase, and the handler also checks the
 * focus explicitly).  Navigation and labelling are also "scan.*" actions, so buttons, menus and
 * tests share one path.
 *
 * Stamps: template, science and difference side by side at 256 px, nearest-neighbour (the CPU
 * resamples with dia_render_region; GTK 4.8 would smooth a scaled texture).  Template and
 * science share one display range, the zscale of the science stamp, widened or narrowed by the
 * contrast scale; the difference uses the diverging map, symmetric ±5σ around zero.  NO_DATA
 * pixels (NaN, −FLT_MAX, marked by the FITS reader) are drawn in the no-data grey.
 *
 * Grid mode (g) shows pages of difference stamps for fast rejection: the selection is the
 * current candidate, arrows move it, a label key labels it and moves on.
 *
 * Durability: each label is committed before the UI advances; the queue position (index in
 * the queue) is stored per source each time it changes, so a killed session resumes where it
 * stopped.  When the store is missing (locked, corrupt) a banner says so, labels are refused
 * and everything else keeps working; "Retry" reopens the store.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-scan-window.h"

#include "ds-label-store.h"
#include "ds-scan-queue.h"
#include "ds-scan-taxonomy.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-render.h"
#include "dia-stats.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define STAMP_SIZE      256   /* output pixels of a stamp in single mode                    */
#define STAMP_PIXELS    63    /* image pixels across a stamp cut from a full image          */
#define GRID_COLUMNS    6
#define GRID_ROWS       4
#define GRID_STAMP_SIZE 128
#define IMAGE_CACHE_MAX 6     /* full images kept in memory (lists and catalogues)          */
#define TOAST_SECONDS   6

struct _DsScanWindow
{
  GtkApplicationWindow parent_instance;

  /* template children */
  GtkToggleButton *grid_button;
  GtkLabel *progress_label;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  GtkStack *view_stack;
  GtkBox *stamps_box;
  GtkLabel *id_label;
  GtkLabel *info_label;
  GtkLabel *current_label;
  GtkGrid *grid;
  GtkFlowBox *labels_box;
  GtkScale *contrast_scale;
  GtkDropDown *filter_dropdown;
  GtkEntry *filter_entry;
  GtkEntry *note_entry;
  GtkRevealer *toast_revealer;
  GtkLabel *toast_label;

  GtkPicture *stamp_pictures[4];   /* template, science, difference, matched template */
  GtkPicture *grid_pictures[GRID_COLUMNS * GRID_ROWS];
  GtkLabel *grid_labels[GRID_COLUMNS * GRID_ROWS];

  char *source;                 /* canonical path; key of the stored queue position         */
  char *labels_path;
  GPtrArray *queue;             /* DsScanCandidate                                           */
  DsScanTaxonomy *taxonomy;
  DsLabelStore *store;          /* NULL while the database cannot be used                   */
  GHashTable *current;          /* candidate id → current label (NULL value = unlabelled)   */
  GArray *visible;              /* queue indices passing the filter, ascending              */
  GHashTable *images;           /* path → DiaImage (full images for lists/catalogues)      */
  GPtrArray *undo_stack;        /* candidate ids labelled in this session, latest last     */
  guint current_index;
  guint toast_id;
  gboolean debug;
};

G_DEFINE_FINAL_TYPE (DsScanWindow, ds_scan_window, GTK_TYPE_APPLICATION_WINDOW)

static void scan_show_current (DsScanWindow *self);

static void
scan_debug (DsScanWindow *self, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
scan_debug (DsScanWindow *self, const char *format, ...)
{
  va_list ap;
  if (!self->debug)
    return;
  va_start (ap, format);
  fputs ("scan: ", stdout);
  vfprintf (stdout, format, ap);
  fputc ('\n', stdout);
  fflush (stdout);
  va_end (ap);
}

static DsScanCandidate *
scan_candidate (DsScanWindow *self, guint index)
{
  return g_ptr_array_index (self->queue, index);
}

/* ---- store and banner ------------------------------------------------------------------ */

static void
scan_show_banner (DsScanWindow *self, const GError *error)
{
  g_autofree char *text = g_strdup_printf (_("Labels cannot be saved: %s"), error->message);
  gtk_label_set_text (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
  scan_debug (self, "store-error %s", error->message);
}

static void
scan_update_progress (DsScanWindow *self)
{
  guint n_labelled = 0;
  g_autofree char *text = NULL;

  for (guint i = 0; i < self->queue->len; i++)
    if (g_hash_table_lookup (self->current, scan_candidate (self, i)->id) != NULL)
      n_labelled++;
  if (self->visible->len != self->queue->len)
    text = g_strdup_printf (_("%u / %u labelled (%u shown)"), n_labelled, self->queue->len,
                            self->visible->len);
  else
    text = g_strdup_printf (_("%u / %u labelled"), n_labelled, self->queue->len);
  gtk_label_set_text (self->progress_label, text);
}

/* (Re)opens the store and reloads the current labels; on failure shows the banner. */
static gboolean
scan_open_store (DsScanWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) labels = NULL;
  gint64 index = 0;

  g_clear_pointer (&self->store, ds_label_store_close);
  self->store = ds_label_store_open (self->labels_path, &error);
  if (self->store != NULL)
    labels = ds_label_store_dup_current_labels (self->store, &error);
  if (labels == NULL)
    {
      g_clear_pointer (&self->store, ds_label_store_close);
      scan_show_banner (self, error);
      return FALSE;
    }
  g_hash_table_remove_all (self->current);
  /* Keep only this queue's candidates: the store may hold other sources' labels too. */
  for (guint i = 0; i < self->queue->len; i++)
    {
      const char *id = scan_candidate (self, i)->id;
      gpointer label;
      if (g_hash_table_lookup_extended (labels, id, NULL, &label))
        g_hash_table_insert (self->current, g_strdup (id), g_strdup (label));
    }
  if (ds_label_store_get_position (self->store, self->source, &index, &error)
      && index >= 0 && index < (gint64) self->queue->len)
    self->current_index = (guint) index;
  if (error != NULL)
    {
      scan_show_banner (self, error);
      return FALSE;
    }
  gtk_revealer_set_reveal_child (self->banner_revealer, FALSE);
  return TRUE;
}

/* ---- filtering ------------------------------------------------------------------------- */

/* Tokens of the filter entry: "snr>X", "snr<X", anything else must occur (case-insensitive) in
 * the candidate's id or flags. */
static gboolean
scan_passes_text_filter (DsScanCandidate *c, const char *filter)
{
  g_auto (GStrv) tokens = g_strsplit_set (filter, " \t", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const char *t = tokens[i];
      if (t[0] == '\0')
        continue;
      if (g_ascii_strncasecmp (t, "snr>", 4) == 0 || g_ascii_strncasecmp (t, "snr<", 4) == 0)
        {
          double limit = g_ascii_strtod (t + 4, NULL);
          if (!isfinite (c->snr) || (t[3] == '>' ? c->snr <= limit : c->snr >= limit))
            return FALSE;
        }
      else
        {
          g_autofree char *needle = g_utf8_casefold (t, -1);
          g_autofree char *hay = g_utf8_casefold (c->flags ? c->flags : "", -1);
          g_autofree char *id = g_utf8_casefold (c->id, -1);
          if (strstr (hay, needle) == NULL && strstr (id, needle) == NULL)
            return FALSE;
        }
    }
  return TRUE;
}

static void
scan_refilter (DsScanWindow *self)
{
  guint choice = gtk_drop_down_get_selected (self->filter_dropdown);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->filter_entry));

  g_array_set_size (self->visible, 0);
  for (guint i = 0; i < self->queue->len; i++)
    {
      DsScanCandidate *c = scan_candidate (self, i);
      const char *label = g_hash_table_lookup (self->current, c->id);
      gboolean keep = TRUE;
      /* choices: 0 all, 1 unlabelled, 2 labelled, 3… the taxonomy labels */
      if (choice == 1)
        keep = label == NULL;
      else if (choice == 2)
        keep = label != NULL;
      else if (choice >= 3 && choice - 3 < self->taxonomy->labels->len)
        keep = g_strcmp0 (label,
                          ((DsScanLabel *) self->taxonomy->labels->pdata[choice - 3])->label) == 0;
      if (keep && text != NULL && text[0] != '\0')
        keep = scan_passes_text_filter (c, text);
      if (keep)
        g_array_append_val (self->visible, i);
    }
}

/* Position of the current candidate in the visible list, or of the first visible one after it
 * (visible->len when none). */
static guint
scan_visible_position (DsScanWindow *self)
{
  for (guint k = 0; k < self->visible->len; k++)
    if (g_array_index (self->visible, guint, k) >= self->current_index)
      return k;
  return self->visible->len;
}

/* ---- rendering ------------------------------------------------------------------------- */

static DiaImage *
scan_load_image (DsScanWindow *self, const char *path, gboolean cache, GError **error)
{
  DiaImage *image;
  if (path == NULL)
    return NULL;
  image = g_hash_table_lookup (self->images, path);
  if (image != NULL)
    return dia_image_ref (image);
  image = dia_fits_read_image (path, error);
  if (image != NULL && cache)
    {
      if (g_hash_table_size (self->images) >= IMAGE_CACHE_MAX)
        g_hash_table_remove_all (self->images);
      g_hash_table_insert (self->images, g_strdup (path), dia_image_ref (image));
    }
  return image;
}

/* The stamp window of candidate c on image: centre (cx, cy) and size in image pixels. */
static void
scan_stamp_geometry (const DsScanCandidate *c, const DiaImage *image, double *cx, double *cy,
                     double *size)
{
  if (c->is_cutout || !isfinite (c->x) || !isfinite (c->y))
    {
      *cx = (image->width - 1) / 2.0;
      *cy = (image->height - 1) / 2.0;
      *size = MAX (image->width, image->height);
    }
  else
    {
      *cx = c->x;
      *cy = c->y;
      *size = STAMP_PIXELS;
    }
}

/* Limits from the pixels inside the stamp only, so a bright galaxy elsewhere in a full frame
 * does not set the stretch of a faint candidate. */
static void
scan_compute_limits (const DsScanCandidate *c, const DiaImage *image, DiaRenderParams *params)
{
  double cx, cy, size;
  DiaRect stamp, all = { 0, 0, image->width, image->height }, r;

  scan_stamp_geometry (c, image, &cx, &cy, &size);
  stamp.x = (int) floor (cx - size / 2 + 0.5);
  stamp.y = (int) floor (cy - size / 2 + 0.5);
  stamp.width = stamp.height = (int) size;
  r = dia_rect_intersect (&stamp, &all);
  if (dia_rect_is_empty (&r))
    r = all;
  dia_render_compute_limits (image->pix + dia_image_index (image, r.x, r.y),
                             image->mask + dia_image_index (image, r.x, r.y), DIA_MASK_NO_DATA,
                             r.width, r.height, image->stride, params);
}

static GdkTexture *
scan_render_stamp (const DsScanCandidate *c, const DiaImage *image,
                   const DiaRenderParams *params, int out_size)
{
  g_autoptr (GBytes) bytes = NULL;
  guint8 *buffer = g_malloc ((gsize) out_size * out_size * 4);
  double cx = 0, cy = 0, size = STAMP_PIXELS;

  if (image != NULL)
    {
      scan_stamp_geometry (c, image, &cx, &cy, &size);
      dia_render_region (image->pix, image->mask, image->width, image->height, image->stride,
                         params, cx - size / 2, cy - size / 2, out_size / size, buffer,
                         out_size, out_size, (size_t) out_size * 4);
    }
  else
    dia_render_region (NULL, NULL, 0, 0, 0, params, 0, 0, 1, buffer, out_size, out_size,
                       (size_t) out_size * 4);
  bytes = g_bytes_new_take (buffer, (gsize) out_size * out_size * 4);
  return gdk_memory_texture_new (out_size, out_size, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED, bytes,
                                 (gsize) out_size * 4);
}

/* Median of the stamp's usable pixels (NAN without any): the sky level of that stamp. */
static double
scan_stamp_median (const DsScanCandidate *c, const DiaImage *image)
{
  double cx, cy, size, med;
  DiaRect stamp, all = { 0, 0, image->width, image->height }, r;
  g_autofree float *v = NULL, *scratch = NULL;
  gint64 n = 0;

  scan_stamp_geometry (c, image, &cx, &cy, &size);
  stamp.x = (int) floor (cx - size / 2 + 0.5);
  stamp.y = (int) floor (cy - size / 2 + 0.5);
  stamp.width = stamp.height = (int) size;
  r = dia_rect_intersect (&stamp, &all);
  if (dia_rect_is_empty (&r))
    return NAN;
  v = g_new (float, (gsize) r.width * r.height);
  scratch = g_new (float, (gsize) r.width * r.height);
  for (int y = r.y; y < r.y + r.height; y++)
    for (int x = r.x; x < r.x + r.width; x++)
      {
        size_t i = dia_image_index (image, x, y);
        if (!(image->mask[i] & DIA_MASK_NO_DATA))
          v[n++] = image->pix[i];
      }
  med = dia_stats_median (v, n, scratch);
  return med;
}

/* Shared parameters: contrast value s narrows (s > 0) or widens the zscale range by 2^s. */
static void
scan_params_for (DsScanWindow *self, const DsScanCandidate *c, const DiaImage *science,
                 DiaRenderParams *direct, DiaRenderParams *difference)
{
  double s = gtk_range_get_value (GTK_RANGE (self->contrast_scale));
  double factor = pow (2.0, -s);

  dia_render_params_init (direct);
  direct->limits = DIA_LIMITS_ZSCALE;
  direct->colormap = DIA_COLORMAP_GRAY;
  if (science != NULL)
    {
      double mid, half;
      scan_compute_limits (c, science, direct);
      mid = 0.5 * (direct->low + direct->high);
      half = 0.5 * (direct->high - direct->low) * factor;
      direct->low = mid - half;
      direct->high = mid + half;
    }
  direct->limits = DIA_LIMITS_MANUAL;

  dia_render_params_init (difference);
  difference->limits = DIA_LIMITS_SYMMETRIC_SIGMA;
  difference->colormap = DIA_COLORMAP_DIVERGING;
  difference->sigma_k = 5.0 * factor;
}

static void
scan_render_single (DsScanWindow *self, DsScanCandidate *c)
{
  const char *paths[4] = { c->template_path, c->science_path, c->difference_path,
                           c->matched_path };
  DiaImage *images[4] = { NULL, NULL, NULL, NULL };
  g_autoptr (GString) errors = g_string_new (NULL);
  DiaRenderParams direct, difference;

  for (int k = 0; k < 4; k++)
    {
      g_autoptr (GError) error = NULL;
      if (paths[k] == NULL && k == 3)
        continue;
      images[k] = scan_load_image (self, paths[k], !c->is_cutout, &error);
      if (error != NULL)
        g_string_append_printf (errors, "%s\n", error->message);
    }
  scan_params_for (self, c, images[1], &direct, &difference);
  if (images[2] != NULL)
    scan_compute_limits (c, images[2], &difference);
  difference.limits = DIA_LIMITS_MANUAL;
  /* The matched template (when the catalogue names it) shares the science stretch: it is on
   * the science PSF and flux scale, so it shows what was actually subtracted. */
  gtk_widget_set_visible (gtk_widget_get_parent (GTK_WIDGET (self->stamp_pictures[3])),
                          c->matched_path != NULL);
  for (int k = 0; k < 4; k++)
    {
      g_autoptr (GdkTexture) texture = NULL;
      DiaRenderParams own = direct;
      if (k == 3 && c->matched_path == NULL)
        continue;
      /* The stretch is shared, but around each stamp's own sky: a template on another
       * background level (or background-subtracted, as survey references often are) would
       * otherwise show as black or white. */
      if ((k == 0 || k == 3) && images[k] != NULL && images[1] != NULL)
        {
          double shift = scan_stamp_median (c, images[k]) - scan_stamp_median (c, images[1]);
          if (isfinite (shift))
            {
              own.low += shift;
              own.high += shift;
            }
        }
      texture = scan_render_stamp (c, images[k], k == 2 ? &difference : &own, STAMP_SIZE);
      gtk_picture_set_paintable (self->stamp_pictures[k], GDK_PAINTABLE (texture));
      g_clear_pointer (&images[k], dia_image_unref);
    }
  if (errors->len > 0)
    {
      g_string_truncate (errors, errors->len - 1);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->stamps_box), errors->str);
    }
  else
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->stamps_box), NULL);
}

static char *
scan_describe (DsScanWindow *self, DsScanCandidate *c, guint index)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, _("#%u of %u"), index + 1, self->queue->len);
  if (isfinite (c->x))
    g_string_append_printf (s, _(" · x %.1f, y %.1f"), c->x, c->y);
  else
    g_string_append (s, _(" · stamp centre"));
  if (isfinite (c->snr))
    g_string_append_printf (s, _(" · S/N %.1f"), c->snr);
  if (isfinite (c->mag))
    g_string_append_printf (s, _(" · mag %.2f"), c->mag);
  if (isfinite (c->flux))
    g_string_append_printf (s, _(" · flux %.4g"), c->flux);
  if (c->flags != NULL)
    g_string_append_printf (s, " · %s", c->flags);
  return g_string_free (s, FALSE);
}

static void
scan_render_grid (DsScanWindow *self)
{
  guint pos = scan_visible_position (self);
  guint per_page = GRID_COLUMNS * GRID_ROWS;
  guint first = pos / per_page * per_page;

  for (guint k = 0; k < per_page; k++)
    {
      GtkWidget *cell = gtk_widget_get_parent (GTK_WIDGET (self->grid_pictures[k]));
      guint v = first + k;
      if (v >= self->visible->len)
        {
          gtk_widget_set_visible (cell, FALSE);
          continue;
        }
      {
        guint index = g_array_index (self->visible, guint, v);
        DsScanCandidate *c = scan_candidate (self, index);
        g_autoptr (GError) error = NULL;
        g_autoptr (DiaImage) diff = scan_load_image (self, c->difference_path, !c->is_cutout,
                                                     &error);
        g_autoptr (GdkTexture) texture = NULL;
        DiaRenderParams params;
        const char *label = g_hash_table_lookup (self->current, c->id);
        g_autofree char *caption = g_strdup_printf ("%s\n%s", c->id, label ? label : "—");

        dia_render_params_init (&params);
        params.limits = DIA_LIMITS_SYMMETRIC_SIGMA;
        params.colormap = DIA_COLORMAP_DIVERGING;
        params.sigma_k = 5.0 * pow (2.0, -gtk_range_get_value (GTK_RANGE (self->contrast_scale)));
        if (diff != NULL)
          scan_compute_limits (c, diff, &params);
        params.limits = DIA_LIMITS_MANUAL;
        texture = scan_render_stamp (c, diff, &params, GRID_STAMP_SIZE);
        gtk_picture_set_paintable (self->grid_pictures[k], GDK_PAINTABLE (texture));
        gtk_label_set_text (self->grid_labels[k], caption);
        gtk_widget_set_visible (cell, TRUE);
        if (index == self->current_index)
          gtk_widget_add_css_class (cell, "ds-scan-selected");
        else
          gtk_widget_remove_css_class (cell, "ds-scan-selected");
        g_object_set_data (G_OBJECT (cell), "ds-scan-index", GUINT_TO_POINTER (index + 1));
      }
    }
}

static void
scan_show_current (DsScanWindow *self)
{
  DsScanCandidate *c;
  const char *label;
  g_autofree char *info = NULL;
  g_autofree char *current = NULL;
  g_autoptr (GError) error = NULL;

  scan_update_progress (self);
  if (self->queue->len == 0)
    return;
  self->current_index = MIN (self->current_index, self->queue->len - 1);
  c = scan_candidate (self, self->current_index);
  label = g_hash_table_lookup (self->current, c->id);

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->view_stack), "grid") == 0)
    scan_render_grid (self);
  else
    scan_render_single (self, c);
  gtk_label_set_text (self->id_label, c->id);
  info = scan_describe (self, c, self->current_index);
  gtk_label_set_text (self->info_label, info);
  current = label ? g_strdup_printf (_("Current label: %s"), label) : g_strdup (_("Unlabelled"));
  gtk_label_set_text (self->current_label, current);

  if (self->store != NULL
      && !ds_label_store_set_position (self->store, self->source, self->current_index, &error))
    scan_show_banner (self, error);
  scan_debug (self, "current %u %s", self->current_index, c->id);
}

/* ---- navigation and labelling ---------------------------------------------------------- */

/* Moves by delta positions in the visible list (clamped). */
static void
scan_move (DsScanWindow *self, int delta)
{
  guint pos = scan_visible_position (self);
  gboolean on_visible = pos < self->visible->len
                        && g_array_index (self->visible, guint, pos) == self->current_index;
  gint64 target;

  if (self->visible->len == 0)
    return;
  /* Not on a visible candidate: "next" goes to pos itself, "previous" to pos − 1. */
  if (!on_visible && delta > 0)
    delta--;
  target = (gint64) pos + delta;
  target = CLAMP (target, 0, (gint64) self->visible->len - 1);
  self->current_index = g_array_index (self->visible, guint, (guint) target);
  scan_show_current (self);
}

static void
scan_next_unlabelled (DsScanWindow *self)
{
  for (guint step = 1; step <= self->queue->len; step++)
    {
      guint index = (self->current_index + step) % self->queue->len;
      if (g_hash_table_lookup (self->current, scan_candidate (self, index)->id) == NULL)
        {
          self->current_index = index;
          scan_show_current (self);
          return;
        }
    }
}

static gboolean
scan_hide_toast (gpointer data)
{
  DsScanWindow *self = data;
  gtk_revealer_set_reveal_child (self->toast_revealer, FALSE);
  self->toast_id = 0;
  return G_SOURCE_REMOVE;
}

static void
scan_toast (DsScanWindow *self, const char *text)
{
  gtk_label_set_text (self->toast_label, text);
  gtk_revealer_set_reveal_child (self->toast_revealer, TRUE);
  g_clear_handle_id (&self->toast_id, g_source_remove);
  self->toast_id = g_timeout_add_seconds (TOAST_SECONDS, scan_hide_toast, self);
}

static void
scan_apply_label (DsScanWindow *self, const char *label)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsLabelRecord) record = ds_label_record_new ();
  g_autofree char *toast = NULL;
  const char *note = gtk_editable_get_text (GTK_EDITABLE (self->note_entry));
  DsScanCandidate *c;

  if (self->queue->len == 0)
    return;
  if (self->store == NULL)
    {
      gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  c = scan_candidate (self, self->current_index);
  record->candidate_id = g_strdup (c->id);
  record->template_path = g_strdup (c->template_path);
  record->science_path = g_strdup (c->science_path);
  record->difference_path = g_strdup (c->difference_path);
  record->x = c->x;
  record->y = c->y;
  record->label = g_strdup (label);
  record->note = note != NULL && note[0] != '\0' ? g_strdup (note) : NULL;
  record->config_hash = g_strdup (c->config_hash);
  if (ds_label_store_add (self->store, record, &error) == 0)
    {
      scan_show_banner (self, error);
      return;
    }
  g_hash_table_insert (self->current, g_strdup (c->id), g_strdup (label));
  g_ptr_array_add (self->undo_stack, g_strdup (c->id));
  gtk_editable_set_text (GTK_EDITABLE (self->note_entry), "");
  scan_debug (self, "labelled %s %s", c->id, label);
  toast = g_strdup_printf (_("%s labelled “%s”"), c->id, label);
  scan_toast (self, toast);
  /* Advance within the filtered list without refiltering, so the candidate just labelled does
   * not vanish under an "Unlabelled" filter before the user sees the next one. */
  scan_move (self, 1);
}

static void
scan_undo (DsScanWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *restored = NULL;
  g_autofree char *toast = NULL;

  if (self->store == NULL || self->undo_stack->len == 0)
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  id = g_ptr_array_steal_index (self->undo_stack, self->undo_stack->len - 1);
  if (ds_label_store_undo (self->store, id, NULL, &restored, &error) == 0)
    {
      scan_show_banner (self, error);
      return;
    }
  if (restored != NULL)
    g_hash_table_insert (self->current, g_strdup (id), g_strdup (restored));
  else
    g_hash_table_remove (self->current, id);
  for (guint i = 0; i < self->queue->len; i++)
    if (g_strcmp0 (scan_candidate (self, i)->id, id) == 0)
      self->current_index = i;
  scan_debug (self, "undo %s", id);
  toast = g_strdup_printf (_("Undone: %s is now %s"), id, restored ? restored : _("unlabelled"));
  scan_toast (self, toast);
  scan_show_current (self);
}

static void
scan_set_grid (DsScanWindow *self, gboolean grid)
{
  gtk_stack_set_visible_child_name (self->view_stack, grid ? "grid" : "single");
  if (gtk_toggle_button_get_active (self->grid_button) != grid)
    gtk_toggle_button_set_active (self->grid_button, grid);
  scan_show_current (self);
}

static gboolean
scan_in_grid (DsScanWindow *self)
{
  return g_strcmp0 (gtk_stack_get_visible_child_name (self->view_stack), "grid") == 0;
}

static gboolean
scan_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                  GdkModifierType state, DsScanWindow *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  const DsScanLabel *label;
  gunichar ch;

  if (focus != NULL && (GTK_IS_TEXT (focus) || GTK_IS_EDITABLE (focus)))
    {
      if (keyval == GDK_KEY_Escape)
        {
          gtk_widget_grab_focus (GTK_WIDGET (self->view_stack));
          return TRUE;
        }
      return FALSE;
    }
  if ((state & GDK_CONTROL_MASK) && (keyval == GDK_KEY_z || keyval == GDK_KEY_Z))
    {
      scan_undo (self);
      return TRUE;
    }
  if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK))
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Right:
    case GDK_KEY_j:
      scan_move (self, 1);
      return TRUE;
    case GDK_KEY_Left:
    case GDK_KEY_k:
      scan_move (self, -1);
      return TRUE;
    case GDK_KEY_Down:
      scan_move (self, scan_in_grid (self) ? GRID_COLUMNS : 1);
      return TRUE;
    case GDK_KEY_Up:
      scan_move (self, scan_in_grid (self) ? -GRID_COLUMNS : -1);
      return TRUE;
    case GDK_KEY_space:
      scan_move (self, 1);
      scan_debug (self, "skip");
      return TRUE;
    case GDK_KEY_n:
      scan_next_unlabelled (self);
      return TRUE;
    case GDK_KEY_g:
      scan_set_grid (self, !scan_in_grid (self));
      return TRUE;
    case GDK_KEY_slash:
      gtk_widget_grab_focus (GTK_WIDGET (self->filter_entry));
      return TRUE;
    default:
      break;
    }
  ch = gdk_keyval_to_unicode (keyval);
  if (ch != 0 && (label = ds_scan_taxonomy_lookup_key (self->taxonomy, ch)) != NULL)
    {
      scan_apply_label (self, label->label);
      return TRUE;
    }
  return FALSE;
}

/* ---- taxonomy widgets ------------------------------------------------------------------ */

static void
scan_rebuild_taxonomy_widgets (DsScanWindow *self)
{
  g_autoptr (GtkStringList) choices = gtk_string_list_new (NULL);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->labels_box))) != NULL)
    gtk_flow_box_remove (self->labels_box, child);
  gtk_string_list_append (choices, _("All candidates"));
  gtk_string_list_append (choices, _("Unlabelled"));
  gtk_string_list_append (choices, _("Labelled"));
  for (guint i = 0; i < self->taxonomy->labels->len; i++)
    {
      const DsScanLabel *label = self->taxonomy->labels->pdata[i];
      char key[8] = { 0 };
      g_autofree char *text = NULL;
      g_autofree char *tooltip = NULL;
      GtkWidget *button;

      g_unichar_to_utf8 (label->key, key);
      text = g_strdup_printf ("%s  %s", key, label->label);
      tooltip = g_strdup_printf (_("%s: %s (key %s)"), label->group, label->label, key);
      button = gtk_button_new_with_label (text);
      gtk_widget_set_focus_on_click (button, FALSE);
      gtk_widget_set_tooltip_text (button, tooltip);
      gtk_widget_add_css_class (button, g_strcmp0 (label->group, "real") == 0
                                          ? "ds-scan-real"
                                          : g_strcmp0 (label->group, "bogus") == 0
                                            ? "ds-scan-bogus" : "ds-scan-other");
      gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "scan.label");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", label->label);
      gtk_flow_box_append (self->labels_box, button);
      gtk_string_list_append (choices, label->label);
    }
  gtk_drop_down_set_model (self->filter_dropdown, G_LIST_MODEL (choices));
  gtk_drop_down_set_selected (self->filter_dropdown, 0);
}

gboolean
ds_scan_window_load_taxonomy (DsScanWindow *self, const char *path, GError **error)
{
  DsScanTaxonomy *taxonomy = ds_scan_taxonomy_new_from_file (path, error);
  if (taxonomy == NULL)
    return FALSE;
  g_clear_pointer (&self->taxonomy, ds_scan_taxonomy_free);
  self->taxonomy = taxonomy;
  scan_rebuild_taxonomy_widgets (self);
  return TRUE;
}

static void
scan_taxonomy_chosen (GtkNativeDialog *dialog, int response, DsScanWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      if (path != NULL && !ds_scan_window_load_taxonomy (self, path, &error))
        scan_toast (self, error->message);
    }
  g_object_unref (dialog);
}

/* ---- actions --------------------------------------------------------------------------- */

static void
action_label (GtkWidget *widget, const char *name, GVariant *param)
{
  scan_apply_label (DS_SCAN_WINDOW (widget), g_variant_get_string (param, NULL));
}

static void
action_next (GtkWidget *widget, const char *name, GVariant *param)
{
  scan_move (DS_SCAN_WINDOW (widget), 1);
}

static void
action_prev (GtkWidget *widget, const char *name, GVariant *param)
{
  scan_move (DS_SCAN_WINDOW (widget), -1);
}

static void
action_next_unlabelled (GtkWidget *widget, const char *name, GVariant *param)
{
  scan_next_unlabelled (DS_SCAN_WINDOW (widget));
}

static void
action_undo (GtkWidget *widget, const char *name, GVariant *param)
{
  scan_undo (DS_SCAN_WINDOW (widget));
}

static void
action_toggle_grid (GtkWidget *widget, const char *name, GVariant *param)
{
  DsScanWindow *self = DS_SCAN_WINDOW (widget);
  scan_set_grid (self, !scan_in_grid (self));
}

static void
action_retry_store (GtkWidget *widget, const char *name, GVariant *param)
{
  DsScanWindow *self = DS_SCAN_WINDOW (widget);
  if (scan_open_store (self))
    {
      scan_refilter (self);
      scan_show_current (self);
    }
}

static void
action_load_taxonomy (GtkWidget *widget, const char *name, GVariant *param)
{
  GtkFileChooserNative *dialog;
  dialog = gtk_file_chooser_native_new (_("Load Taxonomy"), GTK_WINDOW (widget),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Load"), _("_Cancel"));
  g_signal_connect (dialog, "response", G_CALLBACK (scan_taxonomy_chosen), widget);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* ---- construction ---------------------------------------------------------------------- */

static void
scan_filter_changed (DsScanWindow *self)
{
  scan_refilter (self);
  scan_debug (self, "filter %u shown", self->visible->len);
  if (self->visible->len > 0 && scan_visible_position (self) >= self->visible->len)
    self->current_index = g_array_index (self->visible, guint, 0);
  else if (self->visible->len > 0)
    self->current_index = g_array_index (self->visible, guint, scan_visible_position (self));
  scan_show_current (self);
}

static void
scan_grid_cell_clicked (GtkGestureClick *gesture, int n_press, double x, double y,
                        DsScanWindow *self)
{
  GtkWidget *cell = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture));
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (cell), "ds-scan-index"));
  if (index == 0)
    return;
  self->current_index = index - 1;
  gtk_widget_grab_focus (GTK_WIDGET (self->view_stack));
  if (n_press == 2)
    scan_set_grid (self, FALSE);
  else
    scan_show_current (self);
}

static void
scan_stamps_clicked (GtkGestureClick *gesture, int n_press, double x, double y,
                     DsScanWindow *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self->view_stack));
}

static void
scan_build_stamps (DsScanWindow *self)
{
  const char *titles[4] = { N_("Template"), N_("Science"), N_("Difference"),
                            N_("Matched template") };

  for (int k = 0; k < 4; k++)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
      GtkWidget *title = gtk_label_new (_(titles[k]));
      GtkWidget *picture = gtk_picture_new ();
      gtk_picture_set_can_shrink (GTK_PICTURE (picture), FALSE);
      gtk_widget_set_size_request (picture, STAMP_SIZE, STAMP_SIZE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _(titles[k]), -1);
      gtk_box_append (GTK_BOX (box), title);
      gtk_box_append (GTK_BOX (box), picture);
      gtk_box_append (self->stamps_box, box);
      self->stamp_pictures[k] = GTK_PICTURE (picture);
    }
  for (int k = 0; k < GRID_COLUMNS * GRID_ROWS; k++)
    {
      GtkWidget *cell = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      GtkWidget *picture = gtk_picture_new ();
      GtkWidget *caption = gtk_label_new (NULL);
      GtkGesture *click = gtk_gesture_click_new ();
      gtk_picture_set_can_shrink (GTK_PICTURE (picture), FALSE);
      gtk_widget_set_size_request (picture, GRID_STAMP_SIZE, GRID_STAMP_SIZE);
      gtk_label_set_ellipsize (GTK_LABEL (caption), PANGO_ELLIPSIZE_START);
      gtk_label_set_max_width_chars (GTK_LABEL (caption), 16);
      gtk_label_set_justify (GTK_LABEL (caption), GTK_JUSTIFY_CENTER);
      gtk_widget_add_css_class (caption, "caption");
      gtk_widget_add_css_class (cell, "ds-scan-cell");
      gtk_box_append (GTK_BOX (cell), picture);
      gtk_box_append (GTK_BOX (cell), caption);
      g_signal_connect (click, "pressed", G_CALLBACK (scan_grid_cell_clicked), self);
      gtk_widget_add_controller (cell, GTK_EVENT_CONTROLLER (click));
      gtk_grid_attach (self->grid, cell, k % GRID_COLUMNS, k / GRID_COLUMNS, 1, 1);
      self->grid_pictures[k] = GTK_PICTURE (picture);
      self->grid_labels[k] = GTK_LABEL (caption);
    }
}

static void
ds_scan_window_dispose (GObject *object)
{
  DsScanWindow *self = DS_SCAN_WINDOW (object);
  g_clear_handle_id (&self->toast_id, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), DS_TYPE_SCAN_WINDOW);
  G_OBJECT_CLASS (ds_scan_window_parent_class)->dispose (object);
}

static void
ds_scan_window_finalize (GObject *object)
{
  DsScanWindow *self = DS_SCAN_WINDOW (object);
  g_free (self->source);
  g_free (self->labels_path);
  g_clear_pointer (&self->queue, g_ptr_array_unref);
  g_clear_pointer (&self->taxonomy, ds_scan_taxonomy_free);
  g_clear_pointer (&self->store, ds_label_store_close);
  g_clear_pointer (&self->current, g_hash_table_unref);
  g_clear_pointer (&self->visible, g_array_unref);
  g_clear_pointer (&self->images, g_hash_table_unref);
  g_clear_pointer (&self->undo_stack, g_ptr_array_unref);
  G_OBJECT_CLASS (ds_scan_window_parent_class)->finalize (object);
}

static void
ds_scan_window_class_init (DsScanWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ds_scan_window_dispose;
  object_class->finalize = ds_scan_window_finalize;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/diffscope/Diffscope/ui/"
                                               "ds-scan-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, grid_button);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, stamps_box);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, id_label);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, info_label);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, current_label);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, grid);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, labels_box);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, contrast_scale);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, filter_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, filter_entry);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, note_entry);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, toast_revealer);
  gtk_widget_class_bind_template_child (widget_class, DsScanWindow, toast_label);

  gtk_widget_class_install_action (widget_class, "scan.label", "s", action_label);
  gtk_widget_class_install_action (widget_class, "scan.next", NULL, action_next);
  gtk_widget_class_install_action (widget_class, "scan.prev", NULL, action_prev);
  gtk_widget_class_install_action (widget_class, "scan.next-unlabelled", NULL,
                                   action_next_unlabelled);
  gtk_widget_class_install_action (widget_class, "scan.undo", NULL, action_undo);
  gtk_widget_class_install_action (widget_class, "scan.toggle-grid", NULL, action_toggle_grid);
  gtk_widget_class_install_action (widget_class, "scan.retry-store", NULL, action_retry_store);
  gtk_widget_class_install_action (widget_class, "scan.load-taxonomy", NULL,
                                   action_load_taxonomy);
}

static void
ds_scan_window_init (DsScanWindow *self)
{
  GtkEventController *keys;
  GtkGesture *click;
  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  self->current = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->visible = g_array_new (FALSE, FALSE, sizeof (guint));
  self->images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) dia_image_unref);
  self->undo_stack = g_ptr_array_new_with_free_func (g_free);
  self->taxonomy = ds_scan_taxonomy_new_default ();
  self->debug = g_strcmp0 (g_getenv ("DIFFSCOPE_DEBUG_SCAN"), "1") == 0;

  gtk_css_provider_load_from_data (css,
                                   ".ds-scan-cell { padding: 2px; border: 2px solid transparent; }"
                                   ".ds-scan-selected { border-color: @accent_color; }"
                                   ".ds-scan-banner { background: @error_color; color: white; }"
                                   ".ds-scan-toast { padding: 6px 12px; border-radius: 6px; "
                                   "  background: alpha(black, 0.75); color: white; }"
                                   ".ds-scan-real { color: #1a7f37; }"
                                   ".ds-scan-bogus { color: #b42318; }", -1);
  gtk_style_context_add_provider_for_display (gtk_widget_get_display (GTK_WIDGET (self)),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  scan_build_stamps (self);
  keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (scan_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (scan_stamps_clicked), self);
  gtk_widget_add_controller (GTK_WIDGET (self->view_stack), GTK_EVENT_CONTROLLER (click));

  g_signal_connect_swapped (self->filter_dropdown, "notify::selected",
                            G_CALLBACK (scan_filter_changed), self);
  g_signal_connect_swapped (self->filter_entry, "changed", G_CALLBACK (scan_filter_changed),
                            self);
  g_signal_connect_swapped (self->contrast_scale, "value-changed",
                            G_CALLBACK (scan_show_current), self);
}

GtkWindow *
ds_scan_window_new (GtkApplication *app, const char *source, const char *labels_path,
                    GError **error)
{
  g_autoptr (GPtrArray) queue = NULL;
  DsScanWindow *self;
  g_autofree char *title = NULL;

  g_return_val_if_fail (source != NULL, NULL);
  queue = ds_scan_queue_load (source, error);
  if (queue == NULL)
    return NULL;

  self = g_object_new (DS_TYPE_SCAN_WINDOW, "application", app, NULL);
  /* Canonical, so the stored queue position is found whatever the working folder. */
  self->source = g_canonicalize_filename (source, NULL);
  self->queue = g_steal_pointer (&queue);
  if (labels_path != NULL)
    self->labels_path = g_strdup (labels_path);
  else
    {
      g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "diffscope", NULL);
      g_mkdir_with_parents (dir, 0700);
      self->labels_path = g_build_filename (dir, "labels.db", NULL);
    }
  title = g_strdup_printf (_("Scan — %s"), source);
  gtk_window_set_title (GTK_WINDOW (self), title);

  scan_rebuild_taxonomy_widgets (self);   /* also resets the filter to "all" */
  scan_open_store (self);
  scan_refilter (self);
  scan_show_current (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->view_stack));
  scan_debug (self, "ready %u", self->queue->len);
  return GTK_WINDOW (self);
}

gboolean
ds_scan_window_save_png (DsScanWindow *self, const char *path, GError **error)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (self));
  g_autoptr (GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));

  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                   _("The scan window is not on screen yet; cannot save %s"), path);
      return FALSE;
    }
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Nothing to draw into %s"), path);
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot write the screenshot %s; check the folder"), path);
      return FALSE;
    }
  return TRUE;
}
