/* dia-error.h — the engine's single error domain and the translation of foreign status codes.
 *
 * Every fallible engine function takes GError ** as its last argument.  cfitsio, GSL and wcslib
 * status codes become DIA_ERROR_* here and only here (convention: translate at the edge).
 * dia_engine_init() must be called once before any other engine call: it turns GSL's aborting
 * error handler off and checks that cfitsio is reentrant.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DIA_ERROR (dia_error_quark ())
GQuark dia_error_quark (void);

typedef enum
{
  DIA_ERROR_FAILED,        /* anything not listed below                               */
  DIA_ERROR_IO,            /* cannot open, read or write a file                       */
  DIA_ERROR_FORMAT,        /* the file is readable but not a usable image or table    */
  DIA_ERROR_INVALID,       /* a parameter or argument is out of its range             */
  DIA_ERROR_SIZE_MISMATCH, /* two images that must share a grid do not                */
  DIA_ERROR_NO_STARS,      /* too few usable stars for a PSF or a kernel fit          */
  DIA_ERROR_SINGULAR,      /* a linear system is singular or badly conditioned        */
  DIA_ERROR_NO_MEMORY,     /* an allocation failed (sizes from a file are checked)    */
  DIA_ERROR_CANCELLED,     /* the monitor was cancelled                               */
} DiaErrorCode;

/* Switches GSL's error handler off, checks fits_is_reentrant().  Safe to call more than once
 * and from any thread (the first call does the work).  Returns FALSE only if cfitsio was built
 * without reentrancy, which the engine cannot work with. */
gboolean dia_engine_init (GError **error);

/* Sets *error from a cfitsio status; what names the file or HDU and the operation, in words
 * the user recognises.  Returns FALSE so callers can write `return dia_set_error_from_fits (...)`. */
gboolean dia_set_error_from_fits (GError **error, int status, const char *what);

/* Sets *error from a GSL status code. */
gboolean dia_set_error_from_gsl (GError **error, int gsl_status, const char *what);

/* Sets *error from a wcslib status code and its error structure message. */
gboolean dia_set_error_from_wcs (GError **error, int wcs_status, const char *message,
                                 const char *what);

G_END_DECLS
