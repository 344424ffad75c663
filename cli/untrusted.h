/* Reading what the VM sends back (a run's result, a test report, an
 * inspect report): it is as untrusted as the .tac, so fields are read with
 * their types checked, and text meant for a terminal has its control
 * characters replaced (an ESC could start a terminal sequence).  */
#ifndef TR_CLI_UNTRUSTED_H
#define TR_CLI_UNTRUSTED_H

struct cJSON;

/* O.KEY when it is a string / a number, else NULL / DEF.  */
const char *ujson_str (const struct cJSON *o, const char *key);
double ujson_num (const struct cJSON *o, const char *key, double def);

/* Control characters other than newline and tab become '?', in place.  */
void untrusted_clean (char *text);
/* The same for every string in a JSON tree.  */
void untrusted_clean_tree (struct cJSON *x);
/* A cleaned copy (malloc'd), or NULL.  */
char *untrusted_clean_dup (const char *text);

#endif
