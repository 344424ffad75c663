/* The fuzz targets without libFuzzer: a main() that feeds every file named
 * on the command line (a directory: each regular file in it, in name
 * order, dot files skipped) to LLVMFuzzerTestOneInput, once, in this
 * process.  tests/fuzz/run.sh links it with each tests/fuzz/fuzz_*.c and
 * the build's libtactus.a, compiled by the project's compiler and flags (no
 * clang needed), and replays the whole seed corpus, regress_* inputs
 * included, on every run of the lane: a crash once found and fixed stays
 * fixed on any host.
 *
 * Before each input its path is written to stderr ("replay: PATH"), so the
 * last such line names the input when a harness invariant aborts or a
 * sanitizer stops the process.  Ends with "replayed N inputs (R regress_*)"
 * on stdout and exit status 0; 2 when a file cannot be read (an empty
 * corpus directory is an error too: a lost corpus must not pass).  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static size_t replayed, regress;

static int
replay_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  const char *base = strrchr (path, '/');

  if (f == NULL)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  for (;;)
    {
      size_t n;
      if (len == cap)
        {
          uint8_t *nb;
          cap = cap ? cap * 2 : 65536;
          nb = realloc (buf, cap);
          if (nb == NULL)
            {
              fprintf (stderr, "replay: %s: out of memory\n", path);
              free (buf);
              fclose (f);
              return -1;
            }
          buf = nb;
        }
      n = fread (buf + len, 1, cap - len, f);
      len += n;
      if (n == 0)
        break;
    }
  if (ferror (f))
    {
      fprintf (stderr, "replay: %s: read error\n", path);
      free (buf);
      fclose (f);
      return -1;
    }
  fclose (f);
  fprintf (stderr, "replay: %s\n", path);
  fflush (stderr);
  /* An exact-size copy, as libFuzzer passes: a read past the input is
   * then past the allocation (caught by ASan when the build has it).  */
  {
    uint8_t *exact = malloc (len ? len : 1);
    if (exact == NULL)
      {
        free (buf);
        return -1;
      }
    if (len)
      memcpy (exact, buf, len);
    free (buf);
    LLVMFuzzerTestOneInput (exact, len);
    free (exact);
  }
  replayed++;
  base = base ? base + 1 : path;
  if (strncmp (base, "regress_", 8) == 0)
    regress++;
  return 0;
}

static int
skip_dots (const struct dirent *d)
{
  return d->d_name[0] != '.';
}

static int
replay_path (const char *path)
{
  struct stat st;
  struct dirent **names;
  int n, r = 0, files = 0;

  if (stat (path, &st) < 0)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  if (!S_ISDIR (st.st_mode))
    return replay_file (path);
  n = scandir (path, &names, skip_dots, alphasort);
  if (n < 0)
    {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return -1;
    }
  for (int i = 0; i < n; i++)
    {
      char *full;
      if (asprintf (&full, "%s/%s", path, names[i]->d_name) < 0)
        r = -1;
      else
        {
          if (stat (full, &st) == 0 && S_ISREG (st.st_mode))
            {
              files++;
              if (replay_file (full) < 0)
                r = -1;
            }
          free (full);
        }
      free (names[i]);
    }
  free (names);
  if (files == 0)
    {
      fprintf (stderr, "replay: %s: no input in this directory\n", path);
      r = -1;
    }
  return r;
}

int
main (int argc, char **argv)
{
  int r = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    if (replay_path (argv[i]) < 0)
      r = 2;
  printf ("replayed %zu inputs (%zu regress_*)\n", replayed, regress);
  return r;
}
