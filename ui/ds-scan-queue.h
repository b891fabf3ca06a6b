/* ds-scan-queue.h — the list of candidates the scanning view walks through.
 *
 * GLib only (tested headless).  A queue is loaded from one SOURCE:
 *   (a) a folder of cutout triptychs NAME_sci.fits, NAME_ref.fits, NAME_diff.fits (the layout of
 *       B_alerts/ztf/cutouts).  The candidate id is NAME; the position is the stamp centre.  An
 *       alerts_index.csv in the folder or up to two folders above (columns survey, candid,
 *       magpsf, sigmapsf, isdiffpos, rb, drb, ssdistnr) adds S/N (1.0857 / sigmapsf), the
 *       magnitude and flags to candidates whose NAME is SURVEY_CANDID;
 *   (b) a list file: lines "TEMPLATE SCIENCE X Y [DIFFERENCE]" separated by white space, #
 *       comments, relative paths relative to the list file, X Y 0-based pixels of the science
 *       image.  The id is "BASENAME(SCIENCE):X:Y" with X, Y printed with one decimal;
 *   (c) a catalogue CSV whose leading comment lines name the images:
 *           # template: PATH
 *           # science: PATH
 *           # difference: PATH          (optional)
 *           # config_hash: HASH         (optional)
 *       followed by a CSV header with at least x and y columns and optionally id, snr, flux,
 *       flags (case-insensitive).  A list file is told from a catalogue by those comments.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *id;                 /* stable candidate id stored with the label                     */
  char *template_path;      /* NULL when unknown                                             */
  char *science_path;
  char *difference_path;    /* NULL when the source has no difference image                  */
  char *matched_path;       /* the PSF-matched (convolved) image when known, else NULL       */
  double x, y;              /* 0-based pixel of the science image; NAN = stamp centre        */
  double snr;               /* NAN when unknown                                              */
  double flux;              /* NAN when unknown (catalogues)                                 */
  double mag;               /* NAN when unknown (alerts)                                     */
  char *flags;              /* free text ("isdiffpos=f drb=0.21 sso"), may be NULL           */
  char *config_hash;        /* NULL for cutout folders and lists                             */
  gboolean is_cutout;       /* the files are stamps: show them whole                         */
} DsScanCandidate;

void ds_scan_candidate_free (DsScanCandidate *candidate);

/* Loads the candidates of source (folder, list file or catalogue, detected automatically) in a
 * stable order (cutouts sorted by name, lists and catalogues in file order).  Returns an array
 * of DsScanCandidate (freed by the array), or NULL with an error naming the file and line.  An
 * empty queue is an error. */
GPtrArray *ds_scan_queue_load (const char *source, GError **error);

G_END_DECLS
