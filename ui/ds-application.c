/* ds-application.c — the Diffscope GtkApplication.
 *
 * Design.  The application object owns what outlives a window: the GSettings, the CSS
 * provider, the app-level actions (about, quit) and the keyboard accelerators of every action,
 * and the command-line state.  Windows are DsWindow (ds-window.c).
 *
 * Command line: `diffscope [--screenshot=FILE.png] [--window-size=WxH] [TEMPLATE SCIENCE]`.
 * Without files the window shows the built-in simulated demo field.  With --screenshot the
 * window is shown, the pair loaded, and once both panes have rendered the window is drawn
 * into FILE.png and the application exits with status 0 (1 with a message on stderr when the
 * load or the save fails).  The flags include G_APPLICATION_NON_UNIQUE so that every
 * invocation is its own process (scripted screenshots must not hand their files to a running
 * instance) and no D-Bus session is needed.
 *
 * Settings: the schema is looked up with g_settings_schema_source_lookup() first, so a missing
 * schema never aborts (g_settings_new() would).  Order: the default source (installed schemas
 * and GSETTINGS_SCHEMA_DIR) with the default backend; then the build tree's data/ directory
 * (DIFFSCOPE_SCHEMA_BUILD_DIR, for running uninstalled) with a memory backend; else none.
 * Scripted screenshots always use a memory backend so they neither read nor change the
 * user's preferences.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_SETTINGS_ENABLE_BACKEND 1
#include "ds-application.h"
#include "ds-scan-window.h"
#include "ds-window.h"

#include <gio/gsettingsbackend.h>

#include <glib/gi18n.h>
#include <stdio.h>

struct _DsApplication
{
  GtkApplication parent_instance;

  GSettings *settings;
  char *screenshot_path;
  int window_width, window_height;    /* from --window-size; 0 = from the settings */
  int exit_status;
  guint screenshot_timeout_id;
  char *scan_source;            /* --scan: open the scanning view on this source        */
  char *labels_path;            /* --labels: label store (NULL: the default store)      */
  char *taxonomy_path;          /* --taxonomy: replaces the default taxonomy            */
  char **script_sets;           /* --set KEY=VALUE, applied after the first difference   */
  double initial_zoom;          /* --zoom, 0 = fit                                       */
  char **script_actions;        /* --action NAME[::TARGET], after the --set steps         */
  char *report_path;            /* --report: text report of a scripted screenshot        */
};

G_DEFINE_FINAL_TYPE (DsApplication, ds_application, GTK_TYPE_APPLICATION)

/* A scripted screenshot that has not happened after this long has failed. */
#define SCREENSHOT_TIMEOUT_S 300

static GSettings *
app_create_settings (gboolean force_memory)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;
  g_autoptr (GSettingsBackend) memory = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, DIFFSCOPE_APP_ID, TRUE);
#ifdef DIFFSCOPE_SCHEMA_BUILD_DIR
  if (schema == NULL)
    {
      g_autoptr (GSettingsSchemaSource) build_source =
        g_settings_schema_source_new_from_directory (DIFFSCOPE_SCHEMA_BUILD_DIR, source, FALSE,
                                                     NULL);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, DIFFSCOPE_APP_ID, FALSE);
      force_memory = TRUE;
    }
#endif
  if (schema == NULL)
    {
      g_message (_("The settings schema %s is not installed; preferences will not be saved. "
                   "Run from the build tree with GSETTINGS_SCHEMA_DIR=BUILDDIR/data."),
                 DIFFSCOPE_APP_ID);
      return NULL;
    }
  if (force_memory)
    memory = g_memory_settings_backend_new ();
  return g_settings_new_full (schema, memory, NULL);
}

static gboolean
on_screenshot_timeout (gpointer user_data)
{
  DsApplication *self = user_data;

  self->screenshot_timeout_id = 0;
  g_printerr (_("diffscope: no screenshot after %d s; giving up\n"), SCREENSHOT_TIMEOUT_S);
  self->exit_status = 1;
  g_application_quit (G_APPLICATION (self));
  return G_SOURCE_REMOVE;
}

static DsWindow *
app_new_window (DsApplication *self)
{
  DsWindow *window = ds_window_new (self);

  if (self->window_width > 0)
    gtk_window_set_default_size (GTK_WINDOW (window), self->window_width,
                                 self->window_height);
  if (self->screenshot_path != NULL && self->screenshot_timeout_id == 0)
    self->screenshot_timeout_id = g_timeout_add_seconds (SCREENSHOT_TIMEOUT_S,
                                                         on_screenshot_timeout, self);
  return window;
}

