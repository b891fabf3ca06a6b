/* dia-fits.h — reading and writing images with cfitsio.
 *
 * The conversion between FITS 1-based and engine 0-based pixel coordinates happens in this file
 * and nowhere else (CRPIX is handled by wcslib in dia-wcs.c; LTV1/LTV2 → x0/y0 here).
 *
 * Readers accept, with a clear error for anything else:
 *   1. single images of any BITPIX with BZERO/BSCALE (unsigned 16-bit included), float64,
 *      tile-compressed (.fz) and gzipped files, images in any HDU ("file.fits[SCI]",
 *      "file.fits[2]"); the first HDU with a 2-D image is used when none is named;
 *   2. LSST Exposure / MaskedImage files: IMAGE, MASK (plane names from MP_* keys, remapped to
 *      the engine's bits by name), VARIANCE HDUs;
 *   3. an image plus separate variance and/or mask files.
 * NaN, ±inf and values ≤ −1e38 (the −FLT_MAX sentinel of ZTF templates) become NO_DATA pixels
 * with pix = 0 and var = +inf.  Without a variance plane one is estimated (gain, read noise,
 * background; see DiaImageMeta.variance_note).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

/* An ordered list of header cards to add when writing (provenance, metadata).  Keys longer than
 * 8 characters or with lower case are written as HIERARCH cards. */
typedef struct _DiaHeaderCards DiaHeaderCards;

DiaHeaderCards *dia_header_cards_new (void);
void dia_header_cards_free (DiaHeaderCards *cards);
void dia_header_cards_add_string (DiaHeaderCards *cards, const char *key, const char *value,
                                  const char *comment);
void dia_header_cards_add_double (DiaHeaderCards *cards, const char *key, double value,
                                  const char *comment);
void dia_header_cards_add_int (DiaHeaderCards *cards, const char *key, gint64 value,
                               const char *comment);
void dia_header_cards_add_bool (DiaHeaderCards *cards, const char *key, gboolean value,
                                const char *comment);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaHeaderCards, dia_header_cards_free)

/* Reads one image (layouts 1 and 2 above, detected automatically).  Returns a frozen image. */
DiaImage *dia_fits_read_image (const char *path, GError **error);

/* Layout 3: variance_path and mask_path may be NULL.  variance_is_sigma: the variance file
 * holds a noise map (σ), which is squared.  Returns a frozen image. */
DiaImage *dia_fits_read_with_planes (const char *image_path, const char *variance_path,
                                     gboolean variance_is_sigma, const char *mask_path,
                                     GError **error);

/* Writes a multi-extension file: empty primary HDU (with the cards), then IMAGE (float32, WCS,
 * LTV1/2), MASK (int32, MP_* keys), VARIANCE (float32), as the LSST layout reader, astropy and
 * DS9 expect.  Overwrites path. */
gboolean dia_fits_write_image (const char *path, const DiaImage *image,
                               const DiaHeaderCards *cards, GError **error);

/* Writes a single float32 image HDU (kernels, truth planes, score images).  data has
 * width × height values with row stride `stride`.  Overwrites path. */
gboolean dia_fits_write_plane (const char *path, const float *data, int width, int height,
                               size_t stride, const DiaHeaderCards *cards, GError **error);

/* Appends a float32 image HDU with EXTNAME extname to an existing file (or creates it). */
gboolean dia_fits_append_plane (const char *path, const char *extname, const float *data,
                                int width, int height, size_t stride,
                                const DiaHeaderCards *cards, GError **error);

/* Human-readable description of every HDU for `diffscope-cli info`: type, size, BITPIX,
 * EXTNAME, mask planes, WCS summary, and robust statistics of the image that
 * dia_fits_read_image() would load.  Caller frees. */
char *dia_fits_dup_info (const char *path, GError **error);

G_END_DECLS
