/* ds-window-private.h — the inspector window's state, shared by the files that make it up.
 *
 * ds-window.c owns the state, construction, the job-runner wiring and the action table; each
 * ds-window-<part>.c implements one feature on the same struct (catalogue, overlays, PSF
 * panel, blink and flip, diagnostics, header viewer, sessions and export, scripting, pixel
 * readouts).  Everything here runs on the main thread.  Not installed, not for other widgets.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "ds-window.h"
#include "ds-display-controls.h"
#include "ds-fakes-job.h"
#include "ds-header-view.h"
#include "ds-histogram.h"
#include "ds-image-view.h"
#include "ds-job-runner.h"
#include "ds-kernel-view.h"
#include "ds-pair-loader.h"
#include "ds-param-panel.h"
#include "ds-recall-plot.h"
#include "ds-subtract-job.h"

#include "dia-wcs.h"

G_BEGIN_DECLS

typedef enum
{
  DS_PANE_TEMPLATE,
  DS_PANE_SCIENCE,
  DS_PANE_DIFFERENCE,
  DS_N_PANES,
} DsPaneId;

struct _DsWindow
{
  GtkApplicationWindow parent_instance;

  /* template children */
  GtkWidget *spinner;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  GtkWidget *panes_box;
  GtkLabel *template_title;
  GtkLabel *science_title;
  GtkLabel *difference_title;
  DsImageView *template_view;
  DsImageView *science_view;
  DsImageView *difference_view;
  GtkWidget *param_scroller;
  GtkWidget *side_box;
  GtkWidget *catalog_box;
  GtkLabel *catalog_label;
  GtkColumnView *catalog_view;
  GtkWidget *psf_box;
  GtkLabel *psf_position_label;
  GtkPicture *psf_template_picture, *psf_science_picture, *psf_difference_picture;
  GtkPicture *psf_kernel_picture;
  GtkLabel *psf_template_label, *psf_science_label, *psf_difference_label, *psf_kernel_label;
  GtkProgressBar *progress_bar;
  GtkLabel *pixel_label;
  GtkLabel *status_label;
  DsParamPanel *panel;

  DsImageView *views[DS_N_PANES];
  GtkLabel *titles[DS_N_PANES];
  struct wcsprm *wcs[DS_N_PANES];     /* private copies, main thread only; NULL if none     */
  DsImageView *active_view;           /* target of the zoom actions                          */
  DsDisplayControls *display;         /* per-pane display settings, locks, magnifier, masks */

  DsPairLoader *loader;
  GCancellable *cancellable;          /* of the current load                                 */
  char *pending_template;             /* Open Pair…: template chosen, science pending        */

  guint screenshot_poll_id;
  int screenshot_ready_polls;

  /* live rerun */
  DiaImage *inputs[2];                /* template, science (refs) of the loaded pair         */
  char *input_paths[2];               /* their files, NULL for the demo                      */
  DiaSubtractRequest request;         /* what the difference pane should show                */
  DsJobRunner *runner;
  DiaSubtractResult *result;          /* last full-frame result (B), or NULL                 */
  DiaSubtractResult *pinned;          /* A, or NULL                                         */
  DiaImage *a_minus_b;                /* cached A − B image, or NULL                         */
  GArray *undo, *redo;                /* DiaSubtractRequest                                  */
  char *diff_plane;                   /* "image", "variance", "mask" or "score"             */
  char *compare;                      /* "b", "a" or "a-minus-b"                             */
  double quiver_scale;                /* arrow length factor (1: longest = 40 % of a cell)  */
  guint blink_id;
  gboolean blink_phase;               /* TRUE: the blink pane shows the pair's second image  */
  char *blink_pair;                   /* win.blink-pair, lower case ("template:science")     */
  guint blink_interval_ms;
  gboolean flipped;                   /* win.flip: F held                                    */
  int blink_pane;                     /* pane showing a borrowed image, or -1                */
  GtkLabel *readouts[DS_N_PANES];     /* pixel readout under each pane title                 */
  DsHeaderView *header_view;          /* win.show-header, created on first use, or NULL      */
  int exports_pending;                /* exports running on worker threads                   */
  gint64 paint_change_time;           /* µs of the change whose pixels wait for a paint      */
  const char *paint_what;             /* "visible region", "full frame" or "detections"    */
  gulong after_paint_id;
  gboolean script_started, script_done; /* --set steps (screenshot scripts)                  */
  int script_step, action_step;
  guint script_id;
  GString *report;                    /* --report text, or NULL                              */
  DiaCatalog *catalog;                /* of self->result with the current detect params      */
  GtkStringList *catalog_rows;        /* one item per source: its index in catalog->sources  */
  guint catalog_idle_id;              /* fills catalog_rows after the markers are drawn      */
  GtkSingleSelection *catalog_selection;
  gboolean selecting_from_click;      /* a marker click selects: do not recentre the view    */
  gboolean psf_have_position;         /* psf_x/y set by the pointer (else: image centre)     */
  double psf_x, psf_y;                /* input-image position shown by the PSF panel         */
  guint psf_timeout_id;               /* pending throttled panel redraw                      */
  DsHistogram *histogram;             /* residual histogram in the side pane (child of it)   */
  GCancellable *fakes_cancellable;    /* of the running win.run-fakes task, or NULL          */
  DiaRecovery *recovery;              /* last fake-recovery result, or NULL                  */
  DsRecallPlot *recall_plot;          /* recall vs S/N (side pane, win.show-recall)          */
  DsKernelView *kernel_view;          /* basis and kernel-sum map (win.show-kernel-views)    */
  GtkWidget *kernel_scroller;         /* its scrolled window in the side pane                */
};