static gboolean
on_scan_screenshot (gpointer user_data)
{
  DsScanWindow *window = user_data;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (window));
  DsApplication *self = DS_APPLICATION (app);
  g_autoptr (GError) error = NULL;

  if (!ds_scan_window_save_png (window, self->screenshot_path, &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      self->exit_status = 1;
    }
  g_application_quit (G_APPLICATION (app));
  return G_SOURCE_REMOVE;
}

/* Opens the scanning view; prints the error and returns FALSE when the source cannot be read. */
static gboolean
app_open_scan (DsApplication *self, const char *source, const char *labels,
               const char *taxonomy)
{
  g_autoptr (GError) error = NULL;
  GtkWindow *window = ds_scan_window_new (GTK_APPLICATION (self), source, labels, &error);

  if (window == NULL)
    {
      g_printerr ("diffscope: %s\n", error->message);
      self->exit_status = 1;
      return FALSE;
    }
  if (taxonomy != NULL && !ds_scan_window_load_taxonomy (DS_SCAN_WINDOW (window), taxonomy,
                                                         &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      self->exit_status = 1;
      gtk_window_destroy (window);
      return FALSE;
    }
  if (self->window_width > 0)
    gtk_window_set_default_size (window, self->window_width, self->window_height);
  gtk_window_present (window);
  if (self->screenshot_path != NULL)
    g_timeout_add (1500, on_scan_screenshot, window);
  return TRUE;
}

static void
on_scan_chosen (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  DsApplication *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));

      if (path != NULL)
        {
          g_autoptr (GError) error = NULL;
          GtkWindow *w = ds_scan_window_new (GTK_APPLICATION (self), path, NULL, &error);
          if (w != NULL)
            gtk_window_present (w);
          else if (DS_IS_WINDOW (parent))
            ds_window_show_error (DS_WINDOW (parent), error->message);
          else
            g_printerr ("diffscope: %s\n", error->message);
        }
    }
  g_object_unref (dialog);
}

