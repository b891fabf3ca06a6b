/* test-image.c — DiaImage life cycle, views, copies and mask planes; the parallel loop and the
 * monitor it checks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"

#include <math.h>
#include <string.h>

static void
fill_ramp (DiaImage *img)
{
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        size_t i = dia_image_index (img, x, y);
        img->pix[i] = (float) (1000 * y + x);
        img->var[i] = (float) (x + y + 1);
        img->mask[i] = (x == y) ? DIA_MASK_BAD : 0;
      }
}

static void
test_image_new_ref (void)
{
  g_autoptr (GError) error = NULL;
  DiaImage *img = dia_image_new (37, 21, &error);

  g_assert_no_error (error);
  g_assert_nonnull (img);
  g_assert_cmpint (img->ref_count, ==, 1);
  g_assert_cmpint (img->width, ==, 37);
  g_assert_cmpint (img->height, ==, 21);
  g_assert_cmpuint (img->stride, >=, 37);
  g_assert_cmpint (img->x0, ==, 0);
  g_assert_null (img->parent);
  g_assert_false (img->frozen);
  /* Zeroed planes, 64-byte aligned. */
  g_assert_cmpuint ((guintptr) img->pix % 64, ==, 0);
  g_assert_cmpuint ((guintptr) img->var % 64, ==, 0);
  g_assert_cmpuint ((guintptr) img->mask % 64, ==, 0);
  for (int i = 0; i < 37 * 21; i++)
    g_assert_true (img->pix[i] == 0.0f && img->var[i] == 0.0f && img->mask[i] == 0);
  g_assert_true (isnan (img->meta.gain) && isnan (img->meta.mjd));
  g_assert_cmpstr (img->plane_names[1], ==, "SAT");

  g_assert_true (dia_image_ref (img) == img);
  g_assert_cmpint (img->ref_count, ==, 2);
  dia_image_unref (img);
  g_assert_cmpint (img->ref_count, ==, 1);
  dia_image_freeze (img);
  g_assert_true (img->frozen);
  dia_image_unref (img);
  dia_image_unref (NULL);

  /* Sizes from hostile headers fail cleanly. */
  g_assert_null (dia_image_new (0, 10, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (dia_image_new (10, -3, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (dia_image_new (1 << 20, 1 << 20, &error));
  g_assert_nonnull (error);
}

static void
test_image_crop (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) img = dia_image_new (64, 48, NULL);
  DiaRect r = { 10, 5, 20, 30 }, r2 = { 3, 4, 5, 6 }, outside = { 50, 40, 20, 20 };
  DiaImage *view, *view2;

  fill_ramp (img);
  view = dia_image_crop (img, &r, &error);
  g_assert_no_error (error);
  g_assert_cmpint (view->width, ==, 20);
  g_assert_cmpint (view->height, ==, 30);
  g_assert_cmpint (view->x0, ==, 10);
  g_assert_cmpint (view->y0, ==, 5);
  g_assert_cmpuint (view->stride, ==, img->stride);
  g_assert_true (view->parent == img);
  g_assert_cmpint (img->ref_count, ==, 2);
  /* Same buffers: view (i, j) is parent (10 + i, 5 + j), both ways. */
  g_assert_true (view->pix == img->pix + dia_image_index (img, 10, 5));
  g_assert_cmpfloat (view->pix[dia_image_index (view, 3, 2)], ==, 1000 * 7 + 13);
  g_assert_cmpfloat (view->var[dia_image_index (view, 3, 2)], ==, 13 + 7 + 1);
  img->pix[dia_image_index (img, 12, 9)] = -1.0f;
  g_assert_cmpfloat (view->pix[dia_image_index (view, 2, 4)], ==, -1.0f);
  g_assert_cmpuint (view->mask[dia_image_index (view, 0, 5)], ==, DIA_MASK_BAD);

  /* A crop of a crop accumulates the origin and keeps the root's buffers. */
  view2 = dia_image_crop (view, &r2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (view2->x0, ==, 13);
  g_assert_cmpint (view2->y0, ==, 9);
  g_assert_true (view2->pix == img->pix + dia_image_index (img, 13, 9));

  /* Views outlive the caller's reference on the parent. */
  dia_image_ref (img);
  dia_image_unref (img);
  g_assert_null (dia_image_crop (img, &outside, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);

  dia_image_unref (view2);
  dia_image_unref (view);
  g_assert_cmpint (img->ref_count, ==, 1);
}

static void
test_image_copy (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) img = dia_image_new (40, 30, NULL);
  DiaRect r = { 5, 6, 17, 11 };
  g_autoptr (DiaImage) view = NULL;
  g_autoptr (DiaImage) copy = NULL;
  g_autoptr (DiaImage) like = NULL;

  fill_ramp (img);
  img->meta.gain = 1.6;
  g_strlcpy (img->meta.filter, "r", sizeof img->meta.filter);
  dia_image_add_mask_plane (img, "CROSSTALK");
  dia_image_set_source (img, "ramp.fits");
  dia_image_freeze (img);
  view = dia_image_crop (img, &r, NULL);
  copy = dia_image_copy (view, &error);
  g_assert_no_error (error);

  /* Deep: own buffers, compact stride, same content and descriptors, not frozen. */
  g_assert_null (copy->parent);
  g_assert_false (copy->frozen);
  g_assert_cmpuint (copy->stride, ==, 17);
  g_assert_cmpint (copy->x0, ==, 5);
  g_assert_cmpint (copy->y0, ==, 6);
  g_assert_true (copy->pix != view->pix);
  for (int y = 0; y < copy->height; y++)
    for (int x = 0; x < copy->width; x++)
      {
        g_assert_cmpfloat (copy->pix[dia_image_index (copy, x, y)], ==,
                           view->pix[dia_image_index (view, x, y)]);
        g_assert_cmpfloat (copy->var[dia_image_index (copy, x, y)], ==,
                           view->var[dia_image_index (view, x, y)]);
        g_assert_cmpuint (copy->mask[dia_image_index (copy, x, y)], ==,
                          view->mask[dia_image_index (view, x, y)]);
      }
  g_assert_cmpfloat (copy->meta.gain, ==, 1.6);
  g_assert_cmpstr (copy->meta.filter, ==, "r");
  g_assert_cmpstr (copy->source, ==, "ramp.fits");
  g_assert_cmpuint (dia_image_mask_bit (copy, "CROSSTALK"), ==,
                    dia_image_mask_bit (img, "CROSSTALK"));
  copy->pix[0] = 12345.0f;
  copy->mask[0] = DIA_MASK_SAT;
  g_assert_cmpfloat (img->pix[dia_image_index (img, 5, 6)], ==, 6005.0f);
  g_assert_cmpuint (img->mask[dia_image_index (img, 5, 6)], ==, 0);

  like = dia_image_new_like (view, &error);
  g_assert_no_error (error);
  g_assert_cmpint (like->width, ==, 17);
  g_assert_cmpint (like->x0, ==, 5);
  g_assert_cmpfloat (like->pix[0], ==, 0.0f);
  g_assert_cmpfloat (like->meta.gain, ==, 1.6);
}

static void
test_image_mask_planes (void)
{
  g_autoptr (DiaImage) img = dia_image_new (4, 4, NULL);
  g_autoptr (DiaImage) other = dia_image_new (4, 4, NULL);
  DiaMask bit;
  int added = 0;

  /* Core planes sit at their fixed bits. */
  g_assert_cmpuint (dia_image_mask_bit (img, "BAD"), ==, DIA_MASK_BAD);
  g_assert_cmpuint (dia_image_mask_bit (img, "sat"), ==, DIA_MASK_SAT);
  g_assert_cmpuint (dia_image_mask_bit (img, "NO_DATA"), ==, DIA_MASK_NO_DATA);
  g_assert_cmpuint (dia_image_mask_bit (img, "STREAK"), ==, DIA_MASK_STREAK);
  g_assert_cmpuint (dia_image_mask_bit (img, "NOPE"), ==, 0);

  /* Extra planes from the first free bit; adding twice returns the same bit. */
  bit = dia_image_add_mask_plane (img, "CROSSTALK");
  g_assert_cmpuint (bit, ==, 1u << DIA_MASK_FIRST_EXTRA_BIT);
  g_assert_cmpuint (dia_image_add_mask_plane (img, "crosstalk"), ==, bit);
  g_assert_cmpuint (dia_image_mask_bit (img, "Crosstalk"), ==, bit);
  g_assert_cmpuint (dia_image_add_mask_plane (img, "SAT"), ==, DIA_MASK_SAT);

  /* Fill every bit up to 32, then adding fails with 0. */
  for (int i = 0; i < DIA_MASK_MAX_PLANES; i++)
    {
      char name[16];
      g_snprintf (name, sizeof name, "EXTRA%d", i);
      bit = dia_image_add_mask_plane (img, name);
      if (bit == 0)
        break;
      g_assert_cmpuint (bit, ==, 1u << (DIA_MASK_FIRST_EXTRA_BIT + 1 + i));
      added++;
    }
  g_assert_cmpint (added, ==, DIA_MASK_MAX_PLANES - DIA_MASK_FIRST_EXTRA_BIT - 1);
  g_assert_cmpuint (dia_image_add_mask_plane (img, "ONE_TOO_MANY"), ==, 0);
  g_assert_cmpuint (dia_image_mask_bit (img, "EXTRA19"), ==, 1u << 31);
  g_assert_cmpuint (dia_image_mask_bit (img, "CROSSTALK"), ==, 1u << DIA_MASK_FIRST_EXTRA_BIT);

  /* The dictionary copies. */
  dia_image_copy_plane_names (other, img);
  g_assert_cmpuint (dia_image_mask_bit (other, "EXTRA19"), ==, 1u << 31);
  g_assert_cmpuint (dia_image_mask_bit (other, "BAD"), ==, DIA_MASK_BAD);
}

static void
test_rect (void)
{
  DiaRect a = { 0, 0, 10, 10 }, b = { 5, -3, 10, 6 }, c = { 20, 20, 1, 1 }, r;
  r = dia_rect_intersect (&a, &b);
  g_assert_cmpint (r.x, ==, 5);
  g_assert_cmpint (r.y, ==, 0);
  g_assert_cmpint (r.width, ==, 5);
  g_assert_cmpint (r.height, ==, 3);
  r = dia_rect_intersect (&a, &c);
  g_assert_true (dia_rect_is_empty (&r));
  g_assert_true (dia_rect_contains (&a, &(DiaRect){ 2, 2, 8, 8 }));
  g_assert_false (dia_rect_contains (&a, &(DiaRect){ 2, 2, 9, 8 }));
  g_assert_false (dia_rect_contains (&a, &b));
}

typedef struct
{
  gint *hits;
  gint calls;
  int n_threads;
  gint bad_thread;
  DiaMonitor *monitor;
  int cancel_at;
} LoopData;

static void
loop_count_body (int first, int last, int thread_index, gpointer data)
{
  LoopData *d = data;
  if (thread_index < 0 || thread_index >= d->n_threads)
    g_atomic_int_set (&d->bad_thread, 1);
  for (int i = first; i < last; i++)
    {
      g_atomic_int_inc (&d->hits[i]);
      g_atomic_int_inc (&d->calls);
      if (d->monitor && i == d->cancel_at)
        dia_monitor_cancel (d->monitor);
    }
}

static void
test_parallel_for (void)
{
  const int n = 10007;
  const int threads[] = { 1, 2, 7 };
  const int grains[] = { 0, 1, 13, 20000 };

  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    for (guint g = 0; g < G_N_ELEMENTS (grains); g++)
      {
        g_autofree gint *hits = g_new0 (gint, n);
        LoopData d = { hits, 0, threads[t], 0, NULL, -1 };
        g_autoptr (GError) error = NULL;
        g_assert_true (dia_parallel_for (n, grains[g], threads[t], loop_count_body, &d, NULL,
                                         &error));
        g_assert_no_error (error);
        for (int i = 0; i < n; i++)
          g_assert_cmpint (hits[i], ==, 1);
        g_assert_cmpint (d.calls, ==, n);
        g_assert_false (d.bad_thread);
      }

  /* Nothing to do is success. */
  {
    LoopData d = { NULL, 0, 1, 0, NULL, -1 };
    g_assert_true (dia_parallel_for (0, 1, 2, loop_count_body, &d, NULL, NULL));
    g_assert_cmpint (d.calls, ==, 0);
  }
}

static void
test_parallel_cancel (void)
{
  const int n = 100000;
  const int threads[] = { 1, 2, 7 };

  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    {
      g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
      g_autofree gint *hits = g_new0 (gint, n);
      LoopData d = { hits, 0, threads[t], 0, monitor, 50 };
      g_autoptr (GError) error = NULL;

      g_assert_false (dia_parallel_for (n, 10, threads[t], loop_count_body, &d, monitor,
                                        &error));
      g_assert_error (error, DIA_ERROR, DIA_ERROR_CANCELLED);
      /* No chunk starts after the cancellation: at most one chunk per thread is in flight. */
      g_assert_cmpint (d.calls, <, n);
      g_assert_cmpint (d.calls, <=, 60 + 10 * threads[t]);
      for (int i = 0; i < n; i++)
        g_assert_cmpint (hits[i], <=, 1);
      g_assert_true (dia_monitor_is_cancelled (monitor));
    }

  /* A monitor cancelled beforehand stops the loop before any work. */
  {
    g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
    LoopData d = { NULL, 0, 2, 0, NULL, -1 };
    g_autoptr (GError) error = NULL;
    dia_monitor_cancel (monitor);
    dia_monitor_cancel (monitor);
    g_assert_false (dia_parallel_for (100, 1, 2, loop_count_body, &d, monitor, &error));
    g_assert_error (error, DIA_ERROR, DIA_ERROR_CANCELLED);
    g_assert_cmpint (d.calls, ==, 0);
    g_assert_false (dia_monitor_check (monitor, NULL));
  }
  g_assert_true (dia_monitor_check (NULL, NULL));
  g_assert_false (dia_monitor_is_cancelled (NULL));
}

typedef struct
{
  int n_calls, n_zero, n_one;
  double last;
  gboolean out_of_range;
} ProgressLog;

static void
progress_record (const char *stage, double fraction, gpointer user_data)
{
  ProgressLog *log = user_data;
  log->n_calls++;
  log->n_zero += fraction == 0.0;
  log->n_one += fraction == 1.0;
  log->last = fraction;
  if (fraction < 0.0 || fraction > 1.0 || g_strcmp0 (stage, "stage") != 0)
    log->out_of_range = TRUE;
}

static void
test_monitor_progress (void)
{
  g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
  ProgressLog log = { 0 };
  gint64 t0, elapsed_us;
  int allowed;

  dia_monitor_set_progress_func (monitor, progress_record, &log);
  g_assert_true (dia_monitor_ref (monitor) == monitor);
  dia_monitor_unref (monitor);

  t0 = g_get_monotonic_time ();
  dia_monitor_stage (monitor, "stage", 0.0);
  for (int i = 1; i < 20000; i++)
    dia_monitor_stage (monitor, "stage", i / 20000.0);
  dia_monitor_stage (monitor, "stage", 1.0);
  elapsed_us = g_get_monotonic_time () - t0;

  /* 0 and 1 always arrive; between them at most one report per 100 ms of elapsed time. */
  allowed = 2 + (int) (elapsed_us / 100000) + 1;
  g_test_message ("%d of 20001 reports delivered in %.1f ms", log.n_calls, elapsed_us / 1e3);
  g_assert_cmpint (log.n_zero, ==, 1);
  g_assert_cmpint (log.n_one, ==, 1);
  g_assert_cmpint (log.n_calls, <=, allowed);
  g_assert_cmpint (log.n_calls, <, 20001);
  g_assert_cmpfloat (log.last, ==, 1.0);
  g_assert_false (log.out_of_range);

  /* Out-of-range fractions are clamped; a NULL monitor is a no-op. */
  dia_monitor_stage (monitor, "stage", 7.0);
  g_assert_cmpfloat (log.last, ==, 1.0);
  dia_monitor_stage (NULL, "stage", 0.5);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/image/new-ref", test_image_new_ref);
  g_test_add_func ("/image/crop", test_image_crop);
  g_test_add_func ("/image/copy", test_image_copy);
  g_test_add_func ("/image/mask-planes", test_image_mask_planes);
  g_test_add_func ("/image/rect", test_rect);
  g_test_add_func ("/parallel/for", test_parallel_for);
  g_test_add_func ("/parallel/cancel", test_parallel_cancel);
  g_test_add_func ("/monitor/progress", test_monitor_progress);
  return g_test_run ();
}
