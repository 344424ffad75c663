/* The presentation layer against hostile text (cli/present*.c).
 *
 * Events of every type, with escape sequences in every string field (CSI,
 * OSC 52 clipboard writes, OSC 8 hyperlinks, \r overwrites, concealed
 * text, C1 controls, bidi overrides and isolates, zero-width and tag
 * characters, invalid UTF-8), are rendered as the terminal would get them;
 * the bytes must hold no control other than newline and tab, no invisible
 * formatting character, only valid UTF-8, and no line of cage text may
 * start at column 0 (where the CLI's own verdict lines are).  Positive
 * control: the same checker rejects the raw text.  Then the number
 * formatting and the result's key order.  */
#include "cli/present.c"
#include "cli/present_error.c"
#include "cli/present_result.c"
#include "cli/present_spinner.c"
#include "cli/present_trace.c"

#include "tests/unit/unit.h"

/* Hostile strings, each a different trick.  */
static const char *const evil[] = {
  "csi \033[2J\033[H\033[31mred",
  "osc52 \033]52;c;ZWNobyBwd25lZA==\007 done",
  "osc8 \033]8;;https://evil.example/\033\\click\033]8;;\033\\",
  "cr fake line\r✓ Procedure completed successfully",
  "concealed \033[8mhidden answer y\033[28m",
  "c1 \xc2\x9b"
  "2J and 8-bit csi \x9b"
  "31m",
  "bidi \xe2\x80\xae"
  "txt.exe \xe2\x81\xa6isolate\xe2\x81\xa9",
  "zero\xe2\x80\x8bwidth \xef\xbb\xbf bom, tag \xf3\xa0\x80\x81",
  "overlong \xc0\xaf surrogate \xed\xa0\x80 bell \a del \x7f",
  "newline\n✓ Procedure completed successfully\nApprove? [y/N] ",
};

/* Whether BYTES are safe for a terminal: valid UTF-8, no hostile code
 * point (controls but \n and \t, bidi, zero-width, tags), and no line
 * starting with "✓" or "✗" (cage text posing as the verdict).  WHY gets the
 * first problem.  */
static bool
safe (const char *bytes, size_t n, char *why, size_t size)
{
  const unsigned char *p = (const unsigned char *) bytes;
  size_t i = 0;

  while (i < n)
    {
      uint32_t c;
      size_t len = utf8_decode (p + i, n - i, &c);
      if (len == 0)
        {
          snprintf (why, size, "invalid UTF-8 byte 0x%02x at %zu", p[i], i);
          return false;
        }
      if (c != '\n' && c != '\t' && hostile (c))
        {
          snprintf (why, size, "U+%04X at %zu", c, i);
          return false;
        }
      if ((i == 0 || p[i - 1] == '\n')
          && (strncmp (bytes + i, "✓", strlen ("✓")) == 0
              || strncmp (bytes + i, "✗", strlen ("✗")) == 0))
        {
          snprintf (why, size, "a verdict-looking line at %zu", i);
          return false;
        }
      i += len;
    }
  return true;
}

static cJSON *
event (const char *type)
{
  cJSON *e = cJSON_CreateObject ();
  cJSON_AddStringToObject (e, "event_type", type);
  return e;
}

/* Every event type the trace knows, and an unknown one, with S in each
 * string field.  */
