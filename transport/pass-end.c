/* transport/pass-end.c — see transport/pass-end.h. */
#include "build-config.h"

#include "transport/pass-end.h"

typedef struct
{
  GSource source;
  PgPassEndFunc func;
  gpointer user_data;
} PassEnd;

static gboolean
pass_end_prepare (GSource *source, gint *timeout)
{
  PassEnd *end = (PassEnd *)source;
  *timeout = -1;
  end->func (end->user_data);
  return FALSE;
}

static gboolean
pass_end_check (GSource *source)
{
  (void)source;
  return FALSE;
}

static gboolean
pass_end_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  (void)source;
  (void)callback;
  (void)user_data;
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs pass_end_funcs = {
  .prepare = pass_end_prepare,
  .check = pass_end_check,
  .dispatch = pass_end_dispatch,
};

GSource *
pg_pass_end_add (PgPassEndStage stage, PgPassEndFunc func, gpointer user_data)
{
  GSource *source = g_source_new (&pass_end_funcs, sizeof (PassEnd));
  PassEnd *end = (PassEnd *)source;
  end->func = func;
  end->user_data = user_data;
  /* GLib stops preparing sources below the priority of one already ready:
   * the highest priority keeps this one prepared in every pass.  Sources
   * are prepared in order of priority: a commit's is higher still. */
  g_source_set_priority (source, stage == PG_PASS_END_COMMIT ? G_PRIORITY_HIGH - 1 : G_PRIORITY_HIGH);
  g_source_set_name (source, "pg-pass-end");
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}
