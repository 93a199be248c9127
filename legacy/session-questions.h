/* legacy/session-questions.h — libpurple's questions to a user (README,
 * "Questions from the legacy network"): a message from the gateway, the
 * ad-hoc command (XEP-0050) "Answer pending questions" that shows each as a
 * XEP-0004 form, plain-text replies, the timeout, and untrusted legacy
 * certificates ([legacy] certificates). */
#pragma once
#include "transport/transport.h"

#define PG_NODE_QUESTIONS "urn:purplegate:questions"

/* Adds the command to @transport->adhoc (pg_adhoc_register() first). */
void pg_session_questions_register (PgTransport *transport);