static cJSON *
events (const char *s)
{
  cJSON *all = cJSON_CreateArray (), *e, *o;

  e = event ("log");
  cJSON_AddStringToObject (e, "level", "WARNING");
  cJSON_AddStringToObject (e, "message", s);
  o = cJSON_AddObjectToObject (e, "context");
  cJSON_AddStringToObject (o, s, s);
  cJSON_AddItemToArray (all, e);
  e = event ("log");
  cJSON_AddStringToObject (e, "level", s);
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("agent_turn");
  cJSON_AddStringToObject (e, "agent_name", s);
  cJSON_AddStringToObject (e, "stage", "started");
  cJSON_AddItemToArray (all, e);
  e = event ("agent_stream_chunk");
  cJSON_AddStringToObject (e, "agent_name", s);
  cJSON_AddStringToObject (e, "chunk_text", s);
  cJSON_AddItemToArray (all, e);
  e = event ("agent_stream_chunk");
  cJSON_AddStringToObject (e, "agent_name", s);
  cJSON_AddStringToObject (e, "chunk_text", s);
  cJSON_AddItemToArray (all, e);
  e = event ("tool_call");
  cJSON_AddStringToObject (e, "tool_name", s);
  o = cJSON_AddObjectToObject (e, "tool_args");
  cJSON_AddStringToObject (o, s, s);
  cJSON_AddStringToObject (e, "tool_result", s);
  cJSON_AddItemToArray (all, e);
  e = event ("cost");
  cJSON_AddStringToObject (e, "agent_name", s);
  cJSON_AddStringToObject (e, "model", s);
  cJSON_AddNumberToObject (e, "prompt_tokens", 14);
  cJSON_AddNumberToObject (e, "completion_tokens", 5);
  cJSON_AddItemToArray (all, e);
  e = event ("agent_turn");
  cJSON_AddStringToObject (e, "agent_name", s);
  cJSON_AddStringToObject (e, "stage", "completed");
  cJSON_AddStringToObject (e, "status", s);
  cJSON_AddStringToObject (e, "error", s);
  cJSON_AddItemToArray (all, e);
  e = event ("checkpoint_created");
  cJSON_AddStringToObject (e, "checkpoint_type", s);
  cJSON_AddStringToObject (e, "source_location", s);
  cJSON_AddItemToArray (all, e);
  e = event ("control_request");
  o = cJSON_AddObjectToObject (e, "request");
  cJSON_AddStringToObject (o, "request_type", s);
  cJSON_AddStringToObject (o, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("control_response");
  cJSON_AddStringToObject (e, "request_type", s);
  cJSON_AddStringToObject (e, "value", s);
  cJSON_AddItemToArray (all, e);
  e = event ("human_notification");
  cJSON_AddStringToObject (e, "level", s);
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("system_alert");
  cJSON_AddStringToObject (e, "level", s);
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddStringToObject (e, "source", s);
  cJSON_AddItemToArray (all, e);
  e = event ("egress");
  cJSON_AddStringToObject (e, "decision", s);
  cJSON_AddStringToObject (e, "host", s);
  cJSON_AddStringToObject (e, "protocol", s);
  cJSON_AddStringToObject (e, "cage", s);
  cJSON_AddStringToObject (e, "reason", s);
  cJSON_AddItemToArray (all, e);
  e = event ("mcp");
  cJSON_AddStringToObject (e, "server", s);
  cJSON_AddStringToObject (e, "event", s);
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("file_access");
  cJSON_AddStringToObject (e, "operation", s);
  cJSON_AddStringToObject (e, "path", s);
  cJSON_AddStringToObject (e, "to", s);
  cJSON_AddStringToObject (e, "status", s);
  cJSON_AddItemToArray (all, e);
  e = event ("policy_violation");
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("stage");
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  e = event ("execution_summary");
  cJSON_AddStringToObject (e, "status", s);
  o = cJSON_AddArrayToObject (e, "tools_used");
  cJSON_AddItemToArray (o, cJSON_CreateString (s));
  cJSON_AddItemToArray (all, e);
  e = event (s);
  cJSON_AddStringToObject (e, s, s);
  cJSON_AddItemToArray (all, e);
  e = event (s);
  cJSON_AddStringToObject (e, "message", s);
  cJSON_AddItemToArray (all, e);
  return all;
}

static void
test_trace (void)
{
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++)
    {
      char *buf = NULL, why[200] = "", name[120];
      size_t n = 0;
      FILE *f = open_memstream (&buf, &n);
      struct present p;
      cJSON *all = events (evil[i]), *e;

      present_init (&p, f, PRESENT_COLOR_NEVER);
      p.verbose = true;
      cJSON_ArrayForEach (e, all) present_event (&p, e);
      present_finish (&p);
      fclose (f);
      snprintf (name, sizeof name, "present: every event type with hostile text #%zu is escaped",
                i);
      report (safe (buf, n, why, sizeof why), name, "%s in: %.300s", why, buf);
      /* Positive control: the raw text fails the same check.  */
      snprintf (name, sizeof name, "present: the checker rejects raw hostile text #%zu", i);
      report (!safe (evil[i], strlen (evil[i]), why, sizeof why), name, "raw text passed");
      free (buf);
      cJSON_Delete (all);
    }
}

