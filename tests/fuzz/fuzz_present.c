/* Fuzz the presentation layer (cli/present*.c): the bytes are the cage's
 * text (a log message, a streamed chunk, a tool result, an error).
 *
 * Input: any bytes.  They are shown as a string field (present_put, in
 * both line modes, and untrusted_clean), and, when they parse as JSON, as
 * an event of every type the trace renders (the input's own event_type
 * first) and as a result (present_json_pretty).
 *
 * Invariants: everything written is valid UTF-8 with no control but
 * newline (and tab, outside one-line mode), no C1 control, no bidi,
 * zero-width or tag character; a newline in cage text is followed by the
 * indent; untrusted_clean never grows the text; the pretty result reads
 * back as JSON.  */
#include "cli/present.c"
#include "cli/present_error.c"
#include "cli/present_result.c"
#include "cli/present_spinner.c"
#include "cli/present_trace.c"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_present: invariant failed: %s (line %d)\n", #cond, __LINE__);     \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* BYTES hold only what a terminal may get; TAB allowed or not; every
 * newline followed by INDENT (NULL: no rule).  */
static void
check_safe (const char *bytes, size_t n, bool tab, const char *indent)
{
  const unsigned char *p = (const unsigned char *) bytes;
  size_t i = 0;

  while (i < n)
    {
      uint32_t c;
      size_t len = utf8_decode (p + i, n - i, &c);
      CHECK (len > 0);
      CHECK (!(hostile (c) && c != '\n' && !(tab && c == '\t')));
      if (c == '\n' && indent && i + 1 < n)
        CHECK (strncmp (bytes + i + 1, indent, strlen (indent)) == 0);
      i += len;
    }
}

static const char *const types[] = { NULL,
                                     "log",
                                     "tool_call",
                                     "agent_turn",
                                     "agent_stream_chunk",
                                     "cost",
                                     "checkpoint_created",
                                     "control_request",
                                     "control_response",
                                     "human_notification",
                                     "system_alert",
                                     "egress",
                                     "mcp",
                                     "file_access",
                                     "policy_violation",
                                     "stage",
                                     "execution_summary",
                                     "x-unknown" };

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1), *buf = NULL, *copy;
  size_t n = 0;
  FILE *f;
  cJSON *j;

  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';

  /* A string field, both line modes.  */
  f = open_memstream (&buf, &n);
  present_put (f, text, 1 << 20, "        ", 0);
  fclose (f);
  check_safe (buf, n, true, "        ");
  free (buf);
  f = open_memstream (&buf, &n);
  present_put (f, text, 1 << 20, NULL, PRESENT_ONE_LINE);
  fclose (f);
  check_safe (buf, n, false, NULL);
  CHECK (memchr (buf, '\n', n) == NULL);
  free (buf);
  copy = untrusted_clean_dup (text);
  CHECK (copy != NULL && strlen (copy) <= strlen (text));
  check_safe (copy, strlen (copy), true, NULL);
  free (copy);

  j = cJSON_ParseWithLength ((const char *) data, size);
  if (j)
    {
      struct present p;
      f = open_memstream (&buf, &n);
      present_init (&p, f, PRESENT_COLOR_NEVER);
      p.verbose = true;
      if (cJSON_IsObject (j))
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
          {
            if (types[t])
              {
                cJSON_DeleteItemFromObjectCaseSensitive (j, "event_type");
                cJSON_AddStringToObject (j, "event_type", types[t]);
              }
            present_event (&p, j);
          }
      present_finish (&p);
      fclose (f);
      check_safe (buf, n, true, NULL);
      free (buf);

      f = open_memstream (&buf, &n);
      present_json_pretty (f, j, cJSON_GetObjectItemCaseSensitive (j, "order"), 0);
      fclose (f);
      check_safe (buf, n, false, NULL);
      {
        cJSON *back = cJSON_ParseWithLength (buf, n);
        CHECK (back != NULL);
        cJSON_Delete (back);
      }
      free (buf);
      cJSON_Delete (j);
    }
  free (text);
  return 0;
}
