/* The VM: a LuaJIT state built from an allowlist, PID 1 duties, and the
 * hand-over to the built-in prelude that implements the Tactus DSL.
 *
 * The state is never made with luaL_openlibs.  Only base, string, table,
 * math, bit (and jit, to switch the compiler on) are opened, then stripped:
 *   - no load/loadstring/loadfile/dofile (bytecode and the filesystem),
 *   - no getfenv/setfenv (getfenv(0) returns the real globals),
 *   - no newproxy (finalizers), no module/require from the host,
 *   - collectgarbage only for "count", "collect", "step",
 *   - string.dump removed and the string metatable locked,
 *   - os reduced to time, date and clock; no io, ffi, debug, jit, package.
 * The prelude then gives each run its own global table.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "vm/internal.h"

static volatile sig_atomic_t interrupted;
static lua_State *signal_state;

/* Once a stop was asked for, every instruction raises: pcall cannot
 * swallow it for long.  (JIT traces do not run hooks; the parent's grace
 * period and SIGKILL cover those.)  */
static void
stop_hook (lua_State *L, lua_Debug *ar)
{
  (void) ar;
  lua_pushliteral (L, "interrupted");
  lua_error (L);
}

bool
vm_interrupted (void)
{
  return interrupted != 0;
}

static void
on_stop_signal (int sig)
{
  (void) sig;
  interrupted = 1;
  if (signal_state)
    lua_sethook (signal_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* PID 1 reaps whatever ends up as its child.  */
static void
on_child (int sig)
{
  int saved = errno;
  (void) sig;
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  errno = saved;
}

/* LuaJIT cannot bound C recursion: nested coroutine resumes and C
 * functions calling back into Lua (string.gsub, table.sort) grow the C
 * stack until it hits the guard page (LuaJIT#619, "unresolvable").  The
 * process would die of SIGSEGV without a word; instead, on an alternate
 * stack, tell the broker why and end the run (exit 1).  */
static char crash_stack[32 * 1024];
static int crash_fd = -1;
static uintptr_t crash_stack_top;

static void
on_crash (int sig, siginfo_t *si, void *uc)
{
  static const char overflow[]
      = "{\"id\":0,\"method\":\"run.finish\",\"params\":{\"status\":\"error\",\"error\":{"
        "\"type\":\"StackOverflow\",\"message\":\"C stack overflow: coroutines or callbacks "
        "(string.gsub, table.sort) nested too deeply\"}}}";
  static const char crash[]
      = "{\"id\":0,\"method\":\"run.finish\",\"params\":{\"status\":\"error\",\"error\":{"
        "\"type\":\"VMCrash\",\"message\":\"the Lua VM crashed (SIGSEGV or SIGBUS)\"}}}";
  uintptr_t addr = (uintptr_t) si->si_addr;
  bool on_stack = sig == SIGSEGV && addr < crash_stack_top && crash_stack_top - addr < (256u << 20);
  struct tr_error err;

  (void) uc;
  if (crash_fd >= 0)
    {
      if (on_stack)
        frame_send (crash_fd, overflow, sizeof overflow - 1, &err);
      else
        frame_send (crash_fd, crash, sizeof crash - 1, &err);
    }
  _exit (VM_EXIT_FAILED);
}

static void
install_signals (void)
{
  struct sigaction sa;
  stack_t ss = { .ss_sp = crash_stack, .ss_size = sizeof crash_stack };
  char here;

  crash_stack_top = (uintptr_t) &here;
  if (sigaltstack (&ss, NULL) == 0)
    {
      memset (&sa, 0, sizeof sa);
      sa.sa_sigaction = on_crash;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
      sigaction (SIGSEGV, &sa, NULL);
      sigaction (SIGBUS, &sa, NULL);
    }
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction (SIGCHLD, &sa, NULL);
  /* A write past RLIMIT_FSIZE fails with EFBIG ("the file size limit was
   * reached") instead of killing the VM.  */
  signal (SIGXFSZ, SIG_IGN);
}

static int
safe_collectgarbage (lua_State *L)
{
  const char *opt = luaL_optstring (L, 1, "collect");

  if (strcmp (opt, "count") == 0)
    {
      lua_pushnumber (L, (lua_Number) lua_gc (L, LUA_GCCOUNT, 0)
                             + (lua_Number) lua_gc (L, LUA_GCCOUNTB, 0) / 1024.0);
      return 1;
    }
  if (strcmp (opt, "collect") == 0)
    {
      lua_gc (L, LUA_GCCOLLECT, 0);
      lua_pushinteger (L, 0);
      return 1;
    }
  if (strcmp (opt, "step") == 0)
    {
      lua_pushboolean (L, lua_gc (L, LUA_GCSTEP, (int) luaL_optinteger (L, 2, 0)));
      return 1;
    }
  return luaL_error (L,
                     "collectgarbage: option '%s' is not available in the sandbox "
                     "(only count, collect, step)",
                     opt);
}

static void
open_lib (lua_State *L, lua_CFunction open, const char *name)
{
  lua_pushcfunction (L, open);
  lua_pushstring (L, name);
  lua_call (L, 1, 0);
}

static void
strip_globals (lua_State *L)
{
  static const char *const removed[] = {
    "load",    "loadstring", "loadfile", "dofile",  "getfenv", "setfenv", "newproxy", "module",
    "require", "gcinfo",     "jit",      "package", "io",      "debug",   "ffi",      "os",
  };

  for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
    {
      lua_pushnil (L);
      lua_setglobal (L, removed[i]);
    }
  lua_pushcfunction (L, safe_collectgarbage);
  lua_setglobal (L, "collectgarbage");

  /* string.dump is removed from the one string table the metatable uses. */
  lua_getglobal (L, "string");
  lua_pushnil (L);
  lua_setfield (L, -2, "dump");
  lua_pop (L, 1);

  /* getmetatable("") now returns false and setmetatable cannot replace it. */
  lua_pushliteral (L, "");
  if (lua_getmetatable (L, -1))
    {
      lua_pushboolean (L, 0);
      lua_setfield (L, -2, "__metatable");
      lua_pop (L, 1);
    }
  lua_pop (L, 1);
}

/* os.time, os.date, os.clock only; the rest of os stays unreachable.  */
static void
make_os (lua_State *L)
{
  static const char *const kept[] = { "time", "date", "clock" };

  open_lib (L, luaopen_os, LUA_OSLIBNAME);
  lua_getglobal (L, "os");
  lua_createtable (L, 0, 3);
  for (size_t i = 0; i < 3; i++)
    {
      lua_getfield (L, -2, kept[i]);
      lua_setfield (L, -2, kept[i]);
    }
  lua_setglobal (L, "__safe_os");
  lua_pop (L, 1);
}

static void
seed_random (lua_State *L)
{
  unsigned int seed = 0;

  if (getrandom (&seed, sizeof seed, 0) != sizeof seed)
    seed = (unsigned) getpid () ^ (unsigned) time (NULL);
  lua_getglobal (L, "math");
  lua_getfield (L, -1, "randomseed");
  lua_pushnumber (L, (lua_Number) (seed & 0x7fffffff));
  lua_call (L, 1, 0);
  lua_pop (L, 1);
}

static lua_State *
new_state (const struct vm_config *cfg, struct vm_alloc *alloc)
{
  lua_State *L = lua_newstate (vm_alloc_fn, alloc);

  if (L == NULL)
    return NULL;
  open_lib (L, luaopen_base, "");
  open_lib (L, luaopen_string, LUA_STRLIBNAME);
  open_lib (L, luaopen_table, LUA_TABLIBNAME);
  open_lib (L, luaopen_math, LUA_MATHLIBNAME);
  open_lib (L, luaopen_bit, LUA_BITLIBNAME);
  if (cfg->jit)
    open_lib (L, luaopen_jit, LUA_JITLIBNAME); /* this is what turns the compiler on */
  else
    luaJIT_setmode (L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  make_os (L);
  seed_random (L);
  strip_globals (L);
  return L;
}

static int
message_handler (lua_State *L)
{
  if (lua_type (L, 1) == LUA_TSTRING)
    luaL_traceback (L, L, lua_tostring (L, 1), 1);
  return 1;
}

int
vm_run (const struct vm_config *cfg, int broker_fd)
{
  struct vm_alloc alloc = { .limit = cfg->memory_limit, .notify_fd = broker_fd };
  struct vm_runtime rt = { .broker_fd = broker_fd, .cfg = cfg, .alloc = &alloc };
  lua_State *L;
  size_t len;
  const char *prelude;
  int status, code = VM_EXIT_FAILED;

  crash_fd = broker_fd;
  install_signals ();
  L = new_state (cfg, &alloc);
  if (L == NULL)
    {
      vm_broker_notify_exit (broker_fd, "error", "cannot create the Lua state");
      return VM_EXIT_FAILED;
    }
  signal_state = L;
  prelude = vm_builtin_source ("prelude", &len);
  lua_pushcfunction (L, message_handler);
  if (prelude == NULL || luaL_loadbufferx (L, prelude, len, "=tactus/prelude", "b") != 0)
    {
      vm_broker_notify_exit (broker_fd, "error", "the built-in prelude does not load");
      return VM_EXIT_FAILED;
    }
  vm_push_primitives (L, &rt);
  lua_getglobal (L, "__safe_os");
  lua_setfield (L, -2, "os");
  lua_pushnil (L);
  lua_setglobal (L, "__safe_os");
  status = lua_pcall (L, 1, 1, -3);
  if (interrupted)
    {
      lua_sethook (L, NULL, 0, 0);
      vm_broker_notify_exit (broker_fd, "interrupted", "the run was interrupted");
      return VM_EXIT_INTERRUPTED;
    }
  if (status == 0)
    code = (int) lua_tointeger (L, -1);
  else
    vm_broker_notify_exit (broker_fd, "error", "internal error in the Tactus prelude");
  /* No lua_close: a hostile run's finalizers are not worth running, and
   * the process ends here anyway.  */
  return code;
}

/* Packed layout: a header, then chunkname and source, each NUL-terminated.
 * Only our own launcher produces it (sandbox_go).  */
struct packed_config
{
  uint32_t magic;
  uint8_t jit;
  uint64_t memory_limit;
  uint32_t chunkname_len, source_len;
};
#define PACKED_MAGIC 0x54564d32u /* "TVM2" */

int
vm_config_pack (const struct vm_config *cfg, char **buf, size_t *len)
{
  struct packed_config h
      = { .magic = PACKED_MAGIC, .jit = cfg->jit, .memory_limit = cfg->memory_limit };
  size_t off;
  char *b;

  h.chunkname_len = (uint32_t) strlen (cfg->chunkname);
  h.source_len = (uint32_t) cfg->source_len;
  *len = sizeof h + h.chunkname_len + 1 + h.source_len + 1;
  b = malloc (*len);
  if (b == NULL)
    return -1;
  memcpy (b, &h, sizeof h);
  off = sizeof h;
  memcpy (b + off, cfg->chunkname, h.chunkname_len + 1);
  off += h.chunkname_len + 1;
  memcpy (b + off, cfg->source, h.source_len);
  b[off + h.source_len] = '\0';
  *buf = b;
  return 0;
}

int
vm_config_unpack (const char *buf, size_t len, struct vm_config *cfg)
{
  struct packed_config h;
  size_t need;

  if (len < sizeof h)
    return -1;
  memcpy (&h, buf, sizeof h);
  need = sizeof h + (size_t) h.chunkname_len + 1 + h.source_len + 1;
  if (h.magic != PACKED_MAGIC || need != len)
    return -1;
  memset (cfg, 0, sizeof *cfg);
  cfg->jit = h.jit;
  cfg->memory_limit = h.memory_limit;
  cfg->chunkname = buf + sizeof h;
  cfg->source = cfg->chunkname + h.chunkname_len + 1;
  cfg->source_len = h.source_len;
  return 0;
}

int
vm_entry (void *arg, const struct sandbox_inside *inside)
{
  struct vm_config packed;

  if (inside->payload == NULL)
    return vm_run (arg, inside->broker_fd);
  if (vm_config_unpack (inside->payload, inside->payload_len, &packed) < 0)
    {
      vm_broker_notify_exit (inside->broker_fd, "error", "the run's configuration is damaged");
      return VM_EXIT_FAILED;
    }
  return vm_run (&packed, inside->broker_fd);
}