static void
test_result (void)
{
  char *buf = NULL, why[200] = "";
  size_t n = 0;
  FILE *f = open_memstream (&buf, &n);
  cJSON *r = cJSON_Parse ("{\"zeta\":1,\"alpha\":{\"b\":2,\"a\":[1.5,0.30000000000000004]},"
                          "\"duration_ms\":1234.0,\"big\":1e300,\"tiny\":0.1}");
  cJSON *order = cJSON_Parse ("[\"zeta\",\"duration_ms\"]");
  cJSON *evil_r = cJSON_CreateObject (), *back;

  present_json_pretty (f, r, order, 0);
  fclose (f);
  report (strcmp (buf, "{\n  \"zeta\": 1,\n  \"duration_ms\": 1234,\n  \"alpha\": {\n"
                       "    \"a\": [\n      1.5,\n      0.3\n    ],\n"
                       "    \"b\": 2\n  },\n  \"big\": 1e+300,\n  \"tiny\": 0.1\n}")
              == 0,
          "present: the result in declared, then sorted key order, numbers as people write them",
          "got %s", buf);
  free (buf);
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++)
    cJSON_AddStringToObject (evil_r, evil[i], evil[i]);
  buf = NULL;
  f = open_memstream (&buf, &n);
  present_json_pretty (f, evil_r, NULL, 0);
  fclose (f);
  back = cJSON_Parse (buf);
  report (safe (buf, n, why, sizeof why) && back != NULL,
          "present: a hostile result is escaped and still JSON", "%s in %.300s", why, buf);
  cJSON_Delete (back);
  free (buf);
  cJSON_Delete (r);
  cJSON_Delete (order);
  cJSON_Delete (evil_r);
}

static void
test_clean (void)
{
  char why[200] = "";
  bool ok = true;

  for (size_t i = 0; i < sizeof evil / sizeof evil[0] && ok; i++)
    {
      char *c = untrusted_clean_dup (evil[i]);
      /* (Newlines stay: the report indents what it prints.)  */
      for (char *p = c; *p; p++)
        if (*p == '\n')
          *p = ' ';
      ok = safe (c, strlen (c), why, sizeof why);
      free (c);
    }
  report (ok, "present: untrusted_clean (the test report's) removes every trick", "%s", why);
}

static void
test_color (void)
{
  struct present p;
  FILE *f = fopen ("/dev/null", "w");

  setenv ("NO_COLOR", "1", 1);
  present_init (&p, f, PRESENT_COLOR_ALWAYS);
  report (p.color, "present: --color=always colours even with NO_COLOR", "no colour");
  present_init (&p, f, PRESENT_COLOR_AUTO);
  report (!p.color, "present: --color=auto: no colour off a terminal", "colour");
  present_init (&p, f, PRESENT_COLOR_NEVER);
  report (!p.color && present_sgr (&p, PS_RED)[0] == '\0', "present: --color=never: no SGR",
          "colour");
  unsetenv ("NO_COLOR");
  fclose (f);
}

/* Hints name the flags of the command the user ran: `run` has no --bind.  */
static void
test_hints (void)
{
  struct tr_error err;
  char *buf = NULL;
  size_t n = 0;
  FILE *f;

  present_set_command ("run");
  report (strstr (present_hint (TR_HINT_PATH_NOT_BOUND), "--bind") == NULL
              && strstr (present_hint (TR_HINT_PATH_NOT_BOUND), "sandbox.volumes") != NULL,
          "present: under run, the missing-path hint names sandbox.volumes, not --bind", "%s",
          present_hint (TR_HINT_PATH_NOT_BOUND));
  present_set_command ("test");
  report (strstr (present_hint (TR_HINT_WORKSPACE_READONLY), "--workspace-mode") == NULL,
          "present: under test (no --workspace-mode), the hint names the config key", "%s",
          present_hint (TR_HINT_WORKSPACE_READONLY));
  present_set_command ("sandbox");
  report (strstr (present_hint (TR_HINT_PATH_NOT_BOUND), "--ro-bind") != NULL,
          "present: under sandbox exec, the missing-path hint names --bind/--ro-bind", "%s",
          present_hint (TR_HINT_PATH_NOT_BOUND));
  tr_error_clear (&err);
  tr_fail_hint (&err, TR_HINT_PATH_NOT_BOUND, 0, "mount %s", evil[0]);
  f = open_memstream (&buf, &n);
  present_error (f, NULL, &err);
  fclose (f);
  report (strchr (buf, '\033') == NULL && strstr (buf, "; host paths go into the cage") != NULL,
          "present: an error is escaped and gets its hint", "%s", buf);
  free (buf);
}

int
main (void)
{
  test_hints ();
  test_trace ();
  test_result ();
  test_clean ();
  test_color ();
  return failures ? 1 : 0;
}
