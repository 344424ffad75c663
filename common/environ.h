/* The process's environment, kept out of its initial environment block.  */
#ifndef TR_ENVIRON_H
#define TR_ENVIRON_H

/* Move every variable to the heap (environ points at copies from then on,
 * so getenv still finds them) and wipe the block the kernel placed them in
 * at exec: /proc/PID/environ of this process, and of every process forked
 * from it without an exec, then shows nothing.  Returns -1 (nothing
 * changed) when memory runs out.  */
int environ_detach (void);

/* Wipe the strings of every variable and clear the environment: a fork
 * that must hold none of its parent's variables (they may be secrets) in
 * its memory.  */
void environ_wipe (void);

#endif
