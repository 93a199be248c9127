/* transport/i18n.h — gettext for user-visible strings. Operator log lines stay
 * in English; what a user reads (instructions, labels, notes) is marked _(). */
#pragma once
#include <glib/gi18n-lib.h>
