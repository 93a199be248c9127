/* legacy/crash-rescue.h — the private messages a crashed worker's IRC
 * connection still carried.
 *
 * While the main process ends the connection of a crashed worker
 * (legacy/held-socket.h), it reads what the server sent: the lines the
 * worker had not read yet, then whatever came until the server saw the
 * end.  A PRIVMSG among them was accepted by the IRC server for our nick
 * and is nowhere else: it reaches the user from here. */
#pragma once
#include <glib.h>

/* The message of @line when it is a PRIVMSG from a user to @own_nick (IRC
 * case-insensitive): its text as libpurple's protocols give messages
 * (escaped markup; mIRC formatting codes dropped; a CTCP ACTION as "/me
 * …"), and its sender in @from; both owned by the caller (g_free).  NULL
 * for any other line (the tail of a line the worker had begun to read
 * included, since it does not parse as one), leaving @from unset. */
char *pg_crash_rescue_irc_message (const char *line, const char *own_nick, char **from);
