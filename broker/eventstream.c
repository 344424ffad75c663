/* The AWS event stream (application/vnd.amazon.eventstream), Bedrock's
 * ConverseStream framing.  A message:
 *
 *   total length   u32 big endian (the whole message, CRCs included)
 *   headers length u32 big endian
 *   prelude CRC    u32 big endian: CRC-32 of the 8 bytes above
 *   headers        name length (u8), name, value type (u8), value...
 *   payload        total - headers - 16 bytes
 *   message CRC    u32 big endian: CRC-32 of everything before it
 *
 * Header values are typed: 0 true, 1 false, 2 byte, 3 short, 4 int,
 * 5 long, 6 bytes (u16 length), 7 string (u16 length), 8 timestamp,
 * 9 uuid.  The strings that matter are :event-type, :message-type
 * (event, exception, error), :exception-type and :error-code.  Every
 * length is checked against what is there; the bytes come from a server
 * (fuzzed: tests/fuzz/fuzz_llm.c).  */
#include <stdint.h>
#include <string.h>

#include "broker/llm.h"

#define PRELUDE 12
#define MAX_MESSAGE (LLM_MAX_RESPONSE)

unsigned long
es_crc32 (unsigned long crc, const unsigned char *p, size_t n)
{
  static uint32_t table[256];
  static int ready;

  if (!ready)
    {
      for (uint32_t i = 0; i < 256; i++)
        {
          uint32_t c = i;
          for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      ready = 1;
    }
  crc = ~crc & 0xffffffffu;
  while (n--)
    crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc & 0xffffffffu;
}

static uint32_t
be32 (const unsigned char *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Keep header NAME's string value when it is one we read.  */
static void
keep (struct es_message *m, const char *name, size_t nlen, const unsigned char *v, size_t vlen)
{
  static const char *const names[]
      = { ":event-type", ":message-type", ":exception-type", ":error-code" };
  for (int i = 0; i < 4; i++)
    if (strlen (names[i]) == nlen && memcmp (names[i], name, nlen) == 0)
      {
        size_t n = vlen < sizeof m->strings[i] - 1 ? vlen : sizeof m->strings[i] - 1;
        memcpy (m->strings[i], v, n);
        m->strings[i][n] = '\0';
        /* A NUL inside would cut the name short: refuse it instead.  */
        if (memchr (v, '\0', vlen))
          m->strings[i][0] = '\0';
        switch (i)
          {
          case 0:
            m->event_type = m->strings[0];
            break;
          case 1:
            m->message_type = m->strings[1];
            break;
          case 2:
            m->exception = m->strings[2];
            break;
          default:
            m->error_code = m->strings[3];
            break;
          }
      }
}

static int
parse_headers (const unsigned char *h, size_t len, struct es_message *m)
{
  size_t i = 0;

  while (i < len)
    {
      size_t nlen = h[i++], vlen;
      const char *name;
      unsigned char type;
      if (nlen == 0 || i + nlen + 1 > len)
        return -1;
      name = (const char *) h + i;
      i += nlen;
      type = h[i++];
      switch (type)
        {
        case 0:
        case 1:
          vlen = 0;
          break;
        case 2:
          vlen = 1;
          break;
        case 3:
          vlen = 2;
          break;
        case 4:
          vlen = 4;
          break;
        case 5:
        case 8:
          vlen = 8;
          break;
        case 9:
          vlen = 16;
          break;
        case 6:
        case 7:
          if (i + 2 > len)
            return -1;
          vlen = (size_t) h[i] << 8 | h[i + 1];
          i += 2;
          break;
        default:
          return -1;
        }
      if (i + vlen > len)
        return -1;
      if (type == 7)
        keep (m, name, nlen, h + i, vlen);
      i += vlen;
    }
  return 0;
}

long
es_decode (const unsigned char *buf, size_t len, struct es_message *m)
{
  uint32_t total, hlen;

  memset (m, 0, sizeof *m);
  if (len < PRELUDE)
    return 0;
  total = be32 (buf);
  hlen = be32 (buf + 4);
  if (be32 (buf + 8) != es_crc32 (0, buf, 8))
    return -1;
  if (total < PRELUDE + 4 || total > MAX_MESSAGE || hlen > total - PRELUDE - 4)
    return -1;
  if (len < total)
    return 0;
  if (be32 (buf + total - 4) != es_crc32 (0, buf, total - 4))
    return -1;
  if (parse_headers (buf + PRELUDE, hlen, m) < 0)
    return -1;
  m->payload = (const char *) buf + PRELUDE + hlen;
  m->payload_len = total - PRELUDE - hlen - 4;
  return (long) total;
}
