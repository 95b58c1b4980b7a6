/* A dyno's cgroups: creating them with limits, joining, signalling every
 * process in them, reading memory use, finding and removing them.
 *
 * A cgroup NAME is a relative path such as "pier/APPID/web.1": components
 * of [A-Za-z0-9._-] (not "." or ".."), separated by single slashes, at most
 * DYNO_CGROUP_NAME_MAX bytes.  It lives under the hierarchy roots chosen at
 * each call (cheap: a few statfs()):
 *
 *   - cgroup v2, when /sys/fs/cgroup (or the hybrid /sys/fs/cgroup/unified)
 *     is a cgroup2 mount whose cgroup.controllers has both memory and pids:
 *     /sys/fs/cgroup/NAME;
 *   - else cgroup v1: /sys/fs/cgroup/memory/NAME and /sys/fs/cgroup/pids/NAME,
 *     the same processes in both.
 *
 * Memory: R15 (the hard limit) is enforced by the kernel; R14 is for the
 * caller, from dyno_cgroup_memory()'s usage.  That usage is the working set
 * the way kubelet and `docker stats` count it: v1 memory.usage_in_bytes, v2
 * memory.current, minus the inactive file cache in memory.stat (page cache
 * the kernel drops before it would OOM-kill anyone); tmpfs pages (the
 * dyno's writes to /app and /tmp) do count.
 *
 * Everything returns 0 or a negative errno (-EINVAL for a bad name,
 * -EOPNOTSUPP when neither layout is there) and leaves output parameters
 * untouched on failure.  Nothing here logs, exits or sleeps, so pierd may
 * call it from its event loop.  Not thread-safe only in that it reads
 * and writes the global cgroup tree like any other process would.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DYNO_CGROUP_NAME_MAX 255

bool dyno_cgroup_name_valid(const char *name);

/* Creates NAME and any missing parents, then writes the limits: memory_max
 * bytes as the hard limit (v1 memory.limit_in_bytes plus
 * memory.memsw.limit_in_bytes where swap accounting exists; v2 memory.max,
 * memory.swap.max = 0 and memory.oom.group = 1), and pids_max as pids.max.
 * 0 leaves that limit as it is.  v2: enables +memory +pids in the
 * cgroup.subtree_control of the root and every parent on the way. */
int dyno_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max);

/* Moves process PID (0: the caller) into NAME in every hierarchy.  Its
 * future children stay there. */
int dyno_cgroup_attach(const char *name, pid_t pid);

/* Sends SIG to every process in NAME.  With skip_bwrap, the sandbox's own
 * processes, whose /proc/PID/comm is "bwrap" or "pier-dyno" (the output
 * relay), are left alone (see src/dyno/main.c for why): *ret_count then
 * counts the app's processes only, 0 when it has not started yet.
 * The calling process is never signalled.  SIGKILL: rereads the member
 * list until a pass finds nobody new (bounded), so children forked
 * meanwhile are caught; any other signal: one pass (a SIGTERM trap's
 * clean-up children are not signalled).  Every process at most once.  *ret_count (may be NULL): how
 * many processes were signalled.  -ENOENT when NAME exists in no
 * hierarchy.  Processes that vanish meanwhile are not errors. */
int dyno_cgroup_signal(const char *name, int sig, bool skip_bwrap, unsigned *ret_count);

/* Removes NAME and the cgroups below it (deepest first) in every hierarchy.
 * 0 when it is gone everywhere, also when it never existed; -EBUSY while a
 * process is still in it (try again after reaping). */
int dyno_cgroup_remove(const char *name);

/* The memory use of NAME: *ret_usage in bytes (see above), *ret_limit the
 * hard limit (UINT64_MAX when none) and *ret_oom_killed whether the kernel
 * has OOM-killed a process in it (v1: memory.oom_control's oom_kill; v2:
 * memory.events' oom_kill).  Any of the pointers may be NULL. */
int dyno_cgroup_memory(const char *name, uint64_t *ret_usage, uint64_t *ret_limit,
                       bool *ret_oom_killed);

/* The names of the child cgroups of PARENT (just the last component, e.g.
 * "web.1" for PARENT "pier/APPID"), sorted and each once (v1: the union of
 * both hierarchies), as a malloc'd NULL-terminated array of malloc'd
 * strings; free it with dyno_cgroup_names_free().  An empty array when
 * PARENT does not exist. */
int dyno_cgroup_list(const char *parent, char ***ret_names);

void dyno_cgroup_names_free(char **names);