/* Marker layers of the image views. */
typedef enum
{
  DS_WINDOW_LAYER_STAMPS,
  DS_WINDOW_LAYER_QUIVER,
  DS_WINDOW_LAYER_DETECTIONS,
  DS_WINDOW_LAYER_FAKES,
} DsWindowLayer;

/* GAction change-state handlers have this shape (user_data: the DsWindow). */
#define DS_WINDOW_STATE_HANDLER(name) \
  void name (GSimpleAction *action, GVariant *state, gpointer user_data)

/* ds-window.c ----------------------------------------------------------------------------- */

/* Index of name in names[0..n), or -1. */
int ds_window_name_index (const char *const *names, size_t n, const char *name);
/* The translated title of a pane. */
const char *ds_window_pane_name (DsPaneId id);
/* Appends one line to the --report text (nothing without --report). */
void ds_window_report (DsWindow *self, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Puts what the difference pane should show (B, A, A − B; image or score) into the view. */
void ds_window_update_difference (DsWindow *self);
/* The side pane shows when any of its parts does. */
void ds_window_update_side_box (DsWindow *self);
/* A parameter change from any source: remember the old request for undo, rerun. */
void ds_window_change_request (DsWindow *self, const DiaSubtractRequest *request,
                               const char *reason, gboolean record_undo, guint delay_ms);

/* ds-window-readout.c: status bar pixel line and per-pane readouts ---------------------- */

/* Adds the readout label under each pane title. */
void ds_window_readout_init (DsWindow *self);
/* DsImageView::pointer-moved of every pane. */
void ds_window_readout_on_pointer_moved (DsImageView *view, gboolean inside, double ix,
                                         double iy, DsWindow *self);

/* ds-window-script.c: --screenshot, --report, --set and --action ------------------------- */

/* The --screenshot path, or NULL when the window is interactive. */
const char *ds_window_script_get_screenshot_path (DsWindow *self);
/* Ends a scripted run: the application quits with status. */
void ds_window_script_finish (DsWindow *self, int status);
/* After a pair is shown: waits for a settled window, writes the report and screenshot. */
void ds_window_script_start_screenshot_poll (DsWindow *self);
/* After the first full result: runs the --set steps, then the --action steps. */
void ds_window_script_start (DsWindow *self);

/* ds-window-overlays.c: stamps and kernel quiver ----------------------------------------- */

/* Redraws the stamps and quiver of self->result's plan. */
void ds_window_overlays_update (DsWindow *self);
DS_WINDOW_STATE_HANDLER (ds_window_overlays_on_show_stamps_changed);
DS_WINDOW_STATE_HANDLER (ds_window_overlays_on_show_quiver_changed);
DS_WINDOW_STATE_HANDLER (ds_window_overlays_on_quiver_scale_changed);

/* ds-window-catalog.c: detection markers and the catalogue table ------------------------- */

/* Sets up the table's columns and the click-to-select gesture on the difference. */
void ds_window_catalog_init (DsWindow *self);
/* Takes a new reference to catalog; refreshes the markers and the table. */
void ds_window_catalog_set (DsWindow *self, DiaCatalog *catalog);
/* Markers of catalog (self->catalog, or a provisional, unmeasured one) on the difference. */
void ds_window_catalog_show_markers (DsWindow *self, const DiaCatalog *catalog);
/* Flags that make a measurement doubtful. */
gboolean ds_window_catalog_source_is_flagged (const DiaSource *src);
DS_WINDOW_STATE_HANDLER (ds_window_catalog_on_show_detections_changed);
DS_WINDOW_STATE_HANDLER (ds_window_catalog_on_show_catalog_changed);

/* ds-window-blink.c: blink pair and hold-to-flip ----------------------------------------- */

/* Adds the F key controller (hold-to-flip). */
void ds_window_blink_init (DsWindow *self);
DS_WINDOW_STATE_HANDLER (ds_window_blink_on_blink_changed);
DS_WINDOW_STATE_HANDLER (ds_window_blink_on_pair_changed);
DS_WINDOW_STATE_HANDLER (ds_window_blink_on_interval_changed);
DS_WINDOW_STATE_HANDLER (ds_window_blink_on_flip_changed);

/* ds-window-psf-panel.c: PSF & kernel panel ---------------------------------------------- */

/* Redraws the panel now (nothing while it is hidden). */
void ds_window_psf_panel_update (DsWindow *self);
/* Throttles pointer-driven redraws to one per 50 ms, and none while the panel is hidden. */
void ds_window_psf_panel_queue (DsWindow *self);
DS_WINDOW_STATE_HANDLER (ds_window_psf_panel_on_show_changed);

/* ds-window-diagnostics.c: residual histogram, fakes, recall plot, kernel views ---------- */

/* Creates the histogram, recall plot and kernel view in the side pane, hidden. */
void ds_window_diagnostics_init (DsWindow *self);
/* Feeds the histogram D/√V of the last full-frame difference; nothing while it is hidden. */
void ds_window_diagnostics_update_histogram (DsWindow *self);
/* Forgets the fakes (a new pair): cancels a running experiment and clears plot and markers. */
void ds_window_diagnostics_clear_fakes (DsWindow *self);
/* --report lines of the fakes, the recall plot and the kernel view (GUI tests). */
void ds_window_diagnostics_report (DsWindow *self);
void ds_window_diagnostics_action_run_fakes (GtkWidget *widget, const char *action_name,
                                             GVariant *parameter);
DS_WINDOW_STATE_HANDLER (ds_window_diagnostics_on_show_histogram_changed);
DS_WINDOW_STATE_HANDLER (ds_window_diagnostics_on_show_fakes_changed);
DS_WINDOW_STATE_HANDLER (ds_window_diagnostics_on_show_recall_changed);
DS_WINDOW_STATE_HANDLER (ds_window_diagnostics_on_show_kernel_views_changed);

/* ds-window-header.c: FITS header viewer ------------------------------------------------- */

void ds_window_header_action_show (GtkWidget *widget, const char *action_name,
                                   GVariant *parameter);
void ds_window_header_action_search (GtkWidget *widget, const char *action_name,
                                     GVariant *parameter);

/* ds-window-session.c: sessions, export, screenshot and open dialogs ----------------------- */

void ds_window_session_action_session (GtkWidget *widget, const char *action_name,
                                       GVariant *parameter);
void ds_window_session_action_export (GtkWidget *widget, const char *action_name,
                                      GVariant *parameter);
void ds_window_session_action_export_all (GtkWidget *widget, const char *action_name,
                                          GVariant *parameter);
void ds_window_session_action_screenshot (GtkWidget *widget, const char *action_name,
                                          GVariant *parameter);
void ds_window_session_action_open_pair (GtkWidget *widget, const char *action_name,
                                         GVariant *parameter);

G_END_DECLS
