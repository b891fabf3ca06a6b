/* dia-image.h — DiaImage: pixels, variance, mask planes, WCS and metadata of one exposure.
 *
 * A DiaImage is reference-counted.  It is built (by dia-fits.c, dia-sim.c or a processing
 * stage) and then frozen with dia_image_freeze(); a frozen image is never written again, so any
 * thread may read it without locks.  A crop is a view: it shares the parent's buffers, holds a
 * reference on the parent, and has its own width/height/origin but the parent's stride.
 *
 * Planes (all row-major, row y starts at y * stride):
 *   pix   float32, in the file's units (electrons when gain is known and applied);
 *   var   float32 variance in pix units squared; never NULL once loaded.  If a file has no
 *         variance plane the loader estimates one and says how in meta.variance_origin;
 *   mask  DiaMask (32 bits) with named planes: the core planes of DiaMaskBits at fixed bits,
 *         extra planes declared by a file at bits >= DIA_MASK_FIRST_EXTRA_BIT.
 * Buffers are 64-byte aligned.  x0, y0 is the image origin in the parent (LSST "PARENT")
 * frame: pixel (i, j) of the buffer is PARENT pixel (x0 + i, y0 + j).  For a plain FITS file
 * x0 = y0 = 0; LSST files carry it in LTV1/LTV2.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

struct wcsprm;

G_BEGIN_DECLS

typedef enum
{
  DIA_VARIANCE_FROM_FILE,       /* read from a VARIANCE HDU or a variance file           */
  DIA_VARIANCE_FROM_SIGMA_FILE, /* read as a noise (sigma) map and squared               */
  DIA_VARIANCE_ESTIMATED,       /* estimated from gain, read noise and background        */
  DIA_VARIANCE_COMPUTED,        /* propagated by a processing stage                      */
  DIA_VARIANCE_SIMULATED,       /* written by the simulator                              */
} DiaVarianceOrigin;

/* Metadata; NAN marks a value that is not known. */
typedef struct
{
  double gain;                  /* e-/ADU as read from the header; NAN if unknown          */
  double read_noise;            /* e- (or pix units) rms per pixel; NAN if unknown         */
  double saturation;            /* pix units at which pixels saturate; NAN if unknown      */
  double exptime;               /* s                                                       */
  double mjd;                   /* MJD of the exposure start                               */
  double zeropoint;             /* magnitude of one pix-unit of flux; NAN if unknown       */
  double psf_fwhm;              /* px, from the header or a measurement; NAN if unknown    */
  double sky;                   /* robust background level, pix units; NAN until measured  */
  char filter[32];              /* band name or empty                                       */
  char object[72];              /* OBJECT card or empty                                     */
  char bunit[32];               /* BUNIT card or empty                                      */
  DiaVarianceOrigin variance_origin;
  char variance_note[160];      /* how var was obtained: English ASCII, untranslated, as  */
                                /* it is written into FITS headers (DS_VARNOTE)          */
} DiaImageMeta;

struct _DiaImage
{
  gint ref_count;
  int width, height;            /* pixels                                                   */
  size_t stride;                /* elements between rows of pix, var and mask               */
  int x0, y0;                   /* origin in the PARENT frame                               */
  float *pix;
  float *var;
  DiaMask *mask;
  char *plane_names[DIA_MASK_MAX_PLANES]; /* owned; NULL for unused bits                    */
  struct wcsprm *wcs;           /* owned; NULL when the header has none. Not thread-safe:   */
                                /* copy it with dia_wcs_copy() before use on a worker.     */
  DiaImageMeta meta;
  char *header;                 /* owned: the original header cards, 80 chars each, no NUL  */
  int n_header_cards;           /*   between them (what fits_hdr2str returns)              */
  char *source;                 /* owned: where it came from ("file.fits[SCI]"), or NULL   */
  DiaImage *parent;             /* for views: the image whose buffers we share (a ref)      */
  gboolean frozen;
};

/* A new image of the given size: pix = 0, var = 0, mask = 0, the core plane names set,
 * meta values NAN.  Fails cleanly (DIA_ERROR_NO_MEMORY / DIA_ERROR_INVALID) on absurd sizes
 * instead of aborting, since sizes often come from untrusted headers. */
DiaImage *dia_image_new (int width, int height, GError **error);

DiaImage *dia_image_ref (DiaImage *image);
void      dia_image_unref (DiaImage *image);

/* Marks the image read-only.  Writing to a frozen image is a programming error. */
void dia_image_freeze (DiaImage *image);

/* A view of rect (in buffer coordinates of image); the view's x0/y0 are shifted accordingly.
 * The rectangle must lie inside the image.  Returns a new reference. */
DiaImage *dia_image_crop (DiaImage *image, const DiaRect *rect, GError **error);

/* A deep, unfrozen copy with a compact stride (header, WCS, names and meta copied). */
DiaImage *dia_image_copy (const DiaImage *image, GError **error);

/* A new, unfrozen image with the same size, origin, WCS, plane names and meta as like, and
 * zeroed planes.  Used by processing stages for their outputs. */
DiaImage *dia_image_new_like (const DiaImage *like, GError **error);

/* Bit value (1 << n) of the named plane, or 0 when the image has no such plane. */
DiaMask dia_image_mask_bit (const DiaImage *image, const char *name);

/* Adds a named plane if missing and returns its bit value, or 0 when all 32 bits are taken. */
DiaMask dia_image_add_mask_plane (DiaImage *image, const char *name);

/* Copies the plane dictionary of src into dst (dst must not be frozen). */
void dia_image_copy_plane_names (DiaImage *dst, const DiaImage *src);

/* Replaces the stored header cards (copied) and the source string. */
void dia_image_set_header (DiaImage *image, const char *cards, int n_cards);
void dia_image_set_source (DiaImage *image, const char *source);

/* Takes ownership of wcs (which must have been wcsset-able); frees any previous one. */
void dia_image_take_wcs (DiaImage *image, struct wcsprm *wcs);

static inline size_t
dia_image_index (const DiaImage *image, int x, int y)
{
  return (size_t) y * image->stride + (size_t) x;
}

/* 64-byte aligned allocation helpers used by all engine planes.  NULL on failure. */
gpointer dia_aligned_alloc0 (size_t n_bytes);
void     dia_aligned_free (gpointer p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaImage, dia_image_unref)

G_END_DECLS
