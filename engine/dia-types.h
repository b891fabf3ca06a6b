/* dia-types.h — forward declarations, rectangles and mask bits shared by the whole engine.
 *
 * Pixel convention (binding for every engine file): coordinates are 0-based and pixel centres
 * sit on integers, so pixel (0,0) covers [-0.5, 0.5] x [-0.5, 0.5].  The only place that
 * converts to or from the 1-based FITS convention is dia-fits.c (and dia-wcs.c, which calls
 * wcslib with 1-based pixel coordinates).
 *
 * Kernel convention: like the LSST stack, "convolving" an image with a kernel K of odd size
 * (2h+1)^2 computes the cross-correlation out(x,y) = sum_{u,v} K(u,v) in(x+u, y+v) with
 * u,v in [-h,h] and K stored with its centre at index (h,h).  No kernel flip.  Hence a kernel
 * whose centroid sits at +d moves image content by -d.
 *
 * Copyright 2026 The Diffscope authors.  SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _DiaImage DiaImage;
typedef struct _DiaMonitor DiaMonitor;

/* A rectangle in full-resolution pixels: x, y of the first pixel, then the size. */
typedef struct
{
  int x, y;
  int width, height;
} DiaRect;

/* Mask planes every image knows, at fixed bits (the LSST afw defaults, so LSST files need no
 * remapping for these).  Planes a file declares beyond these get the free bits from
 * DIA_MASK_FIRST_EXTRA_BIT upwards; look them up by name with dia_image_mask_bit(). */
typedef enum
{
  DIA_MASK_BAD               = 1u << 0,
  DIA_MASK_SAT               = 1u << 1,
  DIA_MASK_INTRP             = 1u << 2,
  DIA_MASK_CR                = 1u << 3,
  DIA_MASK_EDGE              = 1u << 4,
  DIA_MASK_DETECTED          = 1u << 5,
  DIA_MASK_DETECTED_NEGATIVE = 1u << 6,
  DIA_MASK_SUSPECT           = 1u << 7,
  DIA_MASK_NO_DATA           = 1u << 8,
  DIA_MASK_FAKE              = 1u << 9,
  DIA_MASK_STREAK            = 1u << 10,
} DiaMaskBits;

#define DIA_MASK_N_CORE          11
#define DIA_MASK_FIRST_EXTRA_BIT 11
#define DIA_MASK_MAX_PLANES      32

/* Planes that make a pixel unusable for fitting and statistics. */
#define DIA_MASK_UNUSABLE (DIA_MASK_BAD | DIA_MASK_SAT | DIA_MASK_NO_DATA | DIA_MASK_EDGE)

typedef guint32 DiaMask;

static inline gboolean
dia_rect_is_empty (const DiaRect *r)
{
  return r->width <= 0 || r->height <= 0;
}

/* Intersection of a and b; an empty result has width or height 0. */
DiaRect dia_rect_intersect (const DiaRect *a, const DiaRect *b);

/* TRUE when inner lies entirely inside outer. */
gboolean dia_rect_contains (const DiaRect *outer, const DiaRect *inner);

G_END_DECLS