static void
on_scan (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  DsApplication *self = user_data;
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Scan Candidates — choose a folder of cutouts"),
                                        gtk_application_get_active_window (GTK_APPLICATION (self)),
                                        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Scan"),
                                        _("_Cancel"));
  g_signal_connect (dialog, "response", G_CALLBACK (on_scan_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
ds_application_activate (GApplication *app)
{
  DsApplication *self = DS_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (self->scan_source != NULL && window == NULL)
    {
      if (!app_open_scan (self, self->scan_source, self->labels_path, self->taxonomy_path))
        g_application_quit (app);
      return;
    }

  if (window == NULL)
    {
      DsWindow *w = app_new_window (self);

      ds_window_load_demo (w);
      window = GTK_WINDOW (w);
    }
  gtk_window_present (window);
}

static void
ds_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  DsApplication *self = DS_APPLICATION (app);
  DsWindow *window = app_new_window (self);
  g_autofree char *template_path = NULL;
  g_autofree char *science_path = NULL;

  if (n_files == 2)
    {
      template_path = g_file_get_path (files[0]);
      science_path = g_file_get_path (files[1]);
    }
  if (template_path != NULL && science_path != NULL)
    ds_window_load_pair (window, template_path, science_path);
  else
    {
      g_autofree char *message = NULL;

      if (n_files != 2)
        message = g_strdup_printf (_("Give two files, the template then the science image "
                                     "(got %d); showing the demo field instead."), n_files);
      else
        message = g_strdup (_("Only local files can be opened; showing the demo field "
                              "instead."));
      if (self->screenshot_path != NULL)
        {
          g_printerr ("diffscope: %s\n", message);
          self->exit_status = 1;
          gtk_window_destroy (GTK_WINDOW (window));
          return;
        }
      ds_window_load_demo (window);
      ds_window_show_error (window, message);
    }
  gtk_window_present (GTK_WINDOW (window));
}

static void
on_quit (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *app = user_data;
  GList *windows = g_list_copy (gtk_application_get_windows (app));

  /* Closing the windows (rather than g_application_quit) lets them save their state. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  g_list_free (windows);
}

static void
on_about (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *app = user_data;
  const char *authors[] = { _("The Diffscope authors"), NULL };

  gtk_show_about_dialog (gtk_application_get_active_window (app),
                         "program-name", _("Diffscope"),
                         "logo-icon-name", DIFFSCOPE_APP_ID,
                         "version", DIFFSCOPE_VERSION,
                         "comments", _("Difference image analysis of astronomical images: "
                                       "PSF-matched subtraction of a template from a "
                                       "science image."),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "copyright", _("© 2026 The Diffscope authors"),
                         "authors", authors,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
app_load_css (void)
{
  GtkCssProvider *provider = gtk_css_provider_new ();
  GdkDisplay *display = gdk_display_get_default ();

  gtk_css_provider_load_from_resource (provider, "/io/github/diffscope/Diffscope/style.css");
  if (display != NULL)
    gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_unref (provider);
}

static void
ds_application_startup (GApplication *app)
{
  DsApplication *self = DS_APPLICATION (app);
  static const GActionEntry app_actions[] = {
    { "quit", on_quit, NULL, NULL, NULL, { 0 } },
    { "about", on_about, NULL, NULL, NULL, { 0 } },
    { "scan", on_scan, NULL, NULL, NULL, { 0 } },
  };
  static const struct
  {
    const char *action;
    const char *accels[5];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "win.open-pair", { "<Control>o", NULL } },
    { "win.screenshot", { "<Control><Shift>s", NULL } },
    { "win.zoom-in", { "plus", "equal", "KP_Add", "<Control>plus", NULL } },
    { "win.zoom-out", { "minus", "KP_Subtract", "<Control>minus", NULL } },
    { "win.zoom-fit", { "0", "KP_0", NULL } },
    { "win.zoom-1", { "1", "KP_1", NULL } },
    { "win.lock-views", { "l", NULL } },
    { "win.crosshair", { "c", NULL } },
    { "win.magnifier", { "m", NULL } },
    { "win.show-mask-overlay", { "o", NULL } },
    { "win.undo", { "<Control>z", NULL } },
    { "win.redo", { "<Control><Shift>z", "<Control>y", NULL } },
    { "win.pin-a", { "<Control>p", NULL } },
    { "win.blink", { "b", NULL } },
    { "win.show-stamps", { "s", NULL } },
    { "win.show-quiver", { "q", NULL } },
    { "win.show-parameters", { "F9", NULL } },
    { "win.show-detections", { "d", NULL } },
    { "win.show-catalog", { "F10", NULL } },
    { "win.show-recall", { "r", NULL } },
    { "win.show-kernel-views", { "k", NULL } },
    { "win.run-fakes", { "<Control><Shift>f", NULL } },
    { "win.export", { "<Control>e", NULL } },
    { "win.show-header", { "<Control>i", NULL } },
    { "win.save-session", { "<Control>s", NULL } },
    { "win.load-session", { "<Control><Shift>o", NULL } },
    { "win.show-help-overlay", { "<Control>question", NULL } },
  };

  G_APPLICATION_CLASS (ds_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  for (size_t i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action,
                                           accels[i].accels);
  self->settings = app_create_settings (self->screenshot_path != NULL);
  app_load_css ();
  gtk_window_set_default_icon_name (DIFFSCOPE_APP_ID);
}

static int
ds_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  DsApplication *self = DS_APPLICATION (app);
  const char *size = NULL;
  const char *shot = NULL;

  if (g_variant_dict_lookup (options, "version", "b", NULL))
    {
      printf ("diffscope %s\n", DIFFSCOPE_VERSION);
      return 0;
    }
  if (g_variant_dict_lookup (options, "screenshot", "^&ay", &shot) && shot[0] != '\0')
    self->screenshot_path = g_strdup (shot);
  if (g_variant_dict_lookup (options, "scan", "^&ay", &shot) && shot[0] != '\0')
    self->scan_source = g_strdup (shot);
  if (g_variant_dict_lookup (options, "labels", "^&ay", &shot) && shot[0] != '\0')
    self->labels_path = g_strdup (shot);
  if (g_variant_dict_lookup (options, "taxonomy", "^&ay", &shot) && shot[0] != '\0')
    self->taxonomy_path = g_strdup (shot);
  g_variant_dict_lookup (options, "set", "^as", &self->script_sets);
  g_variant_dict_lookup (options, "action", "^as", &self->script_actions);
  if (g_variant_dict_lookup (options, "report", "^&ay", &shot) && shot[0] != '\0')
    self->report_path = g_strdup (shot);
  if (g_variant_dict_lookup (options, "zoom", "d", &self->initial_zoom)
      && !(self->initial_zoom >= 1.0 / 64 && self->initial_zoom <= 64))
    {
      g_printerr (_("diffscope: --zoom wants a zoom between 1/64 and 64 (got %g)\n"),
                  self->initial_zoom);
      return 2;
    }
  if (g_variant_dict_lookup (options, "window-size", "&s", &size))
    {
      int w = 0, h = 0;
      char tail = 0;

      if (sscanf (size, "%dx%d%c", &w, &h, &tail) != 2 || w < 200 || h < 150 || w > 16384
          || h > 16384)
        {
          g_printerr (_("diffscope: --window-size wants WIDTHxHEIGHT, e.g. 1400x800 "
                        "(got “%s”)\n"), size);
          return 2;
        }
      self->window_width = w;
      self->window_height = h;
    }
  else if (self->screenshot_path != NULL)
    {
      /* Reproducible screenshots: a fixed size unless asked otherwise. */
      self->window_width = 1400;
      self->window_height = 800;
    }
  return -1;
}

