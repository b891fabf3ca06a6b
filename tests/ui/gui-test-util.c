/* gui-test-util.c — helpers shared by the GUI tests (see gui-test-util.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "gui-test-util.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

void
gui_shot_load (const char *path, GuiShot *shot)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &error);

  g_assert_no_error (error);
  shot->width = gdk_pixbuf_get_width (pb);
  shot->height = gdk_pixbuf_get_height (pb);
  shot->stride = gdk_pixbuf_get_rowstride (pb);
  shot->n_channels = gdk_pixbuf_get_n_channels (pb);
  shot->pixels = g_memdup2 (gdk_pixbuf_read_pixels (pb), (gsize) shot->stride * shot->height);
}

void
gui_shot_clear (GuiShot *shot)
{
  g_clear_pointer (&shot->pixels, g_free);
}

const guint8 *
gui_shot_at (const GuiShot *shot, int x, int y)
{
  x = CLAMP (x, 0, shot->width - 1);
  y = CLAMP (y, 0, shot->height - 1);
  return shot->pixels + (size_t) y * shot->stride + (size_t) x * shot->n_channels;
}

void
gui_view_to_screen (const GuiView *v, double ix, double iy, double *sx, double *sy)
{
  *sx = v->x + 0.5 * v->w + (ix - v->cx) * v->zoom;
  *sy = v->y + 0.5 * v->h - (iy - v->cy) * v->zoom;
}

int
gui_run_diffscope (const char *const *args, GSpawnFlags flags, char **err)
{
  const char *exe = g_getenv ("DIFFSCOPE_GUI");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status = -1;

  g_assert_nonnull (exe);
  g_ptr_array_add (argv, (gpointer) exe);
  for (int i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, flags, NULL, NULL, NULL, err, &status,
                &error);
  g_assert_no_error (error);
  g_test_message ("diffscope stderr: %s", *err);
  return status;
}

char *
gui_run_case (const char *tmp_template, const char *const *extra, GuiShot *shot)
{
  g_autofree char *dir = g_dir_make_tmp (tmp_template, NULL);
  g_autofree char *png = NULL, *txt = NULL, *shot_arg = NULL, *report_arg = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  const char *keep = g_getenv ("DS_TEST_KEEP_SHOT");
  char *text = NULL;
  int status;

  g_assert_nonnull (dir);
  png = g_build_filename (dir, "shot.png", NULL);
  txt = g_build_filename (dir, "report.txt", NULL);
  shot_arg = g_strdup_printf ("--screenshot=%s", png);
  report_arg = g_strdup_printf ("--report=%s", txt);
  g_ptr_array_add (args, shot_arg);
  g_ptr_array_add (args, report_arg);
  g_ptr_array_add (args, (gpointer) "--window-size=1400x800");
  for (int i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  status = gui_run_diffscope ((const char *const *) args->pdata, G_SPAWN_STDOUT_TO_DEV_NULL,
                              &err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  gui_shot_load (png, shot);
  g_file_get_contents (txt, &text, NULL, &error);
  g_assert_no_error (error);
  if (keep != NULL)
    {
      g_autofree char *base = g_strdelimit (g_strdup (g_test_get_path ()), "/", '_');
      g_autofree char *dest = g_strdup_printf ("%s/%s.png", keep, base);

      g_rename (png, dest);
    }
  g_unlink (png);
  g_unlink (txt);
  g_rmdir (dir);
  return text;
}
