#define _GNU_SOURCE
#include "broker/curl_lazy.h"

#include <dlfcn.h>
#include <stdio.h>

/* Debian's runtime package (libcurl4) provides this soname.  */
#define LIBCURL_SONAME "libcurl.so.4"

static struct curl_api api;
static int loaded; /* 0 not tried, 1 ok, -1 failed */

const struct curl_api *
curl_lazy_load (char *why, size_t size)
{
  void *h;

  if (loaded == 1)
    return &api;
  h = dlopen (LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    {
      snprintf (why, size, "cannot load %s (install libcurl4): %s", LIBCURL_SONAME, dlerror ());
      loaded = -1;
      return NULL;
    }
#define SYM(field, name)                                                                           \
  if ((*(void **) &api.field = dlsym (h, name)) == NULL)                                           \
    {                                                                                              \
      snprintf (why, size, "%s has no %s", LIBCURL_SONAME, name);                                  \
      loaded = -1;                                                                                 \
      return NULL;                                                                                 \
    }
  SYM (easy_init, "curl_easy_init");
  SYM (easy_setopt, "curl_easy_setopt");
  SYM (easy_perform, "curl_easy_perform");
  SYM (easy_getinfo, "curl_easy_getinfo");
  SYM (easy_cleanup, "curl_easy_cleanup");
  SYM (easy_strerror, "curl_easy_strerror");
  SYM (slist_append, "curl_slist_append");
  SYM (slist_free_all, "curl_slist_free_all");
#undef SYM
  loaded = 1;
  return &api;
}
