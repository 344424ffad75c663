/* linux.seccomp -> libseccomp -> a BPF program, compiled in the runtime
 * process before the container process exists; the container process only
 * calls seccomp(2) with it (sandbox/seccomp.c's export_bpf is shared).
 *
 * As runc does: syscall names libseccomp does not know are skipped; a rule
 * whose action equals the default action is skipped (libseccomp refuses
 * those); when one argument index appears more than once in a rule, each
 * condition becomes its own rule (OR), otherwise all conditions are ANDed.
 * Every error names the JSON path.  */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/runc.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static int
bad (struct tr_error *err, const char *path, const char *msg, const char *value)
{
  return tr_fail (err, 0, "config.json: linux.seccomp%s: %s%s%s%s", path, msg, value ? " (\"" : "",
                  value ? value : "", value ? "\")" : "");
}

static int
parse_action (const char *name, int64_t errno_ret, uint32_t *out)
{
  if (strcmp (name, "SCMP_ACT_KILL") == 0 || strcmp (name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp (name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp (name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO ((uint32_t) (errno_ret >= 0 ? errno_ret : EPERM));
  else if (strcmp (name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE ((uint32_t) (errno_ret >= 0 ? errno_ret : EPERM));
  else if (strcmp (name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp (name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    return -2;
  else
    return -1;
  return 0;
}

static int
parse_op (const char *name, enum scmp_compare *op)
{
  static const struct
  {
    const char *name;
    enum scmp_compare op;
  } ops[] = {
    { "SCMP_CMP_NE", SCMP_CMP_NE },
    { "SCMP_CMP_LT", SCMP_CMP_LT },
    { "SCMP_CMP_LE", SCMP_CMP_LE },
    { "SCMP_CMP_EQ", SCMP_CMP_EQ },
    { "SCMP_CMP_GE", SCMP_CMP_GE },
    { "SCMP_CMP_GT", SCMP_CMP_GT },
    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (ops[i].name, name) == 0)
      {
        *op = ops[i].op;
        return 0;
      }
  return -1;
}

static int
get_errno_ret (const cJSON *obj, const char *key, int64_t *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
  *out = -1;
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsNumber (v) || v->valuedouble < 0 || v->valuedouble > 4095
      || v->valuedouble != floor (v->valuedouble))
    return -1;
  *out = (int64_t) v->valuedouble;
  return 0;
}

static int
get_u64 (const cJSON *obj, const char *key, uint64_t *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
  *out = 0;
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsNumber (v) || v->valuedouble < 0 || v->valuedouble != floor (v->valuedouble))
    return -1;
  *out = v->valuedouble >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t) v->valuedouble;
  return 0;
}

static const char *
arch_name (const char *oci)
{
  static char buf[32];
  size_t i;
  const char *p = strncmp (oci, "SCMP_ARCH_", 10) == 0 ? oci + 10 : oci;

  for (i = 0; p[i] && i < sizeof buf - 1; i++)
    buf[i] = (char) (p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
  buf[i] = '\0';
  return buf;
}

static int
add_rule (scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n_args,
          const struct scmp_arg_cmp *args, const char *path, const char *name, struct tr_error *err)
{
  int r = seccomp_rule_add_array (ctx, action, nr, n_args, args);
  if (r < 0)
    return tr_fail (err, -r, "config.json: linux.seccomp%s: add the rule for %s", path, name);
  return 0;
}

static int
compile (scmp_filter_ctx ctx, const cJSON *node, uint32_t def, int *max_nr, struct tr_error *err)
{
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive (node, "syscalls");
  const cJSON *it;
  size_t i = 0;

  if (calls == NULL || cJSON_IsNull (calls))
    return 0;
  if (!cJSON_IsArray (calls))
    return bad (err, ".syscalls", "must be an array", NULL);
  cJSON_ArrayForEach (it, calls)
  {
    const char *sp = ar_printf (".syscalls[%zu]", i);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive (it, "names");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive (it, "action");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive (it, "args");
    const cJSON *nm, *a;
    struct scmp_arg_cmp cmp[6];
    unsigned n_args = 0;
    bool dup_index = false;
    unsigned seen = 0;
    int64_t eret;
    uint32_t action;
    int r;

    if (!cJSON_IsObject (it))
      return bad (err, sp, "must be an object", NULL);
    if (!cJSON_IsArray (names))
      return bad (err, ar_printf ("%s.names", sp), "must be an array of syscall names", NULL);
    if (!cJSON_IsString (act))
      return bad (err, ar_printf ("%s.action", sp), "is required", NULL);
    if (get_errno_ret (it, "errnoRet", &eret) < 0)
      return bad (err, ar_printf ("%s.errnoRet", sp), "must be an errno number", NULL);
    r = parse_action (act->valuestring, eret, &action);
    if (r == -2)
      return bad (err, ar_printf ("%s.action", sp),
                  "SCMP_ACT_NOTIFY (a seccomp agent) is not supported", NULL);
    if (r < 0)
      return bad (err, ar_printf ("%s.action", sp), "unknown action", act->valuestring);
    if (args && !cJSON_IsNull (args))
      {
        size_t k = 0;
        if (!cJSON_IsArray (args))
          return bad (err, ar_printf ("%s.args", sp), "must be an array", NULL);
        if (cJSON_GetArraySize (args) > 6)
          return bad (err, ar_printf ("%s.args", sp), "more than 6 conditions", NULL);
        cJSON_ArrayForEach (a, args)
        {
          const char *ap = ar_printf ("%s.args[%zu]", sp, k);
          const cJSON *op = cJSON_GetObjectItemCaseSensitive (a, "op");
          uint64_t index, value, two;
          enum scmp_compare c;
          if (!cJSON_IsObject (a))
            return bad (err, ap, "must be an object", NULL);
          if (get_u64 (a, "index", &index) < 0 || index > 5)
            return bad (err, ar_printf ("%s.index", ap), "must be 0..5", NULL);
          if (get_u64 (a, "value", &value) < 0)
            return bad (err, ar_printf ("%s.value", ap), "must be an unsigned integer", NULL);
          if (get_u64 (a, "valueTwo", &two) < 0)
            return bad (err, ar_printf ("%s.valueTwo", ap), "must be an unsigned integer", NULL);
          if (!cJSON_IsString (op) || parse_op (op->valuestring, &c) < 0)
            return bad (err, ar_printf ("%s.op", ap), "unknown operator",
                        cJSON_IsString (op) ? op->valuestring : NULL);
          if (seen & (1u << index))
            dup_index = true;
          seen |= 1u << index;
          cmp[n_args].arg = (unsigned) index;
          cmp[n_args].op = c;
          cmp[n_args].datum_a = value;
          cmp[n_args].datum_b = two;
          n_args++;
          k++;
        }
      }
    cJSON_ArrayForEach (nm, names)
    {
      int nr;
      if (!cJSON_IsString (nm))
        return bad (err, ar_printf ("%s.names", sp), "must hold strings", NULL);
      nr = seccomp_syscall_resolve_name (nm->valuestring);
      if (nr == __NR_SCMP_ERROR)
        {
          log_debug ("seccomp: unknown syscall %s skipped", nm->valuestring);
          continue;
        }
      if (nr > *max_nr)
        *max_nr = nr;
      if (action == def)
        continue;
      if (dup_index)
        {
          for (unsigned k = 0; k < n_args; k++)
            if (add_rule (ctx, action, nr, 1, &cmp[k], sp, nm->valuestring, err) < 0)
              return -1;
        }
      else if (add_rule (ctx, action, nr, n_args, cmp, sp, nm->valuestring, err) < 0)
        return -1;
    }
    i++;
  }
  return 0;
}

/* A syscall newer than every one the profile names (native architecture)
 * gets ENOSYS, not the default action: a profile written before a syscall
 * existed cannot have meant to refuse it, and libc falls back on ENOSYS
 * only (clone3 -> clone, faccessat2 -> faccessat); EPERM would break the
 * program.  runc does the same.  The prefix runs before libseccomp's
 * program (classic BPF jumps are relative, so the program is unchanged):
 *
 *   A = arch; if A != native goto prog
 *   A = nr;   if A >= X32 bit goto prog (x86_64: libseccomp's x32 rules)
 *             if A > MAX return ERRNO(ENOSYS)
 *   prog:  */
static int
enosys_for_newer (struct seccomp_program *p, uint32_t max_nr, struct tr_error *err)
{
  const struct sock_filter prefix[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native (), 0, 4),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 2, 0),
    BPF_JUMP (BPF_JMP | BPF_JGT | BPF_K, max_nr, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
  size_t n = sizeof prefix / sizeof prefix[0];
  struct sock_filter *f;

  if (p->prog.len + n > BPF_MAXINSNS)
    return tr_fail (err, E2BIG, "seccomp: the profile's program is too long");
  f = malloc ((p->prog.len + n) * sizeof *f);
  if (f == NULL)
    return tr_fail (err, ENOMEM, "seccomp");
  memcpy (f, prefix, sizeof prefix);
  memcpy (f + n, p->prog.filter, p->prog.len * sizeof *f);
  free (p->prog.filter);
  p->prog.filter = f;
  p->prog.len = (unsigned short) (p->prog.len + n);
  return 0;
}

int
oci_seccomp_compile (const cJSON *node, struct oci_seccomp_prog *out, struct tr_error *err)
{
  const cJSON *def = cJSON_GetObjectItemCaseSensitive (node, "defaultAction");
  const cJSON *arches = cJSON_GetObjectItemCaseSensitive (node, "architectures");
  const cJSON *flags = cJSON_GetObjectItemCaseSensitive (node, "flags");
  const cJSON *it;
  scmp_filter_ctx ctx;
  uint32_t defact;
  int64_t eret;
  int max_nr = -1;
  int r;

  memset (out, 0, sizeof *out);
  if (!cJSON_IsString (def))
    return bad (err, ".defaultAction", "is required", NULL);
  if (get_errno_ret (node, "defaultErrnoRet", &eret) < 0)
    return bad (err, ".defaultErrnoRet", "must be an errno number", NULL);
  r = parse_action (def->valuestring, eret, &defact);
  if (r == -2)
    return bad (err, ".defaultAction", "SCMP_ACT_NOTIFY (a seccomp agent) is not supported", NULL);
  if (r < 0)
    return bad (err, ".defaultAction", "unknown action", def->valuestring);
  if (cJSON_GetObjectItemCaseSensitive (node, "listenerPath")
      && cJSON_IsString (cJSON_GetObjectItemCaseSensitive (node, "listenerPath"))
      && cJSON_GetObjectItemCaseSensitive (node, "listenerPath")->valuestring[0])
    return bad (err, ".listenerPath", "seccomp agents are not supported", NULL);

  if (flags && !cJSON_IsNull (flags))
    {
      size_t i = 0;
      if (!cJSON_IsArray (flags))
        return bad (err, ".flags", "must be an array", NULL);
      cJSON_ArrayForEach (it, flags)
      {
        const char *f = cJSON_IsString (it) ? it->valuestring : "";
        if (strcmp (f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
          ; /* one thread: nothing to synchronise */
        else if (strcmp (f, "SECCOMP_FILTER_FLAG_LOG") == 0)
          out->flags |= SECCOMP_FILTER_FLAG_LOG;
        else if (strcmp (f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
          out->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else if (strcmp (f, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
          out->flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        else
          return bad (err, ar_printf (".flags[%zu]", i), "unknown flag", f);
        i++;
      }
    }

  ctx = seccomp_init (defact);
  if (ctx == NULL)
    return tr_fail (err, ENOMEM, "seccomp: init");
  r = -1;
  if (seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
    {
      tr_fail (err, 0, "seccomp: set filter attributes");
      goto out;
    }
  if (arches && !cJSON_IsNull (arches))
    {
      size_t i = 0;
      if (!cJSON_IsArray (arches))
        {
          bad (err, ".architectures", "must be an array", NULL);
          goto out;
        }
      cJSON_ArrayForEach (it, arches)
      {
        uint32_t a;
        int rr;
        if (!cJSON_IsString (it))
          {
            bad (err, ar_printf (".architectures[%zu]", i), "must be a string", NULL);
            goto out;
          }
        a = seccomp_arch_resolve_name (arch_name (it->valuestring));
        if (a == 0)
          {
            bad (err, ar_printf (".architectures[%zu]", i), "unknown architecture",
                 it->valuestring);
            goto out;
          }
        rr = seccomp_arch_add (ctx, a);
        if (rr < 0 && rr != -EEXIST)
          {
            tr_fail (err, -rr, "seccomp: add architecture %s", it->valuestring);
            goto out;
          }
        i++;
      }
    }
  if (compile (ctx, node, defact, &max_nr, err) < 0)
    goto out;
  r = export_bpf (ctx, &out->prog, err);
  if (r == 0 && defact != SCMP_ACT_ALLOW && defact != SCMP_ACT_LOG && max_nr >= 0)
    r = enosys_for_newer (&out->prog, (uint32_t) max_nr, err);
out:
  seccomp_release (ctx);
  return r;
}

int
oci_seccomp_load (const struct oci_seccomp_prog *p, struct tr_error *err)
{
  if (p == NULL || p->prog.prog.filter == NULL)
    return 0;
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &p->prog.prog) < 0)
    return tr_fail (err, errno, "seccomp: install the container's filter");
  return 0;
}
