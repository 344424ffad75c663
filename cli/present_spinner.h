/* While the run waits on a model: a spinner and the elapsed time on the
 * terminal's last line (a TTY only), erased before any other output
 * (cli/present_spinner.c).  */
#ifndef TR_CLI_PRESENT_SPINNER_H
#define TR_CLI_PRESENT_SPINNER_H

struct present;

/* Waiting on AGENT's model from now (restarts the clock).  */
void present_spinner_start (struct present *p, const char *agent);
/* Erase it and hold it back while the caller writes; present_spinner_resume
 * shows it again if still waiting.  */
void present_spinner_clear (struct present *p);
void present_spinner_resume (struct present *p);
/* Not waiting any more (the thread keeps sleeping until present_finish).  */
void present_spinner_stop (struct present *p);
/* End the thread.  */
void present_spinner_free (struct present *p);

#endif
