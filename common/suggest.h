/* "Did you mean": the one rule for every name a user can mistype -- CLI
 * options, config keys (policy/config.c), and, in the VM, unknown globals
 * and Gherkin steps (vm/lua/similarity.lua, closest(), the same rule).  */
#ifndef TR_SUGGEST_H
#define TR_SUGGEST_H

#include <stddef.h>

/* Edits between A and B, ignoring case, a swap of two neighbours counting
 * as one (optimal string alignment).  Names longer than 127 bytes are
 * compared by their first 127.  */
size_t tr_name_distance (const char *a, const char *b);

/* The candidate WORD most likely meant, or NULL: at most a third of the
 * longer name's length in edits (at least 1), a difference of case only,
 * or WORD (3+ characters) being the start of the candidate.  The fewest
 * edits win; ties go to the earlier candidate.  A candidate equal to WORD
 * is never suggested.  */
const char *tr_suggest (const char *word, const char *const *candidates, size_t n);

#endif
