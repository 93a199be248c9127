/* legacy/session-questions.h — libpurple's questions to a user (README,
 * "Questions from the legacy network"): a message from the gateway, the
 * ad-hoc command (XEP-0050) "Answer pending questions" that shows each as a
 * XEP-0004 form, plain-text replies, the timeout, and untrusted legacy
 * certificates ([legacy] certificates). */
#pragma once
#include "legacy/question.h"
#include "transport/transport.h"

#define PG_NODE_QUESTIONS "urn:purplegate:questions"
/* A legacy server (or a plugin gone wrong) could ask without end; beyond
 * this many questions of one login waiting for their user, a new one is
 * declined at once, as an unanswered one is at its timeout. */
#define PG_QUESTIONS_MAX_PENDING 16

/* Adds the command to @transport->adhoc (pg_adhoc_register() first). */
void pg_session_questions_register (PgTransport *transport);

/* [legacy] certificates, before anyone is asked about the certificate of
 * @question (a PG_QUESTION_CERTIFICATE): trusted when @bare_jid (NULL: not
 * registered) accepted this fingerprint for this host before; else
 * distrusted under "system", *@why saying so (owned, in @lang); else
 * asked. Registration's check logins judge them the same way. */
typedef enum
{
  PG_CERTIFICATE_ASK,
  PG_CERTIFICATE_TRUSTED,
  PG_CERTIFICATE_DISTRUSTED,
} PgCertificateVerdict;
PgCertificateVerdict pg_questions_judge_certificate (PgTransport *transport, const char *bare_jid,
                                                     const PgQuestion *question, const char *lang,
                                                     char **why);
/* The per-user setting remembering an accepted certificate of @question's
 * host (its value: the fingerprint). Owned. */
char *pg_questions_dup_certificate_key (const PgQuestion *question);
/* Why a login fails after the certificate of @question was declined, in
 * @lang: the user rejected it, or (@timeout_s > 0) did not accept it in
 * that many seconds. Owned. */
char *pg_questions_dup_certificate_refusal (PgTransport *transport, const PgQuestion *question,
                                            const char *lang, guint timeout_s);
