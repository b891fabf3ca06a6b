/* dia-error.c — error domain and the one place where foreign status codes are translated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-error.h"

#include <fitsio.h>
#include <gsl/gsl_errno.h>
#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (dia-error-quark, dia_error)

gboolean
dia_engine_init (GError **error)
{
  static gsize done = 0;
  static gboolean reentrant = FALSE;

  if (g_once_init_enter (&done))
    {
      gsl_set_error_handler_off ();
      reentrant = fits_is_reentrant () != 0;
      g_once_init_leave (&done, 1);
    }
  if (!reentrant)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FAILED,
                   _("The cfitsio library was built without thread support; Diffscope "
                     "needs a reentrant cfitsio (Debian's libcfitsio10 is)."));
      return FALSE;
    }
  return TRUE;
}

gboolean
dia_set_error_from_fits (GError **error, int status, const char *what)
{
  char text[FLEN_STATUS] = "";
  int code = DIA_ERROR_FORMAT;

  fits_get_errstatus (status, text);
  /* Drain cfitsio's message stack so later errors do not report stale messages. */
  fits_clear_errmsg ();
  switch (status)
    {
    case FILE_NOT_OPENED:
    case FILE_NOT_CREATED:
    case WRITE_ERROR:
    case READ_ERROR:
    case FILE_NOT_CLOSED:
      code = DIA_ERROR_IO;
      break;
    case MEMORY_ALLOCATION:
      code = DIA_ERROR_NO_MEMORY;
      break;
    default:
      code = DIA_ERROR_FORMAT;
      break;
    }
  g_set_error (error, DIA_ERROR, code, "%s: %s (cfitsio status %d)", what, text, status);
  return FALSE;
}

gboolean
dia_set_error_from_gsl (GError **error, int gsl_status, const char *what)
{
  int code = DIA_ERROR_FAILED;

  if (gsl_status == GSL_ESING || gsl_status == GSL_EDOM || gsl_status == GSL_ERANGE)
    code = DIA_ERROR_SINGULAR;
  else if (gsl_status == GSL_ENOMEM)
    code = DIA_ERROR_NO_MEMORY;
  else if (gsl_status == GSL_EINVAL || gsl_status == GSL_EBADLEN)
    code = DIA_ERROR_INVALID;
  g_set_error (error, DIA_ERROR, code, "%s: %s", what, gsl_strerror (gsl_status));
  return FALSE;
}

gboolean
dia_set_error_from_wcs (GError **error, int wcs_status, const char *message, const char *what)
{
  g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT, "%s: %s (wcslib status %d)", what,
               message && *message ? message : _("invalid world coordinate system"), wcs_status);
  return FALSE;
}
