#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

int
read_file_at (int dirfd, const char *path, char *buf, size_t size, struct tr_error *err)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return tr_fail (err, errno, "open %s", path);
  n = read (fd, buf, size - 1);
  if (n < 0)
    return tr_fail (err, errno, "read %s", path);
  buf[n] = '\0';
  return (int) n;
}

int
write_file_at (int dirfd, const char *path, const char *data, struct tr_error *err)
{
  cleanup_close int fd = openat (dirfd, path, O_WRONLY | O_CLOEXEC);
  size_t len = strlen (data);

  if (fd < 0)
    return tr_fail (err, errno, "open %s for writing", path);
  if (write (fd, data, len) != (ssize_t) len)
    return tr_fail (err, errno, "write %s", path);
  return 0;
}