static void
ds_application_shutdown (GApplication *app)
{
  DsApplication *self = DS_APPLICATION (app);

  g_clear_handle_id (&self->screenshot_timeout_id, g_source_remove);
  G_APPLICATION_CLASS (ds_application_parent_class)->shutdown (app);
}

static void
ds_application_finalize (GObject *object)
{
  DsApplication *self = DS_APPLICATION (object);

  g_clear_object (&self->settings);
  g_free (self->screenshot_path);
  g_free (self->scan_source);
  g_free (self->labels_path);
  g_free (self->taxonomy_path);
  g_strfreev (self->script_sets);
  g_strfreev (self->script_actions);
  g_free (self->report_path);
  G_OBJECT_CLASS (ds_application_parent_class)->finalize (object);
}

static void
ds_application_class_init (DsApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = ds_application_finalize;
  app_class->startup = ds_application_startup;
  app_class->shutdown = ds_application_shutdown;
  app_class->activate = ds_application_activate;
  app_class->open = ds_application_open;
  app_class->handle_local_options = ds_application_handle_local_options;
}

static void
ds_application_init (DsApplication *self)
{
  const GOptionEntry entries[] = {
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Show the pair, save the window as a PNG file and exit"), N_("FILE.png") },
    { "window-size", 0, 0, G_OPTION_ARG_STRING, NULL,
      N_("Initial window size (default 1400x800 for screenshots)"), N_("WxH") },
    { "scan", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Open the scanning view on a folder of cutouts, a list file or a catalog"),
      N_("SOURCE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Label store for the scanning view (SQLite)"), N_("FILE.db") },
    { "taxonomy", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Taxonomy file replacing the default labels"), N_("FILE") },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL,
      N_("After the first difference, change a subtraction parameter (repeatable)"),
      N_("KEY=VALUE") },
    { "action", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL,
      N_("After the changes, activate a window action, e.g. pin-a or compare::a-minus-b "
         "(repeatable)"), N_("NAME[::TARGET]") },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("With --screenshot: write what was computed and where it was drawn (for tests)"),
      N_("FILE") },
    { "zoom", 0, 0, G_OPTION_ARG_DOUBLE, NULL,
      N_("Initial zoom, screen pixels per image pixel (default: fit)"), N_("Z") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self),
                                                     _("[TEMPLATE.fits SCIENCE.fits]"));
  g_application_set_option_context_summary (
    G_APPLICATION (self),
    _("Inspect a template and a science image side by side.  Without files, a simulated "
      "demo field is shown."));
}

DsApplication *
ds_application_new (void)
{
  return g_object_new (DS_TYPE_APPLICATION,
                       "application-id", DIFFSCOPE_APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", "/io/github/diffscope/Diffscope",
                       NULL);
}

GSettings *
ds_application_get_settings (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), NULL);
  return self->settings;
}

const char *
ds_application_get_screenshot_path (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), NULL);
  return self->screenshot_path;
}

int
ds_application_get_exit_status (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), 1);
  return self->exit_status;
}

void
ds_application_set_exit_status (DsApplication *self, int status)
{
  g_return_if_fail (DS_IS_APPLICATION (self));
  self->exit_status = status;
}

const char *const *
ds_application_get_script_sets (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), NULL);
  return (const char *const *) self->script_sets;
}

double
ds_application_get_initial_zoom (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), 0.0);
  return self->initial_zoom;
}

const char *
ds_application_get_report_path (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), NULL);
  return self->report_path;
}

const char *const *
ds_application_get_script_actions (DsApplication *self)
{
  g_return_val_if_fail (DS_IS_APPLICATION (self), NULL);
  return (const char *const *) self->script_actions;
}
