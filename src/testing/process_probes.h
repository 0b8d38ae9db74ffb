// What the isolation tests check about this process and its children.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>

namespace convguard::testing {

/// Number of open descriptors of this process (from /proc/self/fd), for leak checks.
inline int count_open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

/// True if some process is in process group `pgid` (kill(-pgid, 0) succeeds).
inline bool process_group_exists(pid_t pgid) { return pgid > 0 && ::kill(-pgid, 0) == 0; }

}  // namespace convguard::testing
