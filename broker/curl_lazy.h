/* libcurl, loaded on first use.  Linking it would make every start of
 * tactus-run map and relocate ~30 shared libraries (TLS, HTTP/2, LDAP,
 * Kerberos...) that only a procedure making model calls needs: about 5 ms
 * of a cold start.  The broker calls curl_lazy_load() before its first
 * model call, after the sandbox is already running.  */
#ifndef TR_CURL_LAZY_H
#define TR_CURL_LAZY_H

#include <curl/curl.h>

struct curl_api
{
  CURL *(*easy_init) (void);
  CURLcode (*easy_setopt) (CURL *, CURLoption, ...);
  CURLcode (*easy_perform) (CURL *);
  CURLcode (*easy_getinfo) (CURL *, CURLINFO, ...);
  void (*easy_cleanup) (CURL *);
  const char *(*easy_strerror) (CURLcode);
  struct curl_slist *(*slist_append) (struct curl_slist *, const char *);
  void (*slist_free_all) (struct curl_slist *);
};

/* The loaded API, or NULL with WHY filled.  */
const struct curl_api *curl_lazy_load (char *why, size_t size);

#endif
