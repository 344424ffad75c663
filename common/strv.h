/* NULL-terminated string vectors (char **), owned with malloc.  */
#ifndef TR_STRV_H
#define TR_STRV_H

#include <stddef.h>

/* Append a copy of S; returns -1 on allocation failure.  */
int strv_push (char ***v, const char *s);
size_t strv_len (char *const *v);
void strv_free (char **v);
/* Remove (and free) every element equal to S.  */
void strv_remove (char **v, const char *s);

#endif
